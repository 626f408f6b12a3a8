"""How bench results are shown: terminal tables that fit 100 columns, report.md's order, the chart.

Results are hand-made dicts in the shape results.json holds; no model is run.
"""

from __future__ import annotations

import io
import math
import re

import pytest
from matplotlib.container import ErrorbarContainer
from rich.cells import cell_len
from rich.console import Console

from ecmiip.bench.report import accuracy_figure, bar_chart, markdown, rich_table, short_labels

SPECS = [
    "/home/lawyer/models/ec-miip-qwen3-4b-sft-final/ec-miip-Q4_K_M.gguf",
    "/home/lawyer/models/ec-miip-qwen3-4b-sft-v2-longer-training-run/ec-miip-Q4_K_M.gguf",
    "/home/lawyer/models/Qwen3-4B-Instruct-2507-base+/home/lawyer/runs/sft-lora-rank16-final/adapter",
]
TASKS = ["mcq-likelihood", "mcq-generation", "case-likelihood", "case-generation", "recite"]
BOX = "│┃─━┌┐└┘├┤┬┴┼┏┓┗┛┡┩╇╈╋┣┫┳┻╭╮╰╯"


def _wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [(centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)]


def _accuracy(task: str, right: dict[str, tuple[int, int]], cost: bool = True) -> dict:
    """A summary with accuracy, interval and count per source, from {source: (correct, n)}."""
    right = right | {"overall": tuple(map(sum, zip(*right.values(), strict=True)))}
    s = {"n": right["overall"][1],
         "accuracy": {src: k / n for src, (k, n) in right.items()},
         "interval": {src: _wilson(k, n) for src, (k, n) in right.items()},
         "count": {src: [k, n] for src, (k, n) in right.items()}}
    if task.startswith("mcq"):
        s |= {"types": {"single": 25, "multiple": 10, "indefinite": 5}, "no_answer": 3,
              "unread": {"several letters for a single-choice item": 2}}
    if task.startswith("case"):
        s |= {"per_class": {"侵权": {"precision": 0.8, "recall": 0.7, "support": 20},
                            "不侵权": {"precision": 0.7, "recall": None, "support": 20}},
              "no_verdict": 3, "predictions": {"侵权": 18, "不侵权": 19, "None": 3}}
    if cost:
        s["cost"] = {"items": s["n"], "prompt_tokens": 412.0, "evaluated": 38.0, "cached": 374.0,
                     "question_tokens": 31.0, "decode_tokens": 12.5, "seconds": 0.84, "first_evaluated": 405}
    return s


def _recite(rouge: float) -> dict:
    return {"n": 40, "exact": 0.1, "exact_interval": [0.04, 0.23], "rouge_l": rouge,
            "rouge_l_interval": [rouge - 0.06, rouge + 0.05]}


def _comparison(task: str, base: str, spec: str, values: tuple[float, float], p: tuple[float, float]) -> dict:
    c = {"baseline": base, "model": spec, "n": 40, "baseline_value": values[0], "value": values[1],
         "difference": values[1] - values[0], "p": p[0], "p_holm": p[1], "significant": p[1] < 0.05,
         "test": "Wilcoxon signed-rank" if task == "recite" else "McNemar exact"}
    return c | ({} if task == "recite" else {"discordant": [1, 3]})


def _results(specs: list[str]) -> dict:
    """Five tasks per model; the third model's mcq-likelihood gain is significant, the rest within noise."""
    models = {}
    for i, spec in enumerate(specs):
        tasks = {}
        for task in TASKS:
            right = {"lexeval": (38 if task == "mcq-likelihood" and i == 2 else 29 + i, 40)}
            if task.startswith("case"):
                right = {"NOM": (14 + i, 20), "HX": (12 + i, 20)}
            summary = _recite(0.41 + 0.01 * i) if task == "recite" else _accuracy(task, right)
            tasks[task] = {"items": [], "summary": summary}
        models[spec] = {"path": spec, "params": 4.02e9, "file_size": 2_500_000_000, "tasks": tasks,
                        "timing": {t: {"items": 40, "seconds": 16.0, "items_per_s": 2.5} for t in TASKS},
                        "speed": {"prompt_tokens_per_s": 812.3, "decode_tokens_per_s": 41.7, "ttft_s": 0.21}}
    comparisons: dict[str, list[dict]] = {}
    for task in TASKS:
        for spec in specs[1:]:
            base_value, value = headline_of(models[specs[0]], task), headline_of(models[spec], task)
            significant = task == "mcq-likelihood" and spec == specs[2]
            p = (0.0005, 0.001) if significant else (0.62, 0.69)
            comparison = _comparison(task, specs[0], spec, (base_value, value), p)
            comparisons.setdefault(task, []).append(comparison)
    return {"format": 1, "settings": {"seed": 0}, "models": models,
            "invalid": {"mcq": ["mine.jsonl:2: not JSON"]}, "comparisons": comparisons}


def headline_of(model: dict, task: str) -> float:
    s = model["tasks"][task]["summary"]
    return s["rouge_l"] if task == "recite" else s["accuracy"]["overall"]


def _old_results() -> dict:
    """A results.json of an earlier version: no intervals, counts, costs or comparisons; no settings."""
    mcq = {"n": 5, "accuracy": {"lexeval": 0.6, "overall": 0.6}}
    recite = {"n": 5, "exact": 0.0, "rouge_l": 0.5}
    return {"models": {
        "/m/a/q.gguf": {"tasks": {"mcq-likelihood": {"items": [], "summary": mcq},
                                  "recite": {"items": [], "summary": recite}}},
        "ollama:ec|miip": {"tasks": {"mcq-likelihood": {"items": [], "summary": {"n": 0}}}},
    }}


def _render(results: dict) -> list[str]:
    console = Console(width=100, file=io.StringIO(), color_system=None)
    console.print(rich_table(results))
    return console.file.getvalue().splitlines()


def _model_column(lines: list[str]) -> str:
    """The first column's text, all rows and tables joined, whitespace and box characters removed."""
    cells = [re.split(r"[│┃]", line)[1] for line in lines if line.startswith(("│", "┃"))]
    return re.sub(rf"[\s{BOX}]", "", "".join(cells))


@pytest.mark.parametrize("count", [1, 3])
def test_terminal_tables_fit_100_columns_and_keep_whole_labels(count):
    lines = _render(_results(SPECS[:count]))
    assert max(cell_len(line) for line in lines) <= 100
    column = _model_column(lines)
    for label in short_labels(SPECS[:count]).values():
        assert label in column and (count == 1 or len(label) > 40)  # wrapped, never cut
    shown = "\n".join(lines)
    assert "72.5%" in shown and "[57.2–83.9] n=40" in shown  # 29/40 with its Wilson interval
    assert "0.410" in shown and "[0.35–0.46] n=40" in shown  # recite: ROUGE-L and its interval
    assert "812 / 41.7 tok/s" in shown
    if count == 3:
        assert "(baseline)" in column
        assert "Δ +2.5 p=0.69" in shown and "Δ +22.5 p=0.001*" in shown  # Holm-adjusted p decides
        assert "Δ +0.020 p=0.69" in shown
    else:
        assert "Δ" not in shown and "baseline" not in shown


def _headings(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("#")]


def _section(report: str, heading: str) -> str:
    """The lines under one heading, up to the next heading."""
    after = report.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#", after, maxsplit=1)[0]


def test_report_sections_come_in_order_with_each_line_under_its_heading():
    results = _results(SPECS)
    report = markdown(results)
    expected = ["# ecmiip bench", "## Comparisons"]
    for spec in SPECS:
        expected += [f"## {spec}", *(f"### {t}" for t in TASKS), "### speed"]
    assert _headings(report) == [*expected, "## Settings", "## Invalid lines"]
    for spec in SPECS:
        model = report.split(f"\n## {spec}\n", 1)[1]
        for task in TASKS:
            assert "2.50 items/s (40 items in 16.0 s)" in _section(model, f"### {task}")
        assert "decode_tokens_per_s: 41.7" in _section(model, "### speed")
        assert "items/s" not in _section(model, "### speed")
    mcq = _section(report.split(f"\n## {SPECS[0]}\n", 1)[1], "### mcq-likelihood")
    assert "- lexeval: 72.5% (29/40 right; 95 % interval 57.2%–83.9%)" in mcq
    assert ("- prompt tokens per item: 412 total, 38 evaluated, 374 from the KV cache; question alone 31 "
            "tokens; the first item evaluated 405 (the shared system prompt and instruction)") in mcq
    assert "- per item: 12.5 decode tokens, 0.84 s (means over 40 items)" in mcq
    assert "- items by exam type: single 25, multiple 10, indefinite 5" in mcq
    assert "- answers giving no letter: 3 (of which several letters for a single-choice item 2)" in mcq
    case = _section(report.split(f"\n## {SPECS[0]}\n", 1)[1], "### case-generation")
    assert "- 不侵权: precision 70.0%, recall - (n = 20)" in case and "- answers with no verdict: 3" in case
    recite = _section(report.split(f"\n## {SPECS[0]}\n", 1)[1], "### recite")
    assert "ROUGE-L 0.410 (95 % interval 0.350–0.460), exact match 10.0% (4.0%–23.0%), n = 40" in recite
    assert "- seed: 0" in _section(report, "## Settings")
    assert "mine.jsonl:2: not JSON" in _section(report, "## Invalid lines")


def test_comparisons_are_told_in_words():
    comparisons = _section(markdown(_results(SPECS)), "## Comparisons")
    lines = comparisons.strip().splitlines()
    assert len(lines) == 2 * len(TASKS)
    noise, real = (next(x for x in lines if x.startswith(f"- `{spec}` vs `{SPECS[0]}` (baseline) on mcq-l"))
                   for spec in SPECS[1:])
    assert "+2.5 points (30/40 vs 29/40 right, 40 paired items, 4 discordant" in noise
    assert "McNemar exact p = 0.62, Holm-adjusted over the 2 comparisons on this task p = 0.69" in noise
    assert noise.endswith("— within noise: this many items cannot tell the two apart.")
    assert "+22.5 points (38/40 vs 29/40 right" in real and "p < 0.001" in real
    assert real.endswith("— a real difference at the 5 % level (p < 0.05).")
    recite = next(line for line in lines if " on recite: " in line)
    assert "ROUGE-L +0.010 (0.420 vs 0.410, 40 paired items), Wilcoxon signed-rank p = 0.62" in recite
    single = _section(markdown(_results(SPECS[:1])), "## Comparisons")
    assert "no comparison is made with one model" in single


@pytest.mark.parametrize("results", [_results(SPECS), _results(SPECS[:1]), _old_results()],
                         ids=["three", "one", "old"])
def test_markdown_table_rows_keep_their_columns(results):
    rows = [line for line in markdown(results).splitlines() if line.startswith("|")]
    header, rule, *body = rows
    assert len(body) == len(results["models"])
    assert all(row.count("|") == header.count("|") == rule.count("|") for row in body)
    for spec, row in zip(results["models"], body, strict=True):
        assert row.startswith(f"| {spec.replace('|', '&#124;')}")
    if len(results["models"]) == 3:
        assert "| 72.5% [57.2–83.9] n=40 |" in body[0] and " (baseline) |" in body[0]
        assert "| 70.0% [54.6–81.9] n=40<br>Δ +5.0 p=0.69 |" in body[1]  # case-generation


def test_accuracy_figure_has_title_n_error_bars_and_differences():
    import matplotlib.pyplot as plt

    fig = accuracy_figure(_results(SPECS))
    try:
        ax = fig.axes[0]
        assert "95 % intervals" in ax.get_title()
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert "mcq-likelihood\n(accuracy, n=40)" in ticks and "recite\n(ROUGE-L, n=40)" in ticks
        bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == len(SPECS)
        texts = [t.get_text() for t in ax.texts]
        assert "0.95\nΔ +22.5\np=0.001*" in texts and "0.72" in texts
        legend = [t.get_text() for t in fig.legends[0].get_texts()]
        assert legend[0].endswith("(baseline)")
    finally:
        plt.close(fig)


def test_old_results_render_everywhere(tmp_path):
    import matplotlib.pyplot as plt

    results = _old_results()
    lines = _render(results)
    assert max(cell_len(line) for line in lines) <= 100
    assert "60.0%" in "\n".join(lines) and "n=5" in "\n".join(lines)
    report = markdown(results)
    assert "| 60.0% n=5 | 0.500 n=5 | - |" in report and "- lexeval: 60.0%\n" in report
    assert "None in these results" in _section(report, "## Comparisons")
    assert "## Settings" in report and "- no items scored" in report
    fig = accuracy_figure(results)
    try:
        assert not any(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers)
        assert "intervals" not in fig.axes[0].get_title()
    finally:
        plt.close(fig)
    bar_chart(results, tmp_path / "accuracy.png")
    assert (tmp_path / "accuracy.png").read_bytes().startswith(b"\x89PNG")
