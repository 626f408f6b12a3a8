"""``ecmiip-chat``: ask an exported GGUF a question, offline, from a terminal or a script.

This first version streams answers from llama.cpp with the legal system prompt and keeps a simple
multi-turn history; the full client (rich rendering, thinking display, commands, statute checks,
Ollama backend) is tracked in its own issue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.console import console
from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT, SAMPLING_DEFAULTS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecmiip-chat", description="Offline IP-law assistant over llama.cpp.", formatter_class=RichHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="GGUF file (e.g. dist/ec-miip-Q4_K_M.gguf)")
    p.add_argument("-p", "--prompt", help="answer this question and exit (also: pipe it on stdin)")
    p.add_argument("--ctx", type=int, default=4096, help="context length in tokens (default: 4096)")
    p.add_argument("--gpu-layers", type=int, default=-1, help="layers to offload to a GPU (-1: all, when there is one)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: llama.cpp's choice)")
    p.add_argument("--max-tokens", type=int, default=1024, help="longest answer in tokens (default: 1024)")
    p.add_argument("--system", default=LEGAL_SYSTEM_PROMPT, help="system prompt (default: the legal assistant prompt)")
    return p


def load_model(args: argparse.Namespace):
    from llama_cpp import Llama

    from ecmiip.quantize.llama_log import captured_llama_log

    if not args.model.is_file():
        raise InputError(f"model not found: {args.model}")
    with captured_llama_log() as log:
        try:
            llm = Llama(str(args.model), n_ctx=args.ctx, n_gpu_layers=args.gpu_layers, n_threads=args.threads, verbose=False)
        except ValueError as e:
            raise InputError(f"{args.model}: llama.cpp cannot load it ({log[-1] if log else e})") from e
    if not llm.metadata.get("tokenizer.chat_template"):
        raise InputError(f"{args.model}: not a chat model (the GGUF has no chat template)")
    return llm


def answer(llm, messages: list[dict], max_tokens: int) -> str:
    """Stream one answer to stdout and return it."""
    sampling = {k: SAMPLING_DEFAULTS[k] for k in ("temperature", "top_p", "top_k", "min_p")}
    parts = []
    stream = llm.create_chat_completion(messages, max_tokens=max_tokens, stream=True, repeat_penalty=SAMPLING_DEFAULTS["repeat_penalty"], **sampling)
    for chunk in stream:
        text = chunk["choices"][0]["delta"].get("content") or ""
        parts.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        llm = load_model(args)
        messages = [{"role": "system", "content": args.system}]
        prompt = args.prompt if args.prompt is not None else (None if sys.stdin.isatty() else sys.stdin.read())
        if prompt is not None:
            answer(llm, [*messages, {"role": "user", "content": prompt}], args.max_tokens)
            return 0
        console.print("[bold]ec-miip[/] — 知识产权法律助手（离线）。Ctrl-D 退出。")
        while True:
            try:
                question = input("> ")
            except EOFError:
                return 0
            if not question.strip():
                continue
            messages.append({"role": "user", "content": question})
            try:
                messages.append({"role": "assistant", "content": answer(llm, messages, args.max_tokens)})
            except KeyboardInterrupt:
                messages.pop()
                console.print("\n[yellow]stopped[/]")
    except EcmiipError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
