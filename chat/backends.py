"""Where answers come from: llama.cpp in this process, or a local Ollama server.

The chat client and the benchmarks talk to one small interface (:class:`Backend`), so a conversation
looks the same whichever engine runs the model: a stream of :class:`Delta` pieces (thinking or answer
text), then :class:`Stats` for the turn. Both engines stay on this machine: Ollama is reached over
loopback only, unless the caller explicitly allows a remote host.
"""

from __future__ import annotations

import codecs
import ctypes
import http.client
import ipaddress
import json
import math
import random
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ecmiip.chat.thinking import OPEN_TAG, ThinkSplitter
from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.prompts import DEFAULT_NUM_CTX

# Sampling options both engines understand, under Ollama's names (llama.cpp calls temperature "temp").
SAMPLING_KEYS = frozenset(
    {"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty", "seed"}
)
# llama.cpp only: {token id: added logit}, e.g. -inf on the stop tokens for fixed-length benchmarks.
LLAMA_ONLY_SAMPLING_KEYS = frozenset({"logit_bias"})

OLLAMA_PORT = 11434  # Ollama's own default, also taken when an address names no port
DEFAULT_OLLAMA_HOST = f"http://127.0.0.1:{OLLAMA_PORT}"


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
    """What the chat client needs from an engine. One stream at a time per backend."""

    context_size: int
    last_stats: Stats | None

    def stream(
        self,
        messages: list[dict],
        *,
        think: bool | None,
        sampling: dict,
        max_tokens: int,
        stop_event: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """Answer the conversation; ``think=None`` leaves thinking to the model's default."""
        ...

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        """Length of the prompt these messages make, for the client's context budget."""
        ...

    def close(self) -> None: ...


def check_sampling(sampling: dict, allowed: frozenset[str], engine: str) -> None:
    unknown = sorted(set(sampling) - allowed)
    if unknown:
        raise InputError(f"{engine} does not support the sampling option(s) {', '.join(unknown)}")


def check_max_tokens(max_tokens: int) -> None:
    if max_tokens < 1:
        raise InputError(f"max_tokens must be at least 1, not {max_tokens}")


def prepare_prompt(backend: Any, messages: list[dict], think: bool | None, max_tokens: int) -> tuple[list[int], int, bool]:
    """(prompt tokens, answer budget, whether the prompt opened a thinking block) of a local engine's turn.

    Raises before anything is generated when the request cannot be served: a bad budget, a template
    that rejects the conversation, a prompt that does not fit the context.
    """
    check_max_tokens(max_tokens)
    prompt = backend.render_prompt(messages, think)
    tokens = backend.tokenize_prompt(prompt)
    if len(tokens) >= backend.context_size:
        raise InputError(
            f"the conversation is {len(tokens)} tokens but the context holds {backend.context_size}: "
            "shorten it or use a larger context"
        )
    return tokens, min(max_tokens, backend.context_size - len(tokens)), prompt.rstrip().endswith(OPEN_TAG)


# --------------------------------------------------------------------------------------------------
# llama.cpp


def render_with(formatter, messages: list[dict], think: bool | None) -> str:
    """Render ``messages`` with a GGUF's chat template (llama-cpp-python's sandboxed Jinja2); whatever
    the template does wrong — a sandbox refusal, raise_exception(), a type error, 1/0 — is the model's
    template's fault and one InputError, never a crash of the session."""
    options = {} if think is None else {"enable_thinking": think}
    try:
        return formatter(messages=messages, **options).prompt
    except Exception as e:  # noqa: BLE001 — any failure inside a foreign template
        raise InputError(f"the model's chat template rejected the conversation ({type(e).__name__}: {e})") from e


class LlamaCppBackend:
    """A GGUF run by llama.cpp in this process (llama-cpp-python), with the GGUF's own chat template.

    The prompt is rendered here rather than by ``create_chat_completion`` because that cannot pass
    template options (Qwen3's ``enable_thinking``). Tokens are streamed from ``Llama.generate`` and
    decoded with an incremental UTF-8 decoder: a Chinese character split over byte tokens is held
    until complete, never shown as U+FFFD (bytes that can never form a character are dropped).
    The KV cache is kept between turns, so a new turn evaluates only what differs from the last one.
    """

    # Long prompts are evaluated in slices of this many tokens, so a stop request is honoured while a
    # long document is being read, not only once the answer streams.
    PREFILL_STEP = 256

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = 4096,
        n_gpu_layers: int = -1,
        n_threads: int | None = None,
    ) -> None:
        import jinja2
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from ecmiip.quantize.llama_log import captured_llama_log

        path = Path(model_path)
        if not path.is_file():
            raise InputError(f"model not found: {path}")
        if not llama_cpp.llama_supports_gpu_offload():
            n_gpu_layers = 0
        with captured_llama_log() as log:
            try:
                self._llm = Llama(
                    str(path), n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=n_threads, verbose=False
                )
            except (ValueError, RuntimeError) as e:
                raise InputError(f"{path}: llama.cpp cannot load it ({_load_failure(log) or e})") from e
        self.model_path = path
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            self.close()
            raise InputError(f"{path}: not a chat model (the GGUF has no tokenizer.chat_template)")
        model = self._llm._model
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        try:
            self._formatter = Jinja2ChatFormatter(
                template,
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "",
            )
        except jinja2.TemplateError as e:
            self.close()
            raise InputError(f"{path}: the GGUF's chat template does not compile ({e})") from e
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        im_end = self._llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        self._extra_stops = frozenset(im_end) if len(im_end) == 1 else frozenset()
        self._pieces: dict[int, bytes] = {}
        self._choice_ids: dict[str, int] = {}
        self.context_size: int = self._llm.n_ctx()
        self.last_stats: Stats | None = None

    @property
    def llm(self):
        """The underlying ``llama_cpp.Llama`` (benchmarks compare against it on the same weights)."""
        return self._llm

    @cached_property
    def stop_token_ids(self) -> tuple[int, ...]:
        """Tokens that end an answer: every end-of-generation token and ``<|im_end|>``."""
        import llama_cpp

        eog = (t for t in range(self._llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(self._vocab, t))
        return tuple(sorted({*eog, *self._extra_stops}))

    def render_prompt(self, messages: list[dict], think: bool | None) -> str:
        """The prompt text the GGUF's template makes of ``messages``, ending with the assistant's turn."""

        return render_with(self._formatter, messages, think)

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt (special tokens parsed: the template writes them as text)."""
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def tokenize_text(self, text: str) -> list[int]:
        """Token ids of plain text as a prompt carries it: no BOS, and markup is not read as special tokens
        (the benchmarks measure a question's own length with it)."""
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        return len(self.tokenize_prompt(self.render_prompt(messages, think)))

    def choice_logits(self, messages: list[dict], choices: list[str]) -> dict[str, float]:
        """Next-token logits of each one-token ``choices`` string after the prompt (thinking off).

        The likelihood benchmark reads a multiple-choice answer from these without generating;
        ``last_stats`` says how much of the prompt was evaluated (decode 0), as after a turn.
        """
        ids = {c: self._choice_id(c) for c in choices}
        tokens, _, _ = prepare_prompt(self, messages, False, max_tokens=1)
        self.last_stats = None
        t0 = time.perf_counter()
        logits, evaluated = self._next_token_logits(tokens)
        prompt_ms = (time.perf_counter() - t0) * 1000
        self.last_stats = Stats(evaluated, prompt_ms, 0, 0.0, len(tokens), self.context_size, "stop", len(tokens))
        return {c: float(logits[i]) for c, i in ids.items()}

    def _choice_id(self, choice: str) -> int:
        token = self._choice_ids.get(choice)
        if token is None:
            ids = self._llm.tokenize(choice.encode("utf-8"), add_bos=False, special=False)
            if len(ids) != 1:
                raise InputError(f"the choice {choice!r} is not one token for this model ({len(ids)} tokens)")
            token = self._choice_ids[choice] = ids[0]
        return token

    def _next_token_logits(self, tokens: list[int]) -> tuple[Any, int]:
        """Logits after ``tokens`` and how many tokens were evaluated for them: only what differs from the
        KV cache's current prefix (at least the last token, whose logits are read)."""
        import llama_cpp
        import numpy as np

        llm = self._llm
        cached = llm.input_ids[: llm.n_tokens].tolist()
        keep = 0
        while keep < min(len(cached), len(tokens) - 1) and cached[keep] == tokens[keep]:
            keep += 1
        llm.n_tokens = keep
        llm.eval(tokens[keep:])
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy(), len(tokens) - keep

    def stream(
        self,
        messages: list[dict],
        *,
        think: bool | None,
        sampling: dict,
        max_tokens: int,
        stop_event: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """Stream the answer; errors in the request are raised here, before anything is generated."""
        check_sampling(sampling, SAMPLING_KEYS | LLAMA_ONLY_SAMPLING_KEYS, "llama.cpp")
        tokens, budget, in_thinking = prepare_prompt(self, messages, think, max_tokens)
        return self._generate(tokens, _llama_sampling(sampling), budget, stop_event, in_thinking)

    def _generate(
        self,
        tokens: list[int],
        sampling: dict[str, Any],
        budget: int,
        stop_event: threading.Event | None,
        in_thinking: bool,
    ) -> Iterator[Delta]:
        import llama_cpp

        llm = self._llm
        seed = sampling.pop("seed", None)
        stopped = stop_event.is_set if stop_event is not None else (lambda: False)
        t0 = time.perf_counter()
        llama_cpp.llama_perf_context_reset(llm.ctx)
        self.last_stats = None
        if not self._prefill(tokens, stopped):
            self.last_stats = self._stats(t0, t0, time.perf_counter(), None, len(tokens), 0, "cancelled")
            return
        t_prompt = time.perf_counter()
        perf = llama_cpp.llama_perf_context(llm.ctx)
        llm.set_seed(seed if seed is not None else random.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        splitter = ThinkSplitter(in_thinking=in_thinking)
        n, finish = 0, "cancelled"  # stays so if the reader abandons the stream (Ctrl-C)
        gen = llm.generate(tokens, **sampling)  # the whole prompt is cached now: it samples at once
        try:
            for token in gen:
                if token in self._extra_stops or llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish = "stop"
                    break
                n += 1
                for kind, text in splitter.feed(decoder.decode(self._piece(token))):
                    yield Delta(kind, text)
                if stopped():
                    break
                if n >= budget:
                    finish = "length"
                    break
            for kind, text in [*splitter.feed(decoder.decode(b"", final=True)), *splitter.flush()]:
                yield Delta(kind, text)
        finally:
            gen.close()
            self.last_stats = self._stats(t0, t_prompt, time.perf_counter(), perf, len(tokens), n, finish)

    def _prefill(self, tokens: list[int], stopped: Callable[[], bool]) -> bool:
        """Evaluate the prompt (what the cache lacks) in slices; False if a stop came first.

        Each slice is one ``generate`` call that samples a token nobody uses: ``generate`` itself keeps
        the longest cached prefix, so nothing here touches llama-cpp-python's cache bookkeeping.
        """
        llm = self._llm
        cached = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        for end in [*range(cached + self.PREFILL_STEP, len(tokens), self.PREFILL_STEP), len(tokens)]:
            if stopped():
                return False
            gen = llm.generate(tokens[:end], temp=0.0)
            next(gen)
            gen.close()
        return not stopped()

    def reset(self) -> None:
        """Forget the KV cache: the next prompt is evaluated cold (the speed benchmark wants that)."""
        self._llm.reset()

    def _stats(self, t0: float, t_start: float, t_end: float, perf, n_prompt: int, n: int, finish: str) -> Stats:
        """Wall times: the prompt from ``t0`` to ``t_start``, the answer from there to ``t_end``."""
        if perf is None:  # stopped during the prompt: only the wall time is known
            return Stats(0, (t_end - t0) * 1000, 0, 0.0, self._llm.n_tokens, self.context_size, finish, n_prompt)
        return Stats(
            prompt_tokens=_evaluated_tokens(perf),
            prompt_ms=(t_start - t0) * 1000,
            decode_tokens=n,
            decode_ms=(t_end - t_start) * 1000,
            ctx_used=n_prompt + n,
            ctx_size=self.context_size,
            finish=finish,
            prompt_total=n_prompt,
        )

    def _piece(self, token: int) -> bytes:
        """Bytes of one token (control tokens are empty); cached, they are asked for every token."""
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buf = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            if n < 0:  # the piece is longer than the buffer: -n is its length
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
            piece = self._pieces[token] = buf.raw[:n]
        return piece

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            llm.close()


def _load_failure(log: list[str]) -> str:
    """The informative line of llama.cpp's log, skipping the generic "failed to load model" trailers."""
    for line in reversed(log):
        text = line.strip()
        if text and "failed to load model" not in text:
            return text
    return log[-1].strip() if log else ""


def _evaluated_tokens(perf) -> int:
    """Prompt tokens llama.cpp evaluated since the perf reset.

    Batches of one token count as ``n_eval``, longer ones as ``n_p_eval``, and llama.cpp reports both
    as at least 1: a count is real only where time was spent on it.
    """
    return (perf.n_p_eval if perf.t_p_eval_ms > 0 else 0) + (perf.n_eval if perf.t_eval_ms > 0 else 0)


def _common_prefix(cached, tokens: list[int]) -> int:
    n = 0
    for a, b in zip(cached.tolist(), tokens, strict=False):
        if a != b:
            break
        n += 1
    return n


def _llama_sampling(sampling: dict) -> dict[str, Any]:
    """Our option names → ``Llama.generate`` keyword arguments (logit bias as a logits processor)."""
    out: dict[str, Any] = {("temp" if k == "temperature" else k): v for k, v in sampling.items()}
    bias = out.pop("logit_bias", None)
    if bias:
        import numpy as np
        from llama_cpp import LogitsProcessorList

        ids = np.array([int(k) for k in bias], dtype=np.intp)
        add = np.array([float(v) for v in bias.values()], dtype=np.float32)

        def apply_bias(input_ids, scores):
            scores = scores.copy()
            scores[ids] += add
            return scores

        out["logits_processor"] = LogitsProcessorList([apply_bias])
    return out


# --------------------------------------------------------------------------------------------------
# Ollama


class OllamaBackend:
    """A model served by a local Ollama (``/api/chat``, streamed NDJSON), standard library only.

    Ollama has no tokenize endpoint, so :meth:`count_tokens` estimates on the safe side: one token
    per CJK character (Qwen's vocabulary often packs two into one), one per three other characters,
    and five per message for the chat markup. For the same reason ``last_stats.prompt_total`` is None:
    Ollama's ``prompt_eval_count`` is what it evaluated (its cache hit is not reported), and an
    estimate would make the cache's share look exact when it is not. ``context_size`` is sent as
    ``num_ctx`` on every request, because without it Ollama picks a context by memory and may silently
    cut long prompts.
    """

    def __init__(
        self,
        model: str,
        host: str = DEFAULT_OLLAMA_HOST,
        *,
        num_ctx: int = DEFAULT_NUM_CTX,
        allow_remote: bool = False,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
    ) -> None:
        parts = urlsplit(host if "://" in host else f"http://{host}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"not an Ollama address: {host} (expected e.g. {DEFAULT_OLLAMA_HOST})")
        if not allow_remote and not _is_loopback(parts.hostname):
            raise InputError(
                f"refusing to send the conversation to {parts.hostname}: ec-miip keeps your data on this "
                "machine, so Ollama must listen on loopback (127.0.0.1, ::1, localhost); "
                "pass allow_remote=True to use a remote server"
            )
        self.model = model
        self._scheme, self._hostname = parts.scheme, parts.hostname
        self._port = parts.port or (OLLAMA_PORT if parts.scheme == "http" else 443)
        netloc = f"[{self._hostname}]" if ":" in self._hostname else self._hostname
        self.host = f"{self._scheme}://{netloc}:{self._port}"
        if not (timeout > 0 and connect_timeout > 0):
            raise InputError(f"Ollama timeouts must be positive seconds, not {timeout} / {connect_timeout}")
        self._timeout, self._connect_timeout = timeout, connect_timeout  # first byte (and any pause), connecting
        self.context_size: int = num_ctx
        self.last_stats: Stats | None = None

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        total = 3 + (4 if think is False else 0)  # the assistant's header, an empty think block
        for message in messages:
            total += 5 + _estimate_tokens(str(message.get("content") or ""))
        return total

    def stream(
        self,
        messages: list[dict],
        *,
        think: bool | None,
        sampling: dict,
        max_tokens: int,
        stop_event: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """Send the request now (connection errors surface here) and stream the reply."""
        check_sampling(sampling, SAMPLING_KEYS, "Ollama")
        check_max_tokens(max_tokens)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "options": {**sampling, "num_ctx": self.context_size, "num_predict": max_tokens},
        }
        if think is not None:
            body["think"] = think
        self.last_stats = None
        t0 = time.perf_counter()
        conn, resp = self._post("/api/chat", body)
        return self._read(conn, resp, stop_event, t0)

    def _post(self, path: str, body: dict) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        conn = cls(self._hostname, self._port, timeout=self._connect_timeout)
        try:
            try:
                conn.connect()
            except TimeoutError as e:
                raise BackendError(f"Ollama at {self.host} did not accept a connection within "
                                   f"{self._connect_timeout:g} s (is it running? --connect-timeout)") from e
            conn.sock.settimeout(self._timeout)  # from now on: the wait for the first byte and any pause
            conn.request("POST", path, body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                         headers={"Content-Type": "application/json"})
            try:
                resp = conn.getresponse()
            except TimeoutError as e:
                raise BackendError(f"Ollama at {self.host} sent nothing for {self._timeout:g} s (the model may "
                                   "still be loading: wait longer with --timeout SECONDS)") from e
            except http.client.HTTPException as e:
                raise BackendError(f"Ollama at {self.host} sent a reply that is not HTTP ({e!r})") from e
            if resp.status != 200:
                detail = _error_message(resp.read())
                raise BackendError(f"Ollama at {self.host}: {detail} (HTTP {resp.status})")
        except ConnectionRefusedError as e:
            conn.close()
            raise BackendError(f"Ollama is not running at {self.host} (start it with `ollama serve`)") from e
        except OSError as e:
            conn.close()
            raise BackendError(f"cannot reach Ollama at {self.host}: {e}") from e
        except BaseException:  # BackendError, Ctrl-C while waiting: never leave the socket open
            conn.close()
            raise
        return conn, resp

    def _read(self, conn, resp, stop_event: threading.Event | None, t0: float) -> Iterator[Delta]:
        splitter = ThinkSplitter()
        final: dict | None = None
        chunks, finish = 0, "cancelled"
        t_first: float | None = None
        try:
            try:
                for raw in resp:
                    if stop_event is not None and stop_event.is_set():
                        break  # closing the connection makes Ollama stop generating
                    if not raw.strip():
                        continue
                    msg = _ndjson(raw)
                    if msg.get("error"):
                        raise BackendError(f"Ollama: {msg['error']}")
                    message = _checked_message(msg, raw)
                    if message.get("thinking") or message.get("content"):
                        chunks += 1
                        t_first = t_first or time.perf_counter()
                    if message.get("thinking"):
                        yield Delta("thinking", message["thinking"])
                    for kind, text in splitter.feed(message.get("content") or ""):
                        yield Delta(kind, text)
                    if msg.get("done"):
                        final, finish = _checked_final(msg, raw), msg.get("done_reason") or "stop"
                        break
                else:
                    raise BackendError(f"Ollama at {self.host} ended the stream before the answer was complete")
            except TimeoutError as e:
                raise BackendError(f"Ollama at {self.host} sent nothing for {self._timeout:g} s in the middle of "
                                   "the answer (--timeout SECONDS waits longer)") from e
            except (OSError, http.client.HTTPException) as e:
                raise BackendError(f"the connection to Ollama at {self.host} broke: {e!r}") from e
            for kind, text in splitter.flush():
                yield Delta(kind, text)
        finally:
            conn.close()
            self.last_stats = self._stats(final, chunks, finish, t0, t_first)

    def _stats(self, final: dict | None, chunks: int, finish: str, t0: float, t_first: float | None) -> Stats:
        if final is None:  # cancelled: Ollama sends its figures only at the end; count chunks instead
            now = time.perf_counter()
            prompt_ms = ((t_first or now) - t0) * 1000
            decode_ms = (now - t_first) * 1000 if t_first else 0.0
            return Stats(0, prompt_ms, chunks, decode_ms, 0, self.context_size, finish)
        prompt, decoded = int(final.get("prompt_eval_count") or 0), int(final.get("eval_count") or 0)
        return Stats(
            prompt_tokens=prompt,
            prompt_ms=(final.get("prompt_eval_duration") or 0) / 1e6,
            decode_tokens=decoded,
            decode_ms=(final.get("eval_duration") or 0) / 1e6,
            ctx_used=prompt + decoded,
            ctx_size=self.context_size,
            finish=finish,
        )

    def close(self) -> None:
        """Nothing to release: each request has its own connection."""


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _estimate_tokens(text: str) -> int:
    cjk = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))
    return cjk + math.ceil((len(text) - cjk) / 3)


def _ndjson(raw: bytes) -> dict:
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise BackendError(f"Ollama sent a line that is not JSON: {raw[:200]!r}") from e
    if not isinstance(msg, dict):
        raise BackendError(f"Ollama sent an unexpected line: {raw[:200]!r}")
    return msg


def _checked_message(msg: dict, raw: bytes) -> dict:
    """The ``message`` of a streamed line, its text fields checked: a reply of the wrong shape is an error."""
    message = msg.get("message") or {}
    if not isinstance(message, dict):
        raise BackendError(f"Ollama sent a reply of an unexpected shape ('message' is not an object): {raw[:200]!r}")
    for key in ("content", "thinking"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise BackendError(f"Ollama sent a reply of an unexpected shape ('message.{key}' is "
                               f"{type(message[key]).__name__}, not text): {raw[:200]!r}")
    return message


def _checked_final(msg: dict, raw: bytes) -> dict:
    """The last line of a reply, its figures and ``done_reason`` checked."""
    for key in ("prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"):
        value = msg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
                                  or not math.isfinite(value)):
            raise BackendError(f"Ollama sent a reply of an unexpected shape ('{key}' is {value!r}): {raw[:200]!r}")
    reason = msg.get("done_reason")
    if reason is not None and not isinstance(reason, str):
        raise BackendError(f"Ollama sent a reply of an unexpected shape ('done_reason' is {reason!r}): {raw[:200]!r}")
    return msg


def _error_message(body: bytes) -> str:
    """Ollama's ``{"error": ...}`` text, or the start of whatever else the server said."""
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", errors="replace").strip()[:300] or "no details"
