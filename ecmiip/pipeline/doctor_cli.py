"""Subcommand ``doctor``: what this machine can run, and what to run on it.

A report, not a check: a missing piece is a finding and the command still exits 0. The table and the
recommendation go to stdout (the command's answer); ``--json`` prints one JSON object there and nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator

from rich.markup import escape
from rich.table import Table
from rich_argparse import RichHelpFormatter

from ecmiip.core.console import stdout_console

MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "missing": "[red]✗[/]", "unknown": "[dim]?[/]"}
LABELS = {"cwd": "current folder", "hf_cache": "Hugging Face cache", "user_data": "ec-miip data"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="what this machine can run: llama.cpp build, RAM/VRAM, disk, training, Ollama; and a recommendation",
        description="Probe this machine (llama.cpp's build features, RAM and VRAM, free disk, torch/CUDA/"
        "bitsandbytes for training, Ollama, the statute store) and recommend a quant, GPU layers, num_ctx and a "
        "training recipe for Qwen3-4B. Nothing leaves the machine: the only connection is to Ollama on "
        "loopback. Exits 0 even when something is missing.",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (profile and advice) for scripts")
    p.set_defaults(handler=_doctor)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """While probing, anything a library prints to stdout (even from C) goes to stderr: stdout is the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _doctor(args: argparse.Namespace) -> int:
    from ecmiip.core.console import console
    from ecmiip.pipeline.advice import advise
    from ecmiip.pipeline.doctor import probe, to_json

    with _stdout_to_stderr():
        if args.json:
            profile = probe()
        else:
            with console.status("probing this machine (torch and bitsandbytes take a few seconds)"):
                profile = probe()
        advice = advise(profile)
    if args.json:
        print(json.dumps({"profile": to_json(profile), "advice": to_json(advice)}, ensure_ascii=False, indent=2),
              flush=True)
        return 0
    out = stdout_console(piped_width=120)
    table = Table(title="ecmiip doctor", title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("", justify="center")
    table.add_column("found", overflow="fold")
    for name, status, text in rows(profile):
        table.add_row(name, MARKS[status], escape(text))
    out.print(table)
    out.print("\n[bold]Recommendation[/] (Qwen3-4B)")
    for line in advice.recommendations:
        out.print(f"  [green]→[/] {escape(line)}", highlight=False, soft_wrap=True)
    for line in advice.warnings:
        out.print(f"  [yellow]![/] {escape(line)}", highlight=False, soft_wrap=True)
    return 0


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f} GiB"


def rows(profile) -> list[tuple[str, str, str]]:  # noqa: ANN001 — a MachineProfile
    """(check, status, what was found) for each probe; status is a key of MARKS."""
    out: list[tuple[str, str, str]] = []
    ll = profile.llama
    if ll.error:
        out.append(("llama.cpp", "missing", f"llama-cpp-python not usable: {ll.error}"))
    else:
        gpu = "GPU offload: " + (", ".join(ll.backends) if ll.gpu_offload else "none (CPU-only build)")
        if ll.backends and not ll.gpu_offload:
            gpu += f"; backends: {', '.join(ll.backends)}"
        out.append(("llama.cpp", "ok" if ll.gpu_offload or not profile.gpus.devices else "warn",
                    f"llama-cpp-python {ll.version}; {gpu}; CPU: {' '.join(ll.cpu_features) or '?'}"))
    m = profile.memory
    if m.error and m.ram_total_bytes is None:
        out.append(("RAM", "unknown", m.error))
    else:
        low = m.ram_available_bytes is not None and m.ram_available_bytes < 4 * 10**9
        out.append(("RAM", "warn" if low else "ok", f"{_gib(m.ram_available_bytes)} free of {_gib(m.ram_total_bytes)}"
                    f"{' (unified with the GPU)' if m.unified else ''}; {m.cpu_cores or '?'} CPU cores"))
    g = profile.gpus
    if g.devices:
        for i, d in enumerate(g.devices):
            cc = f", compute capability {d.compute_capability:g}" if d.compute_capability else ""
            out.append((f"GPU {i}", "ok", f"{d.name}: {_gib(d.memory_free_bytes)} free of "
                        f"{_gib(d.memory_total_bytes)}{cc} (via {g.source})"))
    else:
        out.append(("GPU", "unknown" if g.error else "missing", f"none found{f' ({g.error})' if g.error else ''}"))
    for d in profile.disks:
        name = f"disk: {LABELS.get(d.label, d.label)}"
        out.append((name, "unknown", f"{d.path}: {d.error}") if d.error else
                   (name, "ok" if (d.free_bytes or 0) >= 10 * 10**9 else "warn", f"{_gib(d.free_bytes)} free in {d.path}"))
    t = profile.training
    if t.error:
        out.append(("torch", "unknown", t.error))
    else:
        cuda = f"CUDA {t.cuda_version} available" if t.cuda_available else "CUDA not available"
        out.append(("torch", "ok", f"{t.torch_version}; {cuda}"))
        if t.bnb_version is None:
            out.append(("bitsandbytes", "missing", t.bnb_error or "not importable"))
        elif t.bnb_4bit_ok:
            out.append(("bitsandbytes", "ok" if t.bnb_4bit_device == "cuda" else "warn",
                        f"{t.bnb_version}; 4-bit layers run on {t.bnb_4bit_device}"
                        + ("" if t.bnb_4bit_device == "cuda" else " (slow: demo training only)")))
        else:
            out.append(("bitsandbytes", "missing", f"{t.bnb_version}; 4-bit layers fail: {t.bnb_error}"))
    o = profile.ollama
    installed = f"{o.binary} ({o.version or 'version unknown'})" if o.binary else "not installed"
    if o.reachable:
        out.append(("Ollama", "ok", f"{installed}; server {o.server_version} at {o.host}"))
    else:
        reach = "not contacted" if o.reachable is None else f"not reachable at {o.host}"
        out.append(("Ollama", "warn" if o.binary else "missing",
                    f"{installed}; {reach}{f' ({o.error})' if o.error else ''}"))
    s = profile.statutes
    if s.error:
        out.append(("statute store", "unknown", s.error))
    else:
        missing = (f"; {len(s.missing_current)} law(s) without their text in force (`ecmiip statutes status`)"
                   if s.missing_current else "")
        out.append(("statute store", "warn" if s.missing_current else "ok",
                    f"as of {s.as_of}; {len(s.superseded)} superseded document(s){missing}"))
    return out
