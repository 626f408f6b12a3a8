"""One rich console for the whole toolkit, the console for tables a command prints as its answer, and
the progress bar style used for long steps."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Status and progress go to stderr so that stdout stays clean for answers and JSON.
console = Console(stderr=True)


def stdout_console(piped_width: int | None = None) -> Console:
    """A console for what a command prints on stdout as its answer (tables, figures).

    On a terminal it takes the terminal's width; piped or redirected to a file it takes ``piped_width``
    columns (``None``: rich's default of 80), so a wide table is not folded into narrow cells.
    """
    return Console(width=None if sys.stdout.isatty() else piped_width)


def progress(transient: bool = False) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )
