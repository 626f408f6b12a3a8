"""One rich console for the whole toolkit, the console for tables a command prints as its answer, and
the progress bar style used for long steps."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape
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


def print_error(message: str, label: str = "error:") -> None:
    """The one red line of an error boundary: never folded, so a log or a pipe holds it whole (a path in it
    stays greppable; a terminal still wraps it for the eye)."""
    console.print(f"[bold red]{label}[/] {escape(message)}", highlight=False, soft_wrap=True)


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
