"""``ecmiip export``: merge → GGUF → quantize → Modelfile → verify, as one command.

Every input is checked before the first byte is written (architecture, adapter shapes, tokenizer,
existing outputs, free disk); every output is written under a temporary name and renamed when
complete, so an interruption never leaves a half-written file under a final name.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecmiip.core.console import console, progress
from ecmiip.core.errors import InputError, VerificationError
from ecmiip.core.hf_models import load_tokenizer
from ecmiip.core.outputs import check_free_disk, refuse_existing, write_text_atomic
from ecmiip.core.prompts import DEFAULT_NUM_CTX, LEGAL_SYSTEM_PROMPT, SAMPLING_DEFAULTS
from ecmiip.quantize import verify
from ecmiip.quantize.adapter import LoraAdapter
from ecmiip.quantize.adapter_gguf import AdapterGGUF
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.convert import OUTTYPES, Conversion, Metadata, estimate_gguf_bytes
from ecmiip.quantize.inputs import check_model_name, check_output_dir, local_dir, probe_writable
from ecmiip.quantize.modelcard import read_model_card
from ecmiip.quantize.modelfile import render_modelfile
from ecmiip.quantize.quantize import BITS_PER_WEIGHT, parse_quant_types, quantize
from ecmiip.quantize.template_parity import choose_template
from ecmiip.quantize.verification import release_memory, run_checks

REPORT_NAME = "export-report.json"
# Why the LoRA GGUF gets no `FROM <base>` + `ADAPTER` Modelfile (tests/test_ollama_e2e.py checks the refusal).
ADAPTER_MODELFILE_NOTE = ("no ADAPTER Modelfile: the Ollama we test against (0.34.4) refuses ADAPTER; load the LoRA GGUF "
                          "in llama.cpp (--lora) on the base GGUF instead")


@dataclass
class ExportOptions:
    base: Path
    out: Path
    adapter: Path | None = None
    name: str = "ec-miip"
    quants: list[str] = field(default_factory=lambda: ["Q4_K_M"])
    outtype: str = "f16"
    tokenizer_pre: str | None = None
    force: bool = False
    verify: bool = True
    system: str = LEGAL_SYSTEM_PROMPT
    num_ctx: int = DEFAULT_NUM_CTX
    adapter_gguf: bool = False  # also write the adapter as llama.cpp's LoRA GGUF
    ladder: bool = False  # --quant ladder: every rung quantized and measured (quantize/ladder.py)
    bench: Path | None = None  # with the ladder: an `ecmiip bench` results.json for its accuracy column


@dataclass
class ExportResult:
    reference: Path
    quants: dict[str, Path]
    modelfile: Path
    report: Path
    checks: list[verify.Check]


def output_paths(opts: ExportOptions, quants: list[str]) -> tuple[Path, dict[str, Path], Path, Path]:
    reference = opts.out / f"{opts.name}-{opts.outtype.upper()}.gguf"
    return reference, {q: opts.out / f"{opts.name}-{q}.gguf" for q in quants}, opts.out / "Modelfile", opts.out / REPORT_NAME


def export(opts: ExportOptions) -> ExportResult:
    # 1. Everything that can fail on bad input fails here, before any output exists: names, local
    #    folders (never a hub id: nothing but `ecmiip pull` goes online), the model, the adapter, the
    #    tokenizer and its chat template, the Modelfile's every value, existing outputs, free disk.
    check_model_name(opts.name)
    if opts.outtype not in OUTTYPES:
        raise InputError(f"unknown --outtype {opts.outtype}; choose from {', '.join(OUTTYPES)}")
    quants = parse_quant_types(opts.quants)
    base = local_dir(opts.base, "BASE")
    adapter_dir = local_dir(opts.adapter, "--adapter") if opts.adapter else None
    check_output_dir(opts.out)
    ckpt = Checkpoint(base)  # config.json and safetensors headers, before the tokenizer reads them
    adapter = LoraAdapter.load(adapter_dir) if adapter_dir else None
    if opts.adapter_gguf and adapter is None:
        raise InputError("--adapter-gguf writes the adapter as a LoRA GGUF; give the adapter with --adapter")
    lora = AdapterGGUF(adapter, ckpt, outtype=opts.outtype, name=opts.name) if opts.adapter_gguf else None
    tokenizer = load_tokenizer(base, local_files_only=True)
    if not tokenizer.chat_template:
        raise InputError(f"{base}: the tokenizer has no chat template; a chat model needs one")
    template = choose_template(tokenizer, modelfile_system=opts.system or "")
    if not template.is_go:
        console.print(f"[yellow]no Go TEMPLATE in the Modelfile[/]: {template.why}; Ollama (0.30 and later) "
                      "will render the model's own chat template from the GGUF")
    conversion = Conversion(
        base,
        adapter=adapter,
        outtype=opts.outtype,
        tokenizer_pre=opts.tokenizer_pre,
        metadata=Metadata(name=opts.name, finetune="ip-law" if adapter else None),
        tokenizer=tokenizer,
        ckpt=ckpt,
    )
    reference, quant_paths, modelfile, report = output_paths(opts, quants)
    lora_path = opts.out / f"{opts.name}-LoRA-{opts.outtype.upper()}.gguf" if lora else None
    extra = []
    if opts.ladder:  # the rungs the export's own quantization does not write (other types, importance matrix)
        from ecmiip.quantize.ladder import planned_files

        extra = [path for _, path, _ in planned_files(opts.out, opts.name, existing=quant_paths)]
    refuse_existing([reference, *quant_paths.values(), modelfile, report, *([lora_path] if lora else []), *extra],
                    opts.force)
    served = quant_paths[quants[0]] if quants else reference
    card = read_model_card(base)
    max_positions = int(conversion.ckpt.config.get("max_position_embeddings") or opts.num_ctx)
    modelfile_text = render_modelfile(  # every value checked now, written after the GGUFs
        gguf_name=served.name,
        template=template,
        system=opts.system,
        parameters={**SAMPLING_DEFAULTS, "num_ctx": min(opts.num_ctx, max_positions)},
        license_text=card.license_text or card.license,
    )
    needed = estimate_gguf_bytes(conversion.plan) + sum(int(conversion.n_params * BITS_PER_WEIGHT[q] / 8) for q in quants)
    if opts.ladder:
        from ecmiip.quantize.ladder import planned_bytes, planned_files

        needed += planned_bytes(conversion.n_params, planned_files(opts.out, opts.name, existing=quant_paths))
    if lora:  # the adapter, and the base GGUF its check converts to a scratch file
        needed += lora.nbytes + (estimate_gguf_bytes(conversion.plan) if opts.verify else 0)
    created = _missing_folders(opts.out)
    try:
        opts.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--out {opts.out}: cannot create the folder ({e.strerror or e})") from e
    try:
        probe_writable(opts.out)
        check_free_disk(opts.out, needed)
    except BaseException:
        _remove_empty(created)
        raise
    outputs = [reference, *quant_paths.values(), modelfile, report, *([lora_path] if lora else [])]
    new_outputs = [p for p in outputs if not p.exists()]
    try:
        # The converter (adapter factors, vocabulary, plan) is handed over, not kept here: verification
        # needs its memory once the GGUF is written.
        handed, lora_handed = [conversion], [(lora, lora_path)] if lora else []
        del conversion, adapter, ckpt, tokenizer, lora
        return _write_outputs(opts, handed, quant_paths, reference, modelfile, modelfile_text, report, template, adapter_dir,
                              lora_handed)
    except VerificationError:
        raise  # the files stay for diagnosis; the report says what failed
    except BaseException:
        # Interrupted or failed: the export is all or nothing, so a rerun starts clean without --force.
        for p in new_outputs:
            with contextlib.suppress(OSError):
                p.unlink()
        _remove_empty(created)
        raise


def _missing_folders(folder: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would create, innermost first."""
    missing = []
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this run created, innermost first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _write_outputs(opts, handed, quant_paths, reference, modelfile, modelfile_text, report, template, adapter_dir,
                   lora_handed=()):
    conversion = handed.pop()
    base = conversion.base_dir
    timings: dict[str, float] = {}

    # 2. Merge + convert, tensor by tensor.
    t0 = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"GGUF {opts.outtype.upper()} ({conversion.spec.name})", total=len(conversion.plan))
        conversion.write(reference, on_tensor=lambda t: bar.advance(task))
    timings["convert_s"] = time.perf_counter() - t0
    lora_path = None
    if lora_handed:  # the adapter as llama.cpp's LoRA GGUF (adapter_gguf.py)
        lora, lora_path = lora_handed.pop()
        lora.write(lora_path)
        del lora
        console.print(f"[dim]{ADAPTER_MODELFILE_NOTE}[/]")
    # Free the converter's state before llama.cpp maps the GGUF: verify reloads what it needs.
    n_tensors = len(conversion.plan)
    del conversion
    release_memory()

    # 3. llama.cpp's quantizer (in a child process: Ctrl-C stops it at once).
    for q, path in quant_paths.items():
        t0 = time.perf_counter()
        with progress() as bar:
            task = bar.add_task(f"quantize {q}", total=n_tensors)
            quantize(reference, path, q, on_progress=lambda i, n, task=task: bar.update(task, completed=i, total=n))
        timings[f"quantize_{q}_s"] = time.perf_counter() - t0

    # 4. Ollama Modelfile (rendered and checked before the first GGUF byte).
    write_text_atomic(modelfile, modelfile_text)

    # 5. Verification.
    checks: list[verify.Check] = []
    if opts.verify:
        tokenizer = load_tokenizer(base, local_files_only=True)
        checks = run_checks(reference, base, adapter_dir, quant_paths, template, opts.system, tokenizer)
        if lora_path is not None:
            from ecmiip.quantize.adapter_gguf_verify import verify_adapter_export

            twin = next((c.details.get("storage_rounding_ratio") for c in checks if c.name == "logits parity"), None)
            checks.append(verify_adapter_export(lora_path, base, reference, tokenizer, outtype=opts.outtype, twin_ratio=twin))
    ladder = None
    if opts.ladder:  # after the checks: the rungs are measured against the verified F16
        from ecmiip.quantize.ladder import ladder_table, run_ladder

        ladder = run_ladder(reference, opts.out, name=opts.name, existing=quant_paths, bench=opts.bench,
                            num_ctx=opts.num_ctx, force=opts.force,
                            on_status=lambda m: console.print(f"[dim]{m}[/]", highlight=False))
        console.print(ladder_table(ladder))
    write_report(report, opts, reference, quant_paths, modelfile, checks, timings, lora_path, ladder)
    print_summary(checks, reference, {**quant_paths, **({"LoRA GGUF": lora_path} if lora_path else {})}, modelfile)
    failed = [c.name for c in checks if c.passed is False]
    if failed:
        raise VerificationError(f"verification failed: {', '.join(failed)} (details in {report})")
    return ExportResult(reference, quant_paths, modelfile, report, checks)


def write_report(path, opts, reference, quant_paths, modelfile, checks, timings, lora_path=None, ladder=None) -> None:
    files = {"reference": reference, **quant_paths, "modelfile": modelfile, **({"lora_gguf": lora_path} if lora_path else {})}
    doc = {
        "base": str(opts.base),
        "adapter": str(opts.adapter) if opts.adapter else None,
        "outtype": opts.outtype,
        "files": {k: {"path": str(p), "bytes": p.stat().st_size} for k, p in files.items() if p.exists()},
        "timings": timings,
        "checks": verify.report_dict(checks),
        "passed": all(c.passed is not False for c in checks),
    }
    if lora_path:
        doc["notes"] = [ADAPTER_MODELFILE_NOTE]
    if ladder is not None:
        doc["quant_ladder"] = ladder.to_json()
    write_text_atomic(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


def print_summary(checks, reference, quant_paths, modelfile) -> None:
    from rich.table import Table

    table = Table(title="ec-miip export", show_lines=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for c in checks:
        mark = "[green]pass[/]" if c.passed else "[red]FAIL[/]" if c.passed is False else "[dim]info[/]"
        table.add_row(c.name, mark, c.summary)
    for label, p in [("reference", reference), *quant_paths.items(), ("Modelfile", modelfile)]:
        if p is None or not p.exists():
            continue
        table.add_row(f"[bold]{label}[/]", "", f"{p}  ({p.stat().st_size / 2**20:.1f} MiB)")
    console.print(table)


def verify_command(gguf_path: Path, hf_dir: Path, adapter_dir: Path | None, quants: list[Path], report: Path | None) -> int:
    """``ecmiip verify``: the export's checks on files that already exist (local files only)."""
    for p in [gguf_path, *quants]:
        verify.check_gguf(p)
    hf_dir = local_dir(hf_dir, "--hf")
    adapter_dir = local_dir(adapter_dir, "--adapter") if adapter_dir is not None else None
    if report is not None:
        if report.is_dir():
            raise InputError(f"--report {report} is a folder; give a file name")
        check_output_dir(report.parent)
    Checkpoint(hf_dir)  # config.json and safetensors headers: one line naming a damaged file
    if adapter_dir is not None:
        LoraAdapter.load(adapter_dir)
    tokenizer = load_tokenizer(hf_dir, local_files_only=True)
    if not tokenizer.chat_template:
        raise InputError(f"{hf_dir}: the tokenizer has no chat template")
    template = choose_template(tokenizer, modelfile_system=LEGAL_SYSTEM_PROMPT)
    checks = run_checks(gguf_path, hf_dir, adapter_dir, {p.stem: p for p in quants}, template, LEGAL_SYSTEM_PROMPT, tokenizer)
    print_summary(checks, gguf_path, {p.stem: p for p in quants}, None)
    if report is not None:
        write_text_atomic(report, json.dumps({"checks": verify.report_dict(checks)}, ensure_ascii=False, indent=2) + "\n")
    return 1 if any(c.passed is False for c in checks) else 0
