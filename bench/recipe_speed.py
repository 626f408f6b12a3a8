"""Seconds per optimizer step of a recipe's three stages on a random model of a real model's shapes.

``python -m ecmiip.bench.train_speed --preset qwen3-4b`` measures what the ``qwen3-4b`` recipe's stages
cost per optimizer step: stage 1 (HKRE, full or LoRA as the recipe says), stage 2 (graded LM loss plus
the contrastive hinge on three more sequences) and QLoRA SFT (NF4 base, LoRA, gradient checkpointing),
each through the trainer class the real stage uses, on synthetic sequences filled to the stage's
``max_length`` (the most a step can cost; real records are often shorter).

Two ways to reach the recipe's figure, and the output says which one each number took:

* measured: the model at full depth, micro-batches of the recipe's ``batch_size``, ``grad_accum`` of
  them per optimizer step (what a CUDA machine with enough memory runs by default);
* scaled and extrapolated (a small CPU): a model of the same widths and vocabulary with 1, 2… layers,
  micro-batches small enough to fit. The time of one micro-batch and of the optimizer update are fitted
  linearly in the layer count (the slope is the per-layer cost, the intercept the fixed cost: embedding,
  the 151,936-row head, the loss), extrapolated to full depth, and the step is
  ``micro-batches per recipe step × micro-batch time + update time``.

Each figure is the fastest of the timed steps: on a shared machine other processes only add time.
Nothing is asserted; on a CPU the fixed cost dominates at 1-3 layers, so timing noise can swamp the
per-layer slope (the output then says the extrapolation is not reliable).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from ecmiip.core.errors import InputError
from ecmiip.train.recipe import Recipe, StageSection

STAGES = ("stage1", "stage2", "sft")
TITLES = {"stage1": "stage 1 · HKRE", "stage2": "stage 2 · cases", "sft": "SFT · QLoRA"}
PAD_ID = 0  # never used: every synthetic sequence of a batch has the same length


# --------------------------------------------------------------------------------------------------
# Timing and memory of the steps a Trainer runs


class StepClock(TrainerCallback):
    """Per optimizer step: the forward/backward time of its micro-batches (with gradient clipping) and
    the update (optimizer, HKRE decay, scheduler, zero_grad), from the Trainer's own callbacks."""

    def __init__(self) -> None:
        self.micro: list[float] = []  # seconds of all micro-batches of one step, per step
        self.update: list[float] = []
        self._begin = self._pre = 0.0

    def _now(self) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()

    def on_step_begin(self, args, state, control, **kwargs):
        self._begin = self._now()

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self._pre = self._now()
        self.micro.append(self._pre - self._begin)

    def on_step_end(self, args, state, control, **kwargs):
        self.update.append(self._now() - self._pre)


class PeakMemory:
    """Peak memory above the level at entry: CUDA's allocator peak, or the process's RSS sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _rss() -> int:
        import os

        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> PeakMemory:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._base = self._rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_bytes = max(self.peak_bytes, self._rss() - self._base)

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            torch.cuda.synchronize()
            self.peak_bytes = torch.cuda.max_memory_allocated() - self._base


# --------------------------------------------------------------------------------------------------
# Synthetic batches at the stage's sequence length


def lm_rows(n: int, length: int, vocab: int, seed: int) -> list[list[int]]:
    """``n`` sequences of ``length`` random token ids (no special ids: the lower 150,000 of Qwen3)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, min(vocab, 150_000), (n, length), generator=g).tolist()


def stage1_dataset(n: int, length: int, vocab: int) -> list[dict]:
    """Hard statutes (α = 1): HKRE's hard-batch path, the one that sets a decay per layer band."""
    return [{"input_ids": r, "labels": list(r), "alpha_hard": 1.0} for r in lm_rows(n, length, vocab, 1)]


def stage2_dataset(n: int, length: int, vocab: int) -> list[dict]:
    """The graded-masked case text and the positive, negative and hard negative, each ``length`` tokens
    (stage 2 caps every one at ``max_length``), the judgment span the last quarter."""
    judgment = [False] * (length - length // 4) + [True] * (length // 4)
    rows = lm_rows(4 * n, length, vocab, 2)
    out = []
    for i in range(n):
        parts = {
            key: {"input_ids": rows[4 * i + j], "attention_mask": [1] * length, "judgment_mask": judgment}
            for j, key in enumerate(("pos", "neg", "hard"), start=1)
        }
        out.append({"input_ids": rows[4 * i], "labels": list(rows[4 * i]), **parts})
    return out


def sft_dataset(n: int, length: int, vocab: int) -> list[dict]:
    """Conversations filled to ``length``; the loss on the second half (the answer), as SFT's labels are."""
    half = length // 2
    return [{"input_ids": r, "labels": [-100] * half + r[half:]} for r in lm_rows(n, length, vocab, 3)]


# --------------------------------------------------------------------------------------------------
# One stage, one model depth


@dataclass
class Plan:
    """How a stage is run here, and what the recipe's optimizer step is."""

    stage: str
    layers: int
    micro_batch: int  # sequences per micro-batch here
    accum: int  # micro-batches per optimizer step here
    steps: int  # optimizer steps timed
    recipe_batch: int
    recipe_accum: int
    max_length: int

    @property
    def micro_per_recipe_step(self) -> float:
        """How many of this run's micro-batches make one optimizer step of the recipe."""
        return self.recipe_batch * self.recipe_accum / self.micro_batch

    @property
    def sequences_per_micro(self) -> int:
        """Sequences through the model per micro-batch: stage 2 also scores three per case."""
        return self.micro_batch * (4 if self.stage == "stage2" else 1)


@dataclass
class Measurement:
    plan: Plan
    micro_s: list[float]  # per timed step: seconds of ONE micro-batch (the step's micro time / accum)
    update_s: list[float]
    peak_memory_gib: float
    dtype: str

    # The fastest of the timed steps: other processes and one-off costs (the first step's allocations,
    # kernel selection) only ever add time, so on a shared machine the minimum is the step's own cost.
    def best_micro(self) -> float:
        return min(self.micro_s)

    def best_update(self) -> float:
        return min(self.update_s)


def _stage_section(recipe: Recipe, stage: str) -> StageSection:
    return {"stage1": recipe.pretrain.stage1, "stage2": recipe.pretrain.stage2, "sft": recipe.sft}[stage]


def _warm_up(model: Any, device: torch.device) -> None:
    """One short forward/backward before timing: lazy initialisation is not a training step's cost."""
    ids = torch.randint(0, min(1000, model.config.vocab_size), (1, 16), device=device)
    model(input_ids=ids, labels=ids).loss.backward()
    model.zero_grad(set_to_none=True)


def _trainer(plan: Plan, recipe: Recipe, model: Any, out_dir: Path, clock: StepClock) -> Trainer:
    from ecmiip.train.hkre import HKRETrainer
    from ecmiip.train.loop import quiet, training_arguments
    from ecmiip.train.pretrain import Stage2Collator
    from ecmiip.train.sft import PadCollator

    section = _stage_section(recipe, plan.stage)
    args = training_arguments(
        section, out_dir, recipe.seed,
        per_device_train_batch_size=plan.micro_batch, gradient_accumulation_steps=plan.accum,
        max_steps=plan.steps, eval_strategy="no", save_strategy="no", logging_steps=plan.steps,
    )  # fmt: skip
    n = plan.micro_batch * plan.accum * plan.steps
    vocab = model.config.vocab_size
    common = dict(model=model, args=args, callbacks=[clock])
    if plan.stage == "stage1":
        data = stage1_dataset(n, plan.max_length, vocab)
        trainer = HKRETrainer(**common, train_dataset=data, data_collator=PadCollator(PAD_ID), hkre=recipe.pretrain.stage1.hkre)
    elif plan.stage == "stage2":
        from ecmiip.train.pretrain import Stage2Trainer

        data = stage2_dataset(n, plan.max_length, vocab)
        c = recipe.pretrain.stage2.contrastive
        trainer = Stage2Trainer(**common, train_dataset=data, data_collator=Stage2Collator(PAD_ID), weight=c.weight, margin=c.margin)
    else:
        trainer = Trainer(**common, train_dataset=sft_dataset(n, plan.max_length, vocab), data_collator=PadCollator(PAD_ID))
    return quiet(trainer)


def measure(plan: Plan, recipe: Recipe, model: Any, out_dir: Path) -> Measurement:
    """Run ``plan.steps`` optimizer steps of one stage on ``model`` and time them."""
    device = next(model.parameters()).device
    _warm_up(model, device)
    clock = StepClock()
    trainer = _trainer(plan, recipe, model, out_dir, clock)
    with PeakMemory() as peak:
        trainer.train()
    trainer.optimizer = trainer.lr_scheduler = None  # free the optimizer state before the next stage
    dtype = str(next(p for p in model.parameters() if p.is_floating_point()).dtype).removeprefix("torch.")
    return Measurement(plan, [t / plan.accum for t in clock.micro], list(clock.update), peak.peak_bytes / 2**30, dtype)


# --------------------------------------------------------------------------------------------------
# From measurements to the recipe's step


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares (intercept, slope) of ``ys`` against ``xs``; needs two distinct ``xs``."""
    if len(set(xs)) < 2:
        raise InputError(f"a per-layer fit needs at least two different layer counts (got {sorted(set(xs))}); "
                         "pass e.g. --layers 1 2")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


@dataclass
class StageFigure:
    """A stage's optimizer step at the recipe's batch and full depth, and how it was obtained."""

    stage: str
    layers: int
    step_s: float
    micro_s: float  # one micro-batch at full depth
    update_s: float
    micro_per_step: float
    lm_tokens_per_step: int
    sequences_tokens_per_step: int  # every token through the model (stage 2: four sequences per case)
    how: str  # "measured" | "scaled" | "extrapolated"
    note: str
    per_layer_micro_s: float | None = None
    fixed_micro_s: float | None = None
    measured: list[dict] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.lm_tokens_per_step / self.step_s


def stage_figure(stage: str, measurements: Sequence[Measurement], full_layers: int) -> StageFigure:
    """The recipe's step from one or more depths: measured at full depth, else fitted per layer."""
    plan = measurements[0].plan
    if any(m.plan.micro_batch != plan.micro_batch or m.plan.accum != plan.accum for m in measurements):
        raise ValueError("every depth of a stage must be measured with the same micro-batch and accumulation")
    at_full = [m for m in measurements if m.plan.layers == full_layers]
    per_layer = fixed = None
    if at_full:
        micro, update = at_full[0].best_micro(), at_full[0].best_update()
        how = "measured"
    else:
        xs = [m.plan.layers for m in measurements]
        fixed, per_layer = linear_fit(xs, [m.best_micro() for m in measurements])
        u0, u1 = linear_fit(xs, [m.best_update() for m in measurements])
        micro, update = fixed + per_layer * full_layers, max(0.0, u0 + u1 * full_layers)
        how = "extrapolated"
    n_micro = plan.micro_per_recipe_step
    exact = plan.micro_batch == plan.recipe_batch and plan.accum == plan.recipe_accum
    if how == "measured" and not exact:
        how = "scaled"
    depth = f"{full_layers} layers" if at_full else (
        f"fitted on {', '.join(str(m.plan.layers) for m in measurements)} layers, extrapolated to {full_layers}")
    note = (f"{depth}; fastest of {plan.steps} step(s); micro-batch {plan.micro_batch} × {plan.max_length} tokens, {plan.accum} per measured step"
            + ("" if exact else f"; scaled to the recipe's {plan.recipe_batch} × {plan.recipe_accum} "
               f"= {n_micro:g} micro-batches per step"))
    if per_layer is not None and per_layer <= 0:
        note += (f"; WARNING: the per-layer time came out {per_layer:.3f} s (timing noise on a busy machine?): "
                 "this extrapolation is not reliable; measure more steps or more depths")
    lm_tokens = plan.recipe_batch * plan.recipe_accum * plan.max_length
    return StageFigure(
        stage=stage, layers=full_layers, step_s=n_micro * micro + update, micro_s=micro, update_s=update,
        micro_per_step=n_micro, lm_tokens_per_step=lm_tokens,
        sequences_tokens_per_step=lm_tokens * (4 if stage == "stage2" else 1), how=how, note=note,
        per_layer_micro_s=per_layer, fixed_micro_s=fixed,
        measured=[{**asdict(m.plan), "micro_s": m.micro_s, "update_s": m.update_s, "dtype": m.dtype,
                   "peak_memory_gib": round(m.peak_memory_gib, 3)}
                  for m in measurements],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The models


def _pretrain_model(recipe: Recipe, dims: dict, layers: int, device: torch.device) -> Any:
    """Stages 1-2's model: the base in the dtype ``train/pretrain.py`` loads it in, LoRA if the recipe says."""
    from ecmiip.bench.random_models import random_qwen3
    from ecmiip.core.hf_models import add_lora
    from ecmiip.train.loop import use_bf16

    dtype = torch.bfloat16 if use_bf16(recipe.pretrain.stage1) else torch.float32
    model = random_qwen3(**{**dims, "num_hidden_layers": layers}, dtype=dtype, device=device)
    return add_lora(model, recipe.pretrain.lora) if recipe.pretrain.method == "lora" else model


def _sft_model(recipe: Recipe, dims: dict, layers: int, device: torch.device, work: Path) -> Any:
    """The SFT model as ``train/sft.py`` loads it: the random base saved, reloaded in 4 bits, LoRA on it.
    Without CUDA the compute dtype is float32 (the CPU recipes' choice; bf16 matmuls are the GPU's)."""
    import shutil

    from ecmiip.bench.random_models import random_qwen3
    from ecmiip.train.sft import load_qlora_model

    base = work / f"sft-base-{layers}"
    model = random_qwen3(**{**dims, "num_hidden_layers": layers}, dtype=torch.bfloat16, device=device)
    model.save_pretrained(base, safe_serialization=True)
    del model
    quant = recipe.sft.quantization
    if device.type != "cuda":
        quant = replace(quant, compute_dtype="float32")
    try:
        return load_qlora_model(base, quant, recipe.sft.lora)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _free() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_stages(
    recipe: Recipe,
    dims: dict,
    *,
    layers: Sequence[int],
    micro_batch: Callable[[str], int],
    accum: Callable[[str], int],
    steps: int,
    stages: Sequence[str],
    work: Path,
    say: Callable[[str], None] = print,
) -> dict[str, list[Measurement]]:
    """Every stage at every depth; the pre-training model is shared by stages 1 and 2 as in ``run_pretrain``."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out: dict[str, list[Measurement]] = {s: [] for s in stages}
    micro = {s: micro_batch(s) for s in stages}  # halved for good when a micro-batch does not fit

    def run(stage: str, n: int, model: Any) -> Measurement:
        s = _stage_section(recipe, stage)
        while True:
            plan = Plan(stage, n, micro[stage], accum(stage), steps, s.batch_size, s.grad_accum, s.max_length)
            say(f"{TITLES[stage]}: {n} layer(s), micro-batch {plan.micro_batch} × {plan.max_length} tokens, "
                f"{plan.accum} per step, {plan.steps} step(s) …")
            try:
                return measure(plan, recipe, model, work / f"{stage}-{n}")
            except torch.OutOfMemoryError:
                if plan.micro_batch == 1:
                    raise
                micro[stage] = plan.micro_batch // 2
                say(f"  out of memory at micro-batch {plan.micro_batch}; again with {micro[stage]}")
            _free()  # after the except block: the traceback no longer holds the activations

    for n in layers:
        if {"stage1", "stage2"} & set(stages):
            model = _pretrain_model(recipe, dims, n, device)
            for stage in ("stage1", "stage2"):
                if stage in stages:
                    out[stage].append(run(stage, n, model))
            del model
            _free()
        if "sft" in stages:
            model = _sft_model(recipe, dims, n, device, work)
            out["sft"].append(run("sft", n, model))
            del model
            _free()
    return out
