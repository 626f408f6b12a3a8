"""Stage 2 data: judgment texts segmented into four layers, and graded masking of the loss.

The paper trains in-context on cases with a loss that keeps every statute citation, most of the
judgment reasoning and fewer of the facts and analysis: citations are verbatim hard knowledge, facts
are case-specific noise. Masked spans stay in the input (the model still reads them) but are left
out of the loss. Key legal terms and their immediate context are never masked.

Layers and the headings that open them (Chinese judgment conventions):

| layer     | opened by                                   | kept in the loss |
|-----------|---------------------------------------------|------------------|
| facts     | 经审理查明 / 本院查明 / 经审理认定 (and the start) | 60 %  |
| analysis  | 本院认为                                      | 60 %  |
| citation  | 依照…之规定 sentences, 《…》第…条 references      | 100 % |
| reasoning | 判决如下 / 裁定如下 and what follows              | 80 %  |
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ecmiip.core.citations import ARTICLE_REFERENCE
from ecmiip.core.typed_yaml import check_fields

LAYERS = ("facts", "analysis", "citation", "reasoning")

_HEADINGS = [
    ("facts", re.compile(r"经审理查明|本院查明|经审理认定|一审法院查明|二审查明")),
    ("analysis", re.compile(r"本院认为|一审法院认为")),
    ("reasoning", re.compile(r"判决如下|裁定如下|判决：|裁定：")),
]
# A run of article references of one law: 《专利法》第十一条、第十二条第一款和第六十五条.
_CITATION_RUN = re.compile(rf"《[^《》]{{2,60}}》(?:{ARTICLE_REFERENCE}[、，和及]?)+")
_CITING_SENTENCE = re.compile(r"(?:依照|依据|根据)[^。；]{0,200}?(?:之规定|的规定)[，,]?")
_CLAUSE = re.compile(r"[^，。；：！？\n]+[，。；：！？\n]?")
MAX_PIECE = 8  # characters; clauses are cut into pieces this long so short layers can hit their rate

DEFAULT_KEEP = {"facts": 0.6, "analysis": 0.6, "citation": 1.0, "reasoning": 0.8}
DEFAULT_KEY_TERMS = (
    "侵权", "不侵权", "合理使用", "新颖性", "创造性", "实用性", "显著性", "混淆", "近似", "相同或者近似",
    "商业秘密", "保密措施", "权利要求", "保护范围", "等同", "现有技术", "先用权", "许可", "赔偿",
    "惩罚性赔偿", "停止侵害", "信息网络传播权", "复制权", "发行权", "署名权", "避风港", "通知", "驰名商标",
)
# Equivalent phrasings, swapped at random so the model learns the rule, not one wording.
DEFAULT_VARIANTS = (
    ("侵害", "侵犯"),
    ("依照", "根据"),
    ("被告的行为", "被诉行为"),
    ("未经许可", "未经权利人许可"),
    ("应当承担", "依法应承担"),
    ("本院不予支持", "本院依法不予支持"),
)


@dataclass(frozen=True)
class Span:
    layer: str
    start: int
    end: int


def segment_case(text: str) -> list[Span]:
    """Cover ``text`` with non-overlapping layer spans, in order.

    Headings split the text into facts / analysis / reasoning; citation references and the
    依照…之规定 sentences inside any of them are cut out as their own ``citation`` spans.
    """
    marks = sorted((m.start(), layer) for layer, rx in _HEADINGS for m in rx.finditer(text))
    bounds: list[tuple[int, str]] = [(0, "facts")]
    for pos, layer in marks:
        if layer != bounds[-1][1]:
            bounds.append((pos, layer))
    coarse = [Span(layer, start, end) for (start, layer), (end, _) in zip(bounds, [*bounds[1:], (len(text), "")], strict=True) if end > start]
    cites = sorted({(m.start(), m.end()) for rx in (_CITING_SENTENCE, _CITATION_RUN) for m in rx.finditer(text)})
    merged: list[list[int]] = []
    for s, e in cites:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    spans: list[Span] = []
    for span in coarse:
        pos = span.start
        for s, e in merged:
            if e <= span.start or s >= span.end:
                continue
            s, e = max(s, span.start), min(e, span.end)
            if s > pos:
                spans.append(Span(span.layer, pos, s))
            spans.append(Span("citation", s, e))
            pos = e
        if pos < span.end:
            spans.append(Span(span.layer, pos, span.end))
    return spans


@dataclass
class MaskingConfig:
    keep: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KEEP))
    key_terms: Sequence[str] = DEFAULT_KEY_TERMS
    extra_key_terms: Sequence[str] = ()  # a recipe's own terms, protected besides the built-in ones
    context_chars: int = 4  # characters either side of a key term that are never masked either
    variants: Sequence[tuple[str, str]] = DEFAULT_VARIANTS
    variant_rate: float = 0.5

    def __post_init__(self) -> None:
        check_fields(self, [
            ("keep", lambda v: set(v) == set(LAYERS), f"a share for each of {', '.join(LAYERS)}"),
            ("keep", lambda v: all(isinstance(s, (int, float)) and 0 <= s <= 1 for s in v.values()),
             "shares between 0 and 1"),
            ("context_chars", lambda v: v >= 0, "0 or more"),
            ("variant_rate", lambda v: 0 <= v <= 1, "a share between 0 and 1"),
        ])


def protected_chars(text: str, config: MaskingConfig) -> list[bool]:
    """True where a key legal term or its immediate context sits."""
    protected = [False] * len(text)
    for term in (*config.key_terms, *config.extra_key_terms):
        for m in re.finditer(re.escape(term), text):
            for i in range(max(0, m.start() - config.context_chars), min(len(text), m.end() + config.context_chars)):
                protected[i] = True
    return protected


def graded_mask(text: str, config: MaskingConfig, rng: random.Random) -> list[bool]:
    """Per character: True = in the loss. Pieces of clauses (≤ MAX_PIECE characters) are masked at
    random, per layer, until the layer's kept share reaches its target; protected characters stay in."""
    keep_flags = [True] * len(text)
    protected = protected_chars(text, config)
    for span in segment_case(text):
        target = config.keep[span.layer]
        if target >= 1.0:
            continue
        pieces = [
            (span.start + m.start() + i, span.start + min(m.end(), m.start() + i + MAX_PIECE))
            for m in _CLAUSE.finditer(text[span.start : span.end])
            for i in range(0, m.end() - m.start(), MAX_PIECE)
        ]
        rng.shuffle(pieces)
        length = span.end - span.start
        masked = 0
        for s, e in pieces:
            if masked >= (1 - target) * length:
                break
            free = [i for i in range(s, e) if not protected[i]]
            if masked + len(free) > (1 - target) * length + (e - s) / 2:
                continue  # would overshoot by more than half a piece: try a shorter one
            for i in free:
                keep_flags[i] = False
            masked += len(free)
    return keep_flags


def retention(text: str, keep_flags: Sequence[bool]) -> dict[str, float]:
    """Share of each layer's characters kept in the loss (what the ±5 % acceptance measures)."""
    totals: dict[str, list[int]] = {layer: [0, 0] for layer in LAYERS}
    for span in segment_case(text):
        totals[span.layer][0] += sum(keep_flags[span.start : span.end])
        totals[span.layer][1] += span.end - span.start
    return {layer: kept / n for layer, (kept, n) in totals.items() if n}


def swap_variants(text: str, config: MaskingConfig, rng: random.Random) -> str:
    """Replace phrasings by their equivalents (both ways, in one pass), each with probability ``variant_rate``."""
    partner = {a: b for a, b in config.variants} | {b: a for a, b in config.variants}
    if not partner:
        return text
    pattern = re.compile("|".join(re.escape(p) for p in sorted(partner, key=len, reverse=True)))
    return pattern.sub(lambda m: partner[m.group(0)] if rng.random() < config.variant_rate else m.group(0), text)


def token_labels(input_ids: Sequence[int], offsets: Sequence[tuple[int, int]], keep_flags: Sequence[bool]) -> list[int]:
    """Labels for a causal LM: the token id where any of its characters is kept, else -100."""
    labels = []
    for tok, (s, e) in zip(input_ids, offsets, strict=True):
        labels.append(tok if e > s and any(keep_flags[s:e]) else -100)
    return labels
