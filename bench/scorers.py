"""The two ways a model answers a multiple-choice item, and recitation by generation.

Prompt format (one for every backend and scorer, so scores are comparable):
    system: the legal system prompt (``ecmiip.core.prompts.LEGAL_SYSTEM_PROMPT``)
    user:   the instruction for the item's type (:data:`INSTRUCTIONS`: the examinee is told, as on the
            exam, whether it is 单选, 多选 or 不定项), a blank line, the question, one line per option
            ``A. text``
rendered by the model's own chat template with thinking off unless ``--think`` is given (for Qwen3
that is ``enable_thinking``; thinking is removed before letters are read, whatever the backend). The
shared part comes first, so a backend's KV cache computes the system prompt and instruction once per
run and each item evaluates only its own text.

Generation scorer: greedy decoding (temperature 0, a fixed seed), letters read by
:func:`ecmiip.bench.answers.read_letters`, with what the answer echoed from the prompt removed; a
single-choice item is answered by exactly one letter (several: no answer).

Likelihood scorer (GGUFs run by llama.cpp, HF model directories: any backend declaring ``supports_logits``):
one forward pass over the prompt rendered with thinking off, then the logits of the next token,
restricted to the option letter tokens and softmaxed among them. Single-choice: the most probable
letter. Multiple / indefinite: every letter whose probability is at least ``RELATIVE_THRESHOLD`` (0.5)
times the top letter's (a multiple-choice item, two or more right by the exam's rule, takes the top
two at least). The number of right answers beyond that is never given to the rule. The letter
probabilities are kept in results.json, so another threshold can be applied to the same run.
"""

from __future__ import annotations

import math
from typing import Any

from ecmiip.bench.answers import Reading, exact_match, is_correct, read_letters, rouge_l, single_answer
from ecmiip.bench.data import INDEFINITE, MULTIPLE, SINGLE, McqItem, ReciteItem
from ecmiip.chat.backends import Backend
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT, system_user

INSTRUCTIONS = {
    SINGLE: "以下是单项选择题，只有一个正确选项。请只回答正确选项的字母。",
    MULTIPLE: "以下是多项选择题，有两个或两个以上正确选项。请只回答全部正确选项的字母。",
    INDEFINITE: "以下是不定项选择题，正确选项可能有一个或多个。请只回答全部正确选项的字母。",
}
RELATIVE_THRESHOLD = 0.5


def mcq_messages(item: McqItem) -> list[dict]:
    options = "\n".join(f"{k}. {v}" for k, v in item.options.items())
    return system_user(f"{INSTRUCTIONS[item.item_type]}\n\n{item.question}\n{options}")


def read_mcq_answer(raw: str, item: McqItem) -> Reading:
    """What the answer asserts for this item (echoes of its prompt removed, one letter if single)."""
    reading = read_letters(raw, item.options, instructions=[LEGAL_SYSTEM_PROMPT, INSTRUCTIONS[item.item_type]],
                           material=[item.question], options=item.options)
    return single_answer(reading) if item.item_type == SINGLE else reading


def recite_messages(item: ReciteItem) -> list[dict]:
    return system_user(f"请背诵《{item.law}》{item.article}的全文，只输出条文内容。")


def generate(backend: Backend, messages: list[dict], *, think: bool, max_tokens: int, seed: int) -> str:
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
        "type": item.item_type,
        "answer": sorted(item.answer_letters),
        "prediction": sorted(predicted),
        "correct": is_correct(predicted, item.answer_letters),
        **extra,
    }


class GenerationScorer:
    """The model answers in words; the letters are read from its answer."""

    name = "generation"

    def __init__(self, backend: Backend, *, think: bool = False, seed: int = 0, max_tokens: int | None = None) -> None:
        self.backend, self.think, self.seed = backend, think, seed
        self.max_tokens = max_tokens or (1024 if think else 32)

    def score(self, item: McqItem) -> dict:
        raw = generate(self.backend, mcq_messages(item), think=self.think, max_tokens=self.max_tokens, seed=self.seed)
        reading = read_mcq_answer(raw, item)
        extra = {"unread": reading.problem} if reading.problem else {}
        return _mcq_record(item, reading.letters, raw=raw, **extra)


def letter_probs(logits: dict[str, float]) -> dict[str, float]:
    """Softmax over the option letters only (the rest of the vocabulary does not compete)."""
    top = max(logits.values())
    weights = {k: math.exp(v - top) for k, v in logits.items()}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def predict_set(probs: dict[str, float], threshold: float = RELATIVE_THRESHOLD, item_type: str = INDEFINITE,
                ) -> frozenset[str]:
    """The letters predicted from their probabilities, by the item's type (module docstring).

    Ties go to the earlier letter, so the rule is deterministic.
    """
    ranked = sorted(probs, key=lambda k: (-probs[k], k))
    if item_type == SINGLE:
        return frozenset(ranked[:1])
    best = probs[ranked[0]]
    chosen = {k for k, p in probs.items() if p >= threshold * best}
    if item_type == MULTIPLE:
        chosen |= set(ranked[:2])
    return frozenset(chosen)


class LikelihoodScorer:
    """One forward pass per item; the answer is read from the next-token logits of the option letters."""

    name = "likelihood"

    def __init__(self, backend: Backend, *, threshold: float = RELATIVE_THRESHOLD) -> None:
        if not backend.supports_logits:
            raise InputError("the likelihood scorer needs logits: a GGUF (llama.cpp) or an HF model directory")
        self.backend, self.threshold = backend, threshold

    def score(self, item: McqItem) -> dict:
        probs = letter_probs(self.backend.choice_logits(mcq_messages(item), list(item.options)))
        predicted = predict_set(probs, self.threshold, item.item_type)
        return _mcq_record(item, predicted, probs={k: round(p, 6) for k, p in probs.items()})


class ReciteScorer:
    """Greedy recitation of one article, scored by exact match and character ROUGE-L."""

    name = "recite"

    def __init__(self, backend: Backend, *, think: bool = False, seed: int = 0) -> None:
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
