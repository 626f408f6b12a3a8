"""The Ollama TEMPLATE (a Go ``text/template``) that renders what a model's HF chat template renders.

Ollama renders a prompt one of two ways (0.34.4, as observed): with the Modelfile's Go TEMPLATE, or,
from 0.30 on, with the Jinja chat template inside the GGUF through llama.cpp's own engine, which it
prefers when that template offers more (Qwen3's has tools) unless ``OLLAMA_GO_TEMPLATE`` says which.
So a Modelfile carries a Go TEMPLATE only where one renders exactly what the HF template renders, and
the GGUF carries the HF template itself: Ollama's choice then changes nothing (but for reasoning kept in
history, which its llama-server path drops; see the README's Ollama section). The Go templates of the supported families are
the ``gotemplate/*.gotmpl`` files (package data, read byte for byte: a trailing newline there is part
of the prompt). The family is picked from the HF template's text and confirmed by rendering probe
conversations with it; the HF template's default system turn (SmolLM2, Qwen2.5) is found the same way,
never hard-coded. Any other template is left to the GGUF's Jinja (``gguf_template``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.resources import files
from typing import Any

from ecmiip.core.chat_template import from_tokenizer
from ecmiip.core.errors import UnsupportedError
from ecmiip.core.prompts import system_user
from ecmiip.quantize.go_strings import go_template_text

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
FAMILIES = ("qwen3", "chatml")
GGUF_JINJA = "gguf"  # the family of a Modelfile without a Go TEMPLATE: Ollama renders the GGUF's own template
# Stop strings written when the vocabulary has them: the end of a turn, the start of an invented next
# one, and the end of text (Qwen's pad and SmolLM2's BOS; a model that emits it has finished).
STOP_TOKENS = (IM_END, IM_START, "<|endoftext|>")

# Renders a list of {"role", "content"} messages with the HF template and a generation prompt;
# keyword arguments (enable_thinking) go to the template.
RenderHF = Callable[..., str]


@dataclass(frozen=True)
class OllamaTemplate:
    """``text`` is the Go TEMPLATE, empty for ``GGUF_JINJA``; ``why`` says why there is none."""

    family: str
    text: str
    stops: tuple[str, ...] = (IM_END, IM_START)
    default_system: str | None = None
    why: str = ""

    @property
    def is_go(self) -> bool:
        return self.family != GGUF_JINJA


def go_template(name: str) -> str:
    """The text of ``gotemplate/<name>.gotmpl`` exactly as stored."""
    return (files("ecmiip.quantize") / "gotemplate" / f"{name}.gotmpl").read_bytes().decode("utf-8")


def _with_default_system(body: str, default_system: str | None) -> str:
    """``body`` with its ``@SYSTEM@`` line replaced by the default system turn, or removed when there is none."""
    if default_system is None:
        return body.replace("@SYSTEM@\n", "")
    block = go_template("default_system").replace("@DEFAULT@", go_template_text(default_system))
    return body.replace("@SYSTEM@\n", block + "\n")


def _unsupported(why: str) -> UnsupportedError:
    return UnsupportedError(
        f"unsupported chat template: {why}. ec-miip writes Ollama templates for these families: "
        "qwen3 (ChatML with Qwen3 thinking), chatml (ChatML without thinking: Qwen2/Qwen2.5, SmolLM2)"
    )


def _probe_default_system(render_hf: RenderHF) -> str | None:
    """The system text the HF template inserts when a conversation has none (SmolLM2, Qwen2.5)."""
    probe, sys_probe = "ecmiip probe: user", "ecmiip probe: system"
    tail = f"{IM_START}user\n{probe}{IM_END}\n{IM_START}assistant\n"
    with_system = render_hf(system_user(probe, system=sys_probe))
    if with_system != f"{IM_START}system\n{sys_probe}{IM_END}\n{tail}":
        raise _unsupported(f"a system + user conversation renders as {with_system!r}, not as ChatML")
    alone = render_hf([{"role": "user", "content": probe}])
    if alone == tail:
        return None
    m = re.fullmatch(
        re.escape(f"{IM_START}system\n") + "(.*)" + re.escape(f"{IM_END}\n"), alone[: -len(tail)], re.S
    )
    if not alone.endswith(tail) or m is None:
        raise _unsupported(f"a single user message renders as {alone!r}, not as ChatML")
    return m.group(1)


def template_for(hf_chat_template: str, render_hf: RenderHF) -> OllamaTemplate:
    """Pick the template family from the HF template's text, and check the pick by rendering probes."""
    if IM_START not in hf_chat_template or IM_END not in hf_chat_template:
        raise _unsupported("it does not use ChatML's <|im_start|>/<|im_end|> markers")
    default_system = _probe_default_system(render_hf)
    if any(k in hf_chat_template for k in ("enable_thinking", "reasoning_content", "<think>")):
        off = render_hf([{"role": "user", "content": "x"}], enable_thinking=False)
        if not off.endswith(f"{IM_START}assistant\n<think>\n\n</think>\n\n"):
            raise _unsupported(
                "it mentions thinking but enable_thinking=False does not add an empty <think> block"
            )
        family = "qwen3"
    else:
        family = "chatml"
    text = _with_default_system(go_template(family), default_system)
    return OllamaTemplate(family, text, default_system=default_system)


def stops_for(tokenizer: Any) -> tuple[str, ...]:
    """The ``STOP_TOKENS`` the tokenizer knows, and its EOS token."""
    vocab = tokenizer.get_vocab()
    stops = [t for t in STOP_TOKENS if t in vocab]
    eos = tokenizer.eos_token
    return tuple(stops + ([eos] if eos and eos not in stops else []))


def template_for_tokenizer(tokenizer: Any) -> OllamaTemplate:
    """``template_for`` on a Hugging Face tokenizer's own chat template."""
    chat = from_tokenizer(tokenizer)
    if not chat.text:
        raise _unsupported("the tokenizer has no chat template")
    template = template_for(chat.text, chat.render)
    return replace(template, stops=stops_for(tokenizer))


def gguf_template(tokenizer: Any, why: str) -> OllamaTemplate:
    """No Go TEMPLATE: Ollama (0.30 and later) renders the chat template embedded in the GGUF."""
    return OllamaTemplate(GGUF_JINJA, "", stops=stops_for(tokenizer), why=why)
