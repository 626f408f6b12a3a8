"""Real small models for the tests, built offline and cached once per machine.

* ``tiny-qwen3``: a randomly initialised ``Qwen3ForCausalLM`` (real architecture, real vocabulary size)
  with Qwen's real tokenizer (``ecmiip.bench.random_models``).
* ``smollm2``: SmolLM2-135M-Instruct, the demo's base model (``ecmiip.pipeline.demo_base``): a real
  pretrained chat model, so end-to-end checks can look at text.

:func:`make_lora_adapter` trains a real (if tiny) peft LoRA adapter on one of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
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
from ecmiip.core.model_cache import cached_build
from ecmiip.pipeline.demo_base import build_smollm2

BUILDERS: dict[str, Callable[..., Path]] = {"tiny-qwen3": build_tiny_qwen3, "smollm2": build_smollm2}


def cached_model(kind: str, **kwargs: Any) -> Path:
    """Model ``kind`` ("tiny-qwen3" or "smollm2") built with ``kwargs`` once; its folder on every call."""
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
