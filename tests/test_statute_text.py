"""Reading statute texts in every supported format and cutting them into articles (ecmiip.core.statute_text).

The fixture law 中华人民共和国示例法 is fictional; tests/data/statutes/ holds it as Markdown (two versions)
and as a web page. Word, GB18030 text and PDF files are written at test time from the same kind of text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ecmiip.core.errors import InputError
from ecmiip.core.statute_text import (
    SUPPORTED_SUFFIXES,
    ParsedArticle,
    _unmarkdown,
    _unwrap,
    parse_file,
    read_lines,
    segment,
)

DATA = Path(__file__).parent / "data" / "statutes"
TITLE = "中华人民共和国示例法"
ART1 = "为了保护示例标志权利人的合法权益，规范示例标志的登记和使用，促进创新和经济社会发展，制定本法。"
ART2 = (
    "在中华人民共和国境内登记、使用示例标志，适用本法。\n"
    "本法所称示例标志，是指能够将特定来源的示例成果与其他来源的示例成果区别开的文字、图形或者其组合。"
)
ART3 = (
    "国务院示例标志主管部门负责全国示例标志的登记和管理工作。\n"
    "县级以上地方人民政府示例标志主管部门负责本行政区域内的示例标志管理工作。"
)
ART5 = "申请示例标志登记的，应当提交下列文件：\n（一）申请书；\n（二）示例标志图样；\n（三）申请人的身份证明文件。\n申请文件应当使用中文。"
ART6 = (
    "两个以上的申请人就同一示例标志申请登记的，登记给最先申请的人。不属于本法第二条所称示例标志的，不予登记。"
)
CH1, CH2, CH3, CH4 = "第一章 总则", "第二章 示例标志的登记", "第三章 法律责任", "第四章 附则"
SEC1, SEC2 = "第一节 申请", "第二节 审查"


def _by_label(report) -> dict[str, ParsedArticle]:
    return {a.label: a for a in report.articles}


# ------------------------------------------------------------------------------------------- Markdown


def test_markdown_law_is_cut_into_articles_under_their_headings():
    report = parse_file(DATA / "sample_law.md")
    assert report.source.endswith("sample_law.md")
    assert report.title == TITLE
    assert report.header[0] == TITLE
    assert report.header[1].startswith("（2018年6月1日第十三届全国人民代表大会常务委员会第三次会议通过")
    assert report.header[2] == "目\u3000\u3000录"
    assert [(a.label, a.number, a.sub, a.chapter, a.section, a.line) for a in report.articles] == [
        ("第一条", 1, None, CH1, "", 11),
        ("第二条", 2, None, CH1, "", 12),
        ("第三条", 3, None, CH1, "", 14),
        ("第四条", 4, None, CH1, "", 16),
        ("第五条", 5, None, CH2, SEC1, 19),
        ("第六条", 6, None, CH2, SEC1, 24),
        ("第七条", 7, None, CH2, SEC1, 25),
        ("第八条", 8, None, CH2, SEC2, 27),
        ("第九条", 9, None, CH2, SEC2, 28),
        ("第十条", 10, None, CH2, SEC2, 29),
        ("第十条之一", 10, 1, CH2, SEC2, 30),
        ("第十二条", 12, None, CH3, "", 32),  # written 第12条 in the file
        ("第十三条", 13, None, CH3, "", 34),
        ("第十四条", 14, None, CH4, "", 36),
    ]
    assert all(a.part == "" for a in report.articles)
    arts = _by_label(report)
    assert arts["第一条"].text == ART1
    assert arts["第二条"].text == ART2
    assert arts["第五条"].text == ART5
    assert arts["第六条"].text == ART6  # 本法第二条 inside the sentence starts nothing
    assert arts["第十条之一"].text == "示例标志主管部门应当建立示例标志信息公开制度，方便公众查询。"
    assert arts["第十二条"].text.endswith("\n有前款规定情形，情节严重的，由示例标志主管部门依法从重处罚。")
    assert arts["第十四条"].text == "本法自2022年1月1日起施行。"
    assert report.gaps == ["第十条之后是第十二条（缺第十一条）"]  # 第十条之一 is no gap
    assert report.duplicates == []
    assert report.unparsed == []


def test_markdown_lines_lose_their_marks_and_keep_their_words():
    lines = read_lines(DATA / "sample_law.md")
    assert lines[0] == TITLE
    assert lines[10].startswith("第一条\u3000为了保护")
    assert lines[16] == "第二章\u3000示例标志的登记"
    assert not any(line.startswith(("#", "*")) or "**" in line for line in lines)
    assert _unmarkdown("- **第一条**　为了……") == "第一条　为了……"
    assert _unmarkdown("> ### 第一章 总则 ###") == "第一章 总则"
    assert _unmarkdown("1\\. 申请书；") == "1. 申请书；"
    assert _unmarkdown("1. 申请书；") == "1. 申请书；"
    assert (
        _unmarkdown("见[国家法律法规数据库](https://flk.npc.gov.cn)*公布*的文本")
        == "见国家法律法规数据库公布的文本"
    )
    assert _unmarkdown("第一款<br>第二款") == "第一款\n第二款"
    assert _unmarkdown("---") == ""


def test_revised_version_renumbers_after_the_inserted_article():
    v1, v2 = parse_file(DATA / "sample_law.md"), parse_file(DATA / "sample_law_v2.md")
    assert v2.title == TITLE  # "中华人民共和国示例法（2025修订）" without its version tail
    assert any("2025年3月1日" in line and "修订" in line for line in v2.header)
    assert v2.gaps == [] and v2.duplicates == [] and v2.unparsed == []
    labels = [a.label for a in v2.articles]
    assert labels == [f"第{n}条" for n in "一二三四五六七八九十"] + [
        "第十一条",
        "第十一条之一",
        "第十二条",
        "第十三条",
        "第十四条",
        "第十五条",
    ]
    old, new = _by_label(v1), _by_label(v2)
    assert new["第三条"].text == "国家鼓励示例标志的创新和合理利用，支持示例标志信息的数字化服务。"
    moved = {
        "第三条": "第四条",
        "第五条": "第六条",
        "第六条": "第七条",
        "第十条之一": "第十一条之一",
        "第十二条": "第十三条",
        "第十四条": "第十五条",
    }
    for was, now in moved.items():
        assert old[was].chapter == new[now].chapter
        if was != "第十四条":
            assert old[was].text == new[now].text
    assert new["第九条"].text.startswith("示例标志主管部门应当自收到申请之日起六个月内完成审查")
    assert old["第八条"].text != new["第九条"].text
    assert new["第十二条"].section == SEC2  # the article the v1 copy lost


# ------------------------------------------------------------------------------------------------ HTML


def test_html_page_reports_duplicates_page_numbers_and_attachment():
    report = parse_file(DATA / "sample_law.html")
    assert report.title == TITLE  # not the breadcrumb above it, which also ends in 法
    assert report.header[0] == "首页 > 法律法规 > 中华人民共和国示例法"
    assert report.header[3].startswith("根据2021年4月29日")  # <br> inside one <p>
    assert [(a.label, a.chapter, a.section, a.line) for a in report.articles] == [
        ("第一条", CH1, "", 6),
        ("第二条", CH1, "", 7),
        ("第三条", CH1, "", 9),
        ("第五条", CH2, SEC1, 15),
        ("第六条", CH2, SEC1, 21),
    ]
    arts = _by_label(report)
    assert arts["第一条"].text == ART1  # a source line break between Chinese characters is no space
    assert arts["第二条"].text == ART2  # &nbsp;&nbsp; separator, <br/> between the paragraphs
    assert arts["第三条"].text == ART3  # "- 2 -" set aside, the repeat of 第三条 dropped
    assert arts["第五条"].text == ART5  # <span> around the label; "第 3 页" set aside
    assert arts["第六条"].text == ART6
    assert report.duplicates == [("第三条", 12)]
    assert report.gaps == ["第三条之后是第五条（缺第四条）"]
    assert report.unparsed == [
        (10, "- 2 -"),
        (18, "第 3 页"),
        (22, "附件：示例标志登记申请书（格式）"),
        (23, "申请人名称："),
        (24, "返回顶部"),
    ]
    assert not any(
        "不是条文" in line or "也不是" in line or "text-indent" in line
        for line in read_lines(DATA / "sample_law.html")
    )


def test_html_in_gbk_is_decoded_by_its_declared_charset(tmp_path):
    page = tmp_path / "law.htm"
    page.write_bytes(
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
        "<p>第一条　为了保护示例标志。</p><p>第二条　本法自公布之日起施行。</p></body></html>".encode("gbk")
    )
    assert [a.text for a in parse_file(page).articles] == ["为了保护示例标志。", "本法自公布之日起施行。"]


# ------------------------------------------------------------------------------------------------ Word


def _write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(TITLE, level=1)
    document.add_paragraph("（2018年6月1日第十三届全国人民代表大会常务委员会第三次会议通过）")
    document.add_paragraph("第一章　总　　则")
    document.add_paragraph("第一条　" + ART1)
    second = document.add_paragraph("第二条　" + ART2.split("\n")[0])
    second.add_run().add_break()  # a line break inside one Word paragraph
    second.add_run(ART2.split("\n")[1])
    table = document.add_table(rows=2, cols=2)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "第三条　" + ART3.split("\n")[0]
    table.cell(1, 0).text = ART3.split("\n")[1]
    table.cell(1, 1).text = "第四条　申请登记和使用示例标志，应当遵循诚实信用原则。"
    document.add_paragraph("")
    document.add_paragraph("第二章　示例标志的登记")
    document.add_paragraph("第1节　申请")
    document.add_paragraph("第5条　" + ART5.split("\n")[0])
    for line in ART5.split("\n")[1:]:
        document.add_paragraph(line)
    document.save(str(path))
    return path


def test_docx_paragraphs_and_table_cells_in_document_order(tmp_path):
    report = parse_file(_write_docx(tmp_path / "示例法.docx"))
    assert report.title == TITLE
    assert [(a.label, a.chapter, a.section, a.line) for a in report.articles] == [
        ("第一条", CH1, "", 4),
        ("第二条", CH1, "", 5),
        ("第三条", CH1, "", 7),  # merged table cell, read once
        ("第四条", CH1, "", 9),
        ("第五条", CH2, SEC1, 12),
    ]
    arts = _by_label(report)
    assert (arts["第一条"].text, arts["第二条"].text, arts["第三条"].text) == (ART1, ART2, ART3)
    assert arts["第五条"].text == ART5
    assert report.gaps == [] and report.duplicates == [] and report.unparsed == []


@pytest.mark.parametrize("content", [b"this is not a zip", b"PK\x03\x04broken"])
def test_corrupt_docx_is_an_input_error_naming_the_file(tmp_path, content):
    bad = tmp_path / "损坏的法.docx"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="损坏的法.docx: not a readable Word .docx file"):
        read_lines(bad)


def test_zip_that_is_no_word_document_is_an_input_error(tmp_path):
    import zipfile

    bad = tmp_path / "archive.docx"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="archive.docx"):
        read_lines(bad)


# ------------------------------------------------------------------------------------------- plain text


def test_gb18030_text_is_decoded(tmp_path):
    text = (
        f"{TITLE}\r\n\r\n第一章　总　则\r\n第一条　{ART1}\r\n第二条　{ART2}\r\n\u3000\u3000第3条 {ART3}\r\n"
    )
    path = tmp_path / "示例法.txt"
    path.write_bytes(text.encode("gb18030"))
    report = parse_file(path)
    assert [(a.label, a.text, a.line) for a in report.articles] == [
        ("第一条", ART1, 3),
        ("第二条", ART2, 4),
        ("第三条", ART3, 6),
    ]
    assert report.articles[0].chapter == CH1 and report.header == [TITLE]


def test_utf8_with_bom_and_utf16_text_are_decoded(tmp_path):
    for encoding in ("utf-8-sig", "utf-16"):
        path = tmp_path / f"{encoding}.txt"
        path.write_bytes(f"第一条　{ART1}\n".encode(encoding))
        assert read_lines(path) == [f"第一条\u3000{ART1}"]


def test_undecodable_text_is_an_input_error(tmp_path):
    path = tmp_path / "乱码.txt"
    path.write_bytes("第一条".encode() + b"\x80\xff\x81 end")
    with pytest.raises(InputError, match="乱码.txt: neither UTF-8 nor GB18030"):
        read_lines(path)


def test_text_without_articles_is_refused():
    with pytest.raises(InputError, match=r"garbage\.txt: no recognisable article \(第一条 …\)"):
        parse_file(DATA / "garbage.txt")


def test_unsupported_or_missing_file_is_an_input_error(tmp_path):
    rtf = tmp_path / "law.rtf"
    rtf.write_text("{\\rtf1 第一条}")
    with pytest.raises(InputError, match="law.rtf: unsupported file type '.rtf'") as info:
        read_lines(rtf)
    assert all(s in str(info.value) for s in SUPPORTED_SUFFIXES)
    with pytest.raises(InputError, match="nowhere.txt: no such file"):
        read_lines(tmp_path / "nowhere.txt")


# ------------------------------------------------------------------------------------------------- PDF


def _write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose text layer holds ``pages`` (lists of lines), Chinese included: a Type0 font with a
    ToUnicode map and no glyphs, which is all a text extractor reads."""
    chars = sorted({c for page in pages for line in page for c in line})
    cid = {c: i + 1 for i, c in enumerate(chars)}
    bfchar = "".join(f"<{cid[c]:04X}> <{ord(c):04X}>\n" for c in chars)
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{len(chars)} beginbfchar\n{bfchar}endbfchar\nendcmap CMapName currentdict /CMap defineresource pop end end"
    )
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "",  # the page tree, once the pages are numbered
        "<< /Type /Font /Subtype /Type0 /BaseFont /Fake /Encoding /Identity-H /DescendantFonts [4 0 R] "
        "/ToUnicode 5 0 R >>",
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Fake /CIDSystemInfo "
        "<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
        f"<< /Length {len(cmap.encode())} >>\nstream\n{cmap}\nendstream",
    ]
    kids = []
    for page in pages:
        ops = "".join(
            f"BT /F1 10 Tf 50 {780 - 14 * i} Td <{''.join(f'{cid[c]:04X}' for c in line)}> Tj ET\n"
            for i, line in enumerate(page)
        )
        objs.append(f"<< /Length {len(ops)} >>\nstream\n{ops}endstream")
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {len(objs)} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(f"{len(objs)} 0 R")
    objs[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def test_pdf_text_layer_with_lines_broken_at_the_page_width(tmp_path):
    pytest.importorskip("pypdf")
    # Lines of 24 characters, as a narrow PDF page breaks them; the last paragraph runs onto page 2.
    page1 = [
        TITLE,
        "第一章　总　　则",
        "第一条　为了保护示例标志权利人的合法权益，规范",
        "示例标志的登记和使用，促进创新和经济社会发展，",
        "制定本法。",
        "第二条　在中华人民共和国境内登记、使用示例标志",
        "，适用本法。",
        "（一）申请书；",
        "第三条　国务院示例标志主管部门负责全国示例标志",
        "- 1 -",
    ]
    page2 = ["的登记和管理工作。", "第四条　申请登记和使用示例标志，应当遵循诚实信", "用原则。", "- 2 -"]
    report = parse_file(_write_pdf(tmp_path / "示例法.pdf", [page1, page2]))
    assert report.title == TITLE
    assert [(a.label, a.text, a.line) for a in report.articles] == [
        ("第一条", ART1, 3),
        ("第二条", "在中华人民共和国境内登记、使用示例标志，适用本法。\n（一）申请书；", 4),
        ("第三条", "国务院示例标志主管部门负责全国示例标志的登记和管理工作。", 6),
        ("第四条", "申请登记和使用示例标志，应当遵循诚实信用原则。", 8),
    ]
    assert report.unparsed == [(7, "- 1 -"), (9, "- 2 -")]


def test_unwrap_keeps_short_and_finished_lines():
    lines = ["第一条　这是一行写满了的条文文字，没有句号结束", "接下来的文字。", "第二条　短。", "（一）项；"]
    assert _unwrap(lines) == [
        "第一条　这是一行写满了的条文文字，没有句号结束接下来的文字。",
        "第二条　短。",
        "（一）项；",
    ]


def test_scanned_pdf_without_text_layer_is_an_input_error(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "scan.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    with pytest.raises(InputError, match="scan.pdf: the PDF has no text layer .*national law database"):
        read_lines(path)


def test_pdf_without_pypdf_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pypdf", None)
    path = tmp_path / "law.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(InputError, match="law.pdf: reading PDF needs pypdf; run `pip install pypdf`"):
        read_lines(path)


def test_damaged_pdf_is_an_input_error(tmp_path):
    pytest.importorskip("pypdf")
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nnothing else")
    with pytest.raises(InputError, match="broken.pdf: not a readable PDF"):
        read_lines(path)


# ------------------------------------------------------------------------------------------ segmenting


def test_article_mentioned_at_line_start_inside_a_sentence_starts_nothing():
    report = segment(
        [
            "第十一条　违反本法规定的，责令改正。",
            "第十一条规定的罚款，由示例标志主管部门决定。",
            "第十条、第十一条的规定适用于外国人。",
            "第十条之规定同样适用。",
            "第十二条：有下列情形之一的，不予登记：",
            "1.违反法律的；",
            "第十三条为了说明没有空格的条文。",
            "第10条之1　阿拉伯数字的之一条。",
        ],
        "x.txt",
    )
    assert [(a.label, a.line) for a in report.articles] == [
        ("第十一条", 1),
        ("第十二条", 5),
        ("第十三条", 7),
        ("第十条之一", 8),
    ]
    assert report.articles[0].text == (
        "违反本法规定的，责令改正。\n第十一条规定的罚款，由示例标志主管部门决定。\n"
        "第十条、第十一条的规定适用于外国人。\n第十条之规定同样适用。"
    )
    assert report.articles[1].text == "有下列情形之一的，不予登记：\n1.违反法律的；"
    assert report.articles[2].text == "为了说明没有空格的条文。"
    assert report.gaps == ["条文从第十一条开始（缺第一条至第十条）"]


def test_parts_subparts_chapters_and_sections_reset_each_other():
    report = segment(
        [
            "第一编　总　　则",
            "第一章　基本规定",
            "第一节　一般规定",
            "第一条　甲。",
            "第二章　民事权利",
            "第二条　乙。",
            "第三编　合　　同",
            "第一分编　通　　则",
            "第一章　一般规定",
            "第三条　丙。",
            "第四编　人格权",
            "第四条　丁。",
        ],
        "x",
    )
    assert [(a.part, a.chapter, a.section) for a in report.articles] == [
        ("第一编 总则", "第一章 基本规定", "第一节 一般规定"),
        ("第一编 总则", "第二章 民事权利", ""),
        ("第三编 合同 / 第一分编 通则", "第一章 一般规定", ""),
        ("第四编 人格权", "", ""),
    ]


def test_gaps_duplicates_and_unparsed_lines_are_reported_with_line_numbers():
    report = segment(
        [
            "示例条例",  # 1
            "第一条　一。",  # 2
            "第二条　二。",  # 3
            "第 1 页 共 3 页",  # 4
            "第二条　二的重复。",  # 5
            "重复条文的第二款。",  # 6
            "第四条　四。",  # 7
            "第八条　八。",  # 8
            "第一章　新的章",  # 9
            "章名之后、条文之前的一行。",  # 10
            "第一条　另一个文件从头开始。",  # 11
            "第二条　二。",  # 12
            "Copyright 2025 example.org",  # 13
            "附　则",  # 14: a heading word, not an attachment
            "第三条　三。",  # 15
            "第五条　五。",  # 16
            "附件1：申请书格式",  # 17
            "第一条　附件里的条文不算。",  # 18
        ],
        "x",
    )
    assert report.title == "示例条例"
    assert report.header == ["示例条例"]
    assert [(a.label, a.line) for a in report.articles] == [
        ("第一条", 2),
        ("第二条", 3),
        ("第四条", 7),
        ("第八条", 8),
        ("第三条", 15),
        ("第五条", 16),
    ]
    assert report.duplicates == [("第二条", 5), ("第一条", 11), ("第二条", 12)]
    assert report.gaps == [
        "第二条之后是第四条（缺第三条）",
        "第四条之后是第八条（缺第五条至第七条）",
        "第八条之后是第三条（编号倒退）",
        "第三条之后是第五条（缺第四条）",
    ]
    assert report.unparsed == [
        (4, "第 1 页 共 3 页"),
        (10, "章名之后、条文之前的一行。"),
        (13, "Copyright 2025 example.org"),
        (17, "附件1：申请书格式"),
        (18, "第一条　附件里的条文不算。"),
    ]
    assert report.articles[3].text == "八。"
    assert report.articles[4].text == "三。"


def test_two_missing_articles_and_title_forms():
    report = segment(["《示例规定》（2020修正）", "第一条　一。", "第四条　四。"], "x")
    assert report.title == "示例规定"
    assert report.gaps == ["第一条之后是第四条（缺第二条、第三条）"]
    assert segment(["（2020年1月1日通过）", "第一条　一。"], "x").title == ""
