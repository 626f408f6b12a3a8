"""``ecmiip data qa-audit``: every QA pair of a file through the per-pair checks (``qa_checks``), duplicate
questions across the file, and what the file holds — CoT share, pairs per kind and template, answer lengths.

Reads the format ``ecmiip data build-qa`` writes and ``ecmiip.train.sft`` reads (``ecmiip.train.qa_pairs``),
whoever wrote it: a malformed line is a finding on its line, not a crash; a file that cannot be read, or
has no QA pair at all, is one InputError.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecmiip.core.errors import InputError
from ecmiip.core.thinking import strip_thinking
from ecmiip.train.mipld import JsonLineError, conversation_problem, loads_strict
from ecmiip.train.qa_checks import CODES, Finding, answer_findings, has_reasoning, question_findings

# Upper bounds (characters) of the answer-length buckets of the report.
LENGTH_BUCKETS = (50, 200, 500, 1000, 2000)


@dataclass(frozen=True)
class Lengths:
    """Answer lengths in characters (the answer after its reasoning)."""

    count: int
    min: int
    p10: int
    median: float
    mean: float
    p90: int
    max: int
    buckets: dict[str, int]

    @classmethod
    def of(cls, lengths: list[int]) -> Lengths:
        s = sorted(lengths) or [0]
        bounds = (0, *LENGTH_BUCKETS)
        buckets = {f"{lo}–{hi - 1}": sum(lo <= n < hi for n in s) for lo, hi in zip(bounds, bounds[1:], strict=False)}
        buckets[f"≥{LENGTH_BUCKETS[-1]}"] = sum(n >= LENGTH_BUCKETS[-1] for n in s)
        pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
        return cls(len(lengths), s[0], pick(0.1), statistics.median(s), statistics.fmean(s), pick(0.9), s[-1], buckets)


@dataclass
class Audit:
    """What the audit found in one file."""

    path: Path
    lines: int = 0  # non-empty lines
    pairs: int = 0  # lines that are QA pairs
    cot: int = 0  # pairs whose answer carries a think block
    findings: list[Finding] = field(default_factory=list)
    per_kind: Counter = field(default_factory=Counter)
    per_template: Counter = field(default_factory=Counter)
    answer_lengths: list[int] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    @property
    def per_code(self) -> Counter:
        return Counter(f.code for f in self.findings)

    @property
    def cot_share(self) -> float:
        return self.cot / self.pairs if self.pairs else 0.0

    @property
    def lengths(self) -> Lengths:
        return Lengths.of(self.answer_lengths)

    def by_code(self) -> dict[str, list[Finding]]:
        """Findings grouped by code, in the order of ``CODES`` (errors first)."""
        return {code: [f for f in self.findings if f.code == code] for code in CODES if self.per_code[code]}


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the pair, "") or (None, why the line is not one)."""
    try:
        value = loads_strict(raw.decode("utf-8").lstrip("\ufeff"))
        why = conversation_problem(value)
    except UnicodeDecodeError as e:
        return None, f"not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"
    except json.JSONDecodeError as e:
        return None, f"malformed JSON: {e.msg} (column {e.colno})"
    except JsonLineError as e:
        return None, str(e)
    return (None, why) if why else (value, "")


def _question(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages[:-1] if m["role"] == "user")


def _label(value: Any) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else "—"


def pair_findings(pair: dict[str, Any], line: int) -> list[Finding]:
    """Problems of one parsed pair (its question, its answer, its cot flag)."""
    messages = pair["messages"]
    content = messages[-1]["content"]
    found = question_findings(_question(messages), line) + answer_findings(content, line)
    flag = pair.get("cot")
    if isinstance(flag, bool) and flag != has_reasoning(content) and not any(f.code == "cot-unclosed" for f in found):
        said = "true" if flag else "false"
        found.append(Finding(line, "cot-flag-mismatch", "answer",
                             f"cot is {said} but the answer {'has no' if flag else 'has a'} think block"))
    return found


def _duplicates(questions: dict[str, list[tuple[int, str]]]) -> list[Finding]:
    found = []
    for question, seen in questions.items():
        first_line, first_answer = seen[0]
        for line, answer in seen[1:]:
            code = "duplicate-pair" if answer == first_answer else "duplicate-question"
            found.append(Finding(line, code, "question", f"as on line {first_line}: {question[:60]}"))
    return found


def audit_file(path: Path) -> Audit:
    """Run every check over one QA JSONL file."""
    if not path.is_file():
        raise InputError(f"QA file not found: {path}" + (" (a folder)" if path.is_dir() else ""))
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    audit = Audit(path)
    questions: dict[str, list[tuple[int, str]]] = {}
    first_problem = ""
    for line, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        audit.lines += 1
        pair, why = _parse(raw)
        if pair is None:
            audit.findings.append(Finding(line, "malformed-line", "line", why))
            first_problem = first_problem or f"{path}:{line}: {why}"
            continue
        audit.pairs += 1
        messages, source = pair["messages"], pair.get("source")
        source = source if isinstance(source, dict) else {}
        audit.per_kind[_label(source.get("kind", pair.get("kind")))] += 1
        template = pair.get("template", source.get("template"))
        if template is not None:
            audit.per_template[_label(template)] += 1
        content = messages[-1]["content"]
        audit.cot += has_reasoning(content)
        audit.answer_lengths.append(len(strip_thinking(content).strip()))
        audit.findings += pair_findings(pair, line)
        key = " ".join(_question(messages).split())
        if key:
            questions.setdefault(key, []).append((line, content.strip()))
    if audit.lines == 0:
        raise InputError(f"{path}:1: empty: no QA pairs (ecmiip data build-qa writes them)")
    if audit.pairs == 0:
        raise InputError(f"{first_problem} — not a QA JSONL file (one {{\"messages\": [...]}} object a line)")
    audit.findings += _duplicates(questions)
    audit.findings.sort(key=lambda f: (f.line, list(CODES).index(f.code)))
    return audit
