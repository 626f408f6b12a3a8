"""Statute citations: parse ``《法律名》第X条``, find them in free text, judge them against the statute
store on a date, and look articles up.

Shared by the data tools (strict: ``check_citation`` wants statute-style numerals) and the chat
client (``verify_citations``). A citation reads ``《法律名》第X条``, optionally with ``之Y`` and
``第Y款``/``第（Y）项``, and optionally a version in parentheses after the title
(``《中华人民共和国专利法》（2008修正）第六十九条``). A law is named by its full title, without the
中华人民共和国 prefix (《专利法》), with 〈〉 for nested titles, or by a common abbreviation
(``ALIASES``). In free text a store law is also recognised without the brackets (专利法第十一条), and
``、第Y条``/``和第Y条`` after a citation cite the same law.

How ``check`` judges a citation on a date (today unless the user asks ``--as-of``); a citation without
a version means the version in force on that date:

* ``ok`` (现行): the store holds the article, its 款 and 项, in a text in force on that date.
* ``superseded`` (已被取代): the article is cited in a version that had ceased to be in force on that
  date (《反不正当竞争法》（2019修正）第九条), or the store's only text of the law is superseded; the
  verdict says since when, by what, and the current article when the renumbering is known.
* ``not_yet_in_force`` (尚未施行): the cited version took effect after that date.
* ``ambiguous_version`` (版本不明): the version written matches more than one text of the store.
* ``no_such_article`` (无此条): the text has no such article (《专利法》第九十九条; 专利法 has 82), no
  such ``之Y`` article (民法典 has none), or no such 款/项.
* ``not_in_database`` (库中无此法/未收录): the citation may well be right, but the offline store cannot
  tell: the law or that version of it is not stored, a 修正案 is cited (its articles live in the law it
  amends), or the article lies outside a stored excerpt.
* ``unknown_law`` (名称有误): the title is not one a real document could have. A title the store does
  not hold counts as real when it ends the way Chinese legal documents end (法, 条例, 细则, 规定, 办法,
  解释, 批复, 决定, 修正案…) and is not a near-miss of a stored title; a near-miss is a short title (at
  most 12 characters without 中华人民共和国) sharing at least 70 % of its characters with a stored one,
  the usual shape of an invented name (《专利保护法》, 《专利法实施条例》). Anything else
  (《知识产权保护大全》) is unknown too. Long titles (judicial interpretations) are never near-misses:
  real ones differ from each other by a few characters.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from datetime import date

from ecmiip.core.errors import InputError
from ecmiip.core.numerals import (
    ARTICLE_NUMERAL,
    ITEM_NUMERAL,
    STATUTE_NUMERAL,
    canonical_number,
    chinese_to_int,
    int_to_chinese,
    number_or_none,
)
from ecmiip.core.renumbering import KNOWN, moved_to, reference_note
from ecmiip.core.statutes import (
    PRC,
    Article,
    Document,
    StatuteStore,
    short_title,
    store,
    version_year,
)


def _article_reference(named: bool) -> str:
    """How an article reference is written, 第X条(之Y)(第Z款)(第W项) (项 also 第（W）项): the one place
    that says it. ``named`` gives the groups ``article`` (第X条之Y), ``num``, ``sub`` and ``tail`` (款 and 项)."""
    def group(name: str, pattern: str) -> str:
        return f"(?P<{name}>{pattern})" if named else f"(?:{pattern})"

    article = f"第{group('num', ARTICLE_NUMERAL)}条(?:之{group('sub', STATUTE_NUMERAL)})?"
    tail = f"(?:第{ARTICLE_NUMERAL}款)?(?:第[（(]?{ARTICLE_NUMERAL}[）)]?项)?"
    return group("article", article) + group("tail", tail)


#: An article reference without the law, for composing other patterns: 第十条之一第二款第（三）项.
ARTICLE_REFERENCE = _article_reference(named=False)
#: A statute's own article label, Chinese numerals only: 第十一条, 第十条之一 (groups: number, 之 number).
ARTICLE_LABEL_RE = re.compile(f"第({STATUTE_NUMERAL})条(?:之({STATUTE_NUMERAL}))?")

# One level of nested 《》 is allowed because one store title contains it; 〈〉 needs no special case.
_LAW = r"[^《》\n]{1,80}(?:《[^《》\n]{1,40}》[^《》\n]{0,40})?"
_VERSION = r"(?:[（(](?P<version>[^（）()\n]{1,20})[）)])?"
_REFERENCE = _article_reference(named=True)

CITATION_RE = re.compile(rf"《(?P<law>{_LAW})》{_VERSION}{_REFERENCE}")

#: A mention of an article however the law is named (《…》, 本法, a bare name ending in 法), Chinese
#: numerals only: for counting what a text refers to, not for checking it (that is ``CITATION_RE``).
LOOSE_ARTICLE_RE = re.compile(rf"(?:《[^》]+》|本法|[\u4e00-\u9fff]{{1,12}}法)第{STATUTE_NUMERAL}条")

# More articles of the law just cited (、第十二条), or paragraphs/items of it to skip (、第三款).
_CONTINUATION_RE = re.compile(
    rf"\s*(?:、|和|及|以及|或者|或|与|至|到)\s*(?:{_REFERENCE}|第[（(]?{ARTICLE_NUMERAL}[）)]?[款项])"
)
# The number and 之 number of an article as a citation writes it (第十一条, 第11条, 第十条之一).
_ARTICLE_NUMBER_RE = re.compile(f"第({ARTICLE_NUMERAL})条(?:之({STATUTE_NUMERAL}))?")

#: Common abbreviations (what judgments and lawyers write) → store titles.
ALIASES = {
    "反法": "中华人民共和国反不正当竞争法",
    "专利法细则": "中华人民共和国专利法实施细则",
    "专利侵权司法解释": "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释",
    "专利侵权解释": "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释",
    "专利侵权司法解释（二）": "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释（二）",
    "专利侵权解释（二）": "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释（二）",
    "商标民事纠纷司法解释": "最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释",
    "商标民事纠纷解释": "最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释",
    "驰名商标司法解释": "最高人民法院关于审理涉及驰名商标保护的民事纠纷案件应用法律若干问题的解释",
    "著作权民事纠纷司法解释": "最高人民法院关于审理著作权民事纠纷案件适用法律若干问题的解释",
    "著作权民事纠纷解释": "最高人民法院关于审理著作权民事纠纷案件适用法律若干问题的解释",
    "信息网络传播权司法解释": "最高人民法院关于审理侵害信息网络传播权民事纠纷案件适用法律若干问题的规定",
    "反不正当竞争法司法解释": "最高人民法院关于适用《中华人民共和国反不正当竞争法》若干问题的解释",
    "反不正当竞争法解释": "最高人民法院关于适用《中华人民共和国反不正当竞争法》若干问题的解释",
    "商业秘密司法解释": "最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定",
    "商业秘密规定": "最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定",
    "惩罚性赔偿司法解释": "最高人民法院关于审理侵害知识产权民事案件适用惩罚性赔偿的解释",
    "惩罚性赔偿解释": "最高人民法院关于审理侵害知识产权民事案件适用惩罚性赔偿的解释",
    "知识产权民事诉讼证据规定": "最高人民法院关于知识产权民事诉讼证据的若干规定",
    "技术合同司法解释": "最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释",
    "技术合同解释": "最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释",
    "侵犯知识产权刑事案件解释": "最高人民法院、最高人民检察院关于办理侵犯知识产权刑事案件具体应用法律若干问题的解释",
    "侵犯知识产权刑事案件解释（二）":
        "最高人民法院、最高人民检察院关于办理侵犯知识产权刑事案件具体应用法律若干问题的解释（二）",
    "侵犯知识产权刑事案件解释（三）":
        "最高人民法院 最高人民检察院关于办理侵犯知识产权刑事案件具体应用法律若干问题的解释（三）",
}

# Everyday names that are not the title of any Chinese law, and the law meant.
MISNOMERS = {"版权法": "中华人民共和国著作权法", "中华人民共和国版权法": "中华人民共和国著作权法"}

# How the titles of Chinese legal documents end (the document type), with an optional （二）.
_DOC_TYPE_RE = re.compile(
    r"(?:法|法典|条例|细则|规定|办法|解释|批复|决定|意见|规则|通知|公约|协定|条约|纪要|指南|修正案)"
    rf"(?:（{ITEM_NUMERAL}）)?$"
)
_AMENDMENT_RE = re.compile(rf"(?P<law>.+?)修正案(?:（{ITEM_NUMERAL}）)?$")
_NEAR_MISS_MAX_LEN = 12
_NEAR_MISS_CUTOFF = 0.7

# Statuses of a CitationCheck, and the word the chat client shows for each.
OK = "ok"
SUPERSEDED = "superseded"
NOT_YET_IN_FORCE = "not_yet_in_force"
AMBIGUOUS_VERSION = "ambiguous_version"
NO_SUCH_ARTICLE = "no_such_article"
NOT_IN_DATABASE = "not_in_database"
UNKNOWN_LAW = "unknown_law"
STATUS_WORDS = {
    OK: "现行", SUPERSEDED: "已被取代", NOT_YET_IN_FORCE: "尚未施行", AMBIGUOUS_VERSION: "版本不明",
    NO_SUCH_ARTICLE: "无此条", NOT_IN_DATABASE: "库中未收录", UNKNOWN_LAW: "名称有误",
}

# ---------------------------------------------------------------- numbers


def article_number(label: str) -> int | None:
    """``"第十一条"`` or ``"十一"`` (a 批复's item) → 11; anything else → None."""
    m = re.fullmatch(f"第({STATUTE_NUMERAL})条", label) or re.fullmatch(f"({STATUTE_NUMERAL})", label)
    return canonical_number(m.group(1)) if m else None


def article_label(number: int, sub: int | None = None) -> str:
    """(10, 1) → ``"第十条之一"``: the label the database uses."""
    return f"第{int_to_chinese(number)}条" + (f"之{int_to_chinese(sub)}" if sub else "")


# ---------------------------------------------------------------- the store


def _per_store(fn):
    """Cache ``fn(store)`` for as long as the store is the same (an import replaces it)."""
    cache: dict = {}

    @functools.wraps(fn)
    def wrapper():
        s = store()
        if cache.get("store") is not s:
            cache.clear()
            cache["store"], cache["value"] = s, fn(s)
        return cache["value"]

    return wrapper


@dataclass(frozen=True)
class LawIndex:
    """What the store knows about one law's version in force today, for checking references to it."""

    law: str
    version: str
    labels: frozenset[str]
    last: int  # highest numbered article, 0 when none is numbered
    complete: bool  # articles run 1..last without gaps (not an excerpt)


def _law_index(s: StatuteStore, doc: Document) -> LawIndex:
    arts = s.articles_of.get(doc.key, ())
    numbers = {n for n in (article_number(a.article) for a in arts) if n is not None}
    last = max(numbers, default=0)
    complete = bool(numbers) and numbers == set(range(1, last + 1)) and not doc.excerpt
    return LawIndex(doc.law, doc.version, frozenset(a.article for a in arts), last, complete)


@_per_store
def _doc_indexes(s: StatuteStore) -> dict[str, LawIndex]:
    return {d.key: _law_index(s, d) for d in s.documents}


def doc_index(doc: Document) -> LawIndex:
    return _doc_indexes()[doc.key]


@_per_store
def corpus_index(s: StatuteStore) -> dict[str, LawIndex]:
    """Every law of the store by title, described by its version in force today (else its latest)."""
    out = {}
    for law, versions in s.by_law.items():
        doc = s.current(law) or versions[-1]
        out[law] = _doc_indexes()[doc.key]
    return out


@_per_store
def _by_number(s: StatuteStore) -> dict[tuple[str, int, int | None], Article]:
    """(document key, number, 之 number) → article; a 批复's items count as articles, its 正文 as 1."""
    out: dict[tuple[str, int, int | None], Article] = {}
    for a in s.articles:
        m = ARTICLE_LABEL_RE.fullmatch(a.article)
        if m and m[2]:
            out[(a.doc.key, chinese_to_int(m[1]), chinese_to_int(m[2]))] = a
        elif (n := article_number(a.article)) is not None:
            out[(a.doc.key, n, None)] = a
        elif a.article == "正文":
            out.setdefault((a.doc.key, 1, None), a)
    return out


def find_article(doc: Document, number: int | None, sub: int | None = None) -> Article | None:
    """Article ``number`` (之 ``sub``) of one stored text, or None."""
    return _by_number().get((doc.key, number, sub)) if number else None


def format_citation(law: str, article: str = "", version: str = "") -> str:
    """``《法律名》第X条``; ``《法律名》（2019修正）第X条`` with a version, ``《法律名》`` without an article.
    A title nested in the title is written 〈〉, as citations do."""
    title = law.replace("《", "〈").replace("》", "〉")
    return f"《{title}》" + (f"（{version}）" if version else "") + article


def cited_label(label: str) -> str:
    """A stored label as a citation writes it: 第十一条 as it is, a 批复's item 二 as 第二条, its 正文 as
    nothing (the title alone)."""
    if label == "正文":
        return ""
    return label if label.startswith("第") else f"第{label}条"


def cite(article: Article) -> str:
    """``《法律名》第X条`` for an article."""
    return format_citation(article.law, article.article)


def cite_versioned(article: Article) -> str:
    """``《法律名》（2020修正）第X条``: the citation with the version it relies on."""
    return format_citation(article.law, article.article, article.version)


def _norm(name: str) -> str:
    """A title as compared: no brackets of nested titles, no spaces, full-width parentheses."""
    name = re.sub(r"[《》〈〉<>\s]", "", name)
    return name.replace("(", "（").replace(")", "）")


def _key(name: str) -> str:
    """What two names of one law share: normalised, 中华人民共和国 dropped wherever it stands."""
    return _norm(name).replace(PRC, "")


@_per_store
def _titles(s: StatuteStore) -> dict[str, str]:
    """Name key → store title, for every title and abbreviation."""
    out = {_key(law): law for law in s.by_law}
    for alias, law in ALIASES.items():
        if law in s.by_law:
            out.setdefault(_key(alias), law)
    return out


def resolve_law(name: str) -> str | None:
    """The store title a citation means (full, short, 〈〉-nested or abbreviated), or None."""
    return _titles().get(_key(name))


def looks_like_title(name: str) -> bool:
    """Whether ``name`` ends the way the title of a Chinese law, regulation or interpretation does."""
    return bool(_DOC_TYPE_RE.search(_norm(name)))


def near_misses(name: str) -> list[str]:
    """Stored titles a short, unstored title is a garbled form of (《专利保护法》 → 专利法)."""
    short = short_title(_norm(name))
    if resolve_law(name) or len(short) > _NEAR_MISS_MAX_LEN:
        return []
    shorts = {short_title(law): law for law in store().by_law}
    close = difflib.get_close_matches(short, list(shorts), n=3, cutoff=_NEAR_MISS_CUTOFF)
    return [shorts[s] for s in close]


def close_titles(name: str, n: int = 5) -> list[str]:
    """Stored titles a user may have meant: those containing the name, then similar ones."""
    key = short_title(_norm(name))
    laws = list(store().by_law)
    found = [law for law in laws if key and key in _norm(law)]
    shorts = {short_title(law): law for law in laws}
    found += [shorts[s] for s in difflib.get_close_matches(key, list(shorts), n=n, cutoff=0.5)]
    return list(dict.fromkeys(found))[:n]


# ---------------------------------------------------------------- citations


@dataclass(frozen=True)
class Citation:
    law: str  # as written, without the outer 《》
    article: str  # as written: "第十一条", "第十条之一", "第11条"
    resolved_law: str | None  # store title, None when the law is not in the store
    version: str | None = None
    detail: str = ""  # paragraph and item as written: "第一款第二项"
    text: str = ""  # the citation as a reader would quote it (law included)
    span: tuple[int, int] | None = None  # where it stands in the text find_citations searched

    @property
    def key(self) -> str:
        """Normalised ``《full title》第X条`` (paragraph and item dropped), for counting."""
        return f"《{self.resolved_law or self.law}》{self.article}"

    @property
    def number(self) -> int | None:
        """The article's number however it is written (第十一条, 第11条 → 11)."""
        m = _ARTICLE_NUMBER_RE.fullmatch(self.article)
        return number_or_none(m[1]) if m else None

    @property
    def sub(self) -> int | None:
        """The 之Y number (第十条之一 → 1), None when there is none."""
        m = _ARTICLE_NUMBER_RE.fullmatch(self.article)
        return number_or_none(m[2]) if m else None

    @property
    def paragraph(self) -> int | None:
        """第Y款 → Y."""
        m = re.search(f"第({ARTICLE_NUMERAL})款", self.detail)
        return number_or_none(m[1]) if m else None

    @property
    def item(self) -> int | None:
        """第（Y）项 or 第Y项 → Y."""
        m = re.search(f"第[（(]?({ARTICLE_NUMERAL})[）)]?项", self.detail)
        return number_or_none(m[1]) if m else None


def _split_version(law: str, version: str | None) -> tuple[str, str | None]:
    """Title and version: a version inside the title (《专利法（2008修正）》) moves out, and a
    numbering outside it (《…解释》（二）) moves in."""
    if version is not None and re.fullmatch(ITEM_NUMERAL, version):
        return f"{law}（{version}）", None
    m = re.fullmatch(r"(.+?)[（(](\d{4}[^（）()]*)[）)]", law)
    if m and version is None:
        return m[1], m[2]
    return law, version


def _citation(m: re.Match, law: str, version: str | None, text: str, span: tuple[int, int]) -> Citation:
    return Citation(law, m["article"], resolve_law(law), version, m["tail"] or "", text, span)


def parse_citation(text: str) -> Citation | None:
    """A ``《法名》第X条`` reference, or None when the string is not exactly one."""
    m = CITATION_RE.fullmatch(text.strip())
    if not m:
        return None
    law, version = _split_version(m["law"], m["version"])
    return _citation(m, law, version, m.group(0), (0, len(m.group(0))))


@_per_store
def _bare_re(s: StatuteStore) -> re.Pattern:
    """Store laws cited without brackets (专利法第十一条); longest names first."""
    names = {n for law in s.by_law if "《" not in law for n in (law, short_title(law))}
    names |= {a for a, law in ALIASES.items() if "《" not in a and law in s.by_law}
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?P<law>{alternation}){_VERSION}{_REFERENCE}")


def find_citations(text: str) -> list[Citation]:
    """Every article citation in free text (a model's answer), in order, each with its span."""
    found: list[Citation] = []
    taken: list[tuple[int, int]] = []
    for pattern in (CITATION_RE, _bare_re()):
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            law, version = _split_version(m["law"], m["version"])
            quoted = m.group(0) if pattern is CITATION_RE else f"《{m['law']}》{text[m.end('law'):m.end()]}"
            found.append(_citation(m, law, version, quoted, m.span()))
            taken.append(m.span())
            end = m.end()
            while (c := _CONTINUATION_RE.match(text, end)) is not None:
                end = c.end()
                if c["article"]:
                    start = c.start("article")
                    written = f"（{version}）" if version else ""
                    quoted = f"《{law}》{written}{c['article']}{c['tail'] or ''}"
                    found.append(_citation(c, law, version, quoted, (start, end)))
            taken.append((m.end(), end))
    return sorted(found, key=lambda c: c.span)


# ---------------------------------------------------------------- checking


def check_citation(text: str) -> list[tuple[str, str]]:
    """Problems of one reference as ``(severity, reason)`` pairs; empty when it is fine.

    The data tools' strict check: numbers must be written as statutes write them; a reference to a
    text that is no longer in force is an error (training data must not teach repealed numbering);
    what the store cannot judge (another law, an unstored version) is no problem.
    """
    m = CITATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        return [("error", f"not an article reference of the form 《法名》第X条: {text!r}")]
    if canonical_number(m["num"]) is None or (m["sub"] and canonical_number(m["sub"]) is None):
        return [("error", f"article number must be a Chinese numeral written as statutes write it "
                          f"(第十一条, 第一百零一条): {text!r}")]
    c = parse_citation(text)
    if c is None or c.resolved_law is None:
        return []  # not in the store: nothing to check against
    verdict = check(c)
    doc = verdict.doc
    if verdict.status == NO_SUCH_ARTICLE:
        info = doc_index(doc)
        total = info.last if info.complete else doc.total_articles
        if c.number and total and c.number > total:
            return [("error", f"{c.article} is beyond 《{doc.law}》, which has {total} articles")]
        return [("error", f"《{doc.law}》（{doc.version}） has no {c.article}{c.detail}")]
    if verdict.status == SUPERSEDED and c.version is None:
        since = f" since {doc.superseded_on.isoformat()}" if doc.superseded_on else ""
        return [("error", f"{text} is in 《{doc.law}》（{doc.version}）, no longer in force{since}: cite the current "
                          f"article, or write the version (《{doc.law}》（{doc.version}）{c.article}) when the record "
                          f"relies on the old text")]
    if verdict.status == AMBIGUOUS_VERSION:
        return [("error", f"{text}: the version matches several texts in the store; write its year")]
    if verdict.status == NOT_IN_DATABASE and doc is not None and c.version is None and doc.in_force_on(date.today()):
        return [("warning", f"{c.article} is not in the shipped text of 《{doc.law}》; not checked")]
    return []


@dataclass(frozen=True)
class CitationCheck:
    """The verdict on one citation of a model's answer (statuses: see the module's docstring)."""

    citation: Citation
    status: str
    reason: str = ""  # Chinese, for the user; empty when ok
    article: Article | None = None  # the cited article when the store holds it
    current: Article | None = None  # for a superseded citation: today's article, when known
    doc: Document | None = None  # the text the citation was judged against

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def word(self) -> str:
        """现行 / 已被取代 / 无此条 / 库中无此法 …: the status as the chat client shows it."""
        if self.status == NOT_IN_DATABASE and self.citation.resolved_law is None:
            return "库中无此法"
        return STATUS_WORDS[self.status]

    @property
    def text(self) -> str:
        return self.citation.text

    @property
    def span(self) -> tuple[int, int] | None:
        return self.citation.span


def _count(n: int) -> str:
    return f"{int_to_chinese(n)}条"


def _matches(written: str, doc: Document) -> bool:
    """Whether a version as written (2019修正, 2019年, 法释〔2020〕7号, 修正) names ``doc``."""
    w = written.replace("年", "").replace(" ", "")
    if "法释" in w or "令" in w:
        return bool(doc.doc_number) and _norm(doc.doc_number) == _norm(w)
    if version_year(w):
        return version_year(w) == version_year(doc.version)
    return w in doc.version


def _known_versions(s: StatuteStore, law: str) -> list[tuple[str, date | None]]:
    """Versions of ``law`` the store knows of without holding them: successors and renumbered ones."""
    out = [(d.superseded_by.version, d.superseded_by.effective) for d in s.by_law.get(law, ())
           if d.superseded_by and d.superseded_by.law == law]
    out += [(k.old_version, None) for k in KNOWN if k.law == law]
    return out


def _superseded(c: Citation, doc: Document, article: Article | None, day: date, s: StatuteStore) -> CitationCheck:
    """Verdict for an article of a text no longer in force on ``day``: since when, by what, and today's article."""
    label = article.article if article else c.article
    when = f"{doc.superseded_on.isoformat()}起" if doc.superseded_on else ""
    by = f"被{doc.superseded_by}取代" if doc.superseded_by else "失效"
    reason = f"《{doc.short}》（{doc.version}）{label}{when}已{by}"
    current = s.current(doc.law, day)
    moved = moved_to(s, doc.law, doc.version, label, current) if current else None
    if moved is not None:
        reason += f"；现行对应条文为{cite_versioned(moved)}"
    elif current is not None:
        reason += f"；现行文本为{current.version}，对应条号未能确定，请核对"
    else:
        reason += "；现行文本未收录于离线法条库，条号可能已变化，请核对官方文本"
    return CitationCheck(c, SUPERSEDED, reason, article, moved, doc)


def _missing_detail(c: Citation, article: Article) -> str:
    """Why the cited 款/项 does not exist, or "" when it does."""
    paragraphs = article.paragraphs
    p, item = c.paragraph, c.item
    if p is not None and not 1 <= p <= len(paragraphs):
        return f"{cite(article)}只有{int_to_chinese(len(paragraphs))}款，没有第{int_to_chinese(p)}款"
    if item is not None:
        pool = paragraphs[p - 1].items if p else max((q.items for q in paragraphs), key=len)
        where = f"第{int_to_chinese(p)}款" if p else ""
        if not 1 <= item <= len(pool):
            has = f"只有{int_to_chinese(len(pool))}项" if pool else "不分项"
            return f"{cite(article)}{where}{has}，没有第（{int_to_chinese(item)}）项"
    return ""


def _not_stored(c: Citation) -> CitationCheck:
    """A law the store does not hold: a real title, a 修正案, or an invented one."""
    if m := _AMENDMENT_RE.fullmatch(_norm(c.law)):
        base = resolve_law(m["law"])
        target = f"《{base}》的相应条文" if base else "被修正法律的相应条文"
        return CitationCheck(c, NOT_IN_DATABASE, f"《{c.law}》是修正案，其条文已并入被修正的法律；请引用{target}")
    if meant := MISNOMERS.get(_norm(c.law)):
        return CitationCheck(c, UNKNOWN_LAW, f"没有名为《{c.law}》的法律；中国的相应法律是《{meant}》")
    if close := near_misses(c.law):
        names = "、".join(f"《{t}》" for t in close)
        return CitationCheck(c, UNKNOWN_LAW, f"没有名为《{c.law}》的法律，名称可能有误；是否指{names}？")
    if not looks_like_title(c.law):
        return CitationCheck(c, UNKNOWN_LAW, f"《{c.law}》不是法律、法规或司法解释的名称，可能是编造的")
    return CitationCheck(c, NOT_IN_DATABASE, f"离线法条库未收录《{c.law}》，无法核对")


def check(c: Citation, as_of: date | None = None) -> CitationCheck:
    """Judge one citation against the store on ``as_of`` (today by default)."""
    if c.resolved_law is None:
        return _not_stored(c)
    day, s, law = as_of or date.today(), store(), c.resolved_law
    versions = s.by_law[law]
    short = short_title(law)
    if c.version:
        matching = [d for d in versions if _matches(c.version, d)]
        if len(matching) > 1:
            names = "、".join(d.version for d in matching)
            return CitationCheck(c, AMBIGUOUS_VERSION, f"库中《{short}》有多个版本与“{c.version}”相符（{names}），请写明年份")
        if not matching:
            return _unstored_version(c, law, day, s)
        doc = matching[0]
    else:
        doc = s.current(law, day) or s.latest(law, day) or versions[0]
    info = doc_index(doc)
    number, sub = c.number, c.sub
    article = find_article(doc, number, sub)
    live = doc.in_force_on(day)
    if article is None:
        if not live and c.version is None and not s.current(law, day):
            why = f"库中只有{doc.version}文本（{doc.describe(day)}）"
            return CitationCheck(c, NOT_IN_DATABASE, f"离线法条库未收录《{short}》在{day.isoformat()}有效的文本，"
                                                     f"无法核对{c.article}；{why}", doc=doc)
        total = info.last if info.complete else doc.total_articles
        if number and total and number > total:
            return CitationCheck(c, NO_SUCH_ARTICLE, f"《{short}》（{doc.version}）共{_count(total)}，没有{c.article}", doc=doc)
        if sub and doc.sub_articles is False:
            return CitationCheck(c, NO_SUCH_ARTICLE, f"《{short}》没有“之一”一类的条文，没有{c.article}", doc=doc)
        if info.complete or not number:
            return CitationCheck(c, NO_SUCH_ARTICLE, f"《{short}》（{doc.version}）没有{c.article}", doc=doc)
        return CitationCheck(c, NOT_IN_DATABASE,
                             f"离线法条库只收录了《{short}》的部分条文，未收录{c.article}，无法核对", doc=doc)
    if missing := _missing_detail(c, article):
        return CitationCheck(c, NO_SUCH_ARTICLE, missing, article, doc=doc)
    status = doc.status_on(day)
    if status == "not_yet_in_force":
        return CitationCheck(c, NOT_YET_IN_FORCE, f"《{short}》（{doc.version}）{doc.effective.isoformat()}起施行，"
                                                  f"{day.isoformat()}尚未施行", article, doc=doc)
    if not live:
        return _superseded(c, doc, article, day, s)
    return CitationCheck(c, OK, "", article, doc=doc)


def _unstored_version(c: Citation, law: str, day: date, s: StatuteStore) -> CitationCheck:
    """A version the store does not hold: older than the current one (superseded), or unknown here."""
    short = short_title(law)
    current = s.current(law, day)
    cited_year, held = version_year(c.version or ""), "、".join(d.version for d in s.by_law[law])
    if current is not None and cited_year and cited_year < (version_year(current.version) or ""):
        moved = moved_to(s, law, c.version or "", c.article, current)
        reason = f"《{short}》（{c.version}）已被现行的{current.version}取代"
        reason += f"；现行对应条文为{cite_versioned(moved)}" if moved else "；库中未收录该旧版文本，对应条号未能确定，请核对"
        return CitationCheck(c, SUPERSEDED, reason, None, moved, current)
    for version, effective in _known_versions(s, law):
        if cited_year and cited_year == version_year(version):
            when = f"（{effective.isoformat()}起施行）" if effective else ""
            return CitationCheck(c, NOT_IN_DATABASE, f"离线法条库未收录《{short}》{version}{when}的文本，无法核对条号；"
                                                     f"可用 ecmiip statutes import 导入官方文本")
    return CitationCheck(c, NOT_IN_DATABASE, f"离线法条库收录的是《{short}》{held}，无法核对{c.version}版本的条号")


def verify_citations(text: str, as_of: date | None = None) -> list[CitationCheck]:
    """Every citation of ``text`` (a model's answer) judged against the store on ``as_of``."""
    return [check(c, as_of) for c in find_citations(text)]


# ---------------------------------------------------------------- lookup

_ARTICLE_ARG_RE = re.compile(f"第?({ARTICLE_NUMERAL})条?(?:之({ARTICLE_NUMERAL}))?")


def _article_arg(article: int | str) -> tuple[int, int | None]:
    """11, "11", "十一", "第十一条", "第十条之一" → (number, 之 number)."""
    if isinstance(article, int) and not isinstance(article, bool):
        number, sub = article, None
    else:
        m = _ARTICLE_ARG_RE.fullmatch(str(article).strip())
        number, sub = (number_or_none(m[1]), number_or_none(m[2])) if m else (None, None)
        if m and m[2] and not sub:
            number = None
    if not number or number < 1 or number >= 10000:
        raise InputError(f"条号应写作 11、十一 或 第十一条，而不是 {article!r}")
    return number, sub


def lookup(law: str, article: int | str, as_of: date | None = None, version: str | None = None) -> Article:
    """The article ``/law 专利法 11`` shows: the version in force on ``as_of`` (today) unless ``version``
    names another; a law with no text in force then gives its latest text, whose status says so.
    InputError naming the law's range or close titles."""
    title = resolve_law(law)
    if title is None:
        close = close_titles(law)
        hint = "相近的有：" + "、".join(f"《{t}》" for t in close) if close else \
            f"离线法条库收录的 {len(store().by_law)} 部法律法规和司法解释中没有相近的名称"
        raise InputError(f"离线法条库中没有《{_norm(law)}》；{hint}")
    s, day = store(), as_of or date.today()
    if version:
        docs = [d for d in s.by_law[title] if _matches(version, d)]
        if len(docs) != 1:
            held = "、".join(d.version for d in s.by_law[title])
            raise InputError(f"《{title}》在库中的版本是：{held}；没有唯一与“{version}”相符的版本")
        doc = docs[0]
    else:
        doc = s.current(title, day) or s.latest(title, day) or s.by_law[title][0]
    number, sub = (1, None) if str(article).strip() == "正文" else _article_arg(article)
    found = find_article(doc, number, sub)
    if found:
        return found
    info = doc_index(doc)
    label = article_label(number, sub)
    total = info.last if info.complete else doc.total_articles
    if total and number > total:
        raise InputError(f"《{title}》（{doc.version}）共{_count(total)}（第一条至第{_count(total)}），没有{label}")
    if info.complete:
        raise InputError(f"《{title}》（{doc.version}）没有{label}（共{_count(info.last)}）")
    numbers = sorted(n for (key, n, _) in _by_number() if key == doc.key)
    shipped = f"第{_count(numbers[0])}至第{_count(numbers[-1])}中的 {len(numbers)} 条" if numbers else "正文"
    raise InputError(f"离线法条库只收录了《{title}》的部分条文（{shipped}），没有{label}")


def validity_note(article: Article, as_of: date | None = None) -> str:
    """One line on the article's version and validity, and today's article when it is superseded."""
    day = as_of or date.today()
    note = f"{cite(article)}（{article.doc.describe(day)}）{reference_note(article, store())}"
    if article.doc.in_force_on(day):
        return note
    verdict = _superseded(parse_citation(cite_versioned(article)) or Citation(article.law, article.article, article.law),
                          article.doc, article, day, store())
    return f"{note}。注意：{verdict.reason}"
