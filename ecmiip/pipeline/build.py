"""The steps of ``ecmiip build`` and how they hand their outputs on (data → train → quantize → bench).

    OUT/01-data       the MIPLD records of --data, checked, one file per kind
    OUT/02-hardness   every record with its hardness level (what HKRE will see)
    OUT/03-qa         QA pairs from the statute corpus and the records (20 % chain-of-thought)
    OUT/04-pretrain   stage 1 (HKRE) and stage 2 (cases): a 16-bit model in model/
    OUT/05-sft        QLoRA fine-tuning: a LoRA adapter in adapter/
    OUT/06-export     merged F16 GGUF, the quantized GGUF, Modelfile, export-report.json
    OUT/07-bench      results.json, report.md, accuracy.png (with --bench)

The recipe's training sections are used as they are; its data section's file lists are replaced by
the files of step 1 (the statute corpus stays as the recipe says, normally the shipped one).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.outputs import write_json_atomic, write_jsonl_atomic
from ecmiip.pipeline.steps import Step
from ecmiip.train.recipe import Recipe

KIND_FILES = {"statute": "statutes.jsonl", "knowledge": "knowledge.jsonl", "exemption": "exemptions.jsonl", "case": "cases.jsonl"}


def shipped_samples() -> Path:
    """The MIPLD format samples shipped with the package (installed or in a checkout)."""
    from ecmiip import train

    return Path(train.__file__).resolve().parent / "samples"


@dataclass
class BuildPlan:
    recipe: Recipe
    base: Path
    data: Path
    out: Path
    name: str = "ec-miip"
    quant: str = "Q4_K_M"
    bench: bool = False
    bench_limit: int = 20


def data_files(data: Path) -> list[Path]:
    """The JSONL files of a data folder (recursively, sorted), or the one file given."""
    if data.is_file():
        return [data]
    if not data.is_dir():
        raise InputError(f"data not found: {data}")
    files = sorted(p for p in data.rglob("*.jsonl") if p.is_file())
    if not files:
        raise InputError(f"{data}: no *.jsonl files (MIPLD records: statute, case, knowledge, exemption)")
    return files


# ---------------------------------------------------------------- the steps


def run_data(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    """Check every record of --data (all errors at once, file:line), then split them by kind."""
    from ecmiip.train.mipld import load_records

    records = load_records(data_files(plan.data))
    by_kind: dict[str, list[dict]] = {k: [] for k in KIND_FILES}
    for r in records:
        by_kind[r.kind].append(r.data | {"kind": r.kind})
    if not by_kind["case"]:
        raise InputError(f"{plan.data}: no case records; stage 2 of pre-training learns from cases")
    for kind, rows in by_kind.items():
        if rows:
            write_jsonl_atomic(folder / KIND_FILES[kind], rows)
    counts = {k: len(v) for k, v in by_kind.items()}
    write_json_atomic(folder / "summary.json", {"source": str(plan.data), "records": counts})
    return {"records": counts}


def run_hardness(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    """Label the statute corpus and the records: the levels HKRE's weight decay is chosen by.

    Whole records are written, so stage 1 trains on this file (:func:`pretrain_recipe`): a label edited
    here, or produced by ``ecmiip data hardness --config``, is the one training uses."""
    from ecmiip.train.hardness import label, stage1_records

    levels: Counter = Counter()
    rows = []
    for record in stage1_records(effective_recipe(plan)):
        h = label(record)
        levels[h.level] += 1
        rows.append(record | h.as_fields())
    write_jsonl_atomic(folder / "hardness.jsonl", rows)
    summary = {"levels": dict(sorted(levels.items())), "records": len(rows)}
    write_json_atomic(folder / "summary.json", summary)
    return summary


def run_qa(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    from ecmiip.train.qa import build_pairs, input_records, summarize, write_pairs

    history = plan.recipe.data.include_superseded
    files = [str(plan.out / "01-data" / f) for f in KIND_FILES.values() if (plan.out / "01-data" / f).exists()]
    records, _ = input_records(["builtin", *files], include_superseded=history)
    pairs = build_pairs(records, plan.recipe.seed, include_superseded=history,
                        reasoning_share=plan.recipe.data.reasoning_share)
    write_pairs(pairs, folder / "qa.jsonl", force=True)
    s = summarize(records, pairs)
    return {"pairs": sum(s.pairs.values()), "cot_share": round(s.cot_share, 4)}


def run_pretrain_step(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    from ecmiip.train.pretrain import run_pretrain

    model = run_pretrain(pretrain_recipe(plan), plan.base, folder, resume=resume)
    return {"model": str(model)}


def run_sft_step(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    from ecmiip.train.sft import run_sft

    adapter = run_sft(effective_recipe(plan), pretrained(plan), [plan.out / "03-qa" / "qa.jsonl"], folder, resume=resume)
    return {"adapter": str(adapter)}


def run_export_step(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    from ecmiip.quantize.export import ExportOptions, export

    result = export(ExportOptions(
        base=pretrained(plan), adapter=plan.out / "05-sft" / "adapter", out=folder, name=plan.name,
        quants=[plan.quant], force=True,
    ))
    return {
        "gguf": {q: str(p) for q, p in result.quants.items()} | {"reference": str(result.reference)},
        "checks": {c.name: c.passed for c in result.checks},
    }


def run_bench_step(plan: BuildPlan, folder: Path, resume: bool) -> dict:
    from ecmiip.bench.run import BenchOptions, headlines, run_bench

    results = run_bench(BenchOptions(models=(str(quant_gguf(plan)),), task="mcq,case,recite,speed",
                                     limit=plan.bench_limit, out=folder, resume=True, show=False))
    return headlines(results)


# ---------------------------------------------------------------- wiring


def pretrain_recipe(plan: BuildPlan) -> Recipe:
    """Stage 1 from 02-hardness/hardness.jsonl: the records with the labels the hardness step gave (or the
    user edited); the statutes are in that file already, so none are read twice. Cases stay in 01-data."""
    recipe = effective_recipe(plan)
    labelled = str((plan.out / "02-hardness" / "hardness.jsonl").resolve())
    data = dataclasses.replace(recipe.data, statutes=[], knowledge=[labelled], exemptions=[])
    return dataclasses.replace(recipe, data=data)


def effective_recipe(plan: BuildPlan) -> Recipe:
    """The recipe with its data lists pointing at step 1's files (absolute paths)."""
    folder = plan.out / "01-data"

    def present(kind: str) -> list[str]:
        path = folder / KIND_FILES[kind]
        return [str(path.resolve())] if path.exists() else []

    data = dataclasses.replace(
        plan.recipe.data,
        knowledge=present("knowledge") + present("statute"),
        exemptions=present("exemption"),
        cases=present("case"),
        qa=[],
    )
    return dataclasses.replace(plan.recipe, data=data)


def pretrained(plan: BuildPlan) -> Path:
    return plan.out / "04-pretrain" / "model"


def quant_gguf(plan: BuildPlan) -> Path:
    return plan.out / "06-export" / f"{plan.name}-{plan.quant}.gguf"


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (symlinks not followed)."""
    import os

    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            f = Path(root) / name
            if not f.is_symlink():
                total += f.stat().st_size
    return total


def reclaimable(plan: BuildPlan) -> list[tuple[Path, int]]:
    """Folders a finished build no longer needs, with their size: the training checkpoints (they only serve
    --resume of an interrupted pre-training or SFT; the model, adapter and GGUFs do not depend on them)."""
    out = plan.out
    folders = [*sorted((out / "04-pretrain" / "stage1").glob("checkpoint-*")),
               *sorted((out / "04-pretrain" / "stage2").glob("checkpoint-*")),
               *sorted((out / "05-sft" / "checkpoints").glob("checkpoint-*"))]
    return [(f, folder_bytes(f)) for f in folders if f.is_dir()]


def make_steps(plan: BuildPlan) -> list[Step]:
    r = plan.recipe
    out = plan.out
    recipe_settings = {"seed": r.seed, "val_fraction": r.data.val_fraction, "max_val": r.data.max_val,
                       "statutes": r.data.statutes, "include_superseded": r.data.include_superseded}
    steps = [
        Step("data", "check and split the MIPLD data", "01-data", lambda f, res: run_data(plan, f, res),
             inputs=lambda: data_files(plan.data), outputs=["summary.json"], settings={"data": str(plan.data.resolve())}),
        Step("hardness", "label hardness (HKRE levels)", "02-hardness", lambda f, res: run_hardness(plan, f, res),
             inputs=lambda: [out / "01-data"], outputs=["hardness.jsonl"], settings=recipe_settings),
        Step("qa", "build QA pairs (20 % chain-of-thought)", "03-qa", lambda f, res: run_qa(plan, f, res),
             inputs=lambda: [out / "01-data"], outputs=["qa.jsonl"], settings={"seed": r.seed}),
        Step("pretrain", "continued pre-training: stage 1 HKRE, stage 2 cases", "04-pretrain",
             lambda f, res: run_pretrain_step(plan, f, res), inputs=lambda: [out / "01-data", out / "02-hardness", plan.base],
             outputs=["model/config.json"],
             settings=recipe_settings | {"base": str(plan.base), "pretrain": dataclasses.asdict(r.pretrain)}),
        Step("sft", "QLoRA fine-tuning on the QA pairs", "05-sft", lambda f, res: run_sft_step(plan, f, res),
             inputs=lambda: [out / "03-qa" / "qa.jsonl", pretrained(plan)], outputs=["adapter/adapter_config.json"],
             settings=recipe_settings | {"sft": dataclasses.asdict(r.sft)}),
        Step("export", f"merge, convert to GGUF, quantize to {plan.quant}, Modelfile, verify", "06-export",
             lambda f, res: run_export_step(plan, f, res), inputs=lambda: [pretrained(plan), out / "05-sft" / "adapter"],
             outputs=[quant_gguf(plan).name, "Modelfile"], settings={"name": plan.name, "quant": plan.quant}),
    ]
    if plan.bench:
        steps.append(Step("bench", "benchmark the quantized model", "07-bench", lambda f, res: run_bench_step(plan, f, res),
                          inputs=lambda: [quant_gguf(plan)], outputs=["results.json"],
                          settings={"limit": plan.bench_limit}))
    return steps
