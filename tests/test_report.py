"""chat/report.py: the same report as .docx (read back with python-docx) and Markdown, an appendix that
shows only verified articles, refusal to overwrite, and no partial file when writing fails."""

from __future__ import annotations

from datetime import date

import docx
import pytest
from docx.oxml.ns import qn

from ecmiip.chat.report import APPENDIX_TITLE, UNVERIFIED_TITLE, Report
from ecmiip.core.errors import InputError, OutputExistsError

DAY = date(2025, 6, 1)
CITING = ("该条款属于《中华人民共和国民法典》第八百五十条规定的非法垄断技术；另见《中华人民共和国专利法》第九百条"
          "和《中华人民共和国劳动合同法》第二十三条。")


def _report() -> Report:
    r = Report("许可合同审查报告", "文件：合同.docx")
    r.heading("一、摘要")
    r.paragraph("第一行\n第二行", bold_prefix="风险等级：")
    r.bullets(["要点甲", "要点|乙"])
    r.table(["条款", "类型", "风险等级"], [["第一条", "定义", "低"], ["第二条", "许可授予", "高"]])
    r.heading("二、细节", 2)
    return r


def test_docx_reads_back_with_headings_tables_and_east_asian_font(tmp_path):
    r = _report()
    r.citations_appendix([CITING], as_of=DAY)
    out = r.write(tmp_path / "r.docx")
    d = docx.Document(str(out))
    styled = [(p.style.name, p.text) for p in d.paragraphs if p.text]
    assert styled[0] == ("Title", "许可合同审查报告")
    assert styled[1] == ("Subtitle", "文件：合同.docx")
    headings = [(s, t) for s, t in styled if s.startswith("Heading")]
    assert headings == [("Heading 1", "一、摘要"), ("Heading 2", "二、细节"), ("Heading 1", APPENDIX_TITLE),
                        ("Heading 2", "《中华人民共和国民法典》第八百五十条"), ("Heading 2", UNVERIFIED_TITLE)]
    assert ("Normal", "风险等级：第一行\n第二行") in styled
    bold = [run.text for p in d.paragraphs for run in p.runs if run.bold]
    assert "风险等级：" in bold
    assert [p.text for p in d.paragraphs if p.style.name == "List Bullet"][:2] == ["要点甲", "要点|乙"]
    (table,) = d.tables
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["条款", "类型", "风险等级"], ["第一条", "定义", "低"], ["第二条", "许可授予", "高"]]
    assert all(run.bold for run in table.rows[0].cells[0].paragraphs[0].runs)
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    fonts = d.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "宋体" and fonts.get(qn("w:eastAsiaTheme")) is None
    assert d.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"


def test_markdown_has_the_same_content():
    md = _report().markdown()
    assert md.startswith("# 许可合同审查报告\n\n文件：合同.docx\n\n## 一、摘要\n")
    assert "**风险等级：**第一行  \n第二行" in md
    assert "- 要点|乙" in md
    assert "| 条款 | 类型 | 风险等级 |\n|---|---|---|\n| 第一条 | 定义 | 低 |\n| 第二条 | 许可授予 | 高 |" in md
    assert "### 二、细节" in md


def test_appendix_holds_only_verified_articles():
    r = Report("报告")
    checks = r.citations_appendix([CITING, "重复引用《中华人民共和国民法典》第八百五十条"], as_of=DAY)
    assert [(c.text, c.ok) for c in checks] == [("《中华人民共和国民法典》第八百五十条", True),
                                                ("《中华人民共和国专利法》第九百条", False),
                                                ("《中华人民共和国劳动合同法》第二十三条", False)]
    md = r.markdown()
    appendix = md[md.index(APPENDIX_TITLE):]
    verified, unverified = appendix.split(UNVERIFIED_TITLE)
    assert "非法垄断技术或者侵害他人技术成果的技术合同无效。" in verified
    assert "**版本：**2020" in verified and "现行有效" in verified
    assert verified.count("### 《中华人民共和国民法典》第八百五十条") == 1
    assert "第九百条" not in verified and "劳动合同法" not in verified
    assert "- 《中华人民共和国专利法》第九百条（无此条" in unverified
    assert "- 《中华人民共和国劳动合同法》第二十三条（库中无此法" in unverified
    assert "条文：" not in unverified


def test_appendix_without_citations_says_so():
    r = Report("报告")
    assert r.citations_appendix(["没有引用任何法条。"]) == []
    assert "正文未引用法条。" in r.markdown()


def test_existing_file_is_refused_without_force(tmp_path):
    out = tmp_path / "r.md"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="--force"):
        _report().write(out)
    assert out.read_text(encoding="utf-8") == "old"
    _report().write(out, force=True)
    assert out.read_text(encoding="utf-8").startswith("# 许可合同审查报告")


def test_other_suffixes_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"\.docx 或 \.md"):
        _report().write(tmp_path / "r.pdf")


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    class Boom:
        def save(self, path):
            with open(path, "wb") as f:
                f.write(b"PK half a file")
            raise KeyboardInterrupt

    monkeypatch.setattr(Report, "docx", lambda self: Boom())
    with pytest.raises(KeyboardInterrupt):
        _report().write(tmp_path / "r.docx")
    assert list(tmp_path.iterdir()) == []


def test_rows_must_match_the_header():
    with pytest.raises(ValueError, match="row 1"):
        Report("x").table(["a", "b"], [["only one"]])
