"""The two ways a model answers a multiple-choice item, and recitation by generation.

Prompt format (one for every backend and scorer, so scores are comparable):
    system: the legal system prompt (``ecmiip.core.prompts.LEGAL_SYSTEM_PROMPT``)
    user:   the question, one line per option ``A. text``, then ``（单选或多选）请只回答选项字母``
rendered by the model's own chat template with thinking off unless ``--think`` is given (for Qwen3
that is ``enable_thinking``; thinking is removed before letters are read, whatever the backend).

Generation scorer: greedy decoding (temperature 0, a fixed seed), letters read by
:func:`ecmiip.bench.scoring.extract_letters`.

Likelihood scorer (GGUFs run by llama.cpp, HF model directories: any backend with ``choice_logits``):
one forward pass over the prompt rendered with thinking off, then the logits of the next token,
restricted to the option letter tokens and softmaxed among them. The prediction is every letter whose
probability is at least ``RELATIVE_THRESHOLD`` (0.5) times the top letter's: a clear favourite is a
single answer, two near-equal letters a multiple answer. The number of right answers is never given to
the rule. The letter probabilities are kept in results.json, so
another threshold can be applied to the same run.
"""

from __future__ import annotations

import math
from typing import Any

from ecmiip.bench.data import McqItem, ReciteItem
from ecmiip.bench.scoring import exact_match, extract_letters, is_correct, rouge_l
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT

ANSWER_INSTRUCTION = "（单选或多选）请只回答选项字母"
RELATIVE_THRESHOLD = 0.5


def mcq_messages(item: McqItem) -> list[dict]:
    options = "\n".join(f"{k}. {v}" for k, v in item.options.items())
    user = f"{item.question}\n{options}\n{ANSWER_INSTRUCTION}"
    return [{"role": "system", "content": LEGAL_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def recite_messages(item: ReciteItem) -> list[dict]:
    user = f"请背诵《{item.law}》{item.article}的全文，只输出条文内容。"
    return [{"role": "system", "content": LEGAL_SYSTEM_PROMPT}, {"role": "user", "content": user}]


def generate(backend: Any, messages: list[dict], *, think: bool, max_tokens: int, seed: int) -> str:
    """The whole answer, greedy; thinking (if any) kept inside ``<think>…</think>`` for the record."""
    thinking: list[str] = []
    content: list[str] = []
    sampling = {"temperature": 0.0, "seed": seed}
    for delta in backend.stream(messages, think=think, sampling=sampling, max_tokens=max_tokens):
        (thinking if delta.kind == "thinking" else content).append(delta.text)
    head = f"<think>{''.join(thinking)}</think>" if thinking else ""
    return head + "".join(content)


def _mcq_record(item: McqItem, predicted: frozenset[str], **extra: Any) -> dict:
    return {
        "id": item.id,
        "source": item.source,
        "answer": sorted(item.answer_letters),
        "prediction": sorted(predicted),
        "correct": is_correct(predicted, item.answer_letters),
        **extra,
    }


class GenerationScorer:
    """The model answers in words; the letters are read from its answer."""

    name = "generation"

    def __init__(self, backend: Any, *, think: bool = False, seed: int = 0, max_tokens: int | None = None) -> None:
        self.backend, self.think, self.seed = backend, think, seed
        self.max_tokens = max_tokens or (1024 if think else 32)

    def score(self, item: McqItem) -> dict:
        raw = generate(self.backend, mcq_messages(item), think=self.think, max_tokens=self.max_tokens, seed=self.seed)
        return _mcq_record(item, extract_letters(raw, item.options), raw=raw)


def letter_probs(logits: dict[str, float]) -> dict[str, float]:
    """Softmax over the option letters only (the rest of the vocabulary does not compete)."""
    top = max(logits.values())
    weights = {k: math.exp(v - top) for k, v in logits.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def predict_set(probs: dict[str, float], threshold: float = RELATIVE_THRESHOLD) -> frozenset[str]:
    """The exact-set rule: every letter at least ``threshold`` times as probable as the top letter."""
    best = max(probs.values())
    return frozenset(k for k, p in probs.items() if p >= threshold * best)


class LikelihoodScorer:
    """One forward pass per item; the answer is read from the next-token logits of the option letters."""

    name = "likelihood"

    def __init__(self, backend: Any, *, threshold: float = RELATIVE_THRESHOLD) -> None:
        if not hasattr(backend, "choice_logits"):
            raise InputError("the likelihood scorer needs logits: a GGUF (llama.cpp) or an HF model directory")
        self.backend, self.threshold = backend, threshold

    def score(self, item: McqItem) -> dict:
        probs = letter_probs(self.backend.choice_logits(mcq_messages(item), list(item.options)))
        predicted = predict_set(probs, self.threshold)
        return _mcq_record(item, predicted, probs={k: round(p, 6) for k, p in probs.items()})


class ReciteScorer:
    """Greedy recitation of one article, scored by exact match and character ROUGE-L."""

    name = "recite"

    def __init__(self, backend: Any, *, think: bool = False, seed: int = 0) -> None:
        self.backend, self.think, self.seed = backend, think, seed

    def score(self, item: ReciteItem) -> dict:
        budget = min(1024, 2 * len(item.text) + 32) + (1024 if self.think else 0)
        raw = generate(self.backend, recite_messages(item), think=self.think, max_tokens=budget, seed=self.seed)
        return {
            "id": item.id,
            "source": item.law,
            "raw": raw,
            "exact": exact_match(raw, item.text),
            "rouge_l": round(rouge_l(raw, item.text), 6),
        }
