"""Where ec-miip keeps its shipped data and the user's files."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent / "data"
STATUTES_DIR = PACKAGE_DATA / "statutes"


def user_data_dir() -> Path:
    """Per-user folder for transcripts and caches (XDG on Linux, ~/.ecmiip elsewhere)."""
    base = os.environ.get("ECMIIP_HOME")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) / "ecmiip" if xdg else Path.home() / ".local" / "share" / "ecmiip"
