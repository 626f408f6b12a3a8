"""Turning raw answers into scores: option letters from free text, exact-set accuracy, ROUGE-L.

Letter extraction (documented because every generation score depends on it):
1. thinking is removed: whatever ``<think>…</think>`` holds (and an unclosed ``<think>`` to the end);
2. the text is NFKC-normalised, so full-width ``Ｂ``, ``（C）`` and ``：`` read as ``B``, ``(C)``, ``:``;
3. if an answer marker occurs (答案, 正确选项, 应选, 选, "answer is"…), the letters are read from the
   text after the *last* marker up to the end of that sentence (or a 因为/解析/because… that explains it);
4. otherwise the letters are read from the first line (where "请只回答选项字母" puts them), or, when it
   has none, from the whole answer if that is short (≤ 30 characters).
A letter counts only when it is an option letter standing on its own (not inside a Latin word); a run of
option letters such as ``ABD`` counts as those letters.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
_MARKER = re.compile(r"(?:正确答案|答案|正确选项|应选|应当选|选项|选择|选|answer\s+is|answer)\s*(?:是|为|应为)?", re.I)
_SENTENCE_END = re.compile(r"[。\n;；!?！？]|因为|由于|理由|解析|because", re.I)
_RUN = re.compile(r"(?<![A-Za-z])([A-Z]+)(?![A-Za-z])")
SHORT_ANSWER = 30


def strip_thinking(text: str) -> str:
    """The answer without its reasoning; an orphan ``</think>`` (thinking opened by the prompt) too."""
    if "</think>" in text and "<think>" not in text.split("</think>")[0]:
        text = text.rsplit("</think>", 1)[1]
    return _THINK.sub("", text)


def _letters_in(text: str, valid: str) -> set[str]:
    found: set[str] = set()
    for run in _RUN.findall(text):
        if set(run) <= set(valid) and len(set(run)) == len(run):
            found |= set(run)
    return found


def extract_letters(text: str, valid: Iterable[str] = "ABCD") -> frozenset[str]:
    """The option letters an answer gives (empty when it gives none)."""
    valid = "".join(valid)
    body = unicodedata.normalize("NFKC", strip_thinking(text)).strip()
    markers = list(_MARKER.finditer(body))
    for m in reversed(markers):
        tail = _SENTENCE_END.split(body[m.end():], maxsplit=1)[0]
        found = _letters_in(tail, valid)
        if found:
            return frozenset(found)
    first = _letters_in(body.split("\n", 1)[0], valid)
    return frozenset(first or (_letters_in(body, valid) if len(body) <= SHORT_ANSWER else set()))


def is_correct(predicted: Iterable[str], answer: Iterable[str]) -> bool:
    """Exact set match: a multiple-answer item counts only with every right letter and no wrong one."""
    return set(predicted) == set(answer)


def accuracy_by_source(records: Iterable[dict]) -> dict[str, float]:
    """Accuracy per ``source`` and ``overall`` of records carrying ``correct`` and ``source``."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        hits[r.get("source") or "-"].append(bool(r["correct"]))
        hits["overall"].append(bool(r["correct"]))
    return {k: sum(v) / len(v) for k, v in sorted(hits.items())}


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
