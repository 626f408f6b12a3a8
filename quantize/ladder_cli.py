"""Subcommand ``ladder``: quantize an F16 GGUF to the quant ladder and measure every file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.prompts import DEFAULT_NUM_CTX
from ecmiip.quantize.ladder import HELDOUT_TOKENS, IMATRIX_QUANTS, LADDER, TYPES

JSON_NAME, MARKDOWN_NAME = "quant-ladder.json", "quant-ladder.md"
REPORT_NAME = "export-report.json"  # quantize/export.py's; not imported, to keep `ecmiip --help` light


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ladder",
        help="quantize an F16 GGUF to several llama.cpp types and measure each (size, KL, top-1, perplexity)",
        description="Quantize a 16-bit GGUF (as `ecmiip export` writes it) to each llama.cpp type of the ladder, "
        "some also with an importance matrix collected from statute text, and measure every file against the F16 "
        "on held-out legal text (bench/samples, never trained on): KL divergence, top-1 agreement, perplexity; "
        f"then say which file fits 4/8/16/24 GB of memory at num_ctx {DEFAULT_NUM_CTX}. Writes {JSON_NAME} and "
        f"{MARKDOWN_NAME} (the model card's table) beside the files. Local files only.",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("gguf", type=Path, help="the F16 (or BF16/F32) GGUF to quantize")
    p.add_argument("--out", type=Path, required=True, help="output directory for the quantized files and the tables")
    p.add_argument("--name", help="file name prefix (default: the GGUF's name without -F16)")
    p.add_argument("--quant", action="append", metavar="TYPE",
                   help=f"type, repeatable; `ladder` = {', '.join(LADDER)} (default); any of {', '.join(TYPES)}")
    p.add_argument("--imatrix-quant", action="append", metavar="TYPE",
                   help=f"also make this type with an importance matrix, repeatable (default: {', '.join(IMATRIX_QUANTS)})")
    p.add_argument("--no-imatrix", action="store_true", help="make no importance-matrix files")
    p.add_argument("--tokens", type=int, default=HELDOUT_TOKENS,
                   help=f"held-out tokens to measure on (default: {HELDOUT_TOKENS})")
    p.add_argument("--bench", type=Path, metavar="RESULTS", help="an `ecmiip bench` results.json of these files: adds accuracy")
    p.add_argument("--num-ctx", type=int, default=DEFAULT_NUM_CTX, help=f"context the advice sizes the KV cache for (default: {DEFAULT_NUM_CTX})")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(handler=_ladder)


def _ladder(args: argparse.Namespace) -> int:
    from ecmiip.core.console import console
    from ecmiip.core.errors import InputError
    from ecmiip.core.outputs import refuse_existing, write_text_atomic
    from ecmiip.quantize.ladder import ladder_markdown, ladder_table, run_ladder

    if args.tokens < 2:
        raise InputError(f"--tokens {args.tokens}: give at least 2")
    if args.num_ctx < 1:
        raise InputError(f"--num-ctx {args.num_ctx}: give a positive number of tokens")
    tables = [args.out / JSON_NAME, args.out / MARKDOWN_NAME]
    existing = exported_quants(args.out)
    if existing:
        console.print(f"measuring the export's own {', '.join(existing)} as they are (listed in {REPORT_NAME})")
    refuse_existing(tables, args.force)
    with console.status("quant ladder") as status:
        ladder = run_ladder(
            args.gguf, args.out, name=args.name, quants=args.quant or list(LADDER),
            imatrix_quants=[] if args.no_imatrix else (args.imatrix_quant or list(IMATRIX_QUANTS)),
            heldout_tokens=args.tokens, existing=existing, bench=args.bench, num_ctx=args.num_ctx, force=args.force,
            on_status=lambda m: status.update(f"quant ladder: {m}"),
        )
    write_text_atomic(tables[0], json.dumps(ladder.to_json(), ensure_ascii=False, indent=2) + "\n")
    write_text_atomic(tables[1], ladder_markdown(ladder))
    console.print(ladder_table(ladder))
    console.print(f"wrote {tables[0]} and {tables[1]}", highlight=False)
    return 0


def exported_quants(out: Path) -> dict[str, Path]:
    """Quants an ``ecmiip export`` wrote into ``out`` (its report lists them with their sizes), unchanged since:
    the ladder measures them instead of refusing to overwrite them. Anything unreadable counts as none."""
    try:
        files = json.loads((out / REPORT_NAME).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    found = {}
    for key, entry in files.items() if isinstance(files, dict) else ():
        if key.upper() not in TYPES or not isinstance(entry, dict):
            continue
        path = Path(str(entry.get("path", "")))
        path = path if path.is_absolute() else out / path.name
        if path.parent.resolve() == out.resolve() and path.is_file() and path.stat().st_size == entry.get("bytes"):
            found[key.upper()] = path
    return found
