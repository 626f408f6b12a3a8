"""``ecmiip train pretrain`` and ``ecmiip train sft``: run a recipe's stages."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import zipfile
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.console import console
from ecmiip.core.errors import InputError, OutputExistsError


def register(sub: argparse._SubParsersAction) -> None:
    from ecmiip.train.recipe import shipped_recipes

    p = sub.add_parser(
        "train", help="continued pre-training (HKRE, cases) and QLoRA SFT",
        description="Train from a recipe: `pretrain` runs stage 1 (HKRE on statutes and knowledge) and stage 2 "
        "(cases) and writes a 16-bit model; `sft` trains a QLoRA adapter on QA pairs. Shipped recipes: "
        f"{', '.join(shipped_recipes())}.",
        formatter_class=RichHelpFormatter,
    )
    tsub = p.add_subparsers(dest="train_command", metavar="COMMAND", required=True)

    pre = tsub.add_parser(
        "pretrain", help="stage 1 (HKRE on statutes and knowledge) then stage 2 (cases)",
        description="Continued pre-training: stage 1 trains on statutes, knowledge and exemptions with HKRE's "
        "hardness-weighted decay, stage 2 on case texts (graded masking and a contrastive term). Writes "
        "OUT/stage1, OUT/stage2 (checkpoints), OUT/model (the 16-bit model), loss histories and plots. "
        "Every recipe value and data file is checked before the model loads; an earlier run in OUT is only "
        "continued (--resume) or replaced (--force) when asked.",
        formatter_class=RichHelpFormatter,
    )
    _common(pre)
    pre.set_defaults(handler=_pretrain)

    sft = tsub.add_parser(
        "sft", help="QLoRA fine-tuning on QA pairs; writes a LoRA adapter",
        description="Supervised fine-tuning: the base loads in 4-bit NF4 and LoRA adapters learn the answers of "
        "the QA pairs (`ecmiip data build-qa` writes them). Writes OUT/checkpoints, OUT/adapter, the loss "
        "history and plot. Every recipe value and QA line is checked before the model loads.",
        formatter_class=RichHelpFormatter,
    )
    _common(sft)
    sft.add_argument("--qa", type=Path, action="append", default=[], metavar="FILE", help="QA pairs JSONL (repeatable; default: the recipe's data.qa)")
    sft.set_defaults(handler=_sft)


def _common(p: argparse.ArgumentParser) -> None:
    from ecmiip.train.recipe import recipe_help

    p.add_argument("--config", required=True, metavar="RECIPE", help=recipe_help())
    p.add_argument("--base", type=Path, help="base model directory (overrides the recipe's base)")
    p.add_argument("--out", type=Path, help="output directory (overrides the recipe's output_dir)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output directory")
    p.add_argument("--force", action="store_true",
                   help="replace an earlier run in the output directory (its model and checkpoints are deleted)")


def _setup(args: argparse.Namespace, kind: str):
    """Everything that can be checked without a model: the recipe's values, the base folder, the output
    folder (an earlier run is not replaced without --resume or --force)."""
    from ecmiip.train.recipe import load_recipe

    recipe = load_recipe(args.config)
    base = args.base or (Path(recipe.base) if recipe.base else None)
    if base is None:
        raise InputError(f"{recipe.source}: no base model (set base: in the recipe or pass --base)")
    if not base.is_dir():
        raise InputError(f"base model directory not found: {base} (--base or the recipe's base:)")
    if not (base / "config.json").is_file():
        raise InputError(f"{base}: not a model directory (no config.json); --base takes a Hugging Face model "
                         "folder (ecmiip pull fetches one)")
    out = args.out or Path(recipe.output_dir)
    earlier = check_run_folder(out, kind, resume=args.resume, force=args.force)
    return recipe, base, out, earlier


def _pretrain(args: argparse.Namespace) -> int:
    from ecmiip.train.hardness import pretrain_data

    recipe, base, out, earlier = _setup(args, "pretrain")
    pretrain_data(recipe)  # every data file read and checked: bad data fails before the model loads
    if args.resume:
        check_resumable(out / "stage1")
        check_resumable(out / "stage2")
    remove_run(earlier)

    from ecmiip.train.pretrain import run_pretrain

    run_pretrain(recipe, base, out, resume=args.resume)
    return 0


def _sft(args: argparse.Namespace) -> int:
    from ecmiip.train.mipld import load_conversations
    from ecmiip.train.recipe import resolve

    recipe, base, out, earlier = _setup(args, "sft")
    qa = args.qa or [resolve(recipe, f) for f in recipe.data.qa]
    if not qa:
        raise InputError("no QA pairs: pass --qa FILE or list them under data.qa in the recipe (ecmiip data build-qa writes them)")
    load_conversations(qa)
    if args.resume:
        check_resumable(out / "checkpoints")
    remove_run(earlier)

    from ecmiip.train.sft import run_sft

    run_sft(recipe, base, qa, out, resume=args.resume)
    return 0


# ---------------------------------------------------------------- a run's output folder
# (no torch here: these checks run before any model loads, and must be quick)

#: What each kind of run writes into its output folder (a rerun without --resume would replace these).
RUN_OUTPUTS = {
    "pretrain": ("stage1", "stage2", "model", "stage1-history.json", "stage1-loss.png", "stage2-history.json",
                 "stage2-loss.png"),
    "sft": ("checkpoints", "adapter", "sft-history.json", "sft-loss.png"),
}


def check_run_folder(out: Path, kind: str, *, resume: bool, force: bool) -> list[Path]:
    """Refuse (before any model loads) to replace an earlier run in ``out`` unless --resume or --force;
    return what --force will delete (nothing is deleted here)."""
    if resume and force:
        raise InputError("--resume continues the run in the output folder and --force replaces it: pass one")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder: choose another output folder")
    earlier = [out / name for name in RUN_OUTPUTS[kind] if (out / name).exists()]
    if earlier and not resume and not force:
        raise OutputExistsError(
            f"{out} holds an earlier {kind} run ({', '.join(p.name for p in earlier)}): pass --resume to continue "
            f"it from its last checkpoint, or --force to replace it (its model and checkpoints are deleted)")
    return earlier if force else []


def remove_run(paths: list[Path]) -> None:
    """Delete an earlier run's outputs (--force), so that none of its checkpoints mixes into the new run."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def last_checkpoint(output_dir: Path, quiet: bool = False) -> str | None:
    """The newest *complete* checkpoint folder.

    The Trainer writes a checkpoint's files one after another and ``trainer_state.json`` last, so a
    folder without a readable one was cut off mid-save (a kill, a power cut) and cannot be resumed.
    """
    if not output_dir.is_dir():
        return None
    steps = [(int(m[1]), p) for p in output_dir.iterdir() if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    for _, path in sorted(steps, reverse=True):
        if checkpoint_complete(path):
            return str(path)
        if not quiet:
            console.print(f"[yellow]skipping {path}: cut off while being saved[/]")
    return None


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a complete-looking checkpoint (None when nothing is): a truncated safetensors
    file, a torch file that is not a whole zip archive, unreadable JSON. Reads headers only, not weights."""
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
            return "trainer_state.json has no global_step"
        for f in sorted(path.iterdir()):
            if not f.is_file():
                continue
            if f.suffix == ".safetensors":
                why = _safetensors_problem(f)
            elif f.suffix in (".pt", ".pth", ".bin"):
                why = None if zipfile.is_zipfile(f) else "not a complete torch file (truncated?)"
            elif f.suffix == ".json":
                try:
                    json.loads(f.read_text(encoding="utf-8"))
                    why = None
                except (ValueError, RecursionError):
                    why = "not valid JSON"
            else:
                why = None
            if why:
                return f"{f.name}: {why}"
    except (OSError, ValueError, RecursionError) as e:
        return f"unreadable ({e})"
    return None


def _safetensors_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return "truncated (no header)"
        n = int.from_bytes(head, "little")
        if n > size - 8 or n > 100 * 2**20:
            return "truncated or not a safetensors file (bad header length)"
        try:
            header = json.loads(f.read(n))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return "not a safetensors file (unreadable header)"
    if 8 + n + end > size:
        return f"truncated ({size} bytes, the header needs {8 + n + end})"
    return None


def check_resumable(output_dir: Path) -> None:
    """Raise InputError when the checkpoint --resume would continue from is damaged (before any model loads)."""
    checkpoint = last_checkpoint(output_dir, quiet=True)
    if checkpoint is not None and (why := checkpoint_problem(Path(checkpoint))):
        raise InputError(f"cannot resume from {checkpoint}: {why}; delete that checkpoint folder to resume from "
                         "the one before it, or start over with --force instead of --resume")


def checkpoint_complete(path: Path) -> bool:
    """Whether the checkpoint's last-written file, ``trainer_state.json``, is there and whole."""
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True
