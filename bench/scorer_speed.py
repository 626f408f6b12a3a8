"""Questions per second of the likelihood scorer against the generation scorer, same model and items.

Both scorers run through one backend (same weights, threads and KV cache: the system prompt is
evaluated once and reused by both), on the same multiple-choice items, each over all items in turn
and twice in alternating order (L G G L), so machine noise falls on both alike and neither finds an
item's prompt cached by the other. The likelihood scorer costs one forward pass over the part of the
prompt not yet cached; the generation scorer that plus every token of the answer, so the ratio
grows with the answer: with ``--think`` (the model reasons before answering, the way the generation
scorer is meant to be used with Qwen3) it is the length of the reasoning that decides.

Run: ``python -m ecmiip.bench.scorer_speed [--model GGUF] [--items 20] [--think]``. Prints figures,
asserts nothing. The default model is SmolLM2-135M-Instruct exported by ec-miip (Q4_K_M).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from rich.table import Table

from ecmiip.bench import data as bench_data
from ecmiip.bench.chat_speed import default_model
from ecmiip.bench.run import BENCH_NUM_CTX
from ecmiip.bench.scorers import GenerationScorer, LikelihoodScorer
from ecmiip.core.console import console


def _timed(scorer, item) -> tuple[float, dict]:
    start = time.perf_counter()
    record = scorer.score(item)
    return time.perf_counter() - start, record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="GGUF (default: SmolLM2-135M-Instruct Q4_K_M, exported once)")
    parser.add_argument("--items", type=int, default=20, help="mcq items from the shipped sample (default: 20)")
    parser.add_argument("--think", action="store_true", help="generation scorer with thinking (budget 1024 tokens)")
    parser.add_argument("--n-ctx", type=int, default=BENCH_NUM_CTX)
    args = parser.parse_args(argv)

    import llama_cpp

    from ecmiip.chat.llamacpp_backend import LlamaCppBackend

    model = args.model or default_model()
    backend = LlamaCppBackend(model, n_ctx=args.n_ctx)
    items = bench_data.load(bench_data.DEFAULT_DATA["mcq"], "mcq").items[: args.items]
    likelihood = LikelihoodScorer(backend)
    generation = GenerationScorer(backend, think=args.think)
    console.print(
        f"[bold]scorer speed[/] — {model.name} ({model.stat().st_size / 2**20:.0f} MiB), "
        f"llama-cpp-python {llama_cpp.__version__}, {os.cpu_count()} CPUs ({platform.machine()}), "
        f"load average {os.getloadavg()[0]:.2f}; {len(items)} items, generation "
        f"{'with thinking' if args.think else 'without thinking'} (budget {generation.max_tokens} tokens)"
    )
    likelihood.score(items[0])  # warm-up: page the weights in, cache the system prompt
    times: dict[str, list[float]] = {"likelihood": [], "generation": []}
    tokens: list[int] = []
    for name in ("likelihood", "generation", "generation", "likelihood"):
        scorer = likelihood if name == "likelihood" else generation
        for item in items:
            seconds, _ = _timed(scorer, item)
            times[name].append(seconds)
            if name == "generation" and backend.last_stats:
                tokens.append(backend.last_stats.decode_tokens)

    table = Table(title="questions per second, same model and items")
    for col in ("scorer", "questions/s", "median s/question", "answer tokens (mean)"):
        table.add_column(col, justify="left" if col == "scorer" else "right")
    qps = {name: len(ts) / sum(ts) for name, ts in times.items()}
    table.add_row("likelihood", f"{qps['likelihood']:.2f}", f"{statistics.median(times['likelihood']):.3f}", "0")
    table.add_row("generation", f"{qps['generation']:.2f}", f"{statistics.median(times['generation']):.3f}",
                  f"{statistics.mean(tokens):.1f}" if tokens else "-")
    console.print(table)
    console.print(f"likelihood / generation: [bold]{qps['likelihood'] / qps['generation']:.1f}×[/] (target ≥ 5×)")
    backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
