"""Documents for the tests, written on demand from the plain-text sources in tests/fixtures/documents/.

The licence contract is written once in Markdown (``license_contract.md``) and turned into a .docx and a
PDF here, so every format holds the same paragraphs and a test can compare them one to one
(:func:`contract_paragraphs`). The bad inputs (encrypted, scanned-only, a zip named .docx, GBK text, a
50 MB text file, an empty file, a binary named .txt) are written the same way. Every writer takes the
folder to write into, returns the path, and writes the same bytes on every run.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "documents"
CONTRACT_MD = FIXTURES / "license_contract.md"
CLAIMS_TXT = FIXTURES / "claims.txt"
PRODUCT_TXT = FIXTURES / "product.txt"
MB = 1024 * 1024
PDF_FONT = "STSong-Light"  # reportlab's built-in Chinese CID font: no font file needed, text extracts back
PDF_PASSWORD = "secret-2024"


def contract_items() -> list[tuple[str, object]]:
    """The contract as ("title" | "heading" | "paragraph", text) and ("table", rows) items, in order."""
    items: list[tuple[str, object]] = []
    for raw in CONTRACT_MD.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("| ---"):
            continue
        if line.startswith("|"):
            row = [cell.strip() for cell in line.strip("|").split("|")]
            if items and items[-1][0] == "table":
                items[-1][1].append(row)
            else:
                items.append(("table", [row]))
        elif line.startswith("## "):
            items.append(("heading", line[3:]))
        elif line.startswith("# "):
            items.append(("title", line[2:]))
        else:
            items.append(("paragraph", line))
    return items


def contract_paragraphs() -> list[str]:
    """The paragraphs every format of the contract reads back as: a table row is ``a | b | c``."""
    out: list[str] = []
    for kind, value in contract_items():
        out += [" | ".join(row) for row in value] if kind == "table" else [value]
    return out


def contract_docx(folder: Path, name: str = "license_contract.docx") -> Path:
    """The contract as Word writes it: a title, 第X条 lines in Heading 1, the fee schedule as a table."""
    import docx

    document = docx.Document()
    document.core_properties.created = document.core_properties.modified = _FIXED_TIME
    for kind, value in contract_items():
        if kind == "title":
            document.add_heading(value, level=0)
        elif kind == "heading":
            document.add_heading(value, level=1)
        elif kind == "table":
            table = document.add_table(rows=len(value), cols=len(value[0]))
            table.style = "Table Grid"
            for r, row in enumerate(value):
                for c, text in enumerate(row):
                    table.cell(r, c).text = text
        else:
            document.add_paragraph(value)
    return _save_docx(document, folder / name)


def product_docx(folder: Path, name: str = "product.docx") -> Path:
    """The accused product's description as a .docx, one paragraph per line of product.txt."""
    import docx

    document = docx.Document()
    document.core_properties.created = document.core_properties.modified = _FIXED_TIME
    for line in PRODUCT_TXT.read_text(encoding="utf-8").splitlines():
        if line.strip():
            document.add_paragraph(line.strip())
    return _save_docx(document, folder / name)


def contract_pdf(folder: Path, name: str = "license_contract.pdf", encrypt=None) -> Path:
    """The contract as a PDF with a text layer (reportlab, STSong-Light): lines wrapped at the text width
    as a word processor would, a page number at the foot of each page, several pages."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    path = folder / name
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1, encrypt=encrypt)
    width, height = A4
    left, right, top, bottom, size, leading = 60, 60, 70, 70, 11, 17
    y, page = height - top, 1

    def newline(step: float) -> None:
        nonlocal y, page
        y -= step
        if y < bottom:
            footer()
            pdf.showPage()  # a new page starts with the default font again
            pdf.setFont(PDF_FONT, size)
            page += 1
            y = height - top

    def footer() -> None:
        pdf.setFont(PDF_FONT, 9)
        pdf.drawCentredString(width / 2, 40, f"- {page} -")

    for kind, value in contract_items():
        if kind == "title":
            pdf.setFont(PDF_FONT, 16)
            pdf.drawCentredString(width / 2, y, value)
            newline(30)
            continue
        texts = [" | ".join(row) for row in value] if kind == "table" else [value]
        for text in texts:
            pdf.setFont(PDF_FONT, size)
            for line in _wrap(text, PDF_FONT, size, width - left - right):
                pdf.drawString(left, y, line)
                newline(leading)
            newline(5)
    footer()
    pdf.save()
    return path


def encrypted_pdf(folder: Path, name: str = "encrypted.pdf") -> Path:
    """The contract PDF behind a real open password (:data:`PDF_PASSWORD`)."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    return contract_pdf(folder, name, StandardEncryption(PDF_PASSWORD, ownerPassword="owner-2024", strength=128))


def owner_only_pdf(folder: Path, name: str = "owner_only.pdf") -> Path:
    """The contract PDF "encrypted" with an empty open password (only editing restricted): opens fine."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    return contract_pdf(folder, name, StandardEncryption("", ownerPassword="owner-2024", canModify=0, strength=128))


def scanned_pdf(folder: Path, name: str = "scanned.pdf") -> Path:
    """A scanned contract: two pages that are only images (grey bars where the lines of text were)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = folder / name
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for _ in range(2):
        pdf.drawImage(_scan_image(), 0, 0, *A4)
        pdf.showPage()
    pdf.save()
    return path


def partly_scanned_pdf(folder: Path, name: str = "partly_scanned.pdf") -> Path:
    """Page 1 has text, page 2 is a scanned image: the text is read and page 2 is reported."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    path = folder / name
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    pdf.setFont(PDF_FONT, 11)
    pdf.drawString(60, 770, "第一条 本页有文字层。")
    pdf.showPage()
    pdf.drawImage(_scan_image(), 0, 0, *A4)
    pdf.showPage()
    pdf.save()
    return path


def fake_docx(folder: Path, name: str = "fake.docx") -> Path:
    """A zip of photos and a note renamed .docx: a zip, but not a Word document."""
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in (("photos/page1.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8),
                             ("说明.txt", "扫描照片，共一页。".encode())):
            z.writestr(zipfile.ZipInfo(member, date_time=(2024, 3, 18, 0, 0, 0)), data)
    return path


GBK_LINES = ["技术秘密许可合同（节选）", "第一条 许可方应当保证其为技术秘密的合法拥有者。",
             "第二条 被许可方应当对技术秘密承担保密义务。"]


def gbk_text(folder: Path, name: str = "gbk_contract.txt") -> Path:
    """A text file saved by Chinese Windows Notepad: GBK, CRLF line ends (:data:`GBK_LINES`)."""
    path = folder / name
    path.write_bytes("\r\n".join(GBK_LINES).encode("gbk"))
    return path


def big_text(folder: Path, mb: int = 50, name: str = "big.txt") -> Path:
    """A text file of ``mb`` MiB, written at once: a line of text, then a sparse tail."""
    path = folder / name
    with path.open("wb") as f:
        f.write("第一条 很大的文件。\n".encode())
        f.truncate(mb * MB)
    return path


def empty_file(folder: Path, name: str = "empty.txt") -> Path:
    path = folder / name
    path.write_bytes(b"")
    return path


def binary_txt(folder: Path, name: str = "binary.txt") -> Path:
    """An image saved under a .txt name."""
    path = folder / name
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    return path


# --- helpers -------------------------------------------------------------------------------------------

_FIXED_TIME = __import__("datetime").datetime(2024, 3, 18, 9, 0, 0)


def _save_docx(document, path: Path) -> Path:
    """Saved with fixed zip timestamps, so the same document gives the same bytes."""
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 3, 18, 0, 0, 0)), src.read(info))
    return path


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` points as a word processor does: between any
    two Chinese characters, but never inside a Latin word or a number (ZL202010123456.7 moves down whole)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9.%\-]*|.", text):
        if line and stringWidth(line + token, font, size) > width:
            lines.append(line)
            line = ""
        line += token
    return [*lines, line] if line else lines


def _scan_image():
    """A page-sized grey image with dark bars for lines: what a scanner gives, no text in it."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader

    image = Image.new("L", (595, 842), 235)
    draw = ImageDraw.Draw(image)
    for i in range(30):
        draw.rectangle((60, 80 + i * 24, 535 - (i % 4) * 40, 92 + i * 24), fill=40)
    return ImageReader(image)
