"""The transformers backend on real small HF folders, choice logits beside llama.cpp, and open_model."""

from __future__ import annotations

import re
import shutil
import threading

import pytest
import torch

from ecmiip.bench import data as bench_data
from ecmiip.bench.scorers import LikelihoodScorer, letter_probs, mcq_messages
from ecmiip.chat import transformers_backend as tb
from ecmiip.chat.backends import Backend
from ecmiip.chat.llamacpp_backend import LlamaCppBackend
from ecmiip.chat.ollama_backend import OllamaBackend
from ecmiip.chat.open_model import model_info, open_model, parse_spec
from ecmiip.chat.transformers_backend import TransformersBackend
from ecmiip.core.errors import InputError
from tests.engine_samples import CHINESE, FRANCE, GREEDY, opened, streamed_text
from tests.models import make_lora_adapter


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: on a small, shared CPU, OpenMP threads waiting on each other cost far more
    than they give for a 135M model, and the test time must not depend on what else is running."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    yield from opened(TransformersBackend(smollm2_dir, n_ctx=2048))


@pytest.fixture(scope="module")
def qwen3(tiny_qwen3_dir):
    yield from opened(TransformersBackend(tiny_qwen3_dir, n_ctx=1024))


@pytest.fixture(scope="module")
def qwen3_adapter(tiny_qwen3_dir, tmp_path_factory):
    """A real peft LoRA on the tiny Qwen3, B started random so its effect on the logits is clear."""
    out = tmp_path_factory.mktemp("lora") / "adapter"
    return make_lora_adapter(
        tiny_qwen3_dir, out, steps=1, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )


@pytest.fixture(scope="module")
def smollm2_f16(smollm2_dir, tmp_path_factory):
    """SmolLM2 as an F16 GGUF (no quantization: its logits should match the HF folder's closely)."""
    from ecmiip.quantize.convert import convert

    path = tmp_path_factory.mktemp("smollm2-f16") / "smollm2-F16.gguf"
    convert(smollm2_dir, path)
    return path


def _short_items(n: int) -> list[bench_data.McqItem]:
    """The ``n`` shortest sample items: SmolLM2 spells Chinese in bytes, so prompts are long."""
    items = bench_data.load(bench_data.DEFAULT_DATA["mcq"], "mcq").items
    return sorted(items, key=lambda it: len(mcq_messages(it)[1]["content"]))[:n]


# --------------------------------------------------------------------------------------------------
# streaming


def _whole_greedy(backend: TransformersBackend, messages: list[dict], n: int) -> str:
    """The same greedy answer from transformers' own ``generate``, decoded in one piece."""
    ids = torch.tensor([backend.tokenize_prompt(backend.render_prompt(messages, None))])
    with torch.inference_mode():
        mask = torch.ones_like(ids)
        out = backend.model.generate(ids, attention_mask=mask, max_new_tokens=n, do_sample=False)
    return backend._tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_greedy_stream_is_the_whole_answer(smollm2):
    assert isinstance(smollm2, Backend)
    deltas = list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=24))
    assert {d.kind for d in deltas} == {"content"} and all(d.text for d in deltas)
    text = streamed_text(deltas)
    assert "Paris" in text
    stats = smollm2.last_stats
    n = stats.decode_tokens + (1 if stats.finish == "stop" else 0)  # the end token, skipped when decoded
    assert text == _whole_greedy(smollm2, FRANCE, n).strip()
    assert stats.decode_tokens > 0 and stats.decode_ms > 0 and stats.prompt_ms > 0
    assert stats.ctx_size == smollm2.context_size == 2048
    assert stats.ctx_used == smollm2.count_tokens(FRANCE, None) + stats.decode_tokens
    assert stats.finish in ("stop", "length")


def test_split_characters_are_streamed_whole(smollm2):
    """SmolLM2 spells most Chinese characters with several byte tokens: the stream must join them."""
    assert len(smollm2.tokenize_prompt("专利")) > 2
    messages = [{"role": "user", "content": "请用中文介绍一下专利法。"}]
    streamed = list(smollm2.stream(messages, think=None, sampling=GREEDY, max_tokens=40))
    text = streamed_text(streamed)
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert not any("\ufffd" in d.text for d in streamed)
    whole = _whole_greedy(smollm2, messages, smollm2.last_stats.decode_tokens)
    assert whole.rstrip("\ufffd").lstrip("\n") == text


def test_next_turn_reuses_the_cached_prompt(smollm2):
    first = streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=24)))
    turn2 = [*FRANCE, {"role": "assistant", "content": first}, {"role": "user", "content": "And of Italy?"}]
    second = streamed_text(list(smollm2.stream(turn2, think=None, sampling=GREEDY, max_tokens=8)))
    new_part = smollm2.count_tokens(turn2, None) - smollm2.count_tokens(FRANCE, None)
    assert 0 < smollm2.last_stats.prompt_tokens <= new_part
    # the cache must not change the answer: a fresh backend state gives the same one
    smollm2._cached_ids = None
    assert streamed_text(list(smollm2.stream(turn2, think=None, sampling=GREEDY, max_tokens=8))) == second
    assert smollm2.last_stats.prompt_tokens == smollm2.count_tokens(turn2, None)


def test_seeded_sampling_repeats(smollm2):
    sampling = {"temperature": 0.9, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}
    sampling["seed"] = 5
    runs = [streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=sampling, max_tokens=12))) for _ in "12"]
    assert runs[0] and runs[0] == runs[1]


def test_stop_event_and_an_abandoned_reader_leave_the_backend_usable(smollm2):
    stop = threading.Event()
    essay = [{"role": "user", "content": "Write a long essay about patents."}]
    deltas = []
    for delta in smollm2.stream(essay, think=None, sampling={"seed": 7}, max_tokens=200, stop_event=stop):
        deltas.append(delta)
        if len(deltas) == 3:
            stop.set()
    assert len(deltas) == 3  # English: one token, one delta; the stop is seen right after it
    assert smollm2.last_stats.finish == "cancelled" and smollm2.last_stats.decode_tokens == 3
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(smollm2.stream(essay, think=None, sampling={"seed": 7}, max_tokens=200)):
            if i == 2:
                raise KeyboardInterrupt
    assert smollm2.last_stats.finish == "cancelled"
    assert "Paris" in streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=24)))


def test_stop_before_the_prompt_is_read(smollm2):
    stop = threading.Event()
    stop.set()
    assert list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=8, stop_event=stop)) == []
    assert smollm2.last_stats.finish == "cancelled" and smollm2.last_stats.decode_tokens == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chinese_stream_has_no_replacement_character(qwen3, seed):
    """Random weights over Qwen's real vocabulary: many byte tokens that only make characters together."""
    sampling = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "seed": seed}
    deltas = list(qwen3.stream(CHINESE, think=False, sampling=sampling, max_tokens=100))
    assert deltas and qwen3.last_stats.decode_tokens > 0
    assert not any("\ufffd" in d.text for d in deltas)


def _scripted(monkeypatch, backend: TransformersBackend, answer: str) -> None:
    """Make the sampler spell ``answer`` token by token, then end it: the model's choice is not tested."""
    ids = iter([*backend.tokenize_prompt(answer), backend.stop_token_ids[0]])
    monkeypatch.setattr(tb._Sampler, "sample", lambda self, logits, history: next(ids))


def test_think_block_is_split_off(qwen3, monkeypatch):
    assert qwen3.render_prompt(CHINESE, True).endswith("<|im_start|>assistant\n")
    assert qwen3.render_prompt(CHINESE, False).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    _scripted(monkeypatch, qwen3, "<think>\n先看第十一条。\n</think>\n\n专利权人有权禁止他人实施。")
    deltas = list(qwen3.stream(CHINESE, think=True, sampling={"seed": 1}, max_tokens=64))
    assert streamed_text(deltas, "thinking") == "先看第十一条。"
    assert streamed_text(deltas, "content") == "专利权人有权禁止他人实施。"
    assert qwen3.last_stats.finish == "stop"


def test_prompt_that_opens_the_think_block(tiny_qwen3_dir, tmp_path, monkeypatch):
    """Templates of thinking-only models end the prompt with ``<think>``: the answer starts as thinking."""
    folder = tmp_path / "opens-think"
    shutil.copytree(tiny_qwen3_dir, folder)
    template = folder / "chat_template.jinja"
    text = template.read_text(encoding="utf-8")
    marker = "{{- '<|im_start|>assistant\\n' }}"
    assert marker in text
    template.write_text(text.replace(marker, marker[:-3] + " + '<think>\\n' }}"), encoding="utf-8")
    backend = TransformersBackend(folder, n_ctx=512)
    try:
        assert backend.render_prompt(CHINESE, None).endswith("assistant\n<think>\n")
        _scripted(monkeypatch, backend, "推理。\n</think>\n\n答案。")
        deltas = list(backend.stream(CHINESE, think=None, sampling={"seed": 1}, max_tokens=32))
        assert (streamed_text(deltas, "thinking"), streamed_text(deltas, "content")) == ("推理。", "答案。")
    finally:
        backend.close()


def test_request_errors(qwen3):
    with pytest.raises(InputError, match="mirostat"):
        qwen3.stream(CHINESE, think=None, sampling={"mirostat": 2}, max_tokens=8)
    with pytest.raises(InputError, match="max_tokens"):
        qwen3.stream(CHINESE, think=None, sampling={}, max_tokens=0)
    long = [{"role": "user", "content": "专利权的保护范围以其权利要求的内容为准。" * 120}]
    n = qwen3.count_tokens(long, None)
    with pytest.raises(InputError, match=f"{n} tokens but the context holds {qwen3.context_size}"):
        qwen3.stream(long, think=None, sampling={}, max_tokens=8)


# --------------------------------------------------------------------------------------------------
# choice logits and the likelihood scorer


def test_choice_logits_agree_with_the_f16_gguf(smollm2, smollm2_f16):
    import llama_cpp

    gguf = LlamaCppBackend(smollm2_f16, n_ctx=2048, n_threads=1)
    llama_cpp.llama_set_n_threads(gguf.llm.ctx, 1, 1)  # the prompt too: see one_torch_thread
    try:
        for item in _short_items(3):
            messages, letters = mcq_messages(item), list(item.options)
            assert smollm2.render_prompt(messages, False) == gguf.render_prompt(messages, False)
            hf = letter_probs(smollm2.choice_logits(messages, letters))
            cpp = letter_probs(gguf.choice_logits(messages, letters))
            assert max(hf, key=hf.get) == max(cpp, key=cpp.get), (item.id, hf, cpp)
            assert all(abs(hf[k] - cpp[k]) < 0.02 for k in letters), (item.id, hf, cpp)
        with pytest.raises(InputError, match="not one token"):
            gguf.choice_logits(FRANCE, ["专利"])
    finally:
        gguf.close()
    with pytest.raises(InputError, match="not one token"):
        smollm2.choice_logits(FRANCE, ["专利"])


def test_choice_logits_are_those_of_a_full_forward_pass(qwen3):
    """Whatever the KV cache held before, the logits are those of the prompt alone."""
    item = _short_items(1)[0]
    messages = mcq_messages(item)
    list(qwen3.stream(CHINESE, think=None, sampling={"seed": 1}, max_tokens=4))
    got = qwen3.choice_logits(messages, list(item.options))
    ids = torch.tensor([qwen3.tokenize_prompt(qwen3.render_prompt(messages, False))])
    with torch.inference_mode():
        logits = qwen3.model(input_ids=ids).logits[0, -1]
    for letter, value in got.items():
        assert value == pytest.approx(float(logits[qwen3._choice_id(letter)]), abs=1e-4)


def test_adapter_changes_the_logits(qwen3, tiny_qwen3_dir, qwen3_adapter):
    tuned = TransformersBackend(tiny_qwen3_dir, adapter=qwen3_adapter, n_ctx=1024)
    try:
        assert type(tuned.model).__name__.startswith("Peft")
        for item in _short_items(2):
            messages, letters = mcq_messages(item), list(item.options)
            base, lora = qwen3.choice_logits(messages, letters), tuned.choice_logits(messages, letters)
            assert max(abs(base[k] - lora[k]) for k in letters) > 1e-3
        # the second item reused the first's cached prefix through peft: still the full pass's logits
        ids = torch.tensor([tuned.tokenize_prompt(tuned.render_prompt(messages, False))])
        with torch.inference_mode():
            full = tuned.model(input_ids=ids).logits[0, -1]
        assert all(lora[k] == pytest.approx(float(full[tuned._choice_id(k)]), abs=1e-4) for k in letters)
        assert tuned.n_params > qwen3.n_params
    finally:
        tuned.close()


def test_likelihood_scorer_runs_on_transformers(qwen3):
    scorer = LikelihoodScorer(qwen3)
    items = _short_items(3)
    records = [scorer.score(it) for it in items]
    for item, record in zip(items, records, strict=True):
        assert set(record) == {"id", "source", "type", "answer", "prediction", "correct", "probs"}
        assert record["id"] == item.id and set(record["probs"]) == set(item.options)
        assert abs(sum(record["probs"].values()) - 1) < 1e-3 and record["prediction"]
        expected = letter_probs(qwen3.choice_logits(mcq_messages(item), list(item.options)))
        assert record["probs"] == {k: round(p, 6) for k, p in expected.items()}


def test_likelihood_scorer_needs_logits():
    with pytest.raises(InputError, match="needs logits: a GGUF"):
        LikelihoodScorer(OllamaBackend("fake"))


# --------------------------------------------------------------------------------------------------
# open_model


def test_open_model_dispatch(tiny_qwen3_dir, qwen3_adapter, smollm2_f16, tmp_path):
    ollama = open_model("ollama:qwen3:4b", n_ctx=2048, ollama_host="127.0.0.1:11500")
    assert isinstance(ollama, OllamaBackend) and ollama.model == "qwen3:4b" and ollama.context_size == 2048
    assert ollama.host == "http://127.0.0.1:11500"
    none = {"path": "ollama:qwen3:4b", "file_size": None, "params": None}
    assert model_info("ollama:qwen3:4b", ollama) == none

    gguf = open_model(str(smollm2_f16), n_ctx=512)
    try:
        assert isinstance(gguf, LlamaCppBackend) and gguf.context_size == 512
        info = model_info(str(smollm2_f16), gguf)
        assert info["file_size"] == smollm2_f16.stat().st_size and 100e6 < info["params"] < 200e6
    finally:
        gguf.close()

    weights = sum(f.stat().st_size for f in tiny_qwen3_dir.glob("*.safetensors"))
    plain = open_model(str(tiny_qwen3_dir), n_ctx=512)
    try:
        assert isinstance(plain, TransformersBackend) and plain.adapter_dir is None
        info = model_info(str(tiny_qwen3_dir), plain)
        assert info == {"path": str(tiny_qwen3_dir), "file_size": weights, "params": plain.n_params}
    finally:
        plain.close()

    # the base folder's own name holds a '+': the split is made where both sides exist
    base = tmp_path / "tiny+qwen3"
    base.symlink_to(tiny_qwen3_dir, target_is_directory=True)
    spec = f"{base}+{qwen3_adapter}"
    assert parse_spec(spec) == ("hf", base, qwen3_adapter)
    tuned = open_model(spec, n_ctx=512)
    try:
        assert isinstance(tuned, TransformersBackend) and tuned.adapter_dir == qwen3_adapter
        lora = (qwen3_adapter / "adapter_model.safetensors").stat().st_size
        assert model_info(spec, tuned)["file_size"] == weights + lora
    finally:
        tuned.close()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", r"not a model \(no such file or directory\): expected a \.gguf file, an HF model directory"),
        ("ollama:", "no model name"),
        ("{tmp}", "not a model directory"),
        ("{tmp}/notes.txt", "not a model: expected a .gguf file"),
        ("{tmp}/missing.gguf", "model not found"),
        ("{adapter}", "a LoRA adapter, not a model: name its base model as BASEDIR"),
        ("{base}+{tmp}", "not a LoRA adapter directory"),
    ],
)
def test_open_model_refuses(spec, message, tiny_qwen3_dir, qwen3_adapter, tmp_path):
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    spec = spec.format(tmp=tmp_path, adapter=qwen3_adapter, base=tiny_qwen3_dir)
    with pytest.raises(InputError, match=message):
        open_model(spec, n_ctx=512)


def test_bad_folders(tiny_qwen3_dir, tmp_path):
    with pytest.raises(InputError, match="model directory not found"):
        TransformersBackend(tmp_path / "nowhere")
    with pytest.raises(InputError, match="adapter directory not found"):
        TransformersBackend(tiny_qwen3_dir, adapter=tmp_path / "nowhere")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "adapter_config.json").write_text("{}", encoding="utf-8")
    (pickled / "adapter_model.bin").write_bytes(b"")
    with pytest.raises(InputError, match="safetensors only"):
        TransformersBackend(tiny_qwen3_dir, adapter=pickled)
