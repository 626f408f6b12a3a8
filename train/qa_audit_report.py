"""What ``ecmiip data qa-audit`` shows: the summary tables on the console and the Markdown report, with
examples of each problem by line number."""

from __future__ import annotations

from rich.table import Table

from ecmiip.train.qa_audit import Audit
from ecmiip.train.qa_checks import CODES, ERROR


def _lines(findings: list, limit: int = 8) -> str:
    lines = list(dict.fromkeys(f.line for f in findings))
    return ", ".join(map(str, lines[:limit])) + (f", … ({len(lines)} lines)" if len(lines) > limit else "")


def findings_table(audit: Audit) -> Table:
    """Problems per code: severity, count, first lines."""
    table = Table(title=f"QA audit of {audit.path}: {len(audit.errors)} error(s), {len(audit.warnings)} warning(s)")
    for column in ("code", "severity", "count", "lines"):
        table.add_column(column, justify="right" if column == "count" else "left", overflow="fold")
    for code, found in audit.by_code().items():
        severity = CODES[code][0]
        colour = "red" if severity == ERROR else "yellow"
        table.add_row(code, f"[{colour}]{severity}[/]", str(len(found)), _lines(found))
    return table


def stats_table(audit: Audit) -> Table:
    """Pairs per kind, CoT share, answer lengths."""
    table = Table(title=f"{audit.pairs} QA pairs in {audit.lines} line(s)")
    table.add_column("", overflow="fold")
    table.add_column("value", justify="right")
    table.add_row("CoT (answers with a <think> block)", f"{audit.cot} ({audit.cot_share:.1%})")
    for kind, n in audit.per_kind.most_common():
        table.add_row(f"kind {kind}", str(n))
    for template, n in audit.per_template.most_common():
        table.add_row(f"template {template}", str(n))
    s = audit.lengths
    table.add_row("answer chars min / p10 / median / mean / p90 / max",
                  f"{s.min} / {s.p10} / {s.median:g} / {s.mean:.0f} / {s.p90} / {s.max}")
    return table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_report(audit: Audit, max_examples: int) -> str:
    """The report: the verdict, problems per code, up to ``max_examples`` examples of each, the statistics."""
    errors, warnings = len(audit.errors), len(audit.warnings)
    verdict = "**FAIL**" if errors else "**PASS**"
    out = [f"# QA audit: `{audit.path}`", "",
           f"{verdict}: {errors} error(s), {warnings} warning(s) in {audit.pairs} QA pairs "
           f"({audit.lines} non-empty lines). Errors fail the audit; warnings need a reader's judgement.", "",
           "## Problems", ""]
    if audit.findings:
        out += ["| code | severity | count | what it means |", "|---|---|---:|---|"]
        out += [f"| `{code}` | {CODES[code][0]} | {len(found)} | {_cell(CODES[code][1])} |"
                for code, found in audit.by_code().items()]
    else:
        out.append("None found.")
    for code, found in audit.by_code().items():
        out += ["", f"### `{code}` ({CODES[code][0]}, {len(found)})", "", _cell(CODES[code][1]), "",
                "| line | field | example |", "|---:|---|---|"]
        out += [f"| {f.line} | {f.field} | {_cell(f.message)} |" for f in found[:max_examples]]
        if len(found) > max_examples:
            out.append(f"\n… and {len(found) - max_examples} more, on lines {_lines(found[max_examples:], 30)}")
    s = audit.lengths
    out += ["", "## Statistics", "",
            f"- CoT share: {audit.cot} of {audit.pairs} answers carry a `<think>` block ({audit.cot_share:.1%})", "",
            "| kind | pairs |", "|---|---:|"]
    out += [f"| {_cell(kind)} | {n} |" for kind, n in audit.per_kind.most_common()]
    if audit.per_template:
        out += ["", "| template | pairs |", "|---|---:|"]
        out += [f"| {_cell(t)} | {n} |" for t, n in audit.per_template.most_common()]
    out += ["", "Answer length in characters (after the reasoning):", "",
            "| min | p10 | median | mean | p90 | max |", "|---:|---:|---:|---:|---:|---:|",
            f"| {s.min} | {s.p10} | {s.median:g} | {s.mean:.0f} | {s.p90} | {s.max} |", "",
            "| characters | answers |", "|---|---:|"]
    out += [f"| {bucket} | {n} |" for bucket, n in s.buckets.items()]
    return "\n".join(out) + "\n"
