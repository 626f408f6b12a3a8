"""``ecmiip ollama create`` and ``ecmiip ollama push``: hand an export to Ollama (or tell the user exactly
how to), and push a local Ollama model to ollama.com."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import threading
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


# --- ecmiip ollama push -------------------------------------------------------------------------------

_PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_PUSH_NAME = re.compile(rf"(?:(?P<host>{_PART}\.{_PART}(?::\d+)?)/)?(?:(?P<ns>{_PART})/)?(?P<model>{_PART})(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]*))?")


def push_target(name: str, namespace: str | None) -> tuple[str, str]:
    """(local name, name to push): a name without a namespace is copied under ``namespace`` first."""
    m = _PUSH_NAME.fullmatch(name)
    if m is None:
        raise InputError(f"not an Ollama model name: {name!r} (expected NAMESPACE/MODEL[:TAG], e.g. alice/ec-miip)")
    if m["ns"]:
        if namespace and namespace != m["ns"]:
            raise InputError(f"{name} is already in namespace {m['ns']}; drop --namespace {namespace} or rename it")
        return name, name
    if not namespace:
        raise InputError(f"{name} has no namespace: Ollama pushes NAMESPACE/MODEL (your ollama.com user name); "
                         f"pass --namespace USER to copy it to USER/{name} first")
    if not re.fullmatch(_PART, namespace):
        raise InputError(f"--namespace {namespace!r} is not an ollama.com user or organisation name")
    host = f"{m['host']}/" if m["host"] else ""
    return name, f"{host}{namespace}/{m['model']}" + (f":{m['tag']}" if m["tag"] else "")


def _push_error(output: str, command: str, local: str) -> str | None:
    """One line for what Ollama printed, when it says why (stdout and stderr together, lower case)."""
    text = output.lower()
    if "could not connect" in text or "connection refused" in text:
        return f"`{command}`: the Ollama server is not running; start it with `ollama serve` (or the Ollama app), then rerun"
    if "need to be signed in" in text or "ollama signin" in text:
        return (f"`{command}`: not signed in to ollama.com; run `ollama signin` (or add ~/.ollama/id_ed25519.pub at "
                "https://ollama.com/settings/keys), then rerun")
    if "id_ed25519" in text and ("no such file" in text or "not exist" in text):
        return (f"`{command}`: Ollama has no key (~/.ollama/id_ed25519); start `ollama serve` once to create it, "
                "add the .pub key at https://ollama.com/settings/keys, then rerun")
    if "not authorized" in text or "unauthorized" in text or "access denied" in text:
        return (f"`{command}`: ollama.com refused the push: this key is not signed in to that namespace; run "
                "`ollama signin` (or add ~/.ollama/id_ed25519.pub at https://ollama.com/settings/keys) and push "
                "under a namespace you own")
    if "not found" in text or "does not exist" in text or ("manifests" in text and "no such file" in text):
        return f"`{command}`: no local model {local}; create it with `ecmiip ollama create DIR --name {local}`"
    return None


def _run_ollama(argv: list[str], local: str) -> None:
    """Run ollama with its progress shown on the terminal (stderr passed through) and its output kept."""
    command = shlex.join(["ollama", *argv[1:]])
    console.print(f"$ {command}", highlight=False)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise InputError(f"cannot run {argv[0]}: {e.strerror or e}") from None
    captured: dict[str, bytes] = {}

    def pump(stream, name, sink) -> None:
        chunks = []
        for chunk in iter(lambda: stream.read1(4096), b""):
            chunks.append(chunk)
            sink.write(chunk)
            sink.flush()
        captured[name] = b"".join(chunks)

    threads = [threading.Thread(target=pump, args=(proc.stdout, "out", sys.stdout.buffer)),
               threading.Thread(target=pump, args=(proc.stderr, "err", sys.stderr.buffer))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    code = proc.wait()
    output = (captured.get("out", b"") + b"\n" + captured.get("err", b"")).decode(errors="replace")
    # `ollama push` prints "You need to be signed in..." and exits 0 without pushing: read the output too.
    reason = _push_error(output, command, local)
    if reason is not None and (code != 0 or "signed in" in output.lower()):
        raise EcmiipError(reason)
    if code != 0:
        last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), f"exit code {code}")
        raise EcmiipError(f"`{command}` failed: {last.removeprefix('Error: ')}")


def push(name: str, *, namespace: str | None = None) -> str:
    """``ecmiip ollama push``: ``ollama cp`` into the user's namespace when needed, then ``ollama push``.

    Returns the name pushed. Errors are one line: Ollama missing, its server down, no key or not signed
    in, a name without a namespace.
    """
    local, target = push_target(name, namespace)
    ollama = shutil.which("ollama")
    if ollama is None:
        raise InputError("ollama is not installed (not on PATH): install it from https://ollama.com, then rerun")
    if target != local:
        _run_ollama([ollama, "cp", local, target], local)
    _run_ollama([ollama, "push", target], target)
    console.print(f"[green]pushed[/] {target}; anyone can run it with: ollama run {target}", highlight=False)
    return target
