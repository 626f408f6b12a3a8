"""The error boundary of every entry point: a user gets one line naming what went wrong and what to do,
never a traceback (unless ``--debug``); an unexpected error gets a short line and the path of a log file
holding the full traceback, so nothing is lost and nothing frightening is printed."""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from ecmiip.core.errors import EcmiipError

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def describe(e: BaseException) -> str | None:
    """A one-line message for an expected failure (a user's file, the OS, bad data), None otherwise."""
    if isinstance(e, EcmiipError):
        return str(e)
    if isinstance(e, UnicodeDecodeError):
        return f"not UTF-8 text ({e.reason} at byte {e.start}); save the file as UTF-8"
    if isinstance(e, json.JSONDecodeError):
        return f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
    if isinstance(e, RecursionError):
        return "the input is nested too deeply to read"
    if isinstance(e, MemoryError):
        return "out of memory; try a smaller input, --ctx or batch size"
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or e}" + (f" → {e.filename2}" if getattr(e, "filename2", None) else "")
    return None


def log_dir() -> Path:
    from ecmiip.core.paths import user_data_dir

    return user_data_dir() / "logs"


def _write_log(program: str) -> Path | None:
    """The current exception's traceback in a private log file; None when even that fails."""
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{program}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        return path
    except OSError:
        return None


def guarded(fn: Callable[[], int | None], *, program: str, debug: bool, print_error: Callable[[str], None]) -> int:
    """Run ``fn``; every failure becomes one line and an exit code (see the module docstring)."""
    if debug:
        return fn() or 0
    try:
        return fn() or 0
    except KeyboardInterrupt:
        print_error("interrupted: nothing partial was left under a final name (rerun, or --resume where offered)")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR  # the reader went away (| head): nothing to say
    except Exception as e:  # noqa: BLE001 — the boundary: every failure becomes one line
        message = describe(e)
        if message is not None:
            print_error(message)
            return EXIT_ERROR
        log = _write_log(program)
        where = f"; the full traceback is in {log}" if log else ""
        print_error(f"unexpected error ({type(e).__name__}: {str(e)[:200]}){where}; rerun with --debug to see it here, "
                    "and please report it")
        return EXIT_ERROR


def wants_debug(argv: list[str] | None) -> bool:
    return "--debug" in (sys.argv[1:] if argv is None else argv)
