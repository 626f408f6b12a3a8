"""Statute citations: parse ``《法律名》第X条``, find them in free text, check them against the shipped
statute database, and look articles up.

Shared by the data tools (strict: ``check_citation`` wants statute-style numerals) and the chat
client (lenient: ``verify_citations`` asks only whether the cited article exists, so ``第11条`` is
fine). A citation reads ``《法律名》第X条``, optionally with ``之Y`` and ``第Y款``/``第Y项``, and
optionally a version in parentheses after the title (``《中华人民共和国专利法》（2008修正）第六十五条``).
A law is named by its full title, without the 中华人民共和国 prefix (《专利法》), with 〈〉 for nested
titles, or by a common abbreviation (``ALIASES``). In free text a database law is also recognised
without the brackets (专利法第十一条), and ``、第Y条``/``和第Y条`` after a citation cite the same law.

How ``verify_citations`` judges a citation (the rule the chat client shows its user):

* ``ok``: the database holds the article.
* ``no_such_article``: the law is in the database and has no such article: the number is beyond its
  last article (《专利法》第九十九条; 专利法 has 82), or a ``之Y`` article it does not have.
* ``not_in_database``: the citation may well be right, but the offline database cannot tell: the law
  is not shipped (《民事诉讼法》), another version is cited, or the article lies outside a shipped
  excerpt (民法典).
* ``unknown_law``: the title is not one a real document could have. A title the database does not
  ship counts as real when it ends the way Chinese legal documents end (法, 条例, 细则, 规定, 办法,
  解释, 批复, 决定…) and is not a near-miss of a shipped title; a near-miss is a short title (at most
  12 characters without 中华人民共和国) sharing at least 70 % of its characters with a shipped one,
  the usual shape of an invented name (《专利保护法》, 《专利法实施条例》). Anything else
  (《知识产权保护大全》) is unknown too. Long titles (judicial interpretations) are never near-misses:
  real ones differ from each other by a few characters.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from ecmiip.core.errors import InputError
from ecmiip.core.statutes import Article, all_articles, chinese_to_int

#: Characters of a Chinese numeral as statutes write article numbers.
CN_NUM = "零〇一二三四五六七八九十百千"
_CN_DIGITS = "零一二三四五六七八九"
PRC = "中华人民共和国"

# One level of nested 《》 is allowed because one corpus title contains it; 〈〉 needs no special case.
_LAW = r"[^《》\n]{1,80}(?:《[^《》\n]{1,40}》[^《》\n]{0,40})?"
_VERSION = r"(?:[（(](?P<version>[^（）()\n]{1,20})[）)])?"
_ARTICLE = rf"(?P<article>第(?P<num>[{CN_NUM}\d]+)条(?:之(?P<sub>[{CN_NUM}]+))?)"
_TAIL = rf"(?P<tail>(?:第[{CN_NUM}]+款)?(?:第[{CN_NUM}]+项)?)"

CITATION_RE = re.compile(rf"《(?P<law>{_LAW})》{_VERSION}{_ARTICLE}{_TAIL}")

# More articles of the law just cited (、第十二条), or paragraphs/items of it to skip (、第三款).
_CONTINUATION_RE = re.compile(
    rf"\s*(?:、|和|及|以及|或者|或|与|至|到)\s*(?:{_ARTICLE}{_TAIL}|第[{CN_NUM}\d]+[款项])"
)

#: Common abbreviations of shipped judicial interpretations (what judgments and lawyers write).
ALIASES = {
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
}

# Laws the corpus holds only an excerpt of, with their real article count (so 第一千三百条 is caught).
_EXCERPT_TOTALS = {"中华人民共和国民法典": 1260}

# How the titles of Chinese legal documents end (the document type), with an optional （二）.
_DOC_TYPE_RE = re.compile(
    r"(?:法|法典|条例|细则|规定|办法|解释|批复|决定|意见|规则|通知|公约|协定|条约|纪要|指南)"
    r"(?:（[一二三四五六七八九十]+）)?$"
)
_NEAR_MISS_MAX_LEN = 12
_NEAR_MISS_CUTOFF = 0.7

# Statuses of a CitationCheck.
OK = "ok"
NO_SUCH_ARTICLE = "no_such_article"
NOT_IN_DATABASE = "not_in_database"
UNKNOWN_LAW = "unknown_law"

# ---------------------------------------------------------------- numbers


def int_to_chinese(n: int) -> str:
    """123 → ``"一百二十三"``, the way statutes number articles (10 → 十, 110 → 一百一十)."""
    if not 0 < n < 10000:
        raise ValueError(f"article number out of range: {n}")
    out, pending_zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out += "零"
            pending_zero = False
        if not (value == 10 and d == 1 and not out):
            out += _CN_DIGITS[d]
        out += unit
    return out


def canonical_number(text: str) -> int | None:
    """The numeral's value if it is written the canonical Chinese way, else None."""
    try:
        n = chinese_to_int(text)
    except ValueError:
        return None
    return n if not text.isdigit() and 0 < n < 10000 and int_to_chinese(n) == text else None


def article_number(label: str) -> int | None:
    """``"第十一条"`` or ``"十一"`` (a 批复's item) → 11; anything else → None."""
    m = re.fullmatch(rf"第([{CN_NUM}]+)条", label) or re.fullmatch(rf"([{CN_NUM}]+)", label)
    return canonical_number(m.group(1)) if m else None


def _value(text: str | None) -> int | None:
    """A numeral's value however it is written (十一, 一十一, 11); None when absent or garbled."""
    if not text:
        return None
    try:
        return chinese_to_int(text)
    except ValueError:
        return None


def article_label(number: int, sub: int | None = None) -> str:
    """(10, 1) → ``"第十条之一"``: the label the database uses."""
    return f"第{int_to_chinese(number)}条" + (f"之{int_to_chinese(sub)}" if sub else "")


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class LawIndex:
    """What the shipped corpus knows about one law, for checking references to it."""

    law: str
    version: str
    labels: frozenset[str]
    last: int  # highest numbered article, 0 when none is numbered
    complete: bool  # articles run 1..last without gaps (not an excerpt)


@lru_cache(maxsize=1)
def corpus_index() -> dict[str, LawIndex]:
    """The shipped statute corpus, by law title."""
    by_law: dict[str, list] = {}
    for a in all_articles():
        by_law.setdefault(a.law, []).append(a)
    index = {}
    for law, arts in by_law.items():
        numbers = {n for n in (article_number(a.article) for a in arts) if n is not None}
        last = max(numbers, default=0)
        index[law] = LawIndex(law, arts[0].version, frozenset(a.article for a in arts), last,
                              bool(numbers) and numbers == set(range(1, last + 1)))
    return index


@lru_cache(maxsize=1)
def _by_number() -> dict[tuple[str, int, int | None], Article]:
    """(law, number, 之 number) → article; a 批复's items count as articles, its lone 正文 as article 1."""
    out: dict[tuple[str, int, int | None], Article] = {}
    for a in all_articles():
        m = re.fullmatch(rf"第([{CN_NUM}]+)条之([{CN_NUM}]+)", a.article)
        if m:
            out[(a.law, chinese_to_int(m[1]), chinese_to_int(m[2]))] = a
        elif (n := article_number(a.article)) is not None:
            out[(a.law, n, None)] = a
        elif a.article == "正文" and corpus_index()[a.law].last == 0:
            out.setdefault((a.law, 1, None), a)
    return out


def short_title(law: str) -> str:
    """``中华人民共和国专利法`` → ``专利法``: the title without the state's name."""
    return law[len(PRC):] if law.startswith(PRC) and len(law) > len(PRC) else law


def cite(article: Article) -> str:
    """``《法律名》第X条`` for an article, a title nested in its title written 〈〉 as citations do."""
    law = article.law.replace("《", "〈").replace("》", "〉")
    return f"《{law}》{article.article}"


def _norm(name: str) -> str:
    """A title as compared: no brackets of nested titles, no spaces, full-width parentheses."""
    name = re.sub(r"[《》〈〉<>\s]", "", name)
    return name.replace("(", "（").replace(")", "）")


def _key(name: str) -> str:
    """What two names of one law share: normalised, 中华人民共和国 dropped wherever it stands."""
    return _norm(name).replace(PRC, "")


@lru_cache(maxsize=1)
def _titles() -> dict[str, str]:
    """Name key → corpus title, for every title and abbreviation."""
    index = corpus_index()
    out = {_key(law): law for law in index}
    for alias, law in ALIASES.items():
        if law in index:
            out.setdefault(_key(alias), law)
    return out


def resolve_law(name: str) -> str | None:
    """The corpus title a citation means (full, short, 〈〉-nested or abbreviated), or None."""
    return _titles().get(_key(name))


def looks_like_title(name: str) -> bool:
    """Whether ``name`` ends the way the title of a Chinese law, regulation or interpretation does."""
    return bool(_DOC_TYPE_RE.search(_norm(name)))


def near_misses(name: str) -> list[str]:
    """Shipped titles a short, unshipped title is a garbled form of (《专利保护法》 → 专利法)."""
    short = short_title(_norm(name))
    if resolve_law(name) or len(short) > _NEAR_MISS_MAX_LEN:
        return []
    shorts = {short_title(law): law for law in corpus_index()}
    close = difflib.get_close_matches(short, list(shorts), n=3, cutoff=_NEAR_MISS_CUTOFF)
    return [shorts[s] for s in close]


def close_titles(name: str, n: int = 5) -> list[str]:
    """Shipped titles a user may have meant: those containing the name, then similar ones."""
    key = short_title(_norm(name))
    laws = list(corpus_index())
    found = [law for law in laws if key and key in _norm(law)]
    shorts = {short_title(law): law for law in laws}
    found += [shorts[s] for s in difflib.get_close_matches(key, list(shorts), n=n, cutoff=0.5)]
    return list(dict.fromkeys(found))[:n]


# ---------------------------------------------------------------- citations


@dataclass(frozen=True)
class Citation:
    law: str  # as written, without the outer 《》
    article: str  # as written: "第十一条", "第十条之一", "第11条"
    resolved_law: str | None  # corpus title, None when the law is not in the corpus
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
        m = re.fullmatch(rf"第([{CN_NUM}\d]+)条(?:之([{CN_NUM}]+))?", self.article)
        return _value(m[1]) if m else None

    @property
    def sub(self) -> int | None:
        """The 之Y number (第十条之一 → 1), None when there is none."""
        m = re.fullmatch(rf"第[{CN_NUM}\d]+条之([{CN_NUM}]+)", self.article)
        return _value(m[1]) if m else None


def _split_version(law: str, version: str | None) -> tuple[str, str | None]:
    """Title and version: a version inside the title (《专利法（2008修正）》) moves out, and a
    numbering outside it (《…解释》（二）) moves in."""
    if version is not None and not re.search(r"\d{4}", version):
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


@lru_cache(maxsize=1)
def _bare_re() -> re.Pattern:
    """Database laws cited without brackets (专利法第十一条); longest names first."""
    names = {n for law in corpus_index() if "《" not in law for n in (law, short_title(law))}
    names |= {a for a, law in ALIASES.items() if "《" not in a and law in corpus_index()}
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?P<law>{alternation}){_VERSION}{_ARTICLE}{_TAIL}")


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
                    quoted = f"《{law}》{c['article']}{c['tail'] or ''}"
                    found.append(_citation(c, law, version, quoted, (start, end)))
            taken.append((m.end(), end))
    return sorted(found, key=lambda c: c.span)


# ---------------------------------------------------------------- checking


def check_citation(text: str) -> list[tuple[str, str]]:
    """Problems of one reference as ``(severity, reason)`` pairs; empty when it is fine.

    The data tools' strict check: numbers must be written as statutes write them, and what the
    database cannot judge (another law, another version) is no problem.
    """
    m = CITATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        return [("error", f"not an article reference of the form 《法名》第X条: {text!r}")]
    if canonical_number(m["num"]) is None or (m["sub"] and canonical_number(m["sub"]) is None):
        return [("error", f"article number must be a Chinese numeral written as statutes write it "
                          f"(第十一条, 第一百零一条): {text!r}")]
    law = resolve_law(m["law"])
    if law is None:
        return []  # not in the shipped corpus: nothing to check against
    info = corpus_index()[law]
    if m["version"] and m["version"].replace("年", "") != info.version:
        return []  # another version of the law: its numbering may differ
    number = canonical_number(m["num"])
    total = _EXCERPT_TOTALS.get(law)
    if info.complete and number > info.last or total and number > total:
        return [("error", f"{m['article']} is beyond 《{law}》, which has {total or info.last} articles")]
    if info.complete and m["sub"] and m["article"] not in info.labels:
        return [("error", f"《{law}》 has no {m['article']}")]
    if not info.complete and m["article"] not in info.labels:
        return [("warning", f"{m['article']} is not in the shipped text of 《{law}》; not checked")]
    return []


@dataclass(frozen=True)
class CitationCheck:
    """The verdict on one citation of a model's answer (statuses: see the module's docstring)."""

    citation: Citation
    status: str
    reason: str = ""  # Chinese, for the user; empty when ok
    article: Article | None = None  # the cited article when the database holds it

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def text(self) -> str:
        return self.citation.text

    @property
    def span(self) -> tuple[int, int] | None:
        return self.citation.span


def _year(version: str) -> str | None:
    m = re.search(r"\d{4}", version)
    return m.group(0) if m else None


def _count(n: int) -> str:
    return f"{int_to_chinese(n)}条"


def check(c: Citation) -> CitationCheck:
    """Judge one citation against the database: ok, no_such_article, not_in_database, unknown_law."""
    if c.resolved_law is None:
        if close := near_misses(c.law):
            names = "、".join(f"《{t}》" for t in close)
            return CitationCheck(c, UNKNOWN_LAW, f"没有名为《{c.law}》的法律，名称可能有误；是否指{names}？")
        if not looks_like_title(c.law):
            return CitationCheck(c, UNKNOWN_LAW, f"《{c.law}》不是法律、法规或司法解释的名称，可能是编造的")
        return CitationCheck(c, NOT_IN_DATABASE, f"离线法条库未收录《{c.law}》，无法核对")
    law = c.resolved_law
    info = corpus_index()[law]
    if c.version and _year(c.version) != _year(info.version):
        return CitationCheck(c, NOT_IN_DATABASE,
                             f"离线法条库收录的是《{law}》{info.version}版本，无法核对{c.version}版本的条号")
    number, sub = c.number, c.sub
    found = _by_number().get((law, number, sub)) if number else None
    if found:
        return CitationCheck(c, OK, "", found)
    total = info.last if info.complete else _EXCERPT_TOTALS.get(law)
    label = c.article
    if number and total and number > total:
        return CitationCheck(c, NO_SUCH_ARTICLE, f"《{law}》共{_count(total)}，没有{label}")
    if info.complete or not number:
        return CitationCheck(c, NO_SUCH_ARTICLE, f"《{law}》没有{label}")
    return CitationCheck(c, NOT_IN_DATABASE, f"离线法条库只收录了《{law}》的部分条文，未收录{label}，无法核对")


def verify_citations(text: str) -> list[CitationCheck]:
    """Every citation of ``text`` (a model's answer) judged against the offline database."""
    return [check(c) for c in find_citations(text)]


# ---------------------------------------------------------------- lookup

_ARTICLE_ARG_RE = re.compile(rf"第?([{CN_NUM}\d]+)条?(?:之([{CN_NUM}\d]+))?")


def _article_arg(article: int | str) -> tuple[int, int | None]:
    """11, "11", "十一", "第十一条", "第十条之一" → (number, 之 number)."""
    if isinstance(article, int) and not isinstance(article, bool):
        number, sub = article, None
    else:
        m = _ARTICLE_ARG_RE.fullmatch(str(article).strip())
        number, sub = (_value(m[1]), _value(m[2])) if m else (None, None)
        if m and m[2] and not sub:
            number = None
    if not number or number < 1 or number >= 10000:
        raise InputError(f"条号应写作 11、十一 或 第十一条，而不是 {article!r}")
    return number, sub


def lookup(law: str, article: int | str) -> Article:
    """The article ``/law 专利法 11`` shows; InputError naming the law's range or close titles."""
    title = resolve_law(law)
    if title is None:
        close = close_titles(law)
        hint = "相近的有：" + "、".join(f"《{t}》" for t in close) if close else \
            f"离线法条库收录的 {len(corpus_index())} 部法律法规和司法解释中没有相近的名称"
        raise InputError(f"离线法条库中没有《{_norm(law)}》；{hint}")
    if str(article).strip() == "正文":
        number, sub = 1, None
    else:
        number, sub = _article_arg(article)
    found = _by_number().get((title, number, sub))
    if found:
        return found
    info = corpus_index()[title]
    label = article_label(number, sub)
    total = info.last if info.complete else _EXCERPT_TOTALS.get(title)
    if total and number > total:
        raise InputError(f"《{title}》共{_count(total)}（第一条至第{_count(total)}），没有{label}")
    if info.complete:
        raise InputError(f"《{title}》没有{label}（共{_count(info.last)}）")
    numbers = sorted(n for (law, n, _) in _by_number() if law == title)
    shipped = f"第{_count(numbers[0])}至第{_count(numbers[-1])}中的 {len(numbers)} 条" if numbers else "正文"
    raise InputError(f"离线法条库只收录了《{title}》的部分条文（{shipped}），没有{label}")
