"""What the chat client and the benchmarks need from an engine: the :class:`Backend` protocol.

A conversation looks the same whichever engine runs the model: a stream of :class:`Delta` pieces
(thinking or answer text), then :class:`Stats` for the turn. The engines: llama.cpp and transformers in
this process (:mod:`~ecmiip.chat.llamacpp_backend`, :mod:`~ecmiip.chat.transformers_backend`, sharing
:class:`~ecmiip.chat.engine.LocalEngine`), or a local Ollama (:mod:`~ecmiip.chat.ollama_backend`).
What only some engines can do is declared by each (``supports_*``), so callers check the declaration
instead of probing for methods.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ecmiip.core.errors import EcmiipError, InputError

# Sampling options every engine understands, under Ollama's names (llama.cpp calls temperature "temp").
SAMPLING_KEYS = frozenset(
    {"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty", "seed"}
)
# The local engines only: {token id: added logit}, e.g. -inf on the stop tokens for fixed-length benchmarks.
LOCAL_ONLY_SAMPLING_KEYS = frozenset({"logit_bias"})


class BackendError(EcmiipError):
    """The model server is unreachable or failed; the message says what to do."""


@dataclass
class Delta:
    """One streamed piece of an answer: reasoning (``thinking``) or the answer proper (``content``)."""

    kind: Literal["thinking", "content"]
    text: str


@dataclass
class Stats:
    """Figures of one turn, for the status line and the benchmarks.

    ``prompt_tokens`` counts the prompt tokens evaluated this turn (a prefix reused from the cache is
    not evaluated again); ``decode_tokens`` the answer's tokens and ``decode_ms`` the time from the end
    of the prompt to the last token. ``ctx_used`` is what the conversation now fills of ``ctx_size``.
    ``finish`` is ``stop`` (the model ended, or a logits-only call), ``length`` (token budget or
    context full) or ``cancelled`` (stop event). ``prompt_total`` is the whole rendered prompt's
    length, so the benchmarks can tell what the cache saved; None where the engine does not say
    (Ollama reports only what it evaluated).
    """

    prompt_tokens: int
    prompt_ms: float
    decode_tokens: int
    decode_ms: float
    ctx_used: int
    ctx_size: int
    finish: str = "stop"
    prompt_total: int | None = None

    @property
    def cached_tokens(self) -> int | None:
        """Prompt tokens taken from the KV cache rather than evaluated; None where the total is unknown."""
        return max(self.prompt_total - self.prompt_tokens, 0) if self.prompt_total is not None else None

    @property
    def prompt_tokens_per_s(self) -> float:
        """0.0 when nothing was timed (a fully cached prompt, a cancelled turn)."""
        return self.prompt_tokens / self.prompt_ms * 1000 if self.prompt_ms > 0 else 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        return self.decode_tokens / self.decode_ms * 1000 if self.decode_ms > 0 else 0.0


@runtime_checkable
class Backend(Protocol):
    """An engine answering conversations. One stream at a time per backend.

    Every backend has every member; the optional capabilities are declared by the ``supports_*``
    flags, and an engine without one refuses its methods with an InputError:

    * ``supports_logits``: :meth:`choice_logits` (the likelihood scorer);
    * ``supports_tokenizer``: the prompt is rendered and tokenized in this process —
      :meth:`render_prompt`, :meth:`tokenize_prompt`, :meth:`tokenize_text` and ``stop_token_ids``
      (an engine without it has no stop ids here: ``()``);
    * ``supports_reset``: :meth:`reset` forgets the KV cache (a cold prompt for the speed benchmark).
    """

    supports_logits: bool
    supports_tokenizer: bool
    supports_reset: bool
    context_size: int
    last_stats: Stats | None  # of the last turn or logits call; None before one and while one runs

    def stream(self, messages: list[dict], *, think: bool | None, sampling: dict, max_tokens: int,
               stop_event: threading.Event | None = None) -> Generator[Delta, None, None]:
        """Answer the conversation; ``think=None`` leaves thinking to the model's default. Errors in
        the request are raised here, before anything is generated; closing the generator stops the answer."""
        ...

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        """Length of the prompt these messages make, for the client's context budget."""
        ...

    def render_prompt(self, messages: list[dict], think: bool | None) -> str:
        """The prompt text the model's chat template makes of ``messages``, ending with the assistant's turn."""
        ...

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt (the special tokens it writes as text parsed as such)."""
        ...

    def tokenize_text(self, text: str) -> list[int]:
        """Token ids of plain text as a prompt carries it: no BOS, markup not read as special tokens."""
        ...

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        """Tokens that end an answer."""
        ...

    def choice_logits(self, messages: list[dict], choices: list[str]) -> dict[str, float]:
        """Next-token logits of each one-token ``choices`` string after the prompt (thinking off)."""
        ...

    def reset(self) -> None:
        """Forget the KV cache: the next prompt is evaluated cold."""
        ...

    def close(self) -> None: ...


def check_sampling(sampling: dict, allowed: frozenset[str], engine: str) -> None:
    unknown = sorted(set(sampling) - allowed)
    if unknown:
        raise InputError(f"{engine} does not support the sampling option(s) {', '.join(unknown)}")


def check_max_tokens(max_tokens: int) -> None:
    if max_tokens < 1:
        raise InputError(f"max_tokens must be at least 1, not {max_tokens}")
