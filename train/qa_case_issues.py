"""The disputed issues of a case, read from its own text rather than written as a generic sentence.

A focus is what the defendant's answer contests against what the claim asks — whether the right exists, whether
the conduct falls within it, a named defence (合法来源, 反向工程, 避风港…), liability at all, the amount —
named as the question the court had to answer. The court's own sentence that answers it, from the record's
reasoning, goes with it. A record whose reasoning states its 争议焦点 keeps that sentence as the focus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecmiip.train.mipld import Record


@dataclass(frozen=True)
class Issue:
    """One kind of dispute: how the defendant's answer (or the claim) raises it, the question it poses, and
    how the court's deciding sentence can be recognised."""

    label: str
    raised_by: re.Pattern[str]
    question: str
    decided_by: re.Pattern[str]
    in_claim: bool = False  # raised by the plaintiff's claim, not by the answer


def _issue(label: str, raised_by: str, question: str, decided_by: str, in_claim: bool = False) -> Issue:
    return Issue(label, re.compile(raised_by), question, re.compile(decided_by), in_claim)


# In the order a court takes them: the right, the conduct, the defences, liability, the amount.
ISSUES: tuple[Issue, ...] = (
    _issue("商业秘密是否成立", r"不构成商业秘密|公知技术|普遍知悉", "原告主张的信息是否构成商业秘密",
           r"构成(?:技术|商业)秘密|普遍知悉"),
    _issue("标识的识别作用", r"通用词汇|通用名称|不具有识别", "原告主张的名称、标识或者装潢是否具有区别商品或者服务来源的作用",
           r"显著|区别.{0,4}来源|识别.{0,4}来源|一定影响"),
    _issue("保护范围", r"保护范围", "被诉产品是否落入涉案专利权的保护范围", r"保护范围"),
    _issue("正当使用抗辩", r"正当使用", "被告的使用是否属于描述性正当使用", r"正当使用"),
    _issue("混淆可能", r"混淆|误认", "被告的使用是否容易导致相关公众混淆", r"混淆|误认"),
    _issue("现有技术抗辩", r"现有技术|申请日前已公开", "被告的现有技术抗辩能否成立", r"现有技术"),
    _issue("先用权抗辩", r"先用权|先用", "被告的先用权抗辩能否成立", r"先用"),
    _issue("反向工程抗辩", r"反向工程", "被告的反向工程抗辩能否成立", r"反向工程"),
    _issue("避风港抗辩", r"信息存储空间|避风港|及时删除",
           "被告作为信息存储空间服务提供者，能否以其删除行为适用避风港规则而免除赔偿责任",
           r"信息存储空间|避风港|应当知道|删除"),
    _issue("合法来源抗辩", r"合法来源|正规.{0,8}购入|进货单据",
           "被告的合法来源抗辩能否成立，即被告能否证明被诉产品来源合法且不知道其侵权，从而不承担赔偿责任",
           r"合法来源"),
    _issue("惩罚性赔偿", r"惩罚性赔偿", "被告是否具有侵权故意且情节严重，应否适用原告请求的惩罚性赔偿",
           r"故意|情节严重|惩罚性赔偿", in_claim=True),
    _issue("赔偿数额", r"数额过高|赔偿数额|销售量有限", "赔偿数额应当如何确定", r"基数|赔偿数额|共计"),
)

# Raised only when no named defence already carries the question of liability.
LIABILITY = _issue("赔偿责任", r"不(?:应)?承担(?:赔偿)?责任|不应赔偿", "被告是否应当承担赔偿责任",
                   r"承担.{0,6}责任|赔偿")
_LIABILITY_CARRIED = {"避风港抗辩", "合法来源抗辩"}

_FOCUS_SENTENCE = re.compile(r"争议焦点")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=。)", text or "") if s.strip()]


def issues_of(record: Record) -> list[Issue]:
    """The issues the record's answer (or, for those a claim raises, its claim) puts in dispute, in order.
    A punitive-damages claim is an issue only when the answer contests the amount or liability."""
    d = record.data
    answer, claim = d.get("defendant_claims") or "", d.get("plaintiff_claims") or ""
    found = [i for i in ISSUES if i.raised_by.search(claim if i.in_claim else answer)]
    labels = {i.label for i in found}
    if "惩罚性赔偿" in labels and "赔偿数额" not in labels and not LIABILITY.raised_by.search(answer):
        found = [i for i in found if i.label != "惩罚性赔偿"]
    if not labels & _LIABILITY_CARRIED and LIABILITY.raised_by.search(answer):
        found.append(LIABILITY)
    return found


def court_answers(record: Record, issues: list[Issue], limit: int = 4) -> list[str]:
    """The reasoning's sentences that speak to ``issues``, in the reasoning's order, each once, without the
    sentence that only announces the focus."""
    said = _sentences(record.data.get("reasoning") or "")
    picked = [s for s in said if not _FOCUS_SENTENCE.search(s) and any(i.decided_by.search(s) for i in issues)]
    return picked[:limit]


def stated_focus(record: Record) -> str:
    """The reasoning's own 争议焦点 sentence, or ''."""
    return next((s for s in _sentences(record.data.get("reasoning") or "") if _FOCUS_SENTENCE.search(s)), "")


def focus_text(record: Record) -> tuple[str, list[str], list[str]]:
    """(the focus as written in the answer, the labels of its issues, the court's deciding sentences).
    The focus is the record's own 争议焦点 sentence when it has one, else the questions its issues pose;
    with no recognisable issue, whether the defendant's answer itself holds, quoting it."""
    issues = issues_of(record)
    labels = [i.label for i in issues]
    decided = court_answers(record, issues)
    if own := stated_focus(record):
        return own, labels, decided
    if issues:
        questions = [i.question for i in issues]
        if len(questions) == 1:
            return f"{questions[0]}。", labels, decided
        return "\n".join(f"{n}. {q}；" if n < len(questions) else f"{n}. {q}。"
                         for n, q in enumerate(questions, 1)), labels, decided
    answer = (record.data.get("defendant_claims") or "").strip().rstrip("。")
    return f"被告所称“{answer}”能否成立。", labels, decided
