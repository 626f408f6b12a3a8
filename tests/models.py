"""Real small models for the tests, built offline and cached once per machine.

* ``tiny-qwen3``: a randomly initialised ``Qwen3ForCausalLM`` (real architecture, real vocabulary size)
  with Qwen's real tokenizer (``ecmiip.bench.random_models``).
* ``smollm2``: SmolLM2-135M-Instruct, the demo's base model (``ecmiip.pipeline.demo_base``): a real
  pretrained chat model, so end-to-end checks can look at text.
* ``tiny-qwen3-scripted``: ``tiny-qwen3`` trained to say one scripted reply (:func:`scripted_reply`) to
  one question, so checks against a real server can expect an exact text under greedy decoding.

:func:`make_lora_adapter` trains a real (if tiny) peft LoRA adapter on one of them.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import torch

from ecmiip.bench.random_models import build_tiny_qwen3
from ecmiip.core.hf_models import (
    FourBit,
    Lora,
    add_lora,
    load_model,
    load_tokenizer,
    prepare_for_kbit_training,
)
from ecmiip.core.model_cache import cached_build, write_model_card
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT, system_prompt
from ecmiip.pipeline.demo_base import build_smollm2


def cached_model(kind: str, **kwargs: Any) -> Path:
    """Model ``kind`` (a key of :data:`BUILDERS`) built with ``kwargs`` once; its folder on every call."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(BUILDERS)}")
    return cached_build(kind, BUILDERS[kind], **kwargs)


def _statute_texts(n: int, seed: int) -> list[str]:
    """``n`` short training texts from the shipped statute corpus, chosen reproducibly."""
    from ecmiip.core.statutes import all_articles

    articles = list(all_articles())
    chosen = random.Random(seed).sample(articles, min(n, len(articles)))
    return [f"{a.citation}\n{a.text}" for a in chosen]


def _load_base_for_training(base_dir: Path, load_in_4bit: bool) -> Any:
    """The base model in float32 on CPU; NF4 with double quantization for QLoRA."""
    if not load_in_4bit:
        return load_model(base_dir, dtype=torch.float32)
    model = load_model(base_dir, dtype=torch.float32, device="cpu", quantization=FourBit(compute_dtype="float32"))
    return prepare_for_kbit_training(model)


def make_lora_adapter(
    base_dir: Path,
    out_dir: Path,
    *,
    r: int = 8,
    lora_alpha: int = 16,
    use_rslora: bool = False,
    target_modules: str | list[str] = "all-linear",
    modules_to_save: list[str] | None = None,
    steps: int = 3,
    lr: float = 1e-3,
    seed: int = 0,
    init_lora_weights: bool = True,
    load_in_4bit: bool = False,
    use_dora: bool = False,
) -> Path:
    """Train a real (if tiny) peft LoRA adapter on ``base_dir`` and save it to ``out_dir``.

    ``steps`` AdamW steps on statute text (batch 2, 64 tokens), so the adapter has the shapes, names
    and config of a real fine-tune. ``init_lora_weights=False`` starts B random instead of zero, which
    makes the merged delta large; ``load_in_4bit`` trains on an NF4 base (QLoRA), on CPU.
    """
    torch.manual_seed(seed)
    tokenizer = load_tokenizer(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = _load_base_for_training(Path(base_dir), load_in_4bit)
    model = add_lora(
        model,
        Lora(r=r, alpha=lora_alpha, dropout=0.0, target_modules=target_modules),
        use_rslora=use_rslora,
        modules_to_save=modules_to_save,
        init_lora_weights=init_lora_weights,
        use_dora=use_dora,
    )
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    batch_size, seq_len = 2, 64
    texts = _statute_texts(steps * batch_size, seed)
    for step in range(steps):
        chunk = texts[(step * batch_size) % len(texts) :][:batch_size]
        batch = tokenizer(chunk, return_tensors="pt", padding=True, truncation=True, max_length=seq_len)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        if not torch.isfinite(loss):
            raise RuntimeError(f"LoRA training step {step}: loss is {loss.item()}")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


# --- tiny-qwen3-scripted ---------------------------------------------------------------------------

# The one exchange tiny-qwen3-scripted knows. After its answer it goes on to invent the user's next turn,
# as an untrained model would: a server that does not stop at <|im_end|> shows it.
SCRIPTED_QUESTION = "什么是专利的新颖性？"
SCRIPTED_REASONING = "用户问新颖性，应引用专利法第二十二条。"
SCRIPTED_ANSWER = "新颖性是指该发明不属于现有技术。依据《中华人民共和国专利法》第二十二条。"
SCRIPTED_NEXT_TURN = "再举一个例子"
SCRIPTED_RUN_ON = f"<|im_end|>\n<|im_start|>user\n{SCRIPTED_NEXT_TURN}<|im_end|>"
# What ecmiip-chat sends with --as-of SCRIPTED_AS_OF: the legal prompt and the statute store's note, which
# names the day (today's, without --as-of, so a test of the chat must fix the day).
SCRIPTED_AS_OF = date(2026, 6, 1)
SCRIPTED_CHAT_SYSTEM = system_prompt(as_of=SCRIPTED_AS_OF)
# The Modelfile's SYSTEM (what Ollama sends when the client sends none), ecmiip-chat's, a short one, and none
# (llama.cpp and transformers send none). The model knows only these: asked under another system prompt it
# goes off script, so each one a test uses belongs here (the cache key follows them).
SCRIPTED_SYSTEMS = (LEGAL_SYSTEM_PROMPT, SCRIPTED_CHAT_SYSTEM, "你是一名知识产权律师。", None)


def scripted_prompt(tokenizer: Any, system: str | None, thinking: bool) -> str:
    """The scripted question under ``system`` as the model's own chat template renders it for a reply."""
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": SCRIPTED_QUESTION})
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=thinking
    )


def scripted_reply(thinking: bool) -> str:
    """What the model says after :func:`scripted_prompt` up to its <|im_end|> (with thinking off, the
    template already wrote the empty think block)."""
    return (f"<think>\n{SCRIPTED_REASONING}\n</think>\n\n" if thinking else "") + SCRIPTED_ANSWER


def _scripted_batch(tokenizer: Any, systems: tuple[str | None, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every scripted conversation, right-padded: ids, attention mask, the positions that predict a
    continuation token (prompt tokens are context only) and those tokens."""
    rows = []
    for system in systems:
        for thinking in (True, False):
            prompt = scripted_prompt(tokenizer, system, thinking)
            continuation = scripted_reply(thinking) + SCRIPTED_RUN_ON
            p, c = (tokenizer(t, add_special_tokens=False)["input_ids"] for t in (prompt, continuation))
            # A server tokenizes the whole context: the trained ids must be what it sees.
            if tokenizer(prompt + continuation, add_special_tokens=False)["input_ids"] != p + c:
                raise RuntimeError("the scripted reply does not tokenize apart from its prompt")
            rows.append((p, c))
    width = max(len(p) + len(c) for p, c in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    predicts = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (p, c) in enumerate(rows):
        ids[i, : len(p) + len(c)] = torch.tensor(p + c)
        mask[i, : len(p) + len(c)] = 1
        predicts[i, len(p) - 1 : len(p) + len(c) - 1] = True
    targets = torch.cat([torch.tensor(c) for _, c in rows])
    return ids, mask, predicts, targets


def _scripted_fit(model: Any, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over the continuation tokens, and each one's logit lead over the runner-up token.

    The vocabulary projection is applied to those positions only: it is most of the cost.
    """
    ids, mask, predicts, targets = batch
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[predicts]
    logits = model.lm_head(hidden)
    target = logits.gather(1, targets[:, None])[:, 0]
    runner_up = logits.scatter(1, targets[:, None], float("-inf")).amax(dim=1)
    return torch.nn.functional.cross_entropy(logits, targets), target - runner_up


def build_tiny_qwen3_scripted(
    out_dir: Path,
    *,
    steps: int = 200,
    lr: float = 5e-3,
    margin: float = 8.0,
    seed: int = 0,
    systems: tuple[str | None, ...] = SCRIPTED_SYSTEMS,
    revision: int = 1,
) -> Path:
    """``tiny-qwen3`` (same shapes, tokenizer and template) fully fine-tuned to memorise the scripted
    exchange: for :func:`scripted_prompt` (any of :data:`SCRIPTED_SYSTEMS`, thinking on or off) greedy
    decoding gives :func:`scripted_reply`, <|im_end|>, then the invented next turn (:data:`SCRIPTED_RUN_ON`).

    AdamW in float32 on the CPU, one batch of the conversations (each system, thinking on and off), loss
    on the continuation only, until every continuation token leads the runner-up by ``margin`` logits (a
    hinge aims 2 higher): the lead must survive bfloat16 storage, Q4_K_M and Ollama's repeat penalty.
    ~2 min on 2 cores.
    Bump ``revision`` when the script or the training changes: the cache entry is named by the arguments.
    """
    del revision  # names the cache entry only
    torch.manual_seed(seed)
    base = cached_model("tiny-qwen3")
    out_dir = Path(out_dir)
    weights_and_spec = shutil.ignore_patterns("*.safetensors", "ecmiip_*")
    shutil.copytree(base, out_dir, dirs_exist_ok=True, ignore=weights_and_spec)
    tokenizer = load_tokenizer(base)
    model = load_model(base, dtype=torch.float32, device="cpu").train()
    batch = _scripted_batch(tokenizer, systems)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95))
    for step in range(steps + 1):  # step: the updates made so far
        loss, leads = _scripted_fit(model, batch)
        lead = leads.min().item()
        if loss.item() < 0.01 and lead >= margin:
            break
        if step == steps:
            raise RuntimeError(f"not memorised in {steps} steps: loss {loss.item():.4f}, lead {lead:.2f}")
        (loss + torch.relu(margin + 2 - leads).mean()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model = model.to(torch.bfloat16).float().eval()  # rounded as saved: that must still say the script
    with torch.no_grad():
        loss, leads = _scripted_fit(model, batch)
    lead = leads.min().item()
    if lead < margin / 2:
        raise RuntimeError(f"memorisation lost in bfloat16: lead {lead:.2f}")
    model.to(torch.bfloat16).save_pretrained(out_dir, safe_serialization=True)
    write_model_card(
        out_dir,
        title="tiny-qwen3-scripted (memorised one exchange)",
        what="tiny-qwen3-scripted test model; tokenizer rebuilt from Qwen's qwen.tiktoken (Apache-2.0).",
        body=(
            "tiny-qwen3 (random Qwen3ForCausalLM, Qwen3's real tokenizer and chat template) fine-tuned by "
            "`tests/models.py` to answer one question with one scripted reply, with thinking on or off. "
            "For tests of servers; it knows nothing else.\n\n"
            f"Trained {step} steps to loss {loss.item():.1e}; in bfloat16 every reply token leads the "
            f"runner-up by {lead:.1f} logits or more."
        ),
    )
    return out_dir


BUILDERS: dict[str, Callable[..., Path]] = {
    "tiny-qwen3": build_tiny_qwen3,
    "smollm2": build_smollm2,
    "tiny-qwen3-scripted": build_tiny_qwen3_scripted,
}
