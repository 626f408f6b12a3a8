"""Tokens per second of each training stage of the tiny CPU recipe (stage 1, stage 2, SFT).

Runs the real stages on the tiny real-vocabulary Qwen3 and counts the tokens each optimizer step
consumed (attention-mask sums) against the wall time between steps. Prints figures; asserts nothing.

Run: ``python -m ecmiip.bench.train_speed [--steps N] [--work DIR]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.table import Table
from transformers import TrainerCallback

from ecmiip.core.console import console


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per stage (default: 8)")
    p.add_argument("--work", type=Path, help="work folder (default: a temp folder)")
    args = p.parse_args(argv)

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
    (work / "train-speed.json").write_text(json.dumps(figures, indent=2) + "\n")
    console.print(f"figures written to {work / 'train-speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
