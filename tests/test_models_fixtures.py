"""The offline model fixtures are faithful enough to test an exporter against."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from ecmiip.bench.qwen3_tokenizer import QWEN3_ADDED_TOKENS, QWEN3_CHAT_TEMPLATE
from ecmiip.bench.random_models import build_tiny_qwen3
from ecmiip.core.statutes import all_articles
from tests.models import (
    SCRIPTED_RUN_ON,
    SCRIPTED_SYSTEMS,
    cached_model,
    make_lora_adapter,
    scripted_prompt,
    scripted_reply,
)


@pytest.fixture(scope="session")
def qwen3_tokenizer(tiny_qwen3_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_qwen3_dir)


def _first_article_with_digits() -> str:
    return next(a.text for a in all_articles() if any(c.isdigit() for c in a.text))


# --- tokenizer -------------------------------------------------------------------------------------


def test_tokenizer_reproduces_known_qwen_ids(qwen3_tokenizer):
    assert qwen3_tokenizer("<|im_start|>hello<|im_end|>")["input_ids"] == [151644, 14990, 151645]
    assert qwen3_tokenizer.convert_tokens_to_ids(["<think>", "</think>"]) == [151667, 151668]
    assert qwen3_tokenizer.eos_token == "<|im_end|>"
    assert qwen3_tokenizer.pad_token == "<|endoftext|>"
    assert qwen3_tokenizer.bos_token is None
    assert qwen3_tokenizer.model_max_length == 40960


def test_added_tokens_follow_qwen3_ids_and_flags(qwen3_tokenizer):
    decoder = qwen3_tokenizer.added_tokens_decoder
    for i, (content, special) in enumerate(QWEN3_ADDED_TOKENS):
        token = decoder[151643 + i]
        assert (token.content, token.special) == (content, special)
    assert len(qwen3_tokenizer) == 151669


def test_tokenizer_json_agrees_with_transformers(tiny_qwen3_dir, qwen3_tokenizer):
    """llama.cpp's converter reads tokenizer.json; transformers 5 rebuilds Qwen2Tokenizer from its parts."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(tiny_qwen3_dir / "tokenizer.json"))
    texts = [f"{a.citation}\n{a.text}" for a in all_articles()[:200]]
    texts.append("<|im_start|>user\nIs 1985 before 2001?  Yes.\n\n<think>\n</think><|im_end|>")
    expected = [e.ids for e in raw.encode_batch(texts)]
    assert qwen3_tokenizer(texts)["input_ids"] == expected


def test_roundtrip_mixed_chinese_english_digits(qwen3_tokenizer):
    line = f"Patent Law (2020) Article 82: {_first_article_with_digits()}"
    ids = qwen3_tokenizer(line)["input_ids"]
    assert qwen3_tokenizer.decode(ids) == line
    assert qwen3_tokenizer.tokenize("1985") == ["1", "9", "8", "5"]  # Qwen splits digits one by one


def test_roundtrip_whole_statute_corpus(qwen3_tokenizer):
    texts = [a.text for a in all_articles()]
    ids = qwen3_tokenizer(texts)["input_ids"]
    assert qwen3_tokenizer.batch_decode(ids) == texts


# --- chat template ---------------------------------------------------------------------------------


def _render(tokenizer, messages, **kwargs) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)


def test_chat_template_is_saved_with_the_tokenizer(qwen3_tokenizer):
    assert qwen3_tokenizer.chat_template == QWEN3_CHAT_TEMPLATE


def test_chat_template_generation_prompt(qwen3_tokenizer):
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}]
    head = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert _render(qwen3_tokenizer, messages, add_generation_prompt=True) == head
    assert _render(qwen3_tokenizer, messages, add_generation_prompt=True, enable_thinking=True) == head
    no_think = _render(qwen3_tokenizer, messages, add_generation_prompt=True, enable_thinking=False)
    assert no_think == head + "<think>\n\n</think>\n\n"


def test_chat_template_keeps_reasoning_only_after_last_query(qwen3_tokenizer):
    messages = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "<think>\nr1\n</think>\n\na1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "<think>\nr2\n</think>\n\na2"},
    ]
    assert _render(qwen3_tokenizer, messages) == (
        "<|im_start|>user\nq1<|im_end|>\n"
        "<|im_start|>assistant\na1<|im_end|>\n"
        "<|im_start|>user\nq2<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nr2\n</think>\n\na2<|im_end|>\n"
    )


def test_chat_template_reasoning_content_field(qwen3_tokenizer):
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "r"},
    ]
    assert _render(qwen3_tokenizer, messages) == (
        "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\na<|im_end|>\n"
    )


def test_chat_template_tools_branch_renders(qwen3_tokenizer):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    text = _render(
        qwen3_tokenizer, [{"role": "user", "content": "q"}], tools=[tool], add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>system\n# Tools\n")
    assert '"name": "lookup"' in text
    assert text.endswith("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n")


# --- tiny Qwen3 ------------------------------------------------------------------------------------


def test_tiny_qwen3_folder(tiny_qwen3_dir):
    config = json.loads((tiny_qwen3_dir / "config.json").read_text())
    assert config["model_type"] == "qwen3"
    assert config["vocab_size"] == 151936
    assert config["tie_word_embeddings"] is True
    assert all(config[k] % 256 == 0 for k in ("hidden_size", "intermediate_size"))
    assert (tiny_qwen3_dir / "README.md").read_text().startswith("---\nlicense: apache-2.0\n")
    assert "Apache License, Version 2.0" in (tiny_qwen3_dir / "LICENSE").read_text()
    assert (tiny_qwen3_dir / "generation_config.json").is_file()


def test_tiny_qwen3_loads_with_useful_logits(tiny_qwen3_dir, qwen3_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3_dir, dtype=torch.float32).eval()
    batch = qwen3_tokenizer(_first_article_with_digits(), return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits[0]
    assert torch.isfinite(logits).all()
    assert (logits.std(dim=-1) > 1e-3).all()  # not constant over the vocabulary
    assert not torch.allclose(logits[0], logits[-1])  # and depends on the input


def test_tiny_qwen3_is_deterministic(tmp_path: Path):
    def digest(out: Path) -> str:
        build_tiny_qwen3(out, num_hidden_layers=1)
        return hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()

    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_cached_model_returns_the_same_folder(tiny_qwen3_dir):
    assert cached_model("tiny-qwen3") == tiny_qwen3_dir
    assert cached_model("tiny-qwen3", seed=0, num_hidden_layers=2) == tiny_qwen3_dir  # defaults spelled out
    assert (tiny_qwen3_dir / "ecmiip_build.json").is_file()
    with pytest.raises(TypeError):
        cached_model("tiny-qwen3", sed=0)
    with pytest.raises(ValueError, match="unknown model kind"):
        cached_model("gpt-5")


# --- LoRA adapters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("load_in_4bit", [False, True], ids=["lora", "qlora"])
def test_make_lora_adapter(tiny_qwen3_dir, tmp_path: Path, load_in_4bit: bool):
    from safetensors.torch import load_file

    out = make_lora_adapter(
        tiny_qwen3_dir, tmp_path / "adapter", init_lora_weights=False, load_in_4bit=load_in_4bit, steps=2
    )
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 16 and config["task_type"] == "CAUSAL_LM"
    tensors = load_file(out / "adapter_model.safetensors")
    b = [t for name, t in tensors.items() if "lora_B" in name]
    assert len(b) == 2 * 7  # every linear projection of both layers
    assert all(t.abs().max() > 0 for t in b)


# --- SmolLM2 ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_smollm2_answers_in_english(smollm2_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    assert "<|im_start|>" in tokenizer.chat_template
    assert (smollm2_dir / "README.md").read_text().startswith("---\nlicense: apache-2.0\n")
    batch = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


# --- tiny-qwen3-scripted ---------------------------------------------------------------------------


def test_tiny_qwen3_scripted_says_its_script_after_q4_k_m(tiny_qwen3_scripted_dir, tmp_path):
    """What Ollama would run (the exporter's Q4_K_M GGUF; greedy, with and without the Modelfile's repeat
    penalty) says the scripted reply and stops at <|im_end|>; not stopped, it runs on into the next turn."""
    import gguf
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from ecmiip.cli import main
    from ecmiip.core.llama import captured_llama_log

    out = tmp_path / "dist"
    assert main(["export", str(tiny_qwen3_scripted_dir), "--out", str(out), "--no-verify"]) == 0
    gguf_path = out / "ec-miip-Q4_K_M.gguf"
    assert "Q4_K" in {t.tensor_type.name for t in gguf.GGUFReader(gguf_path).tensors}
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3_scripted_dir)
    with captured_llama_log():
        llm = Llama(str(gguf_path), n_ctx=1024, verbose=False, seed=0)  # ecmiip-chat's system: 658 tokens
    try:
        for system in SCRIPTED_SYSTEMS:
            for thinking in (True, False):
                prompt = scripted_prompt(tokenizer, system, thinking)
                reply = scripted_reply(thinking)
                for penalty in (1.0, 1.05):
                    completion = llm.create_completion(
                        prompt, max_tokens=80, temperature=0, repeat_penalty=penalty
                    )
                    choice = completion["choices"][0]
                    said = (choice["text"], choice["finish_reason"])
                    assert said == (reply, "stop"), (system, thinking, penalty)
                # Past the end of turn, greedy decoding goes on with the invented next user turn.
                context = llm.tokenize((prompt + reply + "<|im_end|>").encode(), add_bos=False, special=True)
                full = llm.tokenize((prompt + reply + SCRIPTED_RUN_ON).encode(), add_bos=False, special=True)
                run_on = full[len(context) :]
                generated = []
                for token in llm.generate(context, temp=0, repeat_penalty=1.0):
                    generated.append(token)
                    if len(generated) == len(run_on):
                        break
                text = llm.detokenize(generated, special=True).decode()
                assert (text, generated) == (SCRIPTED_RUN_ON.removeprefix("<|im_end|>"), run_on)
    finally:
        with captured_llama_log():
            llm.close()

