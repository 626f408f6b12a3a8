"""Patent claim comparison (专利权利要求比对): a claim split into technical features, each feature matched
to the accused product's passages and judged 相同 / 等同（待确认） / 缺失, then the all-elements conclusion.

Everything here is model-free and the same on every machine, so a lawyer can check each step:

* **Claims** are found by their numbers (``1.`` ``1、`` ``权利要求1``), in sequence, so a ``2.`` inside a
  claim's text is never taken for claim 2. A claim that begins ``根据权利要求1所述的…`` is dependent: its
  features are those of the claim it refers to plus its own.
* **Features**: the preamble (前序部分, before 其特征在于 / 其特征是) is feature A; the characterising part is
  split on ；. Where the claim lists its parts after ``包括：`` the list is split on ； too, or, when it has
  none, on ``，`` between parallel parts (a piece beginning 其 / 该 / 用于 … describes the part before it
  and stays with it). Every feature keeps its exact wording.
* **Matching**: the target's passages are ranked for each feature by BM25 over character bigrams
  (:func:`ecmiip.chat.passages.match_passages`). For each candidate the *coverage* is computed: the share of
  the feature's content characters (stop words such as 所述 / 设置 / 一种 and particles such as 的 / 与 left
  out) that lie in a two-character term also found in the passage. Characters rather than bigrams are
  counted because a bigram across two words (杆通 in 支撑杆通过) is rarely repeated in other wording and
  would make a literal match look partial. The matched and the missing terms are kept for the table.
* **Own terms**: the characters of a feature not covered by any term that also occurs in the claim's other
  features (the parts named again and again: 底座, 支撑杆). They carry what this feature adds; a passage that
  names the same parts but not this feature's own terms is a different means, not a literal match.
* **Verdict** (:func:`judge`) on the best candidate (highest coverage among the BM25 top ``k``):
  coverage and own-term coverage ≥ ``SAME_SHARE`` → 相同; coverage < ``MISSING_SHARE`` → 缺失; anything in
  between → 等同（待确认）, a candidate for the 手段/功能/效果 test by a person or the model
  (:mod:`ecmiip.chat.claims_model`). The thresholds are round numbers, tuned on the shipped fixture and a
  second pair in the tests, not fitted to either.
* **Conclusion** (全面覆盖原则): a feature missing (or judged not equivalent) → not within the scope; all
  features literally present → 字面落入; otherwise 等同落入, to be argued feature by feature.

A design patent (外观设计) has no technical features: the test is the overall visual impression, and
:func:`is_design_patent` lets the caller say so instead of splitting anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from ecmiip.core.errors import InputError

# ---------------------------------------------------------------- verdict thresholds (documented above)

#: Coverage (and own-term coverage) at or above which a feature counts as literally present (相同).
SAME_SHARE = 0.8
#: Coverage below which no passage describes the feature at all (缺失).
MISSING_SHARE = 0.5
#: A listed piece's words before its first comma name a part when they are at most this long.
PART_NAME_MAX = 12
#: What a content character counts when the passage holds it only outside any shared two-character term
#: (防滑 against 防止…滑落): half, so that a reworded feature is a candidate for 等同 and never 相同.
CHAR_CREDIT = 0.5

SAME = "相同"
EQUIVALENT = "等同（待确认）"
MISSING = "缺失"
MODEL_EQUIVALENT = "等同（模型意见）"
MODEL_NOT_EQUIVALENT = "不相同也不等同（模型意见）"
#: Verdicts that put the accused product outside the claim (全面覆盖原则).
OUTSIDE = frozenset({MISSING, MODEL_NOT_EQUIVALENT})

# ---------------------------------------------------------------- legal basis, as cited in reports

ALL_ELEMENTS = "《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第七条"
SCOPE = "《中华人民共和国专利法》第六十四条第一款"
DESIGN_SCOPE = "《中华人民共和国专利法》第六十四条第二款"
DESIGN_TEST = ("《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第八条、"
               "《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第十一条")
#: Defines 等同特征; the offline statute store does not hold it, so it is named, never quoted or verified.
EQUIVALENCE_DEFINITION = "《最高人民法院关于审理专利纠纷案件适用法律问题的若干规定》第十三条"
NOT_IN_STORE = "法条库未收录"

LITERAL = "字面落入"
BY_EQUIVALENCE = "等同落入（需就等同特征进一步论证）"
NOT_WITHIN = "不落入保护范围"

# ---------------------------------------------------------------- terms

#: Two-character phrases of claim drafting that say nothing about the product.
STOP_BIGRAMS = frozenset({
    "所述", "设置", "设有", "一种", "其特", "特征", "征在", "在于", "其中", "包括", "包含", "具有", "用于",
    "一个", "至少", "多个", "通过", "位于", "分别", "相应", "可以", "能够", "使得", "从而", "以便", "结构",
})
#: Particles, pronouns and modal words: never counted, matched or missing.
STOP_CHARS = frozenset("的与和及或并且其该之为是有被将把由对地得着了而等均各所述在于以可")
#: Locatives, not counted right before a stop bigram: the 上 of 托盘上设有 places the part, it is no term.
LOCATIVES = frozenset("上下内外中")

#: A negation and what it governs, to the end of its clause: the product says it has none of these.
_NEGATED_RE = re.compile(r"(?:未设置|未设有|未安装|未配备|未采用|未使用|未包括|未包含|未提供|没有|并无|不设|不含|不包括|"
                         r"不具有|不带有|无任何|取消了)[^，。；！？,;!?\n]*")

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(f"[{_HAN}]+|[A-Za-z0-9]+")
_ASCII_RE = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Claim:
    number: int
    text: str  # the claim without its number, lines joined
    refers_to: tuple[int, ...] = ()  # the claims a dependent claim refers to; () for an independent one

    @property
    def independent(self) -> bool:
        return not self.refers_to


@dataclass(frozen=True)
class Feature:
    label: str  # A, B, C … in the order of the claim (a dependent claim's own features continue the letters)
    text: str  # the exact wording of the claim
    claim: int  # the claim that states it
    part: str | None = None  # the part a listed piece introduces (电机 of 电机，所述电机设置在…)
    subject: bool = False  # the preamble is only the subject (一种便携式榨汁杯)


@dataclass(frozen=True)
class Coverage:
    share: float  # content characters of the feature found in the passage, 0..1 (lone characters: half)
    own_share: float | None  # the same for the feature's own terms; None when it has none
    matched: tuple[str, ...]  # stretches of the feature found as terms in the passage, in order
    unmatched: tuple[str, ...]  # content stretches not found as terms
    chars: tuple[str, ...] = ()  # characters of the unmatched stretches found in the passage on their own
    denied: tuple[str, ...] = ()  # stretches the passage names only as absent (未设置任何…开关)
    part_named: bool | None = None  # a listed part's name found in full; None when the feature names no part
    head_named: bool = False  # the feature's last content character is in a matched term (its head word)


@dataclass(frozen=True)
class Candidate:
    paragraph: object  # ecmiip.chat.documents.Paragraph
    score: float  # BM25
    coverage: Coverage


@dataclass
class FeatureMatch:
    feature: Feature
    candidates: list[Candidate]  # BM25 order, best first
    best: Candidate | None  # the candidate judged (highest coverage), None when no passage shares a term
    verdict: str
    reason: str
    notes: list[str] = field(default_factory=list)  # model opinion, fallbacks


# ---------------------------------------------------------------- claims

_START_RE = re.compile(
    r"(?:^|(?<=[。.]))[ \t\u3000]*(?:权利要求[ \t\u3000]*(\d{1,3})[ \t\u3000]*[.．、:：]?"
    r"|(\d{1,3})[ \t\u3000]*[.．、:：)）](?!\d))",
    re.MULTILINE,
)
_REFERENCE_RE = re.compile(
    r"^[ \t\u3000]*(?:根据|如|按照|依据|按|依照)?[ \t\u3000]*权利要求[ \t\u3000]*(\d{1,3})"
    r"((?:[ \t\u3000]*(?:或|、|和|及|至|到|-|－|～|~|,|，)[ \t\u3000]*(?:权利要求)?[ \t\u3000]*\d{1,3})*)"
)
_RANGE_SEP = ("至", "到", "-", "－", "～", "~")


def parse_claims(text: str) -> list[Claim]:
    """The numbered claims of ``text`` in order; a number counts only as the next one in sequence."""
    starts: list[tuple[int, int, int]] = []  # (number, marker start, text start)
    for m in _START_RE.finditer(text):
        number = int(m.group(1) or m.group(2))
        if number == len(starts) + 1:
            starts.append((number, m.start(), m.end()))
    claims = []
    for i, (number, _, begin) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        body = "".join(line.strip() for line in text[begin:end].splitlines()).strip()
        if body:
            claims.append(Claim(number, body, _references(body, number)))
    return claims


def _references(body: str, number: int) -> tuple[int, ...]:
    m = _REFERENCE_RE.match(body)
    if not m:
        return ()
    numbers = [int(m.group(1))]
    for sep, n in re.findall(r"(或|、|和|及|至|到|-|－|～|~|,|，)[ \t\u3000]*(?:权利要求)?[ \t\u3000]*(\d{1,3})", m.group(2)):
        if sep in _RANGE_SEP:
            numbers.extend(range(numbers[-1] + 1, int(n) + 1))
        else:
            numbers.append(int(n))
    return tuple(sorted({n for n in numbers if n < number}))


def find_claim(claims: Sequence[Claim], number: int, source: str) -> Claim:
    """Claim ``number`` of ``claims``, or an InputError naming ``source`` and the claims it does hold."""
    for claim in claims:
        if claim.number == number:
            return claim
    if not claims:
        raise InputError(f"{source}：未找到权利要求1（每项权利要求应以“1.”、“1、”或“权利要求1”开头），请检查文件内容")
    raise InputError(f"{source}：没有权利要求{number}，文件中共有权利要求1至{len(claims)}")


# ---------------------------------------------------------------- features

_CHARACTERISING_RE = re.compile(r"[，,；;]?[ \t\u3000]*其特征(?:在于|是|为)[ \t\u3000]*[，,：:]?")
_LIST_RE = re.compile(r"[，,][ \t\u3000]*(?:其)?(?:包括|包含)[ \t\u3000]*([：:])?")
_LEADING_LIST_RE = re.compile(r"^[ \t\u3000]*(?:还)?(?:包括|包含)[ \t\u3000]*([：:])?")
#: A "，" piece starting with one of these describes the part before it and stays with it.
_CONTINUATION = ("其", "该", "它", "并", "且", "从而", "以便", "以使", "使", "用于", "用以", "以", "通过", "可", "能")
_TRIM = " \t\u3000，,；;。.：:"


def label(index: int) -> str:
    """A, B, … Z, AA, AB …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def split_features(claim: Claim, first: int = 0) -> list[Feature]:
    """The features ``claim`` states itself, labelled from ``label(first)``: for an independent claim the
    preamble and the characterising part, for a dependent one what it adds to the claim it refers to."""
    text = claim.text.strip(_TRIM)
    pieces: list[tuple[str, bool]]  # (text, from a list of parts)
    preamble: str | None = None
    if claim.refers_to:
        pieces = _split_body(_dependent_body(text))
    elif m := _CHARACTERISING_RE.search(text):
        preamble, pieces = text[:m.start()], _split_body(text[m.end():])
    elif lm := _LIST_RE.search(text):
        preamble, pieces = text[:lm.start()], _split_list(text[lm.end():], bool(lm.group(1)))
    else:
        pieces = [(p, False) for p in re.split(r"[；;]", text)]
    features = []
    if preamble is not None and preamble.strip(_TRIM):
        preamble = preamble.strip(_TRIM)
        features.append(Feature(label(first), preamble, claim.number, subject=not re.search(r"[，,；;]", preamble)))
    for piece, listed in pieces:
        piece = piece.strip(_TRIM)
        if piece:
            features.append(Feature(label(first + len(features)), piece, claim.number, part=_part(piece) if listed else None))
    return features


def _part(piece: str) -> str | None:
    """The part a listed piece introduces: its words before the first comma (``安全开关，所述安全开关…``)."""
    name = re.split(r"[，,]", piece, maxsplit=1)[0].strip(_TRIM)
    name = re.sub(r"^(?:以及|及|和|还有)", "", name)
    return name if 0 < len(name) <= PART_NAME_MAX else None


def _dependent_body(text: str) -> str:
    m = _CHARACTERISING_RE.search(text)
    if m:
        return text[m.end():]
    comma = re.search(r"[，,]", text)
    return text[comma.end():] if comma else text


def _split_body(body: str) -> list[tuple[str, bool]]:
    lm = _LEADING_LIST_RE.match(body)
    if lm:
        return _split_list(body[lm.end():], bool(lm.group(1)))
    return [(p, False) for p in re.split(r"[；;]", body)]


def _split_list(body: str, colon: bool) -> list[tuple[str, bool]]:
    """The parts after 包括 / 包括：, split on ；, or (after a colon, when there is no ；) on ，between parts."""
    if re.search(r"[；;]", body) or not colon:
        return [(p, True) for p in re.split(r"[；;]", body)]
    pieces: list[str] = []
    for piece in re.split(r"[，,]", body):
        if pieces and piece.strip().startswith(_CONTINUATION):
            pieces[-1] += "，" + piece
        else:
            pieces.append(piece)
    return [(p, True) for p in pieces]


def claim_features(claims: Sequence[Claim], number: int, source: str = "权利要求书") -> list[Feature]:
    """All features of claim ``number``: for a dependent claim, those of the claim it refers to (the first
    when it names several) followed by its own, the letters continuing."""
    claim = find_claim(claims, number, source)
    inherited = claim_features(claims, claim.refers_to[0], source) if claim.refers_to else []
    return inherited + split_features(claim, len(inherited))


# ---------------------------------------------------------------- design patents

_DESIGN_HINTS = ("简要说明", "图片或者照片", "图片或照片", "设计要点", "主视图", "立体图")


def is_design_patent(text: str) -> bool:
    """A 外观设计 (its 简要说明 or a description of its pictures) rather than claims with technical features."""
    return "外观设计" in text and any(h in text for h in _DESIGN_HINTS) and "其特征" not in text


# ---------------------------------------------------------------- coverage


def _content_mask(text: str) -> list[bool]:
    """Which characters of ``text`` count: Chinese characters and ASCII word characters that are not
    stop characters or inside a stop bigram."""
    mask = [False] * len(text)
    for m in _RUN_RE.finditer(text):
        for i in range(m.start(), m.end()):
            mask[i] = text[i] not in STOP_CHARS
    for i in range(len(text) - 1):
        if text[i:i + 2] in STOP_BIGRAMS:
            mask[i] = mask[i + 1] = False
            if i and text[i - 1] in LOCATIVES:
                mask[i - 1] = False
    return mask


def _terms(text: str) -> list[tuple[str, int, int]]:
    """``(term, start, end)``: each Chinese bigram (a lone character stays itself) and each ASCII word."""
    spans = []
    for m in _RUN_RE.finditer(text):
        run = m.group(0)
        if run.isascii():
            spans.append((run.lower(), m.start(), m.end()))
        elif len(run) == 1:
            spans.append((run, m.start(), m.end()))
        else:
            spans.extend((run[i:i + 2], m.start() + i, m.start() + i + 2) for i in range(len(run) - 1))
    return spans


def _found(term: str, text: str, words: frozenset[str]) -> bool:
    return term in words if term.isascii() else term in text


def _covered(feature_text: str, other: str) -> list[bool]:
    words = frozenset(w.lower() for w in _ASCII_RE.findall(other))
    covered = [False] * len(feature_text)
    for term, start, end in _terms(feature_text):
        if _found(term, other, words):
            for i in range(start, end):
                covered[i] = True
    return covered


def _stretches(text: str, wanted: list[bool]) -> tuple[str, ...]:
    out: list[str] = []
    run = ""
    for ch, keep in zip(text, wanted, strict=True):
        if keep:
            run += ch
        elif run:
            out.append(run)
            run = ""
    if run:
        out.append(run)
    return tuple(dict.fromkeys(out))


def affirmed(passage: str) -> str:
    """``passage`` with every negated stretch (未设置任何按键、开关 … up to the clause's end) blanked out,
    so that a part the product explicitly lacks is never counted as present."""
    return _NEGATED_RE.sub(lambda m: "\0" * len(m.group(0)), passage)


def own_mask(feature: Feature, features: Sequence[Feature]) -> list[bool]:
    """The content characters of ``feature`` not covered by a term of the other features."""
    others = "\n".join(f.text for f in features if f is not feature and f.text != feature.text)
    shared = _covered(feature.text, others)
    return [c and not s for c, s in zip(_content_mask(feature.text), shared, strict=True)]


def coverage(feature: Feature, passage: str, own: list[bool] | None = None) -> Coverage:
    """How much of ``feature`` ``passage`` says in the same words (see the module doc)."""
    text = feature.text
    said = affirmed(passage)
    content = _content_mask(text)
    covered = _covered(text, said)
    hit = [c and v for c, v in zip(content, covered, strict=True)]
    miss = [c and not v for c, v in zip(content, covered, strict=True)]
    alone = [m and text[i] in said for i, m in enumerate(miss)]
    credit = [1.0 if h else CHAR_CREDIT if a else 0.0 for h, a in zip(hit, alone, strict=True)]
    denied = [m and v for m, v in zip(miss, _covered(text, passage), strict=True)]

    def share_of(mask: list[bool]) -> float | None:
        return sum(c for c, m in zip(credit, mask, strict=True) if m) / sum(mask) if any(mask) else None

    part_named = None
    if feature.part and (at := text.find(feature.part)) >= 0:
        span = range(at, at + len(feature.part))
        part_named = all(hit[i] for i in span if content[i])
    content_at = [i for i, c in enumerate(content) if c]
    return Coverage(
        share=share_of(content) or 0.0,
        own_share=share_of(own) if own is not None else None,
        matched=_stretches(text, hit),
        unmatched=_stretches(text, miss),
        chars=tuple(dict.fromkeys(ch for ch, a in zip(text, alone, strict=True) if a)),
        denied=_stretches(text, denied),
        part_named=part_named,
        head_named=bool(content_at) and hit[content_at[-1]],
    )


# ---------------------------------------------------------------- matching and verdicts


def match_features(features: Sequence[Feature], target_paragraphs: Sequence, k: int = 3) -> list[FeatureMatch]:
    """For each feature the target's passages BM25 ranks best (at most ``k``), each with its coverage,
    the one judged (highest coverage; BM25 order breaks ties) and the rule verdict. When no candidate
    reaches ``MISSING_SHARE`` the passage cited is BM25's first, the nearest one."""
    from ecmiip.chat.passages import match_passages

    results = []
    for feature in features:
        own = own_mask(feature, features)
        candidates = [Candidate(p, score, coverage(feature, p.text, own))
                      for p, score in match_passages(feature.text, target_paragraphs, k)]
        best = max(candidates, key=lambda c: c.coverage.share, default=None)  # max keeps the first of ties
        verdict = judge(feature, best)
        if best is not None and best.coverage.share < MISSING_SHARE:
            best = candidates[0]  # none describes it: cite the nearest by BM25 (where a denial would be)
        results.append(FeatureMatch(feature, candidates, best, verdict, reason(feature, verdict, best)))
    return results


def judge(feature: Feature, best_match: Candidate | None) -> str:
    """相同, 等同（待确认） or 缺失 for ``feature`` against the passage that covers it best, in this order:

    1. no passage shares a term → 缺失;
    2. a subject-only preamble (一种便携式榨汁杯) whose head word (the last one: 榨汁杯) is found and at least
       ``MISSING_SHARE`` covered → 相同 (the modifiers not found are listed for checking);
    3. coverage below ``MISSING_SHARE`` → 缺失;
    4. coverage, and own-term coverage, at least ``SAME_SHARE`` → 相同;
    5. a listed part (安全开关) not named in the passage, or named only as absent → 缺失;
    6. otherwise → 等同（待确认）.
    """
    if best_match is None:
        return MISSING
    cov = best_match.coverage
    if feature.subject and cov.head_named and cov.share >= MISSING_SHARE:
        return SAME
    if cov.share < MISSING_SHARE:
        return MISSING
    if cov.share >= SAME_SHARE and (cov.own_share is None or cov.own_share >= SAME_SHARE):
        return SAME
    if cov.part_named is False:
        return MISSING
    return EQUIVALENT


def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def reason(feature: Feature, verdict: str, best: Candidate | None) -> str:
    """Why the rule gave ``verdict``: the coverage figures, the terms found and not found, and the rule."""
    if best is None:
        return "被诉方案中没有与本特征共用的用语，未见对应技术特征"
    cov = best.coverage
    figures = f"用语覆盖 {percent(cov.share)}"
    if cov.own_share is not None:
        figures += f"，本特征特有用语覆盖 {percent(cov.own_share)}"
    terms = f"命中：{'、'.join(cov.matched) or '无'}；未见：{'、'.join(cov.unmatched) or '无'}"
    if cov.chars:
        terms += f"；仅单字出现（计半）：{'、'.join(cov.chars)}"
    if cov.denied:
        terms += f"；被诉方案明确写明没有：{'、'.join(cov.denied)}"
    if verdict == SAME and feature.subject and cov.share < SAME_SHARE:
        why = f"主题名称的中心词相同，按相同处理；修饰语（{'、'.join(cov.unmatched)}）无字面对应，请核对"
    elif verdict == SAME:
        why = f"覆盖率不低于 {percent(SAME_SHARE)}，按字面相同处理"
    elif verdict == MISSING and cov.share < MISSING_SHARE:
        why = f"覆盖率低于 {percent(MISSING_SHARE)}，未见对应技术特征"
    elif verdict == MISSING:
        why = f"部件“{feature.part}”在对应段落中未出现或被明确排除，未见对应技术特征"
    else:
        why = "部分用语对应，手段或表述不同，需按手段、功能、效果判断是否等同"
    return f"{figures}（{terms}）。{why}"


def conclusion(matches: Sequence[FeatureMatch]) -> str:
    """字面落入, 等同落入（…） or 不落入保护范围 by the all-elements rule."""
    verdicts = [m.verdict for m in matches]
    if any(v in OUTSIDE for v in verdicts):
        return NOT_WITHIN
    if all(v == SAME for v in verdicts):
        return LITERAL
    return BY_EQUIVALENCE


def conclusion_text(matches: Sequence[FeatureMatch], claim: int) -> str:
    """The summary paragraph of a report: the conclusion, the features behind it and the legal basis."""
    result = conclusion(matches)
    by = {v: [m.feature.label for m in matches if m.verdict == v] for v in dict.fromkeys(m.verdict for m in matches)}
    listed = "；".join(f"{v}：{'、'.join(labels)}" for v, labels in by.items())
    text = f"权利要求{claim}共{len(matches)}个技术特征（{listed}）。结论：{result}。"
    if result == NOT_WITHIN:
        absent = "、".join(m.feature.label for m in matches if m.verdict in OUTSIDE)
        text += f"被诉方案缺少特征{absent}，或该特征不相同也不等同，"
    elif result == LITERAL:
        text += "被诉方案包含与全部技术特征相同的技术特征，"
    else:
        text += "被诉方案包含与全部技术特征相同或者等同的技术特征，但等同特征尚需就手段、功能、效果进一步论证，"
    text += f"依据全面覆盖原则（{ALL_ELEMENTS}）及{SCOPE}。"
    if any(m.verdict not in (SAME, MISSING) for m in matches):
        text += f"等同特征的认定标准见{EQUIVALENCE_DEFINITION}（{NOT_IN_STORE}，未核实条文）。"
    return text


def design_patent_text() -> str:
    """What to tell the user when the "claims" are a design patent's."""
    return (f"这是外观设计专利，不适用技术特征比对和全面覆盖原则：外观设计专利权的保护范围以表示在图片或者照片中的"
            f"该产品的外观设计为准（{DESIGN_SCOPE}）；判断被诉设计是否落入保护范围，应在相同或者相近种类产品上，"
            f"以外观设计的整体视觉效果进行综合判断（{DESIGN_TEST}）。请将授权外观设计的图片或者照片与被诉产品的外观"
            f"进行整体观察、比对，本工具不对外观设计拆分特征。")


# ---------------------------------------------------------------- the comparison and its 比对表

TABLE_HEADER = ("特征编号", "权利要求特征", "被诉方案对应内容〔第N段〕", "比对结论", "依据/说明")
RULES_ONLY = "本表为规则比对（未使用模型）：“等同（待确认）”只说明用语部分对应，是否等同须按手段、功能、效果另行判断。"


@dataclass
class Comparison:
    """Claim ``claim`` of ``claims_name`` against ``target_name``, feature by feature."""

    claims_name: str
    target_name: str
    claim: Claim
    matches: list[FeatureMatch]
    model: str | None = None  # the model spec that answered the 等同 questions; None: rules only
    notes: list[str] = field(default_factory=list)  # what reading the files told the user (encoding …)

    @property
    def conclusion(self) -> str:
        return conclusion(self.matches)


def compare(claims_text: str, target_paragraphs: Sequence, number: int = 1, *, k: int = 3,
            claims_name: str = "权利要求书", target_name: str = "被诉技术方案") -> Comparison:
    """Parse ``claims_text``, split claim ``number`` into features and match them (rules only).
    A design patent or a text without claim 1 / claim ``number`` is an InputError naming ``claims_name``."""
    if is_design_patent(claims_text):
        raise InputError(f"{claims_name}：这是外观设计专利，不进行技术特征比对（适用整体视觉效果判断）")
    claims = parse_claims(claims_text)
    find_claim(claims, 1, claims_name)
    claim = find_claim(claims, number, claims_name)
    if not target_paragraphs:
        raise InputError(f"{target_name}：没有可比对的文字")
    features = claim_features(claims, number, claims_name)
    return Comparison(claims_name, target_name, claim, match_features(features, target_paragraphs, k))


def passage_cell(match: FeatureMatch) -> str:
    if match.best is None:
        return "未找到对应内容"
    return f"〔第{match.best.paragraph.number}段〕{match.best.paragraph.text}"


def table_rows(comparison: Comparison) -> list[tuple[str, str, str, str, str]]:
    """The 比对表's rows, in feature order, with ``TABLE_HEADER``'s columns."""
    return [(m.feature.label, m.feature.text, passage_cell(m), m.verdict, "\n".join([m.reason, *m.notes]))
            for m in comparison.matches]


def term_lines(comparison: Comparison) -> list[str]:
    """Per feature: the terms found in its passage and those not, so the user can see why."""
    lines = []
    for m in comparison.matches:
        if m.best is None:
            lines.append(f"{m.feature.label}：无对应段落")
            continue
        cov = m.best.coverage
        line = (f"{m.feature.label}（第{m.best.paragraph.number}段，覆盖 {percent(cov.share)}）：命中 "
                f"{'、'.join(cov.matched) or '无'}；未见 {'、'.join(cov.unmatched) or '无'}")
        if cov.denied:
            line += f"；明确没有 {'、'.join(cov.denied)}"
        lines.append(line)
    return lines


def method_lines() -> list[str]:
    return [
        "比对段落：对每个技术特征，以字符二元组 BM25 检索被诉方案的段落，取前几段中用语覆盖最高者。",
        "用语覆盖：特征中的实义字（不计“所述、设置、一种”等撰写用语和“的、与”等虚词）出现在该段共同用语中的比例；"
        "只以单字出现的计一半。",
        f"相同：覆盖及本特征特有用语覆盖均不低于 {percent(SAME_SHARE)}；缺失：覆盖低于 {percent(MISSING_SHARE)}，"
        "或列明的部件未出现、被明确写明没有；其余为等同（待确认）。",
        "主题名称（如“一种折叠支架”）：中心词相同即按相同处理，修饰语差异列出以供核对。",
        "规则结论只反映文字对应，不代替专业判断；等同须按手段、功能、效果论证。",
    ]


def build_report(comparison: Comparison, as_of: date | None = None):
    """The 比对表 as a :class:`ecmiip.chat.report.Report`: files, conclusion, table, terms, method, citations."""
    from ecmiip.chat.report import Report

    report = Report("专利权利要求比对表", f"权利要求{comparison.claim.number} 与 {comparison.target_name}")
    report.paragraph(f"权利要求书 {comparison.claims_name}；被诉技术方案 {comparison.target_name}", bold_prefix="文件：")
    if comparison.model:
        report.paragraph(f"规则比对，等同候选特征另经模型 {comparison.model} 按手段、功能、效果作答（模型意见仅供参考）。",
                         bold_prefix="方法：")
    else:
        report.paragraph(RULES_ONLY, bold_prefix="方法：")
    for note in comparison.notes:
        report.paragraph(note, bold_prefix="提示：")
    summary = conclusion_text(comparison.matches, comparison.claim.number)
    report.heading("结论", 1)
    report.paragraph(summary)
    report.heading("比对表", 1)
    report.table(TABLE_HEADER, table_rows(comparison), widths=(0.08, 0.26, 0.30, 0.12, 0.24))
    report.heading("命中用语", 1)
    report.bullets(term_lines(comparison))
    report.heading("比对规则", 1)
    report.bullets(method_lines())
    report.citations_appendix([summary, *(n for m in comparison.matches for n in m.notes)], as_of)
    return report


def design_report(claims_name: str, target_name: str, as_of: date | None = None):
    """The report for a design patent: which test applies, and no feature table."""
    from ecmiip.chat.report import Report

    report = Report("外观设计专利比对说明", f"{claims_name} 与 {target_name}")
    report.paragraph(f"{claims_name}；被诉产品 {target_name}", bold_prefix="文件：")
    text = design_patent_text()
    report.heading("适用的判断方法", 1)
    report.paragraph(text)
    report.citations_appendix([text], as_of)
    return report
