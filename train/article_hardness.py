"""Hardness of a statute article in force from what it says, its document's title being one signal.

A law's purpose clause and an SPC rule with a three-year limit are not equally rigid, whatever their
titles: the article scores points for its document type and its hard content, loses points for its
soft function, and the score gives its level. The rules, points and thresholds are documented in
:mod:`ecmiip.train.hardness` and are fields of its ``HardnessConfig``; validity (a text no longer in
force) is decided there, after this.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ecmiip.core.numerals import ITEM_NUMERAL
from ecmiip.train.article_roles import (
    EFFECTIVE_DATE,
    ORGANISATIONAL,
    PURPOSE,
    SELF_REFERENTIAL,
    TRANSITIONAL,
    article_roles,
)

if TYPE_CHECKING:
    from ecmiip.train.hardness import HardnessConfig

#: Document types, in the order the README's table lists them.
DOC_TYPES = ("law", "regulation", "interpretation", "normative")
DOC_TYPE_NAMES = {"law": "law", "regulation": "administrative regulation",
                  "interpretation": "judicial interpretation", "normative": "normative document"}
#: An item (项) of the article's own list: not a reference to another's (第（一）项, 第（一）（二）项).
ITEM = re.compile(rf"(?<![第）)、和或至])[（(]{ITEM_NUMERAL}[）)](?![项目（(])")


def first_matches(patterns: tuple[str, ...], text: str) -> list[str]:
    """The first match of each pattern that matches, in the patterns' order."""
    found = []
    for p in patterns:
        m = re.search(p, text)
        if m:
            found.append(m.group(0))
    return found


def document_type(law: str, config: HardnessConfig) -> str:
    """``interpretation``, ``normative``, ``law`` or ``regulation``, from the title's patterns in that order."""
    if any(re.search(p, law) for p in config.interpretation_titles):
        return "interpretation"
    if any(re.search(p, law) for p in config.normative_titles):
        return "normative"
    if any(re.search(p, law) for p in config.law_titles):
        return "law"
    return "regulation"


def title_reason(law: str, doc_type: str) -> str:
    """The first reason of a statute's label: what its title makes it (wording kept since issue 14)."""
    if doc_type == "interpretation":
        return f"judicial interpretation: 《{law}》"
    if doc_type == "normative":
        return f"normative document: 《{law}》"
    return f"article of a law or regulation: 《{law}》 ({DOC_TYPE_NAMES[doc_type]})"


def _short(found: str, limit: int = 24) -> str:
    found = found.replace("\n", " ")
    return found if len(found) <= limit else found[: limit - 1] + "…"


def hard_content(text: str, config: HardnessConfig) -> list[tuple[int, str]]:
    """(points, reason) for each kind of rigid content in an article's text, dates taken out first."""
    plain = text
    for p in config.date_patterns:
        plain = re.sub(p, "〈日期〉", plain)
    signals: list[tuple[int, str]] = []

    def add(points: int, what: str, found: str) -> None:
        if points:
            signals.append((points, f"{what}: {_short(found)} +{points}"))

    for points, what, patterns in (
        (config.time_limit_points, "time limit", config.time_limit_patterns),
        (config.amount_points, "amount", config.amount_patterns),
        (config.quantity_points, "numeric limit", config.quantity_patterns),
        (config.definition_points, "definition", config.definition_patterns),
    ):
        found = first_matches(patterns, plain)
        if found:
            add(points, what, found[0])
    penalties = [t for t in config.penalty_terms if t in plain]
    if penalties:
        add(config.penalty_points, "penalty", "、".join(penalties))
    items = len(ITEM.findall(plain))
    if items >= 2:
        add(config.enumerated_points, "enumerated conditions", f"{items} items")
    return signals


#: How hardness names and scores each role an article may have (its soft function).
_ROLE_SCORES = (
    ((PURPOSE,), "purpose article", "purpose_points"),
    ((EFFECTIVE_DATE,), "effective-date article", "effective_date_points"),
    ((TRANSITIONAL, SELF_REFERENTIAL), "transitional or self-referential", "transitional_points"),
    ((ORGANISATIONAL,), "competence or organisation", "competence_points"),
)


def soft_function(text: str, config: HardnessConfig) -> list[tuple[int, str]]:
    """(points to subtract, reason) for each soft function an article serves: its roles, then the rest."""
    roles = article_roles(text, config.role_patterns())
    signals = []
    for names, what, points_field in _ROLE_SCORES:
        points = getattr(config, points_field)
        found = [roles[n] for n in names if n in roles]
        if found and points:
            signals.append((points, f"{what}: {_short(found[0])} −{points}"))
    for points, what, patterns in (
        (config.principle_points, "principle or policy", config.principle_patterns),
        (config.formality_points, "formalities", config.formality_patterns),
        (config.discretion_points, "discretion", config.discretion_patterns),
    ):
        found = first_matches(patterns, text)
        if found and points:
            signals.append((points, f"{what}: {_short(found[0])} −{points}"))
    return signals


def article_level(law: str, text: str, config: HardnessConfig) -> tuple[str, list[str]]:
    """The level of an in-force article of ``law`` reading ``text``, and every signal that decided it."""
    doc_type = document_type(law, config)
    title_points = {"law": config.law_points, "regulation": config.regulation_points,
                    "interpretation": config.interpretation_points, "normative": config.normative_points}[doc_type]
    reasons = [title_reason(law, doc_type) + f": title +{title_points}"]
    if not config.statute_by_content:
        level = _level_of(title_points, config)
        return level, [*reasons, f"levelled by title only (statute_by_content: false): {level}"]
    hard = hard_content(text, config)
    soft = soft_function(text, config)
    score = title_points + sum(p for p, _ in hard) - sum(p for p, _ in soft)
    level = _level_of(score, config)
    reasons += [r for _, r in hard] + [r for _, r in soft]
    reasons.append(f"score {score}: {level} (L1 from {config.l1_score}, L2 from {config.l2_score}, else L3)")
    return level, reasons


def _level_of(score: int, config: HardnessConfig) -> str:
    if score >= config.l1_score:
        return "L1"
    return "L2" if score >= config.l2_score else "L3"
