"""Bad input to the statute store's commands and the top-level ``ecmiip``: one line naming the culprit,
no traceback, nothing outside the output folder touched (the harness: tests/harness.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import Case, check

DATA = Path(__file__).parent / "data" / "statutes"
IMPORT = ("statutes", "import")
GOOD = ("--law", "中华人民共和国示例法", "--version", "2021修正", "--effective", "2022-01-01")


def _write(name: str, content: str | bytes):
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else lambda c: path.write_text(c, encoding="utf-8"))(content)
    return setup


def _copy(name: str, as_name: str | None = None):
    return _write(as_name or name, (DATA / name).read_bytes())


def _user_store(manifest: str | bytes, files: dict[str, str] | None = None):
    def setup(tmp: Path) -> None:
        folder = tmp / "home" / "statutes"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
        for name, text in (files or {}).items():
            (folder / name).write_text(text, encoding="utf-8")
    return setup


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


_RECORD = {"file": "user-x.jsonl", "law": "中华人民共和国示例法", "version": "2021修正", "status": "in_force",
           "effective": "2022-01-01"}

CASES = [
    # statutes import: the file
    Case("import-missing-file", (*IMPORT, "{tmp}/nope.md", *GOOD), "nope.md"),
    Case("import-doc-suffix", (*IMPORT, "{tmp}/law.doc", *GOOD), ".doc", setup=_write("law.doc", "第一条 x")),
    Case("import-no-suffix", (*IMPORT, "{tmp}/law", *GOOD), "(no suffix)", setup=_write("law", "第一条 x")),
    Case("import-garbage", (*IMPORT, "{tmp}/garbage.txt", *GOOD), "no recognisable article",
         setup=_copy("garbage.txt")),
    Case("import-empty", (*IMPORT, "{tmp}/empty.md", *GOOD), "empty.md", setup=_write("empty.md", "")),
    Case("import-binary", (*IMPORT, "{tmp}/bin.txt", *GOOD), "bin.txt", setup=_write("bin.txt", b"\x00\x01\xff" * 50)),
    Case("import-corrupt-docx", (*IMPORT, "{tmp}/law.docx", *GOOD), "law.docx", setup=_write("law.docx", b"PK\x03\x04junk")),
    Case("import-not-zip-docx", (*IMPORT, "{tmp}/law.docx", *GOOD), "law.docx", setup=_write("law.docx", "第一条 文本")),
    Case("import-damaged-pdf", (*IMPORT, "{tmp}/law.pdf", *GOOD), "law.pdf", setup=_write("law.pdf", b"%PDF-1.4 junk")),
    Case("import-directory", (*IMPORT, "{tmp}/adir.md", *GOOD), "adir.md",
         setup=lambda tmp: (tmp / "adir.md").mkdir()),
    # statutes import: the options
    Case("import-bad-date", (*IMPORT, "{tmp}/l.md", "--law", "示例法", "--version", "2021", "--effective", "2022/01/01"),
         "YYYY-MM-DD", setup=_copy("sample_law.md", "l.md")),
    Case("import-impossible-date", (*IMPORT, "{tmp}/l.md", "--law", "示例法", "--version", "2021", "--effective",
                                    "2022-02-30"), "2022-02-30", setup=_copy("sample_law.md", "l.md")),
    Case("import-no-effective", (*IMPORT, "{tmp}/l.md", "--law", "示例法", "--version", "2021"), "--effective",
         setup=_copy("sample_law.md", "l.md")),
    Case("import-bad-status", (*IMPORT, "{tmp}/l.md", *GOOD, "--status", "valid"), "valid",
         setup=_copy("sample_law.md", "l.md")),
    Case("import-not-a-title", (*IMPORT, "{tmp}/l.md", "--law", "我的文件", "--version", "2021", "--effective",
                                "2022-01-01"), "我的文件", setup=_copy("sample_law.md", "l.md")),
    Case("import-blank-version", (*IMPORT, "{tmp}/l.md", "--law", "示例法", "--version", " ", "--effective",
                                  "2022-01-01"), "--version", setup=_copy("sample_law.md", "l.md")),
    Case("import-unknown-supersedes", (*IMPORT, "{tmp}/l.md", "--law", "专利法", "--version", "2030修正", "--effective",
                                       "2030-01-01", "--supersedes", "1999修正"), "1999修正",
         setup=_copy("sample_law.md", "l.md")),
    Case("import-over-a-shipped-text", (*IMPORT, "{tmp}/l.md", "--law", "专利法", "--version", "2020修正", "--effective",
                                        "2021-06-01", "--force"), "shipped", setup=_copy("sample_law.md", "l.md")),
    # a damaged user store
    Case("store-manifest-not-json", ("statutes", "list"), "manifest.json", setup=_user_store(b"{bad")),
    Case("store-manifest-not-utf8", ("statutes", "list"), "manifest.json", setup=_user_store(b"\xff\xfe\x00{")),
    Case("store-manifest-bad-status", ("statutes", "list"), "status",
         setup=_user_store(json.dumps({"documents": [{**_RECORD, "status": "valid"}]}), {"user-x.jsonl": ""})),
    Case("store-manifest-bad-date", ("statutes", "list"), "effective",
         setup=_user_store(json.dumps({"documents": [{**_RECORD, "effective": "yesterday"}]}), {"user-x.jsonl": ""})),
    Case("store-manifest-missing-field", ("statutes", "list"), "law",
         setup=_user_store(json.dumps({"documents": [{"file": "user-x.jsonl", "version": "1", "status": "in_force"}]}))),
    Case("store-text-missing", ("statutes", "list"), "user-x.jsonl",
         setup=_user_store(json.dumps({"documents": [_RECORD]}))),
    Case("store-text-bad-line", ("statutes", "list"), "user-x.jsonl:1",
         setup=_user_store(json.dumps({"documents": [_RECORD]}), {"user-x.jsonl": "{not json\n"})),
    Case("store-manifest-a-list", ("statutes", "list"), "manifest.json", setup=_user_store("[1, 2]")),
    Case("store-record-not-an-object", ("statutes", "list"), "documents[0]",
         setup=_user_store(json.dumps({"documents": ["x"]}))),
    Case("store-successor-malformed", ("statutes", "list"), "superseded_by",
         setup=_user_store(json.dumps({"documents": [{**_RECORD, "superseded_by": "2025"}]}), {"user-x.jsonl": ""})),
    Case("store-nested-manifest", ("statutes", "list"), "manifest.json", setup=_user_store(_nested(100000))),
    # show / remove / export
    Case("show-unknown-law", ("statutes", "show", "知识产权大全"), "知识产权大全"),
    Case("show-beyond-the-law", ("statutes", "show", "专利法", "999"), "九百九十九"),
    Case("show-bad-article", ("statutes", "show", "专利法", "十一b"), "十一b"),
    Case("show-unknown-version", ("statutes", "show", "专利法", "11", "--version", "1999"), "1999"),
    Case("remove-unknown-key", ("statutes", "remove", "user-000000000000"), "user-000000000000"),
    Case("remove-shipped", ("statutes", "remove", "专利法", "--version", "2020修正"), "shipped"),
    Case("export-exists", ("statutes", "export", "{tmp}/out/store.jsonl"), "--force",
         setup=_write("out/store.jsonl", "keep me")),
    Case("export-into-a-file-as-folder", ("statutes", "export", "{tmp}/afile/x.jsonl"), "afile",
         setup=_write("afile", "a file, not a folder")),
    Case("status-bad-age", ("statutes", "status", "--older-than", "many"), "many"),
    # the top level
    Case("unknown-command", ("frobnicate",), "frobnicate"),
    Case("no-command", (), "COMMAND"),
    Case("pull-not-an-id", ("pull", "../../etc"), "../../etc"),
]


def test_enough_cases():
    assert len(CASES) >= 35 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
