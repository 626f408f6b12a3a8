"""Writing outputs so that nothing is lost: refuse to overwrite without --force, write under a
temporary name and rename when complete, check free disk before starting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from ecmiip.core.errors import DiskSpaceError, OutputExistsError

PARTIAL_SUFFIX = ".partial"


def refuse_existing(paths: Sequence[Path], force: bool) -> None:
    """Raise before any work starts if an output exists and ``force`` is off."""
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise OutputExistsError(f"output already exists: {names} (pass --force to overwrite)")


def check_free_disk(directory: Path, needed_bytes: int, margin: float = 1.1) -> None:
    """Raise if the filesystem of ``directory`` has less than ``needed_bytes`` (times a margin) free."""
    probe = directory
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes * margin:
        raise DiskSpaceError(
            f"not enough free disk in {directory}: the outputs need about {needed_bytes / 2**30:.2f} GiB, "
            f"{free / 2**30:.2f} GiB are free"
        )


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it to ``final`` only if the block completes.

    On any exception (KeyboardInterrupt included) the temporary file is removed, so no
    half-written file ever carries a final name.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(final: Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(final: Path, data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(final: Path, obj, indent: int | None = 1) -> None:
    """JSON (UTF-8, Chinese kept readable) under a temporary name, renamed when complete."""
    write_text_atomic(final, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


@contextlib.contextmanager
def atomic_dir(final: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; it replaces ``final`` only if the block completes (a saved
    model, an adapter): an interrupted save never leaves a half-written folder under the final name."""
    refuse_existing([final], force)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
