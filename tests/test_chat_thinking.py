"""ThinkSplitter under adversarial chunkings: every split point must give the same pieces."""

from __future__ import annotations

import itertools
import random

import pytest

from ecmiip.chat.thinking import ThinkSplitter, split_all

# (answer as the model writes it, expected thinking, expected content)
SAMPLES = [
    ("<think>\nLet me think.\n\nStep 2.\n</think>\n\nThe answer is 42.", "Let me think.\n\nStep 2.", "The answer is 42."),
    ("<think>\n\n</think>\n\n根据《专利法》第十一条，答案是否定的。", "", "根据《专利法》第十一条，答案是否定的。"),
    ("Plain answer quoting <think> and </think> as text.", "", "Plain answer quoting <think> and </think> as text."),
    ("\n\nHello <b>world</b> <", "", "Hello <b>world</b> <"),
    ("<think>a<b</think>b</think>c", "a<b", "b</think>c"),
    ("  <think>\n推理：商标 < 专利\n</think>\n\n\n结论\n", "推理：商标 < 专利", "结论\n"),
    ("<thinking>is not a tag</thinking>", "", "<thinking>is not a tag</thinking>"),
    ("<think>\nunfinished thought <", "unfinished thought <", ""),
    ("<thi", "", "<thi"),
    ("<think>\n\n</think>\n\n", "", ""),
    ("", "", ""),
]


def _run(chunks: list[str], **kw) -> list[tuple[str, str]]:
    splitter = ThinkSplitter(**kw)
    pieces = [p for chunk in chunks for p in splitter.feed(chunk)]
    return pieces + splitter.flush()


def _joined(pieces: list[tuple[str, str]]) -> tuple[str, str]:
    assert all(text for _, text in pieces), "no empty pieces"
    kinds = [k for k, _ in pieces]
    assert kinds == sorted(kinds, key=lambda k: k != "thinking"), "all thinking comes before content"
    return (
        "".join(t for k, t in pieces if k == "thinking"),
        "".join(t for k, t in pieces if k == "content"),
    )


@pytest.mark.parametrize(("text", "thinking", "content"), SAMPLES)
def test_whole_text(text, thinking, content):
    assert split_all(text) == (thinking, content)


@pytest.mark.parametrize(("text", "thinking", "content"), SAMPLES)
def test_every_split_point(text, thinking, content):
    for i in range(len(text) + 1):
        assert _joined(_run([text[:i], text[i:]])) == (thinking, content), i


@pytest.mark.parametrize(("text", "thinking", "content"), SAMPLES)
def test_every_pair_of_split_points(text, thinking, content):
    for i, j in itertools.combinations(range(len(text) + 1), 2):
        assert _joined(_run([text[:i], text[i:j], text[j:]])) == (thinking, content), (i, j)


@pytest.mark.parametrize(("text", "thinking", "content"), SAMPLES)
def test_one_character_at_a_time_and_random_chunks(text, thinking, content):
    assert _joined(_run(list(text))) == (thinking, content)
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(1, 8))))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert _joined(_run(chunks)) == (thinking, content), cuts


def test_holds_back_only_a_possible_tag():
    splitter = ThinkSplitter()
    assert splitter.feed("<th") == []  # could still open a think block
    assert splitter.feed("ink>\n推理") == [("thinking", "推理")]
    assert splitter.feed("继续</thi") == [("thinking", "继续")]  # only "</thi" is held
    assert splitter.feed("nk>\n\n") == []
    assert splitter.feed("答案 <think> 也是文字") == [("content", "答案 <think> 也是文字")]
    assert splitter.flush() == []


def test_newlines_inside_thinking_are_kept_but_not_before_the_close_tag():
    splitter = ThinkSplitter()
    assert splitter.feed("<think>\n\nfirst\n\n") == [("thinking", "first")]
    assert splitter.feed("second\n") == [("thinking", "\n\nsecond")]
    assert splitter.feed("\n</think>\nanswer") == [("content", "answer")]


def test_content_streams_without_delay():
    splitter = ThinkSplitter()
    assert splitter.feed("The") == [("content", "The")]
    assert splitter.feed(" <") == [("content", " <")]  # in the answer, "<" is never held back


def test_prompt_that_already_opened_the_block():
    text = "\nreasoning\n</think>\n\nanswer"
    for i in range(len(text) + 1):
        assert _joined(_run([text[:i], text[i:]], in_thinking=True)) == ("reasoning", "answer")
