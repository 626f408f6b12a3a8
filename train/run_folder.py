"""A training run's output folder: refuse to replace an earlier run unless asked, delete it when asked,
and find the newest complete, undamaged checkpoint to resume from.

No torch here: these checks run before any model loads, and must be quick.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

from ecmiip.core.console import console
from ecmiip.core.errors import InputError, OutputExistsError

#: What each kind of run writes into its output folder (a rerun without --resume would replace these).
RUN_OUTPUTS = {
    "pretrain": ("stage1", "stage2", "model", "stage1-history.json", "stage1-loss.png", "stage2-history.json",
                 "stage2-loss.png"),
    "sft": ("checkpoints", "adapter", "sft-history.json", "sft-loss.png"),
}


def check_run_folder(out: Path, kind: str, *, resume: bool, force: bool) -> list[Path]:
    """Refuse (before any model loads) to replace an earlier run in ``out`` unless --resume or --force;
    return what --force will delete (nothing is deleted here)."""
    if resume and force:
        raise InputError("--resume continues the run in the output folder and --force replaces it: pass one")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder: choose another output folder")
    earlier = [out / name for name in RUN_OUTPUTS[kind] if (out / name).exists()]
    if earlier and not resume and not force:
        raise OutputExistsError(
            f"{out} holds an earlier {kind} run ({', '.join(p.name for p in earlier)}): pass --resume to continue "
            f"it from its last checkpoint, or --force to replace it (its model and checkpoints are deleted)")
    return earlier if force else []


def remove_run(paths: list[Path]) -> None:
    """Delete an earlier run's outputs (--force), so that none of its checkpoints mixes into the new run."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def last_checkpoint(output_dir: Path, quiet: bool = False) -> str | None:
    """The newest *complete* checkpoint folder.

    The Trainer writes a checkpoint's files one after another and ``trainer_state.json`` last, so a
    folder without a readable one was cut off mid-save (a kill, a power cut) and cannot be resumed.
    """
    if not output_dir.is_dir():
        return None
    steps = [(int(m[1]), p) for p in output_dir.iterdir() if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    for _, path in sorted(steps, reverse=True):
        if checkpoint_complete(path):
            return str(path)
        if not quiet:
            console.print(f"[yellow]skipping {path}: cut off while being saved[/]")
    return None


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a complete-looking checkpoint (None when nothing is): a truncated safetensors
    file, a torch file that is not a whole zip archive, unreadable JSON. Reads headers only, not weights."""
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
        for f in sorted(path.iterdir()):
            if not f.is_file():
                continue
            if f.suffix == ".safetensors":
                why = _safetensors_problem(f)
            elif f.suffix in (".pt", ".pth", ".bin"):
                why = None if zipfile.is_zipfile(f) else "not a complete torch file (truncated?)"
            elif f.suffix == ".json":
                try:
                    json.loads(f.read_text(encoding="utf-8"))
                    why = None
                except (ValueError, RecursionError):
                    why = "not valid JSON"
            else:
                why = None
            if why:
                return f"{f.name}: {why}"
    except (OSError, ValueError, RecursionError) as e:
        return f"unreadable ({e})"
    return None


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return "truncated (no header)"
        n = int.from_bytes(head, "little")
        if n > size - 8 or n > 100 * 2**20:
            return "truncated or not a safetensors file (bad header length)"
        try:
            header = json.loads(f.read(n))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return "not a safetensors file (unreadable header)"
    if 8 + n + end > size:
        return f"truncated ({size} bytes, the header needs {8 + n + end})"
    return None


def check_resumable(output_dir: Path) -> None:
    """Raise InputError when the checkpoint --resume would continue from is damaged (before any model loads)."""
    checkpoint = last_checkpoint(output_dir, quiet=True)
    if checkpoint is not None and (why := checkpoint_problem(Path(checkpoint))):
        raise InputError(f"cannot resume from {checkpoint}: {why}; delete that checkpoint folder to resume from "
                         "the one before it, or start over with --force instead of --resume")


def checkpoint_complete(path: Path) -> bool:
    """Whether the checkpoint's last-written file, ``trainer_state.json``, is there and whole."""
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True
