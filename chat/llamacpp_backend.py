"""Answers from a GGUF run by llama.cpp in this process (llama-cpp-python), with the GGUF's own chat template.

The prompt is rendered here (:mod:`ecmiip.core.chat_template`) rather than by ``create_chat_completion``,
which cannot pass template options (Qwen3's ``enable_thinking``). The prompt is evaluated with
``Llama.eval`` after trimming the KV cache to what it shares with the new one; the answer is drawn by
llama.cpp's own sampler (``Llama.generate``) and decoded with an incremental UTF-8 decoder: a Chinese
character split over byte tokens is held until complete, never shown as U+FFFD (bytes that can never
form a character are dropped). The turn itself is :class:`~ecmiip.chat.engine.LocalEngine`'s.
"""

from __future__ import annotations

import codecs
import ctypes
from collections.abc import Callable, Generator
from functools import cached_property
from pathlib import Path
from typing import Any

from ecmiip.chat.engine import LocalEngine
from ecmiip.core.chat_template import ChatTemplateError, from_llama
from ecmiip.core.llama import close_llama, open_llama
from ecmiip.core.prompts import DEFAULT_NUM_CTX


class LlamaCppBackend(LocalEngine):
    """A GGUF run by llama.cpp in this process; the KV cache is kept between turns."""

    engine = "llama.cpp"

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = DEFAULT_NUM_CTX,
        n_gpu_layers: int = -1,
        n_threads: int | None = None,
    ) -> None:
        import llama_cpp

        super().__init__()
        path = Path(model_path)
        self._llm = open_llama(path, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=n_threads)
        self.model_path = path
        self._template = from_llama(self._llm, source=str(path))
        try:
            self._template.check()  # a GGUF without a template, or one that does not compile, is refused now
        except ChatTemplateError:
            self.close()
            raise
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._pieces: dict[int, bytes] = {}
        self.context_size: int = self._llm.n_ctx()

    @property
    def llm(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (benchmarks compare against it on the same weights)."""
        return self._llm

    @cached_property
    def stop_token_ids(self) -> tuple[int, ...]:
        """Tokens that end an answer: every end-of-generation token and ``<|im_end|>``."""
        import llama_cpp

        eog = (t for t in range(self._llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(self._vocab, t))
        im_end = self._llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        return tuple(sorted({*eog, *(im_end if len(im_end) == 1 else ())}))

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt (special tokens parsed: the template writes them as text)."""
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def tokenize_text(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    # -- the KV cache --------------------------------------------------------------------------------

    def _cached_tokens(self) -> list[int]:
        return self._llm.input_ids[: self._llm.n_tokens].tolist()

    def _keep(self, n: int) -> int:
        self._llm.n_tokens = n  # the next eval drops the rest of the cache
        return n

    def _forward(self, ids: list[int]) -> Any:
        import llama_cpp
        import numpy as np

        llm = self._llm
        llm.eval(ids)
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()

    def _sample(self, tokens: list[int], logits: Any, sampling: dict[str, Any], seed: int) -> Generator[int, Any, None]:
        """llama.cpp's sampler; ``generate`` finds the whole prompt cached and samples at once."""
        self._llm.set_seed(seed)
        return self._llm.generate(tokens, **_llama_sampling(sampling))

    def _decoder(self) -> _Utf8Decoder:
        return _Utf8Decoder(self._piece)

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

    def reset(self) -> None:
        self._llm.reset()

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            close_llama(llm)


class _Utf8Decoder:
    """Token bytes decoded incrementally: a character split over tokens comes out whole, once complete."""

    def __init__(self, piece: Callable[[int], bytes]) -> None:
        self._piece = piece
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="ignore")

    def add(self, token: int) -> str:
        return self._utf8.decode(self._piece(token))

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


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
