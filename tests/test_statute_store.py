"""The statute store knows each text's validity, and a newer official text the user imports replaces the
old one everywhere: citations, /law, --rag, drafting; --as-of still sees the old one before the switch."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ecmiip.chat.drafts import TEMPLATES, draft_prompt
from ecmiip.chat.rag import format_context, retrieve
from ecmiip.cli import main
from ecmiip.core import statutes
from ecmiip.core.citations import OK, SUPERSEDED, lookup, validity_note, verify_citations
from ecmiip.core.renumbering import KNOWN
from ecmiip.core.statutes import IN_FORCE, current_articles, store, user_statutes_dir

DATA = Path(__file__).parent / "data" / "statutes"
AUCL = "中华人民共和国反不正当竞争法"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _doc(law: str, version: str):
    return next(d for d in store().by_law[law] if d.version == version)


def test_shipped_statuses_and_dates():
    s = store()
    assert s.as_of == date(2026, 11, 29) and s.snapshot == date(2025, 4, 19)
    assert len(s.documents) == 50 and all(d.effective and d.status for d in s.documents)
    aucl = _doc(AUCL, "2019修正")
    assert aucl.status == SUPERSEDED and aucl.superseded_on == date(2025, 10, 15)
    assert aucl.superseded_by.version == "2025修订" and not aucl.in_force_on(date(2026, 1, 1))
    assert aucl.in_force_on(date(2024, 1, 1)) and s.current(AUCL) is None
    plants = _doc("中华人民共和国植物新品种保护条例", "2014修订")
    assert plants.superseded_on == date(2025, 6, 1) and "reported" in plants.status_basis
    assert "据报道" in plants.describe()
    crime_interps = [d for d in s.documents if "侵犯知识产权刑事案件" in d.law]
    assert len(crime_interps) == 3
    for d in crime_interps:
        assert d.superseded_on == date(2025, 4, 26) and d.superseded_by.version == "法释〔2025〕5号"
    criminal = _doc("中华人民共和国刑法", "2023修正（刑法修正案（十二））")
    assert criminal.status == IN_FORCE and criminal.total_articles == 452
    labels = [a.article for a in s.articles_of[criminal.key]]
    assert "第二百一十九条之一" in labels and len(labels) == 9
    # everything else: in force as of the snapshot, which is what the basis says, not "verified current"
    others = [d for d in s.documents if d.status == IN_FORCE]
    assert len(others) == 45 and all("no later version known" in d.status_basis for d in others)
    assert all(a.doc.in_force_on(date.today()) for a in current_articles())


def test_every_known_renumbering_points_at_the_right_text():
    s = store()
    for k in KNOWN:
        target = _doc(k.law, k.new_version)
        texts = {a.article: a.text for a in s.articles_of[target.key]}
        for old, (new, phrase) in k.moves.items():
            assert phrase in texts[new], (k.law, old, new, phrase)


def test_paragraphs_and_items_are_addressable():
    article = lookup("专利法", 75)
    first = article.paragraphs[0]
    assert len(article.paragraphs) == 1 and len(first.items) == 5 and first.items[1].startswith("（二）")
    assert len(lookup("专利法", 22).paragraphs) == 5


@pytest.mark.parametrize("name", ["sample_law.md", "sample_law.html", "docx"])
def test_import_markdown_html_and_docx(home, tmp_path, name, capsys):
    if name == "docx":
        import docx

        path = tmp_path / "示例法.docx"
        document = docx.Document()
        for line in (DATA / "sample_law.md").read_text(encoding="utf-8").splitlines():
            if line.strip():
                document.add_paragraph(line.lstrip("# "))
        document.save(path)
    else:
        path = DATA / name
    assert main(["statutes", "import", str(path), "--law", "中华人民共和国示例法", "--version", "2021修正",
                 "--effective", "2022-01-01"]) == 0
    out = capsys.readouterr().err.replace("\n", "")
    assert "imported 《中华人民共和国示例法》（2021修正）" in out
    doc = _doc("中华人民共和国示例法", "2021修正")
    assert doc.origin == "user" and dict(doc.source)["source_file"] == path.name and len(dict(doc.source)["sha256"]) == 64
    assert (user_statutes_dir() / "manifest.json").is_file() and not list(user_statutes_dir().glob(".*partial"))
    labels = [a.article for a in store().articles_of[doc.key]]
    if name == "sample_law.html":
        assert "缺第四条" in out and "duplicate" in out and "not imported" in out
    else:
        assert "第十条之一" in labels and "第十二条" in labels and "缺第十一条" in out
        assert verify_citations("《示例法》第十条之一")[0].ok
        gap = verify_citations("《示例法》第十一条")[0]  # missing from this copy: cannot be checked, not "no such"
        assert gap.status == "not_in_database" and "部分条文" in gap.reason


def test_a_garbage_file_is_refused_and_nothing_is_written(home, capsys):
    assert main(["statutes", "import", str(DATA / "garbage.txt"), "--law", "示例法", "--version", "2021修正",
                 "--effective", "2022-01-01"]) == 1
    assert "no recognisable article" in capsys.readouterr().err
    assert not user_statutes_dir().exists()
    with pytest.raises(SystemExit) as e:
        main(["statutes", "import", str(DATA / "sample_law.md"), "--law", "示例法", "--version", "2021",
              "--effective", "2022/01/01"])
    assert e.value.code == 2 and "YYYY-MM-DD" in capsys.readouterr().err


def test_a_newer_version_supersedes_the_old_one_everywhere(home, capsys):
    law = "中华人民共和国示例法"
    assert main(["statutes", "import", str(DATA / "sample_law.md"), "--law", law, "--version", "2021修正",
                 "--effective", "2022-01-01"]) == 0
    # the same version again is refused without --force
    assert main(["statutes", "import", str(DATA / "sample_law.md"), "--law", law, "--version", "2021修正",
                 "--effective", "2022-01-01"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["statutes", "import", str(DATA / "sample_law_v2.md"), "--law", "示例法", "--version", "2025修订",
                 "--effective", "2025-07-01"]) == 0
    old, new = _doc(law, "2021修正"), _doc(law, "2025修订")
    assert old.superseded_on == date(2025, 7, 1) and old.superseded_by.version == "2025修订"

    # citations: unversioned means today's text; the old one is superseded and points at the new article
    [current] = verify_citations("《示例法》第九条")
    assert current.ok and current.doc == new and "六个月" in current.article.text
    [stale] = verify_citations("《示例法》（2021修正）第八条")
    assert stale.status == SUPERSEDED and stale.current.article == "第九条" and "2025-07-01" in stale.reason
    assert "现行对应条文为《中华人民共和国示例法》（2025修订）第九条" in stale.reason
    # /law and --rag show the new text; --as-of before the switch shows the old one
    assert "六个月" in lookup("示例法", 9).text and "九个月" in lookup("示例法", 8, as_of=date(2024, 1, 1)).text
    assert "2025-07-01起施行，现行有效" in validity_note(lookup("示例法", 9))
    question = "示例标志主管部门收到申请后多长时间内完成审查？"
    found = [a for a, _ in retrieve(question, k=5) if a.law == law]
    assert found and all(a.doc == new for a in found) and "六个月" in format_context(retrieve(question, k=5))
    before = [a for a, _ in retrieve(question, k=5, as_of=date(2024, 1, 1)) if a.law == law]
    assert before and all(a.doc == old for a in before)
    assert verify_citations("《示例法》第八条", as_of=date(2024, 1, 1))[0].doc == old

    # the to-do list no longer asks for a current text; remove undoes the import and its status change
    assert main(["statutes", "status"]) == 0 and "示例法" not in capsys.readouterr().err.split("texts to review")[1]
    assert main(["statutes", "remove", "示例法", "--version", "2025修订"]) == 0
    assert _doc(law, "2021修正").status == IN_FORCE and verify_citations("《示例法》第八条")[0].ok


def _aucl_2025_fixture(path: Path) -> Path:
    """A *test fixture*, not the official 2025 text: the shipped 2019 text with one article inserted after
    第八条, so that trade secrets move from 第九条 to 第十条 as they did in the real revision."""
    arts = [a for a in store().articles if a.law == AUCL]
    lines = ["# 中华人民共和国反不正当竞争法（测试用文本）", ""]
    n = 0
    for a in arts:
        n += 1
        from ecmiip.core.numerals import int_to_chinese

        lines.append(f"第{int_to_chinese(n)}条　{a.text}")
        if a.article == "第八条":
            n += 1
            lines.append(f"第{int_to_chinese(n)}条　经营者不得利用数据和算法、技术、平台规则等，实施扰乱市场竞争秩序的行为。")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_importing_the_2025_unfair_competition_law_switches_every_consumer(home, tmp_path, capsys):
    assert verify_citations("《反不正当竞争法》第十条")[0].status != OK  # no current text before the import
    fixture = _aucl_2025_fixture(tmp_path / "反不正当竞争法2025.md")
    assert main(["statutes", "import", str(fixture), "--law", "反不正当竞争法", "--version", "2025修订",
                 "--effective", "2025-10-15"]) == 0
    assert "2019修正） is now superseded from 2025-10-15" in capsys.readouterr().err.replace("\n", "")
    [now] = verify_citations("《反不正当竞争法》第十条")
    assert now.ok and now.doc.version == "2025修订" and "商业秘密" in now.article.text
    [old] = verify_citations("《反不正当竞争法》（2019修正）第九条")
    assert old.status == SUPERSEDED and old.current.article == "第十条"  # aligned from the two texts
    [bare_old] = verify_citations("《反不正当竞争法》第三十四条")  # the 2025 fixture has 34 articles
    assert bare_old.ok
    # drafting and the system prompt follow: the NDA template now cites the current article
    prompt = draft_prompt(TEMPLATES["保密协议"], {})
    assert "《中华人民共和国反不正当竞争法》（2025修订）第十条" in prompt and "【待核对】" not in prompt
    from ecmiip.core.prompts import system_prompt

    assert "反不正当竞争法》（2019修正）已被" not in system_prompt()
    # export writes every article with its validity
    out = tmp_path / "store.jsonl"
    assert main(["statutes", "export", str(out), "--current-only"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["status"] for r in rows} == {"in_force"} and any(r["version"] == "2025修订" for r in rows)
    assert main(["statutes", "export", str(out)]) == 1  # no overwrite without --force


def test_in_force_texts_written_under_an_old_numbering_are_annotated():
    note = validity_note(lookup("专利侵权解释", 15))  # 2009: 专利法第六十九条 is today's 第七十五条
    assert "所称专利法第六十九条即现行《中华人民共和国专利法》（2020修正）第七十五条" in note
    assert "所称著作权法第二十四条即现行" in validity_note(lookup("著作权法实施条例", 24))
    assert "注" not in validity_note(lookup("专利侵权解释（二）", 31))  # written under the 2020 numbering
    context = format_context(retrieve("《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第十五条", k=1))
    assert "即现行《中华人民共和国专利法》（2020修正）第七十五条" in context


def test_a_missing_text_file_is_one_error_line_and_remove_repairs_it(home, capsys, monkeypatch):
    assert main(["statutes", "import", str(DATA / "sample_law.md"), "--law", "中华人民共和国示例法",
                 "--version", "2021修正", "--effective", "2022-01-01"]) == 0
    key = _doc("中华人民共和国示例法", "2021修正").key
    (user_statutes_dir() / f"{key}.jsonl").unlink()
    monkeypatch.setattr(statutes, "_STORE", None)  # as a new process would read it
    assert main(["statutes", "list"]) == 1
    assert f"ecmiip statutes remove {key}" in capsys.readouterr().err.replace("\n", "")
    assert main(["statutes", "remove", key]) == 0 and main(["statutes", "list"]) == 0
    assert main(["statutes", "remove", "专利法", "--version", "2020修正"]) == 1  # shipped: cannot be removed
    assert "shipped texts cannot be removed" in capsys.readouterr().err.replace("\n", "")


def test_errata_correct_the_shipped_source_where_it_departs_from_the_official_text():
    import json

    from ecmiip.core.paths import STATUTES_DIR
    from ecmiip.core.statutes import store
    errata = json.loads((STATUTES_DIR / "errata.json").read_text(encoding="utf-8"))
    assert errata and all(e["basis"] for e in errata)  # each says why
    for e in errata:
        raw = (STATUTES_DIR / e["file"]).read_text(encoding="utf-8")
        assert e["source"] in raw  # the shipped file stays as its source has it …
        article = next(a for a in store().articles if a.doc.key == e["file"][:-6] and a.article == e["article"])
        assert e["official"] in article.text and e["source"] not in article.text  # … the store reads the official text
