"""HKRE: hard-knowledge regularisation exemption (stage 1 of EC-MIIP's continued pre-training).

Weight decay pulls every weight towards zero a little at each step. That is what we want for soft
knowledge (case commentary, practice notes), but it also erodes what must be remembered verbatim
(statutes, judicial interpretations). Every sample carries a hardness ``α ∈ [0, 1]`` (L1 statutes 1.0,
L2 judicial interpretations 0.7, L3/L4 lower), and the decay of one optimizer step is::

    wd(band, α, t) = λ_base · β(t) · (1 − α) · h(band, α)

    h(band, α) = 1                        if α < hard_threshold   (soft batch: the plain per-step rule)
               = hard_factors[band]       if α ≥ hard_threshold   (hard batch: the per-layer rule too)
    wd(no_decay, ·, ·) = 0                norms and biases never decay

Both rules only ever *exempt*, so they multiply (``combine="product"``, the default): a hard batch
first scales every band by ``1 − α``, then shields the bands that hold facts. ``combine="min"`` uses
``min(1 − α, hard_factors[band])`` for hard batches instead. ``β(t)`` is 1 (``"constant"``) or a
linear warm-up to 1 then a cosine down to ``min_beta`` (``"cosine"``). AdamW applies it as
``p ← p · (1 − lr · wd)``, so the learning-rate schedule scales the decay as usual.

Bands (HF's 0-based layer index ``i``; ``band_edges=(5, 9)``; with ``relative_edges=True`` the edges
are fractions of the depth, rounded, so ``(0.18, 0.32)`` gives (5, 9) on a 28-layer Qwen3):

============  =================================  ===========  ==========  ======  =======  ======
band          parameters                         hard factor  wd α=1.0    α=0.7   α=0.4    α=0.0
============  =================================  ===========  ==========  ======  =======  ======
embedding     embed_tokens, lm_head (tied or not) 0.0          0           0       0.006    0.01
low           layers 0–4                         0.0          0           0       0.006    0.01
mid           layers 5–8                         0.3          0           0.0009  0.006    0.01
high          layers 9+                          0.7          0           0.0021  0.006    0.01
no_decay      every norm and bias                —            0           0       0        0
============  =================================  ===========  ==========  ======  =======  ======

(λ_base = 0.01, β = 1, product rule.) An untied ``lm_head`` joins the embedding band so that a model
decays the same whether or not its vocabulary matrix is tied.

Decay is exact per step only if a batch holds one α level: :class:`HardnessBucketSampler` makes such
batches (the HF Trainer's default sampler mixes levels). The α reaches the optimizer like this: each
feature carries ``alpha_hard``; :class:`AlphaCollator` moves it into the batch as a list of floats;
:class:`HKRETrainer` pops it in ``training_step`` and hands it to :class:`HKRECallback`, which, in
``on_pre_optimizer_step`` (after all gradient-accumulation micro-batches), sets every param group's
``weight_decay`` through :meth:`HKREWeightDecay.set_step`. A parameter whose ``.grad`` is None is
skipped by AdamW, so it gets no decay either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler
from transformers import Trainer, TrainerCallback

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.train.hkre_config import _LEVEL_TOL, BANDS, HKREConfig

ALPHA_KEY = "alpha_hard"


# --------------------------------------------------------------------------------------------------
# Parameters → bands → optimizer groups

_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks)\.(\d+)\.")


def layer_band(param_name: str, n_layers: int, config: HKREConfig) -> str:
    """Band of one parameter, from its name alone (plain HF or peft-wrapped, e.g. ``…lora_A.default.weight``)."""
    parts = param_name.split(".")
    if parts[-1] == "bias" or any("norm" in p or p.startswith("ln_") for p in parts):
        return "no_decay"
    if m := _LAYER.search(param_name):
        i = int(m.group(1))
        if i >= n_layers:
            raise UnsupportedError(f"{param_name}: layer {i} but the model has {n_layers} layers")
        mid, high = config.edges(n_layers)
        return "low" if i < mid else "mid" if i < high else "high"
    if any("embed" in p or p in ("lm_head", "wte", "wpe") for p in parts):
        return "embedding"
    raise UnsupportedError(
        f"HKRE cannot place parameter {param_name!r} in a band (embedding, layers.N, norm, bias)"
    )


def count_layers(model: nn.Module) -> int:
    """Decoder depth from parameter names (frozen ones included, so LoRA on a few layers still counts all)."""
    found = [int(m.group(1)) for n, _ in model.named_parameters() if (m := _LAYER.search(n))]
    return max(found) + 1 if found else 0


def param_groups(model: nn.Module, config: HKREConfig, n_layers: int | None = None) -> list[dict[str, Any]]:
    """One AdamW param group per band that has trainable parameters, tagged with ``band`` and ``band_factor``.

    Each group starts with the soft-batch decay (α = 0, β = 1): a group without a ``weight_decay`` key
    would silently get AdamW's default 0.01. A tied lm_head is the embedding itself (it is not a separate
    entry of ``named_parameters``), so it is never counted twice.
    """
    n_layers = count_layers(model) if n_layers is None else n_layers
    by_band: dict[str, list[nn.Parameter]] = {b: [] for b in BANDS}
    for name, p in model.named_parameters():
        if p.requires_grad:
            by_band[layer_band(name, n_layers, config)].append(p)
    return [
        {
            "params": ps,
            "band": b,
            "band_factor": config.band_factor(b),
            "weight_decay": config.weight_decay(b, 0.0),
        }
        for b, ps in by_band.items()
        if ps
    ]


class HKREWeightDecay:
    """Sets each HKRE param group's ``weight_decay`` for the coming optimizer step (works with any torch AdamW)."""

    def __init__(self, config: HKREConfig) -> None:
        self.config = config

    def set_step(
        self, optimizer: torch.optim.Optimizer, step: int, total_steps: int, alpha: float
    ) -> dict[str, float]:
        """Apply the decay for a batch of hardness ``alpha`` at ``step``; returns ``{band: weight_decay}`` to log."""
        if not 0.0 <= alpha <= 1.0:
            raise InputError(f"alpha_hard must be in [0, 1], got {alpha}")
        beta = self.config.beta(step, total_steps)
        values: dict[str, float] = {}
        for group in optimizer.param_groups:
            if "band" not in group:
                raise InputError(
                    "optimizer param group has no 'band': build the optimizer from hkre.param_groups()"
                )
            group["weight_decay"] = values[group["band"]] = self.config.weight_decay(
                group["band"], alpha, beta
            )
        return values


# --------------------------------------------------------------------------------------------------
# Homogeneous batches


def _levels(alphas: Sequence[float]) -> dict[float, list[int]]:
    """Indices per α level, levels in order of first appearance."""
    levels: dict[float, list[int]] = {}
    for i, a in enumerate(alphas):
        a = float(a)
        if not 0.0 <= a <= 1.0:  # also catches NaN
            raise InputError(f"sample {i}: alpha_hard must be in [0, 1], got {a}")
        levels.setdefault(round(a, 6), []).append(i)
    return levels


def hardness_buckets(
    alphas: Sequence[float], batch_size: int, seed: int = 0, shuffle: bool = True, drop_last: bool = False
) -> list[list[int]]:
    """Dataset indices split into batches of one α level each; seeded shuffles within levels and of batch order."""
    if batch_size < 1:
        raise InputError(f"batch_size must be ≥ 1, got {batch_size}")
    g = torch.Generator().manual_seed(seed)
    batches: list[list[int]] = []
    for idx in _levels(alphas).values():
        if shuffle:
            idx = [idx[j] for j in torch.randperm(len(idx), generator=g).tolist()]
        batches += [idx[s : s + batch_size] for s in range(0, len(idx), batch_size)]
        if drop_last and len(batches[-1]) < batch_size:
            batches.pop()
    if shuffle:
        batches = [batches[j] for j in torch.randperm(len(batches), generator=g).tolist()]
    return batches


class HardnessBucketSampler(Sampler[list[int]]):
    """Batch sampler whose every optimizer step holds one α level on every rank.

    One step is ``batch_size × num_replicas × grad_accum`` indices of one level (from
    :func:`hardness_buckets`, seeded with ``seed + epoch``); rank ``r`` yields its ``grad_accum``
    micro-batches of it, so all ranks and all micro-batches of a step share α. Without ``drop_last`` a
    short last step of a level is padded with its own indices (like ``DistributedSampler``) up to a
    multiple of ``num_replicas × grad_accum``; with one rank and no accumulation nothing is repeated.
    """

    def __init__(
        self,
        alphas: Sequence[float],
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
        grad_accum: int = 1,
    ) -> None:
        if not (num_replicas >= 1 and 0 <= rank < num_replicas and grad_accum >= 1 and batch_size >= 1):
            raise InputError(f"bad sampler split: {batch_size=} {num_replicas=} {rank=} {grad_accum=}")
        self.alphas = [float(a) for a in alphas]
        self.level_sizes = [len(i) for i in _levels(self.alphas).values()]
        self.batch_size, self.seed, self.shuffle, self.drop_last = batch_size, seed, shuffle, drop_last
        self.num_replicas, self.rank, self.grad_accum = num_replicas, rank, grad_accum
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        parts = self.num_replicas * self.grad_accum
        steps = hardness_buckets(
            self.alphas, self.batch_size * parts, self.seed + self.epoch, self.shuffle, self.drop_last
        )
        for step in steps:
            step = step + [step[i % len(step)] for i in range(-len(step) % parts)]
            m = len(step) // parts
            for a in range(self.grad_accum):
                k = a * self.num_replicas + self.rank
                yield step[k * m : (k + 1) * m]

    def __len__(self) -> int:
        per_step = self.batch_size * self.num_replicas * self.grad_accum
        n_steps = sum(n // per_step + (not self.drop_last and n % per_step > 0) for n in self.level_sizes)
        return n_steps * self.grad_accum


# --------------------------------------------------------------------------------------------------
# HF Trainer integration


class AlphaCollator:
    """Keeps ``alpha_hard`` away from the inner collator and puts it back in the batch as a list of floats.

    A list (not a tensor) so that 0.7 stays exactly 0.7 and survives any device move unchanged.
    """

    def __init__(self, inner: Callable[[list[dict]], Any], key: str = ALPHA_KEY) -> None:
        self.inner, self.key = inner, key

    def __call__(self, features: list[dict]) -> Any:
        alphas = [float(f[self.key]) for f in features if self.key in f]
        if alphas and len(alphas) != len(features):
            raise InputError(f"some samples of a batch have no {self.key!r}")
        batch = self.inner([{k: v for k, v in f.items() if k != self.key} for f in features])
        if alphas:
            batch[self.key] = alphas
        return batch

    def __getattr__(self, name: str) -> Any:  # e.g. the Trainer looks for ``data_collator.tokenizer``
        if name in ("inner", "key"):
            raise AttributeError(name)
        return getattr(self.inner, name)


class HKRECallback(TrainerCallback):
    """Before each optimizer step, sets the groups' decay for the α of the step's micro-batches.

    ``history`` holds ``(global_step, alpha, {band: weight_decay})`` for every step, for logging and tests.
    """

    def __init__(self, decay: HKREWeightDecay) -> None:
        self.decay = decay
        self.history: list[tuple[int, float, dict[str, float]]] = []
        self._alpha: float | None = None

    def observe(self, alphas: float | Sequence[float]) -> None:
        """Record a micro-batch's α; every micro-batch of one optimizer step must share it."""
        for a in [alphas] if isinstance(alphas, (int, float)) else alphas:
            if self._alpha is None:
                self._alpha = float(a)
            elif abs(float(a) - self._alpha) > _LEVEL_TOL:
                raise InputError(
                    f"one optimizer step mixes hardness {self._alpha} and {float(a)}: "
                    "batch with HardnessBucketSampler (grad_accum and world size included)"
                )

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):  # noqa: ANN001
        if self._alpha is None:
            raise InputError(f"no {ALPHA_KEY} seen before optimizer step {state.global_step}")
        values = self.decay.set_step(optimizer, state.global_step, state.max_steps, self._alpha)
        self.history.append((state.global_step, self._alpha, values))
        self._alpha = None


class HKRETrainer(Trainer):
    """``Trainer`` with HKRE: banded AdamW groups, hardness-bucketed batches, per-step decay from the batch's α.

    ``args.weight_decay`` is not used; λ_base comes from ``hkre``. Every training sample needs an
    ``alpha_hard`` field; evaluation samples may have one (it is dropped before the forward pass).
    """

    def __init__(
        self, *args: Any, hkre: HKREConfig | None = None, alpha_key: str = ALPHA_KEY, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hkre_config = hkre or HKREConfig()
        self.alpha_key = alpha_key
        self.hkre = HKRECallback(HKREWeightDecay(self.hkre_config))
        self.add_callback(self.hkre)
        self.data_collator = AlphaCollator(self.data_collator, alpha_key)

    def _set_signature_columns_if_needed(self) -> None:  # keep alpha_hard when unused columns are removed
        super()._set_signature_columns_if_needed()
        if self.alpha_key not in self._signature_columns:
            self._signature_columns.append(self.alpha_key)

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            a = self.args
            groups = param_groups(model or self.model, self.hkre_config)
            self.optimizer = torch.optim.AdamW(
                groups, lr=a.learning_rate, betas=(a.adam_beta1, a.adam_beta2), eps=a.adam_epsilon
            )
        return self.optimizer

    def get_train_dataloader(self) -> DataLoader:
        ds, a = self.train_dataset, self.args
        if ds is None:
            raise InputError("HKRETrainer needs a train_dataset")
        alphas = (
            ds[self.alpha_key]
            if hasattr(ds, "column_names")
            else [ds[i][self.alpha_key] for i in range(len(ds))]
        )
        sampler = HardnessBucketSampler(
            alphas,
            self._train_batch_size,
            seed=a.data_seed if a.data_seed is not None else a.seed,
            drop_last=a.dataloader_drop_last,
            num_replicas=max(1, a.world_size),
            rank=a.process_index,
            grad_accum=a.gradient_accumulation_steps,
        )
        collate = self._get_collator_with_removed_columns(self.data_collator, description="training")
        loader = self.accelerator.prepare(
            DataLoader(
                ds,
                batch_sampler=sampler,
                collate_fn=collate,
                num_workers=a.dataloader_num_workers,
                pin_memory=a.dataloader_pin_memory,
            )
        )
        shard = getattr(loader, "batch_sampler", None)  # our sampler already splits ranks: no second split
        if shard is not None and getattr(shard, "batch_sampler", None) is sampler:
            shard.num_processes, shard.process_index = 1, 0
        return loader

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> torch.Tensor:
        if self.alpha_key not in inputs:
            raise InputError(f"training batch has no {self.alpha_key!r}: every sample needs a hardness label")
        self.hkre.observe(inputs.pop(self.alpha_key))
        return super().training_step(model, inputs, num_items_in_batch)

    def prediction_step(self, model: nn.Module, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        inputs.pop(self.alpha_key, None)
        return super().prediction_step(model, inputs, *args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.hkre.history:
            _, alpha, values = self.hkre.history[-1]
            logs.update({"hkre_alpha": alpha, **{f"wd_{b}": v for b, v in values.items()}})
        super().log(logs, start_time)
