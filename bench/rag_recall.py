"""Recall of ``ecmiip-chat --rag``'s statute retrieval on everyday questions, overall and per area.

Each scenario is a question as a small business owner or a lawyer would type it (plain words, not
statute wording) and the articles that answer it. Retrieval hits a question when at least one of
its articles is among the top ``k`` that ``ecmiip.chat.rag.retrieve`` returns; recall@k is the share
of questions hit, MRR the mean of 1/rank of the first relevant article (0 when none is in the top
``k``). Expected articles are matched by law title and article label, so a changed ranking inside
the top ``k`` never counts as a miss.

An expected article the statute store does not hold (a law not shipped yet, an article outside an
excerpt), or holds only in a superseded text (retrieval searches the texts in force), can never be
retrieved: it is listed separately, and a question none of whose articles can be retrieved is still
counted as a miss, with the number of misses that causes reported beside recall.

Scenario schema (one JSON object per line; ``bench/samples/rag_scenarios.jsonl`` is the default):
    id        str, unique
    area      one of AREAS
    question  str, the question as typed
    relevant  non-empty list of citations ``《法律全称》第X条`` (a 之一 article: ``第X条之一``)

Run: ``python -m ecmiip.bench.rag_recall [--data FILE] [--k 5] [--show-misses]``. Prints figures;
asserts nothing (timings vary with the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rich.table import Table

from ecmiip.core.citations import format_citation, parse_citation
from ecmiip.core.console import console
from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.statutes import store

DEFAULT_DATA = Path(__file__).parent / "samples" / "rag_scenarios.jsonl"
AREAS = ("专利", "商标", "著作权", "商业秘密与不正当竞争", "植物新品种", "程序与救济", "刑事", "合同")

Key = tuple[str, str]  # (full law title, article label)


@dataclass(frozen=True)
class Scenario:
    id: str
    area: str
    question: str
    relevant: tuple[str, ...]  # citations as written in the file
    keys: tuple[Key, ...]  # the same, resolved to (law, article label)


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    retrieved: tuple[Key, ...]  # best first
    seconds: float
    missing: tuple[str, ...]  # expected citations the store does not hold
    stale: tuple[str, ...] = ()  # expected citations the store holds only in superseded texts

    @property
    def rank(self) -> int | None:
        """1-based rank of the first relevant article retrieved, None when none was."""
        wanted = set(self.scenario.keys)
        return next((i for i, key in enumerate(self.retrieved, 1) if key in wanted), None)

    @property
    def hit(self) -> bool:
        return self.rank is not None

    @property
    def unanswerable(self) -> bool:
        """None of the question's articles is searched: no retriever could hit it."""
        return len(self.missing) + len(self.stale) == len(self.scenario.keys)


@dataclass(frozen=True)
class Summary:
    questions: int
    hits: int
    mrr: float
    index_seconds: float = 0.0  # building the index (the first retrieval), not in the per-query times

    @property
    def recall(self) -> float:
        return self.hits / self.questions if self.questions else 0.0


def citation_key(text: str) -> Key | None:
    """``《中华人民共和国专利法》第十一条`` → (law title, label); None when it is not one citation."""
    c = parse_citation(text)
    if c is None:
        return None
    return (c.resolved_law or c.law, c.article)


def load(path: Path) -> list[Scenario]:
    """The scenarios of a JSONL file; the first bad line raises InputError ``file:line: reason``."""
    if not path.is_file():
        raise InputError(f"scenario file not found: {path}")
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{where}: not JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise InputError(f"{where}: not a JSON object")
            for name in ("id", "area", "question"):
                if not isinstance(rec.get(name), str) or not rec[name].strip():
                    raise InputError(f"{where}: {name} must be a non-empty string")
            if rec["id"] in seen:
                raise InputError(f"{where}: id {rec['id']!r} used twice")
            if rec["area"] not in AREAS:
                raise InputError(f"{where}: area {rec['area']!r} is not one of {'|'.join(AREAS)}")
            relevant = rec.get("relevant")
            if not isinstance(relevant, list) or not relevant or not all(isinstance(r, str) for r in relevant):
                raise InputError(f"{where}: relevant must be a non-empty list of citations 《法律名》第X条")
            keys = []
            for text in relevant:
                key = citation_key(text)
                if key is None:
                    raise InputError(f"{where}: {text!r} is not a citation of the form 《法律名》第X条")
                keys.append(key)
            seen.add(rec["id"])
            scenarios.append(Scenario(rec["id"], rec["area"], rec["question"], tuple(relevant), tuple(keys)))
    if not scenarios:
        raise InputError(f"{path}: no scenarios")
    return scenarios


def store_keys() -> tuple[set[Key], set[Key]]:
    """(law, article label) of every article the store holds, and of those in force (searched)."""
    # Keys as the scenarios write them (labels, not numbers): the sets a score is counted against.
    s = store()
    return {(a.law, a.article) for a in s.articles}, {(a.law, a.article) for a in s.current_articles()}


def evaluate(scenarios: list[Scenario], k: int = 5, retrieve: Callable | None = None) -> list[Outcome]:
    """Retrieve the top ``k`` articles for each question, timing each call.

    Build the index first (one retrieval, as ``run`` does) or the first question's time includes it.
    """
    if retrieve is None:
        from ecmiip.chat.rag import retrieve
    held, current = store_keys()
    outcomes = []
    for s in scenarios:
        start = time.perf_counter()
        found = retrieve(s.question, k=k)
        seconds = time.perf_counter() - start
        retrieved = tuple((a.law, a.article) for a, _ in found)
        pairs = list(zip(s.relevant, s.keys, strict=True))
        missing = tuple(text for text, key in pairs if key not in held)
        stale = tuple(text for text, key in pairs if key in held and key not in current)
        outcomes.append(Outcome(s, retrieved, seconds, missing, stale))
    return outcomes


def summarise(outcomes: list[Outcome]) -> Summary:
    hits = sum(o.hit for o in outcomes)
    mrr = statistics.fmean(1 / o.rank if o.rank else 0.0 for o in outcomes) if outcomes else 0.0
    return Summary(len(outcomes), hits, mrr)


def run(data: Path = DEFAULT_DATA, k: int = 5) -> tuple[Summary, list[Outcome]]:
    """Load, retrieve and summarise: what ``main`` prints, for callers and tests."""
    if k < 1:
        raise InputError("--k must be at least 1")
    scenarios = load(data)
    from ecmiip.chat.rag import retrieve

    start = time.perf_counter()
    retrieve(scenarios[0].question, k=k)  # builds the index: timed apart from the queries
    index_seconds = time.perf_counter() - start
    outcomes = evaluate(scenarios, k, retrieve)
    return replace(summarise(outcomes), index_seconds=index_seconds), outcomes


def report(summary: Summary, outcomes: list[Outcome], k: int, data: Path, show_misses: bool) -> None:
    held, current = store_keys()
    console.print(
        f"[bold]statute retrieval[/] — {len(outcomes)} questions from {data.name}, top {k}; store of "
        f"{len(held)} articles, {len(current)} of them in force (searched), {len({law for law, _ in held})} laws"
    )
    table = Table(title=f"recall@{k} per area")
    for col in ("area", "questions", "hits", f"recall@{k}", f"MRR@{k}"):
        table.add_column(col, justify="left" if col == "area" else "right")
    for area in AREAS:
        part = [o for o in outcomes if o.scenario.area == area]
        if part:
            s = summarise(part)
            table.add_row(area, str(s.questions), str(s.hits), f"{s.recall:.3f}", f"{s.mrr:.3f}")
    table.add_section()
    table.add_row("[bold]all[/]", str(summary.questions), str(summary.hits),
                  f"[bold]{summary.recall:.3f}[/]", f"{summary.mrr:.3f}")
    console.print(table)

    misses = [o for o in outcomes if not o.hit]
    unanswerable = [o for o in misses if o.unanswerable]
    answerable = [o for o in outcomes if not o.unanswerable]
    times = [o.seconds * 1000 for o in outcomes]
    console.print(
        f"recall@{k} [bold]{summary.recall:.3f}[/] ({summary.hits}/{summary.questions}), "
        f"MRR@{k} {summary.mrr:.3f}; misses {len(misses)}, of which {len(unanswerable)} because none of "
        f"the question's articles is searched (not in the store, or superseded)"
    )
    if answerable and len(answerable) < len(outcomes):
        console.print(f"recall@{k} on the {len(answerable)} questions whose articles are searched: "
                      f"{summarise(answerable).recall:.3f}")
    console.print(f"time per query: median {statistics.median(times):.1f} ms, mean {statistics.fmean(times):.1f} ms, "
                  f"max {max(times):.1f} ms; index built once in {summary.index_seconds * 1000:.0f} ms")

    absent: dict[tuple[str, str], list[str]] = {}
    for o in outcomes:
        for text in o.missing:
            absent.setdefault((text, "not in the store"), []).append(o.scenario.id)
        for text in o.stale:
            absent.setdefault((text, "superseded text only"), []).append(o.scenario.id)
    if absent:
        gone = Table(title="expected articles retrieval cannot return")
        for col in ("article", "why", "questions"):
            gone.add_column(col)
        for (text, why), ids in absent.items():
            gone.add_row(text, why, ", ".join(ids))
        console.print(gone)

    if show_misses and misses:
        table = Table(title=f"misses: expected vs retrieved top {k}", show_lines=True)
        for col in ("id", "question", "expected", "retrieved instead"):
            table.add_column(col, overflow="fold")
        for o in misses:
            expected = [f"{t} [dim](not in store)[/]" if t in o.missing else
                        f"{t} [dim](superseded)[/]" if t in o.stale else t for t in o.scenario.relevant]
            table.add_row(f"{o.scenario.id}\n{o.scenario.area}", o.scenario.question,
                          "\n".join(expected), "\n".join(format_citation(*key) for key in o.retrieved) or "(nothing)")
        console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"scenario JSONL (default: {DEFAULT_DATA.name})")
    parser.add_argument("--k", type=int, default=5, help="articles retrieved per question (default: 5)")
    parser.add_argument("--show-misses", action="store_true", help="list each miss with what was retrieved instead")
    args = parser.parse_args(argv)
    try:
        summary, outcomes = run(args.data, args.k)
    except EcmiipError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        return 1
    report(summary, outcomes, args.k, args.data, args.show_misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
