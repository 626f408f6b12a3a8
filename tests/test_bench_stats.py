"""Intervals and paired tests, checked against values computed by hand from their formulas."""

from __future__ import annotations

import math

import pytest

from ecmiip.bench.stats import (
    accuracy_summary,
    comparisons,
    holm,
    mcnemar,
    mean_interval,
    signed_rank,
    wilson,
)

Z = 1.959963984540054  # the normal quantile of 0.975


def _wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(30, 40), (1, 40), (0, 10), (10, 10), (22, 40), (345, 400)])
def test_wilson_interval_is_the_score_interval(k, n):
    assert wilson(k, n) == pytest.approx(_wilson_by_hand(k, n), abs=1e-9)


def test_wilson_known_values():
    # 30 of 40: p = 0.75, centre 0.72809, half-width 0.13004
    low, high = wilson(30, 40)
    assert (round(low, 4), round(high, 4)) == (0.5981, 0.8581)
    assert wilson(0, 10)[0] == 0.0 and round(wilson(0, 10)[1], 4) == 0.2775


def test_mcnemar_exact_is_the_binomial_of_the_discordant_pairs():
    # baseline right only on 2 items, the model right only on 7: p = 2·P(X ≤ 2 | 9, ½) = 2·46/512
    baseline = [True] * 2 + [False] * 7 + [True] * 20 + [False] * 11
    model = [False] * 2 + [True] * 7 + [True] * 20 + [False] * 11
    discordant, p = mcnemar(baseline, model)
    assert discordant == [2, 7]
    assert p == pytest.approx(92 / 512)
    assert mcnemar([True, False], [True, False]) == ([0, 0], 1.0)
    assert mcnemar([True] * 6, [False] * 6)[1] == pytest.approx(2 / 64)  # 6 of 6 one way: 2·(½)⁶


def test_signed_rank_and_holm_by_hand():
    # five positive differences of distinct size: exact two-sided p = 2 / 2⁵
    assert signed_rank([0.1] * 5, [0.2, 0.3, 0.4, 0.5, 0.6]) == pytest.approx(2 / 32)
    assert signed_rank([0.5, 0.5], [0.5, 0.5]) == 1.0
    # sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → monotone: 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [0.2, 0.4, 0.9, 0.1, 0.5, 0.7, 0.3, 0.8]
    low, high = mean_interval(values)
    assert low < sum(values) / len(values) < high
    assert mean_interval(values) == (low, high)
    assert mean_interval([0.4] * 6) == (pytest.approx(0.4), pytest.approx(0.4))


def test_accuracy_summary_per_source():
    records = [{"correct": c, "source": s} for c, s in [(True, "a"), (False, "a"), (True, "b"), (True, "b")]]
    s = accuracy_summary(records)
    assert s["accuracy"] == {"a": 0.5, "b": 1.0, "overall": 0.75}
    assert s["count"] == {"a": [1, 2], "b": [2, 2], "overall": [3, 4]}
    assert s["interval"]["overall"] == pytest.approx(_wilson_by_hand(3, 4), abs=1e-6)


def _model(right: list[bool], rouge: list[float] | None = None) -> dict:
    tasks = {"mcq-likelihood": {"items": [{"id": f"q{i}", "correct": c} for i, c in enumerate(right)]}}
    if rouge is not None:
        tasks["recite"] = {"items": [{"id": f"r{i}", "rouge_l": v} for i, v in enumerate(rouge)]}
    return {"tasks": tasks}


def test_every_model_is_compared_with_the_first_on_shared_items():
    base = [True] * 20 + [False] * 20
    better = [True] * 20 + [True] * 12 + [False] * 8  # 12 more right, none lost
    same = [False] * 2 + [True] * 18 + [True] * 2 + [False] * 18  # 2 lost, 2 gained
    results = {"models": {
        "base": _model(base, [0.1, 0.2, 0.3, 0.4, 0.5]),
        "better": _model(better, [0.2, 0.4, 0.6, 0.8, 1.0]),
        "same": _model(same + [True]),  # one extra item the baseline never answered: left out
    }}
    out = comparisons(results)
    rows = {r["model"]: r for r in out["mcq-likelihood"]}
    assert rows["better"]["n"] == 40 and rows["better"]["difference"] == pytest.approx(0.3)
    assert rows["better"]["discordant"] == [0, 12]
    assert rows["better"]["p"] == pytest.approx(2 * 0.5 ** 12)
    assert rows["same"]["n"] == 40 and rows["same"]["discordant"] == [2, 2] and rows["same"]["p"] == 1.0
    # Holm over the two comparisons of the task
    assert rows["better"]["p_holm"] == pytest.approx(2 * 2 * 0.5 ** 12)
    assert rows["better"]["significant"] and not rows["same"]["significant"]
    recite = out["recite"]
    assert len(recite) == 1 and recite[0]["test"] == "Wilcoxon signed-rank"
    assert recite[0]["p"] == pytest.approx(2 / 32) and recite[0]["p_holm"] is None
    assert recite[0]["difference"] == pytest.approx(0.3)
    assert comparisons({"models": {"alone": _model(base)}}) == {}


def test_a_reloaded_results_file_keeps_the_baseline_first(tmp_path):
    from ecmiip.bench.results import load_results, save_results

    results = {"format": 1, "settings": {"models": ["z/base.gguf", "a/tuned.gguf"]}, "invalid": {},
               "models": {"z/base.gguf": _model([True, False]), "a/tuned.gguf": _model([True, True])}}
    save_results(tmp_path / "results.json", results)  # written with sorted keys: a/ before z/
    loaded = load_results(tmp_path / "results.json")
    assert list(loaded["models"]) == ["z/base.gguf", "a/tuned.gguf"]
    assert comparisons(loaded)["mcq-likelihood"][0]["baseline"] == "z/base.gguf"
