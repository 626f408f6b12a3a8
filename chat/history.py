"""Every conversation kept on this machine, in one SQLite file (stdlib ``sqlite3``), private to the user.

Why SQLite: each finished turn is one committed transaction (synchronous=FULL), so a crash, a kill or
Ctrl-C after :meth:`History.append_turn` returns never loses it, and two ``ecmiip-chat`` processes can
write at once (writes take the lock up front and wait up to ``BUSY_TIMEOUT_S`` for each other).

Privacy: the folder is 0700 and the file is created 0600 by us before SQLite opens it (exclusively, never
through a symlink); SQLite gives its journal the database file's mode, so no side file is world-readable.
Deleted rows are overwritten (``secure_delete``). Nothing touches the disk until the first write: reading
(``sessions``, ``search``, ``latest``) a history that does not exist yet finds nothing and creates nothing.

Search is a plain ``LIKE`` scan of questions and answers (``%`` and ``_`` escaped): it needs no FTS5
build, finds Chinese words of any length (FTS5's unicode61 does not segment Chinese and its trigram
tokenizer cannot find two characters), folds ASCII case, and scans about 117 MB of text (3,000 sessions
of 8 long Chinese turns) in about 0.1 s on a warm cache.

Session settings are one JSON column (:func:`~ecmiip.chat.session.session_to_dict` without the turns, read
back by ``session_from_dict`` as ``/load`` reads a transcript), so a field added to ``Session`` later
round-trips without a schema change, and keys this version does not know are ignored. A file that is not SQLite, not ours, or from a newer ec-miip is refused with a
message saying what to do; it is never recreated or deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import stat
import time
import unicodedata
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecmiip.chat.session import Session, Turn, private_dir, session_from_dict, session_to_dict
from ecmiip.core.errors import DiskSpaceError, EcmiipError, InputError
from ecmiip.core.paths import user_data_dir

DB_NAME = "history.sqlite3"
SCHEMA_VERSION = 1  # PRAGMA user_version; each step in _MIGRATIONS brings a file one version up
BUSY_TIMEOUT_S = 10.0
TITLE_WIDTH = 40  # display columns (a CJK character counts two): about 20 Chinese characters
MAX_TITLE_CHARS = 100
MAX_QUERY_CHARS = 200
LIST_HINT = '输入 /sessions 或运行 ecmiip-chat --history "" 查看已保存的会话'

_MIGRATIONS: list[list[str]] = [
    [  # 0 → 1: an empty file becomes a history
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a deleted id never names another session
            title TEXT,                            -- NULL: the first question, shortened, is shown
            created REAL NOT NULL,                 -- Unix time
            updated REAL NOT NULL,
            model TEXT NOT NULL,
            settings TEXT NOT NULL                 -- JSON: session_to_dict(Session) without turns
        )""",
        """CREATE TABLE turns (
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            n INTEGER NOT NULL,                    -- 1-based, as the user sees it
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            sources TEXT NOT NULL,                 -- JSON list of str
            flagged TEXT NOT NULL,                 -- JSON list of str
            created REAL NOT NULL,
            PRIMARY KEY (session_id, n)
        )""",
        "CREATE INDEX sessions_by_update ON sessions(updated, id)",
    ],
]
_COLUMNS = {
    "sessions": {"id", "title", "created", "updated", "model", "settings"},
    "turns": {"session_id", "n", "question", "answer", "sources", "flagged", "created"},
}


@dataclass(frozen=True)
class SessionInfo:
    id: int
    title: str  # the title given, else the first question shortened, else "（空会话）"
    created: datetime  # local time
    updated: datetime  # the last turn or settings change (a rename does not count)
    model: str
    turns: int


@dataclass(frozen=True)
class Hit:
    session_id: int
    title: str
    turn: int | None  # the first matching turn (1-based); None when only the title matched
    snippet: str  # one line: the match with some text either side, "…" where cut
    span: tuple[int, int]  # where the match is in ``snippet`` (start, end), for highlighting
    updated: datetime
    matches: int  # how many turns of the session match


def history_path() -> Path:
    return user_data_dir() / DB_NAME


def short_title(text: str, width: int = TITLE_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` display columns (CJK counts two) with "…" when cut."""
    text = " ".join(text.split())
    widths = [0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
              for ch in text]
    if sum(widths) <= width:
        return text
    used = 0
    for i, w in enumerate(widths):
        if used + w > width - 1:  # one column left for the "…"
            return text[:i].rstrip() + "…"
        used += w
    return text


def parse_session_id(text: str) -> int:
    """The number in ``/resume 12`` or ``--resume 12``; InputError for anything else."""
    text = text.strip().lstrip("#")
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        raise InputError(f"会话编号应为正整数（如 /resume 12），而不是 {text!r}；{LIST_HINT}")
    return int(text)


class History:
    """The conversation history in ``path`` (default :func:`history_path`), opened on first use.

    Every method that names a session raises InputError for an id that does not exist; every database
    failure becomes an :class:`~ecmiip.core.errors.EcmiipError` naming the file (never a traceback).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else history_path()
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- writing ----------------------------------------------------------------------------------
    def create(self, session: Session, model: str, title: str | None = None) -> int:
        """A new stored session with ``session``'s settings and any turns it already has; its id."""
        title = _clean_title(title) if title is not None else None
        with self._write() as db:
            now = time.time()
            cur = db.execute("INSERT INTO sessions (title, created, updated, model, settings) VALUES (?, ?, ?, ?, ?)",
                             (title, now, now, model, _settings_json(session)))
            sid = int(cur.lastrowid)
            for n, turn in enumerate(session.turns, 1):
                _insert_turn(db, sid, n, turn, now)
        return sid

    def append_turn(self, session_id: int, turn: Turn) -> int:
        """Store a finished turn as the session's next one; committed (on disk) before returning its number.

        The number continues the stored session, not ``len(session.turns)``: turns dropped from the
        context to fit it stay in the history.
        """
        with self._write() as db:
            self._require(db, session_id)
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE session_id = ?",
                           (session_id,)).fetchone()[0]
            now = time.time()
            _insert_turn(db, session_id, n, turn, now)
            db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id))
        return n

    def replace_last_turn(self, session_id: int, turn: Turn) -> int:
        """``/regenerate``: the stored last turn replaced by ``turn`` in one transaction; its number."""
        with self._write() as db:
            self._require(db, session_id)
            n = db.execute("SELECT COALESCE(MAX(n), 1) FROM turns WHERE session_id = ?", (session_id,)).fetchone()[0]
            now = time.time()
            db.execute("DELETE FROM turns WHERE session_id = ? AND n = ?", (session_id, n))
            _insert_turn(db, session_id, n, turn, now)
            db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id))
        return n

    def save_settings(self, session_id: int, session: Session, *, reset: bool = False,
                      model: str | None = None) -> None:
        """Store ``session``'s settings (after /system, /mode, /task, /think); with ``reset`` (/reset) the
        stored turns are deleted too, in the same transaction; ``model`` replaces the model recorded.

        Turns are never deleted without ``reset``: the session in memory may hold fewer turns than the
        history (the oldest are dropped to fit the context).
        """
        with self._write() as db:
            self._require(db, session_id)
            db.execute("UPDATE sessions SET settings = ?, updated = ?, model = COALESCE(?, model) WHERE id = ?",
                       (_settings_json(session), time.time(), model, session_id))
            if reset:
                db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))

    def rename(self, session_id: int, title: str) -> None:
        title = _clean_title(title)
        with self._write(create=False) as db:
            self._require(db, session_id)
            db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))

    def delete(self, session_id: int) -> None:
        """The session and all its turns, gone (their bytes overwritten in the file)."""
        with self._write(create=False) as db:
            self._require(db, session_id)
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # --- reading ----------------------------------------------------------------------------------
    def load(self, session_id: int) -> tuple[Session, SessionInfo]:
        """The stored session, all its turns, checked as ``/load`` checks a JSON transcript."""
        with self._read() as db:
            row = db and db.execute(f"{_INFO_SQL} WHERE s.id = ?", (session_id,)).fetchone()
            if not row:
                raise InputError(f"没有编号为 {session_id} 的会话；{LIST_HINT}")
            info, settings = _info(row), row[-1]
            turns = db.execute("SELECT question, answer, sources, flagged FROM turns WHERE session_id = ? "
                               "ORDER BY n", (session_id,)).fetchall()
        where = f"{self.path}（会话 {session_id}）"
        try:
            data = json.loads(settings)
            if not isinstance(data, dict):
                raise ValueError("settings is not an object")
            data["turns"] = [{"question": q, "answer": a, "sources": json.loads(s), "flagged": json.loads(f)}
                             for q, a, s, f in turns]
        except (ValueError, RecursionError) as e:
            raise InputError(f"{where}: 记录已损坏（{e}）；可用 /delete {session_id} 删除该会话") from None
        return session_from_dict(data, where), info

    def latest(self) -> int | None:
        """The session updated last (``--continue``), or None when there is none."""
        with self._read() as db:
            row = db and db.execute("SELECT id FROM sessions ORDER BY updated DESC, id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def sessions(self, limit: int | None = 20) -> list[SessionInfo]:
        """The sessions updated last, newest first (``limit`` None: all)."""
        with self._read() as db:
            rows = db.execute(f"{_INFO_SQL} ORDER BY s.updated DESC, s.id DESC LIMIT ?",
                              (-1 if limit is None else limit,)).fetchall() if db else []
        return [_info(r) for r in rows]

    def search(self, query: str, limit: int | None = 20) -> list[Hit]:
        """Sessions whose questions, answers or title contain ``query`` (ASCII case folded), newest first;
        each with its first matching turn in context. An empty query lists every session with turns.
        """
        query = query.strip()
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"搜索词过长（{len(query)} 字）；请用不超过 {MAX_QUERY_CHARS} 字的关键词")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query) + "%"
        with self._read() as db:
            if db is None:
                return []
            rows = db.execute(_SEARCH_SQL, {"p": pattern, "limit": -1 if limit is None else limit}).fetchall()
            hits = []
            for sid, title, updated, n, matches, first in rows:
                title = title or _auto_title(first)
                if n is None:
                    text = title
                else:
                    q, a = db.execute("SELECT question, answer FROM turns WHERE session_id = ? AND n = ?",
                                      (sid, n)).fetchone()
                    text = q if _find(q, query) >= 0 else a
                snippet, span = _snippet(text, _find(text, query), len(query))
                hits.append(Hit(sid, title, n, snippet, span, datetime.fromtimestamp(updated), matches))
        return hits

    # --- the file ---------------------------------------------------------------------------------
    def _require(self, db: sqlite3.Connection, session_id: int) -> None:
        if not db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone():
            raise InputError(f"没有编号为 {session_id} 的会话；{LIST_HINT}")

    @contextlib.contextmanager
    def _write(self, create: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction, its write lock taken at once (so two processes queue, never deadlock);
        committed when the block ends, rolled back on any exception, Ctrl-C included. Without
        ``create``, a history that does not exist yet is not created: there is nothing to change.
        """
        db = self._connect(create)
        if db is None:
            raise InputError(f"还没有保存过任何会话（{self.path} 不存在）；{LIST_HINT}")
        with self._errors():
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        """The connection (None when no history exists yet: nothing is created to read nothing)."""
        db = self._connect(create=False)
        with self._errors():
            yield db

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not create and not os.path.lexists(self.path):
            return None
        private_dir(self.path.parent)
        self._create_private()
        uri = "file:" + urllib.parse.quote(str(self.path.absolute())) + "?mode=rw"  # never creates a file
        try:
            db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise self._explain(e) from None
        try:
            with self._errors():
                db.execute("PRAGMA foreign_keys = ON")
                db.execute("PRAGMA synchronous = FULL")
                db.execute("PRAGMA secure_delete = ON")
                self._check_schema(db)
        except BaseException:
            db.close()
            raise
        self._db = db
        return db

    def _create_private(self) -> None:
        """The file, created 0600 by us before SQLite sees it; an existing one made 0600, a symlink refused."""
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError:
            st = os.lstat(self.path)
            if stat.S_ISLNK(st.st_mode):
                raise InputError(f"{self.path} 是符号链接；为安全起见不会打开它，请移走它后重试") from None
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"{self.path} 不是普通文件；请移走它后重试") from None
            if stat.S_IMODE(st.st_mode) != 0o600:
                try:
                    os.chmod(self.path, 0o600)
                except OSError as e:
                    raise InputError(f"{self.path} 的权限无法收紧为 0600（{e.strerror}）；请检查文件的所有者") from e
            return
        except OSError as e:
            raise InputError(f"无法创建对话历史库 {self.path}（{e.strerror}）") from e
        try:
            os.fchmod(fd, 0o600)  # a umask such as 0277 would otherwise leave it unwritable
        finally:
            os.close(fd)

    def _check_schema(self, db: sqlite3.Connection) -> None:
        """Bring an empty file (or an older ec-miip's) up to SCHEMA_VERSION; refuse anything else."""
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")  # another process may be doing the same: look again under the lock
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0 and db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                    raise self._foreign("其中已有别的数据表")
                for step in _MIGRATIONS[version:SCHEMA_VERSION]:
                    for sql in step:
                        db.execute(sql)
                db.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        if version > SCHEMA_VERSION:
            raise InputError(f"{self.path} 由更新版本的 ec-miip 创建（格式版本 {version}，本版本只认到 "
                             f"{SCHEMA_VERSION}）；请升级 ec-miip，或把该文件移走后重试")
        for table, wanted in _COLUMNS.items():
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if not wanted <= have:
                raise self._foreign(f"数据表 {table} 缺少 {'、'.join(sorted(wanted - have))}")

    def _foreign(self, why: str) -> InputError:
        return InputError(f"{self.path} 不是 ec-miip 的对话历史库或已损坏（{why}）；请把它移走（例如改名为 "
                          f"{self.path.name}.bak）后重试，ec-miip 会新建一个空的历史库")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise self._explain(e) from None

    def _explain(self, e: sqlite3.Error) -> EcmiipError:
        text = str(e)
        if "locked" in text or "busy" in text:
            return InputError(f"{self.path}: 对话历史库被另一个进程占用超过 {BUSY_TIMEOUT_S:g} 秒；请稍后重试")
        if "full" in text:
            return DiskSpaceError(f"{self.path}: 磁盘已满，无法写入对话历史库；请腾出空间后重试")
        if "readonly" in text or "unable to open" in text:
            return InputError(f"{self.path}: 无法写入对话历史库（{text}）；请检查文件与文件夹的权限")
        return self._foreign(text)


_INFO_SQL = """SELECT s.id, s.title, s.created, s.updated, s.model,
    (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id),
    (SELECT question FROM turns t WHERE t.session_id = s.id ORDER BY t.n LIMIT 1),
    s.settings
FROM sessions s"""

_SEARCH_SQL = r"""WITH m AS (
    SELECT session_id, MIN(n) AS n, COUNT(*) AS matches FROM turns
    WHERE question LIKE :p ESCAPE '\' OR answer LIKE :p ESCAPE '\' GROUP BY session_id)
SELECT s.id, s.title, s.updated, m.n, COALESCE(m.matches, 0),
    (SELECT question FROM turns t WHERE t.session_id = s.id ORDER BY t.n LIMIT 1)
FROM sessions s LEFT JOIN m ON m.session_id = s.id
WHERE m.n IS NOT NULL OR s.title LIKE :p ESCAPE '\'
ORDER BY s.updated DESC, s.id DESC LIMIT :limit"""


def _info(row: tuple) -> SessionInfo:
    sid, title, created, updated, model, turns, first = row[:7]
    return SessionInfo(sid, title or _auto_title(first), datetime.fromtimestamp(created),
                       datetime.fromtimestamp(updated), model, turns)


def _auto_title(first_question: str | None) -> str:
    return short_title(first_question) if first_question and first_question.strip() else "（空会话）"


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise InputError("会话标题不能为空；用法：/rename 新标题")
    if len(title) > MAX_TITLE_CHARS:
        raise InputError(f"会话标题过长（{len(title)} 字）；请用不超过 {MAX_TITLE_CHARS} 字的标题")
    return title


def _settings_json(session: Session) -> str:
    settings = session_to_dict(session)
    del settings["turns"]
    return _utf8(json.dumps(settings, ensure_ascii=False, default=str))


def _insert_turn(db: sqlite3.Connection, sid: int, n: int, turn: Turn, now: float) -> None:
    db.execute("INSERT INTO turns (session_id, n, question, answer, sources, flagged, created) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               (sid, n, _utf8(turn.question), _utf8(turn.answer),
                _utf8(json.dumps(list(turn.sources), ensure_ascii=False)),
                _utf8(json.dumps(list(turn.flagged), ensure_ascii=False)), now))


def _utf8(text: str) -> str:
    """``text`` as SQLite can store it: a lone surrogate (undecodable terminal input) becomes "?", so a
    stray byte never costs the turn."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _find(text: str, query: str) -> int:
    """Where ``query`` is in ``text`` as SQLite's LIKE finds it: ASCII case folded, nothing else."""
    return text.translate(_ASCII_FOLD).find(query.translate(_ASCII_FOLD))


def _snippet(text: str, start: int, length: int, before: int = 20, after: int = 40) -> tuple[str, tuple[int, int]]:
    """The match with ``before``/``after`` characters around it, on one line, and where the match is in it."""
    start = max(start, 0)
    lo, hi = max(0, start - before), min(len(text), start + length + after)
    one_line = lambda s: re.sub(r"\s+", " ", s)  # noqa: E731
    head = ("…" if lo > 0 else "") + one_line(text[lo:start]).lstrip()
    match = one_line(text[start:start + length])
    tail = one_line(text[start + length:hi]).rstrip() + ("…" if hi < len(text) else "")
    return head + match + tail, (len(head), len(head) + len(match))
