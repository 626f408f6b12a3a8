"""A resumable sequence of steps, each writing into its own folder, like ``make`` for one pipeline.

A step is *complete* when its folder holds the marker ``.complete`` (written only after the step
returned), every declared output exists, the settings it ran with are today's, and no input is newer
than the marker. A complete step is skipped; any other step runs, and reruns invalidate the steps
downstream because their inputs become newer. ``OUT/build.json`` records each step's state, timing
and summary, so an interrupted build (Ctrl-C, a crash, a kill) shows where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecmiip.core.errors import InputError
from ecmiip.core.outputs import write_text_atomic

STATE_FILE = "build.json"
MARKER = ".complete"


@dataclass
class Step:
    """One stage of the build.

    ``run(folder, resume)`` does the work and returns a small JSON-able summary; ``resume`` is True
    when the folder holds an unfinished attempt with the same settings (training steps continue from
    their last checkpoint). ``inputs`` are read lazily: they may be outputs of earlier steps.
    """

    name: str
    title: str
    folder: str
    run: Callable[[Path, bool], dict]
    inputs: Callable[[], list[Path]] = list
    outputs: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def settings_hash(self) -> str:
        blob = json.dumps(self.settings, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def newest_mtime(paths: Iterable[Path]) -> float:
    """Latest modification time of the files under ``paths`` (0 when there are none)."""
    newest = 0.0
    for path in paths:
        if path.is_dir():
            for root, _, files in os.walk(path):
                for f in files:
                    newest = max(newest, (Path(root) / f).stat().st_mtime)
        elif path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


class StepState:
    """``build.json``: per step {status, settings, started, seconds, summary}; saved atomically."""

    def __init__(self, out: Path) -> None:
        self.path = out / STATE_FILE
        self.data: dict[str, Any] = {"format": 1, "steps": {}}
        if self.path.exists():
            self.data = self._read()

    def _read(self) -> dict[str, Any]:
        advice = "pass --force to start the build over (or delete the file)"
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise InputError(f"{self.path}: not a readable build record ({type(e).__name__}); {advice}") from None
        if not isinstance(data, dict) or not isinstance(data.get("steps"), dict) or \
                not all(isinstance(v, dict) for v in data["steps"].values()):
            raise InputError(f"{self.path}: not a build record (no object of steps); {advice}")
        return data

    def step(self, name: str) -> dict[str, Any]:
        return self.data["steps"].setdefault(name, {})

    def save(self) -> None:
        write_text_atomic(self.path, json.dumps(self.data, ensure_ascii=False, indent=1) + "\n")


def why_not_complete(step: Step, out: Path, state: StepState) -> str | None:
    """None when the step can be skipped, else the reason it must run."""
    folder = out / step.folder
    marker = folder / MARKER
    record = state.step(step.name)
    if not marker.exists() or record.get("status") != "done":
        return "not run yet" if not record else f"last attempt {record.get('status', 'unfinished')}"
    if record.get("settings") != step.settings_hash():
        return "settings changed"
    missing = [o for o in step.outputs if not (folder / o).exists()]
    if missing:
        return f"output missing: {missing[0]}"
    if newest_mtime(step.inputs()) > marker.stat().st_mtime:
        return "inputs changed"
    return None


@dataclass
class StepResult:
    name: str
    status: str  # done, skipped, failed, interrupted
    seconds: float
    reason: str = ""
    summary: dict = field(default_factory=dict)


def run_step(step: Step, out: Path, state: StepState, on_start: Callable[[Step, str], None] | None = None) -> StepResult:
    """Run ``step`` unless complete; record the attempt in ``build.json`` whatever happens."""
    reason = why_not_complete(step, out, state)
    record = state.step(step.name)
    if reason is None:
        return StepResult(step.name, "skipped", record.get("seconds", 0.0), "complete", record.get("summary", {}))
    folder = out / step.folder
    same_settings = record.get("settings") == step.settings_hash()
    resume = folder.exists() and same_settings and record.get("status") in ("running", "interrupted", "failed")
    if folder.exists() and not resume:
        shutil.rmtree(folder)  # an earlier attempt with other settings: nothing of it may be reused
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).unlink(missing_ok=True)
    record.clear()
    record.update(status="running", settings=step.settings_hash(), started=time.strftime("%Y-%m-%dT%H:%M:%S"))
    state.save()
    if on_start:
        on_start(step, "resuming" if resume else reason)
    t0 = time.perf_counter()
    try:
        summary = step.run(folder, resume)
    except KeyboardInterrupt:
        record.update(status="interrupted", seconds=round(time.perf_counter() - t0, 1))
        state.save()
        raise
    except BaseException as e:
        record.update(status="failed", seconds=round(time.perf_counter() - t0, 1), error=str(e)[:500])
        state.save()
        raise
    write_text_atomic(folder / MARKER, time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")
    record.update(status="done", seconds=round(time.perf_counter() - t0, 1), summary=summary)
    state.save()
    return StepResult(step.name, "done", record["seconds"], reason, summary)
