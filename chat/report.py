"""Reports a lawyer can open: one document built once, written as Word (``.docx``) or Markdown (``.md``).

Contract review and claim comparison both end in the same kind of document: a title, headings,
paragraphs, tables and an appendix with the text of every statute article relied on. Building it as a
list of blocks and rendering twice keeps the two formats the same content. The ``.docx`` is made with
python-docx: real headings (so Word's navigation pane works), real tables with a repeated header row,
and an East Asian font set on every style (without ``w:eastAsia`` Word falls back to a Latin theme font
and Chinese looks wrong on some systems).

The appendix holds the text of verified articles only: a citation the statute store cannot confirm is
listed with its status and reason, never with a text, so the report never shows an invented article.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ecmiip.core.citations import CitationCheck, verify_citations
from ecmiip.core.errors import InputError, OutputExistsError
from ecmiip.core.outputs import atomic_path

#: The font every style uses for Chinese (w:eastAsia) and for Latin text.
EAST_ASIAN_FONT = "宋体"
LATIN_FONT = "Times New Roman"
APPENDIX_TITLE = "附录：引用条文"
UNVERIFIED_TITLE = "未能核实的引用"
SUFFIXES = (".docx", ".md")


@dataclass(frozen=True)
class _Heading:
    text: str
    level: int


@dataclass(frozen=True)
class _Paragraph:
    text: str
    bold_prefix: str | None


@dataclass(frozen=True)
class _Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] | None = None  # shares of the page width, per column


class Report:
    """A document built once and written as .docx (python-docx) or .md: headings, paragraphs, tables."""

    def __init__(self, title: str, subtitle: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.blocks: list[_Heading | _Paragraph | _Bullets | _Table] = []

    def heading(self, text: str, level: int = 1) -> None:
        """A section heading; level 1 is the top level under the title (at most 6)."""
        if not 1 <= level <= 6:
            raise ValueError(f"heading level {level}: expected 1 to 6")
        self.blocks.append(_Heading(text, level))

    def paragraph(self, text: str, *, bold_prefix: str | None = None) -> None:
        """A paragraph; ``bold_prefix`` (e.g. ``风险等级：``) is set in bold before the text. Line breaks stay."""
        self.blocks.append(_Paragraph(text, bold_prefix))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(_Bullets(tuple(items)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float] | None = None) -> None:
        """A table whose first row is ``header``; every row must have as many cells as the header.

        ``widths``: each column's share of the text width in Word (short labels narrow, text wide); a cell
        that reads 高, 缺失 or 不落入… is shaded so the risks stand out on paper."""
        header = tuple(str(h) for h in header)
        out = tuple(tuple(str(c) for c in row) for row in rows)
        for i, row in enumerate(out, 1):
            if len(row) != len(header):
                raise ValueError(f"table row {i} has {len(row)} cells, the header {len(header)}")
        if widths is not None and len(widths) != len(header):
            raise ValueError(f"{len(widths)} widths for {len(header)} columns")
        self.blocks.append(_Table(header, out, tuple(widths) if widths is not None else None))

    def citations_appendix(self, texts: Iterable[str], as_of: date | None = None) -> list[CitationCheck]:
        """Append "附录：引用条文": every verified article cited in ``texts`` (citation, version, validity on
        the day, full text), then the unverified citations under "未能核实的引用" with status and reason only.

        Returns one check per distinct citation (first occurrence, in order)."""
        day = as_of or date.today()
        checks: list[CitationCheck] = []
        seen: set[str] = set()
        for text in texts:
            for check in verify_citations(text, day):
                if check.text not in seen:
                    seen.add(check.text)
                    checks.append(check)
        self.heading(APPENDIX_TITLE, 1)
        if not checks:
            self.paragraph("正文未引用法条。")
            return checks
        verified: dict[tuple[str, str], CitationCheck] = {}
        for check in checks:
            if check.ok and check.article is not None:
                verified.setdefault((check.article.citation, check.article.version), check)
        if verified:
            self.paragraph(f"以下条文经离线法条库核对，效力状态以 {day.isoformat()} 为准。")
        for check in verified.values():
            article = check.article
            self.heading(article.citation, 2)
            self.paragraph(article.version, bold_prefix="版本：")
            self.paragraph(article.doc.validity(day), bold_prefix="效力：")
            self.paragraph(article.text, bold_prefix="条文：")
        unverified = [c for c in checks if not c.ok]
        if unverified:
            self.heading(UNVERIFIED_TITLE, 2)
            self.paragraph("以下引用未能在离线法条库中核实，未附条文，请自行核对官方文本：")
            self.bullets([f"{c.text}（{c.word}{'：' + c.reason if c.reason else ''}）" for c in unverified])
        return checks

    # ------------------------------------------------------------ rendering

    def markdown(self) -> str:
        lines = [f"# {_md_line(self.title)}", ""]
        if self.subtitle:
            lines += [_md_text(self.subtitle), ""]
        for block in self.blocks:
            if isinstance(block, _Heading):
                lines += [f"{'#' * (block.level + 1)} {_md_line(block.text)}", ""]
            elif isinstance(block, _Paragraph):
                prefix = f"**{_md_line(block.bold_prefix)}**" if block.bold_prefix else ""
                lines += [prefix + _md_text(block.text), ""]
            elif isinstance(block, _Bullets):
                lines += [f"- {_md_text(item)}" for item in block.items] + [""]
            else:
                lines.append("| " + " | ".join(_md_cell(c) for c in block.header) + " |")
                lines.append("|" + "---|" * len(block.header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
                lines.append("")
        return "\n".join(lines).rstrip("\n") + "\n"

    def docx(self):
        """The python-docx ``Document`` of this report (not saved)."""
        import docx

        document = docx.Document()
        _set_fonts(document)
        document.add_heading(self.title, level=0)
        if self.subtitle:
            document.add_paragraph(self.subtitle, style="Subtitle")
        for block in self.blocks:
            if isinstance(block, _Heading):
                document.add_heading(block.text, level=block.level)
            elif isinstance(block, _Paragraph):
                p = document.add_paragraph()
                if block.bold_prefix:
                    p.add_run(block.bold_prefix).bold = True
                p.add_run(block.text)
            elif isinstance(block, _Bullets):
                for item in block.items:
                    document.add_paragraph(item, style="List Bullet")
            else:
                _add_table(document, block)
        return document

    def write(self, path: Path, *, force: bool = False) -> Path:
        """Write by suffix (.docx or .md), atomically; an existing file is refused unless ``force``."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in SUFFIXES:
            raise InputError(f"{path}：报告只能写成 .docx 或 .md，请换一个文件名")
        if path.exists() and not force:
            raise OutputExistsError(f"{path} 已存在；加 --force 覆盖，或换一个文件名")
        if path.is_dir():
            raise InputError(f"{path} 是一个文件夹，请给出报告的文件名")
        with atomic_path(path) as tmp:
            if suffix == ".md":
                tmp.write_text(self.markdown(), encoding="utf-8")
            else:
                self.docx().save(str(tmp))
        return path


# ---------------------------------------------------------------- Markdown helpers


def _md_line(text: str) -> str:
    return " ".join(text.split("\n"))


def _md_text(text: str) -> str:
    """Line breaks kept as Markdown hard breaks (two spaces), blank lines dropped."""
    return "  \n".join(line for line in text.split("\n") if line.strip())


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>") or " "


# ---------------------------------------------------------------- Word helpers


def _set_fonts(document) -> None:
    """Every paragraph and character style gets the East Asian font (and the theme font links removed,
    since a theme attribute overrides the explicit font)."""
    from docx.enum.style import WD_STYLE_TYPE

    for style in document.styles:
        if style.type not in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER, WD_STYLE_TYPE.TABLE):
            continue
        _east_asian(style.element.get_or_add_rPr())


def _east_asian(rpr) -> None:
    from docx.oxml.ns import qn

    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def _add_table(document, block: _Table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    table = document.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = "Table Grid"
    header = table.rows[0]
    tr_pr = header._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # the header row repeats on every page the table spans
    repeat.set(qn("w:val"), "true")
    tr_pr.append(repeat)
    for cell, text in zip(header.cells, block.header, strict=True):
        cell.paragraphs[0].add_run(text).bold = True
    for row, values in zip(table.rows[1:], block.rows, strict=True):
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
            if text in SHADES:
                shade = OxmlElement("w:shd")
                shade.set(qn("w:val"), "clear")
                shade.set(qn("w:fill"), SHADES[text])
                cell._tc.get_or_add_tcPr().append(shade)
    if block.widths:
        section = document.sections[-1]
        usable = section.page_width - section.left_margin - section.right_margin
        table.autofit = False
        for column, share in zip(table.columns, block.widths, strict=True):
            column.width = int(usable * share)  # the grid (LibreOffice, WPS) and each cell (Word)
            for cell in column.cells:
                cell.width = int(usable * share)
    document.add_paragraph()


# Cells shaded in Word: the risk levels and verdicts a reader looks for first.
SHADES = {"高": "F4CCCC", "中": "FCE5CD", "缺失": "F4CCCC", "等同（待确认）": "FCE5CD"}
