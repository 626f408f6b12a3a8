"""One rule for taking the reasoning out of a finished text (teacher replies, scored answers)."""

from __future__ import annotations

import pytest

from ecmiip.core.thinking import cut_off_in_thinking, strip_thinking


@pytest.mark.parametrize(
    ("text", "answer", "cut_off"),
    [
        ("<think>先想想</think>\n\n答案是D。", "\n\n答案是D。", False),
        ("推理中</think>B", "B", False),  # the prompt opened the block
        ("<think>没想完 A", "", True),
        ("<think>a</think>b</think>c", "c", False),  # a stray closing tag: what follows it
        ("答案：<think>x</think>A", "答案：A", False),
        ("plain answer", "plain answer", False),
        ("<think>a</think><think>b", "", True),
    ],
)
def test_strip_thinking(text, answer, cut_off):
    assert strip_thinking(text) == answer
    assert cut_off_in_thinking(text) is cut_off
