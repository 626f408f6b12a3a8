"""The user's side of the statute store: import an official text, remove it, change a status.

The rule: the user's texts and status changes live in the user-data folder (``statutes/``), never in
the installed package; each text is one JSONL file, and ``manifest.json`` is written last, under a
temporary name and renamed, so an interrupted import leaves the store as it was. Importing a newer
version of a law marks the version it replaces as superseded on the new one's effective date (an
override the user can see and remove), which is what makes every consumer switch to the new text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ecmiip.core.citations import looks_like_title, resolve_law
from ecmiip.core.errors import InputError, OutputExistsError
from ecmiip.core.outputs import write_text_atomic
from ecmiip.core.statute_text import ParseReport, parse_file
from ecmiip.core.statutes import (
    IN_FORCE,
    PRC,
    STATUSES,
    SUPERSEDED,
    Document,
    short_title,
    store,
    user_statutes_dir,
)


@dataclass
class ImportResult:
    document: Document
    report: ParseReport
    superseded: list[Document] = field(default_factory=list)  # what the new text replaced


def _read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.exists():
        return {"documents": [], "overrides": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise InputError(f"{path}: not valid JSON ({e}); restore it or remove {folder} to start over") from None
    data.setdefault("documents", [])
    data.setdefault("overrides", {})
    return data


def _write_manifest(folder: Path, data: dict) -> None:
    data["as_of"] = date.today().isoformat()  # the user reviewed the store today
    write_text_atomic(folder / "manifest.json", json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def law_title(name: str, parsed_title: str) -> str:
    """The store title for ``--law``: an existing law however it is written, else a new full title."""
    if existing := resolve_law(name):
        return existing
    name = name.strip().strip("《》")
    if parsed_title and parsed_title.endswith(name) and parsed_title.startswith(PRC):
        name = parsed_title  # 示例法 → 中华人民共和国示例法, as the text itself writes it
    if not looks_like_title(name):
        raise InputError(f"--law {name!r} is not the title of a law, regulation or interpretation "
                         f"(titles end in 法, 条例, 规定, 解释 …); write it as the official text does")
    return name


def import_text(path: Path, law: str, version: str, effective: date, *, status: str = IN_FORCE,
                supersedes: str | None = None, doc_number: str = "", promulgated: date | None = None,
                force: bool = False) -> ImportResult:
    """Read ``path``, check it, and add it to the user's store (see the module docstring)."""
    if status not in STATUSES:
        raise InputError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    if not version.strip():
        raise InputError("--version must name the version, e.g. 2025修订")
    report = parse_file(path)  # refuses a file with no article, before anything is written
    title = law_title(law, report.title)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    s, folder = store(), user_statutes_dir()
    same = [d for d in s.by_law.get(title, ()) if d.version == version]
    if same and not force:
        raise OutputExistsError(f"the store already holds 《{title}》（{version}） ({same[0].origin}: {same[0].key}); "
                                f"pass --force to replace it, or another --version")
    if any(d.origin == "shipped" for d in same):
        raise InputError(f"《{title}》（{version}） is a shipped text; import the newer version under its own --version")
    key = f"user-{sha[:12]}"
    manifest = _read_manifest(folder)
    manifest["documents"] = [r for r in manifest["documents"] if not (r["law"] == title and r["version"] == version)]
    replaced = _replaced(s, title, version, effective, supersedes)
    record = {
        "file": f"{key}.jsonl", "law": title, "version": version, "doc_number": doc_number,
        "promulgated": promulgated and promulgated.isoformat(), "effective": effective.isoformat(),
        "status": status, "status_basis": f"imported by the user on {date.today().isoformat()}",
        "superseded_on": None, "superseded_by": None, "tier": "user",
        "source_file": path.name, "sha256": sha, "supersedes": [d.key for d in replaced],
    }
    lines = [json.dumps({"law": title, "version": version, "chapter": a.chapter, "section": a.section,
                         "part": a.part, "article": a.label, "text": a.text}, ensure_ascii=False)
             for a in report.articles]
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / record["file"], "\n".join(lines) + "\n")
    successor = {"law": title, "version": version, "effective": effective.isoformat()}
    for d in replaced:
        change = {"status": SUPERSEDED, "superseded_on": effective.isoformat(), "superseded_by": successor,
                  "status_basis": f"superseded by the user's import of 《{title}》（{version}）", "by": key}
        if d.origin == "user":
            for r in manifest["documents"]:
                if r["file"] == f"{d.key}.jsonl":
                    r.update({k: v for k, v in change.items() if k != "by"})
        else:
            manifest["overrides"][d.key] = change
    manifest["documents"].append(record)
    _write_manifest(folder, manifest)  # last: until now the store did not see the new text
    new = store()
    return ImportResult(new.document(key), report, [new.document(d.key) for d in replaced])


def _replaced(s, title: str, version: str, effective: date, supersedes: str | None) -> list[Document]:
    """The versions the new text replaces: ``--supersedes`` (a version label, or ``none``), else the
    version in force the day before the new one takes effect."""
    versions = [d for d in s.by_law.get(title, ()) if d.version != version]
    if supersedes is not None:
        if supersedes.strip().lower() == "none":
            return []
        chosen = [d for d in versions if d.version == supersedes or d.key == supersedes]
        if not chosen:
            held = "、".join(d.version for d in versions) or "none"
            raise InputError(f"--supersedes {supersedes!r}: the store holds no such version of 《{title}》 (it holds: {held})")
        return chosen
    day_before = effective - timedelta(days=1)
    live = [d for d in versions if d.in_force_on(day_before) and (d.effective or date.min) < effective]
    if not live:  # the replaced text may already be marked superseded (the shipped 2019 反不正当竞争法)
        live = [d for d in versions if d.superseded_by and d.superseded_by.version == version]
    return live[-1:]


def remove(key_or_law: str, version: str | None = None) -> dict:
    """Remove one of the user's texts, and undo the status changes its import made. Works from the
    user's manifest alone, so a store whose text file went missing can still be repaired."""
    folder = user_statutes_dir()
    manifest = _read_manifest(folder)
    name = key_or_law.strip().strip("《》")
    if version is None:
        found = [r for r in manifest["documents"] if Path(r["file"]).stem == name]
    else:
        found = [r for r in manifest["documents"] if r["version"] == version
                 and name in (r["law"], short_title(r["law"]))]
    if not found:
        what = name if version is None else f"《{name}》（{version}）"
        raise InputError(f"none of your imported texts is {what}; `ecmiip statutes list` shows them "
                         f"(shipped texts cannot be removed: import a newer version instead)")
    rec = found[0]
    key = Path(rec["file"]).stem
    manifest["documents"] = [r for r in manifest["documents"] if r is not rec]
    manifest["overrides"] = {k: v for k, v in manifest["overrides"].items() if v.get("by") != key}
    for r in manifest["documents"]:
        if (r.get("superseded_by") or {}).get("version") == rec["version"] and r["law"] == rec["law"]:
            r.update({"status": IN_FORCE, "superseded_on": None, "superseded_by": None})
    _write_manifest(folder, manifest)
    (folder / rec["file"]).unlink(missing_ok=True)
    return rec
