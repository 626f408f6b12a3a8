"""Verification names the faults converters make, on small real models (the 4B shape: bench/export_faults.py)."""

from __future__ import annotations

import re

import pytest

from ecmiip.bench.export_faults import FAULTS, plant
from ecmiip.core.hf_models import load_tokenizer
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT
from ecmiip.quantize import verify
from ecmiip.quantize.adapter import LoraAdapter
from ecmiip.quantize.convert import Conversion
from ecmiip.quantize.ollama_template import template_for_tokenizer
from ecmiip.quantize.verification import run_checks, slice_layers
from tests.models import cached_model, make_lora_adapter


def _export(base, adapter, out):
    conversion = Conversion(base, adapter=LoraAdapter.load(adapter) if adapter else None)
    conversion.write(out)
    return out


def _verify(gguf, base, adapter, **kwargs):
    tokenizer = load_tokenizer(base, local_files_only=True)
    checks = run_checks(gguf, base, adapter, {}, template_for_tokenizer(tokenizer), LEGAL_SYSTEM_PROMPT, tokenizer,
                        **kwargs)
    return {c.name: c for c in checks}


@pytest.fixture(scope="module")
def deep_qwen3(tmp_path_factory):
    """Five layers, so a depth slice (0, 1, 4) differs from the whole model; with a LoRA adapter."""
    base = cached_model("tiny-qwen3", num_hidden_layers=5)
    adapter = make_lora_adapter(base, tmp_path_factory.mktemp("lora") / "a", init_lora_weights=False, steps=1, r=16)
    gguf = _export(base, adapter, tmp_path_factory.mktemp("gguf") / "m-F16.gguf")
    return base, adapter, gguf


@pytest.mark.parametrize("whole", [True, False], ids=["whole-file", "depth-slice"])
def test_a_correct_export_passes_whole_or_sliced(deep_qwen3, whole):
    base, adapter, gguf = deep_qwen3
    checks = _verify(gguf, base, adapter, full_run_max_bytes=2**40 if whole else 0)
    for name in ("tokenizer parity", "special tokens", "weight parity", "logits parity"):
        assert checks[name].passed, (name, checks[name].summary)
    assert ("depth slice of layers 0, 1, 4" in checks["logits parity"].summary) is not whole
    assert checks["weight parity"].details["compared"] > 5 * 9


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_planted_fault_fails_with_its_name(deep_qwen3, tmp_path, fault):
    base, adapter, gguf = deep_qwen3
    planted = plant(fault, gguf, base, tmp_path / "planted-F16.gguf", rank=16)
    checks = _verify(planted, base, adapter, full_run_max_bytes=0)
    expected = FAULTS[fault]
    assert checks[expected.check].passed is False
    assert re.search(expected.message, checks[expected.check].summary), checks[expected.check].summary
    if fault == "lora-scale":
        assert "scaled 4×" in checks["weight parity"].summary and "rsLoRA" in checks["weight parity"].summary
    if fault == "lora-missing":
        assert checks["weight parity"].summary.startswith("blk.2.")
    if fault == "qk-permuted":  # the graph is wrong too: llama.cpp's logits disagree with the reference
        assert checks["logits parity"].passed is False
    if fault == "special-token-shift":
        assert "<|im_end|> is id 151645 in HF, id 151646 in the GGUF (off by one)" in checks["special tokens"].summary


def test_untied_head_lost_is_named(tmp_path):
    base = cached_model("tiny-qwen3", tie_word_embeddings=False)
    gguf = _export(base, None, tmp_path / "m-F16.gguf")
    assert _verify(gguf, base, None)["weight parity"].passed
    planted = plant("head-mixup", gguf, base, tmp_path / "planted-F16.gguf")
    summary = _verify(planted, base, None)["weight parity"].summary
    assert "output.weight is missing" in summary and "tie_word_embeddings is false" in summary


def test_llama_without_its_qk_permutation_is_named(smollm2_dir, tmp_path):
    gguf = _export(smollm2_dir, None, tmp_path / "m-F16.gguf")
    planted = plant("qk-permuted", gguf, smollm2_dir, tmp_path / "planted-F16.gguf")
    checks = _verify(planted, smollm2_dir, None)
    assert "half-split RoPE order" in checks["weight parity"].summary
    assert checks["logits parity"].passed is False


def test_slices_keep_first_two_and_last_layers():
    assert slice_layers(2) == (0, 1)
    assert slice_layers(36) == (0, 1, 35)


def test_the_logits_gate_is_scaled_by_what_storage_alone_does(deep_qwen3):
    base, adapter, gguf = deep_qwen3
    checks = _verify(gguf, base, adapter)
    twin = checks["logits parity"].details["storage_rounding_ratio"]
    assert 0 < twin < 0.01 and checks["logits parity"].details["tolerance"] == pytest.approx(verify.TWIN_GATE * twin)
    assert "× what F16 storage alone moves them" in checks["logits parity"].summary
    assert verify.logits_tolerance("f32", 0.0) == 1e-3


def test_drift_says_when_the_model_is_untrained(smollm2_dir, tiny_qwen3_dir):
    import numpy as np

    rng = np.random.default_rng(0)
    ids = list(range(100, 164))
    flat = rng.normal(0, 0.3, (64, 151936)).astype(np.float32)  # a random model's near-uniform logits
    check = verify.check_drift("Q4_K_M", flat, ids, [(0, flat[:40] + 0.01), (40, flat[40:])])
    assert check.details["untrained"] and "untrained model" in check.summary
    peaked = np.zeros((64, 1000), np.float32)
    peaked[np.arange(63), ids[1:]] = 12.0  # a model that predicts the text
    check = verify.check_drift("Q4_K_M", peaked, ids, [(0, peaked)])
    assert not check.details["untrained"] and check.summary.startswith("KL 0.0000")


def test_lora_bias_on_a_biased_projection_verifies(tiny_qwen3_dir, tmp_path):
    """peft's lora_bias (bias + scaling · lora_B.bias) on Qwen2's q/k/v biases: exported and verified exactly."""
    import shutil

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=151936, hidden_size=256, intermediate_size=768, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096)
    model = Qwen2ForCausalLM(config)
    base = tmp_path / "qwen2"
    model.save_pretrained(base)
    for f in tiny_qwen3_dir.iterdir():
        if f.name.startswith(("tokenizer", "chat_template", "special_tokens")):
            shutil.copy(f, base / f.name)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], lora_bias=True,
                                                  init_lora_weights=False))
    with torch.no_grad():
        for m in peft_model.modules():
            if hasattr(m, "lora_B") and "default" in m.lora_B:
                m.lora_B["default"].bias.normal_(0, 0.5)
    peft_model.save_pretrained(tmp_path / "lora")
    gguf = _export(base, tmp_path / "lora", tmp_path / "m-F16.gguf")
    checks = _verify(gguf, base, tmp_path / "lora")
    assert checks["weight parity"].passed, checks["weight parity"].summary
    assert checks["logits parity"].passed, checks["logits parity"].summary
