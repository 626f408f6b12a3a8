"""``ecmiip build``: one command from MIPLD data to ``ollama run ec-miip``; ``--demo`` tries it offline."""

from __future__ import annotations

import argparse
import re
import shutil
import time
from pathlib import Path

from rich.panel import Panel
from rich.table import Table
from rich_argparse import RichHelpFormatter

from ecmiip.core.console import console
from ecmiip.core.errors import InputError, OutputExistsError

DEFAULT_BASE = "Qwen/Qwen3-4B"
DEMO_QUESTION = "未经专利权人许可，为生产经营目的制造其专利产品，是否侵犯专利权？请引用法条回答。"
_STATUS_STYLE = {"done": "green", "skipped": "dim", "failed": "red", "interrupted": "yellow", "pending": "white"}


def register(sub: argparse._SubParsersAction) -> None:
    from ecmiip.train.recipe import recipe_help

    p = sub.add_parser(
        "build",
        help="every step from data to a GGUF for Ollama and ecmiip-chat (resumable); --demo runs offline on CPU",
        description=(
            "Validate data, label hardness, build QA pairs, pre-train (HKRE, cases), QLoRA SFT, merge, "
            "convert, quantize, write the Modelfile and verify, each step in its own folder under --out. "
            "Completed steps are skipped when run again with --resume. Every option, the recipe and the data "
            "are checked before anything is written; the summary says how much disk the build folder uses and "
            "which checkpoint folders can be deleted once it is complete."
        ),
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("--base", help=f"HF model directory or hub id (default: the recipe's base, {DEFAULT_BASE})")
    p.add_argument("--data", type=Path, help="folder (or file) of MIPLD JSONL records (default: the shipped samples)")
    p.add_argument("--out", type=Path, help="build folder (default: builds/<name>, or builds/demo with --demo)")
    p.add_argument("--recipe", metavar="RECIPE", help=recipe_help("qwen3-4b; demo-cpu with --demo"))
    p.add_argument("--quant", default="Q4_K_M", help="quantization type of the final GGUF (default: Q4_K_M)")
    p.add_argument("--name", default="ec-miip", help="model name for files and Ollama (default: ec-miip)")
    p.add_argument("--bench", action="store_true", help="benchmark the final model (mcq, case, recite, speed)")
    p.add_argument("--bench-limit", type=int, default=20, help="items per bench task (default: 20)")
    p.add_argument("--resume", action="store_true", help="continue the build in --out, skipping completed steps")
    p.add_argument("--force", action="store_true", help="start over in an --out that holds a build")
    p.add_argument("--demo", action="store_true",
                   help="offline demo on CPU: SmolLM2-135M-Instruct, the shipped data, the demo-cpu recipe")
    p.add_argument("--ignore-hardware", action="store_true", help="start a GPU recipe on a machine without the GPU")
    p.add_argument("--no-answer", action="store_true", help="do not print a demo answer at the end")
    p.set_defaults(handler=run_build)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


def _check_options(args: argparse.Namespace) -> None:
    """What needs neither the recipe nor a model: fails at once."""
    if args.bench_limit < 1:
        raise InputError(f"--bench-limit {args.bench_limit}: must be at least 1")
    if not _NAME.fullmatch(args.name) or ".." in args.name:
        raise InputError(f"--name {args.name!r}: use letters, digits, '.', '_' and '-' (no path separators or "
                         "spaces, at most 80 characters): it names files and the Ollama model")
    if args.resume and args.force:
        raise InputError("--resume continues the build in --out and --force starts it over: pass one")
    from ecmiip.quantize.quantize import parse_quant_types

    parse_quant_types([args.quant])  # a typo fails now, not after hours of training


def _plan(args: argparse.Namespace):
    from ecmiip.core.hub import resolve_base
    from ecmiip.pipeline.build import BuildPlan, data_files, shipped_samples
    from ecmiip.pipeline.hardware import check_hardware
    from ecmiip.train.mipld import load_records
    from ecmiip.train.recipe import load_recipe

    _check_options(args)
    recipe = load_recipe(args.recipe or ("demo-cpu" if args.demo else "qwen3-4b"))
    data = args.data or shipped_samples()
    load_records(data_files(data))  # every record checked (file:line) before anything is written
    out = args.out or Path("builds") / ("demo" if args.demo else args.name)
    _check_out(out, args.resume, args.force, remove=False)
    if args.demo and not args.base:
        from ecmiip.pipeline.demo_base import demo_base

        with console.status("preparing the demo base model (SmolLM2-135M-Instruct, once)"):
            base = demo_base()
    else:
        base = resolve_base(args.base or recipe.base or DEFAULT_BASE)
    _check_exportable(base)
    warning = check_hardware(recipe, ignore=args.ignore_hardware)
    if warning:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    return BuildPlan(recipe, base, data, out, name=args.name, quant=args.quant.upper(), bench=args.bench,
                     bench_limit=args.bench_limit)


def _check_exportable(base: Path) -> None:
    """Fail before training, not after it, when the export step could not convert this architecture."""
    import json

    from ecmiip.quantize.arch import spec_for

    path = base / "config.json"
    if not path.is_file():
        raise InputError(f"{base}: not a model folder (no config.json); --base takes a Hugging Face model folder "
                         "or a hub id fetched with `ecmiip pull`")
    try:
        config = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise InputError(f"{path}: not a readable model config ({type(e).__name__})") from None
    if not isinstance(config, dict) or not isinstance(config.get("architectures") or [], list):
        raise InputError(f"{path}: not a model config (no architectures list)")
    for architecture in config.get("architectures") or ["(none given)"]:
        try:
            spec_for(architecture)
        except Exception as e:
            raise InputError(f"{base}/config.json: {e}") from e


def _check_out(out: Path, resume: bool, force: bool, remove: bool = True) -> None:
    """Refuse an --out that is a file, or holds a build or anything else, unless asked; with ``remove``,
    --force deletes the earlier build (only once every other check has passed)."""
    from ecmiip.pipeline.steps import STATE_FILE, StepState

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder: choose another build folder")
    if (out / STATE_FILE).exists() and not resume:
        if not force:
            raise OutputExistsError(f"{out} holds a build: --resume continues it, --force starts over")
        if remove:
            shutil.rmtree(out)
    elif (out / STATE_FILE).exists():
        StepState(out)  # a damaged build.json is refused now, with the path and what to do
    elif out.exists() and any(out.iterdir()) and not (out / STATE_FILE).exists() and not force:
        raise OutputExistsError(f"{out} exists and is not a build folder; choose another --out or pass --force")


def run_build(args: argparse.Namespace) -> int:
    from ecmiip.pipeline.build import make_steps
    from ecmiip.pipeline.steps import StepState, run_step, why_not_complete

    plan = _plan(args)
    steps = make_steps(plan)
    _check_out(plan.out, args.resume, args.force)
    plan.out.mkdir(parents=True, exist_ok=True)
    state = StepState(plan.out)
    state.data["plan"] = {"base": str(plan.base), "data": str(plan.data), "recipe": str(plan.recipe.source),
                          "quant": plan.quant, "name": plan.name}
    state.save()

    overview = Table(title=f"ecmiip build → {plan.out}", title_justify="left")
    for col in ("#", "step", "what", "state"):
        overview.add_column(col)
    for i, step in enumerate(steps, 1):
        reason = why_not_complete(step, plan.out, state)
        overview.add_row(str(i), step.name, step.title, "[dim]complete, skipped[/]" if reason is None else reason)
    console.print(overview)
    console.print(f"base {plan.base} · data {plan.data} · recipe {plan.recipe.source}", highlight=False)
    hw = plan.recipe.hardware
    if hw.minutes_per_1000_samples:
        where = f"a CUDA GPU with {hw.gpu_memory_gb:g} GB" if hw.requires_cuda else "CPU"
        console.print(f"recipe hardware: {where} ({hw.note}); SFT ≈ {hw.minutes_per_1000_samples:g} min "
                      "per 1,000 QA pairs per epoch", highlight=False)

    results = []
    t0 = time.perf_counter()
    for i, step in enumerate(steps, 1):
        def started(s, why, i=i):
            console.rule(f"[bold]{i}/{len(steps)} {s.name}[/] · {s.title} ({why})")

        try:
            result = run_step(step, plan.out, state, on_start=started)
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/] in step {step.name}: `ecmiip build … --resume` continues here")
            raise
        except Exception:
            console.print(f"[red]step {step.name} failed[/]; fix the cause and run again with --resume "
                          "(completed steps are kept)")
            raise
        results.append(result)
        if result.status == "done":
            console.print(f"[green]✓[/] {step.name} done in {result.seconds:.0f} s", highlight=False)
        else:
            console.print(f"[dim]· {i}/{len(steps)} {step.name}: skipped, complete[/]", highlight=False)
    _summary(plan, results, time.perf_counter() - t0)
    _ollama(plan)
    if not args.no_answer:
        _demo_answer(plan)
    return 0


def _summary(plan, results, seconds: float) -> None:
    from ecmiip.pipeline.build import quant_gguf

    table = Table(title="steps", title_justify="left")
    for col in ("step", "state", "time", "result"):
        table.add_column(col)
    for r in results:
        brief = ", ".join(f"{k} {v}" for k, v in r.summary.items() if not isinstance(v, dict))[:80]
        style = _STATUS_STYLE.get(r.status, "white")
        table.add_row(r.name, f"[{style}]{r.status}[/]", f"{r.seconds:.0f} s", brief)
    console.print(table)
    export = next((r for r in results if r.name == "export"), None)
    files = Table(title="model files", title_justify="left")
    files.add_column("file")
    files.add_column("size", justify="right")
    folder = plan.out / "06-export"
    for path in sorted(folder.glob("*.gguf")) + [folder / "Modelfile"]:
        files.add_row(str(path), f"{path.stat().st_size / 2**20:.1f} MiB")
    console.print(files)
    if export and export.summary.get("checks"):
        checks = ", ".join(f"{name} {'ok' if ok else ('FAILED' if ok is False else 'measured')}"
                           for name, ok in export.summary["checks"].items())
        console.print(f"verification: {checks}", highlight=False)
    bench = plan.out / "07-bench" / "results.json"
    if plan.bench and bench.exists():

        from ecmiip.bench.run import results_table

        console.print(results_table(bench))
    _disk_summary(plan)
    console.print(f"built in {seconds:.0f} s. Next:", highlight=False)
    console.print(f"  ecmiip-chat --model {quant_gguf(plan)}", highlight=False)


def _disk_summary(plan) -> None:
    """How much disk the build folder uses, and which checkpoint folders can go."""
    from ecmiip.pipeline.build import folder_bytes, reclaimable

    total = folder_bytes(plan.out)
    console.print(f"disk: {plan.out} uses {total / 2**20:,.1f} MiB", highlight=False)
    spare = reclaimable(plan)
    if spare:
        size = sum(n for _, n in spare)
        console.print(f"  {size / 2**20:,.1f} MiB of it are training checkpoints, needed only to --resume an "
                      "interrupted training; the build is complete, so they can be deleted:", highlight=False)
        parents = sorted({str(f.parent) for f, _ in spare})
        for parent in parents:
            console.print(f"    rm -r {parent}/checkpoint-*", highlight=False)


def _ollama(plan) -> None:
    from ecmiip.quantize.ollama import create, create_commands

    folder = plan.out / "06-export"
    if shutil.which("ollama"):
        create(folder, plan.name)
    else:
        for line in create_commands(folder, plan.name):
            console.print(f"  {line}", highlight=False)
        console.print("  [dim](ollama is not on PATH here, so the model was not registered)[/]")


def _demo_answer(plan) -> None:
    """One answer from the quantized model, streamed, so the user sees what was built."""
    from ecmiip.chat.llamacpp_backend import LlamaCppBackend
    from ecmiip.core.prompts import system_user
    from ecmiip.pipeline.build import quant_gguf

    backend = LlamaCppBackend(quant_gguf(plan), n_ctx=2048)
    try:
        messages = system_user(DEMO_QUESTION)
        text = "".join(d.text for d in backend.stream(messages, think=False, sampling={"temperature": 0.0, "seed": 0},
                                                      max_tokens=160) if d.kind == "content")
    finally:
        backend.close()
    console.print(Panel(text.strip() or "(empty answer)", title=f"问：{DEMO_QUESTION}", title_align="left"))
