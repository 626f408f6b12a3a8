"""Answers from a model served by a local Ollama (``/api/chat``, streamed NDJSON), standard library only.

Ollama is reached over loopback only, unless the caller explicitly allows a remote host: ec-miip keeps
the conversation on this machine. Ollama renders, tokenizes and caches on its side, so this backend
declares no logits, no tokenizer and no cache reset (see :class:`~ecmiip.chat.backends.Backend`).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import threading
import time
import unicodedata
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

from ecmiip.chat.backends import SAMPLING_KEYS, BackendError, Delta, Stats, check_max_tokens, check_sampling
from ecmiip.chat.thinking import ThinkSplitter
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import DEFAULT_NUM_CTX

OLLAMA_PORT = 11434  # Ollama's own default, also taken when an address names no port
DEFAULT_OLLAMA_HOST = f"http://127.0.0.1:{OLLAMA_PORT}"
DEFAULT_TIMEOUT_S = 120.0  # the wait for the first byte of an answer (a model may be loading) and any pause
DEFAULT_CONNECT_TIMEOUT_S = 5.0  # the wait for Ollama to accept the connection


class OllamaBackend:
    """A model served by a local Ollama (``/api/chat``, streamed NDJSON), standard library only.

    Ollama has no tokenize endpoint, so :meth:`count_tokens` estimates on the safe side: one token
    per CJK character (Qwen's vocabulary often packs two into one), one per three other characters,
    and five per message for the chat markup. For the same reason ``last_stats.prompt_total`` is None:
    Ollama's ``prompt_eval_count`` is what it evaluated (its cache hit is not reported), and an
    estimate would make the cache's share look exact when it is not. ``context_size`` is sent as
    ``num_ctx`` on every request, because without it Ollama picks a context by memory and may silently
    cut long prompts; when the caller gives none, :meth:`settle` adopts the model's Modelfile ``num_ctx``
    (what Ollama itself would use), so the client's budget is the runner's.
    """

    supports_logits = False
    supports_tokenizer = False
    supports_reset = False
    stop_token_ids: tuple[int, ...] = ()  # Ollama stops at its model's end tokens; their ids are not known here

    def __init__(
        self,
        model: str,
        host: str = DEFAULT_OLLAMA_HOST,
        *,
        num_ctx: int | None = None,
        allow_remote: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
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
        self.context_size: int = num_ctx or DEFAULT_NUM_CTX
        self._ctx_given = num_ctx is not None
        self.thinks: bool | None = None  # whether the model can think, once the server has said (settle)
        self.last_stats: Stats | None = None

    def settle(self) -> str | None:
        """Adopt what the server says of the model: its Modelfile ``num_ctx`` unless one was given, and
        whether it can think (Ollama refuses ``think`` for a model that cannot). Returns a note for the
        user, or None; when the server cannot say (down, no such model), the defaults stay and the first
        question reports the error."""
        try:
            conn, resp = self._post("/api/show", {"model": self.model})
            try:
                show = json.loads(resp.read())
            finally:
                conn.close()
        except (BackendError, ValueError, OSError):
            return None
        if not isinstance(show, dict):
            return None
        capabilities = show.get("capabilities")
        if isinstance(capabilities, list):
            self.thinks = "thinking" in capabilities
        if self._ctx_given:
            return None
        num_ctx = modelfile_num_ctx(show.get("parameters"))
        if num_ctx is None:
            return f"上下文 {self.context_size} tokens（模型 {self.model} 的 Modelfile 未设 num_ctx；可用 --ctx 指定）"
        self.context_size = num_ctx
        return f"上下文 {num_ctx} tokens（取自模型 {self.model} 的 Modelfile num_ctx）"

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        total = 3 + (4 if think is False else 0)  # the assistant's header, an empty think block
        for message in messages:
            total += 5 + _estimate_tokens(str(message.get("content") or ""))
        return total

    def stream(self, messages: list[dict], *, think: bool | None, sampling: dict, max_tokens: int,
               stop_event: threading.Event | None = None) -> Generator[Delta, None, None]:
        """Send the request now (connection errors surface here) and stream the reply."""
        check_sampling(sampling, SAMPLING_KEYS, "Ollama")
        check_max_tokens(max_tokens)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "options": {**sampling, "num_ctx": self.context_size, "num_predict": max_tokens},
        }
        if think is not None and self.thinks is not False:
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

    def _read(self, conn, resp, stop_event: threading.Event | None, t0: float) -> Generator[Delta, None, None]:
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

    # -- what Ollama does on its side (declared unsupported above) ---------------------------------

    def render_prompt(self, messages: list[dict], think: bool | None) -> str:
        raise _on_the_server("renders the prompt")

    def tokenize_prompt(self, prompt: str) -> list[int]:
        raise _on_the_server("tokenizes the prompt")

    def tokenize_text(self, text: str) -> list[int]:
        raise _on_the_server("tokenizes text")

    def choice_logits(self, messages: list[dict], choices: list[str]) -> dict[str, float]:
        raise InputError("Ollama gives no logits: reading answers from logits needs a GGUF (llama.cpp) "
                         "or an HF model directory")

    def reset(self) -> None:
        raise _on_the_server("keeps its KV cache")


def _on_the_server(what: str) -> InputError:
    return InputError(f"Ollama {what} on its side: ec-miip's Ollama client cannot do it here")


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


def modelfile_num_ctx(parameters: object) -> int | None:
    """``num_ctx`` from ``/api/show``'s ``parameters`` (one "name value" per line), if the Modelfile set it."""
    if not isinstance(parameters, str):
        return None
    for line in parameters.splitlines():
        name, _, value = line.strip().partition(" ")
        if name == "num_ctx" and value.strip().isdigit():
            return int(value.strip())
    return None


def _error_message(body: bytes) -> str:
    """Ollama's ``{"error": ...}`` text (unwrapped when it carries llama-server's own JSON error), or the
    start of whatever else the server said."""
    try:
        error = json.loads(body)["error"]
        if isinstance(error, str) and error.startswith("{"):
            inner = json.loads(error).get("error")
            error = inner.get("message", error) if isinstance(inner, dict) else error
        return str(error)
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", errors="replace").strip()[:300] or "no details"
