"""Randomly initialised Qwen3 models of given shapes, with Qwen3's real tokenizer, for the benchmarks.

Real architecture and vocabulary size, random weights: the speed, memory and logit benchmarks need a
model of a given shape, not a trained one. Builds are cached (:func:`tiny_qwen3`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ecmiip.bench.qwen3_tokenizer import (
    QWEN3_BOS_ID,
    QWEN3_EOS_ID,
    QWEN3_MAX_POSITIONS,
    build_qwen3_tokenizer,
)
from ecmiip.core.model_cache import cached_build, write_model_card

QWEN3_VOCAB_SIZE = 151936  # embedding rows of every Qwen3 model (the tokenizer uses 151,669 of them)


def qwen3_config(*, vocab_size: int = QWEN3_VOCAB_SIZE, **dims: Any) -> Any:
    """A ``Qwen3Config`` with Qwen3's fixed settings (RoPE base, norms, special ids) and the given widths."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_act="silu",
        max_position_embeddings=QWEN3_MAX_POSITIONS,
        initializer_range=0.02,
        rms_norm_eps=1e-6,
        rope_theta=1_000_000.0,
        use_sliding_window=False,
        sliding_window=None,
        attention_bias=False,
        bos_token_id=QWEN3_BOS_ID,
        eos_token_id=QWEN3_EOS_ID,
        **dims,
    )


def build_tiny_qwen3(
    out_dir: Path,
    *,
    hidden_size: int = 256,
    intermediate_size: int = 768,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    head_dim: int = 64,
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
    max_shard_size: str | None = None,
    tie_word_embeddings: bool = True,
) -> Path:
    """A randomly initialised Qwen3 with the real tokenizer; same seed and arguments, same weights.

    Keep ``hidden_size``, ``intermediate_size`` and ``num_attention_heads * head_dim`` multiples of 256:
    llama.cpp applies K-quants only to rows of 256-element blocks and falls back to other types otherwise.
    """
    from transformers import GenerationConfig, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = qwen3_config(
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        head_dim=head_dim,
        tie_word_embeddings=tie_word_embeddings,
    )
    torch.manual_seed(seed)  # initialise in float32 then cast, so the weights do not depend on dtype
    model = Qwen3ForCausalLM(config).to(dtype).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=QWEN3_BOS_ID,
        eos_token_id=[QWEN3_EOS_ID, QWEN3_BOS_ID],
        pad_token_id=QWEN3_BOS_ID,
        do_sample=True,
        temperature=0.6,
        top_p=0.95,
        top_k=20,
    )
    save_kwargs: dict[str, Any] = {"safe_serialization": True}
    if max_shard_size is not None:
        save_kwargs["max_shard_size"] = max_shard_size
    model.save_pretrained(out_dir, **save_kwargs)
    build_qwen3_tokenizer(out_dir)
    write_model_card(
        out_dir,
        title="tiny-qwen3 (random weights)",
        what="tiny-qwen3 test model: random weights; tokenizer rebuilt from Qwen's qwen.tiktoken (Apache-2.0).",
        body=(
            "A randomly initialised Qwen3ForCausalLM with Qwen3's real tokenizer and chat template, built "
            "offline by `ecmiip.bench.random_models.build_tiny_qwen3` for tests and benchmarks. Its output "
            "is meaningless text."
        ),
    )
    return out_dir


def tiny_qwen3(**kwargs: Any) -> Path:
    """:func:`build_tiny_qwen3` with these arguments, built once per machine (``ecmiip.core.model_cache``)."""
    return cached_build("tiny-qwen3", build_tiny_qwen3, **kwargs)


# Qwen/Qwen3-4B's config.json: the shapes the ``qwen3-4b`` recipe trains (``bench/export_memory.py``'s
# ``--preset qwen3-4b`` is the same model).
QWEN3_4B_DIMS: dict[str, Any] = {
    "hidden_size": 2560,
    "intermediate_size": 9728,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "tie_word_embeddings": True,
    "vocab_size": QWEN3_VOCAB_SIZE,
}


def random_qwen3(
    *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None, seed: int = 0, **dims: Any
) -> Any:
    """A randomly initialised ``Qwen3ForCausalLM`` of ``dims`` (:func:`qwen3_config`'s arguments), in memory.

    Made directly on ``device`` in ``dtype`` (no float32 copy on the CPU first): a full-size model on a
    GPU takes seconds. For speed and memory measurements; the weights depend on device and dtype.
    """
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device or "cpu"):
        model = AutoModelForCausalLM.from_config(qwen3_config(**dims), dtype=dtype, trust_remote_code=False)
    return model.train()
