"""Citations in QA pairs: an old text's citation is written with its version, an answer's citations are
checked against the store and the source, and cited articles are quoted with their text.

Every citation of every pair passes ``ecmiip.core.citations.verify_citations`` as current, or names its
version: a citation that names no version but means a text no longer in force is written with it
(``《法》（2019修正）第九条``), never dropped. A quoted old article ends with a note on what replaced it and
the current article when the renumbering is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from ecmiip.core.citations import (
    ARTICLE_LABEL_RE,
    CITATION_RE,
    SUPERSEDED,
    CitationCheck,
    check,
    find_article,
    format_citation,
    parse_citation,
    resolve_law,
    verify_citations,
)
from ecmiip.core.numerals import canonical_number
from ecmiip.core.statutes import Article, store
from ecmiip.train.qa_norms import flat, quote_depths


def corpus_article(law: str, article: str) -> Article | None:
    """The store article a citation names by its statute label (第十一条; a 批复's item 二 as 第二条), law
    as written or resolved: from the text in force today when it has it, else from any version; or None."""
    resolved = resolve_law(law)
    m = ARTICLE_LABEL_RE.fullmatch(article)
    if resolved is None or m is None:
        return None
    number, sub = canonical_number(m[1]), canonical_number(m[2]) if m[2] else None
    if m[2] and sub is None:
        return None
    today = date.today()
    docs = sorted(store().by_law[resolved], key=lambda d: not d.in_force_on(today))
    found = (find_article(d, number, sub) for d in docs)
    # A 批复's 正文 stands in for its 第一条 when a citation is checked, not when a pair cites it.
    return next((a for a in found if a is not None and a.article != "正文"), None)


def _stale(v: CitationCheck) -> bool:
    """A citation that names no version and means a text no longer in force."""
    return v.status == SUPERSEDED and v.citation.version is None and v.doc is not None


def _write_version(text: str, v: CitationCheck) -> str:
    """``《法》第九条`` → ``《法》（2019修正）第九条`` (a following ``、第十条`` inherits the version); a
    continuation whose head cannot carry it is written in full: ``、《法》（2019修正）第十条``."""
    c, (start, end) = v.citation, v.citation.span
    written = c.article + c.detail
    at = end - len(written)
    if text[at:end] != written:
        return text
    version = f"（{v.doc.version}）" if at > start else format_citation(c.law, "", v.doc.version)
    return text[:at] + version + text[at:]


def versioned_citations(text: str, as_of: date | None = None, keep_quotes: bool = False) -> str:
    """``text`` with the version written into every citation that names none but means a text no longer
    in force on ``as_of`` (today): training data never presents an old article as the law in force.
    ``keep_quotes``: a quotation of an article stays verbatim (its note says what it cites, ``stale_note``)."""
    for _ in range(3):
        depths = quote_depths(text) if keep_quotes else []
        stale = [v for v in verify_citations(text, as_of) if _stale(v)
                 and not (keep_quotes and depths[v.citation.span[0]])]
        if not stale:
            break
        heads = [v for v in stale if v.citation.span[0] < v.citation.span[1] - len(v.citation.article + v.citation.detail)]
        for v in sorted(heads or stale, key=lambda v: v.citation.span[0], reverse=True):
            text = _write_version(text, v)
    return text


def stale_note(text: str, as_of: date | None = None) -> str:
    """``（注：…）`` naming the version each citation of an article's own text means when that version is no
    longer in force (the 2022 interpretation's 反不正当竞争法第六条 is the 2019 text's), else ""."""
    stale = [v for v in verify_citations(text, as_of) if _stale(v)]
    named = list(dict.fromkeys(f"“{text[slice(*v.citation.span)]}”指该法{v.doc.version}文本的条文" for v in stale))
    return f"（注：本条所称{'；所称'.join(named)}，该文本现已不再施行）" if named else ""


def unknown_citations(text: str, allowed: str = "") -> list[str]:
    """Citations in ``text`` of articles that are neither in the corpus nor cited in ``allowed``.

    ``allowed`` is the source material: a case may cite a law the corpus lacks (民事诉讼法) or an
    article beyond the corpus's excerpt of a law (民法典), and repeating it invents nothing.
    """
    def key(m: re.Match) -> tuple[str, str]:
        return (resolve_law(m["law"]) or m["law"], m["article"])

    in_source = {key(m) for m in CITATION_RE.finditer(allowed)}
    return [m.group(0) for m in CITATION_RE.finditer(text)
            if corpus_article(m["law"], m["article"]) is None and key(m) not in in_source]


def quoted_articles(citations: Iterable[str], as_of: date | None = None) -> list[str]:
    """One line per citation: the citation, and the article's text when the store has it in the version
    cited (the one in force when none is written). A citation of a text no longer in force is written
    with its version and ends with a note on what replaced it."""
    lines = []
    for i, c in enumerate(citations, 1):
        parsed = parse_citation(c)
        verdict = check(parsed, as_of) if parsed else None
        art = verdict.article if verdict else None
        if verdict is None or verdict.status != SUPERSEDED:
            lines.append(f"{i}. {c}：“{flat(art.text)}”{stale_note(art.text, as_of)}" if art else f"{i}. {c}")
            continue
        c = versioned_citations(c, as_of)
        quote = f"：“{flat(art.text)}”" if art else ""
        lines.append(f"{i}. {c}{quote}（注：{verdict.reason}）")
    return lines
