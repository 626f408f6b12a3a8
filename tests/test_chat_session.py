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
    with pytest.raises(InputError, match="needs 110 tokens"):
        s.fit("Q" * 100, budget=50, count=_count)
    assert [t.question for t in s.turns] == ["q1"]  # refused questions cost no history


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/b", ".hidden", "..", "x\x00y"])
def test_transcript_names_cannot_escape_the_folder(name, monkeypatch, tmp_path):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    with pytest.raises(InputError, match="invalid transcript name"):
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
    with pytest.raises(InputError, match="not a saved ec-miip session"):
        load(md)
