"""Opening a GGUF with llama.cpp: its log is captured, and a failed load names the file and the reason."""

from __future__ import annotations

import pytest

from ecmiip.core.errors import InputError
from ecmiip.core.llama import load_failure, open_llama


def test_a_file_llama_cpp_cannot_load_is_named_with_the_reason(tmp_path, capfd):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(InputError, match=r"bad\.gguf: llama\.cpp cannot load it \(.*invalid magic"):
        open_llama(bad)
    assert "invalid magic" not in capfd.readouterr().err  # the log was captured, not printed


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="model not found: .*none.gguf"):
        open_llama(tmp_path / "none.gguf")


def test_load_failure_skips_the_generic_trailers():
    log = ["llama_model_load: error loading model: tensor 'x' data is not within the file bounds",
           "llama_model_load_from_file_impl: failed to load model"]
    assert load_failure(log) == log[0] and load_failure([]) == ""

