"""``ecmiip train pretrain`` and ``ecmiip train sft``: run a recipe's stages."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="continued pre-training (HKRE, cases) and QLoRA SFT", formatter_class=RichHelpFormatter)
    tsub = p.add_subparsers(dest="train_command", metavar="COMMAND", required=True)

    pre = tsub.add_parser(
        "pretrain", help="stage 1 (HKRE on statutes and knowledge) then stage 2 (cases)", formatter_class=RichHelpFormatter
    )
    _common(pre)
    pre.set_defaults(handler=_pretrain)

    sft = tsub.add_parser("sft", help="QLoRA fine-tuning on QA pairs; writes a LoRA adapter", formatter_class=RichHelpFormatter)
    _common(sft)
    sft.add_argument("--qa", type=Path, action="append", default=[], metavar="FILE", help="QA pairs JSONL (repeatable; default: the recipe's data.qa)")
    sft.set_defaults(handler=_sft)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="recipe YAML, or the name of a shipped one (qwen3-4b, tiny-cpu)")
    p.add_argument("--base", type=Path, help="base model directory (overrides the recipe's base)")
    p.add_argument("--out", type=Path, help="output directory (overrides the recipe's output_dir)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output directory")


def _setup(args: argparse.Namespace):
    from ecmiip.train.recipe import load_recipe

    recipe = load_recipe(args.config)
    base = args.base or (Path(recipe.base) if recipe.base else None)
    if base is None:
        raise InputError(f"{recipe.source}: no base model (set base: in the recipe or pass --base)")
    if not base.is_dir():
        raise InputError(f"base model directory not found: {base}")
    return recipe, base, args.out or Path(recipe.output_dir)


def _pretrain(args: argparse.Namespace) -> int:
    from ecmiip.train.pretrain import run_pretrain

    recipe, base, out = _setup(args)
    run_pretrain(recipe, base, out, resume=args.resume)
    return 0


def _sft(args: argparse.Namespace) -> int:
    from ecmiip.train.recipe import resolve
    from ecmiip.train.sft import run_sft

    recipe, base, out = _setup(args)
    qa = args.qa or [resolve(recipe, f) for f in recipe.data.qa]
    if not qa:
        raise InputError("no QA pairs: pass --qa FILE or list them under data.qa in the recipe (ecmiip data build-qa writes them)")
    run_sft(recipe, base, qa, out, resume=args.resume)
    return 0
