"""What a run shows: per-task summaries, the models × tasks tables, ``report.md`` and the bar chart.

The headline figure of a task is its accuracy (``mcq-*``: exact-set accuracy over all items; ``case-*``:
侵权 / 不侵权) or, for ``recite``, the mean character ROUGE-L, all on a 0–1 scale. Each is shown with its
95 % interval and n, and every model after the first with its paired difference from that first model
(the baseline) and the test's p (``results["comparisons"]``), so that a gap within noise reads as one.
Results written before intervals, costs and comparisons existed still render, with "-" or nothing there.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ecmiip.bench.accounting import summarize_cost
from ecmiip.bench.calibrate import calibrate
from ecmiip.bench.case import summarize_case
from ecmiip.bench.stats import accuracy_summary, mean_interval, wilson
from ecmiip.core.outputs import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Task columns per terminal table: a model column and three cells of "[59.8–85.8] n=40" fit 100 columns.
MAX_TASK_COLUMNS = 3
FIGURES_NOTE = (
    "mcq: exact-set accuracy; case: accuracy of 侵权 / 不侵权 (NOM ordinary, HX confusable cases); "
    "recite: mean character ROUGE-L (exact match below). In brackets the 95 % interval (Wilson for accuracy, "
    "in percent; bootstrap for ROUGE-L); n: the items scored."
)
DELTA_NOTE = (
    "Δ: the model's figure minus the baseline's (the first model) on the items both answered, in points "
    "(recite: ROUGE-L); p: McNemar exact test (recite: Wilcoxon signed-rank), Holm-adjusted where a task has "
    "several comparisons; * marks p < 0.05."
)


def summarize(task: str, records: list[dict]) -> dict:
    """Summary of one task's records (what the table, report and chart show)."""
    if not records:
        return {"n": 0}
    cost = summarize_cost(records)
    extra = {"cost": cost} if cost else {}
    if task == "recite":
        exact = sum(r["exact"] for r in records)
        return {
            "n": len(records),
            "exact": exact / len(records),
            "exact_interval": [round(x, 6) for x in wilson(exact, len(records))],
            "rouge_l": sum(r["rouge_l"] for r in records) / len(records),
            "rouge_l_interval": [round(x, 6) for x in mean_interval([r["rouge_l"] for r in records])],
        } | extra
    if task.startswith("case"):
        return summarize_case(records) | extra
    summary = {"n": len(records), **accuracy_summary(records)}
    summary["types"] = dict(sorted(Counter(r.get("type", "indefinite") for r in records).items()))
    summary["no_answer"] = sum(not r["prediction"] for r in records)
    unread = Counter(r["unread"] for r in records if r.get("unread"))
    if unread:
        summary["unread"] = dict(sorted(unread.items()))
    calibrated = calibrate(records) if task == "mcq-likelihood" else None
    return summary | ({"calibrated": calibrated} if calibrated else {}) | extra


def headline(task: str, summary: dict) -> float | None:
    if not summary.get("n"):
        return None
    return summary["rouge_l"] if task == "recite" else summary["accuracy"]["overall"]


def _tasks(results: dict) -> list[str]:
    return sorted({t for m in results["models"].values() for t in m.get("tasks", {})})


def _summary(model: dict, task: str) -> dict:
    return model.get("tasks", {}).get(task, {}).get("summary") or {}


def _baseline(results: dict) -> str | None:
    """The model the others are compared with (the first --model), when comparisons were made."""
    return next((c["baseline"] for cs in results.get("comparisons", {}).values() for c in cs), None)


def _comparison(results: dict, task: str, spec: str) -> dict | None:
    return next((c for c in results.get("comparisons", {}).get(task, []) if c.get("model") == spec), None)


def _interval(task: str, summary: dict) -> list[float] | None:
    return summary.get("rouge_l_interval") if task == "recite" else summary.get("interval", {}).get("overall")


def _value(task: str, x: float) -> str:
    return f"{x:.3f}" if task == "recite" else f"{x:.1%}"


def _span(task: str, interval: list[float]) -> str:
    lo, hi = interval
    return f"[{lo:.2f}–{hi:.2f}]" if task == "recite" else f"[{lo * 100:.1f}–{hi * 100:.1f}]"


def _p(p: float, sep: str = "") -> str:
    """``p=0.62``, ``p=0.012`` or ``p<0.001`` (``sep=" "``: ``p = 0.62``)."""
    if p < 0.001:
        return f"p{sep}<{sep}0.001"
    return f"p{sep}={sep}{p:.3f}" if p < 0.1 else f"p{sep}={sep}{p:.2f}"


def _decisive_p(c: dict) -> float:
    return c["p_holm"] if c.get("p_holm") is not None else c["p"]


def _delta(task: str, c: dict) -> str:
    diff = f"{c['difference']:+.3f}" if task == "recite" else f"{c['difference'] * 100:+.1f}"
    return f"Δ {diff} {_p(_decisive_p(c))}{'*' if c.get('significant') else ''}"


def _cell_lines(results: dict, task: str, spec: str) -> list[str]:
    """Headline, interval and n, and (other than the baseline) Δ and p: the lines of one table cell."""
    summary = _summary(results["models"][spec], task)
    value = headline(task, summary)
    if value is None:
        return ["-"]
    interval = _interval(task, summary)
    n = f"n={summary['n']}"
    lines = [_value(task, value), f"{_span(task, interval)} {n}" if interval else n]
    c = _comparison(results, task, spec)
    return lines + ([_delta(task, c)] if c else [])


def _params(model: dict) -> str:
    return f"{model['params'] / 1e6:.1f} M" if model.get("params") else "-"


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


def _task_groups(tasks: list[str]) -> list[list[str]]:
    """Tasks in tables of at most MAX_TASK_COLUMNS; a family (mcq, case, …) is split only when wider alone."""
    families: dict[str, list[str]] = {}
    for task in tasks:
        families.setdefault(task.split("-")[0], []).append(task)
    groups: list[list[str]] = []
    for members in families.values():
        for i in range(0, len(members), MAX_TASK_COLUMNS):
            chunk = members[i:i + MAX_TASK_COLUMNS]
            if groups and len(groups[-1]) + len(chunk) <= MAX_TASK_COLUMNS:
                groups[-1] += chunk
            else:
                groups.append(chunk)
    return groups


def _table(title: str | None, columns: list[str]) -> Table:
    table = Table(title=title, show_lines=True)
    for column in columns:
        table.add_column(column, overflow="fold")  # long paths wrap, never cut
    return table


def rich_table(results: dict) -> Group:
    """Models × tasks like the paper's Table 3, split into tables that fit 100 columns, then parameters,
    file size and speed; labels are the short path tails (report.md: full paths)."""
    specs = list(results["models"])
    labels = short_labels(specs)
    baseline = _baseline(results)
    tables = []
    for group in _task_groups(_tasks(results)):
        table = _table(None if tables else "ecmiip bench", ["model", *group])
        for spec in specs:
            label = labels[spec] + ("\n(baseline)" if spec == baseline else "")
            table.add_row(Text(label), *(Text("\n".join(_cell_lines(results, t, spec))) for t in group))
        tables.append(table)
    notes = [FIGURES_NOTE.split(". ", 1)[1]] if tables and _has_intervals(results) else []
    notes += [DELTA_NOTE] if baseline else []
    sizes = _table("size and speed" if tables else "ecmiip bench", ["model", "params", "file", "speed"])
    for spec, m in results["models"].items():
        speed = _speed(m.get("speed")).replace(", ", "\n")
        sizes.add_row(Text(labels[spec]), _params(m), _size(m.get("file_size")), Text(speed))
    return Group(*tables, *([Text(" ".join(notes))] if notes else []), sizes)


def _has_intervals(results: dict) -> bool:
    return any(_interval(t, _summary(m, t)) for m in results["models"].values() for t in m.get("tasks", {}))


def _md(text: str) -> str:
    """One markdown table cell: no raw ``|`` or line break."""
    return text.replace("|", "&#124;").replace("\n", "<br>")


def extra_sections(results: dict) -> list[str]:
    """Further report.md lines (their own ``##`` headings included), placed after the notes."""
    from ecmiip.bench import paper

    return paper.markdown(results)


def markdown(results: dict) -> str:
    """``report.md``: the table, notes, comparisons in words, then per model and task the details and
    costs, speed, settings and invalid lines."""
    tasks = _tasks(results)
    baseline = _baseline(results)
    lines = ["# ecmiip bench", "", "| model | params | file | " + " | ".join(tasks) + " | speed |",
             "|" + "---|" * (len(tasks) + 4)]
    for spec, m in results["models"].items():
        cells = [spec + (" (baseline)" if spec == baseline else ""), _params(m), _size(m.get("file_size"))]
        for task in tasks:
            head, *rest = _cell_lines(results, task, spec)
            cells.append("\n".join([f"{head} {rest[0]}" if rest else head, *rest[1:]]))
        cells.append(_speed(m.get("speed")))
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines += ["", FIGURES_NOTE, ""] + ([DELTA_NOTE, ""] if baseline else [])
    for task, stale in results.get("superseded_items", {}).items():
        if stale:
            lines += [f"Note: {len(stale)} {task} items rely on texts no longer in force "
                      f"({', '.join(sorted(stale)[:10])}{' …' if len(stale) > 10 else ''}); their gold answers follow "
                      "the older text.", ""]
    lines += extra_sections(results)
    lines += _comparison_section(results)
    for spec, m in results["models"].items():
        lines += _model_section(spec, m)
    settings = [f"- {k}: {v}" for k, v in sorted(results.get("settings", {}).items())]
    lines += ["## Settings", ""] + (settings or ["none"]) + [""]
    invalid = [line for bad in results.get("invalid", {}).values() for line in bad]
    lines += ["## Invalid lines", ""] + ([f"- {b}" for b in invalid] or ["none"]) + [""]
    return "\n".join(lines)


def _comparison_section(results: dict) -> list[str]:
    lines = ["## Comparisons", ""]
    if len(results["models"]) < 2:
        return lines + ["Only one model: no comparison is made with one model (the first --model is the "
                        "baseline the others are compared with).", ""]
    comparisons = results.get("comparisons", {})
    found = [_comparison_line(task, c, len(cs)) for task, cs in comparisons.items() for c in cs]
    none = "None in these results (written before paired comparisons, or no items shared)."
    return lines + (found or [none]) + [""]


def _comparison_line(task: str, c: dict, count: int) -> str:
    """One comparison in words: the difference, the counts behind it, the test and what it means."""
    n = c["n"]
    if task == "recite":
        what = (f"ROUGE-L {c['difference']:+.3f} ({c['value']:.3f} vs {c['baseline_value']:.3f}, "
                f"{n} paired items)")
    else:
        what = (f"{c['difference'] * 100:+.1f} points ({round(c['value'] * n)}/{n} vs "
                f"{round(c['baseline_value'] * n)}/{n} right, {n} paired items")
        if c.get("discordant"):
            base_only, model_only = c["discordant"]
            what += (f", {base_only + model_only} discordant: {model_only} right for this model alone, "
                     f"{base_only} for the baseline alone")
        what += ")"
    test = f"{c['test']} {_p(c['p'], ' ')}"
    if c.get("p_holm") is not None:
        test += f", Holm-adjusted over the {count} comparisons on this task {_p(c['p_holm'], ' ')}"
    verdict = ("a real difference at the 5 % level (p < 0.05)." if c.get("significant")
               else "within noise: this many items cannot tell the two apart.")
    return f"- `{c['model']}` vs `{c['baseline']}` (baseline) on {task}: {what}, {test} — {verdict}"


def _model_section(spec: str, m: dict) -> list[str]:
    lines = [f"## {spec}", ""]
    tasks, timing = m.get("tasks", {}), m.get("timing", {})
    for task, entry in tasks.items():
        lines += [f"### {task}", "", *_task_lines(task, entry.get("summary") or {})]
        lines += [_timing_line(timing[task])] if task in timing else []
        lines.append("")
    other_timing = [_timing_line(t, task) for task, t in timing.items() if task not in tasks]
    if m.get("speed") or other_timing:
        lines += ["### speed", ""] + [f"- {k}: {v}" for k, v in (m.get("speed") or {}).items()]
        lines += other_timing + [""]
    return lines


def _timing_line(t: dict, task: str = "") -> str:
    what = f"{task} items" if task else "items"
    return (f"- {what} scored by the latest run: {t['items_per_s']:.2f} items/s "
            f"({t['items']} items in {t['seconds']:.1f} s)")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _task_lines(task: str, s: dict) -> list[str]:
    """Details of one task: figures per source with intervals and counts, then what else the summary holds."""
    if not s.get("n"):
        return ["- no items scored"]
    if task == "recite":
        rouge, exact = s.get("rouge_l_interval"), s.get("exact_interval")
        text = f"- ROUGE-L {s['rouge_l']:.3f}" + (f" (95 % interval {rouge[0]:.3f}–{rouge[1]:.3f})"
                                                   if rouge else "")
        text += f", exact match {s['exact']:.1%}" + (f" ({exact[0]:.1%}–{exact[1]:.1%})" if exact else "")
        lines = [f"{text}, n = {s['n']}"]
    else:
        lines = [_source_line(source, acc, s) for source, acc in s.get("accuracy", {}).items()]
    lines += _case_lines(s) if task.startswith("case") and "per_class" in s else []
    if s.get("calibrated"):
        c = s["calibrated"]
        over = f" of the {c['items']} multiple/indefinite items" if "items" in c else ""
        lines.append(f"- calibrated threshold {c['threshold']:g}: {c['accuracy_cv']:.1%}{over} "
                     f"({c['folds']}-fold cross-validated; the table uses the fixed rule)")
    if s.get("types"):
        lines.append("- items by exam type: " + ", ".join(f"{kind} {n}" for kind, n in s["types"].items()))
    if "no_answer" in s:
        why = ", ".join(f"{reason} {n}" for reason, n in s.get("unread", {}).items())
        lines.append(f"- answers giving no letter: {s['no_answer']}" + (f" (of which {why})" if why else ""))
    return lines + _cost_lines(s.get("cost"))


def _source_line(source: str, acc: float, s: dict) -> str:
    count, interval = s.get("count", {}).get(source), s.get("interval", {}).get(source)
    details = ([f"{count[0]}/{count[1]} right"] if count else []) + (
        [f"95 % interval {interval[0]:.1%}–{interval[1]:.1%}"] if interval else [])
    return f"- {source}: {acc:.1%}" + (f" ({'; '.join(details)})" if details else "")


def _case_lines(s: dict) -> list[str]:
    lines = [f"- {v}: precision {_pct(c['precision'])}, recall {_pct(c['recall'])} (n = {c['support']})"
             for v, c in s["per_class"].items()]
    lines.append(f"- answers with no verdict: {s['no_verdict']}")
    if "articles" in s:
        a = s["articles"]
        lines.append(f"- articles relied on: precision {_pct(a['precision'])}, recall {_pct(a['recall'])} "
                     f"({a['items']} items with articles)")
    return lines


def _cost_lines(cost: dict | None) -> list[str]:
    """Prompt tokens (evaluated vs reused from the KV cache), decode tokens and seconds, per item."""
    if not cost:
        return []

    def n(key: str) -> str:
        return "-" if cost.get(key) is None else f"{cost[key]:.0f}"

    prompt = (f"- prompt tokens per item: {n('prompt_tokens')} total, {n('evaluated')} evaluated, "
              f"{n('cached')} from the KV cache; question alone {n('question_tokens')} tokens")
    if cost.get("first_evaluated") is not None:
        prompt += (f"; the first item evaluated {n('first_evaluated')} "
                   "(the shared system prompt and instruction)")
    decode = "-" if cost.get("decode_tokens") is None else f"{cost['decode_tokens']:.1f}"
    seconds = "-" if cost.get("seconds") is None else f"{cost['seconds']:.2f}"
    items = f" (means over {cost['items']} items)" if cost.get("items") else ""
    return [prompt, f"- per item: {decode} decode tokens, {seconds} s{items}"]


def accuracy_figure(results: dict) -> Figure:
    """Headline figure per task, a bar per model, with 95 % error bars, n per task and Δ / p in the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = _tasks(results)
    models = list(results["models"])
    short = short_labels(models)
    baseline = _baseline(results)
    size = (max(6.0, 0.9 * len(tasks) * max(1, len(models)) + 2), 4.5)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    width = 0.8 / max(1, len(models))
    any_interval = False
    for i, spec in enumerate(models):
        model = results["models"][spec]
        xs = [x + i * width for x in range(len(tasks))]
        values, low, high, texts = [], [], [], []
        for task in tasks:
            summary = _summary(model, task)
            value, interval = headline(task, summary), _interval(task, summary)
            values.append(math.nan if value is None else value)
            low.append(max(0.0, value - interval[0]) if value is not None and interval else math.nan)
            high.append(max(0.0, interval[1] - value) if value is not None and interval else math.nan)
            c = _comparison(results, task, spec)
            top = (value or 0.0) + (0.0 if math.isnan(high[-1]) else high[-1])
            label = "" if value is None else f"{value:.2f}" + ("\n" + _delta(task, c).replace(" p", "\np") if c else "")
            texts.append((top, label))
        has_interval = not all(math.isnan(x) for x in low)
        any_interval |= has_interval
        label = short[spec] + (" (baseline)" if spec == baseline else "")
        ax.bar(xs, values, width, label=label, yerr=[low, high] if has_interval else None, capsize=3)
        for x, (top, text) in zip(xs, texts, strict=True):
            if text:  # above the error bar, where neither bar nor whisker hides it
                ax.text(x, top + 0.02, text, ha="center", va="bottom", fontsize="x-small", linespacing=1.1)
    ax.set_xticks([x + width * (len(models) - 1) / 2 for x in range(len(tasks))])
    ax.set_xticklabels([_tick(results, task) for task in tasks])
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    intervals = " with 95 % intervals" if any_interval else ""
    ax.set_title(f"ecmiip bench — accuracy (recite: ROUGE-L){intervals}")
    if baseline:
        note = ("Δ: vs the baseline on shared items, points (recite: ROUGE-L); p: McNemar exact "
                "(recite: Wilcoxon), Holm-adjusted; * p < 0.05")
        ax.set_xlabel(textwrap.fill(note, width=int(14 * size[0])), fontsize="x-small")
    if models:
        fig.legend(fontsize="small", loc="outside lower center", ncol=1)
    return fig


def _tick(results: dict, task: str) -> str:
    ns = sorted({s["n"] for m in results["models"].values() if (s := _summary(m, task)).get("n")})
    figure = "ROUGE-L" if task == "recite" else "accuracy"
    return f"{task}\n({figure}, n={'/'.join(map(str, ns)) or 0})"


def bar_chart(results: dict, path: Path) -> None:
    """PNG of :func:`accuracy_figure`, written so that an interruption leaves no half-drawn file."""
    fig = accuracy_figure(results)
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
