"""Training recipes: YAML files read into typed sections; an unknown or mistyped key is an error.

A recipe names the base model, the data and one section per stage. The values of the shipped
Qwen3-4B recipe are the paper's (QLoRA r = 64, α = 128, dropout 0.05, lr 2e-5, batch 8 × 8, seed 42).
"""

from __future__ import annotations

import dataclasses
import re
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


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


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
        if hint is float and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string; it is meant as a number
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


def shipped_recipes() -> list[str]:
    """The names of the recipes shipped in ``train/recipes`` (what ``--config``/``--recipe`` accept by name)."""
    return [p.stem for p in sorted(RECIPES_DIR.glob("*.yaml"))]


def recipe_help(default: str | None = None) -> str:
    """The help text of an option that chooses a recipe: every shipped name, and the default."""
    names = ", ".join(shipped_recipes())
    return f"recipe YAML file, or the name of a shipped recipe: {names}" + (f" (default: {default})" if default else "")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one silently)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise InputError(f"line {key_node.start_mark.line + 1}: key {key!r} is given twice "
                             f"(first on line {seen[key]}); keep one")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_recipe(path: Path | str) -> Recipe:
    """Read a recipe; a name without a path (``tiny-cpu``) means a shipped recipe."""
    path = Path(path)
    if not path.suffix and not path.exists():
        path = RECIPES_DIR / f"{path.name}.yaml"
    if path.is_dir():
        raise InputError(f"recipe {path} is a folder: give a recipe YAML file or a shipped name "
                         f"({', '.join(shipped_recipes())})")
    if not path.is_file():
        raise InputError(f"recipe not found: {path} (shipped recipes: {', '.join(shipped_recipes())})")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason}); save the recipe as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a recipe") from None
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    if raw is None:
        raise InputError(f"{path}: the recipe is empty (it needs at least base:; see {RECIPES_DIR / 'tiny-cpu.yaml'})")
    recipe = _build(Recipe, raw, "", path)
    recipe.source = path
    check_values(recipe, path)
    return recipe


# (dotted key, test, what it must be): each checked before any data is read or any model loads.
def _stage_rules(prefix: str) -> list[tuple[str, object, str]]:
    return [
        (f"{prefix}.lr", lambda v: v > 0, "a positive learning rate (e.g. 2e-5)"),
        (f"{prefix}.epochs", lambda v: v > 0, "a positive number of epochs"),
        (f"{prefix}.batch_size", lambda v: v >= 1, "at least 1"),
        (f"{prefix}.grad_accum", lambda v: v >= 1, "at least 1"),
        (f"{prefix}.max_length", lambda v: v >= 8, "at least 8 tokens"),
        (f"{prefix}.warmup_ratio", lambda v: 0 <= v < 1, "a share of the steps, 0 or more and below 1"),
        (f"{prefix}.max_steps", lambda v: v == -1 or v > 0, "-1 (no cap) or a positive number of steps"),
        (f"{prefix}.save_steps", lambda v: v >= 0, "0 (per epoch) or a positive number of steps"),
        (f"{prefix}.precision", lambda v: v in ("auto", "bf16", "fp32"), "one of auto, bf16, fp32"),
        (f"{prefix}.scheduler", lambda v: v in _SCHEDULERS, f"one of {', '.join(_SCHEDULERS)}"),
    ]


_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
               "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay")


def _lora_rules(prefix: str) -> list[tuple[str, object, str]]:
    return [
        (f"{prefix}.r", lambda v: v >= 1, "a positive rank"),
        (f"{prefix}.alpha", lambda v: v > 0, "positive"),
        (f"{prefix}.dropout", lambda v: 0 <= v < 1, "0 or more and below 1"),
    ]


_RULES: list[tuple[str, object, str]] = [
    ("seed", lambda v: v >= 0, "0 or a positive integer"),
    ("data.val_fraction", lambda v: 0 < v < 1, "a share strictly between 0 and 1 (e.g. 0.1)"),
    ("data.max_val", lambda v: v >= 0, "0 (no cap) or a positive count"),
    ("pretrain.method", lambda v: v in ("full", "lora"), "full or lora"),
    *_lora_rules("pretrain.lora"),
    *_stage_rules("pretrain.stage1"),
    ("pretrain.stage1.hkre.lambda_base", lambda v: v >= 0, "0 or more"),
    ("pretrain.stage1.hkre.hard_threshold", lambda v: 0 <= v <= 1, "between 0 and 1"),
    *_stage_rules("pretrain.stage2"),
    *[(f"pretrain.stage2.masking.keep_{k}", lambda v: 0 <= v <= 1, "a share between 0 and 1")
      for k in ("facts", "analysis", "citation", "reasoning")],
    ("pretrain.stage2.masking.variant_rate", lambda v: 0 <= v <= 1, "a share between 0 and 1"),
    ("pretrain.stage2.contrastive.weight", lambda v: v >= 0, "0 or more"),
    ("pretrain.stage2.contrastive.margin", lambda v: v >= 0, "0 or more"),
    *_stage_rules("sft"),
    *_lora_rules("sft.lora"),
    ("sft.quantization.quant_type", lambda v: v in ("nf4", "fp4"), "nf4 or fp4"),
    ("sft.quantization.compute_dtype", lambda v: v in ("bfloat16", "float16", "float32"),
     "bfloat16, float16 or float32"),
]


def check_values(recipe: Recipe, source: Path | str | None = None) -> None:
    """Refuse a value no run could use (a negative learning rate, ``val_fraction: 7``…), naming the file and key."""
    where = source or recipe.source or "the recipe"
    for key, ok, what in _RULES:
        value: object = recipe
        for part in key.split("."):
            value = getattr(value, part)
        if not ok(value):  # type: ignore[operator]
            raise InputError(f"{where}: {key} = {value!r} must be {what}")


def resolve(recipe: Recipe, relative: str) -> Path:
    """A path from the recipe, relative to the recipe file's folder."""
    p = Path(relative)
    return p if p.is_absolute() or recipe.source is None else (recipe.source.parent / p)
