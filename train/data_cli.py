"""Subcommands ``data validate``, ``data stats``, ``data hardness``, ``data build-qa`` and ``data qa-audit``."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from rich.table import Table
from rich_argparse import RichHelpFormatter

from ecmiip.core.console import console, progress, stdout_console
from ecmiip.core.errors import InputError
from ecmiip.train.qa_pairs import DEFAULT_REASONING_SHARE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data",
        help="MIPLD data tools: validate records, corpus statistics, hardness labels, SFT QA pairs",
        description="Check and describe MIPLD training data (JSONL records of kind statute, case, knowledge "
        "and exemption; statute records may omit `kind`), label each record's hardness for HKRE, and build "
        "the question–answer pairs of supervised fine-tuning.",
        formatter_class=RichHelpFormatter,
    )
    dsub = p.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    v = dsub.add_parser(
        "validate",
        help="check MIPLD files and print every problem as file:line: field: reason",
        description="Check every record of every file against the MIPLD schema and the shipped statute corpus; "
        "print every problem, not just the first. Exits 1 if any file has an error (warnings do not count).",
        formatter_class=RichHelpFormatter,
    )
    v.add_argument("files", type=Path, nargs="+", metavar="FILE", help="MIPLD JSONL files")
    v.add_argument("--no-warnings", action="store_true", help="print errors only")
    v.set_defaults(handler=_validate)

    s = dsub.add_parser(
        "stats",
        help="counts per kind, law, right type; text lengths; most cited articles",
        description="Describe MIPLD files (they must validate): records per kind, law, right type and exemption "
        "area, text lengths per kind, the most cited articles and the laws of the shipped corpus never cited.",
        formatter_class=RichHelpFormatter,
    )
    s.add_argument("files", type=Path, nargs="+", metavar="FILE", help="MIPLD JSONL files (must validate)")
    s.add_argument("--top", type=int, default=15, help="how many of the most cited articles to list (default: 15)")
    s.set_defaults(handler=_stats)

    h = dsub.add_parser(
        "hardness",
        help="label each record L1–L4 with its α_hard and the reasons",
        description="Write IN's records to OUT with `hardness` (L1 statute … L4 doctrine), `alpha_hard` and "
        "`hardness_reasons` added. Rules and weights are documented in ecmiip.train.hardness.",
        formatter_class=RichHelpFormatter,
    )
    h.add_argument("input", type=Path, metavar="IN",
                   help="MIPLD JSONL file (must validate); `builtin` stands for the statute store's texts in force today")
    h.add_argument("output", type=Path, metavar="OUT", help="labelled JSONL file to write")
    h.add_argument("--config", type=Path, metavar="YAML", help="HardnessConfig settings (α values, term lists)")
    h.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    h.set_defaults(handler=_hardness)

    q = dsub.add_parser(
        "build-qa",
        help="question–answer pairs for SFT (JSONL of chat messages), optionally polished by a teacher model",
        description="Build QA pairs from MIPLD records by templates read from each article's structure: 2 per "
        "statute article (its meaning; a question on its items, conditions, rules or deadlines — recitation only "
        "for purpose, effective-date, transitional and organisational articles), 2–5 per case, knowledge and "
        "exemption record; statute pairs are sampled so that the reasoning pairs make up --reasoning-share. "
        "A --cot-ratio share carries "
        "reasoning in Qwen3's <think> form. A --teacher (an OpenAI-compatible URL, or a local GGUF) may rewrite "
        "the answers; an answer it fails on keeps its template text. Format: ecmiip.train.qa.",
        formatter_class=RichHelpFormatter,
    )
    q.add_argument("inputs", nargs="+", metavar="IN",
                   help="MIPLD JSONL files (must validate); `builtin` stands for the statute store's texts in "
                   "force today (shipped and imported)")
    q.add_argument("--out", type=Path, required=True, metavar="FILE", help="JSONL file of pairs to write")
    q.add_argument("--seed", type=int, default=42, help="seed of wording and CoT choice (default: 42)")
    q.add_argument("--cot-ratio", type=float, default=0.2, metavar="R",
                   help="share of pairs with chain-of-thought, 0–1 (default: 0.2, i.e. 1 : 4)")
    q.add_argument("--reasoning-share", type=float, default=DEFAULT_REASONING_SHARE, metavar="S",
                   help="share of case/knowledge/exemption pairs; statute pairs are sampled to reach it, 0 keeps "
                   "every pair (default: %(default)s; recipe data.reasoning_share)")
    q.add_argument("--teacher", metavar="URL_OR_GGUF",
                   help="http(s)://host:port/v1 of an OpenAI-compatible server (API key from "
                   "ECMIIP_TEACHER_API_KEY if set), or a .gguf file run by llama.cpp")
    q.add_argument("--teacher-model", metavar="NAME", help="model name sent to a teacher URL (default: default)")
    q.add_argument("--include-superseded", action="store_true",
                   help="also build pairs from superseded and repealed statute texts, each cited with its version "
                   "and marked as no longer in force (default: current texts only; recipe data.include_superseded)")
    q.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    q.set_defaults(handler=_build_qa)

    a = dsub.add_parser(
        "qa-audit",
        help="check a QA file: cut-off clauses, brackets, self-referential actors, filler, citations, duplicates",
        description="Check every pair of a QA JSONL file (what build-qa writes, a teacher's or your own): "
        "clauses cut off mid-sentence, unmatched brackets, scenarios whose actor is the document itself "
        "(本院, 本解释), filler and empty answers, citations that do not verify against the statute store, "
        "duplicate questions; and describe it: CoT share, pairs per kind, answer lengths. Each problem has a "
        "code, a severity and its line. Exits 1 if there is any error (warnings do not count).",
        formatter_class=RichHelpFormatter,
    )
    a.add_argument("file", type=Path, metavar="FILE", help="QA JSONL file ({\"messages\": [...]} a line)")
    a.add_argument("--report", type=Path, metavar="OUT.md", help="write a Markdown report with examples of each problem")
    a.add_argument("--max-examples", type=int, default=10, metavar="N",
                   help="examples per problem in the report (default: 10)")
    a.add_argument("--force", action="store_true", help="overwrite OUT.md if it exists")
    a.set_defaults(handler=_qa_audit)


def _require_files(paths: list[Path]) -> None:
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise InputError(f"a folder, not a JSONL file: {', '.join(folders)}")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"file not found: {', '.join(missing)}")


def _validate(args: argparse.Namespace) -> int:
    from ecmiip.train.mipld import scan_file

    _require_files(args.files)
    table = Table(title="MIPLD validation")
    for column in ("file", "valid records", "errors", "warnings"):
        table.add_column(column, justify="left" if column == "file" else "right", overflow="fold")
    total_errors = 0
    for path in args.files:
        records, problems = scan_file(path)
        errors = [e for e in problems if not e.is_warning]
        for e in problems:
            if not (e.is_warning and args.no_warnings):
                print(e)
        total_errors += len(errors)
        warnings = len(problems) - len(errors)
        table.add_row(str(path), str(len(records)), f"[red]{len(errors)}[/]" if errors else "0",
                      f"[yellow]{warnings}[/]" if warnings else "0")
    console.print(table)
    if total_errors:
        console.print(f"[bold red]{total_errors} error(s)[/] in {len(args.files)} file(s)")
        return 1
    console.print(f"[green]valid[/]: {len(args.files)} file(s)")
    return 0


def _counter_table(title: str, header: str, counts: Counter, limit: int | None = None, unit: str = "records") -> Table:
    table = Table(title=title)
    table.add_column(header, overflow="fold")
    table.add_column(unit, justify="right")
    for key, n in counts.most_common(limit):
        table.add_row(str(key), str(n))
    return table


def _stats(args: argparse.Namespace) -> int:
    from ecmiip.train.mipld import load_records, stats

    if args.top < 1:
        raise InputError(f"--top {args.top}: must be at least 1")
    _require_files(args.files)
    st = stats(load_records(args.files))
    out = stdout_console()  # the tables are this command's answer: stdout

    kinds = Table(title=f"MIPLD records: {st.total}")
    for column in ("kind", "records", "min chars", "median", "mean", "p90", "max"):
        kinds.add_column(column, justify="left" if column == "kind" else "right")
    for kind, n in st.per_kind.most_common():
        t = st.text_length[kind]
        kinds.add_row(kind, str(n), str(t.min), f"{t.median:g}", f"{t.mean:.0f}", str(t.p90), str(t.max))
    out.print(kinds)
    if st.per_law:
        out.print(_counter_table("statute articles per law", "law", st.per_law))
    if st.per_right_type:
        out.print(_counter_table("records per right type", "right type", st.per_right_type))
    if st.per_area:
        out.print(_counter_table("exemption areas", "area", st.per_area))
    if st.articles_cited:
        cited = _counter_table(
            f"most cited articles ({len(st.articles_cited)} distinct, {sum(st.articles_cited.values())} citations)",
            "article", st.articles_cited, args.top, unit="citations",
        )
        out.print(cited)
        out.print(_counter_table("citations per law", "law", st.laws_cited, unit="citations"))
        out.print(f"{len(st.uncited_laws)} law(s) of the shipped corpus are never cited")
    return 0


def _hardness(args: argparse.Namespace) -> int:
    from ecmiip.core.outputs import refuse_existing, write_jsonl_atomic
    from ecmiip.train.hardness import HardnessConfig, builtin_statutes, label, load_config
    from ecmiip.train.mipld import load_records

    builtin = str(args.input) == "builtin" and not args.input.exists()
    if not builtin:
        _require_files([args.input])
    refuse_existing([args.output], args.force)
    config = load_config(args.config) if args.config else HardnessConfig()
    records = builtin_statutes() if builtin else load_records([args.input])
    levels: Counter = Counter()

    def labelled(bar, task) -> Iterator[dict]:
        for r in records:
            h = label(r, config)
            levels[h.level] += 1
            yield {**(r if isinstance(r, dict) else r.data), **h.as_fields()}
            bar.advance(task)

    with progress() as bar:
        write_jsonl_atomic(args.output, labelled(bar, bar.add_task("labelling hardness", total=len(records))))
    table = Table(title=f"hardness of {len(records)} records → {args.output}")
    for column in ("level", "α_hard", "records"):
        table.add_column(column, justify="right")
    for level in ("L1", "L2", "L3", "L4"):
        table.add_row(level, f"{config.alpha(level):g}", str(levels[level]))
    console.print(table)
    return 0


def _build_qa(args: argparse.Namespace) -> int:
    from ecmiip.core.outputs import refuse_existing
    from ecmiip.train.mipld import KINDS
    from ecmiip.train.qa import (
        build_pairs,
        check_ratio,
        check_share,
        input_records,
        summarize,
        write_pairs,
    )
    from ecmiip.train.teacher import make_teacher, polish

    _require_files([Path(n) for n in args.inputs if n != "builtin" or Path(n).exists()])
    refuse_existing([args.out], args.force)
    check_ratio(args.cot_ratio)
    check_share(args.reasoning_share)
    if args.teacher_model and not args.teacher:
        raise InputError("--teacher-model needs --teacher")
    teacher = make_teacher(args.teacher, args.teacher_model) if args.teacher else None
    records, skipped = input_records(args.inputs, include_superseded=args.include_superseded)
    with progress() as bar:
        task = bar.add_task("building QA pairs", total=len(records))
        pairs = build_pairs(records, args.seed, args.cot_ratio, on_record=lambda _: bar.advance(task),
                            include_superseded=args.include_superseded, reasoning_share=args.reasoning_share)
        if teacher:
            ask = bar.add_task(f"polishing with {teacher.name}", total=len(pairs))
            taught = polish(pairs, teacher, on_pair=lambda _: bar.advance(ask))
    write_pairs(pairs, args.out, args.force)

    s = summarize(records, pairs)
    table = Table(title=f"{sum(s.pairs.values())} QA pairs → {args.out}")
    for column in ("kind", "records", "pairs", "CoT", "CoT share"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind in KINDS:
        if s.pairs[kind]:
            table.add_row(kind, str(s.records[kind]), str(s.pairs[kind]), str(s.cot[kind]),
                          f"{s.cot[kind] / s.pairs[kind]:.1%}")
    table.add_row("[bold]all[/]", str(sum(s.records.values())), str(sum(s.pairs.values())),
                  str(sum(s.cot.values())), f"[bold]{s.cot_share:.1%}[/]")
    console.print(table)
    if skipped:
        texts = Counter(f"《{r.data['law']}》（{r.data['version']}）" for r in skipped)
        console.print(f"skipped {len(skipped)} statute article(s) of {len(texts)} text(s) not in force today "
                      f"(--include-superseded keeps superseded and repealed texts, labelled): {'、'.join(texts)}",
                      highlight=False)
    if teacher:
        colour = "yellow" if taught.failed else "green"
        console.print(f"teacher {teacher.name}: {taught.polished} polished, "
                      f"[{colour}]{taught.failed} dropped[/] (template answer kept)", highlight=False)
        for reason, n in taught.reasons.most_common(5):
            console.print(f"  {n} × {reason}", highlight=False)
    return 0


def _qa_audit(args: argparse.Namespace) -> int:
    from ecmiip.core.outputs import refuse_existing, write_text_atomic
    from ecmiip.train.qa_audit import audit_file
    from ecmiip.train.qa_audit_report import findings_table, markdown_report, stats_table

    if args.max_examples < 1:
        raise InputError(f"--max-examples {args.max_examples}: must be at least 1")
    if args.report:
        if args.report.resolve() == args.file.resolve():
            raise InputError(f"--report {args.report}: is the QA file being audited; name another file")
        refuse_existing([args.report], args.force)
    audit = audit_file(args.file)
    out = stdout_console()  # the tables are this command's answer: stdout
    out.print(stats_table(audit))
    if audit.findings:
        out.print(findings_table(audit))
    if args.report:
        write_text_atomic(args.report, markdown_report(audit, args.max_examples))
        console.print(f"report with examples of each problem → {args.report}", highlight=False)
    errors, warnings = len(audit.errors), len(audit.warnings)
    if errors:
        console.print(f"[bold red]{errors} error(s)[/], {warnings} warning(s) in {audit.pairs} QA pairs", highlight=False)
        return 1
    console.print(f"[green]no errors[/], {warnings} warning(s) in {audit.pairs} QA pairs", highlight=False)
    return 0
