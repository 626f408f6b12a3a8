"""`ecmiip data qa-audit`: every planted problem of the broken fixture reported on its line and nothing on
the clean lines; exit codes, the report written atomically and never over a file without --force; the
teacher's answers run through the same checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecmiip.cli import main
from ecmiip.core.errors import InputError
from ecmiip.train.qa_audit import audit_file
from ecmiip.train.qa_checks import CODES, answer_findings, question_findings
from ecmiip.train.qa_pairs import QAPair
from ecmiip.train.teacher import polish

FIXTURE = Path(__file__).parent / "fixtures" / "qa_broken.jsonl"

# line → the codes planted there (lines 1, 2, 17, 18 are clean, 19 is blank).
PLANTED = {
    3: {"truncated-clause"}, 4: {"truncated-clause"}, 5: {"unmatched-bracket"}, 6: {"self-referential-subject"},
    7: {"filler-answer"}, 8: {"empty-conclusion"}, 9: {"empty-answer"}, 10: {"citation-superseded"},
    11: {"citation-no-such-article"}, 12: {"citation-unknown-law"}, 13: {"duplicate-question"},
    14: {"malformed-line"}, 15: {"malformed-line"}, 16: {"cot-unclosed"}, 20: {"self-reference"},
    21: {"truncated-clause"}, 22: {"duplicate-pair"}, 23: {"cot-flag-mismatch"},
}


def test_every_planted_problem_is_reported_on_its_line_and_nothing_else():
    audit = audit_file(FIXTURE)
    found: dict[int, set[str]] = {}
    for f in audit.findings:
        found.setdefault(f.line, set()).add(f.code)
    assert found == PLANTED
    assert audit.lines == 22 and audit.pairs == 20
    assert {f.severity for f in audit.findings if f.code == "self-reference"} == {"warning"}


def test_statistics_count_cot_kinds_and_lengths():
    audit = audit_file(FIXTURE)
    assert audit.cot == 2  # lines 2 and 22 (line 16 never closes its block)
    assert audit.per_kind == {"statute": 18, "knowledge": 1, "case": 1}
    assert audit.lengths.min == 0 and audit.lengths.count == 20 and sum(audit.lengths.buckets.values()) == 20


def test_correct_legal_chinese_is_not_flagged():
    quote = "【适用法律】《中华人民共和国商标法》第十一条：“（三）其他缺乏显著特征的。”\n【结论】本案标志不得作为商标注册，这是明确的。"
    assert answer_findings(quote) == []
    assert question_findings("以营利为目的复制他人作品，是否构成侵权？") == []
    assert question_findings("该项目的申请期限是多久？") == []
    assert answer_findings("申请人应当自收到通知之日起两个月内补正。") == []


def test_cli_exit_codes_and_report(tmp_path, capsys):
    report = tmp_path / "audit.md"
    assert main(["data", "qa-audit", str(FIXTURE), "--report", str(report), "--max-examples", "1"]) == 1
    text = report.read_text(encoding="utf-8")
    assert "**FAIL**" in text and "| 14 | line |" in text and "| 3 | question |" in text
    assert not list(tmp_path.glob(".*partial"))
    assert "error(s)" in capsys.readouterr().err

    clean = tmp_path / "clean.jsonl"
    clean.write_text("\n".join(FIXTURE.read_text(encoding="utf-8").splitlines()[i] for i in (0, 1, 16, 17)) + "\n",
                     encoding="utf-8")
    assert main(["data", "qa-audit", str(clean)]) == 0


def test_report_is_not_overwritten_without_force(tmp_path, capsys):
    report = tmp_path / "audit.md"
    report.write_text("keep", encoding="utf-8")
    assert main(["data", "qa-audit", str(FIXTURE), "--report", str(report)]) == 1
    assert "--force" in capsys.readouterr().err
    assert report.read_text(encoding="utf-8") == "keep"
    assert main(["data", "qa-audit", str(FIXTURE), "--report", str(report), "--force"]) == 1
    assert report.read_text(encoding="utf-8").startswith("# QA audit")


@pytest.mark.parametrize(("content", "message"), [
    (None, "QA file not found"),
    (b"", ":1: empty"),
    (b"\xff\xfe garbage\nnot json either\n", ":1: not UTF-8"),
])
def test_unreadable_input_is_one_input_error(tmp_path, content, message):
    path = tmp_path / "qa.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        audit_file(path)


def test_every_code_has_a_severity_and_a_meaning():
    assert all(sev in ("error", "warning") and len(why) > 20 for sev, why in CODES.values())


class _StubTeacher:
    """A test double for a remote LLM: answers each pair with the next canned reply."""

    name = "stub"

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies

    def complete(self, messages: list[dict[str, str]]) -> str:
        return self.replies.pop(0)


def _pair(i: int) -> QAPair:
    return QAPair(f"p{i}", {"kind": "statute"}, "statute-meaning", "发明专利权的期限是多久？",
                  "发明专利权的期限为二十年，自申请日起计算。", ["1. 看条文。"],
                  source_text="《中华人民共和国专利法》第四十二条：发明专利权的期限为二十年。")


def test_a_teacher_answer_that_fails_the_audit_is_dropped_with_its_reason():
    pairs = [_pair(i) for i in range(3)]
    teacher = _StubTeacher(["依照《中华人民共和国专利法》第四十二条，发明专利权的期限为二十年，自申请日起计算。",
                            "发明专利权的期限为二十年，",  # cut off
                            "依照《中华人民共和国专利法》第四十二条（2020修正，期限为二十年。"])  # bracket left open
    stats = polish(pairs, teacher)
    assert stats.polished == 1 and stats.failed == 2
    assert stats.audit == {"truncated-clause": 1, "unmatched-bracket": 1}
    assert stats.reasons == {"failed the QA audit (truncated-clause)": 1, "failed the QA audit (unmatched-bracket)": 1}
    assert pairs[0].polished and not pairs[1].polished and pairs[1].answer == "发明专利权的期限为二十年，自申请日起计算。"


def test_help_describes_the_command():
    import argparse

    from ecmiip.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["data"]
    audit = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices["qa-audit"]
    assert len(audit.description) > 40 and "--max-examples" in audit.format_help()


def test_fixture_lines_are_what_the_table_says():
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    assert lines[18] == "" and json.loads(lines[0])["messages"][-1]["role"] == "assistant"
