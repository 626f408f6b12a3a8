"""The bad-input harness: run a command as a user would, in its own process, and check what a user must
get back from any bad input — a non-zero exit, no traceback, a message naming the culprit, and no file
changed outside the command's output folder.

Each area's test module lists its cases as ``Case`` rows and runs them through ``check``; every
output is also appended to ``$ECMIIP_HARNESS_LOG`` when set, so ``grep -c Traceback`` can be run over
all of them at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ECMIIP = [sys.executable, "-m", "ecmiip"]
CHAT = [sys.executable, "-m", "ecmiip.chat.cli"]


@dataclass(frozen=True)
class Case:
    id: str
    argv: Sequence[str]  # after the program: ("statutes", "import", "{tmp}/x.md", ...); {tmp} is the case's folder
    culprit: str  # what the message must name (a file, field, value or option)
    setup: Callable[[Path], None] | None = None  # writes the bad input into the case's folder
    stdin: str | bytes | None = None
    program: Sequence[str] = field(default_factory=lambda: ECMIIP)
    exit_codes: tuple[int, ...] = (1, 2)
    timeout: float = 120
    env: dict[str, str] = field(default_factory=dict)


def _snapshot(folder: Path, skip: Sequence[Path]) -> dict[str, str]:
    """sha256 of every file under ``folder`` except under the output folders ``skip``."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and not any(s in path.parents for s in skip):
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def check(case: Case, tmp: Path) -> subprocess.CompletedProcess:
    """Run ``case`` in ``tmp`` and assert what every bad input must give."""
    tmp.mkdir(parents=True, exist_ok=True)
    if case.setup:
        case.setup(tmp)
    outputs = (tmp / "out", tmp / "home")  # the command's output folder and its user-data folder
    before = _snapshot(tmp, outputs)
    argv = [a.replace("{tmp}", str(tmp)) for a in case.argv]
    env = {**os.environ, "ECMIIP_HOME": str(tmp / "home"), "PYTHONPATH": str(ROOT), "COLUMNS": "200",
           "HF_HUB_OFFLINE": "1", **case.env}
    data = case.stdin.encode() if isinstance(case.stdin, str) else case.stdin
    proc = subprocess.run([*case.program, *argv], input=data, capture_output=True, timeout=case.timeout,
                          cwd=tmp, env=env)
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    if log := os.environ.get("ECMIIP_HARNESS_LOG"):
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"=== {case.id}\n{text}\n")
    flat = " ".join(text.split())
    assert proc.returncode in case.exit_codes, f"{case.id}: exit {proc.returncode}\n{text}"
    assert "Traceback" not in text, f"{case.id}: traceback\n{text}"
    assert case.culprit.replace("{tmp}", str(tmp)) in flat or case.culprit in text, \
        f"{case.id}: the message does not name {case.culprit!r}\n{text}"
    assert _snapshot(tmp, outputs) == before, f"{case.id}: a file outside the output folder changed"
    return proc
