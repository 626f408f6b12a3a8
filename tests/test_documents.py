"""Attached documents read as numbered paragraphs: every format of the contract fixture reads back the
same paragraphs, and every bad input is one clear Chinese line naming the file (never a traceback)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from ecmiip.chat import documents
from ecmiip.chat.documents import GBK_NOTE, UTF16_NOTE, read_document
from ecmiip.core.errors import InputError
from tests import doc_fixtures as F

CONTRACT = F.contract_paragraphs()


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """One folder with the generated fixtures, written once for the module."""
    folder = tmp_path_factory.mktemp("documents")
    for write in (F.contract_docx, F.contract_pdf, F.owner_only_pdf, F.encrypted_pdf, F.scanned_pdf,
                  F.partly_scanned_pdf, F.product_docx):
        write(folder)
    return folder


def refused(path: Path, *words: str) -> str:
    """The refusal for ``path``: an InputError of one line naming the file and holding ``words``."""
    with pytest.raises(InputError) as caught:
        read_document(path)
    message = str(caught.value)
    assert "\n" not in message and path.name in message, message
    for word in words:
        assert word in message, message
    return message


# --- the contract in every format ---------------------------------------------------------------------

def test_contract_fixture_has_what_the_review_needs():
    clauses = [t for t in CONTRACT if re.fullmatch(r"第[一二三四五六七八九十]+条 \S+", t)]
    assert len(clauses) == 19 and clauses[0] == "第一条 定义" and clauses[-1] == "第十九条 其他"
    text = "\n".join(CONTRACT)
    assert "独占实施许可" in text and "备案" not in text          # exclusive licence, no 备案
    assert "无偿转让给甲方" in text and "许可甲方独占地、无偿地实施" in text  # one-way grant-back
    assert "本合同终止后乙方仍应永久遵守" in text                   # non-compete without time limit
    assert "（一）许可期限届满；" in CONTRACT and "1.1 “许可专利”是指甲方拥有的专利号为ZL202010123456.7的发明专利。" in CONTRACT


def test_markdown_contract_paragraphs_exactly():
    doc = read_document(F.CONTRACT_MD)
    assert doc.kind == "md" and doc.notes == () and doc.name == "license_contract.md"
    assert [p.text for p in doc.paragraphs] == CONTRACT
    assert [p.number for p in doc.paragraphs] == list(range(1, 90))
    assert all(p.page is None for p in doc.paragraphs)
    by_number = {p.number: p.text for p in doc.paragraphs}
    assert by_number[1] == "专利与技术秘密实施许可合同"                       # '# ' dropped
    assert by_number[10] == "第一条 定义"                                     # '## ' dropped
    assert by_number[26] == "费用项目 | 金额或比例 | 支付时间"                 # table row; |---| row gone
    assert by_number[27] == "入门费 | 人民币300万元 | 本合同生效后15个工作日内"
    assert by_number[53] == "第十一条 改进技术的归属"
    assert by_number[89] == "签订日期：2024年3月18日"
    assert doc.text() == "\n".join(CONTRACT)


def test_docx_contract_reads_back_paragraphs_and_table_in_order(made):
    doc = read_document(made / "license_contract.docx")
    assert doc.kind == "docx" and doc.notes == ()
    assert [p.text for p in doc.paragraphs] == CONTRACT
    assert docx.Document(str(made / "license_contract.docx")).paragraphs[9].style.name == "Heading 1"


def test_pdf_contract_rejoins_wrapped_lines_and_keeps_pages(made):
    doc = read_document(made / "license_contract.pdf")
    assert doc.kind == "pdf" and doc.notes == ()
    assert [p.text for p in doc.paragraphs] == CONTRACT   # wrapped lines joined, "- N -" footers gone
    pages = [p.page for p in doc.paragraphs]
    assert pages == sorted(pages) and pages[0] == 1 and pages[-1] == len(PdfReader(made / "license_contract.pdf").pages) > 2
    # the PDF really is wrapped: its raw text has more lines than paragraphs, and page numbers
    raw = "\n".join(p.extract_text() for p in PdfReader(made / "license_contract.pdf").pages)
    assert "- 2 -" in raw and len(raw.splitlines()) > len(CONTRACT) + 20


def test_pdf_with_empty_open_password_opens(made, tmp_path):
    assert [p.text for p in read_document(made / "owner_only.pdf").paragraphs] == CONTRACT
    aes = tmp_path / "aes_owner_only.pdf"                  # AES-256, as Acrobat "restrict editing" writes
    writer = PdfWriter(clone_from=made / "license_contract.pdf")
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    writer.write(aes)
    assert [p.text for p in read_document(aes).paragraphs] == CONTRACT


def test_partly_scanned_pdf_reads_the_text_and_tells_which_pages_were_not(made):
    doc = read_document(made / "partly_scanned.pdf")
    assert [(p.text, p.page) for p in doc.paragraphs] == [("第一条 本页有文字层。", 1)]
    assert len(doc.notes) == 1 and "第 2 页" in doc.notes[0] and "OCR" in doc.notes[0]


# --- the claim and the product ------------------------------------------------------------------------

def test_claims_and_product_fixtures():
    claims = read_document(F.CLAIMS_TXT)
    assert [p.number for p in claims.paragraphs] == [1, 2]
    claim1, claim2 = (p.text for p in claims.paragraphs)
    assert claim1.startswith("1. 一种便携式榨汁杯，其特征在于，包括：") and claim1.endswith("。")
    assert claim1.count("；") == 5                                         # six features
    assert claim2.startswith("2. 根据权利要求1所述的便携式榨汁杯")
    product = read_document(F.PRODUCT_TXT)
    assert len(product.paragraphs) == 9
    text = product.text()
    assert "卡扣式连接" in text and "螺纹" not in text                       # equivalent of 螺纹连接
    assert "未设置任何按键、开关或触点" in text and "安全开关" not in text    # the safety switch is missing


def test_product_docx_matches_the_text(made):
    assert read_document(made / "product.docx").text() == read_document(F.PRODUCT_TXT).text()


# --- text files ---------------------------------------------------------------------------------------

def test_gbk_text_is_read_and_the_user_told(tmp_path):
    doc = read_document(F.gbk_text(tmp_path))
    assert [p.text for p in doc.paragraphs] == F.GBK_LINES and doc.notes == (GBK_NOTE,)


@pytest.mark.parametrize("encoding, note", [("utf-8", ()), ("utf-8-sig", ()), ("utf-16", (UTF16_NOTE,))])
def test_unicode_encodings(tmp_path, encoding, note):
    path = tmp_path / "a.txt"
    path.write_bytes("第一条 甲方\r\n\r\n第二条 乙方\n".encode(encoding))
    doc = read_document(path)
    assert [p.text for p in doc.paragraphs] == ["第一条 甲方", "第二条 乙方"] and doc.notes == note


def test_one_line_per_paragraph_is_never_merged(tmp_path):
    lines = ["技术开发合同", "甲方：某某公司", "乙方：某某大学", "一、项目名称", "（一）研究内容",
             "1. 开发目标", "1.1 指标", "本合同自签字之日起生效"]
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert [p.text for p in read_document(path).paragraphs] == lines


def test_hard_wrapped_text_is_joined_but_clause_starts_are_not(tmp_path):
    first = "乙方在本合同有效期内对许可专利作出的任何改进技术，应在完成后三十日内告知甲方，并由双方协商确定其归属和使用方式。"
    second = "甲方对许可专利作出的改进技术归甲方所有，乙方使用的，应当另行订立合同并支付使用费，但双方另有约定的除外。"
    wrapped = [first[i:i + 20] for i in range(0, len(first), 20)] + ["第二条 改进"] \
        + [second[i:i + 20] for i in range(0, len(second), 20)]
    path = tmp_path / "wrapped.txt"
    path.write_text("\n".join(wrapped), encoding="utf-8")
    assert [p.text for p in read_document(path).paragraphs] == [first, "第二条 改进", second]


def test_markdown_marks(tmp_path):
    path = tmp_path / "a.md"
    path.write_text("# 标题\n\n---\n\n## 第一条 定义\n| 甲 | 乙 |\n|:---|---:|\n| 1 | 2 |\n```\n正文\n", encoding="utf-8")
    assert [p.text for p in read_document(path).paragraphs] == ["标题", "第一条 定义", "甲 | 乙", "1 | 2", "正文"]


# --- Word ---------------------------------------------------------------------------------------------

def test_docx_merged_cells_once_layout_tables_by_paragraph_and_auto_numbering_noted(tmp_path):
    document = docx.Document()
    document.add_paragraph("第一条 费用", style="List Number")            # Word's own numbering
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "合并"
    table.cell(0, 2).text = "右"
    table.cell(1, 0).text, table.cell(1, 1).text = "甲", "乙"
    layout = document.add_table(rows=1, cols=1)
    layout.cell(0, 0).text = "第二条 保密"
    layout.cell(0, 0).add_paragraph("乙方应保密。")
    document.add_paragraph("  ")
    path = tmp_path / "tables.docx"
    document.save(path)
    doc = read_document(path)
    assert [p.text for p in doc.paragraphs] == ["第一条 费用", "合并 | 右", "甲 | 乙 | ", "第二条 保密", "乙方应保密。"]
    assert len(doc.notes) == 1 and "自动编号" in doc.notes[0]


# --- refusals: each one line, naming the file and what is wrong ---------------------------------------

def test_missing_file_and_folder(tmp_path):
    refused(tmp_path / "没有这个文件.docx", "不存在")
    folder = tmp_path / "合同文件夹"
    folder.mkdir()
    refused(folder, "文件夹")


def test_empty_and_blank_files(tmp_path):
    refused(F.empty_file(tmp_path), "空的")
    blank = tmp_path / "blank.md"
    blank.write_text(" \n\u3000\n\t\n", encoding="utf-8")
    refused(blank, "没有可读取的文字")
    empty_docx = tmp_path / "empty.docx"
    docx.Document().save(empty_docx)
    refused(empty_docx, "没有可读取的文字")


def test_too_large(tmp_path):
    refused(F.big_text(tmp_path), "20 MB", "拆分")
    big_pdf = tmp_path / "big.pdf"
    with big_pdf.open("wb") as f:
        f.write(b"%PDF-1.4\n")
        f.truncate(51 * F.MB)
    refused(big_pdf, "50 MB")


def test_too_many_paragraphs(tmp_path, monkeypatch):
    monkeypatch.setattr(documents, "MAX_PARAGRAPHS", 5)
    path = tmp_path / "many.txt"
    path.write_text("\n".join(f"第{i}条" for i in range(1, 7)), encoding="utf-8")
    refused(path, "6 段", "5 段", "拆分")


def test_encrypted_pdf(made, tmp_path):
    refused(made / "encrypted.pdf", "密码")
    aes = tmp_path / "aes.pdf"
    writer = PdfWriter(clone_from=made / "license_contract.pdf")
    writer.encrypt(user_password="123456", owner_password="owner", algorithm="AES-256")
    writer.write(aes)
    refused(aes, "密码")


def test_scanned_pdf_needs_ocr(made):
    refused(made / "scanned.pdf", "没有文字层", "OCR")


def test_broken_pdfs(tmp_path):
    not_pdf = tmp_path / "not.pdf"
    not_pdf.write_text("这不是 PDF", encoding="utf-8")
    refused(not_pdf, "不是有效的 PDF")
    garbled = tmp_path / "garbled.pdf"
    garbled.write_bytes(b"%PDF-1.4\ngarbage garbage\n%%EOF")
    refused(garbled, "损坏")


def test_docx_that_is_not_word(tmp_path):
    refused(F.fake_docx(tmp_path), "zip", "word/document.xml")
    old = tmp_path / "old.docx"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    refused(old, ".doc", "另存为 .docx")
    junk = tmp_path / "junk.docx"
    junk.write_bytes(b"not a zip at all")
    refused(junk, "损坏")
    bad_xml = tmp_path / "bad_xml.docx"
    with zipfile.ZipFile(bad_xml, "w") as z:
        z.writestr("[Content_Types].xml", "<x")
        z.writestr("word/document.xml", "<<garbage")
    refused(bad_xml, "损坏")


def test_binary_named_txt(tmp_path):
    refused(F.binary_txt(tmp_path), "二进制")
    controls = tmp_path / "controls.txt"
    controls.write_bytes(b"\x01\x02\x03\x04\x05abc")
    refused(controls, "二进制")
    pdf_as_txt = tmp_path / "contract.txt"
    pdf_as_txt.write_bytes(b"%PDF-1.4\n\x00\x01")
    refused(pdf_as_txt, ".pdf")


def test_undecodable_text(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("合同".encode() + b"\x80\xff")
    refused(path, "UTF-8", "GBK")


def test_unknown_suffix_lists_the_supported_ones(tmp_path):
    for name in ("合同.rtf", "合同"):
        path = tmp_path / name
        path.write_text("正文", encoding="utf-8")
        refused(path, "不支持", ".txt", ".md", ".docx", ".pdf")
    old = tmp_path / "合同.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    refused(old, "另存为 .docx")


def test_fixtures_are_deterministic(tmp_path):
    for write in (F.contract_docx, F.contract_pdf, F.encrypted_pdf, F.scanned_pdf, F.fake_docx, F.product_docx):
        (tmp_path / "a").mkdir(exist_ok=True)
        (tmp_path / "b").mkdir(exist_ok=True)
        assert write(tmp_path / "a").read_bytes() == write(tmp_path / "b").read_bytes(), write.__name__
