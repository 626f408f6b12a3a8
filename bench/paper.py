"""``ecmiip bench --preset paper``: the paper's Table 3 (DX, NOM, HX accuracy per model).

DX is a single-choice bar-exam set (scored as the ``mcq`` task; its lines are single-choice unless
they say otherwise or ``--type`` does), NOM and HX are ordinary and confusable infringement cases
(the ``case`` task, accuracy per kind; a line without ``kind`` takes its file's). The data are given
as ``--data DX.jsonl,NOM.jsonl,HX.jsonl`` (or ``DX=…,NOM=…,HX=…``, any of the three); without
``--data`` the shipped samples stand in — LexEval IP items for DX, the project's case samples for
NOM and HX — which are format samples, not the paper's sets.

The paper's own rows are printed beside the measured ones, labelled as quoted and never mixed with
them: :data:`QUOTED` holds only figures whose source is at hand (others stay empty).
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ecmiip.bench.data import SINGLE, data_file
from ecmiip.core.errors import InputError

TASKS = ("mcq", "case")
SHIPPED = "lexeval_ip_mcq.jsonl"
COLUMNS = ("DX", "NOM", "HX")
SOURCE = ("Liu, Liu, Huang: EC-MIIP, Computer Science 53(5):299–308, 2026 (doi 10.11896/jsjkx.250600023), "
          "Table 3")
# (row label, {column: accuracy}) as published; NOM and HX were not available offline when this was written.
QUOTED: tuple[tuple[str, dict[str, float]], ...] = (
    ("Qwen3-4B (paper)", {"DX": 0.555}),
    ("EC-MIIP (paper)", {"DX": 0.863}),
)


def data_files(specs: list[str], item_type: str | None) -> dict[str, list[tuple[Path, str | None]]]:
    """``--data`` values of the preset as the run's files: DX → mcq (single by default), NOM/HX → case."""
    parts = [p.strip() for spec in specs for p in spec.split(",") if p.strip()]
    if not parts:
        return {}
    named = [p.partition("=") for p in parts]
    if all(sep for _, sep, _ in named):
        pairs = [(name.strip().upper(), file) for name, _, file in named]
        unknown = [n for n, _ in pairs if n not in COLUMNS]
        if unknown:
            raise InputError(f"--data {', '.join(unknown)}=…: the paper preset's sets are DX, NOM and HX")
    elif any(sep for _, sep, _ in named) or len(parts) != len(COLUMNS):
        raise InputError(f"--preset paper --data {','.join(parts)}: give DX.jsonl,NOM.jsonl,HX.jsonl "
                         "(three files in that order) or DX=…,NOM=…,HX=…")
    else:
        pairs = list(zip(COLUMNS, parts, strict=True))
    if len({n for n, _ in pairs}) != len(pairs):
        raise InputError("--preset paper --data: each of DX, NOM, HX at most once")
    files: dict[str, list[tuple[Path, str | None]]] = {}
    for name, file in pairs:
        path = data_file(f"{name}={file}", file)
        if name == "DX":
            files.setdefault("mcq", []).append((path, item_type or SINGLE))
        else:
            files.setdefault("case", []).append((path, name))
    return files


def _task(tasks: dict, prefix: str) -> dict:
    for scorer in ("generation", "likelihood"):
        if f"{prefix}-{scorer}" in tasks:
            return tasks[f"{prefix}-{scorer}"].get("summary", {})
    return {}


def measured(model: dict) -> dict[str, tuple[float, list[float], list[int]] | None]:
    """{column: (accuracy, interval, [right, n]) or None} of one model's results."""
    tasks = model.get("tasks", {})
    out: dict[str, tuple[float, list[float], list[int]] | None] = {}
    for column, summary, key in (("DX", _task(tasks, "mcq"), "overall"),
                                 ("NOM", _task(tasks, "case"), "NOM"), ("HX", _task(tasks, "case"), "HX")):
        acc = summary.get("accuracy", {}).get(key)
        out[column] = None if acc is None else (acc, summary.get("interval", {}).get(key, []),
                                                summary.get("count", {}).get(key, []))
    return out


def _cell(value: tuple[float, list[float], list[int]] | None) -> str:
    if value is None:
        return "-"
    acc, interval, count = value
    ci = f" [{interval[0]:.3f}–{interval[1]:.3f}]" if interval else ""
    n = f" n={count[1]}" if count else ""
    return f"{acc:.3f}{ci}{n}"


def _quoted_cell(row: dict[str, float], column: str) -> str:
    return f"{row[column]:.3f}" if column in row else "not at hand"


def markdown(results: dict) -> list[str]:
    """The Table-3 section of report.md (empty unless the run used the preset)."""
    if results.get("settings", {}).get("preset") != "paper":
        return []
    lines = ["## Table 3 layout (the paper's preset)", "", "| model | DX | NOM | HX |", "|---|---|---|---|"]
    for spec, model in results["models"].items():
        cells = measured(model)
        lines.append(f"| {spec} (measured) | " + " | ".join(_cell(cells[c]) for c in COLUMNS) + " |")
    for label, row in QUOTED:
        lines.append(f"| {label} — quoted, not re-measured | " + " | ".join(_quoted_cell(row, c) for c in COLUMNS) + " |")
    data = results["settings"].get("data_mcq", ""), results["settings"].get("data_case", "")
    lines += ["", f"Measured: accuracy with Wilson 95 % interval and n (DX: {data[0]}; NOM/HX: {data[1]}). "
              f"Quoted rows: {SOURCE}; they were not measured here and cannot be compared item by item."]
    if SHIPPED in data:
        lines.append("The shipped samples stood in for the paper's sets (LexEval IP items, 不定项 as published, for "
                     "DX; the project's format-sample cases for NOM/HX): the measured rows are not comparable "
                     "with the quoted ones.")
    return lines + [""]
    return lines


def rich_table(results: dict) -> Table:
    """The same for the terminal; measured rows first, quoted rows dimmed below them."""
    from ecmiip.bench.report import short_labels

    table = Table(title="Table 3 layout (paper preset)", caption=f"quoted rows: {SOURCE}; not re-measured")
    table.add_column("model", overflow="fold")
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    labels = short_labels(list(results["models"]))
    for spec, model in results["models"].items():
        cells = measured(model)
        table.add_row(labels[spec], *(_cell(cells[c]) for c in COLUMNS))
    for label, row in QUOTED:
        table.add_row(f"{label} (quoted)", *(_quoted_cell(row, c) for c in COLUMNS), style="dim")
    return table
