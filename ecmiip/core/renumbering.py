"""Where an article went when its law was revised: 2008 专利法第六十九条 is today's 第七十五条.

Two sources, one answer. A *known* table holds the renumberings that in-force texts still cite in
the old numbering (SPC interpretations and regulations written before a revision), each entry with
a phrase the new article must contain, so a test proves the entry points at the right text. When
the store holds both versions of a law (the user imported a newer official text) the mapping is
*aligned* from the two texts: each old article goes to the new article whose text is most alike,
when they are alike enough to be the same provision.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ecmiip.core.numerals import STATUTE_NUMERAL
from ecmiip.core.statutes import PRC, Article, Document, StatuteStore, version_year


@dataclass(frozen=True)
class KnownRenumbering:
    law: str
    old_version: str  # as versions are written: "2008修正"
    new_version: str
    moves: dict[str, tuple[str, str]]  # old label → (new label, a phrase of the new text)
    basis: str
    new_effective: date  # texts that took effect before this day cite the law in the old numbering


KNOWN: tuple[KnownRenumbering, ...] = (
    KnownRenumbering(
        "中华人民共和国专利法", "2008修正", "2020修正",
        {
            "第十一条": ("第十一条", "未经专利权人许可"),
            "第二十条": ("第十九条", "向外国申请专利"),
            "第二十二条": ("第二十二条", "新颖性"),
            "第四十二条": ("第四十二条", "期限为二十年"),
            "第四十八条": ("第五十三条", "强制许可"),
            "第五十九条": ("第六十四条", "保护范围以其权利要求的内容为准"),
            "第六十条": ("第六十五条", "引起纠纷"),
            "第六十一条": ("第六十六条", "新产品制造方法"),
            "第六十二条": ("第六十七条", "现有技术"),
            "第六十三条": ("第六十八条", "假冒专利"),
            "第六十四条": ("第六十九条", "查处"),
            "第六十五条": ("第七十一条", "赔偿数额"),
            "第六十六条": ("第七十二条", "难以弥补的损害"),
            "第六十七条": ("第七十三条", "保全证据"),
            "第六十八条": ("第七十四条", "诉讼时效"),
            "第六十九条": ("第七十五条", "不视为侵犯专利权"),
            "第七十条": ("第七十七条", "合法来源"),
        },
        "2020 revision (in force 2021-06-01); the articles in-force SPC texts cite in 2008 numbering",
        date(2021, 6, 1),
    ),
    KnownRenumbering(
        "中华人民共和国著作权法", "2010修正", "2020修正",
        {
            "第二条": ("第二条", "依照本法享有著作权"),
            "第十条": ("第十条", "著作权包括下列人身权和财产权"),
            "第十四条": ("第十五条", "汇编"),
            "第十五条": ("第十七条", "视听作品"),
            "第十六条": ("第十八条", "职务作品"),
            "第十七条": ("第十九条", "受委托创作的作品"),
            "第二十条": ("第二十二条", "保护期不受限制"),
            "第二十一条": ("第二十三条", "保护期"),
            "第二十二条": ("第二十四条", "可以不经著作权人许可"),
            "第二十三条": ("第二十五条", "教科书"),
            "第二十四条": ("第二十六条", "许可使用合同"),
            "第三十二条": ("第三十四条", "图书出版者"),
            "第三十三条": ("第三十五条", "报社、期刊社"),
            "第四十条": ("第四十二条", "录音录像制作者使用他人作品"),
            "第四十二条": ("第四十四条", "录音录像制作者对其制作的录音录像制品"),
            "第四十七条": ("第五十二条", "民事责任"),
            "第四十八条": ("第五十三条", "侵权行为同时损害公共利益"),
            "第四十九条": ("第五十四条", "赔偿"),
            "第五十条": ("第五十六条", "难以弥补的损害"),
            "第五十一条": ("第五十七条", "保全证据"),
        },
        "2020 revision (in force 2021-06-01); the articles in-force regulations cite in 2010 numbering",
        date(2021, 6, 1),
    ),
)

#: How alike two article texts must be (difflib ratio) to count as the same provision renumbered.
ALIGN_CUTOFF = 0.6


def align(old: Sequence[Article], new: Sequence[Article]) -> dict[str, str]:
    """Old label → new label for the provisions that survived a revision, matched by text.

    Greedy on similarity, best pairs first, each article used once: a rewritten article below the
    cutoff is left unmapped rather than guessed.
    """
    pairs = []
    for a in old:
        for b in new:
            m = difflib.SequenceMatcher(None, a.text, b.text, autojunk=False)
            if m.real_quick_ratio() >= ALIGN_CUTOFF and m.quick_ratio() >= ALIGN_CUTOFF:
                r = m.ratio()
                if r >= ALIGN_CUTOFF:
                    pairs.append((r, a.article, b.article))
    out: dict[str, str] = {}
    used: set[str] = set()
    for _, a, b in sorted(pairs, reverse=True):
        if a not in out and b not in used:
            out[a] = b
            used.add(b)
    return out


def moved_to(store: StatuteStore, law: str, old_version: str, label: str, target: Document) -> Article | None:
    """The article of ``target`` (a later version of ``law``) that ``label`` of ``old_version`` became."""
    new_label = None
    for k in KNOWN:
        if k.law == law and version_year(k.old_version) == version_year(old_version) and \
                version_year(k.new_version) == version_year(target.version) and label in k.moves:
            new_label = k.moves[label][0]
    old_doc = next((d for d in store.by_law.get(law, ()) if d.version == old_version), None)
    if new_label is None and old_doc is not None and old_doc.key != target.key:
        new_label = _aligned(store, old_doc.key, target.key).get(label)
    if new_label is None:
        return None
    return next((a for a in store.articles_of.get(target.key, ()) if a.article == new_label), None)


def _aligned(store: StatuteStore, old_key: str, new_key: str) -> dict[str, str]:
    """The alignment of two stored texts, kept on the store (it is rebuilt when the store is)."""
    cache = store.__dict__.setdefault("_aligned", {})
    if (old_key, new_key) not in cache:
        cache[(old_key, new_key)] = align(store.articles_of.get(old_key, ()), store.articles_of.get(new_key, ()))
    return cache[(old_key, new_key)]


# The names of the laws KNOWN renumbered, as the texts of their time wrote them: bare (专利法第六十九条)
# or as a full title (《中华人民共和国著作权法》第四十九条, 计算机软件保护条例第二十五条).
_REFERENCE_RE = re.compile(rf"(?:《中华人民共和国|(?<![》〉]))(?P<law>专利法|著作权法)》?第(?P<num>{STATUTE_NUMERAL})条")


def old_references(article: Article, store: StatuteStore) -> list[tuple[str, Article]]:
    """References inside an in-force text that use a law's old numbering, with today's article each
    means: 专利侵权解释（一） (2010) writes 专利法第六十九条 for what is now 第七十五条."""
    out: list[tuple[str, Article]] = []
    for m, num in _references(article.text):
        law = PRC + m["law"]
        for k in KNOWN:
            if k.law != law or article.doc.law == law or not article.doc.effective:
                continue
            if article.doc.effective >= k.new_effective:
                continue
            label = f"第{num}条"
            new = next((d for d in store.by_law.get(law, ()) if d.version == k.new_version), None)
            moved = moved_to(store, law, k.old_version, label, new) if new else None
            written = f"{m['law']}{label}"
            if moved is not None and moved.article != label and (written, moved) not in out:
                out.append((written, moved))
    return out


# 著作权法第二十三条、第三十三条第二款、第四十条第三款: the later numbers are the same law's.
_NEXT_RE = re.compile(rf"(?:(?:第{STATUTE_NUMERAL}[款项])|[（(][{STATUTE_NUMERAL[1:-2]}]+[）)]|[、和及或者])+?第(?P<num>{STATUTE_NUMERAL})条")


def _references(text: str) -> list[tuple[re.Match, str]]:
    """(the named reference, each article number it and the bare numbers after it give)."""
    found = []
    for m in _REFERENCE_RE.finditer(text):
        found.append((m, m["num"]))
        end = m.end()
        while n := _NEXT_RE.match(text, end):
            found.append((m, n["num"]))
            end = n.end()
    return found


def reference_note(article: Article, store: StatuteStore) -> str:
    """``（注：本条所称专利法第六十九条，即现行…第七十五条）`` when the text cites an old numbering, else ""."""
    from ecmiip.core.citations import cite_versioned  # citations imports this module: at call time

    refs = old_references(article, store)
    if not refs:
        return ""
    parts = "；".join(f"所称{old}即现行{cite_versioned(new)}" for old, new in refs)
    return f"（注：本条依修改前的条文编号引用，{parts}）"
