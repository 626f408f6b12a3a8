"""Question–answer pairs for QLoRA SFT, built from MIPLD records by templates (``ecmiip data build-qa``).

SFT teaches the model to *answer* in the shape the legal system prompt asks for (facts → applicable
law → conclusion, citations as 《法律名》第X条), so every pair is derived from a record's own text and
cites only the article itself, what the record cites, or what those texts quote verbatim: a template
answer cannot invent an article. Cited articles found in the statute store are quoted in full.

This module is the build: which records go in, the pairs of each (``qa_statute_templates`` for statute
records, ``qa_record_templates`` for case, knowledge and exemption records; ``qa_norms`` reads an article,
``qa_citations`` writes and checks citations), chain-of-thought assignment, and the output file
(``qa_pairs``: one JSON object per line, what ``ecmiip.train.sft`` reads).

Validity (``ecmiip.core.statutes``): nothing superseded is taught as current law.

* Inputs. ``builtin`` stands for the statute store's texts in force on the day of the build, the
  user's imported texts included. Statute records of a text the store knows is no longer in force
  (superseded or repealed, also when given as a file) are skipped, unless ``include_superseded``
  (``--include-superseded``, recipe ``data.include_superseded``) keeps them; texts not yet in force
  are always skipped. A statute the store does not hold is kept: nobody can tell.
* A statute pair's ``source`` records the text's ``effective`` date and its ``status`` on the day of
  the build (both null for a text the store does not hold).
* Every other citation of a text no longer in force that names no version is *written with its
  version*, never dropped (``versioned_citations``), in a knowledge, exemption or case record's
  citations and text. Inside quotation marks a text stays as written: an in-force text that refers to an
  old one (the 2022 反不正当竞争法 interpretation cites the 2019 law's 第二条) is quoted verbatim and
  followed by a note naming the version it means (``stale_note``), as an old numbering is by the store's
  renumbering note. Every citation outside a quotation therefore passes
  ``ecmiip.core.citations.verify_citations`` as current or names its version; a teacher's answer gets the
  same treatment when written.

Balance (``balance``, recipe ``data.reasoning_share``, ``DEFAULT_REASONING_SHARE`` = 0.3): the statute pairs
are sampled (seeded, in proportion over their templates) so that case, knowledge and exemption pairs — the
reasoning data — make up that share; a build with no reasoning records keeps every statute pair.

A share of the pairs (``cot_ratio``, 0.2 by default: chain-of-thought to plain pairs 1 : 4) carry
reasoning steps in Qwen3's thinking form. Which ones is decided by the seed, spread evenly over the
templates (largest remainders), so the share is exact overall and per template up to rounding.
Question wording and scenario parties also follow the seed; a record's pairs do not depend on the
other records (which of them balancing keeps does).

An optional teacher model (``ecmiip.train.teacher``) rewrites each template answer into fluent prose: an OpenAI-compatible chat
completions endpoint (``http(s)://…/v1``, the only case in which anything goes over the network) or a
local GGUF run by llama.cpp. The teacher sees the source text, the question and the template answer.
Its answer replaces the template's only if it is non-empty and every article it cites exists in the
corpus or in the source; otherwise the template answer is kept and the failure counted. The reasoning
steps of a CoT pair are never rewritten. After ``MAX_CONSECUTIVE_FAILURES`` failures in a row the
teacher is no longer asked (a server that is down would otherwise cost a timeout per pair). A URL
teacher sends ``ECMIIP_TEACHER_API_KEY`` as a bearer token when that variable is set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ecmiip.core.citations import cited_label, format_citation
from ecmiip.core.errors import InputError
from ecmiip.core.outputs import refuse_existing, write_jsonl_atomic
from ecmiip.core.statutes import IN_FORCE, UNVERIFIED, store
from ecmiip.train.hardness import NOT_IN_FORCE, document_status, statute_status
from ecmiip.train.mipld import Record, load_records
from ecmiip.train.qa_citations import versioned_citations
from ecmiip.train.qa_pairs import DEFAULT_REASONING_SHARE, REASONING_KINDS, QAPair, record_ref, seeded_rng
from ecmiip.train.qa_record_templates import case_pairs, exemption_pairs, knowledge_pairs
from ecmiip.train.qa_statute_templates import statute_pairs

DEFAULT_COT_RATIO = 0.2
DEFAULT_SEED = 42


def _identity(record: Record) -> str:
    d = record.data
    if record.kind == "statute":
        return f"statute 《{d['law']}》（{d['version']}）{d['article']}"
    return f"{record.kind} {record_ref(record)}"


def check_unique(records: Sequence[Record]) -> None:
    """Refuse records that appear twice across files: their pairs would share ids and double in training."""
    seen: dict[str, Record] = {}
    dups = []
    for r in records:
        key = _identity(r)
        if key in seen:
            first = seen[key]
            dups.append(f"{key}: {first.path}:{first.line} and {r.path}:{r.line}")
        else:
            seen[key] = r
    if dups:
        more = f"\n… and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise InputError(f"{len(dups)} duplicate record(s) across the input files:\n" + "\n".join(dups[:10]) + more)


def record_pairs(record: Record, seed: int, records: Sequence[Record] = (), as_of: date | None = None) -> list[QAPair]:
    """Template pairs of one record (CoT not yet assigned), citations of old texts versioned."""
    if record.kind == "statute":
        pairs = statute_pairs(record, seed, as_of)
    elif record.kind == "case":
        pairs = case_pairs(record, seed, as_of)
    elif record.kind == "knowledge":
        pairs = knowledge_pairs(record, seed, records, as_of)
    elif record.kind == "exemption":
        pairs = exemption_pairs(record, seed, as_of)
    else:
        raise ValueError(f"unknown record kind {record.kind!r}")
    verbatim = True  # a quoted article or record stays as written; its note names versions
    for p in pairs:
        p.question = versioned_citations(p.question, as_of, verbatim)
        p.answer = versioned_citations(p.answer, as_of, verbatim)
        p.reasoning = [versioned_citations(step, as_of, verbatim) for step in p.reasoning]
    return pairs


def check_ratio(ratio: float) -> None:
    if not 0 <= ratio <= 1:
        raise InputError(f"--cot-ratio must be between 0 and 1, got {ratio}")


def input_paths(names: Sequence[str], include_superseded: bool = False, as_of: date | None = None) -> list[Path]:
    """The files named, with ``builtin`` standing for the statute store's texts in force on ``as_of``
    (today), the user's imported texts included, in store order; with ``include_superseded`` also
    the superseded and repealed ones (never a text not yet in force)."""
    out: list[Path] = []
    day = as_of or date.today()
    for name in names:
        if name == "builtin" and not Path(name).exists():
            s = store()
            keep = (IN_FORCE, UNVERIFIED, *(NOT_IN_FORCE if include_superseded else ()))
            out.extend(s.files[d.key] for d in s.documents if document_status(d, day) in keep)
        else:
            out.append(Path(name))
    return out


def _store_records(include_superseded: bool, day: date) -> tuple[list[Record], list[Record]]:
    """(kept, skipped) statute records of the store's texts: those in force on ``day`` (plus the
    superseded and repealed ones with ``include_superseded``), and the others."""
    keep = (IN_FORCE, UNVERIFIED, *(NOT_IN_FORCE if include_superseded else ()))
    s = store()
    live = set(map(id, s.current_articles(day)))
    kept: list[Record] = []
    skipped: list[Record] = []
    lines: Counter = Counter()
    for a in s.articles:
        lines[a.doc.key] += 1
        data = {"law": a.law, "version": a.version, "chapter": a.chapter, "section": a.section,
                "article": a.article, "text": a.text}
        ok = id(a) in live or document_status(a.doc, day) in keep
        (kept if ok else skipped).append(Record("statute", data, f"statute store: {a.doc.key}", lines[a.doc.key]))
    return kept, skipped


def input_records(names: Sequence[str], include_superseded: bool = False,
                  as_of: date | None = None) -> tuple[list[Record], list[Record]]:
    """(records, skipped) of the inputs named, in order: ``builtin`` stands for the statute store's texts
    in force on ``as_of`` (today), the user's imported texts included; files are MIPLD records. Statute
    records of texts no longer in force are skipped unless ``include_superseded`` (``select_records``)."""
    day = as_of or date.today()
    missing = [n for n in names if n != "builtin" and not Path(n).is_file()]
    if missing:
        raise InputError(f"file not found: {', '.join(missing)}")
    files = [Path(n) for n in names if n != "builtin" or Path(n).exists()]
    loaded, at = load_records(files), 0
    records: list[Record] = []
    skipped: list[Record] = []
    for name in names:
        if name == "builtin" and not Path(name).exists():
            kept, left = _store_records(include_superseded, day)
        else:
            start = at
            while at < len(loaded) and loaded[at].path == str(Path(name)):
                at += 1
            kept, left = select_records(loaded[start:at], include_superseded, day)
        records += kept
        skipped += left
    return records, skipped


def select_records(records: Sequence[Record], include_superseded: bool = False,
                   as_of: date | None = None) -> tuple[list[Record], list[Record]]:
    """(kept, skipped): statute records of a text not in force on ``as_of`` (today) are skipped, unless
    ``include_superseded`` keeps the superseded and repealed ones; texts not yet in force are always
    skipped. A statute the store does not hold is kept (nobody can tell), as is every other kind."""
    day = as_of or date.today()
    keep = (IN_FORCE, UNVERIFIED, None, *(NOT_IN_FORCE if include_superseded else ()))
    kept: list[Record] = []
    skipped: list[Record] = []
    for r in records:
        (kept if r.kind != "statute" or statute_status(r.data, day) in keep else skipped).append(r)
    return kept, skipped


def assign_cot(pairs: Sequence[QAPair], ratio: float, seed: int) -> None:
    """Mark ``round(ratio × len(pairs))`` pairs as CoT, spread over templates by largest remainders."""
    check_ratio(ratio)
    groups: dict[str, list[QAPair]] = {}
    for p in pairs:
        p.cot = False
        groups.setdefault(p.template, []).append(p)
    counts = _largest_remainders({g: len(ps) for g, ps in groups.items()}, int(ratio * len(pairs) + 0.5), seed,
                                 "cot-order")
    for g in sorted(groups):
        for p in seeded_rng(seed, "cot", g).sample(groups[g], counts[g]):
            p.cot = True


def distinct_questions(pairs: Sequence[QAPair]) -> None:
    """A question asked again with another answer (two articles with the same clause: 期满未缴纳…) names
    its source the second time, so no two training targets conflict."""
    seen: dict[str, str] = {}
    for p in pairs:
        if p.question in seen and seen[p.question] != p.answer:
            s = p.source
            where = format_citation(s["law"], cited_label(s["article"]), "" if s.get("status") not in NOT_IN_FORCE
                                    else s["version"]) if p.kind == "statute" else record_ref_of(p)
            p.question += f"（请依照{where}回答）"
        seen.setdefault(p.question, p.answer)


def record_ref_of(pair: QAPair) -> str:
    return f"记录{pair.source.get('id', '')}"


def check_share(share: float | None) -> None:
    if share is not None and not 0 <= share < 1:
        raise InputError(f"the reasoning share (recipe data.reasoning_share) must be 0 (keep every pair) or above, "
                         f"and below 1, got {share}")


def _largest_remainders(sizes: dict[str, int], total: int, seed: int, what: str) -> dict[str, int]:
    """``total`` spread over groups in proportion to ``sizes``; ties broken by the seed."""
    whole = sum(sizes.values())
    quota = {g: total * n / whole for g, n in sizes.items()} if whole else {}
    counts = {g: int(q) for g, q in quota.items()}
    tie = seeded_rng(seed, what)
    order = sorted(quota, key=lambda g: (-(quota[g] - counts[g]), tie.random()))
    for g in order[: max(0, total - sum(counts.values()))]:
        counts[g] += 1
    return counts


def balance(pairs: Sequence[QAPair], share: float | None, seed: int) -> list[QAPair]:
    """Keep every reasoning pair and a seeded sample of the statute pairs, so that reasoning pairs make up
    ``share`` of the result; the sample is spread over the statute templates in proportion. Input order is
    kept. Nothing is dropped when ``share`` is None or 0, when there is no reasoning pair, or when the
    statute pairs are already few enough."""
    check_share(share)
    reasoning = sum(p.kind in REASONING_KINDS for p in pairs)
    statute = [p for p in pairs if p.kind not in REASONING_KINDS]
    if not share or not reasoning:
        return list(pairs)
    target = int(reasoning * (1 - share) / share + 0.5)
    if target >= len(statute):
        return list(pairs)
    groups: dict[str, list[QAPair]] = {}
    for p in statute:
        groups.setdefault(p.template, []).append(p)
    counts = _largest_remainders({g: len(ps) for g, ps in groups.items()}, target, seed, "balance-order")
    keep = {id(p) for g in sorted(groups) for p in seeded_rng(seed, "balance", g).sample(groups[g], counts[g])}
    return [p for p in pairs if p.kind in REASONING_KINDS or id(p) in keep]


def build_pairs(records: Sequence[Record], seed: int = DEFAULT_SEED, cot_ratio: float = DEFAULT_COT_RATIO,
                on_record: Callable[[Record], None] | None = None, *, include_superseded: bool = False,
                as_of: date | None = None, reasoning_share: float | None = DEFAULT_REASONING_SHARE) -> list[QAPair]:
    """Template pairs of every record, in input order, balanced (``balance``: statute pairs sampled so that
    reasoning pairs make up ``reasoning_share``), with CoT assigned; statute records of texts not in force
    on ``as_of`` (today) are skipped unless ``include_superseded`` (see ``select_records``)."""
    check_share(reasoning_share)
    check_unique(records)
    day = as_of or date.today()
    kept = {id(r) for r in select_records(records, include_superseded, day)[0]}
    knowledge = [r for r in records if r.kind == "knowledge"]
    pairs: list[QAPair] = []
    for r in records:
        if id(r) in kept:
            pairs.extend(record_pairs(r, seed, knowledge, day))
        if on_record:
            on_record(r)
    distinct_questions(pairs)
    pairs = balance(pairs, reasoning_share, seed)
    assign_cot(pairs, cot_ratio, seed)
    return pairs


def write_pairs(pairs: Iterable[QAPair], out: Path, force: bool = False, as_of: date | None = None) -> int:
    """Write JSONL atomically; refuses an existing ``out`` unless ``force``. Returns the line count.

    A teacher's answer gets the same treatment as a template's: a citation of a text no longer in force
    on ``as_of`` (today) that names no version is written with its version."""
    refuse_existing([out], force)

    def rows() -> Iterator[dict]:
        for p in pairs:
            if p.polished:
                p.answer = versioned_citations(p.answer, as_of)
            yield p.to_json()

    return write_jsonl_atomic(out, rows())


@dataclass
class QASummary:
    records: Counter = field(default_factory=Counter)  # per kind
    pairs: Counter = field(default_factory=Counter)
    cot: Counter = field(default_factory=Counter)

    @property
    def cot_share(self) -> float:
        total = sum(self.pairs.values())
        return sum(self.cot.values()) / total if total else 0.0


def summarize(records: Iterable[Record], pairs: Iterable[QAPair]) -> QASummary:
    s = QASummary()
    for r in records:
        s.records[r.kind] += 1
    for p in pairs:
        s.pairs[p.kind] += 1
        s.cot[p.kind] += p.cot
    return s
