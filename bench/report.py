"""What a run shows: per-task summaries, the models × tasks table, ``report.md`` and the bar chart.

The headline figure of a task is its accuracy (``mcq-*``: exact-set accuracy over all items) or, for
``recite``, the mean character ROUGE-L; the chart plots these per model, all on a 0–1 scale.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ecmiip.bench.calibrate import calibrate
from ecmiip.bench.case import summarize_case
from ecmiip.bench.scoring import accuracy_by_source
from ecmiip.core.outputs import atomic_path


def summarize(task: str, records: list[dict]) -> dict:
    """Summary of one task's records (what the table, report and chart show)."""
    if not records:
        return {"n": 0}
    if task == "recite":
        return {
            "n": len(records),
            "exact": sum(r["exact"] for r in records) / len(records),
            "rouge_l": sum(r["rouge_l"] for r in records) / len(records),
        }
    if task.startswith("case"):
        return summarize_case(records)
    summary = {"n": len(records), "accuracy": accuracy_by_source(records)}
    calibrated = calibrate(records) if task == "mcq-likelihood" else None
    return summary | ({"calibrated": calibrated} if calibrated else {})


def headline(task: str, summary: dict) -> float | None:
    if not summary.get("n"):
        return None
    return summary["rouge_l"] if task == "recite" else summary["accuracy"]["overall"]


def _tasks(results: dict) -> list[str]:
    return sorted({t for m in results["models"].values() for t in m.get("tasks", {})})


def _cell(task: str, summary: dict) -> str:
    value = headline(task, summary)
    if value is None:
        return "-"
    return f"{value:.1%} (n={summary['n']})" if task != "recite" else f"{value:.3f} (n={summary['n']})"


def _size(n: int | None) -> str:
    return "-" if not n else f"{n / 2**20:.1f} MiB"


def _speed(speed: dict | None) -> str:
    if not speed:
        return "-"
    ttft = "-" if speed.get("ttft_s") is None else f"{speed['ttft_s']:.2f} s"
    return f"{speed['prompt_tokens_per_s'] or 0:.0f} / {speed['decode_tokens_per_s'] or 0:.1f} tok/s, TTFT {ttft}"


def short_labels(specs: list[str]) -> dict[str, str]:
    """The shortest path tails that tell the models apart (``base+adapter`` for a pair), for narrow terminals."""

    def tail(spec: str, depth: int) -> str:
        if spec.startswith("ollama:"):
            return spec
        parts = spec.split("+") if "+" in spec and not Path(spec).exists() else [spec]
        return "+".join("/".join(Path(part).parts[-depth:]) for part in parts)

    for depth in range(1, 8):
        labels = {spec: tail(spec, depth) for spec in specs}
        if len(set(labels.values())) == len(labels):
            return labels
    return {spec: spec for spec in specs}


def rich_table(results: dict) -> Table:
    """Models × tasks, like the paper's Table 3, plus parameters, file size and speed (report.md: full paths)."""
    tasks = _tasks(results)
    labels = short_labels(list(results["models"]))
    table = Table(title="ecmiip bench")
    for col in ["model", "params", "file", *tasks, "speed (prompt / decode)"]:
        table.add_column(col)
    for spec, m in results["models"].items():
        params = f"{m['params'] / 1e6:.1f} M" if m.get("params") else "-"
        cells = [_cell(t, m.get("tasks", {}).get(t, {}).get("summary", {})) for t in tasks]
        table.add_row(labels[spec], params, _size(m.get("file_size")), *cells, _speed(m.get("speed")))
    return table


def markdown(results: dict) -> str:
    """``report.md``: the table, accuracy per source, speed figures, settings and invalid lines."""
    tasks = _tasks(results)
    lines = ["# ecmiip bench", "", "| model | params | file | " + " | ".join(tasks) + " | speed |"]
    lines.append("|" + "---|" * (len(tasks) + 4))
    for spec, m in results["models"].items():
        cells = [_cell(t, m.get("tasks", {}).get(t, {}).get("summary", {})) for t in tasks]
        params = f"{m['params'] / 1e6:.1f} M" if m.get("params") else "-"
        lines.append(f"| {spec} | {params} | {_size(m.get('file_size'))} | " + " | ".join(cells)
                     + f" | {_speed(m.get('speed'))} |")
    lines += ["", "mcq: exact-set accuracy; case: accuracy of 侵权 / 不侵权 (NOM ordinary, HX confusable cases); "
              "recite: mean character ROUGE-L (exact match below).", ""]
    for task, stale in results.get("superseded_items", {}).items():
        if stale:
            lines += [f"Note: {len(stale)} {task} items rely on texts no longer in force "
                      f"({', '.join(sorted(stale)[:10])}{' …' if len(stale) > 10 else ''}); their gold answers follow "
                      "the older text.", ""]
    for spec, m in results["models"].items():
        for task, entry in m.get("tasks", {}).items():
            s = entry["summary"]
            lines.append(f"## {spec} — {task}")
            lines.append("")
            if task == "recite" and s.get("n"):
                lines.append(f"- exact match {s['exact']:.1%}, ROUGE-L {s['rouge_l']:.3f}, n = {s['n']}")
            for source, acc in s.get("accuracy", {}).items():
                lines.append(f"- {source}: {acc:.1%}")
            lines += _case_lines(s) if task.startswith("case") and s.get("n") else []
            if s.get("calibrated"):
                c = s["calibrated"]
                lines.append(f"- calibrated threshold {c['threshold']:g}: {c['accuracy_cv']:.1%} "
                             f"({c['folds']}-fold cross-validated; the table uses the fixed rule)")
            lines.append("")
        for task, t in m.get("timing", {}).items():
            lines.append(f"- {spec} {task}: {t['items_per_s']:.2f} items/s ({t['items']} items in {t['seconds']:.1f} s)")
        if m.get("timing"):
            lines.append("")
        if m.get("speed"):
            lines += [f"## {spec} — speed", ""] + [f"- {k}: {v}" for k, v in m["speed"].items()] + [""]
    lines += ["## Settings", ""] + [f"- {k}: {v}" for k, v in sorted(results["settings"].items())] + [""]
    invalid = [line for bad in results.get("invalid", {}).values() for line in bad]
    lines += ["## Invalid lines", ""] + ([f"- {b}" for b in invalid] or ["none"]) + [""]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _case_lines(s: dict) -> list[str]:
    lines = [f"- {v}: precision {_pct(c['precision'])}, recall {_pct(c['recall'])} (n = {c['support']})"
             for v, c in s["per_class"].items()]
    lines.append(f"- answers with no verdict: {s['no_verdict']}")
    if "articles" in s:
        a = s["articles"]
        lines.append(f"- articles relied on: precision {_pct(a['precision'])}, recall {_pct(a['recall'])} "
                     f"({a['items']} items with articles)")
    return lines


def bar_chart(results: dict, path: Path) -> None:
    """PNG of the headline figure per task, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = _tasks(results)
    models = list(results["models"])
    short = short_labels(models)
    labels = [short[spec] for spec in models]
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(tasks) * max(1, len(models))), 3.5))
    width = 0.8 / max(1, len(models))
    for i, spec in enumerate(models):
        entries = results["models"][spec].get("tasks", {})
        values = [headline(t, entries.get(t, {}).get("summary", {})) or 0.0 for t in tasks]
        bars = ax.bar([x + i * width for x in range(len(tasks))], values, width, label=labels[i])
        ax.bar_label(bars, fmt="%.2f", fontsize="small")
    ax.set_xticks([x + width * (len(models) - 1) / 2 for x in range(len(tasks))])
    ax.set_xticklabels([f"{t}\n(ROUGE-L)" if t == "recite" else f"{t}\n(accuracy)" for t in tasks])
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:  # an interrupted write leaves no half-drawn accuracy.png
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
