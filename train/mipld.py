"""MIPLD records: the schema of the four kinds, validation that reports every problem at once,
loading and corpus statistics.

A MIPLD file is JSONL, one record per line, each with a ``kind``: ``statute``, ``case``,
``knowledge`` or ``exemption`` (the paper's Table 1). A record without ``kind`` that has ``law``
and ``article`` is a statute, so the shipped statute corpus validates as it is.

Validation collects every error instead of stopping at the first, because a data file is fixed
in one pass by a person reading the whole list. Each problem reads ``file:line: field: reason``.
Warnings (unknown fields, citations that cannot be checked) use the same form with ``warning:``
before the reason and never make a file invalid.

Article references (``cited_articles``, ``related_articles``) must read ``《法名》第X条``, with
Chinese numerals, optionally ``之Y`` and ``第Y款``/``第Y项``, and optionally a version in full-width
parentheses after the title (``《中华人民共和国专利法》（2008修正）第六十五条``). A reference to a law of
the shipped corpus is checked against it: an article beyond the law's last article is an error;
a reference with another version, or to the 民法典 excerpt, is not checked (at most a warning).
The parsing and checking live in ``ecmiip.core.citations``, shared with the chat client.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecmiip.core.citations import (
    ARTICLE_LABEL_RE,
    Citation,
    article_number,
    check_citation,
    corpus_index,
    parse_citation,
)
from ecmiip.core.errors import InputError
from ecmiip.core.numerals import canonical_number

#: The format samples shipped with the package (hand-written, fictitious; see samples/README.md).
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

# ---------------------------------------------------------------- schema

# Value types a field can have; each has a checker below.
STR = "str"  # a string; when required it must not be blank
TEXT = "text"  # a non-blank string counted as the record's text (length statistics, hardness)
DATE = "date"  # "YYYY-MM-DD", a real calendar date
CHOICE = "choice"  # one of Field.choices
STR_LIST = "list[str]"  # list of non-blank strings; when required it must not be empty
CITATIONS = "citations"  # non-empty list of "《法名》第X条" references
ARTICLE_LABEL = "article"  # a statute's own article label: "第X条", "第X条之Y", a bare numeral or "正文"
UNIT_FLOAT = "float[0,1]"  # a number between 0 and 1

KINDS = ("statute", "case", "knowledge", "exemption")

#: 权利类型. "综合" is for rules that apply to every right (e.g. punitive damages).
RIGHT_TYPES = ("专利权", "商标权", "著作权", "商业秘密", "反不正当竞争", "植物新品种权", "集成电路布图设计专有权", "综合")
#: 法院层级. Specialised IP courts (知识产权法院) are intermediate courts.
COURT_LEVELS = ("最高人民法院", "高级人民法院", "中级人民法院", "基层人民法院")
#: 审理程序.
PROCEDURES = ("一审", "二审", "再审")
#: Hardness levels written by ``ecmiip data hardness`` (see train/hardness.py).
HARDNESS_LEVELS = ("L1", "L2", "L3", "L4")

#: Headings a judgment's full text normally contains; missing ones are warnings.
JUDGMENT_HEADINGS = ("经审理查明", "本院认为", "判决如下")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    zh: str
    choices: tuple[str, ...] = ()


# Fields any kind may carry. ``hardness``/``alpha_hard``/``hardness_reasons`` are added by the
# hardness labeller, so its output validates too.
COMMON_FIELDS = (
    Field("kind", CHOICE, False, "数据类型", KINDS),
    Field("id", STR, False, "样本编号（文件内唯一）"),
    Field("source", STR, False, "来源说明"),
    Field("hardness", CHOICE, False, "硬度等级", HARDNESS_LEVELS),
    Field("alpha_hard", UNIT_FLOAT, False, "硬约束系数 α_hard"),
    Field("hardness_reasons", STR_LIST, False, "硬度判定理由"),
)

SCHEMA: dict[str, tuple[Field, ...]] = {
    "statute": (
        Field("law", STR, True, "法律名称"),
        Field("version", STR, True, "版本（如 2020修正）"),
        Field("chapter", STR, False, "章（可为空）"),
        Field("section", STR, False, "节（可为空）"),
        Field("article", ARTICLE_LABEL, True, "条号"),
        Field("text", TEXT, True, "条文"),
    ),
    "case": (
        Field("case_number", STR, False, "案号"),
        Field("court", STR, False, "审理法院"),
        Field("court_level", CHOICE, True, "法院层级", COURT_LEVELS),
        Field("procedure", CHOICE, False, "审理程序", PROCEDURES),
        Field("date", DATE, True, "裁判日期"),
        Field("cause", STR, False, "案由"),
        Field("right_type", CHOICE, False, "权利类型", RIGHT_TYPES),
        Field("plaintiffs", STR_LIST, True, "原告（上诉人）"),
        Field("defendants", STR_LIST, True, "被告（被上诉人）"),
        Field("relation", STR, True, "当事人关系"),
        Field("plaintiff_claims", TEXT, True, "原告诉讼请求及理由"),
        Field("defendant_claims", TEXT, True, "被告答辩意见"),
        Field("facts", TEXT, True, "经审理查明的事实"),
        Field("reasoning", TEXT, True, "本院认为（法院说理）"),
        Field("judgment", TEXT, True, "判决结果"),
        Field("grounds", TEXT, True, "裁判要旨（裁判理由要点）"),
        Field("cited_articles", CITATIONS, True, "引用法条"),
        Field("full_text", TEXT, False, "裁判文书全文"),
    ),
    "knowledge": (
        Field("right_type", CHOICE, True, "权利类型", RIGHT_TYPES),
        Field("related_articles", CITATIONS, True, "相关法条"),
        Field("concept", TEXT, True, "知识点（概念）"),
        Field("analysis", TEXT, True, "解析"),
    ),
    "exemption": (
        Field("right_type", CHOICE, False, "权利类型", RIGHT_TYPES),
        Field("area", STR, True, "豁免领域（合理使用、避风港、反向工程、先用权……）"),
        Field("related_articles", CITATIONS, True, "相关法条"),
        Field("keywords", STR_LIST, True, "界定关键词"),
        Field("explanation", TEXT, True, "有效案例说明"),
    ),
}


def fields_of(kind: str) -> tuple[Field, ...]:
    """Every field a record of ``kind`` may have: its own, then the common ones."""
    return SCHEMA[kind] + COMMON_FIELDS


# ---------------------------------------------------------------- records and errors


@dataclass(frozen=True)
class DataError:
    """One problem in a data file, located by line (1-based) and field."""

    path: str
    line: int
    field: str
    reason: str
    severity: str = "error"

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def __str__(self) -> str:
        prefix = "warning: " if self.is_warning else ""
        return f"{self.path}:{self.line}: {self.field}: {prefix}{self.reason}"


@dataclass(frozen=True)
class Record:
    """A valid record, with where it came from (for messages further down the pipeline)."""

    kind: str
    data: dict[str, Any]
    path: str = ""
    line: int = 0


def record_kind(data: Mapping[str, Any]) -> str | None:
    """The record's kind; ``None`` when it has none and is not a statute."""
    kind = data.get("kind")
    if kind is None and "law" in data and "article" in data:
        return "statute"
    return kind if isinstance(kind, str) else None


def record_text(record: Record | Mapping[str, Any]) -> str:
    """The record's text: a case's full text when it has one, else its text fields joined."""
    data = record.data if isinstance(record, Record) else record
    kind = record.kind if isinstance(record, Record) else record_kind(data)
    if isinstance(data.get("full_text"), str) and data["full_text"].strip():
        return data["full_text"]
    names = [f.name for f in SCHEMA.get(kind or "", ()) if f.type == TEXT]
    return "\n".join(data[n] for n in names if isinstance(data.get(n), str))


# ---------------------------------------------------------------- citations


def citations_of(record: Record | Mapping[str, Any]) -> list[Citation]:
    """The record's well-formed article references (cited_articles and related_articles)."""
    data = record.data if isinstance(record, Record) else record
    out = []
    for name in ("cited_articles", "related_articles"):
        for item in data.get(name) or ():
            c = parse_citation(item) if isinstance(item, str) else None
            if c:
                out.append(c)
    return out


# ---------------------------------------------------------------- field checks

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _type_name(value: Any) -> str:
    return {str: "string", list: "list", dict: "object", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _check_value(f: Field, value: Any) -> list[tuple[str, str, str]]:
    """Problems of one field value as ``(field path, severity, reason)``."""
    name = f.name
    if f.type in (STR, TEXT, DATE, CHOICE, ARTICLE_LABEL):
        if not isinstance(value, str):
            return [(name, "error", f"expected a string, got {_type_name(value)}")]
        if not value.strip() and (f.required or f.type != STR):
            return [(name, "error", "empty text")]
    if f.type == DATE:
        if not _DATE_RE.fullmatch(value):
            return [(name, "error", f"bad date format {value!r}: expected YYYY-MM-DD")]
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return [(name, "error", f"not a calendar date: {value!r}")]
    elif f.type == CHOICE and value not in f.choices:
        return [(name, "error", f"{value!r} is not one of {', '.join(f.choices)}")]
    elif f.type == ARTICLE_LABEL:
        m = ARTICLE_LABEL_RE.fullmatch(value)
        ok = (m and canonical_number(m[1]) is not None and (not m[2] or canonical_number(m[2]) is not None)) \
            or article_number(value) is not None or value == "正文"
        if not ok:
            return [(name, "error", f"article label must read 第X条 (Chinese numerals), got {value!r}")]
    elif f.type == UNIT_FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [(name, "error", f"expected a number, got {_type_name(value)}")]
        if not 0 <= value <= 1:
            return [(name, "error", f"must be between 0 and 1, got {value}")]
    elif f.type in (STR_LIST, CITATIONS):
        if not isinstance(value, list):
            return [(name, "error", f"expected a list of strings, got {_type_name(value)}")]
        if not value and (f.required or f.type == CITATIONS):
            return [(name, "error", "empty list")]
        problems = []
        for i, item in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(item, str):
                problems.append((where, "error", f"expected a string, got {_type_name(item)}"))
            elif not item.strip():
                problems.append((where, "error", "empty text"))
            elif f.type == CITATIONS:
                problems.extend((where, sev, reason) for sev, reason in check_citation(item))
        return problems
    return []


def check_record(data: Any) -> list[tuple[str, str, str]]:
    """Every problem of one parsed JSON value, as ``(field, severity, reason)``."""
    if not isinstance(data, dict):
        return [("record", "error", f"expected a JSON object, got {_type_name(data)}")]
    kind = record_kind(data)
    if kind is None:
        if "kind" not in data:
            return [("kind", "error", "missing field (and the record has no law/article to be a statute)")]
        return [("kind", "error", f"expected a string, got {_type_name(data['kind'])}")]
    if kind not in SCHEMA:
        return [("kind", "error", f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")]
    fields = fields_of(kind)
    problems = []
    for f in fields:
        if f.name not in data:
            if f.required:
                problems.append((f.name, "error", "missing field"))
        else:
            problems.extend(_check_value(f, data[f.name]))
    known = {f.name for f in fields}
    problems.extend((k, "warning", "unknown field (typo?)") for k in data if k not in known)
    full = data.get("full_text")
    if kind == "case" and isinstance(full, str) and full.strip():
        missing = [h for h in JUDGMENT_HEADINGS if h not in full]
        if missing:
            problems.append(("full_text", "warning", f"no heading {'/'.join(missing)}"))
    return problems


def _identity(kind: str, data: dict[str, Any]) -> str | None:
    """What must be unique in a file: the id, or a statute's law + version + article."""
    if isinstance(data.get("id"), str):
        return f"id {data['id']!r}"
    if kind == "statute":
        return f"article 《{data['law']}》（{data['version']}）{data['article']}"
    return None


# ---------------------------------------------------------------- strict JSON

#: Deeper JSON than this is refused: no record of any kind nests more than three levels.
MAX_JSON_DEPTH = 32


class JsonLineError(ValueError):
    """A JSON line that parses in a lax reader but must not be accepted; the message is the reason."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonLineError(f"duplicate key {key!r} (a JSON object names each key once; which value is meant?)")
        out[key] = value
    return out


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads_strict(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses duplicate keys and nesting deeper than ``max_depth``.

    Raises ``json.JSONDecodeError`` for malformed JSON and ``JsonLineError`` (a ValueError) for the rest,
    each with a reason fit to follow ``file:line:``.
    """
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except RecursionError:
        raise JsonLineError(f"nested too deeply (more than {max_depth} levels of [ and {{)") from None
    if _depth(value) > max_depth:
        raise JsonLineError(f"nested too deeply (more than {max_depth} levels of [ and {{)")
    return value


def scan_file(path: Path | str) -> tuple[list[Record], list[DataError]]:
    """Parse and check every line of one file: its valid records and all its problems."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    name = str(path)
    records: list[Record] = []
    errors: list[DataError] = []
    seen: dict[str, int] = {}
    for lineno, line_bytes in enumerate(raw.splitlines(), 1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as e:
            errors.append(DataError(name, lineno, "record", f"not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"))
            continue
        if lineno == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        try:
            data = loads_strict(line)
        except json.JSONDecodeError as e:
            errors.append(DataError(name, lineno, "record", f"malformed JSON: {e.msg} (column {e.colno})"))
            continue
        except JsonLineError as e:
            errors.append(DataError(name, lineno, "record", str(e)))
            continue
        problems = check_record(data)
        errors.extend(DataError(name, lineno, f, reason, sev) for f, sev, reason in problems)
        if any(sev == "error" for _, sev, _ in problems):
            continue
        kind = record_kind(data)
        ident = _identity(kind, data)
        if ident in seen:
            errors.append(DataError(name, lineno, "id" if ident.startswith("id") else "article",
                                    f"duplicate {ident} (first on line {seen[ident]})"))
            continue
        if ident:
            seen[ident] = lineno
        records.append(Record(kind, data, name, lineno))
    if not any(line.strip() for line in raw.splitlines()):
        errors.append(DataError(name, 1, "file", "empty: no records (a MIPLD file holds one JSON record per line)"))
    return records, errors


def validate_file(path: Path | str) -> list[DataError]:
    """Every error and warning of one MIPLD file, in line order. Raises InputError if unreadable."""
    return scan_file(path)[1]


def load_records(paths: Iterable[Path | str]) -> list[Record]:
    """The records of all files; raises InputError listing the errors if any file has one."""
    records: list[Record] = []
    errors: list[DataError] = []
    for p in paths:
        recs, errs = scan_file(p)
        records.extend(recs)
        errors.extend(e for e in errs if not e.is_warning)
    if errors:
        shown = "\n".join(str(e) for e in errors[:20])
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise InputError(f"{len(errors)} errors in MIPLD data (see `ecmiip data validate`):\n{shown}{more}")
    return records


# ---------------------------------------------------------------- QA pairs (SFT's input)

QA_ROLES = ("system", "user", "assistant")


def conversation_problem(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"expected a JSON object, got {_type_name(value)}"
    if "messages" not in value:
        return "missing field messages"
    messages = value["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in QA_ROLES or not isinstance(m.get("content"), str):
            return f"messages[{i}] must be {{\"role\": system|user|assistant, \"content\": text}}"
    if messages[-1]["role"] != "assistant":
        return "the last message must be the assistant's answer"
    return None


def load_conversations(paths: Iterable[Path | str]) -> list[list[dict]]:
    """Conversations from QA JSONL files (``{"messages": [...]}`` a line, ending with the assistant's answer);
    every problem is reported as file:line — bad UTF-8, malformed JSON, duplicate keys, deep nesting,
    the schema — and an empty file is an error, not zero pairs."""
    paths = [Path(p) for p in paths]
    conversations: list[list[dict]] = []
    errors: list[str] = []
    for path in paths:
        if not path.is_file():
            raise InputError(f"QA file not found: {path}" + (" (a folder)" if path.is_dir() else ""))
        lines = path.read_bytes().splitlines()
        if not any(line.strip() for line in lines):
            errors.append(f"{path}:1: file: empty: no QA pairs (ecmiip data build-qa writes them)")
        for lineno, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                value = loads_strict(raw.decode("utf-8").lstrip("\ufeff"))
                why = conversation_problem(value)
            except UnicodeDecodeError as e:
                why = f"not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8"
            except json.JSONDecodeError as e:
                why = f"malformed JSON: {e.msg} (column {e.colno})"
            except JsonLineError as e:
                why = str(e)
            if why:
                errors.append(f"{path}:{lineno}: messages: {why}")
            else:
                conversations.append(value["messages"])
    if errors:
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise InputError("bad QA data:\n" + "\n".join(errors[:20]) + more)
    if not conversations:
        raise InputError(f"no QA pairs in {', '.join(map(str, paths))}")
    return conversations


# ---------------------------------------------------------------- statistics


@dataclass(frozen=True)
class LengthSummary:
    """Text length in characters over the records of one kind."""

    count: int
    min: int
    median: float
    mean: float
    p90: int
    max: int

    @classmethod
    def of(cls, lengths: list[int]) -> LengthSummary:
        s = sorted(lengths)
        p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
        return cls(len(s), s[0], statistics.median(s), statistics.fmean(s), p90, s[-1])


@dataclass
class MipldStats:
    total: int = 0
    per_kind: Counter = field(default_factory=Counter)
    per_law: Counter = field(default_factory=Counter)  # statute records per law
    per_right_type: Counter = field(default_factory=Counter)
    per_area: Counter = field(default_factory=Counter)  # exemption areas
    text_length: dict[str, LengthSummary] = field(default_factory=dict)  # per kind
    articles_cited: Counter = field(default_factory=Counter)  # normalised 《law》第X条 → times cited
    laws_cited: Counter = field(default_factory=Counter)  # law → citations of it
    uncited_laws: tuple[str, ...] = ()  # corpus laws no record cites


def stats(records: Iterable[Record]) -> MipldStats:
    """Counts per kind, law, right type and exemption area; text lengths; cited articles."""
    out = MipldStats()
    lengths: dict[str, list[int]] = {}
    for r in records:
        out.total += 1
        out.per_kind[r.kind] += 1
        if r.kind == "statute":
            out.per_law[r.data["law"]] += 1
        if r.data.get("right_type"):
            out.per_right_type[r.data["right_type"]] += 1
        if r.kind == "exemption":
            out.per_area[r.data["area"]] += 1
        lengths.setdefault(r.kind, []).append(len(record_text(r)))
        for c in citations_of(r):
            out.articles_cited[c.key] += 1
            out.laws_cited[c.resolved_law or c.law] += 1
    out.text_length = {k: LengthSummary.of(v) for k, v in lengths.items()}
    out.uncited_laws = tuple(law for law in corpus_index() if law not in out.laws_cited)
    return out
