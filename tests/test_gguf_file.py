"""GGUF tensors read by rows, copies with changes, depth slices, and the storage type read from the file."""

from __future__ import annotations

import numpy as np
import pytest

from ecmiip.cli import main
from ecmiip.quantize.convert import convert
from ecmiip.quantize.gguf_file import GGUFFile, _bf16_to_f32, _f32_to_bf16, copy_gguf
from ecmiip.quantize.verification import RowsOnDisk, storage_type, write_slice


def _export(base, tmp_path, outtype="f16"):
    out = tmp_path / f"m-{outtype.upper()}.gguf"
    convert(base, out, outtype=outtype)
    return out


def test_an_unchanged_copy_is_byte_identical(tiny_qwen3_dir, tmp_path):
    src = _export(tiny_qwen3_dir, tmp_path)
    copy = copy_gguf(GGUFFile(src), tmp_path / "copy.gguf")
    assert copy.read_bytes() == src.read_bytes()


def test_rows_are_read_by_position_and_decoded(tiny_qwen3_dir, tmp_path):
    import gguf

    src = _export(tiny_qwen3_dir, tmp_path)
    file = GGUFFile(src)
    whole = next(t for t in gguf.GGUFReader(src).tensors if len(t.shape) > 1 and t.tensor_type.name == "F16")
    name = whole.name
    rows = file.rows(name, 3, 7)
    expected = np.asarray(whole.data).reshape(file.tensors[name].shape)[3:7].astype(np.float32)
    assert np.array_equal(rows, expected)


def test_bf16_round_trip_rounds_to_nearest_even():
    values = np.array([1.0, 1.00390625, 1.01171875, -3.5, 65504.0, 1e-30], dtype=np.float32)
    back = _bf16_to_f32(_f32_to_bf16(values))
    import torch

    assert np.array_equal(back, torch.from_numpy(values).to(torch.bfloat16).float().numpy())


def test_a_depth_slice_keeps_and_renumbers_layers(tmp_path):
    from tests.models import cached_model

    base = cached_model("tiny-qwen3", num_hidden_layers=5)
    src = GGUFFile(_export(base, tmp_path))
    sliced = GGUFFile(write_slice(src, (0, 1, 4), tmp_path / "slice.gguf"))
    assert sliced.get("qwen3.block_count") == 3
    assert {n.split(".")[1] for n in sliced.tensors if n.startswith("blk.")} == {"0", "1", "2"}
    assert sliced.raw("blk.2.attn_q.weight") == src.raw("blk.4.attn_q.weight")
    assert sliced.raw("token_embd.weight") == src.raw("token_embd.weight")


@pytest.mark.parametrize("outtype", ["f32", "f16", "bf16"])
def test_storage_type_comes_from_the_file(tiny_qwen3_dir, tmp_path, outtype):
    path = _export(tiny_qwen3_dir, tmp_path, outtype)
    renamed = path.rename(tmp_path / "ec-miip-F16.gguf")  # the name says F16; the file decides
    assert storage_type(GGUFFile(renamed)) == outtype


def test_rows_on_disk_read_back_exactly(tmp_path):
    a = np.random.default_rng(0).normal(size=(50, 7)).astype(np.float32)
    rows = RowsOnDisk(a, tmp_path / "a.f32")
    assert rows.shape == (50, 7)
    assert np.array_equal(rows[10:20], a[10:20]) and np.array_equal(rows[45:60], a[45:])


def test_verify_refuses_a_quant_as_the_reference(tiny_qwen3_gguf, tiny_qwen3_dir, capsys):
    assert main(["verify", str(tiny_qwen3_gguf), "--hf", str(tiny_qwen3_dir)]) == 1
    err = capsys.readouterr().err
    assert "Q4_K" in err and "--quant" in err and "Traceback" not in err
