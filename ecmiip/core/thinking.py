"""Qwen3's think block in a finished text: its tags, and the answer without the reasoning.

Every stage meets it — the teacher's replies (train), scored answers (bench), the chat client's
stream (``chat/thinking.py`` splits that one incrementally) — so the rule lives here once: closed
``<think>…</think>`` blocks go; a ``</think>`` still left (the prompt opened the block) keeps what
follows it; an unclosed ``<think>`` is reasoning cut off, which runs to the end.
"""

from __future__ import annotations

import re

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"
_CLOSED = re.compile(f"{OPEN_TAG}.*?{CLOSE_TAG}", re.S)


def _outside_closed(text: str) -> str:
    text = _CLOSED.sub("", text)
    return text.rsplit(CLOSE_TAG, 1)[1] if CLOSE_TAG in text else text


def strip_thinking(text: str) -> str:
    """The answer without its reasoning (see the module docstring)."""
    return _outside_closed(text).split(OPEN_TAG, 1)[0]


def cut_off_in_thinking(text: str) -> bool:
    """Whether the text ends inside a think block it opened (a reply that never reached its answer)."""
    return OPEN_TAG in _outside_closed(text)
