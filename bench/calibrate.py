"""A data-chosen multi-answer threshold for the likelihood scorer, measured honestly.

The fixed rule (every letter with p ≥ 0.5 × the top one's) needs no data. A threshold chosen on the
scored items themselves would report the accuracy it was fitted to, so the calibrated figure is a
k-fold cross-validated one: each fold's threshold is chosen on the other folds, then scored on the
fold. The threshold reported is the one chosen on all items (the one to pass as ``--threshold`` on
the next run of a similar data set). Single-choice items take the top letter whatever the threshold,
so only multiple and indefinite items are calibrated on.
"""

from __future__ import annotations

from ecmiip.bench.data import INDEFINITE, SINGLE
from ecmiip.bench.scorers import predict_set

CANDIDATES = tuple(round(0.05 * i, 2) for i in range(1, 21))  # 0.05 … 1.0 (1.0: the top letter only)


def _hits(records: list[dict], threshold: float) -> int:
    return sum(predict_set(r["probs"], threshold, r.get("type", INDEFINITE)) == frozenset(r["answer"])
               for r in records)


def best_threshold(records: list[dict]) -> float:
    """The candidate with the most exact-set hits; ties go to the one nearest the fixed 0.5 rule."""
    return max(CANDIDATES, key=lambda t: (_hits(records, t), -abs(t - 0.5)))


def calibrate(records: list[dict], folds: int = 5) -> dict | None:
    """{threshold, accuracy_cv, folds, items} from records carrying ``probs`` and ``answer`` (multiple and
    indefinite items only); None if too few."""
    records = [r for r in records if r.get("probs") and r.get("type", INDEFINITE) != SINGLE]
    if len(records) < 2 * folds:
        return None
    hits = 0
    for k in range(folds):
        held = records[k::folds]
        rest = [r for i, r in enumerate(records) if i % folds != k]
        hits += _hits(held, best_threshold(rest))
    return {"threshold": best_threshold(records), "accuracy_cv": hits / len(records), "folds": folds,
            "items": len(records)}
