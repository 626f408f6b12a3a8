"""What the engine tests share: sample conversations, greedy sampling, the streamed text of a turn, and
a module fixture's way of opening a backend and closing it after the module."""

from __future__ import annotations

from collections.abc import Iterator

from ecmiip.chat.backends import Backend, Delta

GREEDY = {"temperature": 0.0}
FRANCE = [{"role": "user", "content": "What is the capital of France? Answer in English."}]
CHINESE = [{"role": "user", "content": "请介绍一下《中华人民共和国专利法》第十一条的内容。"}]


def streamed_text(deltas: list[Delta], kind: str = "content") -> str:
    """The text of one kind (``content`` or ``thinking``) of a streamed turn."""
    return "".join(d.text for d in deltas if d.kind == kind)


def opened(backend: Backend) -> Iterator[Backend]:
    """``yield from opened(...)`` in a fixture: the backend for the tests, closed after them."""
    try:
        yield backend
    finally:
        backend.close()
