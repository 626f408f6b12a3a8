"""``ecmiip bench``: score models on IP-law tasks and write results.json, report.md and a chart.

Model specs: a GGUF path (llama.cpp in this process), an HF model directory, ``DIR+ADAPTER_DIR`` (an HF
model with a LoRA adapter, unmerged: transformers in this process) — all three with every scorer — or
``ollama:NAME`` (a local Ollama: generation only, since Ollama gives no logits). Tasks: ``mcq`` and ``case`` (each with both scorers:
``mcq-likelihood``, ``mcq-generation``, ``case-likelihood``, ``case-generation``; see
:mod:`ecmiip.bench.scorers` and :mod:`ecmiip.bench.case`), ``recite`` and ``speed``. Without ``--data``
the shipped samples are used (``bench/samples``; recitation: 40 articles of the statute corpus).

Every accuracy comes with its Wilson 95 % interval; with two or more models, each is compared with the
first on the same items (McNemar's exact test, :mod:`ecmiip.bench.stats`). ``--preset paper`` scores
the paper's three sets, ``--data DX.jsonl,NOM.jsonl,HX.jsonl``, and prints its Table-3 layout
(:mod:`ecmiip.bench.paper`).
"""

from __future__ import annotations

import argparse
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich_argparse import RichHelpFormatter

from ecmiip.bench import data as bench_data
from ecmiip.bench import paper
from ecmiip.bench.accounting import item_cost
from ecmiip.bench.case import CaseGenerationScorer, CaseLikelihoodScorer
from ecmiip.bench.report import bar_chart, headline, markdown, rich_table, summarize
from ecmiip.bench.results import (
    empty_results,
    in_model_order,
    load_results,
    order_items,
    save_results,
    task_entry,
)
from ecmiip.bench.scorers import RELATIVE_THRESHOLD, GenerationScorer, LikelihoodScorer, ReciteScorer
from ecmiip.bench.speed import measure_speed
from ecmiip.bench.stats import comparisons
from ecmiip.chat.backends import Backend
from ecmiip.chat.open_model import model_info, open_model
from ecmiip.core.console import console
from ecmiip.core.errors import InputError
from ecmiip.core.outputs import refuse_existing, write_text_atomic

TASKS = ("mcq", "case", "recite", "speed")


def plain_help(doc: str) -> str:
    """A docstring as help text: Sphinx roles (:mod:`x`) and double backticks become plain `x`."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", doc)
    return re.sub(r"``([^`]+)``", r"`\1`", text).strip()


SCORERS = ("likelihood", "generation")

# The benchmark's context, half the chat default (ecmiip.core.prompts.DEFAULT_NUM_CTX): every bench
# prompt (system prompt and a question, a case's facts or an article's name) and its answer budget fit
# well inside it, a smaller KV cache leaves memory to the model being measured, and it is a resume
# setting (recorded in results.json), so runs made with it stay comparable and resumable.
BENCH_NUM_CTX = 4096


@dataclass(frozen=True)
class BenchOptions:
    """One bench run: what ``ecmiip bench`` parses and what the build pipeline passes (see :func:`run_bench`)."""

    models: tuple[str, ...]
    task: str = ",".join(TASKS)
    data: tuple[str, ...] = ()
    scorer: str | None = None  # default: likelihood,generation (the paper preset: generation)
    limit: int | None = None
    out: Path = Path("bench-out")
    seed: int = 0
    shuffle_options: bool = False
    threshold: float = RELATIVE_THRESHOLD
    think: bool = False
    ollama_host: str | None = None
    n_ctx: int = BENCH_NUM_CTX
    speed_tokens: int = 64
    resume: bool = False
    force: bool = False
    item_type: str | None = None
    preset: str | None = None
    show: bool = True  # print the tables at the end (the pipeline prints its own summary)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchOptions:
        return cls(
            models=tuple(args.model), task=args.task, data=tuple(args.data), scorer=args.scorer, limit=args.limit,
            out=args.out, seed=args.seed, shuffle_options=args.shuffle_options, threshold=args.threshold,
            think=args.think, ollama_host=args.ollama_host, n_ctx=args.n_ctx, speed_tokens=args.speed_tokens,
            resume=args.resume, force=args.force, item_type=args.type, preset=args.preset,
        )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="IP-law accuracy and speed of one or more models (results.json, report.md, chart)",
        description=plain_help(__doc__ or ""),
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("--model", action="append", required=True, metavar="SPEC", help="GGUF path, HF model dir, DIR+ADAPTER_DIR or ollama:NAME; repeatable")
    p.add_argument("--task", default="mcq,case,recite,speed", help="comma-separated: mcq, case, recite, speed (default: all)")
    p.add_argument("--data", action="append", default=[], metavar="[TASK=]FILE",
                   help="JSONL item file, per task (with --preset paper: DX.jsonl,NOM.jsonl,HX.jsonl)")
    p.add_argument("--type", choices=bench_data.ITEM_TYPES, default=None,
                   help="mcq: the type of items whose line gives none (single 单选, multiple 多选, indefinite 不定项)")
    p.add_argument("--preset", choices=("paper",), default=None,
                   help="paper: the paper's Table 3 — DX (single-choice exam), NOM and HX (cases); one scorer")
    p.add_argument("--scorer", default=None,
                   help="mcq and case scorers (default: likelihood,generation; with --preset paper: generation)")
    p.add_argument("--limit", type=int, help="score only the first N items of each data set")
    p.add_argument("--out", type=Path, default=Path("bench-out"), help="output directory (default: bench-out)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed and option-shuffle seed (default: 0)")
    p.add_argument("--shuffle-options", action="store_true", help="present each item's options in a seeded order")
    p.add_argument(
        "--threshold", type=float, default=RELATIVE_THRESHOLD,
        help=f"likelihood scorer: letters with probability ≥ this × the top one's are predicted (default: {RELATIVE_THRESHOLD})",
    )
    p.add_argument("--think", action="store_true", help="let the model think before answering (slower)")
    p.add_argument("--ollama-host", default=None, help="Ollama address for ollama:NAME specs (loopback only)")
    p.add_argument("--n-ctx", type=int, default=BENCH_NUM_CTX, help="context size in tokens (default: %(default)s)")
    p.add_argument("--speed-tokens", type=int, default=64, help="tokens decoded by the speed task (default: 64)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/results.json, skipping scored items")
    p.add_argument("--force", action="store_true", help="overwrite an existing results.json")
    p.set_defaults(handler=_run_cli)


def _split(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise InputError(f"unknown {what} {', '.join(unknown) or '(none)'}; choose from {', '.join(allowed)}")
    return names


DataFiles = dict[str, list[tuple[Path, str | None]]]  # task → [(file, type or kind of lines giving none)]


def _data_files(specs: list[str], tasks: list[str], item_type: str | None) -> DataFiles:
    data_tasks = [t for t in tasks if t != "speed"]
    files: DataFiles = {}
    for spec in specs:
        task, sep, file = spec.partition("=")
        if not sep:
            if len(data_tasks) != 1:
                raise InputError(f"--data {spec}: say which task it is for, e.g. --data mcq={spec}")
            task, file = data_tasks[0], spec
        if task not in data_tasks:
            raise InputError(f"--data {spec}: {task} is not one of the data tasks run ({', '.join(data_tasks)})")
        if task in files:
            raise InputError(f"--data {spec}: a second file for {task}; give one file per task")
        files[task] = [(bench_data.data_file(spec, file), item_type if task == "mcq" else None)]
    return files


def load_items(task: str, files: list[tuple[Path, str | None]], limit: int | None) -> tuple[list, list[str], str]:
    """Items, invalid lines and a name of the data used (shipped sample when ``files`` is empty);
    ``limit`` applies to each file."""
    if not files and task == "recite":
        items = bench_data.statute_recitation_items()
        return (items[:limit] if limit is not None else items), [], "statute corpus sample (40 articles)"
    items, invalid, names = [], [], []
    for path, default in files or [(bench_data.DEFAULT_DATA[task], None)]:
        loaded = bench_data.load(path, task, default)
        items += loaded.items[:limit] if limit is not None else loaded.items
        invalid += loaded.invalid
        names.append(str(path) if files else path.name)
    return items, invalid, ", ".join(names)


def _score_task(results: dict, out: Path, spec: str, task: str, scorer: Any, items: list, progress: Progress) -> None:
    entry = task_entry(results, spec, task)
    done = {r["id"] for r in entry["items"]}
    todo = [it for it in items if it.id not in done]
    bar = progress.add_task(f"{Path(spec).name} {task}", total=len(items), completed=len(items) - len(todo))
    start = time.perf_counter()
    for item in todo:
        t0 = time.perf_counter()
        record = scorer.score(item)
        record["cost"] = item_cost(scorer.backend, item, time.perf_counter() - t0)
        entry["items"].append(record)
        order_items(entry, [it.id for it in items])
        entry["summary"] = summarize(task, entry["items"])
        save_results(out / "results.json", results)
        progress.advance(bar)
    entry["summary"] = summarize(task, entry["items"])
    if todo:
        seconds = time.perf_counter() - start
        timing = results["models"][spec].setdefault("timing", {})
        timing[task] = {"items": len(todo), "seconds": round(seconds, 3), "items_per_s": round(len(todo) / seconds, 3)}


def _scorer_names(args: BenchOptions) -> list[str]:
    chosen = _split(args.scorer or ("generation" if args.preset == "paper" else ",".join(SCORERS)), SCORERS, "scorer")
    if args.preset == "paper" and len(chosen) != 1:
        raise InputError("--preset paper fills one Table-3 row per model: pass one --scorer (generation or likelihood)")
    return chosen


def _scorers(task: str, backend: Backend, args: BenchOptions) -> list[tuple[str, Any]]:
    if task == "recite":
        return [("recite", ReciteScorer(backend, think=args.think, seed=args.seed))]
    chosen = _scorer_names(args)
    out = []
    for name in chosen:
        if name == "likelihood" and not backend.supports_logits:
            console.print(f"[yellow]skipped[/] {task}-likelihood: needs logits, which {type(backend).__name__} lacks")
            continue
        if task == "case":
            scorer = CaseLikelihoodScorer(backend) if name == "likelihood" else CaseGenerationScorer(
                backend, think=args.think, seed=args.seed)
        else:
            scorer = LikelihoodScorer(backend, threshold=args.threshold) if name == "likelihood" else GenerationScorer(
                backend, think=args.think, seed=args.seed)
        out.append((f"{task}-{name}", scorer))
    return out


# Settings that change what an item's record would be: a resumed run must keep them (--limit may change).
_RESUME_KEYS = ("seed", "think", "shuffle_options", "threshold", "n_ctx", "type", "preset",
                "data_mcq", "data_case", "data_recite")


def _check_resumable(results: dict, settings: dict, resume: bool) -> None:
    if not resume:
        return
    old = results["settings"]
    changed = [k for k in _RESUME_KEYS if k in old and k in settings and old[k] != settings[k]]
    if changed:
        diff = ", ".join(f"{k} {old[k]!r} → {settings[k]!r}" for k in changed)
        raise InputError(f"--resume with other settings than the first run ({diff}): use a new --out")


def _check_models(specs: list[str]) -> None:
    """Every --model names something that exists and could be a model, checked before any loads."""
    from ecmiip.chat.open_model import parse_spec

    for spec in specs:
        kind, target, _ = parse_spec(spec)
        if kind != "gguf":
            continue
        path = Path(target)
        if path.is_dir():
            raise InputError(f"--model {spec}: a folder named .gguf; give the GGUF file or an HF model folder")
        if not path.is_file():
            raise InputError(f"--model {spec}: no such GGUF file")
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                raise InputError(f"--model {spec}: not a GGUF file (it does not start with GGUF); re-export it")


def _check_options(args: BenchOptions) -> None:
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit {args.limit}: must be at least 1")
    if args.n_ctx < 256:
        raise InputError(f"--n-ctx {args.n_ctx}: must be at least 256 tokens")
    if args.speed_tokens < 1:
        raise InputError(f"--speed-tokens {args.speed_tokens}: must be at least 1")
    if not 0 < args.threshold <= 1:
        raise InputError(f"--threshold {args.threshold}: must be above 0 and at most 1 (a share of the top "
                         "letter's probability)")
    if args.resume and args.force:
        raise InputError("--resume continues OUT/results.json and --force replaces it: pass one")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out} is a file, not a folder: choose another output folder")


def _run_cli(args: argparse.Namespace) -> int:
    run_bench(BenchOptions.from_args(args))
    return 0


def run_bench(args: BenchOptions) -> dict:
    """Score every model, writing results.json after each item, then report.md and the chart; the results."""
    if args.preset == "paper":
        tasks, files = list(paper.TASKS), paper.data_files(list(args.data), args.item_type)
    else:
        tasks = _split(args.task, TASKS, "task")
        files = _data_files(list(args.data), tasks, args.item_type)
    if any(t in ("mcq", "case") for t in tasks):
        _scorer_names(args)  # a typo fails now, not after the first model has loaded
    _check_options(args)
    _check_models(list(args.models))
    results_path = args.out / "results.json"
    if not args.resume:
        refuse_existing([results_path], args.force)
    results = load_results(results_path) if args.resume else empty_results()
    datasets = {}
    settings: dict[str, Any] = {
        "seed": args.seed, "limit": args.limit, "think": args.think, "shuffle_options": args.shuffle_options,
        "threshold": args.threshold, "n_ctx": args.n_ctx, "type": args.item_type, "preset": args.preset,
    }
    for task in tasks:
        if task == "speed":
            continue
        items, invalid, name = load_items(task, files.get(task, []), args.limit)
        if task == "mcq" and args.shuffle_options:
            rng = random.Random(args.seed)
            items = [bench_data.shuffle_options(it, rng) for it in items]
        if not items:
            first = "; ".join(invalid[:3]) or "the file has no items"
            raise InputError(f"no {task} items in {name}: {first}")
        datasets[task] = items
        results["invalid"][task] = invalid
        settings[f"data_{task}"] = name
        for line in invalid:
            console.print(f"[yellow]invalid[/] {line}", highlight=False)
        stale = {it.id: cited for it in items if (cited := bench_data.superseded_citations(it))}
        results.setdefault("superseded_items", {})[task] = stale
        if stale:
            examples = "、".join(dict.fromkeys(c for cited in stale.values() for c in cited))
            console.print(f"[yellow]note[/] {task}: {len(stale)} of {len(items)} items rely on texts no longer in force "
                          f"({examples[:80]}); their gold answers follow the older text", highlight=False)
    _check_resumable(results, settings, args.resume)
    earlier = [m for m in results["settings"].get("models", []) if m not in args.models]
    settings["models"] = [*earlier, *args.models] if args.resume else list(args.models)
    results["settings"].update(settings)
    in_model_order(results)
    args.out.mkdir(parents=True, exist_ok=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        for spec in args.models:
            backend = open_model(spec, n_ctx=args.n_ctx, ollama_host=args.ollama_host)
            try:
                model = results["models"].setdefault(spec, {})
                model.update(model_info(spec, backend))
                for task, items in datasets.items():
                    for name, scorer in _scorers(task, backend, args):
                        _score_task(results, args.out, spec, name, scorer, items, progress)
                if "speed" in tasks and not model.get("speed"):
                    model["speed"] = measure_speed(backend, tokens=args.speed_tokens, seed=args.seed)
                save_results(results_path, results)
            finally:
                backend.close()
    results["comparisons"] = comparisons(results)
    save_results(results_path, results)
    write_text_atomic(args.out / "report.md", markdown(results))
    bar_chart(results, args.out / "accuracy.png")
    if args.show:
        console.print(rich_table(results))
        if args.preset == "paper":
            console.print(paper.rich_table(results))
        console.print(f"wrote {results_path}, {args.out / 'report.md'}, {args.out / 'accuracy.png'}", highlight=False)
    return results


def results_table(path: Path) -> Any:
    """The table ``ecmiip bench`` prints, for a finished run's results.json (what ``ecmiip build`` shows)."""
    return rich_table(load_results(path))


def headlines(results: dict) -> dict[str, str]:
    """One line per task for the first model: what ``ecmiip build`` records as its bench step's summary."""
    tasks = next(iter(results["models"].values()))["tasks"]
    return {task: headline(task, entry["summary"]) for task, entry in tasks.items()}
