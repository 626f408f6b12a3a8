"""Ollama's own Modelfile parser and TEMPLATE engine, for checking the product's emulations against them.

``tests/ollama_go`` is a small Go program on ``github.com/ollama/ollama`` (the version its go.mod pins);
it is built once per test session, offline (GOPROXY=off: the module cache is filled beforehand with
``cd tests/ollama_go && go mod download``). Without Go or without those modules the tests that need it
skip and say why; with ``ECMIIP_REQUIRE_OLLAMA=1`` (CI) they fail instead.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecmiip.quantize.parity_conversations import Conversation
from ecmiip.quantize.template_parity import go_env
from tests.ollama_server import skip_unless_required

SOURCE = Path(__file__).with_name("ollama_go")
FILL_CACHE = "cd tests/ollama_go && go mod download"


class OllamaGoError(RuntimeError):
    """The Go program failed, or Ollama refused a template."""


def _env() -> dict[str, str]:
    return go_env(GOFLAGS="-mod=mod -buildvcs=false")  # the module cache filled beforehand (FILL_CACHE)


@functools.cache
def _build() -> Path | str:
    """The built program, or why it cannot be built here (a reason to skip)."""
    go = shutil.which("go")
    if go is None:
        return "Go is not installed (`go` on PATH): Ollama's Modelfile parser and templates run in Go"
    out = Path(tempfile.mkdtemp(prefix="ecmiip-ollama-go-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    binary = out / "ollamacheck"
    proc = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=SOURCE,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "GOPROXY=off" in err or "module lookup disabled" in err:
            return f"the Go module cache lacks github.com/ollama/ollama and its modules; run `{FILL_CACHE}`"
        raise OllamaGoError(f"building tests/ollama_go failed:\n{err}")
    return binary


def binary() -> Path:
    """The built program, or a skip (a failure when ECMIIP_REQUIRE_OLLAMA=1) that says why."""
    built = _build()
    if isinstance(built, str):
        skip_unless_required(built)
    return built


def _call(request: dict[str, Any]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(binary())], input=json.dumps(request).encode(), capture_output=True, timeout=300
    )
    if proc.returncode != 0:
        raise OllamaGoError(f"tests/ollama_go failed: {proc.stderr.decode(errors='replace').strip()}")
    return json.loads(proc.stdout)


def ollama_parse(texts: Sequence[str]) -> list[dict[str, Any]]:
    """Ollama's parser.ParseFile of each text: {"commands": [{"name", "args"}, ...], "string": f.String()}
    or {"error": message}."""
    return _call({"op": "parse", "modelfiles": list(texts)})


def commands(parsed: dict[str, Any]) -> list[tuple[str, str]] | None:
    """An ``ollama_parse`` result as the product's parser gives it: (name, value) pairs; None if refused."""
    if "error" in parsed:
        return None
    return [(c["name"], c["args"]) for c in parsed["commands"]]


def ollama_parse_one(text: str) -> list[tuple[str, str]]:
    """The (name, value) pairs Ollama parses from ``text``; OllamaGoError with its message if it refuses."""
    (parsed,) = ollama_parse([text])
    if "error" in parsed:
        raise OllamaGoError(f"Ollama's parser refuses the Modelfile: {parsed['error']}")
    return commands(parsed) or []


def ollama_render(template: str, cases: Sequence[dict[str, Any]]) -> list[str]:
    """Ollama's template.Parse(template) then Execute for each case: {"Messages": [{"Role", "Content",
    "Thinking"}], "Think", "IsThinkSet"}, the messages as a client sends them (Execute collates them and
    derives System from them; a "System" key is ignored)."""
    results = _call({"op": "render", "template": template, "cases": list(cases)})
    errors = [f"case {i}: {r['error']}" for i, r in enumerate(results) if "error" in r]
    if errors:
        raise OllamaGoError("Ollama's template package refused:\n" + "\n".join(errors))
    return [r["text"] for r in results]


def client_case(conversation: Conversation, modelfile_system: str = "") -> dict[str, Any]:
    """``conversation`` as Ollama's chat handler hands it to Execute: the request's own messages, not
    collated, with the Modelfile SYSTEM put first unless they begin with a system message
    (server/routes.go ChatHandler; ``Conversation._messages`` applies the same rule)."""
    return {
        "Messages": [{"Role": r, "Content": c, "Thinking": t or ""} for r, c, t in conversation._messages(modelfile_system)],
        "Think": bool(conversation.think),
        "IsThinkSet": conversation.think is not None,
    }
