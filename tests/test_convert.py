"""The converter: pre-tokenizer detection, sharded checkpoints, Qwen2, output types."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from ecmiip.bench.random_models import build_tiny_qwen3
from ecmiip.core.errors import UnsupportedError
from ecmiip.quantize import verify
from ecmiip.quantize.convert import convert
from ecmiip.quantize.reference import Reference, Sequence
from ecmiip.quantize.vocab import LLAMA3_REGEX, QWEN2_REGEX, detect_pre

BYTELEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}


def _split(regex: str) -> dict:
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


@pytest.mark.parametrize(
    ("pre_tokenizer", "expected"),
    [
        ({"type": "Sequence", "pretokenizers": [_split(QWEN2_REGEX), BYTELEVEL_NO_REGEX]}, "qwen2"),
        ({"type": "Sequence", "pretokenizers": [_split(LLAMA3_REGEX), BYTELEVEL_NO_REGEX]}, "llama-bpe"),
        ({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}, "gpt-2"),
        (
            {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, {"type": "ByteLevel", "use_regex": True}]},
            "smollm",
        ),
    ],
)
def test_pre_tokenizer_is_chosen_from_its_definition(pre_tokenizer, expected, tmp_path):
    # Only the definition matters: a retrained vocabulary with Qwen's regex is still "qwen2".
    assert detect_pre({"pre_tokenizer": pre_tokenizer, "model": {"vocab": {"x": 0}}}, tmp_path / "tokenizer.json") == expected


def test_unknown_pre_tokenizer_names_the_regex_and_the_override(tmp_path):
    tok = {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [_split(r"\p{L}+|\d{1,4}"), BYTELEVEL_NO_REGEX]}}
    with pytest.raises(UnsupportedError) as e:
        detect_pre(tok, tmp_path / "tokenizer.json")
    assert r"\p{L}+|\d{1,4}" in str(e.value) and "--tokenizer-pre" in str(e.value) and "tokenizer.json" in str(e.value)


def test_tokenizer_pre_override_is_written(tiny_qwen3_dir, tmp_path):
    out = tmp_path / "m.gguf"
    convert(tiny_qwen3_dir, out, tokenizer_pre="llama-bpe")
    assert gguf.GGUFReader(out).fields["tokenizer.ggml.pre"].contents() == "llama-bpe"


def _tensors(path: Path) -> dict[str, np.ndarray]:
    return {t.name: np.array(t.data) for t in gguf.GGUFReader(path).tensors}


def _logits_parity(gguf_path, base, tolerance):
    """llama.cpp's logits of ``gguf_path`` against the fp32 reference of ``base``."""
    tokenizer = AutoTokenizer.from_pretrained(base)
    prompts = [tokenizer(p)["input_ids"] for p in verify.LOGIT_PROMPTS]
    reference = [t.numpy() for t in Reference(base).logits([Sequence(ids) for ids in prompts])]
    return verify.check_logits(verify.LOGIT_PROMPTS, reference, verify.llama_logits(gguf_path, prompts), tolerance=tolerance)


def test_sharded_checkpoint_converts_like_a_single_file(tiny_qwen3_dir, tmp_path):
    sharded = build_tiny_qwen3(tmp_path / "sharded", max_shard_size="20MB")
    assert (sharded / "model.safetensors.index.json").is_file() and len(list(sharded.glob("*.safetensors"))) >= 2
    convert(sharded, tmp_path / "sharded.gguf")
    convert(tiny_qwen3_dir, tmp_path / "single.gguf")
    a, b = _tensors(tmp_path / "sharded.gguf"), _tensors(tmp_path / "single.gguf")
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("outtype", "tolerance"), [("f32", 1e-3), ("bf16", 0.03)])
def test_outtypes_match_the_hf_model(tiny_qwen3_dir, tmp_path, outtype, tolerance):
    out = tmp_path / f"m-{outtype}.gguf"
    convert(tiny_qwen3_dir, out, outtype=outtype)
    types = {t.tensor_type.name for t in gguf.GGUFReader(out).tensors if len(t.shape) > 1}
    assert types == {outtype.upper()}
    check = _logits_parity(out, tiny_qwen3_dir, tolerance)
    assert check.passed, check.details


def test_qwen2_with_attention_biases(tiny_qwen3_dir, tmp_path):
    """Qwen2ForCausalLM (q/k/v biases, no q/k norms), with the real Qwen vocabulary."""
    base = tmp_path / "qwen2"
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=151936, hidden_size=256, intermediate_size=768, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=False,
    )
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0, 0.5)  # non-zero, so a dropped or unpermuted bias would show
    model.save_pretrained(base)
    for f in tiny_qwen3_dir.iterdir():
        if f.name.startswith(("tokenizer", "chat_template", "special_tokens")):
            shutil.copy(f, base / f.name)
    out = tmp_path / "qwen2.gguf"
    convert(base, out)
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.architecture"].contents() == "qwen2"
    names = {t.name for t in reader.tensors}
    assert {"blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.0.attn_v.bias", "output.weight"} <= names
    check = _logits_parity(out, base, 0.01)
    assert check.passed, check.details
    assert json.loads((base / "config.json").read_text())["architectures"] == ["Qwen2ForCausalLM"]
