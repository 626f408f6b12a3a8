"""Quantization with llama.cpp's own quantizer (``llama_model_quantize``), never a home-made one."""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from pathlib import Path

import llama_cpp

from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.outputs import atomic_path
from ecmiip.quantize.llama_log import captured_llama_log

QUANT_TYPES: dict[str, int] = {
    "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q5_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
    "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
}
# Bits per weight of each type's bulk tensors, for the free-disk estimate (llama.cpp's figures, rounded up).
BITS_PER_WEIGHT = {"Q4_K_M": 5.0, "Q5_K_M": 5.8, "Q6_K": 6.6, "Q8_0": 8.5}

# llama.cpp quantizes each tensor in slabs of rows whose buffers stay below this size (its default,
# 8 GiB, turns a whole embedding matrix into float32 at once: twice its F16 size in RAM).
MAX_BUF_BYTES = 64 * 2**20

_TENSOR_LINE = re.compile(r"\[\s*(\d+)/\s*(\d+)\]")


def parse_quant_types(names: list[str]) -> list[str]:
    upper = [n.upper() for n in names]
    unknown = [n for n in upper if n not in QUANT_TYPES]
    if unknown:
        raise InputError(f"unknown quantization type {', '.join(unknown)}; choose from {', '.join(QUANT_TYPES)}")
    return list(dict.fromkeys(upper))


def quantize(
    src: Path,
    dst: Path,
    qtype: str,
    *,
    nthread: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Quantize ``src`` (F32/F16/BF16 GGUF) to ``dst``; llama.cpp's log explains any failure."""
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[qtype]
    params.nthread = nthread
    params.max_buf_size = MAX_BUF_BYTES

    def progress(line: str) -> None:
        m = _TENSOR_LINE.search(line)
        if m and on_progress is not None:
            on_progress(int(m.group(1)), int(m.group(2)))

    with atomic_path(dst) as tmp, captured_llama_log(progress) as log:
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0 or not tmp.is_file():
            tail = "\n".join(line for line in log[-8:] if line.strip())
            raise EcmiipError(f"llama.cpp could not quantize {src} to {qtype} (code {rc}):\n{tail}")
