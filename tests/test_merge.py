"""The tensor-by-tensor merge equals peft's own merge_and_unload() on real models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from ecmiip.quantize.adapter import LoraAdapter
from ecmiip.quantize.arch import spec_for
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.convert import iter_merged, plan_tensors
from tests.models import make_lora_adapter


def _ours(base_dir: Path, adapter_dir: Path) -> dict[str, torch.Tensor]:
    ckpt = Checkpoint(base_dir)
    adapter = LoraAdapter.load(adapter_dir)
    adapter.check_against(ckpt)
    plan = plan_tensors(ckpt, spec_for(ckpt.architecture), adapter, "f32")
    return {t.target: v.float() for t, v in iter_merged(ckpt, adapter, plan)}


def _peft_merged(base_dir: Path, adapter_dir: Path) -> dict[str, torch.Tensor]:
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return {k: v.float() for k, v in PeftModel.from_pretrained(base, adapter_dir).merge_and_unload().state_dict().items()}


def _assert_equal_to_peft(ours: dict[str, torch.Tensor], ref: dict[str, torch.Tensor], touched: int) -> None:
    changed = 0
    for name, value in ours.items():
        diff = (value - ref[name]).abs().max().item()
        assert diff <= 1e-5, f"{name}: max |ours - peft| = {diff}"
        changed += name in ref
    assert changed == len(ours) and touched > 0


def _save_peft(base_dir: Path, out: Path, config: LoraConfig, tweak=None) -> Path:
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32), config)
    if tweak:
        with torch.no_grad():
            tweak(model)
    model.save_pretrained(out)
    return out


def test_trained_lora_merge_equals_peft_tiny_qwen3(tiny_qwen3_dir, tmp_path):
    adapter = make_lora_adapter(tiny_qwen3_dir, tmp_path / "lora", steps=3, init_lora_weights=False)
    ours = _ours(tiny_qwen3_dir, adapter)
    _assert_equal_to_peft(ours, _peft_merged(tiny_qwen3_dir, adapter), len(LoraAdapter.load(adapter).pairs))


@pytest.mark.slow
def test_rslora_alpha_pattern_and_modules_to_save_equal_peft_smollm2(smollm2_dir, tmp_path):
    config = LoraConfig(
        r=8,
        lora_alpha=32,
        use_rslora=True,
        alpha_pattern={"q_proj": 4},
        target_modules="all-linear",
        modules_to_save=["model.norm"],
        init_lora_weights=False,
    )

    def tweak(model):
        model.base_model.model.model.norm.modules_to_save["default"].weight.add_(0.25)

    adapter = _save_peft(smollm2_dir, tmp_path / "lora", config, tweak)
    loaded = LoraAdapter.load(adapter)
    assert "model.norm.weight" in loaded.replacements
    q = loaded.pairs["model.layers.0.self_attn.q_proj.weight"]
    assert q.scale == pytest.approx(4 / 8**0.5)  # rsLoRA: alpha / sqrt(r), alpha from alpha_pattern
    ours = _ours(smollm2_dir, adapter)
    _assert_equal_to_peft(ours, _peft_merged(smollm2_dir, adapter), len(loaded.pairs))
    assert not torch.equal(ours["model.norm.weight"], Checkpoint(smollm2_dir).load("model.norm.weight").float())


def test_embedding_lora_merge_equals_peft(tiny_qwen3_dir, tmp_path):
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["embed_tokens", "v_proj"], init_lora_weights=False)
    adapter = _save_peft(tiny_qwen3_dir, tmp_path / "lora", config)
    loaded = LoraAdapter.load(adapter)
    assert loaded.pairs["model.embed_tokens.weight"].embedding
    ours = _ours(tiny_qwen3_dir, adapter)
    # The model is tied. As trained, inputs were looked up in W + ΔW but scored by the plain W head;
    # peft's merge writes W + ΔW into the one shared tensor and so changes the head too. The export
    # unties instead: the head keeps the base weights, exactly what the trained model used.
    head = ours.pop("lm_head.weight")
    assert torch.equal(head, Checkpoint(tiny_qwen3_dir).load("model.embed_tokens.weight").float())
    _assert_equal_to_peft(ours, _peft_merged(tiny_qwen3_dir, adapter), len(loaded.pairs))
