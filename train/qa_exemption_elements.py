"""An exemption record's elements, sorted by what its own explanation says each one does.

A record's ``elements`` (its ``keywords``) mix what the court examines with what defeats the defence
(反向工程: "不正当手段获取在先" — the defence fails when the secret was first obtained improperly) and with the
limits of its effect (先用权: "原有范围内继续实施"). The explanation says which is which: a clause "…的，不予支持
/不属于/不适用/不能…" names an exclusion, a clause "…的，不承担赔偿责任，但仍应停止销售" a limit of the effect.
Each keyword goes with the clause whose words it shares most; nothing is called a requirement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CLAUSE_END = re.compile(r"[；。]")
_LEAD = re.compile(r"^(?:但是?|若|如|然而)[，,]?")
_SPLIT = re.compile(r"的，|，则")
# A negative outcome; 不构成侵犯…/不视为侵犯… are the defence succeeding, not failing.
_DEFEATS = re.compile(r"不予支持|不属于|不适用|不能|不得|不免除|不构成(?!侵)|则不")
# A consequence that characterises the conduct (属于适当引用) is no effect of the defence.
_CHARACTERISES = re.compile(r"^(?:属于|构成|系)")
_PUNCT = re.compile(r"[\s，、。；：“”（）《》,.;:]")
MIN_SHARE = 0.6


@dataclass(frozen=True)
class Clause:
    """One clause of an explanation as written, with its condition and consequence."""

    text: str
    condition: str
    consequence: str
    defeats: bool


@dataclass
class Elements:
    """The keywords examined, those that defeat the defence, those that bound its effect; the explanation's
    clauses that grant the defence, and those that defeat or limit it, each with the keywords it defeats by."""

    examined: list[str] = field(default_factory=list)
    defeating: list[str] = field(default_factory=list)
    bounding: list[str] = field(default_factory=list)
    granting: list[str] = field(default_factory=list)
    exclusions: list[tuple[str, list[str]]] = field(default_factory=list)


_ALSO = re.compile(r"，(?=也|且|并|还)")


def clauses(explanation: str) -> list[Clause]:
    """The explanation's clauses, each split into condition and consequence at its last 的， (or ，则); a clause
    with no condition is split into the parts that defeat the defence (不能组合…) and the rest (也无须…)."""
    out = []
    for raw in _CLAUSE_END.split(explanation):
        text = _LEAD.sub("", raw.strip())
        if not text:
            continue
        cut = list(_SPLIT.finditer(text))
        if cut:
            condition, consequence = _LEAD.sub("", text[:cut[-1].start()]), text[cut[-1].end():]
            out.append(Clause(text, condition, consequence, bool(_DEFEATS.search(consequence))))
            continue
        parts = _ALSO.split(text)
        defeating = "，".join(p for p in parts if _DEFEATS.search(p))
        rest = "，".join(p for p in parts if not _DEFEATS.search(p))
        if defeating:
            out.append(Clause(defeating, "", defeating, True))
        if rest:
            rest = rest if not defeating else rest.lstrip("也且并还")
            out.append(Clause(rest, "", rest, False))
    return out


def _bigrams(text: str) -> set[str]:
    text = _PUNCT.sub("", text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


def share(keyword: str, text: str) -> float:
    """How much of ``keyword`` (by character pairs) ``text`` contains: 拆卸测绘分析 is all in 拆卸、测绘、分析."""
    grams = _bigrams(keyword)
    return len(grams & _bigrams(text)) / len(grams) if grams else 0.0


def sort_elements(keywords: list[str], explanation: str) -> Elements:
    """Each keyword placed by the explanation's clause that shares most of it (≥ ``MIN_SHARE``): the condition of
    a defeating clause makes it defeating, the effect of a clause that grants the defence makes it bounding,
    anything else (a tie included) is examined."""
    said = clauses(explanation)
    out = Elements(granting=[c.text for c in said if not c.defeats])
    defeated_by: dict[str, list[str]] = {c.text: [] for c in said if c.defeats}
    for kw in keywords:
        granting = max((share(kw, c.condition) for c in said if not c.defeats), default=0.0)
        defeating = max((share(kw, c.condition) for c in said if c.defeats), default=0.0)
        effect = max((share(kw, c.consequence) for c in said
                      if not c.defeats and c.condition and not _CHARACTERISES.match(c.consequence)), default=0.0)
        if defeating >= MIN_SHARE and defeating > max(granting, effect):
            out.defeating.append(kw)
            best = max((c for c in said if c.defeats), key=lambda c: share(kw, c.condition))
            defeated_by[best.text].append(kw)
        elif effect >= MIN_SHARE and effect > granting:
            out.bounding.append(kw)
        else:
            out.examined.append(kw)
    out.exclusions = list(defeated_by.items())
    return out
