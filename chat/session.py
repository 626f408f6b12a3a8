"""A chat session: history within a token budget, and transcripts saved safely.

Thinking is never kept in history (Qwen3's template drops it for past turns anyway, and it would
eat the context). Attached documents belong to the session, not to a turn: each question gets the
passages of them that serve it (:mod:`~ecmiip.chat.passages`), and a saved session keeps their text, so a
resumed conversation still has the contract it was about. When the next prompt would not fit, the oldest turns go first; the system prompt
and the current question never do, and the caller is told how many turns were dropped.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ecmiip.core.errors import InputError
from ecmiip.core.outputs import atomic_write
from ecmiip.core.paths import user_data_dir

if TYPE_CHECKING:
    from ecmiip.chat.documents import LoadedDocument


class ContextOverflow(InputError):
    """The system prompt and the question alone do not fit the context: refused, never cut."""

    def __init__(self, needed: int, budget: int) -> None:
        self.needed, self.budget = needed, budget
        super().__init__(f"问题连同系统提示共需 {needed} 个 token，而上下文在为回答预留空间后只余 {budget} 个："
                         "请缩短问题，或以更大的 --ctx 重新启动（问题不会被截断）")


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
    attachments: list[LoadedDocument] = field(default_factory=list)

    def attach(self, doc: LoadedDocument) -> bool:
        """Add ``doc``; a file attached again replaces its older reading (True)."""
        for i, old in enumerate(self.attachments):
            if old.path == doc.path:
                self.attachments[i] = doc
                return True
        self.attachments.append(doc)
        return False

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

        Linear in the length of the history: the whole prompt is counted once, then only the turns that
        stay, newest first (each as the difference it makes to the system prompt alone); the oldest are
        dropped at once and one more count confirms the fit.
        Raises InputError when even the system prompt and the question alone do not fit.
        """
        alone = count(Session(self.system).messages(question, context))
        if alone > budget:  # checked first, so a refused question costs no history
            raise ContextOverflow(alone, budget)
        total = count(self.messages(question, context))
        if total <= budget:
            return 0
        base, room, used, keep = count(Session(self.system).messages()), budget - alone, 0, 0
        for t in reversed(self.turns):  # newest first: only the turns that stay are counted
            used += max(1, count(Session(self.system, [t]).messages()) - base)
            if used > room:
                break
            keep += 1
        drop = len(self.turns) - keep
        del self.turns[:drop]
        while self.turns and count(self.messages(question, context)) > budget:  # a count that is not additive
            del self.turns[0]
            drop += 1
        return drop

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
        raise InputError(f"未知的保存格式 {fmt!r}；可用 md 或 json")
    if name is None:
        name = time.strftime("ecmiip-%Y%m%d-%H%M%S")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or not _SAFE_NAME.match(name):
        raise InputError(f"对话名称 {name!r} 无效：请用简单的文件名（不含文件夹、'..' 或以 . 开头）")
    if not name.endswith(f".{fmt}"):
        name = f"{name}.{fmt}"
    return transcripts_dir() / name


def render_markdown(session: Session) -> str:
    lines = ["# ec-miip 对话记录", "", f"- 模式：{session.mode}", f"- 任务：{session.task or '通用'}",
             *(f"- 附件：{d.name}（{len(d.paragraphs)} 段）" for d in session.attachments), ""]
    for i, t in enumerate(session.turns, 1):
        lines += [f"## 问题 {i}", "", t.question, "", f"## 回答 {i}", "", t.answer, ""]
        if t.sources:
            lines += ["参考条文：" + "；".join(t.sources), ""]
        if t.flagged:
            lines += ["⚠ 未能在法条库中核实的引用：" + "；".join(t.flagged), ""]
    return "\n".join(lines)


MAX_TRANSCRIPT_BYTES = 256 * 2**20
AUTOSAVE_PREFIX = "autosave-"


def private_dir(folder: Path) -> Path:
    """``folder`` created if need be and made private (0700), even when it existed with another mode.

    A folder that is not ours, or a file or symlink in its place, is refused rather than used.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise InputError(f"{folder} 不是文件夹（可能是符号链接或文件）；请移走它后重试")
    if stat.S_IMODE(st.st_mode) != 0o700:
        try:
            os.chmod(folder, 0o700)
        except OSError as e:
            raise InputError(f"{folder} 的权限无法收紧为 0700（{e.strerror}）；请检查文件夹的所有者") from e
    return folder


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, atomically (:func:`~ecmiip.core.outputs.atomic_write`,
    private: a fresh temporary name created exclusively, so a file or symlink planted at any name is
    never opened or followed); a symlink at ``path`` itself is refused.
    """
    private_dir(path.parent)
    if path.is_symlink():
        raise InputError(f"{path} 是符号链接；为安全起见不会替换它，请换一个名称")
    with atomic_write(path, private=True) as f:
        f.write(text)
    return path


def save(session: Session, path: Path, fmt: str) -> Path:
    """Write the transcript with mode 0600, atomically; never follows or replaces a symlink."""
    text = render_markdown(session) if fmt == "md" else json.dumps(session_to_dict(session), ensure_ascii=False, indent=2)
    return write_private(path, text + "\n")


def session_to_dict(session: Session) -> dict:
    """The JSON form of a session (``/save json``, the history database): attachments as plain lists."""
    data = asdict(session)
    data["attachments"] = [document_to_dict(d) for d in session.attachments]
    return data


def document_to_dict(doc: LoadedDocument) -> dict:
    return {"path": str(doc.path), "kind": doc.kind, "notes": list(doc.notes),
            "paragraphs": [[p.number, p.text, p.page] for p in doc.paragraphs]}


def document_from_dict(data: object, where: str) -> LoadedDocument:
    """An attachment as :func:`document_to_dict` wrote it; InputError naming the field at fault."""
    from ecmiip.chat.documents import LoadedDocument, Paragraph

    def bad(what: str) -> InputError:
        return InputError(f"{where}: {what}；它不是 ec-miip 保存的对话")

    if not isinstance(data, dict) or not isinstance(data.get("path"), str) or data.get("kind") not in DOCUMENT_KINDS:
        raise bad("附件应有 path（文本）和 kind（txt、md、docx 或 pdf）")
    paragraphs = []
    for i, item in enumerate(data.get("paragraphs") or []):
        ok = (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int) and isinstance(item[1], str)
              and (item[2] is None or isinstance(item[2], int)))
        if not ok:
            raise bad(f"附件 paragraphs[{i}] 应为 [段号, 文本, 页码或 null]")
        paragraphs.append(Paragraph(item[0], item[1], item[2]))
    notes = data.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise bad("附件 notes 应为文本列表")
    return LoadedDocument(Path(data["path"]), data["kind"], tuple(paragraphs), tuple(notes))


DOCUMENT_KINDS = ("txt", "md", "docx", "pdf")


def autosave_path(started: str | None = None) -> Path:
    """Where this session is autosaved after each finished turn (``/load autosave`` reads the newest)."""
    return transcripts_dir() / f"{AUTOSAVE_PREFIX}{started or time.strftime('%Y%m%d-%H%M%S')}.json"


def latest_autosave() -> Path:
    found = sorted(transcripts_dir().glob(f"{AUTOSAVE_PREFIX}*.json"))
    if not found:
        raise InputError(f"{transcripts_dir()} 中还没有自动保存的对话")
    return found[-1]


def load(path: Path) -> Session:
    """A session saved as JSON by ``save``, fully checked before anything is replaced."""
    try:
        if os.path.getsize(path) > MAX_TRANSCRIPT_BYTES:
            raise InputError(f"{path}: 文件超过 {MAX_TRANSCRIPT_BYTES // 2**20} MiB，不是 ec-miip 保存的对话")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"找不到对话记录 {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} 是文件夹，不是对话记录") from None
    except OSError as e:
        raise InputError(f"{path}: 无法读取（{e.strerror}）") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: 不是 UTF-8 文本（第 {e.start} 字节）；它不是 /save json 保存的对话") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: 不是有效的 JSON（第 {e.lineno} 行第 {e.colno} 列：{e.msg}）；"
                         "/load 只读 /save json 保存的对话") from None
    except RecursionError:
        raise InputError(f"{path}: JSON 嵌套过深，不是 ec-miip 保存的对话") from None
    return session_from_dict(data, str(path))


def session_from_dict(data: object, where: str) -> Session:
    """A Session from the JSON ``save`` writes; InputError naming the field at fault."""
    from ecmiip.core.prompts import MODES, TASKS

    def bad(field: str, expected: str, value: object) -> InputError:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return InputError(f"{where}: 字段 {field} 应为{expected}，实为 {shown}；它不是 /save json 保存的对话")

    if not isinstance(data, dict):
        raise bad("（顶层）", "对象", type(data).__name__)
    system = data.get("system")
    if not isinstance(system, str):
        raise bad("system", "文本", system)
    mode = data.get("mode", "rigorous")
    if mode not in MODES:
        raise InputError(f"{where}: 未知的模式 mode={mode!r}（可用：{'、'.join(MODES)}）")
    task = data.get("task")
    if task is not None and task not in TASKS:
        raise InputError(f"{where}: 未知的任务 task={task!r}（可用：{'、'.join(TASKS)}）")
    think = data.get("think")
    if think is not None and not isinstance(think, bool):
        raise bad("think", " true、false 或 null", think)
    raw_turns = data.get("turns", [])
    if not isinstance(raw_turns, list):
        raise bad("turns", "列表", raw_turns)
    turns = []
    for i, t in enumerate(raw_turns):
        if not isinstance(t, dict):
            raise bad(f"turns[{i}]", "对象", t)
        for key in ("question", "answer"):
            if not isinstance(t.get(key, ""), str):
                raise bad(f"turns[{i}].{key}", "文本", t.get(key))
        if not isinstance(t.get("question"), str):
            raise bad(f"turns[{i}].question", "文本", t.get("question"))
        for key in ("sources", "flagged"):
            items = t.get(key, [])
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise bad(f"turns[{i}].{key}", "文本列表", items)
        turns.append(Turn(t["question"], t.get("answer", ""), list(t.get("sources", [])), list(t.get("flagged", []))))
    raw_docs = data.get("attachments") or []
    if not isinstance(raw_docs, list):
        raise bad("attachments", "列表", raw_docs)
    docs = [document_from_dict(d, f"{where}: attachments[{i}]") for i, d in enumerate(raw_docs)]
    return Session(system=system, turns=turns, mode=mode, task=task, think=think, attachments=docs)
