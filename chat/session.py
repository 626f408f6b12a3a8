"""A chat session: history within a token budget, and transcripts saved safely.

Thinking is never kept in history (Qwen3's template drops it for past turns anyway, and it would
eat the context). When the next prompt would not fit, the oldest turns go first; the system prompt
and the current question never do, and the caller is told how many turns were dropped.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.paths import user_data_dir


@dataclass
class Turn:
    question: str
    answer: str = ""
    sources: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # citations the checker could not find


@dataclass
class Session:
    system: str
    turns: list[Turn] = field(default_factory=list)
    mode: str = "rigorous"
    task: str | None = None
    think: bool | None = None

    def messages(self, question: str | None = None, context: str = "") -> list[dict]:
        """System prompt, past turns (answers only), and the new question (with retrieved context)."""
        msgs = [{"role": "system", "content": self.system}]
        for t in self.turns:
            msgs += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer}]
        if question is not None:
            msgs.append({"role": "user", "content": f"{context}\n\n{question}" if context else question})
        return msgs

    def fit(self, question: str, budget: int, count: Callable[[list[dict]], int], context: str = "") -> int:
        """Drop the oldest turns until the prompt fits ``budget`` tokens; return how many were dropped.

        Raises InputError when even the system prompt and the question alone do not fit.
        """
        alone = count(Session(self.system).messages(question, context))
        if alone > budget:  # checked first, so a refused question costs no history
            raise InputError(f"the question needs {alone} tokens with the system prompt; the context leaves {budget}")
        dropped = 0
        while count(self.messages(question, context)) > budget:
            self.turns.pop(0)
            dropped += 1
        return dropped

    def reset(self) -> None:
        self.turns.clear()


_SAFE_NAME = re.compile(r"^[\w\-. \u4e00-\u9fff]+$")


def transcripts_dir() -> Path:
    return user_data_dir() / "transcripts"


def transcript_path(name: str | None, fmt: str) -> Path:
    """Where ``/save NAME`` writes: a bare file name inside the transcripts folder, nothing else.

    A name with a directory part, ``..`` or odd characters is refused: a typo must never write
    outside the folder the user expects.
    """
    if fmt not in ("md", "json"):
        raise InputError(f"unknown transcript format {fmt!r}; use md or json")
    if name is None:
        name = time.strftime("ecmiip-%Y%m%d-%H%M%S")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or not _SAFE_NAME.match(name):
        raise InputError(f"invalid transcript name {name!r}: use a plain file name (no folders, no '..')")
    if not name.endswith(f".{fmt}"):
        name = f"{name}.{fmt}"
    return transcripts_dir() / name


def render_markdown(session: Session) -> str:
    lines = ["# ec-miip 对话记录", "", f"- 模式：{session.mode}", f"- 任务：{session.task or '通用'}", ""]
    for i, t in enumerate(session.turns, 1):
        lines += [f"## 问题 {i}", "", t.question, "", f"## 回答 {i}", "", t.answer, ""]
        if t.sources:
            lines += ["参考条文：" + "；".join(t.sources), ""]
        if t.flagged:
            lines += ["⚠ 未能在法条库中核实的引用：" + "；".join(t.flagged), ""]
    return "\n".join(lines)


def save(session: Session, path: Path, fmt: str) -> Path:
    """Write the transcript with mode 0600, atomically; never follows or replaces a symlink."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = render_markdown(session) if fmt == "md" else json.dumps(asdict(session), ensure_ascii=False, indent=2)
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        if path.is_symlink():
            raise InputError(f"{path} is a symbolic link; refusing to replace it")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load(path: Path) -> Session:
    """A session saved as JSON by ``save``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        turns = [Turn(**t) for t in data.pop("turns")]
        return Session(turns=turns, **data)
    except FileNotFoundError:
        raise InputError(f"no transcript at {path}") from None
    except (json.JSONDecodeError, TypeError, KeyError) as e:
        raise InputError(f"{path}: not a saved ec-miip session (JSON from /save json): {e}") from e
