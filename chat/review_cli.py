"""Subcommand ``review``: a contract in, a review report (.docx or .md) out.

``ecmiip review 合同.docx --model ec-miip.gguf`` writes ``合同-审查报告.docx`` beside the contract (``--out``
chooses another file or Markdown). ``--rules-only`` needs no model: the transparent rules alone. Ctrl-C
keeps the clauses already reviewed in ``<out>.review-state.jsonl``; the same command again goes on from
there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.arguments import iso_day
from ecmiip.core.console import console

REPORT_SUFFIX = "-审查报告.docx"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="review a contract clause by clause (rules + model) into a .docx or .md report",
        description="合同条款审查：按条款切分合同（.txt .md .docx .pdf），用公开的规则识别条款类型和风险，再由模型逐条"
        "给出风险等级、理由、依据和修改建议（引用的法条经离线法条库核对），写成 Word 或 Markdown 报告。"
        "中断后以同一命令重新运行，已审查的条款不再重复。",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", type=Path, help="the contract: .txt, .md, .docx or .pdf (text layer)")
    p.add_argument("--model", metavar="SPEC",
                   help="a .gguf file, an HF model folder, FOLDER+ADAPTER or ollama:NAME (required unless --rules-only)")
    p.add_argument("--rules-only", action="store_true", help="rules alone, no model")
    p.add_argument("--out", type=Path, metavar="REPORT",
                   help=f"report file, .docx or .md (default: FILE's name + {REPORT_SUFFIX} beside it)")
    p.add_argument("--force", action="store_true", help="overwrite an existing report")
    p.add_argument("--as-of", type=iso_day, metavar="YYYY-MM-DD",
                   help="check articles against the versions in force on this date (default: today)")
    p.add_argument("--ctx", type=_ctx, metavar="N", help="context length in tokens (default: the model's / 8192)")
    p.add_argument("--ollama-host", metavar="URL", help="Ollama address for ollama:NAME (default: 127.0.0.1:11434)")
    p.set_defaults(handler=_review)



def _ctx(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ctx 应为整数，而不是 {text!r}") from None
    if not 1024 <= value <= 1_048_576:
        raise argparse.ArgumentTypeError(f"--ctx 应在 1024 到 1048576 之间，而不是 {value}")
    return value


def default_out(file: Path) -> Path:
    return file.with_name(file.stem + REPORT_SUFFIX)


def _review(args: argparse.Namespace) -> int:
    from ecmiip.chat.documents import read_document
    from ecmiip.chat.review import review, state_path, write_review
    from ecmiip.core.errors import InputError, OutputExistsError

    if not args.rules_only and not args.model:
        raise InputError("请用 --model 指定模型（.gguf 文件、模型文件夹或 ollama:名称），或加 --rules-only 只做规则审查")
    if args.rules_only and args.model:
        raise InputError("--rules-only 不使用模型：请去掉 --model，或去掉 --rules-only")
    out = args.out or default_out(args.file)
    if out.suffix.lower() not in (".docx", ".md"):
        raise InputError(f"{out}：报告只能写成 .docx 或 .md，请换一个文件名")
    if out.exists() and not args.force:  # before the model runs, not after
        raise OutputExistsError(f"{out} 已存在；加 --force 覆盖，或用 --out 换一个文件名")
    document = read_document(args.file)
    for note in document.notes:
        console.print(f"[yellow]注意[/]：{note}", highlight=False)
    backend, state = None, None
    if not args.rules_only:
        from ecmiip.chat.open_model import open_settled

        backend = open_settled(args.model, n_ctx=args.ctx, ollama_host=args.ollama_host,
                               say=lambda note: console.print(f"[dim]{note}[/]", highlight=False))
        state = state_path(out)
    try:
        result = review(document, backend, model=args.model, state=state, as_of=args.as_of)
    except KeyboardInterrupt:
        if state is not None and state.exists():
            console.print(f"已审查的条款保存在 {state}；以同一命令重新运行即可接着审查", highlight=False)
        raise
    finally:
        if backend is not None:
            backend.close()
    if result.reused:
        console.print(f"沿用上次中断前已审查的 {result.reused} 条（{state}）", highlight=False)
    path = write_review(result, out, force=args.force, state=state)
    high = sum(1 for r in result.reviews if r.risk == "高")
    console.print(f"[green]已写出审查报告[/] {path}（{len(result.reviews)} 部分，高风险 {high} 条）", highlight=False)
    return 0
