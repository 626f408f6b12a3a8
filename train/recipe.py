"""Training recipes: YAML files read into the configs training runs with; an unknown or mistyped key is an error.

A recipe names the base model, the data and one section per stage. Its sections are the runtime
configs themselves (``pretrain.stage1.hkre`` is an :class:`HKREConfig`, ``pretrain.stage2.masking`` a
:class:`MaskingConfig`, ``sft.quantization`` a :class:`FourBit`, the ``lora`` sections :class:`Lora`),
each checking its own values when it is made, so a value no run could use is refused, naming the
file and the key, before any data is read or any model loads. The values of the shipped Qwen3-4B
recipe are the paper's (QLoRA r = 64, α = 128, dropout 0.05, lr 2e-5, batch 8 × 8, seed 42).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.hf_models import FourBit, Lora
from ecmiip.core.typed_yaml import build, check_fields, load_yaml
from ecmiip.train.cases import MaskingConfig
from ecmiip.train.hkre_config import HKREConfig
from ecmiip.train.qa_pairs import DEFAULT_REASONING_SHARE

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"

_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
               "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay")


@dataclass
class StageSection:
    """What every stage shares: the optimisation loop (``train/loop.py`` makes HF TrainingArguments of it)."""

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

    def __post_init__(self) -> None:
        check_fields(self, [
            ("lr", lambda v: v > 0, "a positive learning rate (e.g. 2e-5)"),
            ("epochs", lambda v: v > 0, "a positive number of epochs"),
            ("batch_size", lambda v: v >= 1, "at least 1"),
            ("grad_accum", lambda v: v >= 1, "at least 1"),
            ("max_length", lambda v: v >= 8, "at least 8 tokens"),
            ("warmup_ratio", lambda v: 0 <= v < 1, "a share of the steps, 0 or more and below 1"),
            ("max_steps", lambda v: v == -1 or v > 0, "-1 (no cap) or a positive number of steps"),
            ("save_steps", lambda v: v >= 0, "0 (per epoch) or a positive number of steps"),
            ("precision", lambda v: v in ("auto", "bf16", "fp32"), "one of auto, bf16, fp32"),
            ("scheduler", lambda v: v in _SCHEDULERS, f"one of {', '.join(_SCHEDULERS)}"),
        ])  # fmt: skip


@dataclass
class Stage1Section(StageSection):
    hkre: HKREConfig = field(default_factory=HKREConfig)


@dataclass
class ContrastiveSection:
    """The hinge term of stage 2's loss (``train/contrastive.py: contrastive_loss``)."""

    weight: float = 0.5  # λ
    margin: float = 1.0  # m

    def __post_init__(self) -> None:
        check_fields(self, [("weight", lambda v: v >= 0, "0 or more"), ("margin", lambda v: v >= 0, "0 or more")])


@dataclass
class Stage2Section(StageSection):
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    contrastive: ContrastiveSection = field(default_factory=ContrastiveSection)


@dataclass
class PretrainSection:
    method: str = "full"  # full | lora
    lora: Lora = field(default_factory=Lora)
    stage1: Stage1Section = field(default_factory=Stage1Section)
    stage2: Stage2Section = field(default_factory=Stage2Section)

    def __post_init__(self) -> None:
        check_fields(self, [("method", lambda v: v in ("full", "lora"), "full or lora")])


@dataclass
class SFTSection(StageSection):
    quantization: FourBit = field(default_factory=FourBit)
    lora: Lora = field(default_factory=Lora)
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
    # the share of case/knowledge/exemption pairs against statute pairs in the built QA set (statute pairs
    # are sampled, seeded, to reach it; ecmiip.train.qa.balance); 0.3 keeps reasoning data from drowning,
    # 0 keeps every statute pair
    reasoning_share: float = DEFAULT_REASONING_SHARE
    val_fraction: float = 0.1
    max_val: int = 0  # > 0: at most this many validation items per stage

    def __post_init__(self) -> None:
        check_fields(self, [
            ("val_fraction", lambda v: 0 < v < 1, "a share strictly between 0 and 1 (e.g. 0.1)"),
            ("max_val", lambda v: v >= 0, "0 (no cap) or a positive count"),
            ("reasoning_share", lambda v: 0 <= v < 1, "a share from 0 (keep every statute pair) to below 1 (e.g. 0.3)"),
        ])  # fmt: skip


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

    def __post_init__(self) -> None:
        check_fields(self, [("seed", lambda v: v >= 0, "0 or a positive integer")])


def shipped_recipes() -> list[str]:
    """The names of the recipes shipped in ``train/recipes`` (what ``--config``/``--recipe`` accept by name)."""
    return [p.stem for p in sorted(RECIPES_DIR.glob("*.yaml"))]


def recipe_help(default: str | None = None) -> str:
    """The help text of an option that chooses a recipe: every shipped name, and the default."""
    names = ", ".join(shipped_recipes())
    return f"recipe YAML file, or the name of a shipped recipe: {names}" + (f" (default: {default})" if default else "")


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
    raw = load_yaml(path, what="recipe")
    if raw is None:
        raise InputError(f"{path}: the recipe is empty (it needs at least base:; see {RECIPES_DIR / 'tiny-cpu.yaml'})")
    recipe = build(Recipe, raw, path, what="the recipe", skip=("source",))
    recipe.source = path
    return recipe


def resolve(recipe: Recipe, relative: str) -> Path:
    """A path from the recipe, relative to the recipe file's folder."""
    p = Path(relative)
    return p if p.is_absolute() or recipe.source is None else (recipe.source.parent / p)
