"""llama.cpp's own quantizer, driven through llama-cpp-python."""

from __future__ import annotations

from collections import Counter

import gguf
import numpy as np
import pytest

from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.quantize import quantize as q
from ecmiip.quantize.convert import convert


@pytest.fixture(scope="module")
def f16_gguf(tiny_qwen3_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("f16") / "m-F16.gguf"
    convert(tiny_qwen3_dir, path)
    return path


def test_bounded_buffers_give_the_same_file_as_llama_cpp_defaults(f16_gguf, tmp_path, monkeypatch):
    """Slab-wise quantization (64 MiB buffers) writes exactly what one whole-tensor pass writes."""
    q.quantize(f16_gguf, tmp_path / "slabs.gguf", "Q4_K_M")
    monkeypatch.setattr(q, "MAX_BUF_BYTES", 0)  # 0 = llama.cpp's default (8 GiB)
    q.quantize(f16_gguf, tmp_path / "whole.gguf", "Q4_K_M")
    assert (tmp_path / "slabs.gguf").read_bytes() == (tmp_path / "whole.gguf").read_bytes()


@pytest.mark.parametrize(("qtype", "expected"), [("Q5_K_M", {"Q5_K", "Q6_K"}), ("Q6_K", {"Q6_K"}), ("Q8_0", {"Q8_0"})])
def test_quant_types(f16_gguf, tmp_path, qtype, expected):
    seen = []
    q.quantize(f16_gguf, tmp_path / f"{qtype}.gguf", qtype, on_progress=lambda i, n: seen.append((i, n)))
    types = Counter(t.tensor_type.name for t in gguf.GGUFReader(tmp_path / f"{qtype}.gguf").tensors if len(t.shape) > 1)
    assert set(types) <= expected and set(types) & expected, types
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached the last tensor


def test_failure_reports_llama_cpp_log(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF not really")
    with pytest.raises(EcmiipError) as e:
        q.quantize(bad, tmp_path / "out.gguf", "Q4_K_M")
    assert "bad.gguf" in str(e.value) and "Q4_K_M" in str(e.value)
    assert not (tmp_path / "out.gguf").exists() and not list(tmp_path.glob(".*partial"))


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(InputError, match="Q4_K_M, Q5_K_M, Q6_K, Q8_0"):
        q.parse_quant_types(["q4_k_m", "IQ1_S"])
    assert q.parse_quant_types(["q4_k_m", "Q8_0", "Q4_K_M"]) == ["Q4_K_M", "Q8_0"]


def test_an_importance_matrix_reaches_the_child_unchanged(f16_gguf, tmp_path):
    """The child reads the matrix from a scratch .npz: its file is the one quantized here with the same matrix,
    byte for byte, and not the one quantized without it. Types beyond the export's four work the same way."""
    from ecmiip.quantize.imatrix import collect_imatrix

    rng = np.random.default_rng(0)
    imatrix = collect_imatrix(f16_gguf, [rng.integers(100, 20000, 64).tolist()])
    q.quantize(f16_gguf, tmp_path / "child.gguf", "IQ4_XS", imatrix=imatrix)
    q.quantize_in_process(f16_gguf, tmp_path / "here.gguf", "IQ4_XS", imatrix=imatrix)
    q.quantize(f16_gguf, tmp_path / "plain.gguf", "IQ4_XS")
    child = (tmp_path / "child.gguf").read_bytes()
    assert child == (tmp_path / "here.gguf").read_bytes()
    assert child != (tmp_path / "plain.gguf").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child.gguf", "here.gguf", "plain.gguf"]


def test_a_type_llama_cpp_does_not_have_is_refused(f16_gguf, tmp_path):
    with pytest.raises(InputError, match="llama.cpp has no quantization type Q9_K"):
        q.quantize(f16_gguf, tmp_path / "x.gguf", "Q9_K")
    assert not list(tmp_path.iterdir())
