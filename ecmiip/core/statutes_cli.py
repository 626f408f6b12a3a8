"""Subcommand ``statutes``: see what the statute store holds and how current it is, and bring newer
official texts into it (``import``), so that answers never rest on a superseded text unnoticed."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from rich.table import Table
from rich_argparse import RichHelpFormatter

from ecmiip.core.arguments import iso_day
from ecmiip.core.console import console
from ecmiip.core.errors import InputError
from ecmiip.core.statutes import (
    IN_FORCE,
    STATUSES,
    SUPERSEDED,
    UNVERIFIED,
    store,
    user_statutes_dir,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("statutes", help="the statute store: list, show, status to-do, import newer official texts",
                       description=__doc__, formatter_class=RichHelpFormatter)
    cmds = p.add_subparsers(dest="statutes_command", metavar="ACTION", required=True)

    imp = cmds.add_parser("import", help="add an official text (.txt .md .docx .html .pdf) to your store",
                          formatter_class=RichHelpFormatter,
                          description="Read an official statute text as copied from the national law database "
                          "(flk.npc.gov.cn) or a court's site, cut it into articles, report numbering gaps, repeated "
                          f"articles and unparsed lines, and add it to your store ({user_statutes_dir()}). A newer "
                          "version of a law in the store marks the version it replaces as superseded on its "
                          "effective date.")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--law", required=True, help="title, e.g. 中华人民共和国反不正当竞争法 (or 反不正当竞争法)")
    imp.add_argument("--version", required=True, help="version label, e.g. 2025修订")
    imp.add_argument("--effective", required=True, type=iso_day, metavar="YYYY-MM-DD", help="the day it takes effect")
    imp.add_argument("--status", choices=STATUSES, default=IN_FORCE, help="(default: in_force from --effective on)")
    imp.add_argument("--supersedes", metavar="VERSION",
                     help="the version it replaces (default: the one in force the day before; `none` for none)")
    imp.add_argument("--doc-number", default="", help="document number, e.g. 法释〔2025〕5号 or 主席令第五十号")
    imp.add_argument("--promulgated", type=iso_day, metavar="YYYY-MM-DD", help="promulgation date")
    imp.add_argument("--force", action="store_true", help="replace a text of the same law and version you imported")
    imp.set_defaults(handler=_import)

    ls = cmds.add_parser("list", help="every text with its version, dates and status", description="every text with its version, dates and status", formatter_class=RichHelpFormatter)
    ls.add_argument("--as-of", type=iso_day, metavar="YYYY-MM-DD", help="statuses on this date (default: today)")
    ls.set_defaults(handler=_list)

    show = cmds.add_parser("show", help="a law's versions, or one article with its validity", description="a law's versions, or one article with its validity", formatter_class=RichHelpFormatter)
    show.add_argument("law", metavar="LAW")
    show.add_argument("article", nargs="?", metavar="ARTICLE", help="e.g. 11, 十一, 第十条之一")
    show.add_argument("--version", help="a version other than the one in force (e.g. 2019修正)")
    show.add_argument("--as-of", type=iso_day, metavar="YYYY-MM-DD", help="the version in force on this date")
    show.set_defaults(handler=_show)

    st = cmds.add_parser("status", help="your to-do list: superseded, unverified or old texts",
                         formatter_class=RichHelpFormatter,
                         description="Texts to review: superseded or repealed ones (and whether the store holds their "
                         "replacement), unverified ones, and those in effect for longer than --older-than years "
                         "(a revision may have come since). Exit 0 either way.")
    st.add_argument("--older-than", type=float, default=10.0, metavar="YEARS", help="(default: 10)")
    st.set_defaults(handler=_status)

    rm = cmds.add_parser("remove", help="remove a text you imported (and the status changes it made)", description="remove a text you imported (and the status changes it made)",
                         formatter_class=RichHelpFormatter)
    rm.add_argument("law", metavar="KEY|LAW", help="the key `list` shows (user-…), or the law's title with --version")
    rm.add_argument("--version")
    rm.set_defaults(handler=_remove)

    ex = cmds.add_parser("export", help="every article with its version and validity, as JSONL", description="every article with its version and validity, as JSONL",
                         formatter_class=RichHelpFormatter)
    ex.add_argument("out", type=Path, metavar="OUT.jsonl")
    ex.add_argument("--current-only", action="store_true", help="only texts in force today")
    ex.add_argument("--force", action="store_true", help="overwrite OUT")
    ex.set_defaults(handler=_export)


def _status_style(status: str) -> str:
    return {IN_FORCE: "green", SUPERSEDED: "yellow", UNVERIFIED: "magenta"}.get(status, "red")


def _list(args: argparse.Namespace) -> int:
    s, day = store(), args.as_of or date.today()
    table = Table(title=f"statute store: {len(s.documents)} texts, statuses reviewed {s.as_of}, on {day}")
    for col in ("key", "law", "version", "effective", "status", "articles", "origin"):
        table.add_column(col, overflow="fold")
    for d in s.documents:
        status = d.status_on(day)
        table.add_row(d.key, d.short, d.version, str(d.effective or "?"), f"[{_status_style(status)}]{status}[/]",
                      str(len(s.articles_of.get(d.key, ()))), d.origin)
    console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    from ecmiip.core.citations import close_titles, lookup, resolve_law, validity_note

    s, day = store(), args.as_of or date.today()
    if args.article:
        article = lookup(args.law, args.article, as_of=day, version=args.version)
        console.print(f"[bold]{article.citation}[/]（{article.version}）", highlight=False)
        console.print(article.text, highlight=False, markup=False)
        console.print(validity_note(article, day), highlight=False, style=None if article.doc.in_force_on(day) else "yellow")
        return 0
    title = resolve_law(args.law)
    if title is None:
        close = "、".join(close_titles(args.law)) or "none"
        raise InputError(f"the store holds no law named {args.law!r} (close: {close})")
    for d in s.by_law[title]:
        console.print(f"[bold]《{d.law}》[/] {d.describe(day)}", highlight=False)
        console.print(f"  {len(s.articles_of.get(d.key, ()))} articles; {d.origin}; status basis: {d.status_basis}",
                      highlight=False, style="dim")
        for k, v in d.source:
            console.print(f"  {k}: {v}", highlight=False, style="dim")
    return 0


def _status(args: argparse.Namespace) -> int:
    s, today = store(), date.today()
    rows = []
    for d in s.documents:
        status = d.status_on(today)
        if status in (SUPERSEDED, "repealed"):
            current = s.current(d.law, today)
            todo = f"current text in store: {current.version}" if current else \
                f"import the current text: ecmiip statutes import FILE --law " \
                f"{d.superseded_by.law if d.superseded_by else d.law} --version " \
                f"{d.superseded_by.version if d.superseded_by else 'VERSION'} --effective " \
                f"{d.superseded_by.effective if d.superseded_by and d.superseded_by.effective else 'YYYY-MM-DD'}"
            if current:
                continue  # history, already replaced
            rows.append((d, status, todo))
        elif status == UNVERIFIED or "reported" in d.status_basis:
            rows.append((d, status, "check its validity against the official database"))
        elif d.effective and (today - d.effective).days > args.older_than * 365.25:
            rows.append((d, status, f"in effect since {d.effective}: check whether it has been revised since"))
    console.print(f"statuses last reviewed {s.as_of} ({(today - s.as_of).days} days ago); shipped texts as of {s.snapshot}",
                  highlight=False)
    table = Table(title=f"{len(rows)} texts to review")
    for col in ("law", "version", "status", "to do"):
        table.add_column(col, overflow="fold")
    for d, status, todo in rows:
        table.add_row(d.short, d.version, f"[{_status_style(status)}]{status}[/]", todo)
    console.print(table)
    return 0


def _import(args: argparse.Namespace) -> int:
    from ecmiip.core.user_statutes import import_text

    result = import_text(args.file, args.law, args.version, args.effective, status=args.status,
                         supersedes=args.supersedes, doc_number=args.doc_number, promulgated=args.promulgated,
                         force=args.force)
    d, r = result.document, result.report
    for gap in r.gaps:
        console.print(f"[yellow]numbering[/] {args.file}: {gap}", highlight=False)
    for label, line in r.duplicates:
        console.print(f"[yellow]duplicate[/] {args.file}:{line}: {label} again (the first one is kept)", highlight=False)
    for line, text in r.unparsed:
        console.print(f"[yellow]not imported[/] {args.file}:{line}: {text[:60]}", highlight=False)
    console.print(f"[green]imported[/] 《{d.law}》（{d.version}）: {len(r.articles)} articles, {d.validity(date.today())}; "
                  f"key {d.key}", highlight=False)
    for old in result.superseded:
        console.print(f"  《{old.law}》（{old.version}） is now superseded from {old.superseded_on}", highlight=False)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ecmiip.core.user_statutes import remove

    rec = remove(args.law, args.version)
    console.print(f"[green]removed[/] 《{rec['law']}》（{rec['version']}） ({rec['file']})", highlight=False)
    return 0


def _export(args: argparse.Namespace) -> int:
    from ecmiip.core.outputs import refuse_existing, write_text_atomic

    refuse_existing([args.out], args.force)
    s, today = store(), date.today()
    articles = s.current_articles(today) if args.current_only else s.articles
    lines = [json.dumps({"law": a.law, "version": a.version, "article": a.article, "chapter": a.chapter,
                         "section": a.section, "text": a.text, "effective": a.doc.effective and a.doc.effective.isoformat(),
                         "status": a.doc.status_on(today), "superseded_on": a.doc.superseded_on and a.doc.superseded_on.isoformat(),
                         "origin": a.doc.origin}, ensure_ascii=False) for a in articles]
    write_text_atomic(args.out, "\n".join(lines) + "\n")
    console.print(f"[green]exported[/] {len(lines)} articles to {args.out}", highlight=False)
    return 0
