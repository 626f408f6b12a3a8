"""Subcommand ``pull``: the one command that downloads, so that every other command can stay offline."""

from __future__ import annotations

import argparse

from rich_argparse import RichHelpFormatter

from ecmiip.core.console import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pull",
        help="download a base model from the Hugging Face hub (the only command that uses the network)",
        description="Download a base model's config, tokenizer, chat template and safetensors weights into the "
        "Hugging Face cache (HF_HOME / HF_HUB_CACHE), so that commands given --base owner/name find it offline. "
        "Pickled weights (*.bin, *.pt) are never downloaded. Gated models need `hf auth login` or HF_TOKEN.",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("id", metavar="ID", help="hub model id, owner/name or owner/name@revision (e.g. Qwen/Qwen3-4B)")
    p.add_argument("--revision", help="branch, tag or commit hash (default: main)")
    p.set_defaults(handler=_pull)


def _pull(args: argparse.Namespace) -> int:
    from ecmiip.core.hub import pull, snapshot_size

    path = pull(args.id, revision=args.revision)
    size = snapshot_size(path)
    # The size is status (stderr); the path alone goes to stdout, so that BASE=$(ecmiip pull ...) works.
    console.print(f"[green]pulled[/] {args.id}: {size / 2**30:.2f} GiB ({size:,} bytes), local path:", highlight=False)
    print(path, flush=True)
    return 0
