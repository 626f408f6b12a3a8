"""Generation scoring reads only what the model asserted: planted echoes, hedges and contradictions."""

from __future__ import annotations

import pytest

from ecmiip.bench.answers import CONTRADICTS, HEDGED, LISTED, SEVERAL
from ecmiip.bench.case import (
    CASE_INSTRUCTION,
    INFRINGING,
    NOT_INFRINGING,
    CaseGenerationScorer,
    case_messages,
    read_verdict,
)
from ecmiip.bench.data import INDEFINITE, MULTIPLE, SINGLE, CaseItem, McqItem
from ecmiip.bench.scorers import INSTRUCTIONS, GenerationScorer, read_mcq_answer
from ecmiip.chat.backends import Delta

OPTIONS = {"A": "假定条件", "B": "处理", "C": "行为模式", "D": "法律后果"}
STEM = "我国《商标法》第三十九条规定转让注册商标的，转让人和受让人应当签订转让协议。该条文省略了："
LETTER_STEM = "A公司将其注册商标许可B公司使用，C公司未经许可在同一种商品上使用相同商标。下列说法正确的是："
FACTS = "原告诉称被告的行为构成侵权，被告辩称其使用属于合理使用。经查，被告在评论文章中少量引用了原告作品。"


def _mcq(item_type: str = SINGLE, stem: str = STEM, answer: str = "D") -> McqItem:
    return McqItem("q1", stem, dict(OPTIONS), frozenset(answer), "", item_type)


def _read(raw: str, item: McqItem):
    return read_mcq_answer(raw, item)


@pytest.mark.parametrize(
    ("raw", "letters", "problem"),
    [
        # the option list echoed: no answer; echoed and then answered: the answer
        ("A. 假定条件\nB. 处理\nC. 行为模式\nD. 法律后果", "", LISTED),
        # small models relabel and truncate while listing (seen with SmolLM2): still a listing
        ("A. 假定条件\nB. 处理\nC. 法律后果\nD. 法", "", LISTED),
        ("A. 假定、B. 处理、C.", "", LISTED),
        ("A. 专利权\nB. 专利权\nC. 专利权\nD.", "", LISTED),
        ("A：假定条件 B：处理 C：行为模式 D：法律后果\n答案：D", "D", None),
        # naming the one option chosen is an answer, not an echo
        ("D. 法律后果", "D", None),
        ("答案：D. 法律后果", "D", None),
        # the instruction echoed before the answer
        (INSTRUCTIONS[SINGLE] + "\nD", "D", None),
        # changing its mind, hedging, several letters for a single-choice item: no answer
        ("答案：A。再想一下，正确答案是B。", "", CONTRADICTS),
        ("答案：A或B", "", HEDGED),
        ("答案：AC", "", SEVERAL),
        ("答案：B、D", "", SEVERAL),
        # reasoning that names options does not contradict the answer
        ("选项A错误，选项B也错误。答案：D", "D", None),
    ],
)
def test_single_choice_reading(raw, letters, problem):
    reading = _read(raw, _mcq())
    assert reading.letters == frozenset(letters)
    assert reading.problem == problem


def test_several_letters_are_an_answer_for_multiple_and_indefinite_items():
    for item_type in (MULTIPLE, INDEFINITE):
        assert _read("答案：B、D", _mcq(item_type, answer="BD")).letters == {"B", "D"}
        assert _read("答案：A或B", _mcq(item_type, answer="BD")).problem == HEDGED


def test_an_echoed_stem_with_party_letters_is_not_an_answer():
    item = _mcq(INDEFINITE, stem=LETTER_STEM, answer="AB")
    assert _read(LETTER_STEM, item).letters == frozenset()  # naive reading: A, B and C
    assert _read(LETTER_STEM + "\n答案：C", item).letters == {"C"}


class Echo:
    """A model that repeats its whole prompt (the user message) and stops."""

    def stream(self, messages, *, think, sampling, max_tokens, stop_event=None):
        yield Delta("content", messages[-1]["content"])


def test_a_model_echoing_its_prompt_answers_nothing():
    for item in (_mcq(SINGLE), _mcq(INDEFINITE, stem=LETTER_STEM, answer="AB")):
        record = GenerationScorer(Echo()).score(item)
        assert record["prediction"] == [] and not record["correct"]
    case = CaseItem("c1", FACTS, NOT_INFRINGING)
    record = CaseGenerationScorer(Echo()).score(case)
    assert record["prediction"] is None and not record["correct"]
    assert case_messages(case)[-1]["content"].startswith(CASE_INSTRUCTION)  # shared part first


@pytest.mark.parametrize(
    ("raw", "verdict", "problem"),
    [
        # the format instruction echoed (the bug: read as 不侵权 and counted right)
        ("第一行只写“结论：侵权”或“结论：不侵权”，然后列出所依据的法条", None, None),
        ("第一行只写“结论：不侵权”", None, None),
        # the instruction echoed, then the answer
        ("请判断被告的行为是否构成侵权。\n结论：侵权", INFRINGING, None),
        # the facts echoed: the plaintiff's claim is not the model's verdict
        (FACTS, None, None),
        (FACTS + "\n结论：不侵权", NOT_INFRINGING, None),
        # the answer forms themselves are answers, and a short phrase of the facts is the model's own
        ("结论：不侵权", NOT_INFRINGING, None),
        ("结论：被告的行为构成侵权", INFRINGING, None),
        # contradictions
        ("结论：侵权或不侵权", None, CONTRADICTS),
        ("结论：侵权\n理由如下……\n结论：不侵权", None, CONTRADICTS),
        ("被告构成侵权，又不构成侵权", INFRINGING, None),  # the first clause stating a verdict counts
    ],
)
def test_case_verdict_reads_only_what_the_model_asserted(raw, verdict, problem):
    assert read_verdict(raw, FACTS) == (verdict, problem)
