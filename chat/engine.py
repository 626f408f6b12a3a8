"""The turn both in-process engines share: prompt → KV-cache reuse → prefill → sampled tokens → Stats.

llama.cpp (:mod:`~ecmiip.chat.llamacpp_backend`) and transformers (:mod:`~ecmiip.chat.transformers_backend`)
differ only in how they hold a model, so each implements a few small hooks (tokenize; the tokens its
KV cache holds and how to trim it; feed tokens and read the next-token logits; draw the answer's
tokens; decode a token's text; reset; close) and :class:`LocalEngine` does the rest. A turn is then
rendered, cached, interrupted and counted the same way whichever engine runs it.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Sequence
from functools import cached_property
from typing import Any, Protocol

from ecmiip.chat.backends import (
    LOCAL_ONLY_SAMPLING_KEYS,
    SAMPLING_KEYS,
    Delta,
    Stats,
    check_max_tokens,
    check_sampling,
)
from ecmiip.chat.thinking import OPEN_TAG, ThinkSplitter
from ecmiip.core.chat_template import ChatTemplate
from ecmiip.core.errors import InputError


class TokenDecoder(Protocol):
    """Text of a token stream, released only once whole characters are known (never U+FFFD halves)."""

    def add(self, token: int) -> str: ...

    def flush(self) -> str: ...


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LocalEngine(ABC):
    """A model run in this process, behind the :class:`~ecmiip.chat.backends.Backend` protocol.

    The prompt is rendered with the model's own chat template (:mod:`ecmiip.core.chat_template`). The
    KV cache is kept between turns, so a turn evaluates only what differs from the last one (at least
    the prompt's last token, whose logits are read), and the prompt is evaluated in slices of
    :attr:`PREFILL_STEP` tokens, so a stop request is honoured while a long document is read, not only
    once the answer streams. A subclass sets ``engine`` (its name in messages), ``context_size`` and
    ``_template`` and implements the hooks.
    """

    PREFILL_STEP = 256
    supports_logits = True
    supports_tokenizer = True
    supports_reset = True
    engine: str
    context_size: int
    _template: ChatTemplate

    def __init__(self) -> None:
        self.last_stats: Stats | None = None
        self._choice_ids: dict[str, int] = {}

    # -- hooks ---------------------------------------------------------------------------------------

    @abstractmethod
    def tokenize_prompt(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt; no BOS is added, the template writes what the model needs."""

    @abstractmethod
    def tokenize_text(self, text: str) -> list[int]:
        """Token ids of plain text as a prompt carries it: no BOS, and markup is not read as special tokens
        (the benchmarks measure a question's own length with it)."""

    @property
    @abstractmethod
    def stop_token_ids(self) -> tuple[int, ...]:
        """Tokens that end an answer."""

    @abstractmethod
    def _cached_tokens(self) -> Sequence[int]:
        """The tokens the KV cache holds now."""

    @abstractmethod
    def _keep(self, n: int) -> int:
        """Trim the KV cache to its first ``n`` tokens; how many it keeps (0: a fresh cache)."""

    @abstractmethod
    def _forward(self, ids: list[int]) -> Any:
        """Feed ``ids`` after the cached tokens; the next-token logits, indexed by token id."""

    @abstractmethod
    def _sample(self, tokens: list[int], logits: Any, sampling: dict[str, Any], seed: int) -> Generator[int, Any, None]:
        """The answer's tokens after the prompt ``tokens`` (fully cached, ``logits`` after it), drawn with
        ``sampling``; closed by the reader when the answer ends."""

    @abstractmethod
    def _decoder(self) -> TokenDecoder:
        """A fresh decoder of the answer's tokens."""

    @abstractmethod
    def reset(self) -> None:
        """Forget the KV cache: the next prompt is evaluated cold (the speed benchmark wants that)."""

    @abstractmethod
    def close(self) -> None:
        """Free the model now."""

    # -- prompts -------------------------------------------------------------------------------------

    def render_prompt(self, messages: list[dict], think: bool | None) -> str:
        """The prompt text the model's template makes of ``messages``, ending with the assistant's turn."""
        return self._template.render(messages, **({} if think is None else {"enable_thinking": think}))

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        return len(self.tokenize_prompt(self.render_prompt(messages, think)))

    def _prepare(self, messages: list[dict], think: bool | None, max_tokens: int) -> tuple[list[int], int, bool]:
        """(prompt tokens, answer budget, whether the prompt opened a thinking block) of a turn.

        Raises before anything is generated when the request cannot be served: a bad budget, a template
        that rejects the conversation, a prompt that does not fit the context.
        """
        check_max_tokens(max_tokens)
        prompt = self.render_prompt(messages, think)
        tokens = self.tokenize_prompt(prompt)
        if len(tokens) >= self.context_size:
            raise InputError(
                f"the conversation is {len(tokens)} tokens but the context holds {self.context_size}: "
                "shorten it or use a larger context"
            )
        return tokens, min(max_tokens, self.context_size - len(tokens)), prompt.rstrip().endswith(OPEN_TAG)

    # -- likelihood ----------------------------------------------------------------------------------

    def choice_logits(self, messages: list[dict], choices: list[str]) -> dict[str, float]:
        """Next-token logits of each one-token ``choices`` string after the prompt (thinking off).

        The likelihood benchmark reads a multiple-choice answer from these without generating;
        ``last_stats`` says how much of the prompt was evaluated (decode 0), as after a turn.
        """
        ids = {c: self._choice_id(c) for c in choices}
        tokens, _, _ = self._prepare(messages, False, max_tokens=1)
        self.last_stats = None
        t0 = time.perf_counter()
        logits, evaluated = self._evaluate(tokens, lambda: False)
        prompt_ms = (time.perf_counter() - t0) * 1000
        self.last_stats = Stats(evaluated, prompt_ms, 0, 0.0, len(tokens), self.context_size, "stop", len(tokens))
        return {c: float(logits[i]) for c, i in ids.items()}

    def _choice_id(self, choice: str) -> int:
        token = self._choice_ids.get(choice)
        if token is None:
            ids = self.tokenize_text(choice)
            if len(ids) != 1:
                raise InputError(f"the choice {choice!r} is not one token for this model ({len(ids)} tokens)")
            token = self._choice_ids[choice] = int(ids[0])
        return token

    # -- generation ----------------------------------------------------------------------------------

    @cached_property
    def _stops(self) -> frozenset[int]:
        return frozenset(self.stop_token_ids)

    def stream(self, messages: list[dict], *, think: bool | None, sampling: dict, max_tokens: int,
               stop_event: threading.Event | None = None) -> Generator[Delta, None, None]:
        """Stream the answer; errors in the request are raised here, before anything is generated."""
        check_sampling(sampling, SAMPLING_KEYS | LOCAL_ONLY_SAMPLING_KEYS, self.engine)
        tokens, budget, in_thinking = self._prepare(messages, think, max_tokens)
        return self._generate(tokens, dict(sampling), budget, stop_event, in_thinking)

    def _generate(
        self,
        tokens: list[int],
        sampling: dict[str, Any],
        budget: int,
        stop_event: threading.Event | None,
        in_thinking: bool,
    ) -> Generator[Delta, None, None]:
        stopped = stop_event.is_set if stop_event is not None else (lambda: False)
        seed = sampling.pop("seed", None)
        seed = seed if seed is not None else random.randrange(2**31)
        self.last_stats = None
        t0 = time.perf_counter()
        logits, evaluated = self._evaluate(tokens, stopped)
        if logits is None:  # stopped while the prompt was read
            wall_ms = (time.perf_counter() - t0) * 1000
            used = len(self._cached_tokens())
            self.last_stats = Stats(evaluated, wall_ms, 0, 0.0, used, self.context_size, "cancelled", len(tokens))
            return
        t_prompt = time.perf_counter()
        decoder = self._decoder()
        splitter = ThinkSplitter(in_thinking=in_thinking)
        n, finish = 0, "cancelled"  # stays so if the reader abandons the stream (Ctrl-C)
        drawn = self._sample(tokens, logits, sampling, seed)
        try:
            for token in drawn:
                if token in self._stops:
                    finish = "stop"
                    break
                n += 1
                for kind, text in splitter.feed(decoder.add(token)):
                    yield Delta(kind, text)
                if stopped():
                    break
                if n >= budget:
                    finish = "length"
                    break
            for kind, text in [*splitter.feed(decoder.flush()), *splitter.flush()]:
                yield Delta(kind, text)
        finally:
            drawn.close()
            self.last_stats = Stats(
                prompt_tokens=evaluated,
                prompt_ms=(t_prompt - t0) * 1000,
                decode_tokens=n,
                decode_ms=(time.perf_counter() - t_prompt) * 1000,
                ctx_used=len(tokens) + n,
                ctx_size=self.context_size,
                finish=finish,
                prompt_total=len(tokens),
            )

    def _evaluate(self, tokens: list[int], stopped: Callable[[], bool]) -> tuple[Any, int]:
        """Logits after ``tokens`` and how many tokens were evaluated for them.

        Only what the KV cache lacks is evaluated (at least the last token, whose logits are read). The
        logits are None when a stop came before the whole prompt was read.
        """
        if not tokens:
            raise InputError("the chat template made an empty prompt")
        keep = self._keep(min(common_prefix(self._cached_tokens(), tokens), len(tokens) - 1))
        logits = None
        for start in range(keep, len(tokens), self.PREFILL_STEP):
            if stopped():
                return None, start - keep
            logits = self._forward(tokens[start : start + self.PREFILL_STEP])
        return (None if stopped() else logits), len(tokens) - keep
