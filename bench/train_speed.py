"""Tokens per second of each training stage (stage 1, stage 2, SFT): the tiny CPU recipe, or a recipe at a real model's shapes.

Default: runs the real stages on the tiny real-vocabulary Qwen3 and counts the tokens each optimizer
step consumed (attention-mask sums) against the wall time between steps.

``--preset qwen3-4b``: seconds per optimizer step and tokens/s of the ``qwen3-4b`` recipe's stages on a
random model of Qwen3-4B's exact shapes (no hub), at the recipe's batch, accumulation and sequence
length. With CUDA the full 36-layer model is measured directly; without, a few steps at reduced depth
are extrapolated per layer and scaled to the recipe's batch, and the output says so
(``bench/recipe_speed.py``). Prints figures; asserts nothing.

Run: ``python -m ecmiip.bench.train_speed [--steps N] [--work DIR]``
or ``python -m ecmiip.bench.train_speed --preset qwen3-4b [--recipe R] [--layers N ...] [--micro-batch N]
[--accum N] [--stages stage1 stage2 sft] [--steps N] [--work DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from rich.table import Table
from transformers import TrainerCallback

from ecmiip.core.boundary import guarded
from ecmiip.core.console import console, print_error
from ecmiip.core.outputs import write_json_atomic


class StepMeter(TrainerCallback):
    """Wall time of each optimizer step; the first step (warm-up) is reported apart."""

    def __init__(self) -> None:
        self.stage = ""
        self.times: dict[str, list[float]] = {}
        self._t = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.stage = Path(args.output_dir).name
        self.times[self.stage] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times[self.stage].append(time.perf_counter() - self._t)


def _tokens_per_step(history: list[dict]) -> float | None:
    tokens = [e["num_input_tokens_seen"] for e in history if "num_input_tokens_seen" in e and "loss" in e]
    return (tokens[-1] / len(tokens)) if tokens else None


def _device_name() -> str:
    import platform

    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (CUDA {torch.version.cuda}, torch {torch.__version__})"
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "CPU")  # fmt: skip
    return f"{model}, {torch.get_num_threads()} threads (CPU, torch {torch.__version__})"


def run_preset(args: argparse.Namespace) -> int:
    """The ``--preset`` mode: the recipe's steps on a random model of the preset's shapes (``recipe_speed``)."""
    import torch

    from ecmiip.bench.random_models import QWEN3_4B_DIMS
    from ecmiip.bench.recipe_speed import STAGES, TITLES, run_stages, stage_figure
    from ecmiip.train.recipe import load_recipe

    dims, recipe = dict(QWEN3_4B_DIMS), load_recipe(args.recipe or args.preset)
    full = dims["num_hidden_layers"]
    cuda = torch.cuda.is_available()
    layers = sorted(set(args.layers or ([full] if cuda else [1, 2])))
    steps = args.steps or (3 if cuda else 2)
    sections = {"stage1": recipe.pretrain.stage1, "stage2": recipe.pretrain.stage2, "sft": recipe.sft}
    stages = [s for s in STAGES if s in args.stages]
    if "sft" in stages and importlib.util.find_spec("bitsandbytes") is None:
        console.print("[yellow]SFT not measured:[/] bitsandbytes is not installed (QLoRA's 4-bit layers need it)")
        stages.remove("sft")
    work = args.work or Path(tempfile.mkdtemp(prefix="ecmiip-train-speed-"))
    device = _device_name()
    console.print(f"{args.preset}: random weights, {full} layers × hidden {dims['hidden_size']}, "
                  f"vocabulary {dims['vocab_size']:,}; recipe {recipe.source}; on {device}")
    measured = run_stages(
        recipe, dims, layers=layers, steps=steps, stages=stages, work=work, say=console.print,
        micro_batch=lambda s: args.micro_batch or (sections[s].batch_size if cuda else 1),
        accum=lambda s: args.accum or (sections[s].grad_accum if cuda else 1),
    )  # fmt: skip

    runs = Table(title="measured: one micro-batch (forward + backward) and the optimizer update")
    for col in ("stage", "layers", "micro-batch", "micro-batch (s)", "update (s)", "peak memory (GiB)", "dtype"):
        runs.add_column(col, justify="left" if col == "stage" else "right")
    figures = []
    for stage in stages:
        for m in measured[stage]:
            p = m.plan
            runs.add_row(TITLES[stage], str(p.layers), f"{p.micro_batch} × {p.max_length}",
                         " ".join(f"{t:.2f}" for t in m.micro_s), " ".join(f"{t:.3f}" for t in m.update_s),
                         f"{m.peak_memory_gib:.2f}", m.dtype)  # fmt: skip
        figures.append(stage_figure(stage, measured[stage], full))
    console.print(runs)

    table = Table(title=f"the recipe's optimizer step at {full} layers")
    for col in ("stage", "step (s)", "LM tokens / step", "tokens / s", "min / 1,000 samples", "how"):
        table.add_column(col, justify="left" if col in ("stage", "how") else "right")
    for f in figures:
        samples = sections[f.stage].batch_size * sections[f.stage].grad_accum
        table.add_row(TITLES[f.stage], f"{f.step_s:,.1f}", f"{f.lm_tokens_per_step:,}", f"{f.tokens_per_s:,.0f}",
                      f"{1000 / samples * f.step_s / 60:,.1f}", f.how)  # fmt: skip
    console.print(table)
    for f in figures:
        line = f"{TITLES[f.stage]}: {f.how} — {f.note}"
        if f.per_layer_micro_s is not None:
            line += (f"; per micro-batch {f.fixed_micro_s:.2f} s fixed (embedding, {dims['vocab_size']:,}-row head, loss)"
                     f" + {f.per_layer_micro_s:.2f} s per layer")
        console.print(line)
    console.print(f"Every sequence is filled to the stage's max_length (stage 2: the case text and its three contrastive "
                  f"sequences), so a step here is the most a step of real data costs; min / 1,000 samples assumes "
                  f"full-length samples. Device: {device}.")
    if any(f.how != "measured" for f in figures):
        console.print("[yellow]Not a measurement of the recipe's step:[/] the figures marked scaled or extrapolated are "
                      "computed from the measured micro-batches above, as each line says.")
    doc = {"preset": args.preset, "recipe": str(recipe.source), "device": device, "dims": dims,
           "figures": [{**asdict(f), "tokens_per_s": f.tokens_per_s} for f in figures]}  # fmt: skip
    write_json_atomic(work / "train-speed.json", doc, indent=2)
    console.print(f"figures written to {work / 'train-speed.json'}")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ecmiip.bench.train_speed", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, help="optimizer steps per stage (default: 8; --preset: 3 with CUDA, 2 without; the fastest counts)")
    p.add_argument("--work", type=Path, help="work folder (default: a temp folder)")
    p.add_argument("--preset", choices=["qwen3-4b"], help="a random model of this real model's exact shapes, on its recipe")
    p.add_argument("--recipe", help="--preset: the recipe whose batch and sequence settings to run (default: the preset's)")
    p.add_argument("--layers", type=int, nargs="+",
                   help="--preset: depths to measure (default: the full depth with CUDA, 1 2 without: fitted and extrapolated)")
    p.add_argument("--micro-batch", type=int, help="--preset: sequences per micro-batch (default: the recipe's batch_size with CUDA, 1 without)")
    p.add_argument("--accum", type=int, help="--preset: micro-batches per measured step (default: the recipe's grad_accum with CUDA, 1 without)")
    p.add_argument("--stages", nargs="+", choices=["stage1", "stage2", "sft"], default=["stage1", "stage2", "sft"],
                   help="--preset: which stages (default: all three)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)
    for name in ("steps", "micro_batch", "accum"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.layers and min(args.layers) < 1:
        p.error("--layers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.preset:
        return guarded(lambda: run_preset(args), program="train_speed", debug=args.debug,
                       print_error=print_error)
    args.steps = args.steps or 8

    from ecmiip.bench.random_models import tiny_qwen3
    from ecmiip.train.mipld import load_records
    from ecmiip.train.pretrain import run_pretrain
    from ecmiip.train.qa import build_pairs, write_pairs
    from ecmiip.train.recipe import load_recipe
    from ecmiip.train.sft import run_sft

    work = args.work or Path(tempfile.mkdtemp(prefix="ecmiip-train-speed-"))
    base = tiny_qwen3()
    recipe = load_recipe("tiny-cpu")
    for stage in (recipe.pretrain.stage1, recipe.pretrain.stage2, recipe.sft):
        stage.max_steps, stage.save_every_epoch = args.steps, False
    meter = StepMeter()
    model_dir = run_pretrain(recipe, base, work / "pretrain", callbacks=[meter])
    samples = Path(__file__).resolve().parents[1] / "train" / "samples"
    qa = work / "qa.jsonl"
    write_pairs(build_pairs(load_records([samples / "knowledge.jsonl", samples / "exemptions.jsonl"])), qa, force=True)
    run_sft(recipe, model_dir, [qa], work / "sft", callbacks=[meter])

    table = Table(title=f"training speed, tiny CPU recipe ({args.steps} steps per stage, first step excluded)")
    for col in ("stage", "median step (s)", "tokens / step", "tokens / s"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    histories = {
        "stage1": work / "pretrain" / "stage1-history.json",
        "stage2": work / "pretrain" / "stage2-history.json",
        "checkpoints": work / "sft" / "sft-history.json",
    }
    figures = {}
    for stage, path in histories.items():
        steps = meter.times.get(stage, [])[1:]
        per_step = _tokens_per_step(json.loads(path.read_text()))
        if not steps or per_step is None:
            continue
        median = statistics.median(steps)
        name = "sft" if stage == "checkpoints" else stage
        figures[name] = {"median_step_s": median, "tokens_per_step": per_step, "tokens_per_s": per_step / median}
        table.add_row(name, f"{median:.3f}", f"{per_step:.0f}", f"{per_step / median:.0f}")
    console.print(table)
    console.print("tokens / step counts the LM input (non-padding); stage 2 also scores three contrastive sequences per case.")
    write_json_atomic(work / "train-speed.json", figures, indent=2)
    console.print(f"figures written to {work / 'train-speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
