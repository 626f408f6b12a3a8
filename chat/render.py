"""Streaming Markdown in the terminal at a cost linear in the answer's length.

Finished blocks (text up to a blank line outside a code fence) are printed once, permanently;
only the block being written is redrawn by rich's Live display. Re-rendering the whole answer (let
alone the history) on every token would make long answers quadratic.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text


def split_finished(buffer: str) -> tuple[str, str]:
    """(finished blocks, block in progress): split at the last blank line not inside a ``` fence."""
    cut, fenced, pos = 0, False, 0
    for line in buffer.splitlines(keepends=True):
        pos += len(line)
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and line.strip() == "" and line.endswith("\n"):
            cut = pos
    return buffer[:cut], buffer[cut:]


class StreamView:
    """Shows thinking (dimmed, collapsed to one line at the end, or hidden) and the answer as it streams."""

    def __init__(self, console: Console, *, show_thinking: bool = True) -> None:
        self.console, self.show_thinking = console, show_thinking
        self.thinking, self.pending, self.answer = "", "", ""
        self.live = Live(console=console, refresh_per_second=12, transient=True, auto_refresh=True)

    def __enter__(self) -> StreamView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.pending.strip():
            self._print(self.pending)
        self.pending = ""
        self.live.update(Text(""))
        self.live.__exit__(*exc)

    def _print(self, markdown: str) -> None:
        self.console.print(Markdown(markdown))

    def _refresh(self) -> None:
        parts = []
        if self.thinking and not self.answer and self.show_thinking:
            tail = self.thinking[-600:]  # only the end of a long chain of thought stays on screen
            parts.append(Text(tail, style="dim italic"))
        elif self.thinking and not self.answer:
            parts.append(Text(f"思考中…（{len(self.thinking)} 字）", style="dim"))
        if self.pending:
            parts.append(Markdown(self.pending))
        self.live.update(Group(*parts))

    def add(self, kind: str, text: str) -> None:
        if kind == "thinking":
            self.thinking += text
        else:
            if not self.answer and self.thinking:
                self.console.print(Text(f"▸ 思考过程 {len(self.thinking)} 字（已折叠）", style="dim"))
            self.answer += text
            finished, self.pending = split_finished(self.pending + text)
            if finished:
                self._print(finished)
        self._refresh()
