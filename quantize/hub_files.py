"""The files Ollama reads from a Hugging Face GGUF repository (``template``, ``system``, ``params``), taken
from the export's own Modelfile.

``ollama run hf.co/ORG/NAME:QUANT`` never sees our Modelfile: it reads an optional ``template`` (a Go
template), ``system`` (text) and ``params`` (JSON) from the repository root. The Modelfile is the one
source of truth, so these files are *read out of it* the way Ollama reads it (the parser port), never
built again from the prompt and stop lists: TEMPLATE and SYSTEM verbatim, and the PARAMETER lines typed
as Ollama's ``api.FormatParams`` types them when ``ollama create`` stores them (repeated keys such as
``stop`` a list, integers, float32 values, booleans), so the hub model runs with what a local
``ollama create -f Modelfile`` would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.quantize.modelfile_parser import parse_modelfile, read_modelfile

# api.Options and api.Runner of Ollama v0.34.4 (the version the tests pin): JSON key -> Go kind.
# "list" is []string (every repeated line kept); for the others the last line wins, as in Ollama's
# Modelfile.CreateRequest, which types each PARAMETER line with api.FormatParams in turn.
OLLAMA_PARAMETER_KINDS: dict[str, str] = {
    "num_ctx": "int", "num_batch": "int", "num_gpu": "int", "main_gpu": "int", "use_mmap": "bool",
    "num_thread": "int", "draft_num_predict": "int", "num_keep": "int", "seed": "int", "num_predict": "int",
    "top_k": "int", "top_p": "float", "min_p": "float", "typical_p": "float", "repeat_last_n": "int",
    "temperature": "float", "repeat_penalty": "float", "presence_penalty": "float",
    "frequency_penalty": "float", "stop": "list",
}  # fmt: skip
# Modelfile commands that are not parameters (everything else a PARAMETER line named by its key).
_COMMANDS = {"model", "template", "system", "adapter", "license", "message", "requires", "draft", "renderer", "parser"}


@dataclass(frozen=True)
class HubFiles:
    """Contents of the repository files; ``template`` is None when the Modelfile has no TEMPLATE (Ollama
    then renders the chat template inside the GGUF)."""

    template: str | None
    system: str | None
    params: dict[str, object]
    requires: str | None
    source: str  # the Modelfile's FROM

    def files(self) -> dict[str, bytes]:
        """File name -> exact bytes (UTF-8; no trailing newline is added to template or system: Ollama
        uses the file's text as the value, and a newline would become part of the prompt)."""
        out: dict[str, bytes] = {}
        if self.template is not None:
            out["template"] = self.template.encode("utf-8")
        if self.system is not None:
            out["system"] = self.system.encode("utf-8")
        out["params"] = (json.dumps(self.params, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        return out


def _typed(key: str, values: list[str]) -> object:
    kind = OLLAMA_PARAMETER_KINDS.get(key)
    if kind is None:
        raise InputError(f"Modelfile: PARAMETER {key} is not a parameter Ollama knows (it refuses the model)")
    if kind == "list":
        return list(values)
    text = values[-1]
    try:
        if kind == "int":
            return int(text, 10)
        if kind == "float":
            return float(text)
    except ValueError:
        raise InputError(f"Modelfile: PARAMETER {key} {text!r} is not a valid {kind}") from None
    if text.lower() in ("1", "t", "true"):  # Go's strconv.ParseBool
        return True
    if text.lower() in ("0", "f", "false"):
        return False
    raise InputError(f"Modelfile: PARAMETER {key} {text!r} is not a valid bool")


def hub_files_from_commands(commands: list[tuple[str, str]]) -> HubFiles:
    """The hub files of a Modelfile already parsed (``parse_modelfile``'s pairs)."""
    values: dict[str, list[str]] = {}
    single: dict[str, str] = {}
    for name, value in commands:
        if name in _COMMANDS:
            single[name] = value  # Ollama keeps the last TEMPLATE/SYSTEM
        else:
            values.setdefault(name, []).append(value)
    params = {key: _typed(key, vals) for key, vals in sorted(values.items())}
    return HubFiles(
        template=single.get("template"),
        system=single.get("system"),
        params=params,
        requires=single.get("requires"),
        source=single.get("model", ""),
    )


def hub_files(modelfile: Path) -> HubFiles:
    """The hub files of the Modelfile at ``modelfile``, read as Ollama reads it."""
    try:
        return hub_files_from_commands(read_modelfile(modelfile))
    except InputError as e:
        raise InputError(f"{modelfile}: {e}") from e


def hub_files_from_text(text: str) -> HubFiles:
    return hub_files_from_commands(parse_modelfile(text))
