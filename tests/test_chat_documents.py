"""The chat client's document commands on a live session (the scripted Ollama of tests/fake_ollama.py):
passages under a small context, /review and /compare with the session's model, exports, /regenerate,
/copy without a clipboard, lasting sessions and --no-history."""

from __future__ import annotations

import os
import sqlite3

import pytest
from docx import Document as Docx

from ecmiip.chat.cli import main, number_ranges
from ecmiip.core.errors import EcmiipError, InputError
from tests import doc_fixtures
from tests.fake_ollama import ATTACHMENT_ANSWER, Handler
from tests.test_chat_cli import _chat


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_a_long_document_gives_the_best_passages_and_says_what_was_left_out(ollama, home, tmp_path):
    chat, buf = _chat(ollama, "--ctx", "2048")
    chat.command(f"/file {doc_fixtures.contract_docx(tmp_path)}")
    chat.ask("核对附件：改进技术的回授和竞争限制", interactive=True)
    sent = Handler.requests[-1]["messages"][-1]["content"]
    assert "〔第" in sent and "改进技术" in sent
    shown = sent.count("〔第")
    assert 3 <= shown < len(doc_fixtures.contract_paragraphs())
    assert "上下文放不下全部" in buf.getvalue() and "未提供第" in buf.getvalue()
    # 第3段 is in the document but, with 2,048 tokens, not among the passages this question got.
    assert "〔第3段〕" not in sent
    assert "⚠ 第3段 — 这一段本轮未提供给模型" in buf.getvalue()


def test_review_and_compare_with_the_sessions_model(ollama, home, tmp_path):
    chat, buf = _chat(ollama, "--ctx", "32768")
    with pytest.raises(InputError, match="/file"):
        chat.command("/review")
    chat.command(f"/file {doc_fixtures.contract_docx(tmp_path)}")
    chat.command("/review 审查报告.docx")
    doc = Docx(str(tmp_path / "审查报告.docx"))
    summary = doc.tables[0]
    assert [c.text for c in summary.rows[0].cells] == ["条款", "类型", "风险等级", "要点"]
    risks = {row.cells[0].text: row.cells[2].text for row in summary.rows[1:]}
    assert risks["第十一条（改进技术的归属）"] == "高" and risks["第十二条（竞争限制）"] == "高"
    assert "模型：ollama:fake" in "\n".join(p.text for p in doc.paragraphs)
    with pytest.raises(EcmiipError, match="已存在"):
        chat.command("/review 审查报告.docx")

    chat.command(f"/file {doc_fixtures.CLAIMS_TXT}")
    chat.command("/task 专利权利要求比对")
    chat.command(f"/file {doc_fixtures.PRODUCT_TXT}")
    assert "提示：/compare" in buf.getvalue()
    chat.command("/compare 比对表.md")
    table = (tmp_path / "比对表.md").read_text(encoding="utf-8")
    assert "缺失" in table and "不落入" in table


def test_export_regenerate_copy_and_a_session_that_lasts(ollama, home, tmp_path, monkeypatch):
    chat, buf = _chat(ollama, "--ctx", "32768")
    chat.command(f"/file {doc_fixtures.contract_docx(tmp_path)}")
    chat.ask("核对附件中的条款", interactive=True)
    assert chat.session.turns[-1].answer == ATTACHMENT_ANSWER
    assert chat.session.turns[-1].flagged == ["license_contract.docx 第999段"]

    chat.command("/regenerate")
    assert len(chat.session.turns) == 1  # replaced, not added
    chat.command("/export docx 文书 last")
    text = "\n".join(p.text for p in Docx(str(tmp_path / "文书.docx")).paragraphs)
    assert ATTACHMENT_ANSWER in text and "核对附件中的条款" not in text  # the answer only
    assert "非法垄断技术或者侵害他人技术成果的技术合同无效。" in text
    with pytest.raises(EcmiipError, match="已存在"):
        chat.command("/export docx 文书 last")

    monkeypatch.setenv("PATH", "")  # no clipboard tool: the answer goes to a private file
    chat.command("/copy")
    copied = next((home / "transcripts").glob("copy-*.md"))
    assert copied.read_text(encoding="utf-8").strip() == ATTACHMENT_ANSWER
    assert oct(copied.stat().st_mode & 0o777) == "0o600"

    chat.command("/rename 许可合同审查")
    db = sqlite3.connect(home / "history.sqlite3")
    assert db.execute("SELECT title FROM sessions").fetchall() == [("许可合同审查",)]
    assert db.execute("SELECT COUNT(*) FROM turns").fetchone() == (1,)  # /regenerate replaced the stored turn

    later, out = _chat(ollama, "--ctx", "32768", "--continue")
    later.open_session(later.history.latest())
    assert later.session.attachments[0].name == "license_contract.docx" and len(later.session.turns) == 1
    later.command("/delete 1")
    assert later.history.sessions() == []


def test_no_history_leaves_nothing_behind(ollama, home, tmp_path, capsys):
    contract = doc_fixtures.contract_docx(tmp_path)
    assert main(["--ollama", "fake", "--ollama-host", ollama, "--no-history", "--file", str(contract),
                 "-p", "核对附件"]) == 0
    assert "〔第3段〕" in capsys.readouterr().out
    assert not home.exists() or not any(os.scandir(home))
    assert main(["--ollama", "fake", "--ollama-host", ollama, "--file", str(contract), "-p", "核对附件"]) == 0
    assert (home / "history.sqlite3").is_file()  # a one-shot answer is kept too, unless --no-history
    assert main(["--no-history", "--history", "x"]) == 1
    assert "不能同时使用" in capsys.readouterr().err


def test_left_out_paragraphs_are_named_as_runs():
    assert number_ranges([9, 1, 2, 3, 5, 6, 8]) == "1–3、5–6、8–9"
    assert number_ranges(list(range(1, 100, 2)), most=3) == "1、3、5…"
    assert number_ranges([]) == ""


def test_clause_numbers_in_an_answer_are_checked_against_the_contract(ollama, home, tmp_path):
    from ecmiip.chat.clauses import clause_refs, segment_clauses
    from ecmiip.chat.documents import read_document

    clauses = segment_clauses(read_document(doc_fixtures.contract_docx(tmp_path)).paragraphs)
    answer = "本合同第十一条约定无偿回授，协议第12条限制竞争；《中华人民共和国合同法》第三条不算；合同第三十条不存在。"
    refs = clause_refs(answer, clauses)
    assert [(r.text, r.number, r.clause.name if r.clause else None) for r in refs] == [
        ("本合同第十一条", 11, "第十一条（改进技术的归属）"),
        ("协议第12条", 12, "第十二条（竞争限制）"),
        ("合同第三十条", 30, None),
    ]
