"""The Ollama Modelfile written next to an exported GGUF, and the repository's canonical one.

Values are quoted for Ollama's Modelfile parser, which has no escape sequences; each quoted form is
read back through ``modelfile_parser`` (a port of Ollama's parser) before it is written, and a value no
form carries unchanged is an InputError naming the problem.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from ecmiip import __version__
from ecmiip.core.errors import InputError
from ecmiip.core.outputs import write_text_atomic
from ecmiip.core.prompts import DEFAULT_NUM_CTX, LEGAL_SYSTEM_PROMPT
from ecmiip.quantize.go_strings import describe_char, go_is_print
from ecmiip.quantize.modelfile_parser import parse_commands
from ecmiip.quantize.ollama_template import OllamaTemplate

# REQUIRES: the oldest Ollama that runs what we write. REQUIRES itself came in 0.14.0 (older releases
# refuse the whole file: "command must be one of ..."), after the thinking fields our Go templates use
# (0.9.0); rendering the GGUF's own Jinja chat template, which a Modelfile without TEMPLATE relies on,
# came with the llama-server engine in 0.30.0. Tested against Ollama 0.34.4 (tests/test_ollama_*.py).
REQUIRES_GO_TEMPLATE = "0.14.0"
REQUIRES_GGUF_TEMPLATE = "0.30.0"


def _why_unquotable(s: str, what: str) -> str:
    for ch in s:
        if ch not in " \t\r\n" and not go_is_print(ch):
            return f"{what} contains {describe_char(ch)}, which Ollama's Modelfile parser silently drops"
    # Both quoted forms fail only when a line that is not the last ends with '"""' (spaces aside): it
    # closes a """...""" value early, and its final '"' closes a "..." value early.
    lines = re.split(r"[\r\n]", s)[:-1]
    line = next((i for i, ln in enumerate(lines, 1) if ln.rstrip(" \t").endswith('"""')), "?")
    return (
        f"{what} cannot be written in a Modelfile: its line {line} ends with '\"\"\"', and Ollama's parser, "
        "which has no escape sequences, would end the value there; reword that line end"
    )


def quote_value(s: str, *, what: str = "value", allow_bare: bool = False) -> str:
    """``s`` as a Modelfile value that Ollama reads back unchanged, else InputError naming the problem.

    Ollama's parser has no escapes: a value ends at the first newline where the text so far is a
    complete "..." or \"\"\"...\"\"\" string, and it drops non-printable runes. So try the forms and keep
    the first that round-trips through the port of the parser.
    """
    forms = (
        ['"""' + s + '"""', '"' + s + '"'] if ("\n" in s or "\r" in s) else ['"' + s + '"', '"""' + s + '"""']
    )
    for form in ([s] if allow_bare else []) + forms:
        with contextlib.suppress(InputError):  # the form ends early and the rest does not parse
            if parse_commands(f"SYSTEM {form}\n") == [("system", s)]:
                return form
    raise InputError(_why_unquotable(s, what))


def _parameter_line(key: str, value: object) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        raise InputError(f"invalid Modelfile parameter name {key!r}")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        text = quote_value(str(value), what=f"PARAMETER {key}")
    return f"PARAMETER {key} {text}"


def _template_comment(template: OllamaTemplate) -> list[str]:
    if template.is_go:
        return [
            f"# TEMPLATE: Go template of the {template.family!r} family; it renders exactly what the model's Hugging",
            "# Face chat template renders. Ollama 0.30+ may render the GGUF's own chat template instead (it prefers",
            "# the one with more capabilities); OLLAMA_GO_TEMPLATE=1 makes it use this one.",
        ]
    return [
        "# No TEMPLATE: Ollama renders the chat template inside the GGUF (the model's own) with llama.cpp,",
        f"# because {' '.join(template.why.split())}.",
    ]


def render_modelfile(
    *,
    gguf_name: str,
    template: OllamaTemplate,
    system: str | None = LEGAL_SYSTEM_PROMPT,
    parameters: dict[str, object] | None = None,
    license_text: str | None = None,
    num_ctx: int = DEFAULT_NUM_CTX,
) -> str:
    """The Modelfile text; ``gguf_name`` is relative to the Modelfile's folder.

    ``num_ctx`` is always written: without it Ollama picks a context by VRAM and may silently
    truncate long prompts; a ``num_ctx`` in ``parameters`` wins. A list value gives repeated lines.
    """
    if Path(gguf_name).is_absolute() or "\\" in gguf_name:
        raise InputError(f"gguf_name must be a path relative to the Modelfile's folder, not {gguf_name!r}")
    gguf_name = gguf_name.removeprefix("./")
    lines = [f"# Ollama Modelfile written by ec-miip {__version__}.", *_template_comment(template)]
    lines += [
        "# Create the model with: ollama create <name> -f Modelfile",
        f"FROM {quote_value('./' + gguf_name, what='FROM path', allow_bare=True)}",
        f"REQUIRES {REQUIRES_GO_TEMPLATE if template.is_go else REQUIRES_GGUF_TEMPLATE}",
    ]
    if template.is_go:
        lines.append(f"TEMPLATE {quote_value(template.text, what='TEMPLATE')}")
    if system is not None:
        lines.append(f"SYSTEM {quote_value(system, what='SYSTEM')}")
    lines += [_parameter_line("stop", stop) for stop in template.stops]
    for key, value in {"num_ctx": num_ctx, **(parameters or {})}.items():
        values = value if isinstance(value, list | tuple) else [value]
        lines += [_parameter_line(key, v) for v in values]
    if license_text is not None:
        lines.append(f"LICENSE {quote_value(license_text, what='LICENSE')}")
    return "\n".join(lines) + "\n"


def write_modelfile(path: Path, **kwargs: Any) -> str:
    """Write ``render_modelfile(**kwargs)`` to ``path`` atomically; returns the text."""
    text = render_modelfile(**kwargs)
    write_text_atomic(path, text)
    return text


# --- The repository's canonical Modelfile -----------------------------------------------------------

CANONICAL_GGUF = "./dist/ec-miip-Q4_K_M.gguf"
QWEN3_LICENSE = """Qwen3-4B is licensed under the Apache License, Version 2.0 (the "License"); you may not use
this model except in compliance with the License. You may obtain a copy of the License at
http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to in writing,
the model is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either
express or implied. See the License for the specific language governing permissions and limitations."""


def canonical_modelfile(template: OllamaTemplate) -> str:
    """The top-level ``Modelfile`` of the repository: the Qwen3-4B export in ``dist/``."""
    from ecmiip.core.prompts import SAMPLING_DEFAULTS

    return render_modelfile(
        gguf_name=CANONICAL_GGUF,
        template=template,
        parameters=dict(SAMPLING_DEFAULTS),
        license_text=QWEN3_LICENSE,
    )
