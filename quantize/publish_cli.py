"""Subcommand ``publish``: an export folder as a Hugging Face hub repository (or, with --dry-run, a local folder)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich_argparse import RichHelpFormatter


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "publish",
        help="upload an export to the Hugging Face hub for `ollama run hf.co/ORG/NAME:Q4_K_M` (uses the network)",
        description="Lay out a Hugging Face model repository from an `ecmiip export` folder: the quantized GGUFs, "
        "the Ollama files `template`, `system` and `params` read out of the export's Modelfile (so that "
        "`ollama run hf.co/ORG/NAME:Q4_K_M` behaves like the Modelfile), the Modelfile and a model card with the "
        "verification results; then upload it with huggingface_hub (token from HF_TOKEN or `hf auth login`; "
        "HF_ENDPOINT chooses the hub). With --dry-run nothing is sent: the exact folder is written locally.",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="export folder (Modelfile, GGUFs, export-report.json)")
    p.add_argument("--repo", required=True, metavar="ORG/NAME", help="hub repository id, e.g. alice/ec-miip-GGUF")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", metavar="BRANCH", help="upload to this branch (created if missing) (default: main)")
    p.add_argument("--dry-run", type=Path, metavar="OUT", help="write the repository folder to OUT; upload nothing")
    p.add_argument("--force", action="store_true", help="replace an existing --dry-run folder")
    p.add_argument("--include-f16", action="store_true",
                   help="also upload the 16-bit reference GGUF (about 3.5x the size of Q4_K_M; only needed to re-quantize)")
    p.add_argument("--bench", type=Path, metavar="RESULTS", help="an `ecmiip bench` results.json to show in the model card")
    p.add_argument("--base-model", metavar="ID", help="hub id of the base model for the card (default: from the export)")
    p.add_argument("--license", metavar="ID", help="licence id for the card (default: the base model's)")
    p.set_defaults(handler=_publish)


def _publish(args: argparse.Namespace) -> int:
    from ecmiip.core.console import console
    from ecmiip.quantize.publish import build_layout, dry_run, upload

    layout, export = build_layout(args.dir, args.repo, include_reference=args.include_f16, bench=args.bench,
                                  base_model=args.base_model, license=args.license)
    for other in export.others:
        console.print(f"[yellow]not published[/]: {other.name} (not a GGUF type `ecmiip export` writes)", highlight=False)
    if args.dry_run is not None:
        out = dry_run(layout, args.dry_run, force=args.force)
        console.print(f"[green]wrote[/] {out}: {len(layout.files)} files, {layout.total_bytes / 2**30:.2f} GiB; "
                      "nothing was uploaded", highlight=False)
        return 0
    url = upload(layout, args.dir, private=args.private, revision=args.revision)
    quant = next(iter(export.quants))
    console.print(f"[green]published[/] {url}\n  ollama run hf.co/{args.repo}:{quant}", highlight=False)
    return 0
