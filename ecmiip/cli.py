"""``ecmiip``: one command, a subcommand per job. Each part of the toolkit registers its own."""

from __future__ import annotations

import argparse
import sys

from rich_argparse import RichHelpFormatter

from ecmiip import __version__
from ecmiip.core.boundary import guarded
from ecmiip.core.console import print_error

DESCRIPTION = """\
ec-miip turns a small open model into an offline Chinese intellectual-property law assistant:
train it on statutes and cases, export it to GGUF for llama.cpp and Ollama, chat with it, benchmark it.
Everything runs on your machine; nothing is sent anywhere."""


def build_parser() -> argparse.ArgumentParser:
    from ecmiip.bench import run as bench_run
    from ecmiip.chat import claims_cli, review_cli
    from ecmiip.core import pull_cli, statutes_cli
    from ecmiip.pipeline import cli as pipeline_cli
    from ecmiip.pipeline import doctor_cli
    from ecmiip.quantize import cli as quantize_cli
    from ecmiip.quantize import ladder_cli, publish_cli
    from ecmiip.train import data_cli, train_cli

    parser = argparse.ArgumentParser(prog="ecmiip", description=DESCRIPTION, formatter_class=RichHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ec-miip {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (anywhere on the command line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    bench_run.register(sub)
    claims_cli.register(sub)
    review_cli.register(sub)
    pipeline_cli.register(sub)
    doctor_cli.register(sub)
    pull_cli.register(sub)
    statutes_cli.register(sub)
    quantize_cli.register(sub)
    publish_cli.register(sub)
    ladder_cli.register(sub)
    data_cli.register(sub)
    train_cli.register(sub)
    return parser


def run(handler, args: argparse.Namespace, debug: bool = False) -> int:
    """Run a command inside the error boundary: user errors are one red line, not a traceback."""
    return guarded(lambda: handler(args), program="ecmiip", debug=debug,
                   print_error=print_error)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # anywhere on the line: `ecmiip export ... --debug`
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    return run(args.handler, args, debug)


if __name__ == "__main__":
    sys.exit(main())
