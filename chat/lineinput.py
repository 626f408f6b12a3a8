"""The interactive prompt: a real line editor (prompt_toolkit) so that nothing the user types or pastes
is lost.

A bare ``input()`` reads through the terminal's line discipline, which keeps at most 4,095 bytes of a
line and sends a multi-line paste as several questions. prompt_toolkit reads keys itself: a bracketed
paste arrives whole as one message of any length (newlines included); ``/multi`` switches to a mode
where Enter starts a new line (Esc-Enter or Alt-Enter sends); in the normal mode Esc-Enter inserts a
newline. ↑/↓ walk the history, which is kept across sessions in the user-data folder (mode 0600);
Ctrl-R searches it; Tab completes commands, the names of the laws in the store after ``/law``, and file
paths after ``/file``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings

from ecmiip.core.paths import user_data_dir

COMMANDS = ("help", "reset", "system", "mode", "task", "think", "law", "draft", "file", "review", "compare", "export", "copy",
            "regenerate", "laws", "sessions", "resume", "rename", "delete", "save", "load", "stats", "multi")
PATH_COMMANDS = ("file",)  # whose argument is a file path: completed from the file system


def history_path() -> Path:
    return user_data_dir() / "chat-history"


def law_names() -> list[str]:
    """What ``/law`` accepts, short titles first (专利法, 商标法实施条例, 反法 …)."""
    from ecmiip.core.citations import ALIASES
    from ecmiip.core.statutes import short_title, store

    laws = store().by_law
    names = dict.fromkeys(short_title(law) for law in laws)
    names.update(dict.fromkeys(a for a, law in ALIASES.items() if law in laws))
    return list(names)


class ChatCompleter(Completer):
    """Slash commands, then each command's own words (law names, modes, tasks, templates, transcripts)."""

    def __init__(self, arguments: dict[str, Callable[[], Iterable[str]]]) -> None:
        self.arguments = arguments
        self.paths = PathCompleter(expanduser=True, file_filter=_attachable)

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        words = text[1:].split(" ")
        if len(words) >= 2 and words[0] in PATH_COMMANDS:
            yield from self.paths.get_completions(Document(words[-1], len(words[-1])), complete_event)
            return
        if len(words) == 1:
            for name in COMMANDS:
                if name.startswith(words[0]):
                    yield Completion(name, start_position=-len(words[0]))
            return
        if len(words) == 2 and words[0] in self.arguments:
            try:
                choices = list(self.arguments[words[0]]())
            except Exception:  # noqa: BLE001 — a damaged store must not break typing
                return
            for choice in choices:
                if choice.startswith(words[1]):
                    yield Completion(choice, start_position=-len(words[1]))


def _attachable(name: str) -> bool:
    """Folders (to walk into) and the files ``/file`` reads."""
    return os.path.isdir(name) or name.lower().endswith((".txt", ".md", ".docx", ".pdf"))


def _private_file(path: Path) -> Path:
    """Create the history file (and its folder) private: it holds every question asked."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


class LineReader:
    """Reads a question or a command, and the answers of a command's dialogue (``/draft``)."""

    def __init__(self, completer: Completer | None = None, history: Path | None = None,
                 persistent: bool = True) -> None:
        self.multiline = False
        store = InMemoryHistory()  # --no-history, or a read-only home: the session works without lasting history
        if persistent:
            with contextlib.suppress(OSError):
                store = FileHistory(str(_private_file(history or history_path())))
        keys = KeyBindings()

        @keys.add("escape", "enter", filter=Condition(lambda: not self.multiline))
        def _newline(event) -> None:  # Esc-Enter / Alt-Enter: a new line in the same message
            event.current_buffer.insert_text("\n")

        self.session = PromptSession(
            history=store,
            completer=completer,
            complete_while_typing=False,
            enable_history_search=False,
            key_bindings=keys,
            multiline=Condition(lambda: self.multiline),
            prompt_continuation=lambda width, line, wrap: "… ".rjust(width),
            mouse_support=False,
        )
        self.dialogue = PromptSession(history=InMemoryHistory())

    def read(self, prompt: str = "> ") -> str:
        """One message (Ctrl-C: KeyboardInterrupt, Ctrl-D on an empty line: EOFError)."""
        return self.session.prompt(prompt)

    def ask(self, prompt: str) -> str:
        """One answer to a command's question; kept out of the history."""
        return self.dialogue.prompt(prompt)
