"""Per-item accounting of a benchmark run: what each item's prompt cost, next to the question's own length.

Every bench prompt shares its system prompt and instruction with the item before it, and the local
engines keep the KV cache between calls, so after the run's first item only the item's own text (and
the few template tokens around it) should be evaluated. These figures show whether that holds: for each
item the rendered prompt's length, how much of it was evaluated or taken from the cache, the question's
length in the model's tokens, the tokens decoded and the time.
"""

from __future__ import annotations

from typing import Any

from ecmiip.bench.data import CaseItem, McqItem, ReciteItem
from ecmiip.chat.backends import Backend


def question_text(item: McqItem | CaseItem | ReciteItem) -> str:
    """The item's own text as its prompt carries it (what no other item shares)."""
    if isinstance(item, McqItem):
        return "\n".join([item.question, *(f"{k}. {v}" for k, v in item.options.items())])
    if isinstance(item, CaseItem):
        return item.facts
    if isinstance(item, ReciteItem):
        return f"《{item.law}》{item.article}"
    raise TypeError(f"not a bench item: {type(item).__name__}")


def question_tokens(backend: Backend, text: str) -> int | None:
    """``text``'s length in the model's tokens, without template, BOS or special-token parsing;
    None for an engine without a tokenizer here (Ollama)."""
    return len(backend.tokenize_text(text)) if backend.supports_tokenizer else None


def item_cost(backend: Backend, item: McqItem | CaseItem | ReciteItem, seconds: float) -> dict:
    """What the scorer's single backend call for ``item`` cost, read from ``backend.last_stats``.

    ``prompt_tokens`` is the whole rendered prompt (None where the engine does not say: Ollama),
    ``evaluated`` what was computed for it and ``cached`` what the KV cache supplied (prompt − evaluated),
    ``question_tokens`` the item's own text (:func:`question_tokens`), ``decode_tokens`` the answer's
    tokens and ``seconds`` the wall time the caller measured. Only ``seconds`` when there are no stats.
    """
    stats = backend.last_stats
    if stats is None:
        return {"seconds": round(seconds, 4)}
    return {
        "prompt_tokens": stats.prompt_total,
        "evaluated": stats.prompt_tokens,
        "cached": stats.cached_tokens,
        "question_tokens": question_tokens(backend, question_text(item)),
        "decode_tokens": stats.decode_tokens,
        "seconds": round(seconds, 4),
    }


def _mean(values: list[Any], digits: int) -> float | None:
    known = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return round(sum(known) / len(known), digits) if known else None


def summarize_cost(records: list[dict]) -> dict | None:
    """Means per item of the ``cost`` of ``records`` (in run order); None when none has a cost.

    The first record computes the shared prefix (system prompt, instruction) the others reuse, so its
    evaluated count is given alone as ``first_evaluated``, and ``evaluated`` and ``cached`` are means over
    the items AFTER the first (None with a single item). ``prompt_tokens``, ``question_tokens``,
    ``decode_tokens`` and ``seconds`` are means over all items. Each mean is over the records that
    know the figure; a figure no record knows (Ollama's prompt length) stays None.
    """
    costs = [r["cost"] for r in records if r.get("cost")]
    if not costs:
        return None
    rest = costs[1:]
    return {
        "items": len(costs),
        "prompt_tokens": _mean([c.get("prompt_tokens") for c in costs], 1),
        "evaluated": _mean([c.get("evaluated") for c in rest], 1),
        "cached": _mean([c.get("cached") for c in rest], 1),
        "question_tokens": _mean([c.get("question_tokens") for c in costs], 1),
        "decode_tokens": _mean([c.get("decode_tokens") for c in costs], 1),
        "seconds": _mean([c.get("seconds") for c in costs], 4),
        "first_evaluated": costs[0].get("evaluated"),
    }
