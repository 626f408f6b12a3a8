"""How sure a bench figure is: intervals on every score and paired tests between models.

An accuracy on 40 items is one draw: its Wilson 95 % interval says how far the true rate may lie
(Wilson rather than the normal approximation, which breaks down near 0 and 1 and on small sets). Two
models scored on the *same* items are compared item by item, not by their totals: McNemar's exact
test looks only at the items one model got right and the other wrong (a binomial test of those
discordant pairs at ½). Recitation is scored per item by ROUGE-L, not right/wrong: a percentile
bootstrap interval of the mean (seeded, so a rerun prints the same figures) and the Wilcoxon
signed-rank test for the paired difference. With several models, each is compared with the first
``--model`` (the baseline) and the p-values of one task are adjusted by Holm's method.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.stats import binomtest, wilcoxon

CONFIDENCE = 0.95
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 2000


def wilson(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of ``correct`` out of ``n``."""
    if n == 0:
        return (0.0, 1.0)
    ci = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def accuracy_summary(records: Iterable[dict]) -> dict:
    """``accuracy``, Wilson ``interval`` and ``count`` [right, n] per ``source`` and ``overall``."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        hits[r.get("source") or "-"].append(bool(r["correct"]))
        hits["overall"].append(bool(r["correct"]))
    keys = sorted(hits)
    return {
        "accuracy": {k: sum(hits[k]) / len(hits[k]) for k in keys},
        "interval": {k: [round(x, 6) for x in wilson(sum(hits[k]), len(hits[k]))] for k in keys},
        "count": {k: [sum(hits[k]), len(hits[k])] for k in keys},
    }


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (``BOOTSTRAP_RESAMPLES`` resamples, seeded)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return (0.0, 1.0)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(BOOTSTRAP_RESAMPLES, len(x)))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(low), float(high))


def mcnemar(baseline: Sequence[bool], model: Sequence[bool]) -> tuple[list[int], float]:
    """([items only the baseline got right, items only the model got right], exact two-sided p)."""
    only_baseline = sum(a and not b for a, b in zip(baseline, model, strict=True))
    only_model = sum(b and not a for a, b in zip(baseline, model, strict=True))
    discordant = only_baseline + only_model
    p = 1.0 if discordant == 0 else float(binomtest(only_model, discordant, 0.5).pvalue)
    return [only_baseline, only_model], p


def signed_rank(baseline: Sequence[float], model: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p of the paired differences (1.0 when they are all zero)."""
    diffs = [b - a for a, b in zip(baseline, model, strict=True)]
    if not any(diffs):
        return 1.0
    return float(wilcoxon(diffs).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the family's chance of any false "difference" stays ≤ α."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _values(task: str, records: list[dict]) -> dict[str, float]:
    key = "rouge_l" if task == "recite" else "correct"
    return {r["id"]: float(r[key]) for r in records if key in r}


def compare(task: str, baseline: list[dict], model: list[dict]) -> dict | None:
    """The paired comparison of two models' records of one task (None when they share no item)."""
    a, b = _values(task, baseline), _values(task, model)
    ids = [i for i in a if i in b]
    if not ids:
        return None
    xa, xb = [a[i] for i in ids], [b[i] for i in ids]
    out = {"n": len(ids), "baseline_value": sum(xa) / len(ids), "value": sum(xb) / len(ids)}
    out["difference"] = out["value"] - out["baseline_value"]
    if task == "recite":
        out |= {"test": "Wilcoxon signed-rank", "p": signed_rank(xa, xb)}
    else:
        discordant, p = mcnemar([x > 0 for x in xa], [x > 0 for x in xb])
        out |= {"test": "McNemar exact", "discordant": discordant, "p": p}
    return out


def comparisons(results: dict) -> dict[str, list[dict]]:
    """Every model against the first one, task by task, on the items both answered (module docstring)."""
    specs = list(results["models"])
    out: dict[str, list[dict]] = {}
    if len(specs) < 2:
        return out
    base = specs[0]
    tasks = sorted({t for m in results["models"].values() for t in m.get("tasks", {})})
    for task in tasks:
        base_records = results["models"][base].get("tasks", {}).get(task, {}).get("items", [])
        rows = []
        for spec in specs[1:]:
            row = compare(task, base_records, results["models"][spec].get("tasks", {}).get(task, {}).get("items", []))
            if row:
                rows.append({"baseline": base, "model": spec, **row})
        adjusted = holm([r["p"] for r in rows]) if len(rows) > 1 else [None] * len(rows)
        for row, p_holm in zip(rows, adjusted, strict=True):
            row["p_holm"] = p_holm
            row["significant"] = (p_holm if p_holm is not None else row["p"]) < ALPHA
            for key in ("baseline_value", "value", "difference"):
                row[key] = round(row[key], 6)
        if rows:
            out[task] = rows
    return out
