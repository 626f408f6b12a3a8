"""The statute store: every text with its version and validity, shipped and the user's own, as one.

A law has versions; each version is a ``Document`` that knows when it took effect and whether (and
since when) it is superseded or repealed. The rule every consumer follows: *a text is current on a
date when it took effect on or before that date and had not yet ceased to be in force*; nothing
superseded is presented as current law. Shipped documents live in the package (data/statutes, with
their sources in manifest.json); the user's imported texts and status changes live in the user-data
folder (``statutes/``) and are read on top of them, so a newer official text the user brings
replaces the shipped one everywhere: citations, ``/law``, ``--rag``, drafting, training data.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.numerals import ITEM_NUMERAL
from ecmiip.core.paths import STATUTES_DIR, user_data_dir

IN_FORCE = "in_force"
SUPERSEDED = "superseded"
REPEALED = "repealed"
UNVERIFIED = "unverified"
STATUSES = (IN_FORCE, SUPERSEDED, REPEALED, UNVERIFIED)

STATUS_LABELS = {IN_FORCE: "现行有效", SUPERSEDED: "已被取代", REPEALED: "已废止", UNVERIFIED: "效力待核实"}

PRC = "中华人民共和国"


def parse_date(text: str | None, what: str = "date") -> date | None:
    """``YYYY-MM-DD`` → date; None stays None; anything else is an error naming the value."""
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise InputError(f"{what} must be written YYYY-MM-DD, not {text!r}") from None


def version_year(version: str) -> str | None:
    """``2019修正`` → ``2019``, ``法释〔2025〕5号`` → ``2025``: how two ways of writing a version are compared."""
    m = re.search(r"\d{4}", version or "")
    return m.group(0) if m else None


def short_title(law: str) -> str:
    """``中华人民共和国专利法`` → ``专利法``: the title without the state's name."""
    return law[len(PRC):] if law.startswith(PRC) and len(law) > len(PRC) else law


@dataclass(frozen=True)
class Successor:
    """The text that replaced a document, named even when the store does not hold it."""

    law: str
    version: str
    effective: date | None = None

    def __str__(self) -> str:
        when = f"，{self.effective.isoformat()}起施行" if self.effective else ""
        return f"《{self.law}》（{self.version}{when}）"


@dataclass(frozen=True)
class Document:
    """One version of one law, regulation or judicial interpretation, with its validity."""

    key: str  # unique in the store: the shipped file's stem, or the user's import name
    law: str
    version: str
    status: str
    effective: date | None
    superseded_on: date | None = None  # the day it ceased to be in force (superseded or repealed)
    superseded_by: Successor | None = None
    promulgated: date | None = None
    doc_number: str = ""
    status_basis: str = ""  # how the status is known (confirmed, reported, as of the snapshot…)
    tier: str = ""
    origin: str = "shipped"  # or "user"
    source: tuple[tuple[str, str], ...] = ()  # shipped: repo/commit/path/blob; user: file and sha256
    total_articles: int | None = None  # for an excerpt: how many articles the whole law has
    sub_articles: bool | None = None  # for an excerpt: whether the law has any 之一 articles

    @property
    def short(self) -> str:
        return short_title(self.law)

    @property
    def excerpt(self) -> bool:
        return self.total_articles is not None

    def in_force_on(self, day: date) -> bool:
        """Whether this text was the law on ``day`` (took effect, not yet superseded or repealed)."""
        if self.effective is not None and day < self.effective:
            return False
        if self.superseded_on is not None:
            return day < self.superseded_on
        return self.status in (IN_FORCE, UNVERIFIED)

    def status_on(self, day: date) -> str:
        """The status a reader should see on ``day``: superseded texts are never current."""
        if self.effective is not None and day < self.effective:
            return "not_yet_in_force"
        if self.in_force_on(day):
            return self.status if self.status != SUPERSEDED else IN_FORCE
        return self.status if self.status in (SUPERSEDED, REPEALED) else SUPERSEDED

    def validity(self, day: date | None = None) -> str:
        """``国务院令第769号，2024-01-20起施行，现行有效``: number, dates and status on ``day``."""
        parts = [self.doc_number] if self.doc_number else []
        if self.effective:
            parts.append(f"{self.effective.isoformat()}起施行")
        status = self.status_on(day) if day else self.status
        if status == "not_yet_in_force":
            parts.append(f"{day.isoformat()}尚未施行")
        elif status in (SUPERSEDED, REPEALED):
            when = f"{self.superseded_on.isoformat()}起" if self.superseded_on else ""
            by = f"已被{self.superseded_by}取代" if self.superseded_by and status == SUPERSEDED else STATUS_LABELS[status]
            parts.append(f"{when}{by}")
        else:
            parts.append(STATUS_LABELS[status])
        if "reported" in self.status_basis:
            parts.append("效力信息据报道，未经官方文本核对")
        return "，".join(parts)

    def describe(self, day: date | None = None) -> str:
        """``2020修正，2021-06-01起施行，现行有效`` — the version line every answer and view shows."""
        return f"{self.version}，{self.validity(day)}"


#: The mark that opens an enumerated item (项) of an article: （一）, (二).
ITEM_MARK = rf"[（(]{ITEM_NUMERAL}[）)]"
_ITEM_RE = re.compile(f"^{ITEM_MARK}")


@dataclass(frozen=True)
class Paragraph:
    """One 款 of an article; its 项 are the lines that begin （一）, （二）…"""

    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Article:
    doc: Document = field(compare=True, repr=False)
    chapter: str
    article: str  # label: 第十一条, 第二百一十九条之一; a 批复's 一, 二… or 正文
    text: str
    section: str = ""

    @property
    def law(self) -> str:
        return self.doc.law

    @property
    def version(self) -> str:
        return self.doc.version

    @property
    def citation(self) -> str:
        return f"《{self.law}》{self.article}"

    @property
    def paragraphs(self) -> tuple[Paragraph, ...]:
        """The article's 款, each with its 项 (an item line belongs to the paragraph before it)."""
        out: list[tuple[str, list[str]]] = []
        for line in self.text.split("\n"):
            if _ITEM_RE.match(line) and out:
                out[-1][1].append(line)
            else:
                out.append((line, []))
        return tuple(Paragraph(t, tuple(items)) for t, items in out)

    def __repr__(self) -> str:
        return f"Article({self.citation}, {self.version})"


# ---------------------------------------------------------------- reading files


def read_articles(path: Path, doc: Document) -> Iterator[Article]:
    """Articles of one JSONL file; a bad line raises an error naming ``file:line``."""
    if not path.is_file():
        raise InputError(f"{path}: the statute text of 《{doc.law}》（{doc.version}） is missing; import it again "
                         f"or remove it with `ecmiip statutes remove {doc.key}`")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                yield Article(doc, rec.get("chapter", ""), rec["article"], rec["text"], rec.get("section", ""))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise InputError(f"{path}:{lineno}: not a statute record ({e})") from e


def read_errata(path: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(file stem, article) → (source words, official words): where a shipped source text departs from the
    official one (a dropped symbol), each with its basis in the file."""
    if not path.is_file():
        return {}
    return {(Path(e["file"]).stem, e["article"]): (e["source"], e["official"])
            for e in json.loads(path.read_text(encoding="utf-8"))}


def corrected(article: Article, errata: dict[tuple[str, str], tuple[str, str]]) -> Article:
    """The article with its erratum applied; an erratum whose source words are gone is an error, not a no-op."""
    if (fix := errata.get((article.doc.key, article.article))) is None:
        return article
    source, official = fix
    if source not in article.text:
        raise InputError(f"errata.json: {article.doc.key} {article.article} no longer reads “{source}”; "
                         "update or remove the erratum")
    return replace(article, text=article.text.replace(source, official))


def document_from_record(rec: dict, origin: str, where: str) -> Document:
    """A manifest record → Document; a missing or malformed field is an error naming it and ``where``."""
    if not isinstance(rec, dict):
        raise InputError(f"{where}: not a statute manifest record (an object expected)")
    try:
        by = rec.get("superseded_by")
        if by is not None and not (isinstance(by, dict) and isinstance(by.get("law"), str)
                                   and isinstance(by.get("version"), str)):
            raise InputError(f"{where}: superseded_by must be an object with law and version, not {by!r}")
        successor = Successor(by["law"], by["version"], parse_date(by.get("effective"))) if by else None
        excerpt = rec.get("excerpt") or {}
        if rec["status"] not in STATUSES:
            raise InputError(f"{where}: status must be one of {', '.join(STATUSES)}, not {rec['status']!r}")
        source_keys = ("source_repo", "source_commit", "source_paths", "source_blobs", "source_file", "sha256")
        source = tuple((k, ", ".join(v) if isinstance(v, list) else str(v)) for k in source_keys if (v := rec.get(k)))
        return Document(
            key=Path(rec["file"]).stem, law=rec["law"], version=rec["version"], status=rec["status"],
            effective=parse_date(rec.get("effective"), f"{where}: effective"),
            superseded_on=parse_date(rec.get("superseded_on"), f"{where}: superseded_on"),
            superseded_by=successor, promulgated=parse_date(rec.get("promulgated"), f"{where}: promulgated"),
            doc_number=rec.get("doc_number") or "", status_basis=rec.get("status_basis") or "",
            tier=rec.get("tier") or "", origin=origin, source=source,
            total_articles=excerpt.get("total_articles"), sub_articles=excerpt.get("sub_articles"),
        )
    except (KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{where}: not a statute manifest record (missing or malformed {e})") from e


def user_statutes_dir() -> Path:
    """Where ``ecmiip statutes import`` keeps the user's texts (never inside the installed package)."""
    return user_data_dir() / "statutes"


# ---------------------------------------------------------------- the store


class StatuteStore:
    """Shipped documents plus the user's, with the user's status overrides applied."""

    def __init__(self, shipped_dir: Path = STATUTES_DIR, user_dir: Path | None = None) -> None:
        meta = json.loads((shipped_dir / "store.json").read_text(encoding="utf-8"))
        self.as_of = parse_date(meta["as_of"])  # when the shipped statuses were last reviewed
        self.snapshot = parse_date(meta["snapshot"])  # date of the shipped texts' source
        docs: list[tuple[Document, Path]] = []
        for i, rec in enumerate(json.loads((shipped_dir / "manifest.json").read_text(encoding="utf-8"))):
            docs.append((document_from_record(rec, "shipped", f"{shipped_dir}/manifest.json[{i}]"),
                         shipped_dir / rec["file"]))
        self.user_dir = user_dir
        user_manifest = user_dir / "manifest.json" if user_dir else None
        if user_manifest and user_manifest.exists():
            where = str(user_manifest)
            try:
                user = json.loads(user_manifest.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
                raise InputError(f"{where}: not valid JSON ({e}); restore it or remove the folder "
                                 f"{user_dir} to start over") from None
            if not isinstance(user, dict) or not isinstance(user.get("documents", []), list) \
                    or not isinstance(user.get("overrides", {}), dict):
                raise InputError(f"{where}: not an ec-miip statute manifest (an object with documents and overrides); "
                                 f"restore it or remove the folder {user_dir} to start over")
            overrides = user.get("overrides", {})
            docs = [(self._override(d, overrides.get(d.key), where), p) for d, p in docs]
            for i, rec in enumerate(user.get("documents", [])):
                docs.append((document_from_record(rec, "user", f"{where}: documents[{i}]"), user_dir / rec["file"]))
            if user.get("as_of"):
                self.as_of = max(self.as_of, parse_date(user["as_of"]))
        self.documents: tuple[Document, ...] = tuple(d for d, _ in docs)
        self.files: dict[str, Path] = {d.key: path for d, path in docs}  # document key → its JSONL file
        errata = read_errata(shipped_dir / "errata.json")
        self.articles: tuple[Article, ...] = tuple(
            corrected(a, errata) if d.origin == "shipped" else a for d, path in docs for a in read_articles(path, d))

    @staticmethod
    def _override(doc: Document, change: dict | None, where: str) -> Document:
        if not change:
            return doc
        rec = {"file": doc.key, "law": doc.law, "version": doc.version, "status": change["status"],
               "effective": doc.effective and doc.effective.isoformat(),
               "superseded_on": change.get("superseded_on"), "superseded_by": change.get("superseded_by"),
               "status_basis": change.get("status_basis", ""), "doc_number": doc.doc_number,
               "promulgated": doc.promulgated and doc.promulgated.isoformat(), "tier": doc.tier}
        new = document_from_record(rec, doc.origin, f"{where}: overrides[{doc.key}]")
        return Document(**{**new.__dict__, "source": doc.source, "total_articles": doc.total_articles,
                           "sub_articles": doc.sub_articles})

    # --- documents ---------------------------------------------------------------------------------
    @cached_property
    def by_law(self) -> dict[str, tuple[Document, ...]]:
        """Title → its versions, oldest first."""
        out: dict[str, list[Document]] = {}
        for d in self.documents:
            out.setdefault(d.law, []).append(d)
        return {law: tuple(sorted(v, key=lambda d: d.effective or date.min)) for law, v in out.items()}

    def document(self, key: str) -> Document:
        for d in self.documents:
            if d.key == key:
                return d
        raise InputError(f"no statute document {key!r} in the store; `ecmiip statutes list` shows them")

    def current(self, law: str, day: date | None = None) -> Document | None:
        """The version of ``law`` in force on ``day`` (today by default), None when the store lacks it."""
        day = day or date.today()
        live = [d for d in self.by_law.get(law, ()) if d.in_force_on(day)]
        return live[-1] if live else None

    def latest(self, law: str, day: date | None = None) -> Document | None:
        """The newest version that had taken effect by ``day``, current or not."""
        day = day or date.today()
        started = [d for d in self.by_law.get(law, ()) if d.effective is None or d.effective <= day]
        return started[-1] if started else None

    # --- articles ----------------------------------------------------------------------------------
    @cached_property
    def articles_of(self) -> dict[str, tuple[Article, ...]]:
        """Document key → its articles in text order."""
        out: dict[str, list[Article]] = {}
        for a in self.articles:
            out.setdefault(a.doc.key, []).append(a)
        return {k: tuple(v) for k, v in out.items()}

    def current_articles(self, day: date | None = None) -> tuple[Article, ...]:
        """Articles of every text in force on ``day`` (today by default), in store order."""
        day = day or date.today()
        live = {d.key for d in self.documents if d.in_force_on(day)}
        return tuple(a for a in self.articles if a.doc.key in live)


_STORE: tuple[tuple, StatuteStore] | None = None


def _user_state(user_dir: Path) -> tuple:
    manifest = user_dir / "manifest.json"
    try:
        return (str(user_dir), os.stat(manifest).st_mtime_ns)
    except OSError:
        return (str(user_dir), None)


def store() -> StatuteStore:
    """The store as it is now: re-read when the user's folder or its manifest changed."""
    global _STORE
    user_dir = user_statutes_dir()
    state = _user_state(user_dir)
    if _STORE is None or _STORE[0] != state:
        _STORE = (state, StatuteStore(STATUTES_DIR, user_dir))
    return _STORE[1]


def all_articles() -> tuple[Article, ...]:
    """Every article of every version in the store (history included), in store order."""
    return store().articles


def current_articles(day: date | None = None) -> tuple[Article, ...]:
    """Articles of the texts in force on ``day`` (today by default): what is presented as the law."""
    return store().current_articles(day)
