"""``/copy``: the last answer onto the system clipboard when there is one, else into a private file.

No clipboard library is needed: the tools every desktop has are tried in turn (pbcopy, wl-copy,
xclip, xsel, clip.exe). Over SSH or on a bare console none exists, and the answer goes to a 0600 file
in the user-data folder instead, which the message names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

from ecmiip.chat.session import transcripts_dir, write_private

TOOLS = (
    ("pbcopy",),
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("xsel", "--clipboard", "--input"),
    ("clip.exe",),
)


def _usable(tool: tuple[str, ...]) -> bool:
    if shutil.which(tool[0]) is None:
        return False
    if tool[0] == "wl-copy":
        return bool(os.environ.get("WAYLAND_DISPLAY"))
    if tool[0] in ("xclip", "xsel"):
        return bool(os.environ.get("DISPLAY"))
    return tool[0] != "pbcopy" or sys.platform == "darwin"


def copy_text(text: str) -> str:
    """Copy ``text``; return where it went, as the message ends (``到剪贴板`` or ``到文件 PATH``)."""
    for tool in TOOLS:
        if not _usable(tool):
            continue
        try:
            subprocess.run(tool, input=text.encode("utf-8"), check=True, timeout=5,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return "到剪贴板"
        except (OSError, subprocess.SubprocessError):
            continue
    path = write_private(transcripts_dir() / f"copy-{time.strftime('%Y%m%d-%H%M%S')}.md", text + "\n")
    return f"到文件 {path}（未找到剪贴板）"
