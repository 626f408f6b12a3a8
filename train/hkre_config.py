"""HKRE's settings and its weight-decay rule, without torch: a recipe's ``pretrain.stage1.hkre`` is an
:class:`HKREConfig`, and reading a recipe must not load torch. ``ecmiip.train.hkre`` explains the
method and applies the rule to an optimizer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from ecmiip.core.typed_yaml import check_fields

BANDS = ("embedding", "low", "mid", "high", "no_decay")
_LEVEL_TOL = 1e-6  # α labels are discrete; a float32-stored 0.7 (0.69999999) is still the 0.7 level


@dataclass
class HKREConfig:
    """λ_base, the hard/soft split, the layer bands and the β schedule of HKRE (``ecmiip.train.hkre`` explains the method)."""

    lambda_base: float = 0.01
    hard_threshold: float = 0.7
    band_edges: tuple[float, float] = (5, 9)  # first layer of "mid", first layer of "high"
    relative_edges: bool = False  # edges are fractions of the depth (for deeper models)
    hard_factors: dict[str, float] = field(
        default_factory=lambda: {"embedding": 0.0, "low": 0.0, "mid": 0.3, "high": 0.7}
    )
    combine: Literal["product", "min"] = "product"
    beta_schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    min_beta: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self, [
            ("lambda_base", lambda v: v >= 0, "0 or more"),
            ("hard_threshold", lambda v: 0 <= v <= 1, "between 0 and 1"),
            ("band_edges", lambda v: len(v) == 2 and 0 <= v[0] <= v[1], "two layers, 0 ≤ mid ≤ high"),
            ("band_edges", lambda v: not self.relative_edges or v[1] <= 1, "fractions of the depth, ≤ 1 (relative_edges)"),
            ("hard_factors", lambda v: set(v) == set(BANDS[:4]), "a factor for each of embedding, low, mid, high"),
            ("hard_factors", lambda v: all(0 <= f <= 1 for f in v.values()), "factors between 0 and 1"),
            ("combine", lambda v: v in ("product", "min"), "product or min"),
            ("beta_schedule", lambda v: v in ("constant", "cosine"), "constant or cosine"),
            ("warmup_steps", lambda v: v >= 0, "0 or more"),
            ("min_beta", lambda v: 0 <= v <= 1, "between 0 and 1"),
        ])  # fmt: skip

    def edges(self, n_layers: int) -> tuple[int, int]:
        """First layer index of the mid and of the high band for a model of ``n_layers`` layers."""
        if not self.relative_edges:
            return int(self.band_edges[0]), int(self.band_edges[1])
        return tuple(math.floor(f * n_layers + 0.5) for f in self.band_edges)  # type: ignore[return-value]

    def band_factor(self, band: str) -> float:
        """The band's factor on hard batches (0 for norms and biases)."""
        return 0.0 if band == "no_decay" else self.hard_factors[band]

    def beta(self, step: int, total_steps: int) -> float:
        """β(t): 1, or linear warm-up over ``warmup_steps`` then cosine from 1 to ``min_beta`` at ``total_steps``."""
        if self.beta_schedule == "constant":
            return 1.0
        if step < self.warmup_steps:
            return step / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, total_steps - self.warmup_steps))
        return self.min_beta + (1 - self.min_beta) * 0.5 * (1 + math.cos(math.pi * progress))

    def is_hard(self, alpha: float) -> bool:
        return alpha >= self.hard_threshold - _LEVEL_TOL

    def weight_decay(self, band: str, alpha: float, beta: float = 1.0) -> float:
        """The module docstring's formula for one band, one batch hardness and one β."""
        if band == "no_decay":
            return 0.0
        soft = 1.0 - alpha
        if not self.is_hard(alpha):
            return self.lambda_base * beta * soft
        factor = self.hard_factors[band]
        return self.lambda_base * beta * (soft * factor if self.combine == "product" else min(soft, factor))
