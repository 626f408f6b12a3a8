"""Opening a GGUF with llama.cpp (llama-cpp-python), with llama.cpp's log captured.

llama.cpp prints its log to stderr, and reports why a load or a quantization failed only there
(the Python exception says "failed to load model"). So every call into it that may log runs inside
``captured_llama_log``, and a failed load is one ``InputError`` naming the file and the log's reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ecmiip.core.errors import InputError


@contextlib.contextmanager
def captured_llama_log(on_line: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Collect llama.cpp log lines (and hand each to ``on_line``) instead of printing them."""
    import llama_cpp
    from llama_cpp import _logger

    lines: list[str] = []
    partial: list[str] = []

    @llama_cpp.llama_log_callback
    def collect(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        partial.append(text.decode("utf-8", errors="replace"))
        if partial[-1].endswith("\n"):
            line = "".join(partial).rstrip("\n")
            partial.clear()
            lines.append(line)
            if on_line is not None:
                on_line(line)

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        if partial:
            lines.append("".join(partial))


def load_failure(log: list[str]) -> str:
    """The informative line of llama.cpp's log, skipping the generic "failed to load model" trailers."""
    for line in reversed(log):
        text = line.strip()
        if text and "failed to load model" not in text:
            return text
    return log[-1].strip() if log else ""


@contextlib.contextmanager
def _without_repacking() -> Iterator[None]:
    """Load with llama.cpp's CPU repack buffers off.

    Repacking copies every K-quant tensor into anonymous memory beside the mapped file (1.8 GiB more
    for a 4 B Q4_K_M); it speeds up long generations, not a short check. llama-cpp-python has no
    parameter for ``use_extra_bufts``, so the default parameters it starts from are adjusted.
    """
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def params():
        p = original()
        p.use_extra_bufts = False
        return p

    lib.llama_model_default_params = params
    try:
        yield
    finally:
        lib.llama_model_default_params = original


#: ``ECMIIP_LLAMA_AMX=1`` lets llama.cpp use its AMX kernels where the build has them (see ``amx_kernels_off``).
AMX_ENV = "ECMIIP_LLAMA_AMX"


@functools.cache
def system_info() -> str:
    """llama.cpp's own line on its build: ``CUDA : ARCHS = 890 | … | CPU : SSE3 = 1 | AVX2 = 1 | …``."""
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def build_has_amx() -> bool:
    """Whether this llama.cpp was compiled with AMX kernels (a ``-march=native`` build on a Sapphire Rapids or
    newer Xeon): its system info says ``AMX_INT8 = 1``."""
    return "AMX_INT8 = 1" in system_info()


def amx_kernels_off() -> bool:
    """ggml's AMX matrix kernel crashes the process on some machines whose CPU reports AMX (llama.cpp issue
    20824, open): on this project's Xeon VMs a ``-march=native`` llama-cpp-python died in
    ``ggml_backend_amx_mul_mat`` at the first token of every Q4_1 and Q4_K_M model, and Ollama's AMX library
    with SIGILL. AMX is one of llama.cpp's extra buffer types, so where the build has it models load with
    those off (CPU repacking, a speed-up, goes with them) unless the user sets ``ECMIIP_LLAMA_AMX=1``.
    """
    return build_has_amx() and os.environ.get(AMX_ENV) != "1"


#: The context of a GGUF opened for a check (vocabulary, a few hundred tokens of logits); a chat passes
#: its own, by default ``ecmiip.core.prompts.DEFAULT_NUM_CTX``.
CHECK_NUM_CTX = 512


def open_llama(
    path: str | Path,
    *,
    n_ctx: int = CHECK_NUM_CTX,
    n_gpu_layers: int = 0,
    vocab_only: bool = False,
    repack: bool = True,
    **kwargs: Any,
) -> Any:
    """A ``llama_cpp.Llama`` of the GGUF at ``path``, loaded without printing llama.cpp's log.

    ``n_gpu_layers`` is ignored (0) where llama.cpp was built without GPU offload; ``repack=False``
    skips the CPU repack buffers (see ``_without_repacking``), as does a build with AMX kernels (see
    ``amx_kernels_off``); other keyword arguments go to ``Llama``.
    A file llama.cpp cannot load is an ``InputError`` naming it and the reason from llama.cpp's log.
    """
    import llama_cpp
    from llama_cpp import Llama

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model not found: {path}")
    if not llama_cpp.llama_supports_gpu_offload():
        n_gpu_layers = 0
    repack = repack and not amx_kernels_off()
    with captured_llama_log() as log, contextlib.nullcontext() if repack else _without_repacking():
        try:
            return Llama(
                str(path), n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, vocab_only=vocab_only, verbose=False, **kwargs
            )
        except (ValueError, RuntimeError) as e:  # llama.cpp says only "failed to load"; its log says why
            raise InputError(f"{path}: llama.cpp cannot load it ({load_failure(log) or e})") from e


def close_llama(llm: Any) -> None:
    """Free a ``Llama`` without printing llama.cpp's log."""
    with captured_llama_log():
        llm.close()


@contextlib.contextmanager
def loaded_llama(path: str | Path, **kwargs: Any) -> Iterator[Any]:
    """``open_llama(path, **kwargs)`` for the duration of a ``with`` block, then closed."""
    llm = open_llama(path, **kwargs)
    try:
        yield llm
    finally:
        close_llama(llm)
