"""The layer-streamed fp32 reference equals transformers' + peft's own full fp32 forward (≤ 1e-4)."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from ecmiip.quantize.reference import Reference, Sequence
from tests.models import make_lora_adapter

TEXTS = [
    "根据《中华人民共和国商标法》第五十七条，下列行为属于侵犯注册商标专用权：",
    "The patent holder sued the defendant for infringement because",
]

ADAPTERS = {
    "none": None,
    "all-linear": {"init_lora_weights": False, "steps": 1},
    "rslora": {"init_lora_weights": False, "use_rslora": True, "r": 16, "steps": 1, "target_modules": ["q_proj", "down_proj"]},
    "embedding-and-head": {"init_lora_weights": False, "steps": 1, "target_modules": ["embed_tokens", "lm_head", "v_proj"]},
    "modules-to-save": {"steps": 2, "target_modules": ["k_proj"], "modules_to_save": ["lm_head"]},
}


def _hf_logits(base, adapter, ids_list):
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0] for ids in ids_list]


@pytest.mark.parametrize("model", ["tiny_qwen3_dir", "smollm2_dir"])
@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_layer_streamed_reference_equals_the_full_fp32_forward(request, tmp_path, model, kind):
    base = request.getfixturevalue(model)
    adapter = make_lora_adapter(base, tmp_path / "lora", **ADAPTERS[kind]) if ADAPTERS[kind] else None
    tokenizer = AutoTokenizer.from_pretrained(base)
    ids_list = [tokenizer(t)["input_ids"] for t in TEXTS]
    expected = _hf_logits(base, adapter, ids_list)
    reference = Reference(base, adapter)
    got = reference.logits([Sequence(ids) for ids in ids_list])
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape
        assert float((g - e).abs().max()) <= 1e-4
    if adapter is not None:  # the adapter really took part: the base alone differs
        plain = Reference(base).logits([Sequence(ids_list[0])])[0]
        assert float((plain - got[0]).abs().max()) > 1e-3
    # Only one layer ever holds weights: after the pass every base weight is back on the meta device.
    assert all(p.is_meta for n, p in reference.model.named_parameters() if "lora_" not in n)


def test_observer_sees_every_tensor_once_with_its_delta(tiny_qwen3_dir, tmp_path):
    adapter = make_lora_adapter(tiny_qwen3_dir, tmp_path / "lora", init_lora_weights=False, steps=1,
                                target_modules=["q_proj"])
    reference = Reference(tiny_qwen3_dir, adapter)
    seen = {}
    reference.logits([Sequence([1, 2, 3])], observe=lambda w: seen.setdefault((w.name, w.start), w))
    names = {name for name, _ in seen}
    assert names >= set(reference.ckpt.entries)
    q = seen[("model.layers.0.self_attn.q_proj.weight", 0)]
    assert q.delta is not None and q.rank == 8 and q.scale == 2.0
    assert torch.allclose(q.value, q.base + q.delta)
    assert seen[("model.layers.0.self_attn.k_proj.weight", 0)].delta is None


def test_depth_slices_run_only_their_layers(tiny_qwen3_dir):
    reference = Reference(tiny_qwen3_dir)
    full, first, none = reference.logits([Sequence([5, 6, 7]), Sequence([5, 6, 7], (0,)), Sequence([5, 6, 7], ())])
    assert not torch.allclose(full, first) and not torch.allclose(first, none)
    assert torch.allclose(full, reference.logits([Sequence([5, 6, 7], (0, 1))])[0], atol=1e-5)
