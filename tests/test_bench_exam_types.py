"""Exams scored the way they are set: 单选 takes one letter, 多选 and 不定项 the threshold rule.

A stub with known letter probabilities gives the exact expected accuracy; the real test models give
one letter on every single-choice item.
"""

from __future__ import annotations

import json
import math

import pytest

from ecmiip.bench import data as bench_data
from ecmiip.bench.data import INDEFINITE, MULTIPLE, SINGLE, McqItem
from ecmiip.bench.report import summarize
from ecmiip.bench.scorers import LikelihoodScorer, predict_set
from ecmiip.cli import main

OPTIONS = {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}
# (type, gold, probabilities of A-D, right under the type's rule?)
KNOWN = [
    (SINGLE, "A", (0.50, 0.30, 0.10, 0.10), True),   # the old rule said A and B (0.30 ≥ 0.5 × 0.50)
    (SINGLE, "B", (0.40, 0.35, 0.15, 0.10), False),
    (SINGLE, "C", (0.30, 0.30, 0.35, 0.05), True),   # the old rule: A, B and C
    (SINGLE, "D", (0.25, 0.25, 0.25, 0.25), False),  # a tie goes to the earlier letter: A
    (MULTIPLE, "AB", (0.45, 0.40, 0.10, 0.05), True),
    (MULTIPLE, "ABC", (0.40, 0.30, 0.25, 0.05), True),
    (MULTIPLE, "BD", (0.10, 0.70, 0.10, 0.10), False),  # B alone passes 0.5 ×; two at least: B and A
    (MULTIPLE, "CD", (0.03, 0.02, 0.60, 0.35), True),
    (INDEFINITE, "A", (0.80, 0.10, 0.05, 0.05), True),
    (INDEFINITE, "AD", (0.45, 0.10, 0.05, 0.40), True),
    (INDEFINITE, "B", (0.30, 0.50, 0.10, 0.10), False),  # A passes 0.5 × 0.50
]


class KnownProbabilities:
    """A model whose next-token letter probabilities are given per question."""

    supports_logits = True

    def __init__(self, table: dict[str, tuple[float, ...]]) -> None:
        self.table = table

    def choice_logits(self, messages, choices):
        user = messages[-1]["content"]
        (probs,) = [p for q, p in self.table.items() if f"\n\n{q}\n" in user]
        return {c: math.log(p) for c, p in zip(choices, probs, strict=True)}


def _known_items() -> list[McqItem]:
    return [McqItem(f"q{i}", f"第{i}题", dict(OPTIONS), frozenset(gold), kind, kind)
            for i, (kind, gold, _, _) in enumerate(KNOWN)]


def test_stub_with_known_probabilities_gives_the_exact_accuracy():
    items = _known_items()
    backend = KnownProbabilities({it.question: probs for it, (_, _, probs, _) in zip(items, KNOWN, strict=True)})
    records = [LikelihoodScorer(backend).score(it) for it in items]
    assert [r["correct"] for r in records] == [right for *_, right in KNOWN]
    assert all(len(r["prediction"]) == 1 for r in records if r["type"] == SINGLE)
    s = summarize("mcq-likelihood", records)
    assert s["accuracy"] == {SINGLE: 2 / 4, MULTIPLE: 3 / 4, INDEFINITE: 2 / 3, "overall": 7 / 11}
    assert s["types"] == {INDEFINITE: 3, MULTIPLE: 4, SINGLE: 4}


def test_the_threshold_never_touches_single_choice():
    probs = {"A": 0.34, "B": 0.33, "C": 0.33}
    for threshold in (0.05, 0.5, 1.0):
        assert predict_set(probs, threshold, SINGLE) == {"A"}
    assert predict_set(probs, 0.5, INDEFINITE) == {"A", "B", "C"}
    assert predict_set({"A": 0.9, "B": 0.05, "C": 0.05}, 0.5, MULTIPLE) == {"A", "B"}


def test_type_comes_from_the_line_or_from_type_option(tmp_path):
    base = {"question": "Q", "options": {"A": "x", "B": "y", "C": "z"}}
    lines = [
        {**base, "answer_letters": ["A"], "type": "单选"},
        {**base, "answer_letters": ["A", "C"], "type": "多项选择题"},
        {**base, "answer_letters": ["B"], "type": "不定项"},
        {**base, "answer_letters": ["B"], "multi": False},
        {**base, "answer_letters": ["B", "C"], "multi": True},
        {**base, "answer_letters": ["C"]},  # no type: invalid without --type
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    loaded = bench_data.load(path, "mcq")
    assert [it.item_type for it in loaded.items] == [SINGLE, MULTIPLE, INDEFINITE, SINGLE, INDEFINITE]
    assert loaded.invalid == [f"{path}:6: no 'type': say single, multiple or indefinite as the exam states it, "
                              "or pass --type for the whole file"]
    with_default = bench_data.load(path, "mcq", SINGLE)
    assert [it.item_type for it in with_default.items][-1] == SINGLE and not with_default.invalid


def _single_choice_fixture(path, n: int = 20) -> None:
    """Shipped LexEval items with one right option, written as a single-choice exam (a test fixture:
    the type is set here, not read off the answer by the product)."""
    rows = [json.loads(line) for line in bench_data.DEFAULT_DATA["mcq"].read_text(encoding="utf-8").splitlines()]
    rows = [{**r, "type": "single"} for r in rows if len(r["answer_letters"]) == 1][:n]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("scorers", ["likelihood,generation"])
def test_real_models_answer_single_choice_with_one_letter(tiny_qwen3_gguf, smollm2_gguf, tmp_path, scorers):
    data = tmp_path / "single.jsonl"
    _single_choice_fixture(data)
    out = tmp_path / "out"
    argv = ["bench", "--model", str(tiny_qwen3_gguf), "--model", str(smollm2_gguf), "--task", "mcq",
            "--scorer", scorers, "--data", str(data), "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for spec in (str(tiny_qwen3_gguf), str(smollm2_gguf)):
        likelihood = results["models"][spec]["tasks"]["mcq-likelihood"]["items"]
        assert len(likelihood) == 20 and all(len(r["prediction"]) == 1 for r in likelihood)
        generation = results["models"][spec]["tasks"]["mcq-generation"]["items"]
        assert all(len(r["prediction"]) <= 1 for r in generation)
        summary = results["models"][spec]["tasks"]["mcq-likelihood"]["summary"]
        assert summary["types"] == {SINGLE: 20} and "calibrated" not in summary
        low, high = summary["interval"]["overall"]
        assert low <= summary["accuracy"]["overall"] <= high
    # two models on the same items: the second is compared with the first, item by item
    (row,) = results["comparisons"]["mcq-likelihood"]
    assert row["baseline"] == str(tiny_qwen3_gguf) and row["model"] == str(smollm2_gguf) and row["n"] == 20
    assert sum(row["discordant"]) <= 20 and 0 < row["p"] <= 1
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Comparisons" in report and "McNemar exact" in report
