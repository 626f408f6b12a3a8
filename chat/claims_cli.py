"""Subcommand ``compare-claims``: a patent claim against an accused product, as a 比对表.

Without ``--out`` the table is printed (rich measures CJK characters as two columns, so the columns line
up) and nothing is written; with it the report goes to a .docx or .md file. Without ``--model`` only the
transparent rules run, and the output says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich_argparse import RichHelpFormatter

from ecmiip.core.arguments import iso_day
from ecmiip.core.console import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare-claims",
        help="compare a patent claim with an accused product, feature by feature (专利权利要求比对)",
        description="Split a claim into technical features, match each to the accused product's paragraphs "
        "(BM25, with the matched terms shown), judge 相同 / 等同（待确认） / 缺失 by transparent rules and draw the "
        "all-elements conclusion. --model asks a model the 手段/功能/效果 question for the 等同 candidates. "
        "Files: .txt, .md, .docx, .pdf (text layer).",
        formatter_class=RichHelpFormatter,
    )
    p.add_argument("--claims", type=Path, required=True, metavar="FILE", help="the claims (权利要求书)")
    p.add_argument("--target", type=Path, required=True, metavar="FILE",
                   help="the accused product or process (被诉技术方案): a description, manual …")
    p.add_argument("--claim", type=_positive, default=1, metavar="N", help="which claim to compare (default: 1)")
    p.add_argument("--model", metavar="SPEC",
                   help="a .gguf, an HF model folder or ollama:NAME for the 等同 question (default: rules only)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the 比对表 to FILE (.docx or .md) instead of printing it")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--as-of", type=iso_day, metavar="YYYY-MM-DD", help="check cited articles on this date (default: today)")
    p.add_argument("--ollama-host", metavar="URL", help="Ollama address for ollama:NAME (default: 127.0.0.1:11434)")
    p.set_defaults(handler=_compare)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"权利要求编号应为正整数，而不是 {text!r}")
    return value



def _compare(args: argparse.Namespace) -> int:
    from ecmiip.chat.claims import build_report, compare, design_patent_text, design_report, is_design_patent
    from ecmiip.chat.documents import read_document
    from ecmiip.core.errors import InputError

    if args.out is not None and args.out.suffix.lower() not in (".docx", ".md"):
        raise InputError(f"{args.out}：比对表只能写成 .docx 或 .md，请换一个文件名")
    if args.out is not None and args.out.exists() and not args.force:
        from ecmiip.core.errors import OutputExistsError

        raise OutputExistsError(f"{args.out} 已存在；加 --force 覆盖，或换一个文件名")
    claims_doc = read_document(args.claims)
    target = read_document(args.target)
    notes = [f"{doc.name}：{note}" for doc in (claims_doc, target) for note in doc.notes]
    if is_design_patent(claims_doc.text()):
        console.print(f"[yellow]外观设计[/] {design_patent_text()}", highlight=False)
        if args.out is not None:
            design_report(claims_doc.name, target.name, args.as_of).write(args.out, force=args.force)
            console.print(f"[green]已写入[/] {args.out}", highlight=False)
        return 0
    comparison = compare(claims_doc.text(), target.paragraphs, args.claim,
                         claims_name=claims_doc.name, target_name=target.name)
    comparison.notes.extend(notes)
    if args.model:
        _ask_model(args, comparison)
    report = build_report(comparison, args.as_of)
    if args.out is not None:
        report.write(args.out, force=args.force)
        console.print(f"[green]已写入[/] {args.out}：{comparison.conclusion}", highlight=False)
    else:
        print_comparison(comparison)
    return 0


def _ask_model(args: argparse.Namespace, comparison) -> None:
    from ecmiip.chat.claims_model import apply_model
    from ecmiip.chat.open_model import open_settled

    backend = open_settled(args.model, ollama_host=args.ollama_host,
                           say=lambda note: console.print(f"[dim]{note}[/]", highlight=False))
    try:
        apply_model(backend, comparison.matches, as_of=args.as_of,
                    progress=lambda label: console.print(f"[dim]模型判断特征 {label} 是否等同…[/]", highlight=False))
    finally:
        backend.close()
    comparison.model = args.model


def print_comparison(comparison, out=None) -> None:
    """The 比对表 on the terminal (rich measures CJK widths), the conclusion and the matched terms."""
    from rich.table import Table
    from rich.text import Text

    from ecmiip.chat.claims import RULES_ONLY, TABLE_HEADER, conclusion_text, table_rows, term_lines
    from ecmiip.core.console import stdout_console

    out = out or stdout_console(piped_width=160)
    title = f"专利权利要求比对表：{comparison.claims_name} 权利要求{comparison.claim.number} 与 {comparison.target_name}"
    table = Table(*TABLE_HEADER, title=title, show_lines=True)
    for row in table_rows(comparison):
        table.add_row(*(Text(cell, overflow="fold") for cell in row))
    out.print(table)
    out.print(Text("结论：" + conclusion_text(comparison.matches, comparison.claim.number)))
    for line in term_lines(comparison):
        out.print(Text("  " + line))
    out.print(Text(RULES_ONLY if not comparison.model else f"等同候选特征已经模型 {comparison.model} 作答（仅供参考）。"))
    for note in comparison.notes:
        out.print(Text("提示：" + note))
