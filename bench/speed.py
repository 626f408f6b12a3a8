"""The ``speed`` task: prompt-eval and decode tokens/s and time to first token of one model.

One question with the legal system prompt, the KV cache cleared first (a cold prompt, as a new chat
is), thinking off, greedy, exactly ``tokens`` tokens (stop tokens get a logit bias of -inf, as
llama.cpp's ``--ignore-eos``). Figures come from the backend's own :class:`Stats`; time to first token
is wall clock from the request to the first streamed text; when no text came (a random-weight model
may emit only tokens that decode to nothing) it is the prompt time plus one mean decode step, and
``ttft_from`` says which. Peak memory is the process's peak resident
size so far (it includes every model loaded before), so read it for the first model of a run.
"""

from __future__ import annotations

import resource
import sys
import time

from ecmiip.chat.backends import Backend
from ecmiip.core.prompts import system_user

SPEED_QUESTION = "请详细说明发明专利、实用新型专利和外观设计专利的区别。"


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def measure_speed(backend: Backend, *, tokens: int = 64, seed: int = 0) -> dict:
    """Speed figures of one cold turn; ``backend``: any chat backend (Ollama keeps its own cache and
    stops where its model ends: it declares neither a cache reset nor a tokenizer here)."""
    sampling: dict = {"temperature": 0.0, "seed": seed}
    if backend.supports_reset:
        backend.reset()
    if backend.supports_tokenizer:
        sampling["logit_bias"] = {t: float("-inf") for t in backend.stop_token_ids}
    messages = system_user(SPEED_QUESTION)
    start = time.perf_counter()
    first: float | None = None
    for _delta in backend.stream(messages, think=False, sampling=sampling, max_tokens=tokens):
        if first is None:
            first = time.perf_counter() - start
    stats = backend.last_stats
    ttft_from = "stream"
    if first is None and stats and stats.decode_tokens:
        first, ttft_from = (stats.prompt_ms + stats.decode_ms / stats.decode_tokens) / 1000, "stats"
    return {
        "prompt_tokens": stats.prompt_tokens if stats else None,
        "prompt_tokens_per_s": round(stats.prompt_tokens_per_s, 2) if stats else None,
        "decode_tokens": stats.decode_tokens if stats else None,
        "decode_tokens_per_s": round(stats.decode_tokens_per_s, 2) if stats else None,
        "ttft_s": round(first, 4) if first is not None else None,
        "ttft_from": ttft_from,
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }
