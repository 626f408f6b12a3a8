"""Chat history within a token budget, and transcripts: 0600, no path traversal, JSON round trip."""

from __future__ import annotations

import stat

import pytest

from ecmiip.chat.session import Session, Turn, load, save, transcript_path
from ecmiip.core.errors import InputError


def _count(messages: list[dict]) -> int:
    return sum(len(m["content"]) for m in messages)  # a character-count stand-in for a tokenizer


def test_oldest_turns_go_first_and_system_and_question_stay():
    s = Session(system="S" * 10, turns=[Turn("q1", "a" * 20), Turn("q2", "b" * 20), Turn("q3", "c" * 20)])
    dropped = s.fit("Q" * 5, budget=70, count=_count)
    assert dropped == 1 and [t.question for t in s.turns] == ["q2", "q3"]
    msgs = s.messages("Q" * 5)
    assert msgs[0]["role"] == "system" and msgs[-1]["content"] == "Q" * 5


def test_a_question_that_cannot_fit_is_an_error_and_keeps_nothing_half_done():
    s = Session(system="S" * 10, turns=[Turn("q1", "a")])
    with pytest.raises(InputError, match="共需 110 个 token"):
        s.fit("Q" * 100, budget=50, count=_count)
    assert [t.question for t in s.turns] == ["q1"]  # refused questions cost no history


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/b", ".hidden", "..", "x\x00y"])
def test_transcript_names_cannot_escape_the_folder(name, monkeypatch, tmp_path):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    with pytest.raises(InputError, match="无效"):
        transcript_path(name, "md")


def test_save_is_private_and_json_round_trips(monkeypatch, tmp_path):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    s = Session(system="系统", turns=[Turn("什么是专利？", "专利是……", sources=["《中华人民共和国专利法》第二条"])], task="学理问答")
    md = save(s, transcript_path("案件一", "md"), "md")
    js = save(s, transcript_path("案件一", "json"), "json")
    assert md.parent == tmp_path / "transcripts"
    for p in (md, js):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert "什么是专利？" in md.read_text(encoding="utf-8")
    assert load(js) == s
    with pytest.raises(InputError, match="不是有效的 JSON"):
        load(md)


def test_trimming_a_30000_turn_history_is_linear(monkeypatch, tmp_path):
    import time

    turns = [Turn(f"问题{i}", "回答" * 20) for i in range(30000)]
    s = Session(system="S", turns=list(turns))
    calls = []

    def count(messages):
        calls.append(len(messages))
        return sum(len(m["content"]) for m in messages)
    t0 = time.perf_counter()
    dropped = s.fit("Q", budget=5000, count=count)
    assert time.perf_counter() - t0 < 3
    assert count(s.messages("Q")) <= 5000 < count(Session("S", [Turn("x", "回答" * 20), *s.turns]).messages("Q")) + 50
    assert dropped == 30000 - len(s.turns) and len(calls) < 1000  # the kept turns are counted, not the whole history per drop
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    path = save(Session(system="S", turns=turns), transcript_path("big", "json"), "json")
    t0 = time.perf_counter()
    assert len(load(path).turns) == 30000 and time.perf_counter() - t0 < 3


def test_save_never_follows_a_planted_symlink_and_tightens_modes(monkeypatch, tmp_path):
    import os

    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    folder = tmp_path / "transcripts"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (folder / ".记录.md.partial").symlink_to(victim)  # the old fixed temporary name
    old = folder / "记录.md"
    old.write_text("old", encoding="utf-8")
    os.chmod(old, 0o666)
    s = Session(system="系统", turns=[Turn("问", "答")])
    path = save(s, transcript_path("记录", "md"), "md")
    assert victim.read_text(encoding="utf-8") == "keep me" and "问" in path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == [".记录.md.partial", "记录.md"]  # no temporary left
    (folder / "链接.md").symlink_to(victim)
    with pytest.raises(InputError, match="符号链接"):
        save(s, transcript_path("链接", "md"), "md")
    assert victim.read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize(("data", "message"), [
    (b'{"system": "\xff"}', "UTF-8"),
    (b'{"system": "s", "mode": "wild"}', "mode='wild'"),
    (b'{"system": "s", "turns": [{"question": "q", "answer": 3}]}', r"turns\[0\]\.answer"),
    (b'{"system": "s", "turns": [{"question": "q", "flagged": "x"}]}', r"turns\[0\]\.flagged"),
    (b'{"system": "s", "think": 1}', "think"),
    (b"[" * 50000 + b"]" * 50000, "嵌套过深"),
])
def test_load_checks_everything(data, message, tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        load(path)
