"""``results.json``: every item's prediction and raw output, saved after each item so a run can resume.

Layout::

    {"format": 1, "settings": {...}, "invalid": {task: ["file:line: reason", ...]},
     "models": {spec: {"path", "file_size", "params",
                       "tasks": {task: {"items": [record, ...], "summary": {...}}},
                       "speed": {...}, "timing": {task: {"items", "seconds", "items_per_s"}}}}}

``settings["models"]`` lists the models in the order they were given (the first is the baseline the
others are compared with); the file itself is written with sorted keys, so readers put ``models`` back
in that order (:func:`in_model_order`, done by :func:`load_results`).

Items are kept in data-file order, whatever order they were scored in, so an interrupted and resumed
run writes the same file as an uninterrupted one, apart from ``speed`` and ``timing``: wall-clock
figures, which differ run to run (``timing`` covers the items scored by the latest run only).
"""

from __future__ import annotations

import json
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.outputs import write_text_atomic

FORMAT = 1


def empty_results() -> dict:
    return {"format": FORMAT, "settings": {}, "invalid": {}, "models": {}}


def load_results(path: Path) -> dict:
    """Results of an earlier run, or an empty skeleton when there is none; anything that is not a results
    file of this format is refused with the path and what to do."""
    if not path.exists():
        return empty_results()
    advice = "remove it, or drop --resume and pass --force to start over"
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a results file; {advice}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text ({e.reason}); {advice}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not a results file ({e}); {advice}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a results file; {advice}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a results file (a JSON {type(data).__name__}, not an object); {advice}")
    if data.get("format") != FORMAT:
        raise InputError(f"{path}: results format {data.get('format')!r}, expected {FORMAT}; {advice}")
    problem = _shape_problem(data)
    if problem:
        raise InputError(f"{path}: damaged results file ({problem}); {advice}")
    return in_model_order(data)


def in_model_order(results: dict) -> dict:
    """``results`` with ``models`` in the order of ``settings["models"]`` (models it does not list last)."""
    order = [m for m in results.get("settings", {}).get("models", []) if m in results["models"]]
    rest = [m for m in results["models"] if m not in order]
    results["models"] = {m: results["models"][m] for m in [*order, *rest]}
    return results


def _shape_problem(data: dict) -> str | None:
    """What does not follow the layout of the module docstring (None when all does)."""
    for key in ("settings", "invalid", "models"):
        if not isinstance(data.get(key, {}), dict):
            return f"{key} is not an object"
    data.setdefault("settings", {})
    data.setdefault("invalid", {})
    data.setdefault("models", {})
    for spec, model in data["models"].items():
        if not isinstance(model, dict):
            return f"models[{spec!r}] is not an object"
        tasks = model.get("tasks", {})
        if not isinstance(tasks, dict):
            return f"models[{spec!r}].tasks is not an object"
        for task, entry in tasks.items():
            where = f"models[{spec!r}].tasks[{task!r}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("items"), list):
                return f"{where} has no list of items"
            if not all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in entry["items"]):
                return f"{where}.items holds a record without an id"
    return None


def save_results(path: Path, data: dict) -> None:
    """Write under a temporary name, then rename: an interruption leaves the previous complete file."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def task_entry(results: dict, spec: str, task: str) -> dict:
    """The (possibly new) ``{"items": [...], "summary": {}}`` entry of one model and task."""
    tasks = results["models"][spec].setdefault("tasks", {})
    return tasks.setdefault(task, {"items": [], "summary": {}})


def order_items(entry: dict, order: list[str]) -> None:
    """Sort an entry's records into the data file's order (records of dropped items go last, kept)."""
    rank = {item_id: i for i, item_id in enumerate(order)}
    entry["items"].sort(key=lambda r: rank.get(r["id"], len(rank)))
