"""``ecmiip export --adapter-gguf``: the adapter as llama.cpp's LoRA GGUF, loaded by llama.cpp on the base GGUF
and compared with the merged F16; a wrong base refused in Python before llama.cpp sees it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from ecmiip.cli import main
from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.core.hf_models import load_tokenizer
from ecmiip.quantize import verify
from ecmiip.quantize.adapter import LoraAdapter
from ecmiip.quantize.adapter_gguf import AdapterGGUF
from ecmiip.quantize.adapter_gguf_verify import (
    FLOOR,
    adapter_logits,
    check_adapter_gguf,
    check_fits,
    verify_adapter_export,
)
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.convert import convert
from ecmiip.quantize.export import ADAPTER_MODELFILE_NOTE, ExportOptions, export
from ecmiip.quantize.gguf_file import GGUFFile, copy_gguf
from tests.models import make_lora_adapter

LORA = "ec-miip-LoRA-F16.gguf"


def _field(reader: gguf.GGUFReader, key: str):
    return reader.fields[key].contents()


def _prompts(base: Path) -> list[list[int]]:
    tokenizer = load_tokenizer(base, local_files_only=True)
    return [tokenizer(p, add_special_tokens=True)["input_ids"] for p in verify.LOGIT_PROMPTS]


@pytest.fixture(scope="module")
def qwen3_export(tiny_qwen3_dir, tmp_path_factory) -> Path:
    """rsLoRA (its √r folded into the file's alpha), B random so the delta is large; the full CLI export."""
    root = tmp_path_factory.mktemp("qwen3-lora")
    adapter = make_lora_adapter(tiny_qwen3_dir, root / "adapter", steps=1, init_lora_weights=False, use_rslora=True)
    assert main(["export", str(tiny_qwen3_dir), "--adapter", str(adapter), "--out", str(root / "dist"), "--adapter-gguf"]) == 0
    return root / "dist"


@pytest.fixture(scope="module")
def smollm2_export(smollm2_dir, tmp_path_factory) -> Path:
    """Llama architecture: q/k rows permuted for llama.cpp's RoPE, so lora_b's rows are too. No quant, no checks."""
    root = tmp_path_factory.mktemp("smollm2-lora")
    adapter = make_lora_adapter(smollm2_dir, root / "adapter", steps=1, init_lora_weights=False)
    export(ExportOptions(base=smollm2_dir, out=root / "dist", adapter=adapter, quants=[], verify=False, adapter_gguf=True))
    return root / "dist"


def test_tiny_qwen3_export_writes_and_verifies_the_adapter(qwen3_export, tiny_qwen3_dir):
    report = json.loads((qwen3_export / "export-report.json").read_text(encoding="utf-8"))
    assert report["passed"]
    assert report["files"]["lora_gguf"]["path"] == str(qwen3_export / LORA)
    assert report["notes"] == [ADAPTER_MODELFILE_NOTE] and "ADAPTER" not in (qwen3_export / "Modelfile").read_text()
    check = next(c for c in report["checks"] if c["name"] == "adapter GGUF parity")
    assert check["passed"], check
    assert check["details"]["worst_ratio"] <= check["details"]["tolerance"] == FLOOR  # measured ≈ 0.007–0.011
    assert all(p["top1_agreement"] >= 0.9 for p in check["details"]["prompts"])
    assert not list(qwen3_export.glob(".ecmiip-adapter-*"))  # the scratch base GGUF is gone

    reader = gguf.GGUFReader(qwen3_export / LORA)
    assert _field(reader, "general.type") == "adapter" and _field(reader, "adapter.type") == "lora"
    assert _field(reader, "general.architecture") == "qwen3"
    assert _field(reader, "adapter.lora.alpha") == pytest.approx(16 * math.sqrt(8), rel=1e-6)  # rsLoRA folded in
    shapes = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}  # numpy order
    assert shapes["blk.0.attn_q.weight.lora_a"] == (8, 256)  # [r, in]
    assert shapes["blk.0.attn_k.weight.lora_b"] == (128, 8)  # [out, r]
    assert shapes["blk.1.ffn_down.weight.lora_a"][0] == 8
    assert len(shapes) == 2 * 7 * 2 and all(t.tensor_type == gguf.GGMLQuantizationType.F16 for t in reader.tensors)
    merged = GGUFFile(qwen3_export / "ec-miip-F16.gguf")
    assert {n.removesuffix(".lora_a").removesuffix(".lora_b") for n in shapes} <= set(merged.tensors)
    assert (qwen3_export / LORA).stat().st_size < (qwen3_export / "ec-miip-F16.gguf").stat().st_size / 100


def test_smollm2_adapter_matches_the_merged_f16(smollm2_export, smollm2_dir):
    tokenizer = load_tokenizer(smollm2_dir, local_files_only=True)
    check = verify_adapter_export(smollm2_export / LORA, smollm2_dir, smollm2_export / "ec-miip-F16.gguf", tokenizer,
                                  outtype="f16", twin_ratio=None)
    assert check.passed, check.summary
    assert check.details["worst_ratio"] <= FLOOR  # measured ≈ 0.015 × logit std (|Δ| ≈ 0.09 on logits of std 4–6)
    assert min(p["top1_agreement"] for p in check.details["prompts"]) >= 0.9
    reader = gguf.GGUFReader(smollm2_export / LORA)
    assert _field(reader, "general.architecture") == "llama" and _field(reader, "adapter.lora.alpha") == 16.0


def test_a_file_above_the_whole_run_size_is_checked_on_a_depth_slice(smollm2_export, smollm2_dir):
    """As the logits check: above the size limit base, adapter and merged file are cut to layers 0, 1 and the
    last (SmolLM2: 30 layers), and the slice still tells a right adapter from a wrong scale."""
    tokenizer = load_tokenizer(smollm2_dir, local_files_only=True)
    merged = smollm2_export / "ec-miip-F16.gguf"
    check = verify_adapter_export(smollm2_export / LORA, smollm2_dir, merged, tokenizer, outtype="f16",
                                  twin_ratio=None, full_run_max_bytes=0)
    assert check.passed, check.summary
    assert check.details["layers"] == [0, 1, 29] and check.summary.endswith("depth slice of layers 0, 1, 29")
    assert min(p["top1_agreement"] for p in check.details["prompts"]) >= 0.9
    assert not list(smollm2_export.glob(".ecmiip-adapter-*"))  # the scratch base and slices are gone

    wrong_dir = smollm2_export.parent / "wrong-scale"
    wrong_dir.mkdir(exist_ok=True)
    wrong = copy_gguf(GGUFFile(smollm2_export / LORA), wrong_dir / LORA, metadata={"adapter.lora.alpha": 64.0})
    failed = verify_adapter_export(wrong, smollm2_dir, merged, tokenizer, outtype="f16", twin_ratio=None,
                                   full_run_max_bytes=0)
    assert not failed.passed and failed.details["worst_ratio"] > 2 * FLOOR, failed.summary


def test_wrong_scale_fails_the_gate(qwen3_export, tiny_qwen3_dir, tmp_path):
    """The gate is not vacuous: the same file with peft's plain alpha (rsLoRA's √r not folded in) fails it."""
    base = tmp_path / "base.gguf"
    convert(tiny_qwen3_dir, base)
    wrong = copy_gguf(GGUFFile(qwen3_export / LORA), tmp_path / "wrong.gguf", metadata={"adapter.lora.alpha": 16.0})
    prompts = _prompts(tiny_qwen3_dir)
    merged = verify.llama_logits(qwen3_export / "ec-miip-F16.gguf", prompts)
    right = verify.check_logits(list(verify.LOGIT_PROMPTS), merged, adapter_logits(base, qwen3_export / LORA, prompts),
                                tolerance=FLOOR)
    wrong_check = verify.check_logits(list(verify.LOGIT_PROMPTS), merged, adapter_logits(base, wrong, prompts),
                                      tolerance=FLOOR)
    assert right.passed, right.summary
    assert not wrong_check.passed and wrong_check.details["worst_ratio"] > 10 * FLOOR, wrong_check.summary


def test_another_models_gguf_is_refused_before_llama_cpp(smollm2_export, qwen3_export):
    lora, qwen3_gguf = smollm2_export / LORA, qwen3_export / "ec-miip-F16.gguf"
    with pytest.raises(InputError, match=r"adapter is for a llama model, .*ec-miip-F16.gguf is qwen3; give the base GGUF"):
        check_fits(lora, qwen3_gguf)
    with pytest.raises(InputError, match="adapter is for a llama model"):
        adapter_logits(qwen3_gguf, lora, [[1, 2, 3]])  # refused before llama.cpp loads anything
    with pytest.raises(InputError, match="not a LoRA adapter GGUF"):
        check_fits(smollm2_export / "ec-miip-F16.gguf", qwen3_gguf)


def _handmade_lora(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    writer = gguf.GGUFWriter(path, "qwen3")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 16.0)
    for name, value in tensors.items():
        writer.add_tensor(name, value.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"blk.0.attn_q.weight.lora_a": np.zeros((8, 100)), "blk.0.attn_q.weight.lora_b": np.zeros((256, 8))},
         r"blk.0.attn_q.weight is \[256, 256\] .* lora_a \[8, 100\] and lora_b \[256, 8\] do not fit"),
        ({"blk.9.attn_q.weight.lora_a": np.zeros((8, 256)), "blk.9.attn_q.weight.lora_b": np.zeros((256, 8))},
         "adapts blk.9.attn_q.weight, which .* does not have"),
        ({"blk.0.attn_q.weight.lora_a": np.zeros((8, 256))}, "has only one of lora_a and lora_b"),
        # Tied embeddings: llama.cpp's output layer is the embedding tensor and would get the pair too (it aborts).
        ({"token_embd.weight.lora_a": np.zeros((151936, 4)), "token_embd.weight.lora_b": np.zeros((256, 4))},
         "ties its output layer"),
    ],
    ids=["shape", "missing-tensor", "half-pair", "tied-embedding"],
)
def test_same_architecture_misfits_are_refused(qwen3_export, tmp_path, tensors, message):
    lora = _handmade_lora(tmp_path / "lora.gguf", tensors)
    with pytest.raises(InputError, match=message):
        adapter_logits(qwen3_export / "ec-miip-F16.gguf", lora, [[1, 2, 3]])


def test_alpha_and_rank_patterns_fold_into_b(tiny_qwen3_dir, tmp_path):
    """Per-module scales llama.cpp's one alpha cannot give are folded into those modules' B."""
    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, use_rslora=True, rank_pattern={"v_proj": 4}, alpha_pattern={"o_proj": 32},
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_qwen3_dir, dtype=torch.float32), config)
    model.save_pretrained(tmp_path / "adapter")
    ckpt = Checkpoint(tiny_qwen3_dir)
    adapter = LoraAdapter.load(tmp_path / "adapter")
    lora = AdapterGGUF(adapter, ckpt)
    assert lora.alpha == pytest.approx(16 * math.sqrt(8)) and lora.rescaled == 2 * 2  # v_proj and o_proj, 2 layers
    lora.write(tmp_path / "lora.gguf")
    convert(tiny_qwen3_dir, tmp_path / "merged.gguf", adapter=adapter, ckpt=ckpt)
    convert(tiny_qwen3_dir, tmp_path / "base.gguf")
    check = check_adapter_gguf(tmp_path / "lora.gguf", tmp_path / "base.gguf", tmp_path / "merged.gguf",
                               _prompts(tiny_qwen3_dir), tolerance=FLOOR)
    assert check.passed, check.summary


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_modules": ["q_proj"], "modules_to_save": ["lm_head"]}, "replaces whole tensors"),
        ({"target_modules": ["embed_tokens", "q_proj"]}, "token embedding of a model with tied embeddings"),
        ({"target_modules": ["lm_head", "q_proj"]}, "lm_head of a model with tied embeddings"),
    ],
    ids=["modules_to_save", "tied-embedding", "tied-head"],
)
def test_adapters_llama_cpp_cannot_apply_are_refused_before_writing(tiny_qwen3_dir, tmp_path, kwargs, message):
    adapter = make_lora_adapter(tiny_qwen3_dir, tmp_path / "adapter", steps=1, **kwargs)
    with pytest.raises(UnsupportedError, match=message):
        export(ExportOptions(base=tiny_qwen3_dir, out=tmp_path / "out", adapter=adapter, quants=[], verify=False,
                             adapter_gguf=True))
    assert not (tmp_path / "out").exists()


def test_adapter_gguf_needs_an_adapter(tiny_qwen3_dir, tmp_path, capsys):
    assert main(["export", str(tiny_qwen3_dir), "--out", str(tmp_path / "out"), "--adapter-gguf"]) != 0
    assert "--adapter-gguf writes the adapter as a LoRA GGUF; give the adapter with --adapter" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
