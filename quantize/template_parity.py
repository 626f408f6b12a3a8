"""The proof that a Modelfile TEMPLATE is right: Go's own text/template against the HF chat template.

A TEMPLATE that differs from the Jinja one by a single newline silently degrades a fine-tuned model,
so each parity conversation is rendered by Go (``gotemplate/render.go`` through the Go toolchain,
offline) and by the HF chat template, and the texts must be identical; a template that is not gets
no TEMPLATE at all (``choose_template``). The tests hold render.go to Ollama's own template package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecmiip.core.chat_template import from_tokenizer
from ecmiip.core.errors import EcmiipError, UnsupportedError, VerificationError
from ecmiip.quantize.ollama_template import OllamaTemplate, gguf_template, template_for_tokenizer
from ecmiip.quantize.parity_conversations import PARITY_CONVERSATIONS, Conversation

RENDER_GO = Path(__file__).with_name("gotemplate") / "render.go"


class GoMissingError(EcmiipError):
    """Checking a TEMPLATE needs the Go toolchain."""


def go_env(**overrides: str) -> dict[str, str]:
    """Go's environment offline (GOPROXY=off, the local toolchain), with caches where it can write."""
    offline = {"GOTOOLCHAIN": "local", "GO111MODULE": "on", "GOFLAGS": "", "GOWORK": "off", "GOPROXY": "off"}
    env = {**os.environ, **offline, **overrides}
    home = env.get("HOME", "")
    if not (home and os.access(home, os.W_OK)):
        scratch = Path(tempfile.gettempdir()) / "ecmiip-go"
        env.setdefault("GOCACHE", str(scratch / "cache"))
        env.setdefault("GOPATH", str(scratch / "path"))
    return env


def go_render(template_text: str, cases: Sequence[dict[str, Any]]) -> list[str]:
    """Render ``template_text`` with Go's text/template for each case (``Conversation.to_ollama()``)."""
    go = shutil.which("go")
    if go is None:
        raise GoMissingError("checking the Ollama TEMPLATE needs Go (`go` on PATH); install golang-go")
    payload = json.dumps({"template": template_text, "cases": list(cases)}, ensure_ascii=False)
    proc = subprocess.run(
        [go, "run", RENDER_GO.name],
        input=payload.encode(),
        capture_output=True,
        cwd=RENDER_GO.parent,
        env=go_env(),  # render.go needs the standard library only
        timeout=300,
    )
    if proc.returncode != 0:
        raise VerificationError(
            f"rendering the Go template failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return json.loads(proc.stdout)


def hf_render(tokenizer: Any, conversation: Conversation, *, modelfile_system: str = "") -> str:
    """The HF chat template's rendering of ``conversation`` with a generation prompt."""
    messages, kwargs = conversation.to_hf(modelfile_system)
    return from_tokenizer(tokenizer).render(messages, **kwargs)


def template_mismatches(
    template: OllamaTemplate,
    tokenizer: Any,
    conversations: Sequence[Conversation] = PARITY_CONVERSATIONS,
    *,
    modelfile_system: str = "",
) -> list[tuple[Conversation, str, str]]:
    """(conversation, HF text, Go text) for each conversation the two templates render differently."""
    got = go_render(template.text, [c.to_ollama(modelfile_system) for c in conversations])
    want = [hf_render(tokenizer, c, modelfile_system=modelfile_system) for c in conversations]
    return [(c, w, g) for c, w, g in zip(conversations, want, got, strict=True) if w != g]


def choose_template(
    tokenizer: Any, conversations: Sequence[Conversation] = PARITY_CONVERSATIONS, *, modelfile_system: str = ""
) -> OllamaTemplate:
    """The Go TEMPLATE of the model's family when Go proves it renders every conversation as HF does;
    else no TEMPLATE, so that Ollama renders the GGUF's own chat template (``gguf_template``).

    Without Go the family's template is kept unproven, as before (the verification says so).
    """
    try:
        template = template_for_tokenizer(tokenizer)
    except UnsupportedError as e:
        return gguf_template(tokenizer, why=str(e))
    if shutil.which("go") is None:
        return template
    mismatches = template_mismatches(template, tokenizer, conversations, modelfile_system=modelfile_system)
    if not mismatches:
        return template
    labels = ", ".join(c.label for c, _, _ in mismatches)
    why = (
        f"the {template.family!r} Go template renders {len(mismatches)} of {len(conversations)} parity "
        f"conversations differently from the model's chat template ({labels})"
    )
    return gguf_template(tokenizer, why=why)
