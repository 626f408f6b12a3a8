"""Documents the user attaches (.txt, .md, .docx, .pdf), read as numbered paragraphs, offline.

A paragraph is the unit answers cite (〔第N段〕) and the unit contract clauses and claim features are
cut from, so every format is brought to the same shape: one stripped, non-empty text per paragraph,
numbered from 1 in document order. What each format gives:

- ``.txt`` / ``.md``: Chinese documents are written one paragraph per line, so each line is a paragraph;
  only a file that is visibly hard-wrapped (many lines of the same full width) has its wrapped lines
  joined again. Markdown heading marks (``#``) are dropped and a table row becomes ``a | b | c``.
  UTF-8 (with or without BOM) and UTF-16 with BOM are read as such; anything else is tried as
  GB18030 (a superset of GBK, what Chinese Windows saves), and the user is told so.
- ``.docx``: body paragraphs and table rows in document order (python-docx). A table row is one
  paragraph, its cells joined by `` | ``; a one-cell row (a table used for layout) gives each of its
  paragraphs. Numbering that Word generates itself (automatic 第X条 / 1. lists) is not part of the
  text python-docx reads, so it is missing from the paragraphs; the user is told when the file uses
  it. Text boxes, headers, footers, footnotes and comments are not read.
- ``.pdf``: the text layer (pypdf), page by page. PDF text comes as lines, so a line that reaches the
  full width of the text block continues into the next one, unless it ends a sentence or the next line
  starts with a clause number (第X条, 1., 1.1, 一、, （一）); page-number lines are dropped. Each
  paragraph keeps the page it starts on. There is no OCR: a scanned PDF is refused.

Every refusal is an :class:`InputError` with one Chinese line naming the file and what to do, so the
chat session that asked stays as it was.
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.numerals import ITEM_NUMERAL, NUMERAL

SUFFIXES = {".txt": "txt", ".md": "md", ".markdown": "md", ".docx": "docx", ".pdf": "pdf"}
MB = 1024 * 1024
#: Largest file read, by kind: text is read whole into memory; Office and PDF files are mostly images.
SIZE_LIMITS = {"txt": 20 * MB, "md": 20 * MB, "docx": 50 * MB, "pdf": 50 * MB}
#: More paragraphs than this is not a document to put before a model: refused rather than slow.
MAX_PARAGRAPHS = 20_000
#: A .docx whose parts unpack to more than this is refused (a zip bomb, or not a text document).
MAX_UNPACKED = 1024 * MB
GBK_NOTE = "按 GBK/GB18030 编码读取"
UTF16_NOTE = "按 UTF-16 编码读取"

#: A line that starts a clause or item, never joined to the line before it.
CLAUSE_START = re.compile(
    rf"(?:第{NUMERAL}[条章节款项部篇]"        # 第十一条 / 第3章
    rf"|{ITEM_NUMERAL}、"                      # 一、
    rf"|[（(](?:{ITEM_NUMERAL}|\d+)[)）]"      # （一） / (1)
    r"|\d{1,3}(?:\.\d{1,3})*(?:[.．、)）]|\s)"  # 1. / 1.1 / 1、 / 1): small numbers, not 3456.7）
    r"|[-*•·●○■□◆▪]\s"                         # bullets
    r"|附件|附表|注[:：])"
)
_SENTENCE_END = tuple("。！？!?")
_PAGE_NUMBER = re.compile(r"[-—–\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*(?:[/／]|共)\s*\d{1,4}\s*页?)?[-—–\s]*"
                          r"|(?i:page)\s*\d{1,4}(?:\s*of\s*\d{1,4})?")
_FIRST_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,%/_\-]*|.")
_MD_HEADING = re.compile(r"#{1,6}\s+")
_MD_RULE = re.compile(r"(?:[-*_]\s*){3,}|`{3,}.*|~{3,}.*")
_MD_TABLE_RULE = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Paragraph:
    number: int              # 1-based, as the user sees it: 〔第N段〕
    text: str                # stripped, never empty
    page: int | None = None  # PDF page (1-based), else None


@dataclass(frozen=True)
class LoadedDocument:
    path: Path
    kind: str                # "txt" | "md" | "docx" | "pdf"
    paragraphs: tuple[Paragraph, ...]
    notes: tuple[str, ...] = ()  # things the user should be told (encoding guessed, pages skipped…)

    @property
    def name(self) -> str:
        return self.path.name

    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


def read_document(path: Path | str) -> LoadedDocument:
    """The document at ``path`` as numbered paragraphs; InputError (one Chinese line) when it cannot be."""
    path = Path(path)
    kind = _check_file(path)
    if kind in ("txt", "md"):
        blocks, notes = _read_text(path, markdown=kind == "md")
    elif kind == "docx":
        blocks, notes = _read_docx(path)
    else:
        blocks, notes = _read_pdf(path)
    if not blocks:
        raise InputError(f"{path}：文件中没有可读取的文字；请确认文件内容后再试")
    if len(blocks) > MAX_PARAGRAPHS:
        raise InputError(f"{path}：共 {len(blocks)} 段，超过可读取的上限 {MAX_PARAGRAPHS} 段；请拆分成几个较小的文件后分别读取")
    paragraphs = tuple(Paragraph(i, text, page) for i, (text, page) in enumerate(blocks, 1))
    return LoadedDocument(path, kind, paragraphs, tuple(notes))


def _check_file(path: Path) -> str:
    """The document kind, after the checks every format shares: exists, a file, known suffix, size."""
    if not path.exists():
        raise InputError(f"{path}：文件不存在；请检查路径和文件名")
    if path.is_dir():
        raise InputError(f"{path}：这是一个文件夹，不是文件；请给出其中某个文件的路径")
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        hint = "；旧版 Word（.doc）文件请先在 Word 或 WPS 中另存为 .docx" if path.suffix.lower() in (".doc", ".wps") else ""
        raise InputError(f"{path}：不支持的文件类型 {path.suffix or '（无扩展名）'}；"
                         f"支持 .txt、.md、.docx、.pdf{hint}")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}：无法读取（{e.strerror}）") from None
    if size == 0:
        raise InputError(f"{path}：文件是空的（0 字节）；请确认文件已保存完整")
    limit = SIZE_LIMITS[kind]
    if size > limit:
        raise InputError(f"{path}：文件大小 {size / MB:.1f} MB，超过 .{kind} 文件的上限 {limit // MB} MB；"
                         "请只保留需要审阅的部分，或拆分成几个较小的文件")
    return kind


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}：无法读取（{e.strerror}）；请检查文件权限") from None


# --- plain text and Markdown -------------------------------------------------------------------------

def _read_text(path: Path, markdown: bool) -> tuple[list[tuple[str, None]], list[str]]:
    text, notes = _decode(_read_bytes(path), path)
    blocks: list[list[str]] = [[]]
    for raw in text.splitlines():
        line = raw.strip()
        if markdown and line:
            line = _markdown_line(line)
            if line is None:
                continue
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    lines = [line for block in blocks for line in block]
    full = max(map(_width, lines), default=0)
    near_full = sum(_width(line) >= full - 4 for line in lines)
    wrapped = 0 < full <= 200 and near_full >= 3 and near_full * 5 >= len(lines)
    paragraphs = [p for block in blocks for p in ([t for t, _ in _join_wrapped(block, full)] if wrapped else block)]
    return [(p, None) for p in paragraphs], notes


def _decode(data: bytes, path: Path) -> tuple[str, list[str]]:
    """The text of ``data``: UTF-8, UTF-16 with BOM, else GB18030 (told); binary data refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), [UTF16_NOTE]
        except UnicodeDecodeError:
            pass
    if b"\x00" in data:
        raise InputError(f"{path}：{_binary_reason(data)}；请选择 .txt/.md 文本文件，或 .docx、.pdf 文件")
    try:
        text, notes = data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        try:
            text, notes = data.decode("gb18030"), [GBK_NOTE]
        except UnicodeDecodeError:
            raise InputError(f"{path}：既不是 UTF-8 也不是 GBK/GB18030 编码的文本；"
                             "请在记事本或 WPS 中另存为 UTF-8 编码后再试") from None
    controls = sum(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v" for c in text)
    if controls > max(2, len(text) // 100):
        raise InputError(f"{path}：{_binary_reason(data)}；请选择 .txt/.md 文本文件，或 .docx、.pdf 文件")
    if not text.strip():
        raise InputError(f"{path}：文件中只有空白，没有可读取的文字；请确认文件内容后再试")
    return text, notes


def _binary_reason(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "内容是 PDF 而不是文本（扩展名有误）；请把扩展名改为 .pdf 后再试"
    if data.startswith(b"PK\x03\x04"):
        return "内容是 zip 压缩包（可能是 .docx）而不是文本；如是 Word 文档请把扩展名改为 .docx"
    return "内容是二进制数据，不是文本文件"


def _markdown_line(line: str) -> str | None:
    """A Markdown line as plain text: heading marks off, a table row as ``a | b``; rules and fences gone."""
    if _MD_RULE.fullmatch(line) or _MD_TABLE_RULE.fullmatch(line):
        return None
    if line.startswith("|"):
        return " | ".join(cell.strip() for cell in line.strip("|").split("|"))
    return _MD_HEADING.sub("", line, count=1) if _MD_HEADING.match(line) else line


# --- wrapped lines ------------------------------------------------------------------------------------

def _width(line: str) -> int:
    """Display width in half-width units: a Chinese character 2, a Latin letter or digit 1. Characters of
    ambiguous width (“ ” … ·) count 2: Chinese fonts set them full-width."""
    return sum(2 if unicodedata.east_asian_width(c) in "WFA" else 1 for c in line)


def _join_wrapped(lines: list[str], full: int) -> list[tuple[str, int]]:
    """Join lines wrapped inside a paragraph; each paragraph with the index of its first line.

    A line continues into the next one when the next line's first word would not have fitted after it
    (so a long Latin word or number pushed down by the word processor still counts), unless the line
    ends a sentence or the next line starts a clause: a stray split is cheaper than two clauses merged."""
    out: list[tuple[str, int]] = []
    previous = ""
    for i, line in enumerate(lines):
        first_word = _FIRST_WORD.match(line).group(0)
        if out and _width(previous) + _width(first_word) >= full - 2 and not previous.endswith(_SENTENCE_END) \
                and not CLAUSE_START.match(line):
            gap = " " if previous[-1].isascii() and previous[-1].isalnum() and line[0].isascii() \
                and line[0].isalnum() else ""
            out[-1] = (out[-1][0] + gap + line, out[-1][1])
        else:
            out.append((line, i))
        previous = line
    return out


# --- Word ---------------------------------------------------------------------------------------------

def _read_docx(path: Path) -> tuple[list[tuple[str, None]], list[str]]:
    import docx  # python-docx: imported here so the chat client starts without it loaded

    head = _read_head(path)
    if head.startswith(_OLE_MAGIC):
        raise InputError(f"{path}：这是旧版 Word（.doc）或其他 Office 二进制文件，只是扩展名为 .docx；"
                         "请在 Word 或 WPS 中另存为 .docx 后再试")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}：不是有效的 Word 文档（.docx），文件可能已损坏；请在 Word 或 WPS 中打开并重新另存为 .docx")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{path}：不是有效的 Word 文档（.docx）：{e}；请在 Word 或 WPS 中重新另存为 .docx") from None
    if "word/document.xml" not in names:
        raise InputError(f"{path}：是 zip 压缩包，但不是 Word 文档（缺少 word/document.xml）；"
                         "请确认选择的是 Word 另存的 .docx 文件")
    if unpacked > MAX_UNPACKED:
        raise InputError(f"{path}：解压后超过 {MAX_UNPACKED // MB} MB，不像是文字文档；请只保留文字内容后重新保存")
    try:
        document = docx.Document(str(path))
        blocks = list(_docx_blocks(document))
    except Exception as e:  # python-docx raises many kinds (KeyError, ValueError, lxml errors) on bad parts
        raise InputError(f"{path}：Word 文档已损坏或不是标准 .docx（{type(e).__name__}）；"
                         "请在 Word 或 WPS 中打开并重新另存为 .docx") from None
    notes = []
    numbered = _auto_numbered(document)
    if numbered:
        notes.append(f"文档中有 {numbered} 段使用 Word 自动编号，编号本身（如“第一条”“1.”）不在读取的文字中；"
                     "引用时以〔第N段〕为准")
    return [(text, None) for text in blocks], notes


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(8)
    except OSError as e:
        raise InputError(f"{path}：无法读取（{e.strerror}）；请检查文件权限") from None


def _docx_blocks(container) -> Iterator[str]:
    """Paragraph texts and table rows of a document or cell, in document order."""
    from docx.table import Table

    for item in container.iter_inner_content():
        if isinstance(item, Table):
            yield from _table_rows(item)
        else:
            text = item.text.strip()
            if text:
                yield text


def _table_rows(table) -> Iterator[str]:
    for row in table.rows:
        cells = list({id(c._tc): c for c in row.cells}.values())  # a merged cell repeats: once
        if len(cells) == 1:
            yield from _docx_blocks(cells[0])
            continue
        texts = [" ".join(_docx_blocks(c)) for c in cells]
        if any(texts):
            yield " | ".join(texts)


def _auto_numbered(document) -> int:
    """How many body paragraphs carry Word numbering (numPr on the paragraph or its style)."""
    count = 0
    for p in document.paragraphs:
        ppr = p._p.pPr
        style_ppr = p.style.element.pPr if p.style is not None else None
        if p.text.strip() and ((ppr is not None and ppr.numPr is not None)
                               or (style_ppr is not None and style_ppr.numPr is not None)):
            count += 1
    return count


# --- PDF ----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs every oddity of a malformed file as a warning; the user gets one clear line instead."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _read_pdf(path: Path) -> tuple[list[tuple[str, int]], list[str]]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    if not _read_head(path).startswith(b"%PDF"):
        with path.open("rb") as f:
            if b"%PDF" not in f.read(1024):
                raise InputError(f"{path}：不是有效的 PDF 文件（文件头不是 %PDF）；请确认文件没有损坏")
    with _quiet_pypdf():
        try:
            reader = PdfReader(path)
            if reader.is_encrypted:
                try:
                    opened = reader.decrypt("")  # many PDFs are "encrypted" with an empty open password
                except DependencyError:
                    raise InputError(f"{path}：PDF 使用 AES 加密，读取需要 Python 包 cryptography；"
                                     "请安装（pip install cryptography）后再试") from None
                if opened == PasswordType.NOT_DECRYPTED:
                    raise InputError(f"{path}：PDF 设有打开密码，无法读取；请先在 PDF 阅读器中输入密码并另存一份"
                                     "不加密的副本，再读取该副本")
            pages = list(reader.pages)
            if not pages:
                raise InputError(f"{path}：PDF 中没有任何页面，文件可能已损坏；请用 PDF 阅读器打开并另存后再试")
        except InputError:
            raise
        except Exception as e:  # pypdf raises PdfReadError, ValueError, KeyError… on broken files
            raise InputError(f"{path}：PDF 文件已损坏或无法解析（{type(e).__name__}）；"
                             "请用 PDF 阅读器打开并另存后再试") from None
        lines: list[tuple[str, int]] = []
        empty, broken = [], []
        for number, page in enumerate(pages, 1):
            try:
                text = page.extract_text() or ""
            except Exception:  # one broken page should not cost the others
                broken.append(number)
                continue
            page_lines = [line.strip() for line in text.splitlines() if line.strip()]
            if page_lines and _PAGE_NUMBER.fullmatch(page_lines[-1]):
                page_lines.pop()
            if page_lines and _PAGE_NUMBER.fullmatch(page_lines[0]):
                page_lines.pop(0)
            if not page_lines:
                empty.append(number)
            lines += [(line, number) for line in page_lines]
    if not lines:
        if broken and not empty:
            raise InputError(f"{path}：PDF 的页面内容都无法解析；请用 PDF 阅读器打开并另存后再试")
        raise InputError(f"{path}：PDF 没有文字层（可能是扫描件或图片），本工具离线运行、不做文字识别（OCR）；"
                         "请先用 OCR 软件转成带文字的 PDF、.docx 或 .txt 后再试")
    notes = []
    if empty:
        notes.append(f"第 {_page_list(empty)} 页没有文字层（可能是扫描页或空白页），未读取；本工具不做文字识别（OCR）")
    if broken:
        notes.append(f"第 {_page_list(broken)} 页内容无法解析，未读取")
    return _pdf_paragraphs(lines), notes


def _page_list(pages: list[int]) -> str:
    shown = "、".join(map(str, pages[:10]))
    return shown + (f" 等 {len(pages)}" if len(pages) > 10 else "")


def _pdf_paragraphs(lines: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Lines joined into paragraphs, each with the page it starts on. The full width of the text block
    is the second-widest line of the document (one over-wide line, a long URL say, does not set it)."""
    widths = sorted((_width(text) for text, _ in lines), reverse=True)
    full = widths[1] if len(widths) > 1 else widths[0]
    return [(text, lines[first][1]) for text, first in _join_wrapped([text for text, _ in lines], full)]
