"""Step-time overhead of HKRE's banded weight decay against plain AdamW.

HKRE splits the parameters into up to five AdamW groups and rewrites each group's ``weight_decay``
before every step; plain AdamW has one group with a fixed decay. Everything else (model, initial
weights, batches, learning rate) is identical. Both variants run in this one process, interleaved in
blocks (order alternating), warm-up steps excluded; the figures are medians over all timed steps.
Design target: HKRE's full training step at most 3 % slower. It only prints; timings depend on the
machine and on whatever else runs on it.

Run: ``python -m ecmiip.bench.hkre_overhead [--layers 12] [--hidden 256] [--steps 10] [--repeats 5] ...``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch

from ecmiip.train.hkre import HKREWeightDecay, hardness_buckets, param_groups
from ecmiip.train.hkre_config import HKREConfig

TARGET = 0.03
LEVELS = (1.0, 0.7, 0.4, 0.1, 0.0)


def make_model(args: argparse.Namespace) -> torch.nn.Module:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=3 * args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64,
        num_key_value_heads=max(1, args.hidden // 128),
        head_dim=64,
        tie_word_embeddings=True,
    )
    return Qwen3ForCausalLM(config).float().train()


def make_batches(args: argparse.Namespace) -> list[tuple[torch.Tensor, float]]:
    """Random token batches, each with the α of a hardness bucket (as HardnessBucketSampler would give)."""
    g = torch.Generator().manual_seed(0)
    n = args.batch * 20
    alphas = [LEVELS[i % len(LEVELS)] for i in range(n)]
    buckets = hardness_buckets(alphas, args.batch, seed=0, drop_last=True)
    tokens = torch.randint(args.vocab, (n, args.seq), generator=g)
    return [(tokens[b], alphas[b[0]]) for b in buckets]


Step = Callable[[torch.Tensor, float, int], tuple[float, float]]


def runner(model: torch.nn.Module, hkre: bool, lr: float) -> Step:
    """One training step → (full step seconds, optimizer seconds incl. set_step)."""
    if hkre:
        decay = HKREWeightDecay(HKREConfig())
        opt = torch.optim.AdamW(param_groups(model, decay.config), lr=lr)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=HKREConfig().lambda_base)

    def step(ids: torch.Tensor, alpha: float, t: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        t1 = time.perf_counter()
        if hkre:
            decay.set_step(opt, t, 10_000, alpha)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        return t2 - t0, t2 - t1

    return step


def measure(args: argparse.Namespace) -> dict:
    base = make_model(args)
    batches = make_batches(args)
    variants = {"plain AdamW (1 group)": False, "HKRE (banded groups + set_step)": True}
    steps = {name: runner(copy.deepcopy(base), hkre, args.lr) for name, hkre in variants.items()}
    times: dict[str, dict[str, list[float]]] = {name: {"step": [], "opt": []} for name in variants}
    counter = dict.fromkeys(variants, 0)

    def block(name: str, n: int, keep: bool) -> None:
        for _ in range(n):
            ids, alpha = batches[counter[name] % len(batches)]
            full, opt = steps[name](ids, alpha, counter[name])
            counter[name] += 1
            if keep:
                times[name]["step"].append(full)
                times[name]["opt"].append(opt)

    for name in variants:
        block(name, args.warmup, keep=False)
    for r in range(args.repeats):
        for name in variants if r % 2 == 0 else reversed(list(variants)):
            block(name, args.steps, keep=True)
    n_params = sum(p.numel() for p in base.parameters())
    groups = [(g["band"], len(g["params"])) for g in param_groups(base, HKREConfig())]
    return {"times": times, "params": n_params, "groups": groups, "batches": len(batches)}


def print_report(result: dict, args: argparse.Namespace) -> None:
    from rich.table import Table

    from ecmiip.core.console import stdout_console

    con = stdout_console(130)
    con.print(
        f"\n[bold]model[/]: random Qwen3, {args.layers} layers, hidden {args.hidden}, vocab {args.vocab}, tied: "
        f"{result['params'] / 1e6:.1f} M parameters; batch {args.batch}×{args.seq} tokens, fp32, "
        f"{torch.get_num_threads()} threads; HKRE groups: "
        + ", ".join(f"{band} ({n})" for band, n in result["groups"]),
        highlight=False,
    )
    table = Table(
        title=f"HKRE overhead ({args.repeats} interleaved blocks × {args.steps} steps each, {args.warmup} warm-up excluded)"
    )
    cols = (
        "variant",
        "median step (ms)",
        "median optimizer (ms)",
        "step p25–p75 (ms)",
        "steps > 2× median",
        "vs plain",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "variant" else "right")
    med = {name: statistics.median(t["step"]) for name, t in result["times"].items()}
    plain = next(iter(med.values()))
    for name, t in result["times"].items():
        q1, _, q3 = statistics.quantiles(t["step"], n=4)
        table.add_row(
            name,
            f"{med[name] * 1e3:.1f}",
            f"{statistics.median(t['opt']) * 1e3:.2f}",
            f"{q1 * 1e3:.1f}–{q3 * 1e3:.1f}",
            f"{sum(x > 2 * med[name] for x in t['step'])}/{len(t['step'])}",  # another busy process shows here
            f"{med[name] / plain - 1:+.2%}",
        )
    con.print(table)
    overhead = list(med.values())[1] / plain - 1
    opt = [statistics.median(t["opt"]) for t in result["times"].values()]
    mark = "[green]MET[/]" if overhead <= TARGET else "[red]MISSED[/]"
    con.print(
        f"target HKRE step overhead ≤ {TARGET:.0%}: {mark} ({overhead:+.2%}); optimizer part alone "
        f"{opt[1] * 1e3:.2f} vs {opt[0] * 1e3:.2f} ms ({opt[1] / opt[0] - 1:+.1%}, "
        f"{(opt[1] - opt[0]) / plain:+.2%} of a plain step)",
        highlight=False,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m ecmiip.bench.hkre_overhead", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--layers", type=int, default=12, help="decoder layers [12: every HKRE band exists]")
    p.add_argument("--hidden", type=int, default=256, help="hidden size, a multiple of 128 [256]")
    p.add_argument("--vocab", type=int, default=8192, help="vocabulary rows [8192]")
    p.add_argument("--batch", type=int, default=4, help="sequences per batch [4]")
    p.add_argument("--seq", type=int, default=128, help="tokens per sequence [128]")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate [1e-4]")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per variant first [3]")
    p.add_argument("--steps", type=int, default=10, help="timed steps per block [10]")
    p.add_argument("--repeats", type=int, default=5, help="blocks per variant, interleaved [5]")
    p.add_argument("--threads", type=int, help="torch threads [torch's default]")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print_report(measure(args), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
