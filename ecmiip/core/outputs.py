"""Writing outputs so that nothing is lost: refuse to overwrite without --force, write under a
temporary name and rename when complete, check free disk before starting.

:func:`atomic_path` is the one atomic write: whoever writes the file (this process through
:func:`atomic_write`, a child process, llama.cpp, matplotlib) writes a temporary sibling, which is
flushed to disk and renamed over the final name only when the block completes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

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
def atomic_path(final: Path, *, private: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path to write ``final`` under; it takes the final name only if the block
    completes, flushed to disk first (fsync), so a crash leaves the previous file or the new one, whole.

    On any exception (KeyboardInterrupt included) the temporary file is removed, so no half-written
    file ever carries a final name. The temporary name is ``.NAME.partial`` (a leftover there is removed
    first, never followed); with ``private`` it is a fresh random ``.NAME.<random>.partial``, created
    exclusively with mode 0600 before the block runs, so the final file is readable by its owner only
    and a file or symlink planted at any name is never opened.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _private_temporary(final) if private else final.with_name(f".{final.name}{PARTIAL_SUFFIX}")
    try:
        if not private:
            tmp.unlink(missing_ok=True)
        yield tmp
        fd = os.open(tmp, os.O_RDONLY | _NOFOLLOW)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_write(final: Path, mode: str = "w", *, private: bool = False) -> Iterator[IO[Any]]:
    """``final`` opened for writing through :func:`atomic_path`: ``"w"`` for text (UTF-8: JSON, JSONL,
    Markdown), ``"wb"`` for bytes. The file takes its final name when the block completes."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode {mode!r}: expected 'w' (text) or 'wb' (bytes)")
    encoding = None if mode == "wb" else "utf-8"
    with atomic_path(final, private=private) as tmp, open(tmp, mode, encoding=encoding, opener=_open_no_follow) as f:
        yield f


def write_text_atomic(final: Path, text: str) -> None:
    with atomic_write(final) as f:
        f.write(text)


def write_bytes_atomic(final: Path, data: bytes) -> None:
    with atomic_write(final, "wb") as f:
        f.write(data)


def write_json_atomic(final: Path, obj: Any, indent: int | None = 1) -> None:
    """JSON (UTF-8, Chinese kept readable) under a temporary name, renamed when complete."""
    write_text_atomic(final, json.dumps(obj, ensure_ascii=False, indent=indent) + "\n")


def write_jsonl_atomic(final: Path, rows: Iterable[Any]) -> int:
    """One JSON object per line (UTF-8, Chinese kept readable), renamed when complete; returns the line count."""
    n = 0
    with atomic_write(final) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


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


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows, where symlinks need privileges anyway


def _open_no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | _NOFOLLOW, 0o666)


def _private_temporary(final: Path) -> Path:
    """A new empty file beside ``final``, mode 0600, under a name nobody else holds."""
    for _ in range(100):
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
        finally:
            os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name beside {final}")
