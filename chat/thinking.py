"""Split a streamed answer into its ``<think>`` block and the answer proper.

Thinking models (Qwen3) open their answer with ``<think>…</think>``; the client shows that part apart
(dimmed, foldable) and keeps it out of the history. Streams arrive in arbitrary chunks, so a tag can be
cut anywhere: the splitter holds back only text that could still become a tag, never more, so the
answer keeps streaming smoothly.
"""

from __future__ import annotations

from typing import Literal

from ecmiip.core.thinking import CLOSE_TAG, OPEN_TAG

Kind = Literal["thinking", "content"]
Piece = tuple[Kind, str]

_START, _THINKING, _AFTER_THINK, _CONTENT = range(4)


def _partial_tag_len(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a proper beginning of ``tag``."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class ThinkSplitter:
    """Incremental parser: ``feed`` chunks, then ``flush``; both return ``(kind, text)`` pieces.

    A think block counts only at the very start of the answer (after optional whitespace): a model
    quoting ``<think>`` later in its answer is content. Newlines right inside the block's edges and
    right after ``</think>`` are dropped, so an empty block (``<think>\\n\\n</think>\\n\\n``) yields
    nothing. ``in_thinking=True`` is for templates whose generation prompt already opens the block.
    """

    def __init__(self, *, in_thinking: bool = False) -> None:
        self._state = _THINKING if in_thinking else _START
        self._buf = ""
        self._thinking_started = False  # leading newlines of the block are dropped until then

    def feed(self, chunk: str) -> list[Piece]:
        """Pieces that are certain after ``chunk``; text that may still be a tag is held back."""
        out: list[Piece] = []
        self._buf += chunk
        while self._buf:
            if not self._step(out):
                break
        return _merge(out)

    def flush(self) -> list[Piece]:
        """The held-back rest, at the end of the stream (an unclosed block stays thinking)."""
        out: list[Piece] = []
        rest, self._buf = self._buf, ""
        if self._state == _THINKING:
            self._emit_thinking(out, rest.rstrip("\n"))
        elif self._state in (_START, _AFTER_THINK):
            self._emit(out, "content", rest.lstrip("\n") if rest.strip() else "")
        else:
            self._emit(out, "content", rest)
        return _merge(out)

    # -- states ------------------------------------------------------------------------------------

    def _step(self, out: list[Piece]) -> bool:
        """Consume what the current state can decide on; False when it must wait for more text."""
        buf = self._buf
        if self._state == _START:
            head = buf.lstrip()
            if not head or (len(head) < len(OPEN_TAG) and OPEN_TAG.startswith(head)):
                return False
            if head.startswith(OPEN_TAG):
                self._state, self._buf = _THINKING, head[len(OPEN_TAG) :]
            else:
                self._state, self._buf = _CONTENT, buf.lstrip("\n")
            return True
        if self._state == _THINKING:
            end = buf.find(CLOSE_TAG)
            if end >= 0:
                self._emit_thinking(out, buf[:end].rstrip("\n"))
                self._state, self._buf = _AFTER_THINK, buf[end + len(CLOSE_TAG) :]
                return True
            keep = _partial_tag_len(buf, CLOSE_TAG)
            ready = buf[: len(buf) - keep]
            text = ready.rstrip("\n")  # newlines just before </think> are dropped: hold them
            self._emit_thinking(out, text)
            self._buf = buf[len(text) :]
            return False
        if self._state == _AFTER_THINK:
            rest = buf.lstrip("\n")
            if not rest:
                self._buf = ""
                return False
            self._state, self._buf = _CONTENT, rest
            return True
        self._emit(out, "content", buf)
        self._buf = ""
        return False

    def _emit_thinking(self, out: list[Piece], text: str) -> None:
        if not self._thinking_started:
            text = text.lstrip("\n")
            self._thinking_started = bool(text)
        self._emit(out, "thinking", text)

    @staticmethod
    def _emit(out: list[Piece], kind: Kind, text: str) -> None:
        if text:
            out.append((kind, text))


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Join neighbouring pieces of one kind, so callers see one piece per kind and feed."""
    merged: list[Piece] = []
    for kind, text in pieces:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def split_all(text: str, *, in_thinking: bool = False) -> tuple[str, str]:
    """``(thinking, content)`` of a whole answer: what a stream of it adds up to."""
    splitter = ThinkSplitter(in_thinking=in_thinking)
    parts: dict[str, list[str]] = {"thinking": [], "content": []}
    for kind, piece in [*splitter.feed(text), *splitter.flush()]:
        parts[kind].append(piece)
    return "".join(parts["thinking"]), "".join(parts["content"])
