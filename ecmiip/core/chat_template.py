"""Rendering a model's chat template: the one place ec-miip turns messages into prompt text.

A chat template is Jinja code shipped with the model, so it is untrusted: it runs in Jinja's
immutable sandbox, set up as transformers' ``apply_chat_template`` sets it up (trim_blocks,
lstrip_blocks, loop controls, ``raise_exception``, a ``tojson`` that keeps non-ASCII text,
``strftime_now``, a ``namespace`` that refuses dunder names), and messages are prepared as
transformers prepares them (keys whose value is None dropped, reasoning under ``reasoning_content``
and ``thinking``). So the text equals what the model was trained on, whether the template comes from
the Hugging Face tokenizer or from the GGUF. BOS/EOS text comes from the tokenizer's own tokens or
from the GGUF's ``tokenizer.ggml.bos_token_id``/``eos_token_id``, and nowhere else.

Whatever the template does wrong (a syntax error, a sandbox refusal, ``raise_exception``, ``1/0``) is
one ``ChatTemplateError`` naming where the template came from.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ecmiip.core.errors import InputError

# Names a message's reasoning goes under; templates read the first (Qwen3), gpt-oss reads "thinking".
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class ChatTemplateError(InputError):
    """A model's chat template does not compile, or fails on a conversation."""


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template's text and the BOS/EOS text it may use; ``source`` names it in errors.

    ``text`` is "" when the model has no chat template; a token is None when the model has none.
    """

    text: str
    bos_token: str | None = None
    eos_token: str | None = None
    source: str = "the model"

    def render(self, messages: Sequence[Mapping[str, Any]], *, add_generation_prompt: bool = True,
               **kwargs: Any) -> str:
        """``render_chat_template`` with this template's text, tokens and source."""
        return render_chat_template(
            self.text,
            messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
            source=self.source,
            **kwargs,
        )

    def check(self) -> None:
        """Compile the template now, so a broken one is refused when the model is opened."""
        _compiled(self.text, self.source)


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


def _environment():
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTags(jinja2.ext.Extension):
        """Pass-through for transformers' ``{% generation %}`` tag (assistant-token masks)."""

        tags = {"generation"}

        def parse(self, parser):
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    class TemplateDict:
        """``dict`` for templates, without the attributes that lead out of the sandbox."""

        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        """A Jinja namespace that refuses underscore names (the way to CPython internals)."""

        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            TemplateNamespace._check_name(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check_name(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"a namespace attribute may not start with '_': {name!r}")

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # Jinja's own tojson escapes HTML characters; transformers' keeps the text as it is.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTags, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals.update(
        raise_exception=raise_exception, strftime_now=strftime_now, dict=TemplateDict(), namespace=TemplateNamespace
    )
    return env


@functools.lru_cache(maxsize=16)
def _compile(text: str):
    return _environment().from_string(text)


def _compiled(text: str, source: str):
    import jinja2

    if not text:
        raise ChatTemplateError(f"{source}: not a chat model (it has no chat template)")
    try:
        return _compile(text)
    except jinja2.TemplateError as e:
        raise ChatTemplateError(f"{source}: its chat template does not compile: {_one_line(e)}") from e
    except RecursionError as e:
        raise ChatTemplateError(f"{source}: its chat template is nested too deeply to compile") from e


def _plain(value: Any) -> Any:
    """Mappings and sequences rebuilt as dicts and lists, keys whose value is None dropped."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _prepared(message: Mapping[str, Any]) -> dict[str, Any]:
    msg = _plain(message)
    reasoning = next((msg[k] for k in _REASONING_FIELDS if msg.get(k) is not None), None)
    return msg if reasoning is None else {"thinking": reasoning, **msg, "reasoning_content": reasoning}


def render_chat_template(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    add_generation_prompt: bool = True,
    bos_token: str | None = None,
    eos_token: str | None = None,
    source: str = "the model",
    **kwargs: Any,
) -> str:
    """The prompt text ``template`` makes of ``messages``, exactly as transformers' ``apply_chat_template``
    renders it; ``kwargs`` (``enable_thinking``...) go to the template and win over the tokens.

    Raises ``ChatTemplateError`` naming ``source`` for whatever the template does wrong.
    """
    import jinja2

    compiled = _compiled(template, source)
    tokens = {k: v for k, v in (("bos_token", bos_token), ("eos_token", eos_token)) if v is not None}
    try:
        return compiled.render(
            messages=[_prepared(m) for m in messages],
            tools=None,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            **{**tokens, **_plain(kwargs)},
        )
    except jinja2.TemplateError as e:  # SecurityError (the sandbox refused), raise_exception()
        raise ChatTemplateError(f"{source}: its chat template cannot be rendered: {_one_line(e)}") from e
    except Exception as e:  # noqa: BLE001 — a type error, 1/0 ... inside foreign template code
        raise ChatTemplateError(f"{source}: its chat template fails on the conversation: {_one_line(e)}") from e


def from_tokenizer(tokenizer: Any) -> ChatTemplate:
    """The chat template and BOS/EOS of a Hugging Face tokenizer ("" when it has no template)."""
    text = tokenizer.chat_template or ""
    if isinstance(text, Mapping):  # named templates: the default one renders chats
        text = text.get("default", "")
    where = getattr(tokenizer, "name_or_path", "") or "the tokenizer"
    return ChatTemplate(
        text,
        bos_token=tokenizer.bos_token,
        eos_token=tokenizer.eos_token,
        source=f"{where} (tokenizer_config.json or chat_template.jinja)",
    )


def from_llama(llm: Any, source: str) -> ChatTemplate:
    """The chat template and BOS/EOS embedded in the GGUF a ``llama_cpp.Llama`` has loaded.

    BOS/EOS are the tokens ``tokenizer.ggml.bos_token_id``/``eos_token_id`` name, as their vocabulary
    text; a GGUF without the key has no such token (llama.cpp's own fallback id is not used).
    """
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llm.n_vocab()

    def token(key: str) -> str | None:
        value = llm.metadata.get(key)
        if value is None or not 0 <= int(value) < n_vocab:
            return None
        return llama_cpp.llama_vocab_get_text(vocab, int(value)).decode("utf-8", errors="replace")

    return ChatTemplate(
        llm.metadata.get("tokenizer.chat_template") or "",
        bos_token=token("tokenizer.ggml.bos_token_id"),
        eos_token=token("tokenizer.ggml.eos_token_id"),
        source=str(source),
    )
