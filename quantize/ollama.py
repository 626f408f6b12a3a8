"""``ecmiip ollama create``: hand an export to Ollama, or tell the user exactly how to."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from ecmiip.core.console import console
from ecmiip.core.errors import EcmiipError, InputError


def create_commands(export_dir: Path, name: str) -> list[str]:
    modelfile = export_dir / "Modelfile"
    return [f"ollama create {shlex.quote(name)} -f {shlex.quote(str(modelfile))}", f"ollama run {shlex.quote(name)}"]


def check_export_dir(export_dir: Path) -> Path:
    """The Modelfile must parse the way Ollama parses it and its FROM file must exist."""
    from ecmiip.quantize.modelfile_parser import parse_modelfile

    modelfile = export_dir / "Modelfile"
    if not modelfile.is_file():
        raise InputError(f"no Modelfile in {export_dir} (run `ecmiip export` first)")
    try:
        commands = parse_modelfile(modelfile.read_text(encoding="utf-8"))
    except InputError as e:
        raise InputError(f"{modelfile}: {e}") from e
    sources = [args for name, args in commands if name == "model"]
    if not sources:
        raise InputError(f"{modelfile}: no FROM line")
    source = (export_dir / sources[0]).resolve()
    if not source.is_file():
        raise InputError(f"{modelfile}: FROM {sources[0]} does not exist ({source})")
    return modelfile


def create(export_dir: Path, name: str) -> int:
    modelfile = check_export_dir(export_dir)
    commands = create_commands(export_dir, name)
    ollama = shutil.which("ollama")
    if ollama is None:
        console.print("[yellow]ollama is not on PATH.[/] Install it from https://ollama.com, then run:")
        for line in commands:
            print(f"  {line}")
        return 0
    console.print(f"$ {commands[0]}")
    proc = subprocess.run([ollama, "create", name, "-f", str(modelfile)], cwd=export_dir)
    if proc.returncode != 0:
        raise EcmiipError(f"`ollama create` failed with exit code {proc.returncode} (is `ollama serve` running?)")
    console.print(f"[green]created[/] {name}; chat with: {commands[1]}")
    return 0
