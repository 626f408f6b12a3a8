"""chat/review.py and ``ecmiip review``: the report read back with python-docx, the model's answer parsed
or replaced by the rules, citations verified, and a review interrupted after k clauses resumed with k reused."""

from __future__ import annotations

import argparse
from datetime import date

import docx
import pytest

from ecmiip.chat import review_cli
from ecmiip.chat.backends import Delta
from ecmiip.chat.clauses import segment_clauses
from ecmiip.chat.documents import read_document
from ecmiip.chat.report import APPENDIX_TITLE, UNVERIFIED_TITLE
from ecmiip.chat.review import (
    FALLBACK_NOTE,
    TYPE_ARTICLES,
    build_report,
    parse_answer,
    review,
    state_path,
    write_review,
)
from ecmiip.core.citations import verify_citations
from ecmiip.core.errors import InputError, OutputExistsError
from tests.doc_fixtures import CONTRACT_MD, contract_docx

DAY = date(2025, 6, 1)
N_PARTS, N_REVIEWED = 21, 19  # the fixture: 前言, 第一条…第十九条, 签署

GOOD_ANSWER = """风险等级：高
理由：该约定属于非法垄断技术，依据《中华人民共和国民法典》第八百五十条可能无效。
依据：《中华人民共和国民法典》第八百五十条、《中华人民共和国专利法》第九百条
修改建议：删除该条。"""


class FakeBackend:
    """A backend that answers every clause with ``answer`` (thinking first, which must be ignored)."""

    supports_logits = supports_tokenizer = supports_reset = False
    context_size = 8192
    last_stats = None

    def __init__(self, answer: str) -> None:
        self.answer, self.calls = answer, 0

    def stream(self, messages, *, think, sampling, max_tokens, stop_event=None):
        assert think is False and messages[0]["role"] == "system" and "合同条款审查" in messages[0]["content"]
        self.calls += 1
        yield Delta("thinking", "风险等级：低")
        yield Delta("content", self.answer)

    def count_tokens(self, messages, think) -> int:
        return sum(len(m["content"]) for m in messages)

    def close(self) -> None:
        pass


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    review_cli.register(parser.add_subparsers())
    args = parser.parse_args(["review", *argv])
    return args.handler(args)


def _sections(d) -> tuple[list[str], list[str]]:
    """Heading-2 texts under 逐条审查, and under the appendix."""
    clauses, appendix, where = [], [], None
    for p in d.paragraphs:
        if p.style.name == "Heading 1":
            where = p.text
        elif p.style.name == "Heading 2":
            (clauses if where == "逐条审查" else appendix if where == APPENDIX_TITLE else []).append(p.text)
    return clauses, appendix


def test_rules_only_end_to_end_docx(tmp_path):
    contract = contract_docx(tmp_path)
    assert _run([str(contract), "--rules-only", "--as-of", DAY.isoformat()]) == 0
    out = tmp_path / "license_contract-审查报告.docx"
    d = docx.Document(str(out))
    summary = d.tables[0]
    rows = [[c.text for c in row.cells] for row in summary.rows]
    assert rows[0] == ["条款", "类型", "风险等级", "要点"]
    assert len(rows) == 1 + N_PARTS
    assert rows[1][:3] == ["前言", "—", "未审查"]
    assert rows[3] == ["第二条（许可方式和范围）", "许可授予/范围/地域/期限、独占性", "中", "独占许可未提备案"]
    assert rows[12][2:] == ["高", "改进成果单向回授"] and rows[13][2:] == ["高", "不限期竞争限制"]
    clauses, appendix = _sections(d)
    assert clauses == [r[0] for r in rows[1:]]
    verified = [h for h in appendix if h != UNVERIFIED_TITLE]
    assert UNVERIFIED_TITLE not in appendix and verified
    assert all(c.ok for c in verify_citations("\n".join(verified), DAY))
    assert "《中华人民共和国民法典》第八百五十条" in verified
    assert not state_path(out).exists()
    with pytest.raises(OutputExistsError, match="--force"):
        _run([str(contract), "--rules-only"])
    assert _run([str(contract), "--rules-only", "--force", "--out", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# 合同条款审查报告：license_contract.docx")


def test_cli_refuses_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="--model"):
        _run([str(CONTRACT_MD)])
    with pytest.raises(InputError, match=r"\.docx 或 \.md"):
        _run([str(CONTRACT_MD), "--rules-only", "--out", str(tmp_path / "r.pdf")])
    with pytest.raises(InputError):
        _run([str(tmp_path / "missing.docx"), "--rules-only"])


def test_a_parsed_answer_raises_the_risk_and_its_citations_are_checked():
    doc = read_document(CONTRACT_MD)
    result = review(doc, FakeBackend(GOOD_ANSWER), model="fake", as_of=DAY, show_progress=False)
    assert [x.risk for x in result.reviews] == [None] + ["高"] * N_REVIEWED + [None]
    first = result.reviews[1].answer
    assert first.parsed and first.risk == "高" and first.suggestion == "删除该条。"
    assert [(c.text, c.ok) for c in first.citations] == [("《中华人民共和国民法典》第八百五十条", True),
                                                         ("《中华人民共和国专利法》第九百条", False)]
    md = build_report(result).markdown()
    assert "【模型，高】该约定属于非法垄断技术" in md
    assert "《中华人民共和国专利法》第九百条（未能核实：无此条" in md
    appendix = md[md.index("## " + APPENDIX_TITLE):]
    verified, unverified = appendix.split(UNVERIFIED_TITLE)
    assert "第九百条" not in verified and "- 《中华人民共和国专利法》第九百条（无此条" in unverified
    assert FALLBACK_NOTE not in md


def test_an_unparseable_answer_falls_back_to_the_rules():
    doc = read_document(CONTRACT_MD)
    result = review(doc, FakeBackend("的的的 assistant 。。 风险 something"), model="fake", as_of=DAY,
                    show_progress=False)
    assert all(not x.answer.parsed for x in result.reviews if x.clause.reviewed)
    rules_only = review(doc, None, as_of=DAY, show_progress=False)
    assert [x.risk for x in result.reviews] == [x.risk for x in rules_only.reviews]
    md = build_report(result).markdown()
    assert md.count(FALLBACK_NOTE) == N_REVIEWED


def test_parse_answer_is_lenient():
    a = parse_answer("好的。\n**风险等级**：【中】\n- 理由：第一行\n第二行\n法律依据：《中华人民共和国民法典》第八百六十四条\n"
                     "建议：改为……", DAY)
    assert (a.parsed, a.risk, a.reason, a.suggestion) == (True, "中", "第一行\n第二行", "改为……")
    assert [c.ok for c in a.citations] == [True]
    assert not parse_answer("风险等级：很高", DAY).parsed
    assert not parse_answer("", DAY).parsed


def test_interrupted_review_resumes_with_the_finished_clauses(tmp_path):
    doc = read_document(CONTRACT_MD)
    out = tmp_path / "report.docx"
    state, k = state_path(out), 3
    first = FakeBackend(GOOD_ANSWER)

    def stop_after_k(i, item):
        if first.calls == k:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        review(doc, first, model="m.gguf", state=state, as_of=DAY, on_clause=stop_after_k, show_progress=False)
    assert len(state.read_text(encoding="utf-8").splitlines()) == k
    second = FakeBackend(GOOD_ANSWER)
    result = review(doc, second, model="m.gguf", state=state, as_of=DAY, show_progress=False)
    assert (result.reused, second.calls) == (k, N_REVIEWED - k)
    other = FakeBackend(GOOD_ANSWER)  # another model: nothing reused
    assert review(doc, other, model="other.gguf", state=state, as_of=DAY, show_progress=False).reused == 0
    write_review(result, out, state=state)
    assert out.is_file() and not state.exists()


def test_the_articles_put_before_the_model_verify():
    names = [a for articles in TYPE_ARTICLES.values() for a in articles]
    assert all(c.ok for c in verify_citations("\n".join(names))), names
    assert len(segment_clauses(read_document(CONTRACT_MD).paragraphs)) == N_PARTS


@pytest.mark.slow
def test_review_with_the_tiny_model(tiny_qwen3_gguf, tmp_path):
    out = tmp_path / "report.docx"
    assert _run([str(CONTRACT_MD), "--model", str(tiny_qwen3_gguf), "--out", str(out), "--ctx", "4096",
                 "--as-of", DAY.isoformat()]) == 0
    d = docx.Document(str(out))
    rows = [[c.text for c in row.cells] for row in d.tables[0].rows]
    assert len(rows) == 1 + N_PARTS
    clauses, appendix = _sections(d)
    assert clauses == [r[0] for r in rows[1:]]
    verified = [h for h in appendix if h != UNVERIFIED_TITLE]
    assert all(c.ok for c in verify_citations("\n".join(verified), DAY))
    reasons = [p.text for p in d.paragraphs if p.text.startswith("理由：")]
    assert len(reasons) == N_REVIEWED  # each: the fallback note, or the model's parsed reason after the rules'
    assert all(FALLBACK_NOTE in r or "【模型，" in r for r in reasons)
    # the rules' high-risk clauses stay high whatever the model says
    assert rows[12][2] == "高" and rows[13][2] == "高"
    assert not state_path(out).exists()
