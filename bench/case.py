"""The ``case`` task (the paper's NOM and HX): from the facts of a case to 侵权 / 不侵权.

Prompt (same for every backend): the legal system prompt, then the instruction :data:`CASE_INSTRUCTION`
and ``案情：<facts>`` (shared part first, so a KV cache computes it once per run), rendered by the
model's own chat template, thinking off unless ``--think``.

Generation scorer: greedy answer; the verdict is read by :func:`read_verdict` and the articles
relied on by the statute citation finder (``ecmiip.core.citations``), compared with the item's
``articles`` as (law, article number) pairs, so 《专利法》第十一条 and 《中华人民共和国专利法》第11条
are the same article.

Likelihood scorer: the item as a two-option question (A 构成侵权, B 不构成侵权) scored like an mcq item
by the option letters' next-token logits; the more probable letter is the verdict. No articles.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ecmiip.bench.answers import CONTRADICTS
from ecmiip.bench.data import SINGLE, CaseItem, McqItem
from ecmiip.bench.echo import mask_echo
from ecmiip.bench.scorers import generate, letter_probs
from ecmiip.bench.stats import accuracy_summary
from ecmiip.core.citations import find_citations, parse_citation, resolve_law
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT, system_user
from ecmiip.core.thinking import strip_thinking

INFRINGING, NOT_INFRINGING = "侵权", "不侵权"
VERDICTS = (INFRINGING, NOT_INFRINGING)
CASE_INSTRUCTION = (
    "请判断被告的行为是否构成侵权。第一行只写“结论：侵权”或“结论：不侵权”，"
    "然后列出所依据的法条（《法律名》第X条）。"
)
CASE_ANSWER_FORMS = ("结论：侵权", "结论：不侵权")
CASE_QUESTION = "被告的行为是否构成侵权？"
CASE_OPTIONS = {"A": "构成侵权", "B": "不构成侵权"}
_LETTER_VERDICT = {"A": INFRINGING, "B": NOT_INFRINGING}

# Negative forms first: each is tried at a position before the positive ones, since 不侵权 holds 侵权.
_NEGATIVE = r"不构成(?:对[^，。\n]{0,20}的)?侵权|不构成侵犯|不属于侵权|不侵权|未侵权|没有侵权|不侵犯|未侵犯|无侵权"
_POSITIVE = r"构成(?:对[^，。\n]{0,20}的)?侵权|构成侵犯|属于侵权|侵权成立|侵犯了|侵权"
_VERDICT_RE = re.compile(rf"(?P<neg>{_NEGATIVE})|(?P<pos>{_POSITIVE})")
_CONCLUSION = re.compile(r"(?:结论|判断|判决结果|答案|认定)\s*[:：]?")
_SENTENCE = re.compile(r"[。！!？?；;\n]")
_CLAUSE = re.compile(r"[，,]")


def case_messages(item: CaseItem) -> list[dict]:
    user = f"{CASE_INSTRUCTION}\n\n案情：{item.facts}"
    return system_user(user)


def as_mcq(item: CaseItem) -> McqItem:
    """The case as the two-option (single-choice) question the likelihood scorer reads."""
    answer = next(k for k, v in _LETTER_VERDICT.items() if v == item.judgment)
    return McqItem(item.id, f"案情：{item.facts}\n\n{CASE_QUESTION}", dict(CASE_OPTIONS), frozenset(answer),
                   item.kind, SINGLE)


def _stated(sentence: str) -> set[str]:
    """Verdicts of the first clause of ``sentence`` that states any (both: it contradicts itself)."""
    for clause in _CLAUSE.split(sentence):
        found = {NOT_INFRINGING if m["neg"] else INFRINGING for m in _VERDICT_RE.finditer(clause)}
        if found:
            return found
    return set()


def read_verdict(text: str, facts: str = "") -> tuple[str | None, str | None]:
    """(侵权 / 不侵权 / None, why None when the answer names a verdict but asserts none).

    What the answer echoes of its prompt (the instruction with its two answer forms, the system
    prompt, long stretches of the facts) is removed first, and thinking is never read. Then the
    sentence after each 结论/判断/答案 marker: all must agree, or the answer contradicts itself. With
    no marker: the first line, else the first sentence. In each, the first clause stating a verdict
    counts, and a clause stating both (``侵权或不侵权``) is a contradiction.
    """
    body = mask_echo(strip_thinking(text), instructions=[LEGAL_SYSTEM_PROMPT, CASE_INSTRUCTION],
                     answer_forms=CASE_ANSWER_FORMS, material=[facts] if facts else []).strip()
    marked = [v for m in _CONCLUSION.finditer(body) if (v := _stated(_SENTENCE.split(body[m.end():], maxsplit=1)[0]))]
    windows = [set().union(*marked)] if marked else [
        _stated(body.split("\n", 1)[0]), _stated(_SENTENCE.split(body, maxsplit=1)[0])]
    for found in windows:
        if len(found) > 1:
            return None, CONTRADICTS
        if found:
            return found.pop(), None
    return None, None


def extract_verdict(text: str, facts: str = "") -> str | None:
    """侵权, 不侵权, or None when the answer commits to neither (:func:`read_verdict`)."""
    return read_verdict(text, facts)[0]


def article_key(citation: str) -> tuple[str, int] | None:
    """(corpus law title or the name as written, article number) of one ``《法》第X条`` citation."""
    c = parse_citation(citation)
    if c is None:
        return None
    number = c.number  # 第十一条 / 第11条 / 第一十一条 → 11; the 之一 of an inserted article is not told apart
    return (c.resolved_law or resolve_law(c.law) or c.law, number) if number is not None else None


def cited_keys(text: str) -> list[tuple[str, int]]:
    """Distinct articles an answer cites, in order, thinking excluded."""
    keys: list[tuple[str, int]] = []
    for c in find_citations(strip_thinking(text)):
        number = c.number
        key = (c.resolved_law or c.law, number) if number is not None else None
        if key and key not in keys:
            keys.append(key)
    return keys


def _record(item: CaseItem, prediction: str | None, **extra: Any) -> dict:
    return {
        "id": item.id,
        "source": item.kind,
        "answer": item.judgment,
        "prediction": prediction,
        "correct": prediction == item.judgment,
        **extra,
    }


class CaseGenerationScorer:
    """The model writes its conclusion and the articles it relies on."""

    name = "generation"

    def __init__(self, backend: Any, *, think: bool = False, seed: int = 0, max_tokens: int | None = None) -> None:
        self.backend, self.think, self.seed = backend, think, seed
        self.max_tokens = max_tokens or (1536 if think else 256)

    def score(self, item: CaseItem) -> dict:
        raw = generate(self.backend, case_messages(item), think=self.think, max_tokens=self.max_tokens, seed=self.seed)
        gold = [k for k in (article_key(a) for a in item.articles) if k]
        cited = cited_keys(raw)
        verdict, problem = read_verdict(raw, item.facts)
        return _record(
            item, verdict, raw=raw, **({"unread": problem} if problem else {}),
            articles=[f"{law}:{n}" for law, n in gold],
            cited=[f"{law}:{n}" for law, n in cited],
            article_hits=len(set(gold) & set(cited)),
        )


class CaseLikelihoodScorer:
    """One forward pass: the more probable of the letters A (构成侵权) and B (不构成侵权)."""

    name = "likelihood"

    def __init__(self, backend: Any) -> None:
        from ecmiip.bench.scorers import mcq_messages

        self.backend, self._messages = backend, mcq_messages

    def score(self, item: CaseItem) -> dict:
        question = as_mcq(item)
        probs = letter_probs(self.backend.choice_logits(self._messages(question), list(question.options)))
        letter = max(probs, key=lambda k: probs[k])
        return _record(item, _LETTER_VERDICT[letter], probs={k: round(p, 6) for k, p in probs.items()})


def summarize_case(records: list[dict]) -> dict:
    """Accuracy (overall and per kind, with intervals), precision/recall per verdict, unreadable and
    self-contradicting answers, articles."""
    if not records:
        return {"n": 0}
    summary: dict[str, Any] = {"n": len(records), **accuracy_summary(records)}
    per_class = {}
    for verdict in VERDICTS:
        predicted = [r for r in records if r["prediction"] == verdict]
        actual = [r for r in records if r["answer"] == verdict]
        hits = sum(r["correct"] for r in predicted)
        per_class[verdict] = {
            "precision": hits / len(predicted) if predicted else None,
            "recall": hits / len(actual) if actual else None,
            "support": len(actual),
        }
    summary["per_class"] = per_class
    summary["no_verdict"] = sum(r["prediction"] is None for r in records)
    summary["contradictory"] = sum(r.get("unread") == CONTRADICTS for r in records)
    with_articles = [r for r in records if "cited" in r and r.get("articles")]
    if with_articles:
        hits = sum(r["article_hits"] for r in with_articles)
        cited = sum(len(r["cited"]) for r in with_articles)
        gold = sum(len(r["articles"]) for r in with_articles)
        summary["articles"] = {
            "precision": hits / cited if cited else 0.0,
            "recall": hits / gold,
            "items": len(with_articles),
        }
    summary["predictions"] = dict(Counter(str(r["prediction"]) for r in records))
    return summary
