"""The optional model step of claim comparison: the 手段/功能/效果 question for each 等同 candidate.

The rules of :mod:`ecmiip.chat.claims` can only see words; whether a different means does the same job is
a judgment. The model is asked it in a fixed four-line format (结论 / 手段 / 功能 / 效果) so the answer can be
read back without trusting free prose; parsing is lenient (full- or half-width colons, extra lines, the
format buried in a longer answer). An answer without a readable 结论 changes nothing: the rule verdict stays
and the table says so. Articles the answer cites are checked against the statute store and only verified
ones are kept; the others are dropped and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ecmiip.chat.claims import (
    EQUIVALENT,
    MODEL_EQUIVALENT,
    MODEL_NOT_EQUIVALENT,
    FeatureMatch,
)
from ecmiip.core.citations import verify_citations
from ecmiip.core.prompts import MODES

SYSTEM = "你是专利侵权判定助手，只依据给出的文字作答，不编造事实。"
QUESTION = (
    "请判断被诉方案的对应内容与权利要求的技术特征是否相同或者等同。等同是指以基本相同的手段，实现基本相同的功能，"
    "达到基本相同的效果，并且本领域普通技术人员无需经过创造性劳动就能够联想到的特征。\n\n"
    "权利要求的技术特征：{feature}\n被诉方案的对应内容（第{number}段）：{passage}\n\n"
    "只按下面的格式回答四行，不要写其他内容：\n结论：相同 或 等同 或 不等同\n手段：……\n功能：……\n效果：……"
)
#: Longest answer asked for: four short lines.
MAX_TOKENS = 400
UNPARSEABLE = "模型回答无法解析（缺少“结论：相同/等同/不等同”），保留规则结论"

_CONCLUSION_RE = re.compile(r"结论[*\s]*[：:][*\s]*[【\[（(“\"]?\s*(不等同|不相同|相同|等同)")
_FIELD_RE = {name: re.compile(rf"{name}[*\s]*[：:][*\s]*(.+)") for name in ("手段", "功能", "效果")}


@dataclass
class Opinion:
    """The model's answer for one feature, as read back."""

    conclusion: str | None  # 相同 / 等同 / 不等同; None when unreadable
    means: str = ""
    function: str = ""
    effect: str = ""
    citations: list[str] = field(default_factory=list)  # verified articles the answer cites
    dropped: int = 0  # cited articles that did not verify
    raw: str = ""


def parse_opinion(text: str, as_of: date | None = None) -> Opinion:
    """Read ``结论：…`` and the three fields out of ``text``; ``conclusion`` None when there is no 结论."""
    m = _CONCLUSION_RE.search(text)
    conclusion = None
    if m:
        conclusion = "不等同" if m.group(1) in ("不等同", "不相同") else m.group(1)
    fields = {}
    for name, pattern in _FIELD_RE.items():
        fm = pattern.search(text)
        fields[name] = fm.group(1).strip() if fm else ""
    checks = verify_citations(text, as_of)
    ok = list(dict.fromkeys(c.text for c in checks if c.ok))
    return Opinion(conclusion, fields["手段"], fields["功能"], fields["效果"], ok,
                   sum(1 for c in checks if not c.ok), text)


def ask(backend, feature_text: str, passage_number: int, passage_text: str, *, as_of: date | None = None,
        max_tokens: int = MAX_TOKENS) -> Opinion:
    """One question to ``backend`` (an :class:`ecmiip.chat.backends.Backend`), thinking off, answer text only."""
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": QUESTION.format(feature=feature_text, number=passage_number, passage=passage_text)},
    ]
    parts = [d.text for d in backend.stream(messages, think=False, sampling=dict(MODES["rigorous"]),
                                            max_tokens=max_tokens) if d.kind == "content"]
    return parse_opinion("".join(parts), as_of)


def apply_model(backend, matches: list[FeatureMatch], *, as_of: date | None = None,
                progress=None) -> list[Opinion]:
    """Ask the model about every 等同（待确认） feature and fold its opinion into the verdict and notes.

    相同/等同 → 等同（模型意见）; 不等同 → 不相同也不等同（模型意见）; unreadable → the rule verdict, noted.
    ``progress`` (optional) is called with each feature's label before its question."""
    opinions = []
    for match in matches:
        if match.verdict != EQUIVALENT or match.best is None:
            continue
        if progress:
            progress(match.feature.label)
        paragraph = match.best.paragraph
        opinion = ask(backend, match.feature.text, paragraph.number, paragraph.text, as_of=as_of)
        opinions.append(opinion)
        if opinion.conclusion is None:
            match.notes.append(UNPARSEABLE)
            continue
        match.verdict = MODEL_NOT_EQUIVALENT if opinion.conclusion == "不等同" else MODEL_EQUIVALENT
        note = f"模型意见：{opinion.conclusion}（手段：{opinion.means or '未答'}；功能：{opinion.function or '未答'}；" \
               f"效果：{opinion.effect or '未答'}）"
        if opinion.citations:
            note += f"；模型引用（已核实）：{'、'.join(opinion.citations)}"
        if opinion.dropped:
            note += f"；另有 {opinion.dropped} 处引用未能核实，已删去"
        match.notes.append(note)
    return opinions
