"""Checks on what the user names on the command line, made before anything is read or written:
model names that become file names, local folders (never hub ids: only ``ecmiip pull`` downloads),
and the output folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
import unicodedata
from pathlib import Path

from ecmiip.core.errors import InputError

# UTF-8 bytes; with "-Q4_K_M.gguf" and the ".….partial" temporary name it stays far below the
# 255-byte file-name limit of common filesystems.
MAX_NAME_BYTES = 96
_FORBIDDEN = set('/\\<>:"|?*')


def check_model_name(name: str, option: str = "--name") -> str:
    """``name`` if it is a plain file-name component, else InputError saying why.

    It becomes file names (``<name>-F16.gguf``) inside the output folder and GGUF metadata, so no path
    separators, no ``..``, no control characters, nothing a Windows filesystem refuses, and no leading
    ``.`` or ``-`` (hidden files, options).
    """
    shown = repr(name)
    if not name or not name.strip():
        raise InputError(f"{option} {shown}: a model name cannot be empty")
    bad = sorted({ch for ch in name if ch in _FORBIDDEN})
    if bad:
        raise InputError(
            f"{option} {shown}: a model name is a file name, not a path; it cannot contain {' '.join(bad)}"
        )
    controls = [ch for ch in name if unicodedata.category(ch)[0] in "CZ" and ch != " "]
    if controls:
        raise InputError(f"{option} {shown}: contains the control or separator character U+{ord(controls[0]):04X}")
    if ".." in name:
        raise InputError(f"{option} {shown}: a model name cannot contain '..'")
    if name[0] in ".-" or name != name.strip() or name.endswith("."):
        raise InputError(f"{option} {shown}: a model name cannot start with '.' or '-', nor start or end with a space "
                         "or end with '.'")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InputError(f"{option}: a model name is at most {MAX_NAME_BYTES} bytes of UTF-8, this one has "
                         f"{len(name.encode('utf-8'))}: {name[:40]!r}…")
    return name


def local_dir(path: Path | str, what: str) -> Path:
    """An existing local folder; anything else is refused at once, with the ``ecmiip pull`` advice when
    it looks like a Hugging Face id. Nothing here (nor after it) goes online."""
    from ecmiip.core.hub import is_hub_id

    p = Path(path).expanduser()
    if p.is_dir():
        return p
    text = os.fspath(path)
    if p.exists():
        raise InputError(f"{what} {text}: not a folder (give the model or adapter folder, not a file in it)")
    if is_hub_id(text):
        raise InputError(
            f"{what} {text}: no such local folder. ec-miip reads local folders only and never downloads here; "
            f"if this is a Hugging Face id, download it first with:  ecmiip pull {text}   and pass the path it prints"
        )
    kind = "adapter" if "adapter" in what else "model"
    raise InputError(
        f"{what}: {kind} directory not found: {text} (a Hugging Face model is downloaded first with:  "
        "ecmiip pull OWNER/NAME)"
    )


def check_output_dir(out: Path) -> None:
    """The output folder is a folder (or can be created) and is writable; checked before any work starts."""
    probe = out
    while not probe.exists():
        if probe.is_symlink():
            raise InputError(f"--out {out}: {probe} is a dangling symbolic link")
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = "is a file, not a folder" if probe == out else f"cannot be created: {probe} is a file"
        raise InputError(f"--out {out} {what}")


def probe_writable(folder: Path) -> None:
    """Create and remove a small file in ``folder``: a read-only or full folder fails here, before the
    first real byte, with a message naming it."""
    try:
        fd, name = tempfile.mkstemp(prefix=".ecmiip-probe-", dir=folder)
    except OSError as e:
        raise InputError(f"--out {folder}: cannot write there ({e.strerror or e})") from e
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)
