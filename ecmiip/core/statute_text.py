"""Read an official statute text as a user gets it (txt, Markdown, Word, web page, PDF) and cut it into
articles, for ``ecmiip statutes import``.

Two steps with one concern each: ``read_lines`` turns any supported file into plain text lines in reading
order; ``segment`` finds the headings (编/分编/章/节) and articles (第X条, 第X条之Y) among them and
reports what a user should check before the articles go into the store: numbering gaps, repeated
articles, and lines that are neither (page numbers, navigation text, attachments).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from ecmiip.core.citations import article_label
from ecmiip.core.errors import InputError
from ecmiip.core.numerals import ITEM_NUMERAL, NUMERAL, int_to_chinese, number_or_none
from ecmiip.core.statutes import ITEM_MARK

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".html", ".htm", ".pdf")

_CJK = "\u3400-\u9fff\uf900-\ufaff"
# Invisible characters that copying from web pages and Word leaves at line ends.
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"


# ---------------------------------------------------------------------------------------------- reading


def read_lines(path: Path) -> list[str]:
    """Text lines of the file in reading order, stripped of surrounding whitespace (keep blank lines out)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; save the statute text as one of "
            f"{', '.join(SUPPORTED_SUFFIXES)} (a Word .doc as .docx)"
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if suffix == ".docx":
        raw = _docx_lines(path)
    elif suffix in (".html", ".htm"):
        raw = _html_lines(path)
    elif suffix == ".pdf":
        raw = _pdf_lines(path)
    else:
        raw = _decode(path, path.read_bytes()).splitlines()
        if suffix in (".md", ".markdown"):
            raw = [part for line in raw for part in _unmarkdown(line).split("\n")]
    lines = (line.strip().strip(_INVISIBLE).strip() for line in raw)
    return [line for line in lines if line]


def _decode(path: Path, data: bytes, declared: str | None = None) -> str:
    """UTF-8 first (with or without BOM), then GB18030, the superset of GBK/GB2312 that Chinese Windows
    saves by default; a declared charset (HTML meta) is tried before both."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise InputError(f"{path}: looks like a binary file, not text; save the statute text as UTF-8 .txt")
    declared = {"gb2312": "gb18030", "gbk": "gb18030"}.get((declared or "").lower(), declared)
    for encoding in (declared, "utf-8-sig", "gb18030"):
        if not encoding:
            continue
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise InputError(f"{path}: neither UTF-8 nor GB18030 text; re-save the file as UTF-8 and try again")


_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|~])")


def _unmarkdown(line: str) -> str:
    """The text of one Markdown line: heading marks, emphasis, bullets, quotes and links go, the words stay.

    Numbered items (``1.``) are kept: statutes number their items that way too.
    """
    s = line.strip()
    if re.fullmatch(r"(?:[-*_=]\s*){3,}", s):  # thematic break or setext underline
        return ""
    s = re.sub(r"\\$", "", s)  # hard line break
    escaped: list[str] = []

    def protect(m: re.Match[str]) -> str:
        escaped.append(m.group(1))
        return f"\ue000{len(escaped) - 1}\ue001"

    s = _MD_ESCAPE.sub(protect, s)
    s = re.sub(r"^(?:>\s?)+", "", s)
    s = re.sub(r"^#{1,6}\s*", "", s)
    s = re.sub(r"\s+#+\s*$", "", s)
    s = re.sub(r"^[-*+]\s+", "", s)
    s = s.replace("**", "")
    s = re.sub(r"\*(\S(?:.*?\S)?)\*", r"\1", s)
    s = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"`([^`]*)`", r"\1", s)
    s = re.sub(r"<br\s*/?>", "\n", s, flags=re.I)
    return re.sub("\ue000(\\d+)\ue001", lambda m: escaped[int(m.group(1))], s)


def _docx_lines(path: Path) -> list[str]:
    """Body paragraphs and table cells in document order (headers and footers, where page numbers live,
    are left out)."""
    try:
        import docx
    except ImportError:
        raise InputError(f"{path}: reading .docx needs python-docx; run `pip install python-docx`") from None
    try:
        document = docx.Document(str(path))
        return [line for text in _docx_blocks(document) for line in text.split("\n")]
    except Exception as e:  # python-docx raises many kinds on a damaged package; all mean the same here
        raise InputError(
            f"{path}: not a readable Word .docx file ({type(e).__name__}: {e}); open it in Word and save "
            f"it again as .docx, or save the text as .txt"
        ) from e


def _docx_blocks(container) -> list[str]:
    from docx.table import Table

    out: list[str] = []
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            seen: set[int] = set()
            for row in item.rows:
                for cell in row.cells:
                    if id(cell._tc) not in seen:  # a merged cell appears once per grid column it spans
                        seen.add(id(cell._tc))
                        out.extend(_docx_blocks(cell))
        else:
            out.append(item.text)
    return out


_HTML_BLOCKS = [
    *("address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset"),
    *("figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr"),
    *("li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th"),
    *("thead", "tr", "ul"),
]
_BREAK = "\ue002"


def _html_lines(path: Path) -> list[str]:
    """Text of the page's block elements, one line per block or ``<br>``; scripts and styles dropped."""
    try:
        from bs4 import BeautifulSoup
    except ImportError:
        raise InputError(
            f"{path}: reading HTML needs beautifulsoup4; run `pip install beautifulsoup4`"
        ) from None
    data = path.read_bytes()
    m = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9_-]+)""", data[:4096])
    text = _decode(path, data, m.group(1).decode("ascii") if m else None)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "iframe", "svg", "button"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with(_BREAK)
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before(_BREAK)
        tag.insert_after(_BREAK)
    text = soup.get_text()
    # A source line break between two Chinese characters is no space (browsers render none); others are one.
    text = re.sub(rf"(?<=[{_CJK}，。；：、）])[ \t\r\n]*\n[ \t\r\n]*(?=[{_CJK}（])", "", text)
    text = re.sub(r"[ \t\r\n\f\v\xa0]+", " ", text)
    return text.split(_BREAK)


def _pdf_lines(path: Path) -> list[str]:
    """The PDF's text layer, lines that the page width broke rejoined (see ``_unwrap``)."""
    try:
        import pypdf
    except ImportError:
        raise InputError(
            f"{path}: reading PDF needs pypdf; run `pip install pypdf`, or save the text as .txt"
        ) from None
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as e:  # pypdf raises many kinds on a damaged file; all mean the same here
        raise InputError(
            f"{path}: not a readable PDF ({type(e).__name__}: {e}); save the text as .txt"
        ) from e
    lines = [line.strip() for page in pages for line in page.splitlines() if line.strip()]
    if not lines:
        raise InputError(
            f"{path}: the PDF has no text layer (a scanned image); copy the text from the national law "
            f"database (flk.npc.gov.cn) into a .txt file and import that"
        )
    return _unwrap(lines)


_TERMINAL = tuple("。；：！？…”’）)】」")


def _unwrap(lines: list[str]) -> list[str]:
    """Rejoin paragraphs that a PDF broke at the page width.

    A line as long as a full line (80 % of the usual longest), not ending a sentence, continues on the next
    text line unless that starts an article, heading, item or attachment. Page furniture (page numbers)
    between the two halves is moved after the joined paragraph, where ``segment`` sets it aside.
    """
    widths = [len(line) for line in lines if not _is_noise(line)]
    if not widths:
        return lines
    full = statistics.quantiles(widths, n=10, method="inclusive")[-1] if len(widths) > 1 else widths[0]
    out: list[str] = []
    pending: list[str] = []  # noise met while a paragraph is still open
    for line in lines:
        if _is_noise(line):
            (pending if out and _continues(out[-1], full) else out).append(line)
            continue
        if out and _continues(out[-1], full) and not _starts_block(line):
            out[-1] += line
            continue
        out.extend(pending)
        pending.clear()
        out.append(line)
    return out + pending


def _continues(line: str, full: float) -> bool:
    return len(line) >= 0.8 * full and not line.endswith(_TERMINAL) and not _is_noise(line)


def _starts_block(line: str) -> bool:
    return bool(_match_article(line) or _match_heading(line) or _ITEM_RE.match(line) or _is_trailer(line))


# ------------------------------------------------------------------------------------------- segmenting


@dataclass(frozen=True)
class ParsedArticle:
    label: str  # canonical label as statutes write it: "第十条", "第二百一十九条之一"
    number: int
    sub: int | None  # 之一 -> 1
    part: str  # nearest preceding 编 heading ("第一编 总则"); "第三编 合同 / 第一分编 通则" under a 分编
    chapter: str  # nearest preceding 章 heading or ""
    section: str  # nearest preceding 节 heading or ""
    text: str  # article body: label and its separator removed, paragraphs joined with "\n"
    line: int  # 1-based line number (in read_lines output) where the article starts


@dataclass
class ParseReport:
    source: str  # file name for messages
    title: str  # the law's title without 《》 or a version tail, "" if none
    header: list[str] = field(default_factory=list)  # non-heading lines before the first article
    articles: list[ParsedArticle] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # "第十二条之后是第十四条（缺第十三条）"
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (label, line) of a repeat, not kept
    unparsed: list[tuple[int, str]] = field(default_factory=list)  # (line, text) set aside after 第一条


# A number is any numeral (\d also takes full-width digits, which chinese_to_int reads); _value bounds it.
_ARTICLE_RE = re.compile(
    rf"^(?:\*\*)?第\s*(?P<num>{NUMERAL})\s*条(?:\s*之\s*(?P<sub>{NUMERAL}))?(?:\*\*)?(?P<rest>.*)$"
)
_HEADING_RE = re.compile(rf"^(?:\*\*)?第\s*(?P<num>{NUMERAL})\s*(?P<kind>分编|编|章|节)(?:\*\*)?(?P<rest>.*)$")
# What follows 第X条 without a space when the line cites an article instead of starting one.
_REFERENCE = re.compile(
    r"^(?:第|规定|所称|所列|所述|所指|所规定|的|之|、|，|,|至|到|和|及|与|或|中的|中规定|以外|以下|以上|项|款)"
)
_SEPARATOR = re.compile(r"^(?:\*\*)?[\s:：.．]+")
_ITEM_RE = re.compile(rf"^(?:{ITEM_MARK}|[（(]\d+[）)]|\d+[.．、]|{ITEM_NUMERAL}、)")
_TRAILER_RE = re.compile(rf"^(?:附\s*[件录表](?:\s*(?:\d+|{ITEM_NUMERAL}))?|附\s*[：:])")
_NOISE_RES = [
    re.compile(r"^[-—–－_\s]*\d{1,4}[-—–－_\s]*$"),  # "- 3 -", "3"
    re.compile(r"^第\s*\d+\s*页(?:\s*[，,/／]?\s*共\s*\d+\s*页)?$"),  # "第 3 页", "第3页 共10页"
    re.compile(r"^(?:共\s*\d+\s*页\s*)?第\s*\d+\s*页$"),
    re.compile(r"^\d+\s*/\s*\d+$"),  # "3/10"
    re.compile(r"^(?:page|p\.)\s*\d+(?:\s*of\s*\d+)?$", re.I),
    re.compile(
        r"^[【\[]?(?:返回顶部|回到顶部|打印本页|打印|关闭窗口|关闭|上一篇|下一篇|分享到|扫一扫|收藏|复制链接)[】\]]?[:：]?$"
    ),
    re.compile(r"^[【\[]?字体[:：]?\s*[大中小\s]+[】\]]?$"),
    re.compile(r"^(?:首页|当前位置|您当前的位置|您的位置)\s*[>＞›»:：]"),
]


def _match_article(line: str) -> tuple[int, int | None, str] | None:
    """(number, sub, first paragraph) when the line starts an article, else None."""
    m = _ARTICLE_RE.match(line)
    if not m:
        return None
    rest = m.group("rest")
    sep = _SEPARATOR.match(rest)
    if sep:
        rest = rest[sep.end() :]
    elif rest and _REFERENCE.match(rest):
        return None  # "第十条规定的……" cites an article
    number, sub = _value(m.group("num")), _value(m.group("sub")) if m.group("sub") else None
    if number is None or (m.group("sub") and sub is None):
        return None
    return number, sub, rest.strip()


def _match_heading(line: str) -> tuple[str, str] | None:
    """(kind, canonical heading such as "第一章 总则") when the line is a 编/分编/章/节 heading, else None."""
    m = _HEADING_RE.match(line)
    if not m:
        return None
    rest = m.group("rest")
    sep = _SEPARATOR.match(rest)
    title = rest[sep.end() :] if sep else rest
    if (not sep and rest and _REFERENCE.match(rest)) or len(title) > 40 or re.search(r"[。，；,;]", title):
        return None
    number = _value(m.group("num"))
    if number is None:
        return None
    # "总　　则" is typography for 总则: drop spaces between Chinese characters, keep one elsewhere.
    title = re.sub(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])", "", title.strip())
    title = re.sub(r"\s+", " ", title)
    kind = m.group("kind")
    return kind, f"第{int_to_chinese(number)}{kind}" + (f" {title}" if title else "")


def _value(text: str) -> int | None:
    """A number an article or heading can have (1 to 9999), None for anything else."""
    n = number_or_none(text)
    return n if n is not None and 0 < n < 10000 else None


def _is_trailer(line: str) -> bool:
    """An attachment after the last article ("附件", "附件1：…", "附：…"), not a 附则 heading."""
    return bool(_TRAILER_RE.match(line)) and len(line) <= 60 and not line.endswith("。")


def _is_noise(line: str) -> bool:
    """Page numbers, navigation text, and lines without a single Chinese character."""
    return any(r.match(line) for r in _NOISE_RES) or not re.search(f"[{_CJK}]", line)


_TITLE_END = re.compile(
    r"(?:法|法典|条例|规定|解释|办法|细则|决定|规则|批复|意见|通知|章程|准则|答复|公告|纲要|修正案)$"
)


def _title(header: list[str]) -> str:
    """The first header line shaped like a statute title, without 《》 and a （2025修订） tail."""
    for line in header:
        if _is_noise(line):  # a breadcrumb "首页 > 法律法规 > 某某法" ends like a title too
            continue
        s = line.strip()
        while True:  # version tails such as （2025修订） or (2020年修正)
            tail = re.search(r"[（(][^（）()]*[）)]$", s)
            if not tail:
                break
            s = s[: tail.start()].rstrip()
        if s.startswith("《") and s.endswith("》"):
            s = s[1:-1]
        if 2 <= len(s) <= 80 and _TITLE_END.search(s) and not s.startswith("第") and "。" not in s:
            return s
    return ""


class _Dropped:
    """Collects the body of a repeated article, which is reported, not kept."""

    def append(self, line: str) -> None:
        pass


def segment(lines: list[str], source: str) -> ParseReport:
    """Cut text lines into articles under their headings, reporting what a person should look at.

    Headings set the part/chapter/section of the articles after them; a table of contents before the first
    article is harmless because each article takes the last heading seen. Lines before the first article
    are the header; after it, a line is a paragraph of the current article unless it is page furniture
    (set aside) or an attachment, which ends the body.
    """
    report = ParseReport(source=source, title="")
    part = subpart = chapter = section = ""
    current: list[str] | _Dropped | None = None
    opened: list[tuple[int, int | None, str, str, str, int, list[str]]] = []
    labels: set[str] = set()
    ended = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if ended:
            report.unparsed.append((lineno, line))
            continue
        article = _match_article(line)
        if article:
            number, sub, first = article
            label = article_label(number, sub)
            if label in labels:
                report.duplicates.append((label, lineno))
                current = _Dropped()
                continue
            labels.add(label)
            current = [first] if first else []
            where = " / ".join(p for p in (part, subpart) if p)
            opened.append((number, sub, where, chapter, section, lineno, current))
            continue
        heading = _match_heading(line)
        if heading:
            kind, text = heading
            if kind == "编":
                part, subpart, chapter, section = text, "", "", ""
            elif kind == "分编":
                subpart, chapter, section = text, "", ""
            elif kind == "章":
                chapter, section = text, ""
            else:
                section = text
            if opened:
                current = None
            continue
        if not opened:
            report.header.append(line)
        elif _is_trailer(line):
            ended = True
            report.unparsed.append((lineno, line))
        elif _is_noise(line) or current is None:
            report.unparsed.append((lineno, line))
        else:
            current.append(line)
    report.articles = [
        ParsedArticle(article_label(n, sub), n, sub, where, chapter, section, "\n".join(paras), lineno)
        for n, sub, where, chapter, section, lineno, paras in opened
    ]
    report.title = _title(report.header)
    report.gaps = _gaps(report.articles)
    return report


def _gaps(articles: list[ParsedArticle]) -> list[str]:
    """Missing main numbers within each run of articles; a restart at 第一条 begins a new run."""
    gaps: list[str] = []
    prev: int | None = None
    for a in articles:
        if a.sub is not None:
            continue
        n = a.number
        if prev is None and n > 1:
            gaps.append(f"条文从{article_label(n)}开始（缺{_missing(1, n)}）")
        elif prev is not None and n > prev + 1:
            gaps.append(f"{article_label(prev)}之后是{article_label(n)}（缺{_missing(prev + 1, n)}）")
        elif prev is not None and 1 < n <= prev:
            gaps.append(f"{article_label(prev)}之后是{article_label(n)}（编号倒退）")
        prev = n
    return gaps


def _missing(start: int, stop: int) -> str:
    """Labels of start..stop-1: one, two joined by 、, or a range with 至."""
    if stop - start == 1:
        return article_label(start)
    if stop - start == 2:
        return f"{article_label(start)}、{article_label(start + 1)}"
    return f"{article_label(start)}至{article_label(stop - 1)}"


def parse_file(path: Path) -> ParseReport:
    """``read_lines`` then ``segment``; a file without a single article is refused, not imported empty."""
    path = Path(path)
    report = segment(read_lines(path), str(path))
    if not report.articles:
        raise InputError(f"{path}: no recognisable article (第一条 …); is this a statute text?")
    return report
