"""What a model merely copied from its prompt, so that only what it asserted is scored.

Small models often repeat the question, the option list or the format instruction before (or
instead of) answering; read naively, an echoed ``第一行只写“结论：不侵权”`` is a verdict and an
echoed option list is every letter. The rule: a stretch of the answer that occurs verbatim in the
prompt is an echo when it is at least ``min_len`` characters long. Two kinds of prompt text differ:

- *instructions* (system prompt, format instruction): ``INSTRUCTION_MIN`` characters; the answer
  forms the instruction asks for (``结论：侵权``) are cut out of it first, since writing one of them is
  the answer, not an echo — unless it stands inside an echoed instruction (``只写“结论：不侵权”``);
- *material* (question stem, facts of the case): ``MATERIAL_MIN`` characters, longer, because an
  answer naturally reuses a phrase of the facts (``被告构成侵权``) while an echo repeats whole clauses.

An option list is an echo when the answer reproduces two or more options as ``X. text``; naming the
one option chosen (``D. 法律后果``) is an answer. An answer that *lists* options (two or more labels
``A.``/``B：``, whatever text follows them: small models relabel and truncate) states a choice only
through an answer marker (:func:`lists_options`).

Echoed characters are removed and lines left empty are dropped, so "the first line" of an answer is
its first line with something of the model's own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

INSTRUCTION_MIN = 6
MATERIAL_MIN = 12
_HOLE = "\x00"


def normalise(text: str) -> str:
    """NFKC, so full-width ``：`` in the prompt and ``:`` in the answer compare equal."""
    return unicodedata.normalize("NFKC", text)


def _grams(texts: Iterable[str], n: int) -> set[str]:
    return {t[i:i + n] for t in texts for i in range(len(t) - n + 1)}


def _mark(answer: str, covered: list[bool], texts: Iterable[str], n: int) -> None:
    grams = _grams(texts, n)
    for i in range(len(answer) - n + 1):
        if answer[i:i + n] in grams:
            covered[i:i + n] = [True] * n


def _option_spans(answer: str, options: dict[str, str]) -> dict[str, list[tuple[int, int]]]:
    """Where the answer writes each option as ``X. text`` (any separator; the text's first 6 characters)."""
    spans = {}
    for letter, text in options.items():
        head = re.escape(normalise(text).strip()[:6])
        pattern = rf"(?<![A-Za-z])[(（]?{letter}[)）]?\s*[.．:：、)]?\s*{head}"
        found = [m.span() for m in re.finditer(pattern, answer)]
        if found:
            spans[letter] = found
    return spans


_QUOTES = "“”\"'「」『』 "


def _mark_quoted_forms(answer: str, covered: list[bool], forms: list[str]) -> None:
    """An answer form right next to echoed instruction text (quotes aside) is part of that echo."""
    for form in forms:
        for m in re.finditer(re.escape(form), answer):
            before, after = m.start() - 1, m.end()
            while before >= 0 and answer[before] in _QUOTES:
                before -= 1
            while after < len(answer) and answer[after] in _QUOTES:
                after += 1
            if (before >= 0 and covered[before]) or (after < len(answer) and covered[after]):
                covered[m.start():m.end()] = [True] * len(form)


_LABEL = re.compile(r"(?:^|(?<=[\s、，,;；]))[(（]?([A-J])[)）]?\s*[.．:：、)]", re.M)


def lists_options(answer: str, options: dict[str, str]) -> bool:
    """Whether the answer lays out two or more options (echoed texts, or labels ``A.`` ``B：``)."""
    answer = normalise(answer)
    labels = {m[1] for m in _LABEL.finditer(answer) if m[1] in options}
    return len(labels) >= 2 or len(_option_spans(answer, options)) >= 2


def mask_echo(
    answer: str,
    *,
    instructions: Iterable[str] = (),
    answer_forms: Iterable[str] = (),
    material: Iterable[str] = (),
    options: dict[str, str] | None = None,
) -> str:
    """``answer`` (NFKC) without what it copied from the prompt; see the module docstring."""
    answer = normalise(answer)
    covered = [False] * len(answer)
    pieces = [normalise(t) for t in instructions]
    forms = [normalise(f) for f in answer_forms]
    for form in forms:
        pieces = [part for piece in pieces for part in piece.split(form)]
    _mark(answer, covered, pieces, INSTRUCTION_MIN)
    _mark_quoted_forms(answer, covered, forms)
    _mark(answer, covered, [normalise(t) for t in material], MATERIAL_MIN)
    if options:
        spans = _option_spans(answer, options)
        if len(spans) >= 2:
            for a, b in (span for found in spans.values() for span in found):
                covered[a:b] = [True] * (b - a)
    kept = "".join(_HOLE if c else ch for ch, c in zip(answer, covered, strict=True))
    lines = [line.replace(_HOLE, " ").strip() for line in kept.split("\n")]
    return "\n".join(line for line in lines if line)
