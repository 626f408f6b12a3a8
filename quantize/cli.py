"""Subcommands ``export``, ``verify`` and ``ollama create``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.quantize.quantize import QUANT_TYPES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="merge a LoRA adapter, convert to GGUF, quantize, write an Ollama Modelfile, verify",
        description="Merge a LoRA adapter into the 16-bit base (tensor by tensor), convert to GGUF, quantize "
        "with llama.cpp, write an Ollama Modelfile and verify that the result answers as the trained model.",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("base", type=Path, help="HF model directory of the 16-bit (or fp32) base model")
    p.add_argument("--adapter", type=Path, help="peft LoRA adapter directory to merge")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--name", default="ec-miip", help="model name (file names and GGUF metadata) (default: ec-miip)")
    p.add_argument(
        "--quant", action="append", metavar="TYPE",
        help=f"llama.cpp quantization, repeatable: {', '.join(QUANT_TYPES)}, or `ladder`: every sensible type at 4B "
        "(with and without an importance matrix from legal text), each measured against the F16 (default: Q4_K_M)",
    )
    p.add_argument("--bench", type=Path, metavar="RESULTS",
                   help="with --quant ladder: an `ecmiip bench` results.json of these files (the accuracy column)")
    p.add_argument("--outtype", choices=["f16", "bf16", "f32"], default="f16", help="type of the unquantized GGUF (default: f16)")
    p.add_argument("--tokenizer-pre", help="llama.cpp pre-tokenizer name, overriding the detected one")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--no-verify", action="store_true", help="skip the verification checks (not recommended)")
    p.add_argument(
        "--adapter-gguf", action="store_true",
        help="also write the adapter as llama.cpp's LoRA GGUF (NAME-LoRA-F16.gguf), for users who have the base; "
        "verified against the merged model",
    )
    p.set_defaults(handler=_export)

    p = sub.add_parser(
        "verify",
        help="check a GGUF against its HF model: tokens, every tensor, logits, chat template, quantization drift",
        description="Run the checks `ecmiip export` runs on files that already exist: tokenizer and special-token "
        "parity, every tensor against the model as trained (base + adapter, fp32, with the fault named), llama.cpp's "
        "logits against an fp32 reference computed one layer at a time, chat-template parity, and the drift "
        "(KL divergence, perplexity) of each quantized GGUF against the model as trained. Memory stays at one "
        "decoder layer plus one GGUF. Local folders only; nothing is downloaded.",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("gguf", type=Path, help="the 16/32-bit GGUF to verify")
    p.add_argument("--hf", type=Path, required=True, help="HF model directory it was exported from")
    p.add_argument("--adapter", type=Path, help="the LoRA adapter that was merged, if any")
    p.add_argument("--quant", type=Path, action="append", default=[], metavar="GGUF", help="quantized GGUF to measure drift of")
    p.add_argument("--report", type=Path, help="write the checks as JSON here")
    p.set_defaults(handler=_verify)

    p = sub.add_parser("ollama", help="Ollama helpers", description="Register an exported model with a local Ollama.",
                       formatter_class=RichHelpFormatter)
    osub = p.add_subparsers(dest="ollama_command", metavar="COMMAND", required=True)
    c = osub.add_parser(
        "create", help="register an exported model with Ollama (or print the commands)",
        description="Run `ollama create NAME -f DIR/Modelfile` when ollama is on PATH; otherwise print the commands "
        "to run once it is installed.", formatter_class=RichHelpFormatter,
    )
    c.add_argument("dir", type=Path, help="export directory holding the Modelfile")
    c.add_argument("--name", default="ec-miip", help="Ollama model name (default: ec-miip)")
    c.set_defaults(handler=_ollama_create)
    c = osub.add_parser(
        "push", help="push a local Ollama model to ollama.com (ollama cp into your namespace, then ollama push)",
        description="Run `ollama cp NAME NAMESPACE/NAME` when NAME has no namespace (with --namespace), then "
        "`ollama push NAMESPACE/NAME`. Needs a running Ollama signed in to ollama.com (`ollama signin`, or its "
        "public key ~/.ollama/id_ed25519.pub added at https://ollama.com/settings/keys).",
        formatter_class=RichHelpFormatter,
    )
    c.add_argument("name", metavar="NAME", help="local Ollama model, e.g. ec-miip or alice/ec-miip:q4_K_M")
    c.add_argument("--namespace", metavar="USER", help="your ollama.com user or organisation: copy NAME there first")
    c.set_defaults(handler=_ollama_push)


def _export(args: argparse.Namespace) -> int:
    from ecmiip.quantize.export import ExportOptions, export

    quants = args.quant or ["Q4_K_M"]
    ladder = any(q.lower() == "ladder" for q in quants)
    if ladder:
        from ecmiip.quantize.ladder import LADDER

        quants = list(dict.fromkeys([*(q for q in quants if q.lower() != "ladder"), "Q4_K_M",
                                     *(q for q in LADDER if q in QUANT_TYPES)]))
    elif args.bench is not None:
        from ecmiip.core.errors import InputError

        raise InputError("--bench goes with --quant ladder (it fills the ladder's accuracy column)")
    export(
        ExportOptions(
            base=args.base,
            out=args.out,
            adapter=args.adapter,
            name=args.name,
            quants=quants,
            ladder=ladder,
            bench=args.bench,
            outtype=args.outtype,
            tokenizer_pre=args.tokenizer_pre,
            force=args.force,
            verify=not args.no_verify,
            adapter_gguf=args.adapter_gguf,
        )
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ecmiip.quantize.export import verify_command

    return verify_command(args.gguf, args.hf, args.adapter, args.quant, args.report)


def _ollama_create(args: argparse.Namespace) -> int:
    from ecmiip.quantize.ollama import create

    return create(args.dir, args.name)


def _ollama_push(args: argparse.Namespace) -> int:
    from ecmiip.quantize.ollama import push

    push(args.name, namespace=args.namespace)
    return 0
