"""``ecmiip train pretrain`` and ``ecmiip train sft``: run a recipe's stages."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.errors import InputError
from ecmiip.train.run_folder import check_resumable, check_run_folder, remove_run


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
