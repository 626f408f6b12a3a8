"""Training recipes: YAML files read into typed sections; an unknown or mistyped key is an error.

A recipe names the base model, the data and one section per stage. The values of the shipped
Qwen3-4B recipe are the paper's (QLoRA r = 64, α = 128, dropout 0.05, lr 2e-5, batch 8 × 8, seed 42).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ecmiip.core.errors import InputError

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


@dataclass
class LoraSection:
    r: int = 64
    alpha: int = 128
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class QuantSection:
    load_in_4bit: bool = True
    quant_type: str = "nf4"
    double_quant: bool = True
    compute_dtype: str = "bfloat16"


@dataclass
class StageSection:
    """What every stage shares: the optimisation loop."""

    epochs: float = 1.0
    lr: float = 2e-5
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 1024
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"
    max_steps: int = -1  # > 0 caps the run (tests, smoke runs)
    save_every_epoch: bool = True
    save_steps: int = 0  # > 0: also checkpoint every N optimizer steps (what a crash can lose)
    precision: str = "auto"  # auto: bf16 on CUDA GPUs that have it, else fp32


@dataclass
class HKRESection:
    """Mirrors ``ecmiip.train.hkre.HKREConfig`` (its docstring explains each value)."""

    lambda_base: float = 0.01
    hard_threshold: float = 0.7
    band_edges: list[float] = field(default_factory=lambda: [5, 9])
    relative_edges: bool = False
    hard_factors: dict[str, float] = field(default_factory=lambda: {"embedding": 0.0, "low": 0.0, "mid": 0.3, "high": 0.7})
    combine: str = "product"
    beta_schedule: str = "constant"
    warmup_steps: int = 0
    min_beta: float = 0.0


@dataclass
class Stage1Section(StageSection):
    hkre: HKRESection = field(default_factory=HKRESection)


@dataclass
class MaskingSection:
    keep_facts: float = 0.6
    keep_analysis: float = 0.6
    keep_citation: float = 1.0
    keep_reasoning: float = 0.8
    key_terms: list[str] = field(default_factory=list)  # added to the built-in list
    variant_rate: float = 0.5


@dataclass
class ContrastiveSection:
    weight: float = 0.5  # λ
    margin: float = 1.0  # m


@dataclass
class Stage2Section(StageSection):
    masking: MaskingSection = field(default_factory=MaskingSection)
    contrastive: ContrastiveSection = field(default_factory=ContrastiveSection)


@dataclass
class PretrainSection:
    method: str = "full"  # full | lora
    lora: LoraSection = field(default_factory=LoraSection)
    stage1: Stage1Section = field(default_factory=Stage1Section)
    stage2: Stage2Section = field(default_factory=Stage2Section)


@dataclass
class SFTSection(StageSection):
    quantization: QuantSection = field(default_factory=QuantSection)
    lora: LoraSection = field(default_factory=LoraSection)
    epochs: float = 3.0
    grad_accum: int = 8


@dataclass
class DataSection:
    statutes: str | list[str] = "builtin"  # "builtin": the statute store's texts in force today (user imports too)
    # true: also train on superseded and repealed texts, each labelled with its version and status
    # (《法》（2019修正，已于2025-10-15被取代）第九条：…) and given the softest hardness; false: current law only
    include_superseded: bool = False
    knowledge: list[str] = field(default_factory=list)
    exemptions: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    qa: list[str] = field(default_factory=list)
    val_fraction: float = 0.1
    max_val: int = 0  # > 0: at most this many validation items per stage


@dataclass
class HardwareSection:
    """What the recipe needs; ``ecmiip build`` refuses a CUDA recipe on a machine without CUDA."""

    requires_cuda: bool = False
    gpu_memory_gb: float = 0.0
    minutes_per_1000_samples: float = 0.0  # SFT, one epoch, on the GPU named in ``note``
    note: str = ""


@dataclass
class Recipe:
    base: str
    output_dir: str = "runs/ec-miip"
    seed: int = 42
    data: DataSection = field(default_factory=DataSection)
    pretrain: PretrainSection = field(default_factory=PretrainSection)
    sft: SFTSection = field(default_factory=SFTSection)
    hardware: HardwareSection = field(default_factory=HardwareSection)
    source: Path | None = None  # where it was read from; relative data paths resolve against it


def _matches(value: object, hint: object) -> bool:
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_matches(k, key) and _matches(v, item) for k, v in value.items())
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is type(None):
        return value is None
    return isinstance(value, hint)  # type: ignore[arg-type]


def _build(cls: type, raw: object, where: str, source: Path):
    if not isinstance(raw, dict):
        raise InputError(f"{source}: {where or 'the recipe'} must be a mapping, not {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise InputError(f"{source}: unknown key {where + '.' if where else ''}{unknown[0]} (known: {', '.join(sorted(names))})")
    values = {}
    for name, value in raw.items():
        hint, key = hints[name], f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key, source)
        elif not _matches(value, hint):
            raise InputError(f"{source}: {key} = {value!r} is not a {getattr(hint, '__name__', hint)}")
        else:
            values[name] = float(value) if hint is float else value
    try:
        return cls(**values)
    except TypeError as e:  # a required key is missing
        raise InputError(f"{source}: {where or 'the recipe'}: {e}") from e


def load_recipe(path: Path | str) -> Recipe:
    """Read a recipe; a name without a path (``tiny-cpu``) means a shipped recipe."""
    path = Path(path)
    if not path.suffix and not path.exists():
        path = RECIPES_DIR / f"{path.name}.yaml"
    if not path.is_file():
        shipped = ", ".join(p.stem for p in sorted(RECIPES_DIR.glob("*.yaml")))
        raise InputError(f"recipe not found: {path} (shipped recipes: {shipped})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({e})") from e
    recipe = _build(Recipe, raw, "", path)
    recipe.source = path
    return recipe


def resolve(recipe: Recipe, relative: str) -> Path:
    """A path from the recipe, relative to the recipe file's folder."""
    p = Path(relative)
    return p if p.is_absolute() or recipe.source is None else (recipe.source.parent / p)
