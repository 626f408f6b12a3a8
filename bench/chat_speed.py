"""Decode speed of ecmiip-chat's llama.cpp backend against bare llama-cpp-python, and time to first token.

The backend adds work per token (incremental UTF-8 decoding, the think splitter, stop checks) and per
turn (its own prompt rendering, prompt slices): this measures what that costs. Both paths run on one
``Llama`` (same weights, threads and KV cache) with the same prompt tokens, sampling and seed, in
alternating order, and must produce the same text.

Both generate exactly ``--tokens`` tokens: the stop tokens get a logit bias of -inf (as llama.cpp's
``--ignore-eos`` does), through a logits processor on both sides (``logit_bias`` of
``create_completion``, the backend's ``logit_bias`` sampling option). That processor's per-token cost
is paid by both paths, so it slightly dilutes the ratio. Decode speed is wall clock from the first
streamed text to the end of the stream, (tokens - 1) / time, as the reader of the stream sees it.

Time to first token is measured through the backend with the system prompt already in the KV cache
(an earlier question was asked) and cold (cache cleared), each with a new question.

Run: ``python -m ecmiip.bench.chat_speed [--model GGUF] [--tokens 1000]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from ecmiip.core.console import console
from ecmiip.core.prompts import SAMPLING_DEFAULTS, system_user

QUESTION = "Explain in detail how a patent differs from a trade secret. Answer in English."
TTFT_QUESTIONS = [
    "What does a trademark protect? Answer in English.",
    "How long does copyright last? Answer in English.",
    "Can an idea be patented? Answer in English.",
    "What is a utility model? Answer in English.",
    "Who owns an invention made at work? Answer in English.",
    "What is fair use? Answer in English.",
    "Is software copyrightable? Answer in English.",
    "What is a licence? Answer in English.",
]
SEED = 1234


@dataclass
class Run:
    """One timed answer: seconds to the first text, decode tokens/s after it, the text, tokens made."""

    ttft_s: float
    decode_tps: float
    text: str
    tokens: int


def default_model() -> Path:
    """SmolLM2-135M-Instruct exported by ec-miip (Q4_K_M), built once into the model cache."""
    from ecmiip.cli import main as ecmiip_main
    from ecmiip.core.model_cache import cache_root
    from ecmiip.pipeline.demo_base import demo_base

    source = demo_base()
    out = cache_root() / "gguf" / source.name
    gguf = out / "ec-miip-Q4_K_M.gguf"
    if not gguf.is_file():
        console.print(f"exporting {source} → {out} (once)")
        if ecmiip_main(["export", str(source), "--out", str(out), "--no-verify", "--force"]) != 0:
            raise SystemExit("export of the default model failed")
    return gguf


def _messages(question: str) -> list[dict]:
    return system_user(question)


def run_backend(backend, messages: list[dict], sampling: dict, n: int) -> Run:
    t0 = time.perf_counter()
    first: float | None = None
    parts = []
    for delta in backend.stream(messages, think=None, sampling=sampling, max_tokens=n):
        first = first or time.perf_counter()
        parts.append(delta.text)
    end = time.perf_counter()
    first = first or end
    made = backend.last_stats.decode_tokens
    return Run(first - t0, (made - 1) / (end - first) if end > first else 0.0, "".join(parts), made)


def run_bare(backend, messages: list[dict], sampling: dict, n: int) -> Run:
    """The same answer straight from ``Llama.create_completion(stream=True)``."""
    llm = backend.llm
    t0 = time.perf_counter()
    tokens = backend.tokenize_prompt(backend.render_prompt(messages, None))
    options = {k: v for k, v in sampling.items() if k not in ("seed", "logit_bias")}
    first: float | None = None
    parts = []
    stream = llm.create_completion(
        tokens, max_tokens=n, stream=True, seed=sampling["seed"], logit_bias=sampling.get("logit_bias"), **options
    )
    for chunk in stream:
        text = chunk["choices"][0]["text"]
        if text:
            first = first or time.perf_counter()
            parts.append(text)
    end = time.perf_counter()
    first = first or end
    made = llm.n_tokens - len(tokens) + 1  # the last sampled token is never evaluated
    return Run(first - t0, (made - 1) / (end - first) if end > first else 0.0, "".join(parts), made)


def _ttft(backend, question: str, *, warm_with: str | None, bare: bool) -> tuple[float, int]:
    """Seconds to the first token for ``question``, after asking ``warm_with`` or from an empty cache."""
    import llama_cpp

    llm = backend.llm
    if warm_with is None:
        backend.reset()
    else:
        list(backend.stream(_messages(warm_with), think=None, sampling={"temperature": 0.0}, max_tokens=1))
    llama_cpp.llama_perf_context_reset(llm.ctx)
    run = (run_bare if bare else run_backend)(backend, _messages(question), {"temperature": 0.0, "seed": SEED}, 1)
    perf = llama_cpp.llama_perf_context(llm.ctx)  # one token asked for: only the prompt was evaluated
    evaluated = (perf.n_p_eval if perf.t_p_eval_ms > 0 else 0) + (perf.n_eval if perf.t_eval_ms > 0 else 0)
    return run.ttft_s, evaluated


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="chat GGUF (default: SmolLM2-135M-Instruct exported by ec-miip)")
    p.add_argument("--tokens", type=int, default=1000, help="tokens per long answer (default: 1000)")
    p.add_argument("--repeats", type=int, default=3, help="long answers per path, interleaved (default: 3)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: llama-cpp-python's choice)")
    args = p.parse_args(argv)

    import llama_cpp

    from ecmiip.chat.llamacpp_backend import LlamaCppBackend

    model = args.model or default_model()
    backend = LlamaCppBackend(model, n_ctx=args.tokens + 2048, n_threads=args.threads)
    llm = backend.llm
    messages = _messages(QUESTION)
    prompt_len = backend.count_tokens(messages, None)
    bias = {t: float("-inf") for t in backend.stop_token_ids}
    sampling = {**{k: SAMPLING_DEFAULTS[k] for k in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty")}}
    sampling |= {"seed": SEED, "logit_bias": bias}
    console.print(
        f"[bold]chat speed[/] — {model.name} ({model.stat().st_size / 2**20:.0f} MiB), "
        f"llama-cpp-python {llama_cpp.__version__}, {os.cpu_count()} CPUs ({platform.machine()}), "
        f"threads {llm.context_params.n_threads}/{llm.context_params.n_threads_batch} (decode/batch), "
        f"GPU offload {'yes' if llama_cpp.llama_supports_gpu_offload() else 'no'}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    console.print(f"prompt {prompt_len} tokens (legal system prompt + question), answers of {args.tokens} tokens")

    # warm-up: page the weights in and fill the cache with the prompt, for both paths alike
    run_backend(backend, messages, sampling, 16)
    run_bare(backend, messages, sampling, 16)

    runs: dict[str, list[Run]] = {"backend": [], "bare": []}
    for r in range(args.repeats):
        order = ("backend", "bare") if r % 2 == 0 else ("bare", "backend")
        for path in order:
            fn = run_backend if path == "backend" else run_bare
            runs[path].append(fn(backend, messages, sampling, args.tokens))
            console.print(f"  run {r + 1} {path:8} {runs[path][-1].decode_tps:7.1f} tok/s")

    table = Table(title=f"decode speed, {args.tokens}-token answers, {args.repeats} interleaved runs each")
    for col in ("path", "tokens", "median tok/s", "runs (tok/s)"):
        table.add_column(col, justify="left" if col == "path" else "right")
    names = {"backend": "LlamaCppBackend.stream", "bare": "bare create_completion"}
    for path, rs in runs.items():
        table.add_row(
            names[path], ", ".join(sorted({str(x.tokens) for x in rs})),
            f"{statistics.median(x.decode_tps for x in rs):.1f}", " / ".join(f"{x.decode_tps:.1f}" for x in rs),
        )
    console.print(table)
    ratio = statistics.median(x.decode_tps for x in runs["backend"]) / statistics.median(x.decode_tps for x in runs["bare"])
    same = all(a.text == b.text.lstrip("\n") for a, b in zip(runs["backend"], runs["bare"], strict=True))
    console.print(f"ratio backend / bare: [bold]{ratio:.3f}[/] (target ≥ 0.98); same text on both paths: {'yes' if same else 'NO'}")

    ttft = Table(title="time to first token of a new question")
    for col in ("path", "KV cache", "evaluated", "median ms", "runs (ms)"):
        ttft.add_column(col, justify="left" if col in ("path", "KV cache") else "right")
    n = max(1, min(args.repeats + 1, len(TTFT_QUESTIONS) // 2))
    cells: dict[tuple[bool, bool], list[tuple[float, int]]] = {}
    for i in range(n):
        question, other = TTFT_QUESTIONS[2 * i], TTFT_QUESTIONS[2 * i + 1]
        for bare in (False, True):
            cells.setdefault((bare, True), []).append(_ttft(backend, question, warm_with=other, bare=bare))
            cells.setdefault((bare, False), []).append(_ttft(backend, question, warm_with=None, bare=bare))
    for (bare, warm), values in sorted(cells.items()):
        evaluated = sorted({e for _, e in values})
        ttft.add_row(
            "bare" if bare else "backend",
            "system prompt in" if warm else "cold",
            ", ".join(map(str, evaluated)),
            f"{statistics.median(t for t, _ in values) * 1000:.0f}",
            "/".join(f"{t * 1000:.0f}" for t, _ in values),
        )
    console.print(ttft)
    console.print("evaluated: prompt tokens llama.cpp evaluated (the rest came from the KV cache).")
    backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
