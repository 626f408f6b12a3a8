"""The conversation history database: round trips, privacy (0700/0600, no symlinks), turns that survive a
killed process, Chinese and ASCII search, rename/delete, damaged files refused, two writers at once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ecmiip.chat import history as history_module
from ecmiip.chat.history import DB_NAME, History, history_path, parse_session_id, short_title
from ecmiip.chat.session import Session, Turn
from ecmiip.core.errors import InputError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _session(**kw) -> Session:
    return Session(system="你是知识产权助手。", **kw)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_nothing_is_written_until_the_first_session_is_created(home):
    h = History()
    assert h.sessions() == [] and h.latest() is None and h.search("商业秘密") == [] and h.search("") == []
    for call in (lambda: h.load(1), lambda: h.rename(1, "x"), lambda: h.delete(1)):
        with pytest.raises(InputError, match="/sessions"):
            call()
    assert not home.exists()
    h.create(_session(), "m")
    assert history_path() == home / DB_NAME and history_path().is_file()
    h.close()


def test_settings_and_turns_round_trip(home):
    with History() as h:
        s = _session(mode="drafting", task="案例解析", think=True,
                     turns=[Turn("问一", "答一", ["《专利法》第十一条"], ["《专利法》第九十九条"])])
        sid = h.create(s, "ec-miip:q4")
        assert h.append_turn(sid, Turn("问二", "答二\n第二行")) == 2
        loaded, info = h.load(sid)
    assert loaded == Session(system=s.system, mode="drafting", task="案例解析", think=True,
                             turns=[Turn("问一", "答一", ["《专利法》第十一条"], ["《专利法》第九十九条"]),
                                    Turn("问二", "答二\n第二行")])
    assert (info.id, info.title, info.model, info.turns) == (sid, "问一", "ec-miip:q4", 2)
    assert info.created <= info.updated


def test_settings_changes_reset_and_model(home):
    with History() as h:
        sid = h.create(_session(turns=[Turn("问一", "答一")]), "m1", title="合同审查")
        h.save_settings(sid, _session(mode="drafting", task="文书撰写"))  # no reset: turns stay
        s, info = h.load(sid)
        assert (s.mode, s.task, len(s.turns), info.model) == ("drafting", "文书撰写", 1, "m1")
        h.save_settings(sid, _session(think=False), reset=True, model="m2")
        s, info = h.load(sid)
        assert (s.mode, s.think, s.turns, info.model, info.turns, info.title) == ("rigorous", False, [], "m2", 0,
                                                                                  "合同审查")
        assert h.append_turn(sid, Turn("重新开始", "好")) == 1


def test_older_and_newer_settings_rows_still_load(home):
    """A key this version does not know is ignored; a key an older version did not write gets its default."""
    with History() as h:
        sid = h.create(_session(mode="drafting", think=True), "m")
        with sqlite3.connect(h.path) as raw:
            raw.execute("UPDATE sessions SET settings = ? WHERE id = ?",
                        (json.dumps({"system": "旧", "mode": "drafting", "future_field": {"x": 1}}), sid))
        raw.close()
        s, _ = h.load(sid)
    assert (s.system, s.mode, s.think, s.task) == ("旧", "drafting", None, None)


def test_attachments_round_trip(home):
    documents = pytest.importorskip("ecmiip.chat.documents")
    doc = documents.LoadedDocument(Path("/x/合同.docx"), "docx",
                                   (documents.Paragraph(1, "第一条 许可范围", None), documents.Paragraph(2, "正文", 3)))
    s = _session()
    s.attachments.append(doc)
    with History() as h:
        sid = h.create(s, "m")
        assert h.load(sid)[0].attachments == [doc]


def test_turn_numbers_continue_the_stored_session_not_the_trimmed_one(home):
    with History() as h:
        sid = h.create(_session(turns=[Turn(f"问{i}", "答") for i in range(3)]), "m")
        assert h.append_turn(sid, Turn("问3", "答")) == 4  # the session in memory may hold only the last turns
        with pytest.raises(InputError, match="没有编号为 99 的会话.*/sessions"):
            h.append_turn(99, Turn("q"))


def test_undecodable_input_never_costs_the_turn(home):
    with History() as h:
        sid = h.create(Session(system="系统\udcff"), "m")
        h.append_turn(sid, Turn("问\udce9题", "答", ["x\udc80"]))
        s, _ = h.load(sid)
    assert (s.system, s.turns[0].question, s.turns[0].sources) == ("系统?", "问?题", ["x?"])


def test_ctrl_c_inside_a_write_keeps_nothing_half_done(home, monkeypatch):
    with History() as h:
        sid = h.create(_session(), "m")
        real = history_module._insert_turn

        def interrupted(*a):
            real(*a)
            raise KeyboardInterrupt

        monkeypatch.setattr(history_module, "_insert_turn", interrupted)
        with pytest.raises(KeyboardInterrupt):
            h.append_turn(sid, Turn("被打断", "一半"))
        monkeypatch.setattr(history_module, "_insert_turn", real)
        assert h.append_turn(sid, Turn("下一轮", "好")) == 1
        assert [t.question for t in h.load(sid)[0].turns] == ["下一轮"]


def test_folder_0700_file_0600_journal_0600_even_with_a_loose_umask(home):
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    old = os.umask(0o022)
    try:
        with History() as h:
            sid = h.create(_session(), "m")
            assert _mode(home) == 0o700 and _mode(home / DB_NAME) == 0o600
            with h._write() as db:  # a write in progress: its rollback journal is private too
                db.execute("UPDATE sessions SET title = 'x' WHERE id = ?", (sid,))
                journal = home / f"{DB_NAME}-journal"
                assert journal.exists() and _mode(journal) == 0o600
        os.chmod(home / DB_NAME, 0o644)  # loosened by someone else: tightened again on open
        with History() as h:
            h.sessions()
        assert _mode(home / DB_NAME) == 0o600
        assert sorted(p.name for p in home.iterdir()) == [DB_NAME]  # no side file left behind
    finally:
        os.umask(old)


def test_a_symlink_in_place_of_the_database_is_refused(home, tmp_path):
    home.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.sqlite3"
    target.write_bytes(b"")
    (home / DB_NAME).symlink_to(target)
    with pytest.raises(InputError, match="符号链接"):
        History().create(_session(), "m")
    with pytest.raises(InputError, match="符号链接"):
        History().sessions()
    assert target.read_bytes() == b"" and (home / DB_NAME).is_symlink()


@pytest.mark.parametrize("content, words", [
    (b"this is not a database at all\n" * 50, "不是 ec-miip 的对话历史库或已损坏"),
    ("foreign", "已有别的数据表"),
    ("newer", "更新版本的 ec-miip"),
    ("no-column", "缺少 created、model、settings、updated"),
])
def test_a_damaged_or_foreign_file_is_refused_and_left_alone(home, content, words):
    home.mkdir(mode=0o700)
    path = home / DB_NAME
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with sqlite3.connect(path) as raw:
            if content == "foreign":
                raw.execute("CREATE TABLE notes (x)")
            elif content == "newer":
                History(path).create(_session(), "m")
                raw.execute("PRAGMA user_version = 99")
            else:
                raw.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, title)")
                raw.execute("CREATE TABLE turns (session_id, n, question, answer, sources, flagged, created)")
                raw.execute("PRAGMA user_version = 1")
        raw.close()
    os.chmod(path, 0o600)
    before = path.read_bytes()
    for call in (lambda h: h.sessions(), lambda h: h.create(_session(), "m")):
        with pytest.raises(InputError, match=words) as e:
            call(History())
        assert str(path) in str(e.value) and "\n" not in str(e.value)
        assert ("移走" in str(e.value))
    assert path.read_bytes() == before


_CHILD = """
import os, sys
from ecmiip.chat.history import History
from ecmiip.chat.session import Session, Turn
h = History()
if sys.argv[1] == "share":  # a second ecmiip-chat writing to the same session as the test
    for i in range(40):
        h.append_turn(1, Turn(f"乙{i}", "另一个进程"))
    sys.exit(0)
sid = h.create(Session(system="s"), "m")
if sys.argv[1] == "exit-at-commit":
    h.append_turn(sid, Turn("第一轮", "已提交"))
    h._db.set_trace_callback(lambda sql: os._exit(3) if sql == "COMMIT" else None)
    h.append_turn(sid, Turn("第二轮", "未提交"))
else:
    for n in range(1, 10_000):
        h.append_turn(sid, Turn(f"问{n}", "答" * 200_000))
        print(n, flush=True)
"""


def _child(home: Path, how: str) -> subprocess.Popen:
    env = {**os.environ, "ECMIIP_HOME": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", _CHILD, how], env=env, stdout=subprocess.PIPE, text=True)


def _intact(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    raw.close()


def test_a_committed_turn_survives_a_process_that_dies_during_the_next_write(home):
    child = _child(home, "exit-at-commit")
    assert child.wait(timeout=30) == 3
    with History() as h:
        s, info = h.load(h.latest())
        assert [(t.question, t.answer) for t in s.turns] == [("第一轮", "已提交")]
        assert h.append_turn(info.id, Turn("第三轮", "好")) == 2  # the database took the next write
    _intact(home / DB_NAME)


def test_every_reported_turn_survives_sigkill_mid_write(home):
    child = _child(home, "loop")
    try:
        reported = [int(child.stdout.readline()) for _ in range(3)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert reported == [1, 2, 3]
    _intact(home / DB_NAME)
    with History() as h:
        s, _ = h.load(h.latest())
    assert len(s.turns) >= 3 and [t.question for t in s.turns] == [f"问{n}" for n in range(1, len(s.turns) + 1)]
    assert all(t.answer == "答" * 200_000 for t in s.turns)


def test_two_writers_at_once_both_succeed(home):
    History().create(_session(), "m")  # the shared session, id 1
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            with History() as h:
                own = h.create(_session(), tag)
                for i in range(15):
                    h.append_turn(1, Turn(f"{tag}{i}", "共享"))
                    h.append_turn(own, Turn(f"{tag}{i}", "自己"))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with History() as h:
        shared = h.load(1)[0].turns
        assert len(shared) == 30 and {t.question for t in shared} == {f"{g}{i}" for g in "甲乙" for i in range(15)}
        assert sorted(i.turns for i in h.sessions()) == [15, 15, 30]


def test_two_processes_append_to_one_session_at_once(home):
    with History() as h:
        h.create(_session(), "m")
        child = _child(home, "share")
        for i in range(40):
            h.append_turn(1, Turn(f"甲{i}", "这个进程"))
        assert child.wait(timeout=60) == 0
        child.stdout.close()
        turns = h.load(1)[0].turns
    assert sorted(t.question for t in turns) == sorted(f"{g}{i}" for g in "甲乙" for i in range(40))


def test_a_writer_waits_for_a_lock_held_by_another_process(home):
    with History() as h:
        sid = h.create(_session(), "m")
    holder = sqlite3.connect(home / DB_NAME, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    t0 = time.monotonic()
    with History() as h:
        assert h.append_turn(sid, Turn("等一等", "好")) == 1
    assert time.monotonic() - t0 >= 0.25
    holder.close()


@pytest.fixture
def corpus(home) -> History:
    h = History()
    a = h.create(_session(), "m")
    h.append_turn(a, Turn("什么是商业秘密？", "商业秘密是不为公众所知悉、具有商业价值并经权利人采取相应保密措施的技术信息和经营信息。"))
    h.append_turn(a, Turn("侵犯商业秘密怎么赔偿？", "按实际损失确定。"))
    b = h.create(_session(), "m")
    h.append_turn(b, Turn("专利侵权如何判定？", "采用全面覆盖原则（All Elements Rule），逐一比对技术特征。"))
    c = h.create(_session(), "m", title="100%_确定的标题")
    h.append_turn(c, Turn("商标近似", "看整体印象。"))
    yield h
    h.close()


def test_search_chinese_of_any_length_and_ascii_without_case(corpus):
    def found(q: str) -> list[tuple[int, int | None]]:
        return [(x.session_id, x.turn) for x in corpus.search(q)]

    assert found("秘密") == [(1, 1)]  # two characters: beyond an FTS5 trigram index
    assert found("商业秘") == [(1, 1)]
    assert found("商业秘密") == [(1, 1)]
    assert found("怎么赔偿") == [(1, 2)]
    assert found("侵权") == [(2, 1)]
    assert found("all elements") == found("ALL ELEMENTS") == found("All Elements") == [(2, 1)]
    assert found("商") == [(3, 1), (1, 1)]  # newest first
    assert found("著作权") == []
    hit = corpus.search("商业秘密")[0]
    assert (hit.title, hit.matches) == ("什么是商业秘密？", 2)
    assert hit.snippet[hit.span[0]:hit.span[1]] == "商业秘密"


def test_search_snippet_shows_the_match_in_context_on_one_line(home):
    with History() as h:
        sid = h.create(_session(), "m")
        answer = "甲" * 100 + "\n\n依据《反不正当竞争法》第九条，\n商业秘密受保护。" + "乙" * 100
        h.append_turn(sid, Turn("一个问题", answer))
        hit = h.search("反不正当竞争法")[0]
    assert hit.turn == 1 and "\n" not in hit.snippet
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…") and len(hit.snippet) < 90
    assert hit.snippet[hit.span[0]:hit.span[1]] == "反不正当竞争法"
    assert "依据《反不正当竞争法》第九条， 商业秘密" in hit.snippet


def test_search_treats_percent_and_underscore_literally_and_finds_titles(corpus):
    assert [(x.session_id, x.turn) for x in corpus.search("100%_")] == [(3, None)]  # the title only
    assert [(x.session_id, x.turn) for x in corpus.search("%")] == [(3, None)]
    assert corpus.search("0_") == corpus.search("1_0") == corpus.search("商%近") == []  # no wildcards
    assert corpus.search("100%_")[0].snippet == "100%_确定的标题"
    assert [x.session_id for x in corpus.search("")] == [3, 2, 1]  # an empty query lists them all
    assert len(corpus.search("", limit=2)) == 2
    assert corpus.search("商") == corpus.search("商")  # deterministic
    with pytest.raises(InputError, match="搜索词过长"):
        corpus.search("长" * 201)


def test_sessions_latest_rename_delete(corpus):
    assert [i.id for i in corpus.sessions()] == [3, 2, 1] and corpus.latest() == 3
    corpus.append_turn(1, Turn("再问", "再答"))
    assert [i.id for i in corpus.sessions()] == [1, 3, 2] and corpus.latest() == 1
    assert [i.id for i in corpus.sessions(limit=1)] == [1]
    corpus.rename(2, "  专利\n比对  ")
    assert corpus.load(2)[1].title == "专利 比对" and corpus.latest() == 1  # a rename is no update
    assert [x.session_id for x in corpus.search("专利 比对")] == [2]
    for bad in ("", "  \n"):
        with pytest.raises(InputError, match="标题不能为空"):
            corpus.rename(2, bad)
    corpus.delete(1)
    with sqlite3.connect(corpus.path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM turns WHERE session_id = 1").fetchone() == (0,)  # cascaded
    raw.close()
    assert corpus.latest() == 3 and corpus.search("商业秘密") == []
    with pytest.raises(InputError, match="没有编号为 1 的会话"):
        corpus.load(1)
    with pytest.raises(InputError, match="没有编号为 1 的会话"):
        corpus.delete(1)
    assert corpus.create(_session(), "m") == 4  # a deleted id is never reused


def test_short_titles_and_session_ids():
    assert short_title("什么是商业秘密？") == "什么是商业秘密？"
    assert short_title("中" * 30) == "中" * 19 + "…"
    assert short_title("a" * 50) == "a" * 39 + "…"
    assert short_title("第一行\n  第二行") == "第一行 第二行"
    assert parse_session_id(" 12 ") == 12 and parse_session_id("#3") == 3
    for bad in ("", "0", "-1", "abc", "１２", "1.5"):
        with pytest.raises(InputError, match="会话编号应为正整数"):
            parse_session_id(bad)
