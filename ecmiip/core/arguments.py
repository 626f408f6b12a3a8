"""Argument types every command line shares, so that a bad value reads the same everywhere."""

from __future__ import annotations

import argparse
from datetime import date


def iso_day(text: str) -> date:
    """An argparse type: a day written YYYY-MM-DD (``--as-of``, ``--effective``); a usage error otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None
