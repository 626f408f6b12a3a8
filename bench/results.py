"""``results.json``: every item's prediction and raw output, saved after each item so a run can resume.

Layout::

    {"format": 1, "settings": {...}, "invalid": {task: ["file:line: reason", ...]},
     "models": {spec: {"path", "file_size", "params",
                       "tasks": {task: {"items": [record, ...], "summary": {...}}},
                       "speed": {...}, "timing": {task: {"items", "seconds", "items_per_s"}}}}}

Items are kept in data-file order, whatever order they were scored in, so an interrupted and resumed
run writes the same file as an uninterrupted one, apart from ``speed`` and ``timing``: wall-clock
figures, which differ run to run (``timing`` covers the items scored by the latest run only).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ecmiip.core.errors import InputError

FORMAT = 1


def empty_results() -> dict:
    return {"format": FORMAT, "settings": {}, "invalid": {}, "models": {}}


def load_results(path: Path) -> dict:
    """Results of an earlier run, or an empty skeleton when there is none."""
    if not path.exists():
        return empty_results()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not a results file ({e}); remove it or drop --resume") from e
    if data.get("format") != FORMAT:
        raise InputError(f"{path}: results format {data.get('format')!r}, expected {FORMAT}")
    return data


def save_results(path: Path, data: dict) -> None:
    """Write under a temporary name, then rename: an interruption leaves the previous complete file."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def task_entry(results: dict, spec: str, task: str) -> dict:
    """The (possibly new) ``{"items": [...], "summary": {}}`` entry of one model and task."""
    tasks = results["models"][spec].setdefault("tasks", {})
    return tasks.setdefault(task, {"items": [], "summary": {}})


def order_items(entry: dict, order: list[str]) -> None:
    """Sort an entry's records into the data file's order (records of dropped items go last, kept)."""
    rank = {item_id: i for i, item_id in enumerate(order)}
    entry["items"].sort(key=lambda r: rank.get(r["id"], len(rank)))
