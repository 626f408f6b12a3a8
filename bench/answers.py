"""Turning raw answers into scores: option letters from free text, exact-set accuracy, ROUGE-L.

Letter reading (documented because every generation score depends on it):
1. thinking is removed: whatever ``<think>…</think>`` holds (and an unclosed ``<think>`` to the end);
2. what the model merely echoed from its prompt is removed (:mod:`ecmiip.bench.echo`): the
   instruction, the stem, an option list; the text is NFKC-normalised, so ``Ｂ`` reads as ``B``;
3. *answer markers* (答案, 正确答案, 正确选项, 应选, 故选, "answer is"…): the letters stated right after
   each, up to the end of that sentence (or a 因为/解析/because… that explains it). When two markers
   state different letters the answer contradicts itself and gives none;
4. else the last *weak marker* (选, 选项, 选择: also used in reasoning, so they never contradict);
5. else the first line, or the whole answer when it is short (≤ 30 characters) — unless the answer
   lays out two or more options (``A. … B. …``): a listing states a choice only through a marker.
After a marker the letters listed first are read (``C. A公司…`` is C, ``A、C`` and ``AC`` are A and C);
elsewhere a letter counts only standing on its own (not inside a Latin word). A list joined by 或/or
is a hedge and gives no answer. A single-choice item takes exactly one letter: an answer naming
several gives none (:func:`single_answer`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from ecmiip.bench.echo import lists_options, mask_echo
from ecmiip.core.thinking import strip_thinking

_ANSWER_MARKER = re.compile(
    r"(?:正确答案|答案|正确选项|应当选|应选|故选|所以选|因此选|answer\s+is|answer)\s*(?:是|为|应为|应该是)?", re.I)
_WEAK_MARKER = re.compile(r"(?:选项|选择|选)\s*(?:是|为)?")
_SENTENCE_END = re.compile(r"[。\n;；!?！？]|因为|由于|理由|解析|because", re.I)
_RUN = re.compile(r"(?<![A-Za-z])([A-Z]+)(?![A-Za-z])")
_LISTED = re.compile(
    r"^[\s:：,，]*(?P<list>[(（]?[A-J][)）]?项?(?:\s*(?:[、,，/和及与或]|and|or)?\s*[(（]?[A-J][)）]?项?)*)(?![A-Za-z])")
SHORT_ANSWER = 30
HEDGED, CONTRADICTS, SEVERAL = "hedged", "contradicts itself", "several letters for a single-choice item"
LISTED = "listed the options without choosing"


@dataclass(frozen=True)
class Reading:
    """The letters an answer gives and, when it gives none although it names some, why."""

    letters: frozenset[str]
    problem: str | None = None


def _letters_in(text: str, valid: str) -> set[str]:
    found: set[str] = set()
    for run in _RUN.findall(text):
        if set(run) <= set(valid) and len(set(run)) == len(run):
            found |= set(run)
    return found


def _stated(tail: str, valid: str) -> Reading:
    """Letters stated right after a marker, up to the end of its sentence."""
    window = _SENTENCE_END.split(tail, maxsplit=1)[0]
    m = _LISTED.match(window)
    if m:
        listed = m["list"]
        letters = frozenset(c for c in re.findall(r"[A-J]", listed) if c in valid)
        if letters and re.search(r"或|\bor\b", listed):
            return Reading(frozenset(), HEDGED)
        if letters:
            return Reading(letters)
    return Reading(frozenset(_letters_in(window, valid)))


def read_letters(
    text: str,
    valid: Iterable[str] = "ABCD",
    *,
    instructions: Iterable[str] = (),
    material: Iterable[str] = (),
    options: dict[str, str] | None = None,
) -> Reading:
    """The option letters an answer asserts, once what it echoed of its prompt (the ``instructions``, the
    ``material`` and the ``options``: :func:`ecmiip.bench.echo.mask_echo`) is removed."""
    valid = "".join(valid)
    body = mask_echo(strip_thinking(text), instructions=instructions, material=material, options=options).strip()
    stated = [r for r in (_stated(body[m.end():], valid) for m in _ANSWER_MARKER.finditer(body))
              if r.letters or r.problem]
    if stated:
        if len({(r.letters, r.problem) for r in stated}) > 1:
            return Reading(frozenset(), CONTRADICTS)
        return stated[-1]
    for m in reversed(list(_WEAK_MARKER.finditer(body))):
        r = _stated(body[m.end():], valid)
        if r.letters or r.problem:
            return r
    if options and lists_options(strip_thinking(text), options):
        return Reading(frozenset(), LISTED)
    first = _letters_in(body.split("\n", 1)[0], valid)
    return Reading(frozenset(first or (_letters_in(body, valid) if len(body) <= SHORT_ANSWER else set())))


def extract_letters(text: str, valid: Iterable[str] = "ABCD") -> frozenset[str]:
    """The option letters an answer gives (empty when it gives none)."""
    return read_letters(text, valid).letters


def single_answer(reading: Reading) -> Reading:
    """A single-choice item is answered by exactly one letter; naming several is no answer."""
    if len(reading.letters) > 1:
        return Reading(frozenset(), SEVERAL)
    return reading


def is_correct(predicted: Iterable[str], answer: Iterable[str]) -> bool:
    """Exact set match: a multiple-answer item counts only with every right letter and no wrong one."""
    return set(predicted) == set(answer)


def normalise_text(text: str) -> str:
    """Form of a statute text for comparison: NFKC, no whitespace, no '答案:' lead."""
    text = unicodedata.normalize("NFKC", strip_thinking(text))
    return re.sub(r"\s+", "", re.sub(r"^\s*答案\s*:", "", text))


def lcs_length(a: str, b: str) -> int:
    """Longest common subsequence length, one row of the DP table at a time."""
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """Character-level ROUGE-L F1 (β = 1) of the normalised texts."""
    p, r = normalise_text(prediction), normalise_text(reference)
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> bool:
    return normalise_text(prediction) == normalise_text(reference)
