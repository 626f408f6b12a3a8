"""What every training stage shares: HF TrainingArguments from a recipe stage, a train/validation
split, rich progress, an overfitting warning, resumable checkpoints and the loss-curve PNG."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from transformers import TrainerCallback, TrainingArguments

from ecmiip.core.console import console, progress
from ecmiip.core.errors import InputError
from ecmiip.core.outputs import atomic_path, write_json_atomic
from ecmiip.train.recipe import StageSection
from ecmiip.train.run_folder import check_resumable, last_checkpoint

T = TypeVar("T")


def split_train_val(items: Sequence[T], val_fraction: float, seed: int, max_val: int = 0) -> tuple[list[T], list[T]]:
    """A seeded split; at least one validation item whenever there are two or more items.

    ``max_val`` > 0 caps the validation set: a fraction of a large corpus can cost more to evaluate
    each epoch than the training steps of a short run.
    """
    if not items:
        raise InputError("the dataset is empty: nothing to train on")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_val = min(len(items) - 1, max(1, round(len(items) * val_fraction))) if len(items) > 1 else 0
    if max_val > 0:
        n_val = min(n_val, max_val)
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


def use_bf16(stage: StageSection) -> bool:
    if stage.precision == "bf16":
        return True
    return stage.precision == "auto" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def hf_warmup(stage: StageSection) -> float:
    """The recipe's ``warmup_ratio`` (a share of the steps) as transformers 5 takes it: it has no
    ``warmup_ratio`` and reads a ``warmup_steps`` below 1 as that share of the total steps. The share is
    always below 1 (:class:`StageSection` refuses more), so 0.03 means 3 % of the steps, never 0 steps."""
    return float(stage.warmup_ratio)


def training_arguments(stage: StageSection, output_dir: Path, seed: int, **overrides: Any) -> TrainingArguments:
    args = dict(
        output_dir=str(output_dir),
        num_train_epochs=stage.epochs,
        max_steps=stage.max_steps,
        learning_rate=stage.lr,
        per_device_train_batch_size=stage.batch_size,
        per_device_eval_batch_size=stage.batch_size,
        gradient_accumulation_steps=stage.grad_accum,
        warmup_steps=hf_warmup(stage),
        lr_scheduler_type=stage.scheduler,
        eval_strategy="epoch",
        save_strategy="epoch" if stage.save_every_epoch else "no",
        save_total_limit=2,
        logging_strategy="steps",
        logging_steps=1,
        seed=seed,
        data_seed=seed,
        bf16=use_bf16(stage),
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
        include_num_input_tokens_seen="non_padding",  # logged: what throughput figures are computed from
    )
    if stage.max_steps > 0:  # capped runs: evaluate and save at the cap too
        args.update(eval_strategy="steps", eval_steps=stage.max_steps, save_strategy="steps", save_steps=stage.max_steps)
    if stage.save_steps > 0:
        args.update(save_strategy="steps", save_steps=stage.save_steps)
    args.update(overrides)
    return TrainingArguments(**args)


def quiet(trainer):
    """Drop the Trainer's printing of every log dict: RichProgress shows the loss instead."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


def resume_from(output_dir: Path, resume: bool) -> str | None:
    """The checkpoint to continue from when ``resume`` is asked, saying which (or that there is none)."""
    if not resume:
        return None
    check_resumable(output_dir)
    checkpoint = last_checkpoint(output_dir)
    if checkpoint is None:
        console.print(f"[yellow]no checkpoint in {output_dir}; starting from the beginning[/]")
    else:
        console.print(f"resuming from {checkpoint}")
    return checkpoint


class RichProgress(TrainerCallback):
    """A rich progress bar with the latest loss, in place of the Trainer's tqdm."""

    def __init__(self, title: str) -> None:
        self.title, self.bar, self.task = title, None, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = progress()
        self.bar.start()
        self.task = self.bar.add_task(self.title, total=state.max_steps, completed=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.update(self.task, description=f"{self.title} · loss {logs['loss']:.4f}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.stop()


class OverfitWarning(TrainerCallback):
    """Says so when validation loss rises from one evaluation to the next."""

    def __init__(self) -> None:
        self.best: float | None = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        if loss is None or math.isnan(loss):
            return
        if self.best is not None and loss > self.best:
            console.print(
                f"[yellow]warning:[/] validation loss rose to {loss:.4f} (best {self.best:.4f}) at epoch "
                f"{state.epoch:.2f}: the model may be overfitting; consider fewer epochs or a lower learning rate"
            )
        self.best = loss if self.best is None else min(self.best, loss)


def epoch_losses(log_history: list[dict]) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(epoch, mean training loss) per epoch and (epoch, validation loss) per evaluation."""
    train: dict[int, list[float]] = {}
    for entry in log_history:
        if "loss" in entry and "epoch" in entry:
            train.setdefault(math.ceil(entry["epoch"] - 1e-9) or 1, []).append(entry["loss"])
    evals = [(e["epoch"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    return [(ep, sum(v) / len(v)) for ep, v in sorted(train.items())], evals


def plot_losses(log_history: list[dict], path: Path, title: str) -> Path:
    """Training and validation loss per epoch (the paper's Fig. 4), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, evals = epoch_losses(log_history)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    if train:
        ax.plot([e for e, _ in train], [v for _, v in train], marker="o", label="training loss")
    if evals:
        ax.plot([e for e, _ in evals], [v for _, v in evals], marker="s", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path


def write_history(log_history: list[dict], path: Path) -> None:
    write_json_atomic(path, log_history)



def record_run(trainer, out_dir: Path, name: str, title: str) -> None:
    """History JSON and loss PNG of a finished stage, written once (by the main process)."""
    if trainer.is_world_process_zero():
        write_history(trainer.state.log_history, out_dir / f"{name}-history.json")
        plot_losses(trainer.state.log_history, out_dir / f"{name}-loss.png", title)
