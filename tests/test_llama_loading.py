"""Opening a GGUF with llama.cpp: its log is captured, and a failed load names the file and the reason."""

from __future__ import annotations

import re

import pytest

from ecmiip.core.errors import InputError
from ecmiip.core.llama import captured_llama_log, load_failure, open_llama


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



def _load_log(monkeypatch, path) -> list[str]:
    """llama.cpp's log of one ``open_llama(path)``, as it captures it."""
    from ecmiip.core import llama

    lines: list[str] = []
    monkeypatch.setattr(llama, "captured_llama_log", lambda on_line=None: captured_llama_log(lines.append))
    llama.close_llama(llama.open_llama(path))
    return lines


def test_a_build_with_amx_kernels_loads_without_extra_buffer_types(smollm2_gguf, monkeypatch):
    """ggml's AMX kernel can crash (llama.cpp issue 20824): where the build has it, models load without
    llama.cpp's extra buffer types (AMX among them), unless ECMIIP_LLAMA_AMX=1. Seen in the log: no Q4_K
    tensor goes to a repacked (CPU_REPACK) or AMX buffer."""
    from ecmiip.core import llama

    monkeypatch.delenv(llama.AMX_ENV, raising=False)
    monkeypatch.setattr(llama, "build_has_amx", lambda: False)
    assert _extra_buffers(_load_log(monkeypatch, smollm2_gguf))
    monkeypatch.setattr(llama, "build_has_amx", lambda: True)
    assert llama.amx_kernels_off()
    assert not _extra_buffers(_load_log(monkeypatch, smollm2_gguf))
    monkeypatch.setenv(llama.AMX_ENV, "1")
    assert not llama.amx_kernels_off()
    assert _extra_buffers(_load_log(monkeypatch, smollm2_gguf))


def _extra_buffers(log: list[str]) -> list[str]:
    """llama.cpp's lines for weights in an extra buffer type: repacked for this CPU, or AMX's (a native build)."""
    return [line for line in log if re.search(r"\b(CPU_REPACK|AMX) model buffer size", line)]


def test_build_has_amx_reads_the_builds_system_info():
    import llama_cpp

    from ecmiip.core.llama import build_has_amx, system_info

    assert system_info() == llama_cpp.llama_print_system_info().decode().strip() and "CPU :" in system_info()
    assert build_has_amx() == ("AMX_INT8 = 1" in system_info())


def test_the_chat_says_once_that_amx_kernels_are_off(smollm2_gguf, monkeypatch):
    from ecmiip.chat.cli import build_parser, open_backend
    from ecmiip.core import llama

    said: list[str] = []
    args = build_parser().parse_args(["--model", str(smollm2_gguf), "--ctx", "512", "--gpu-layers", "0"])
    monkeypatch.delenv(llama.AMX_ENV, raising=False)
    monkeypatch.setattr(llama, "build_has_amx", lambda: True)
    open_backend(args, said.append).close()
    assert len(said) == 1 and "AMX" in said[0] and "ECMIIP_LLAMA_AMX=1" in said[0]
    monkeypatch.setattr(llama, "build_has_amx", lambda: False)
    said.clear()
    open_backend(args, said.append).close()
    assert said == []
