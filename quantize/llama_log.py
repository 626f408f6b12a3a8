"""Capture llama.cpp's log: its quantizer and loader report errors only there."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Iterator

import llama_cpp
from llama_cpp import _logger


@contextlib.contextmanager
def captured_llama_log(on_line: Callable[[str], None] | None = None) -> Iterator[list[str]]:
    """Collect llama.cpp log lines (and hand each to ``on_line``) instead of printing them."""
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
