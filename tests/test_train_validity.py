"""Training data and statute validity: QA pairs and stage-1 pre-training skip texts no longer in force
unless asked to keep them (then labelled with version and status), every QA pair records its source
version, no pair cites a superseded article as current, and hardness gives old texts the softest level."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import pytest

from ecmiip.cli import main
from ecmiip.core.citations import SUPERSEDED, verify_citations
from ecmiip.core.errors import InputError
from ecmiip.core.paths import STATUTES_DIR
from ecmiip.core.statutes import all_articles, current_articles, store
from ecmiip.train.hardness import HardnessConfig, config_from_mapping, label
from ecmiip.train.mipld import SAMPLES_DIR, Record, load_records
from ecmiip.train.pretrain import stage1_records, stage1_text
from ecmiip.train.qa import build_pairs, input_records, select_records
from ecmiip.train.qa_citations import versioned_citations
from ecmiip.train.qa_norms import quote_depths
from ecmiip.train.qa_statute_context import UNKNOWN_VERSION_NOTE
from ecmiip.train.recipe import load_recipe

SAMPLE_FILES = sorted(SAMPLES_DIR.glob("*.jsonl"))
AUCL = "中华人民共和国反不正当竞争法"  # its shipped 2019 text is superseded (2025-10-15)
AUCL_2019 = STATUTES_DIR / "anti_unfair_competition_law_2019.jsonl"
PATENT_LAW = STATUTES_DIR / "patent_law_2020.jsonl"
OLD = ("superseded", "repealed")


def _texts(line: dict) -> list[str]:
    """The question and the assistant's content (reasoning included) of one output line."""
    return [m["content"] for m in line["messages"][1:]]


def _stale(text: str, quoted: bool = False) -> list[str]:
    """Citations that mean a text no longer in force without writing its version: outside quotation marks
    (a quoted article stays verbatim), or ``quoted`` inside them."""
    depths = quote_depths(text)
    return [v.text for v in verify_citations(text) if v.status == SUPERSEDED and v.citation.version is None
            and bool(depths[v.citation.span[0]]) == quoted]


def _not_current_keys() -> set[str]:
    today = date.today()
    return {d.key for d in store().documents if not d.in_force_on(today)}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[dict], str]:
    """``ecmiip data build-qa builtin train/samples/*.jsonl``: its lines and what it printed."""
    out = tmp_path_factory.mktemp("qa") / "qa.jsonl"
    err = io.StringIO()  # the command's table and notes go to stderr
    with contextlib.redirect_stderr(err):
        assert main(["data", "build-qa", "builtin", *map(str, SAMPLE_FILES), "--out", str(out),
                     "--reasoning-share", "0"]) == 0
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()], err.getvalue()


# ---------------------------------------------------------------- build-qa


def test_build_qa_skips_superseded_texts_and_says_so(built):
    lines, printed = built
    old = _not_current_keys()
    assert len(old) >= 5  # 2019 反不正当竞争法, 2014 植物新品种保护条例, three IP-crime interpretations
    n_old = len(all_articles()) - len(current_articles())
    statute = [x for x in lines if x["source"]["kind"] == "statute"]
    assert len(statute) == 2 * len(current_articles())
    assert len(lines) == len(statute) + 70  # the samples' 22 records give 70 pairs
    assert all(x["source"]["status"] == "in_force" for x in statute)
    assert not any(x["source"]["law"] == AUCL for x in statute)
    assert f"skipped {n_old} statute article(s)" in " ".join(printed.split())


def test_no_pair_cites_an_unversioned_superseded_article(built):
    lines, _ = built
    checked = 0
    for line in lines:
        for text in _texts(line):
            assert _stale(text) == [], line["id"]
            # a quoted article keeps its own words; a note after it names the version they mean
            assert not _stale(text, quoted=True) or "（注：" in text, line["id"]
            checked += len(verify_citations(text))
    assert checked > 5000
    # the in-force 2022 interpretation quotes the 2019 law's numbering: verbatim, and the note says so
    interp = next(x for x in lines if x["id"].startswith("statute/最高人民法院关于适用《中华人民共和国反不正当竞争法》")
                  and x["source"]["article"] == "第一条")
    answer = interp["messages"][2]["content"]
    assert "反不正当竞争法第二条" in answer and "指该法2019修正文本的条文" in answer


def test_every_statute_pair_records_its_version_and_effective_date(built):
    lines, _ = built
    pair = next(x for x in lines if x["id"] == "statute/中华人民共和国专利法（2020修正）/第十一条/meaning")
    assert pair["source"] == {"kind": "statute", "law": "中华人民共和国专利法", "version": "2020修正",
                              "article": "第十一条", "effective": "2021-06-01", "status": "in_force",
                              "role": "substantive", "template": "statute-meaning"}
    assert pair["messages"][2]["content"].endswith("（以上依据2020修正文本，自2021-06-01起施行。）")
    for line in lines:
        if line["source"]["kind"] == "statute":
            assert line["source"]["effective"], line["id"]
            assert "法律可能已经修改" not in line["messages"][2]["content"], line["id"]


def test_include_superseded_keeps_old_texts_labelled(tmp_path):
    out = tmp_path / "qa.jsonl"
    assert main(["data", "build-qa", "builtin", "--out", str(out), "--include-superseded", "--cot-ratio", "0",
                 "--reasoning-share", "0"]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2 * len(all_articles())
    old = [x for x in lines if x["source"]["status"] in OLD]
    assert len(old) == 2 * (len(all_articles()) - len(current_articles()))
    for line in lines:
        for text in _texts(line):
            assert _stale(text) == [], line["id"]
    meaning = next(x for x in old if x["id"] == f"statute/{AUCL}（2019修正）/第九条/meaning")
    assert meaning["source"] == {"kind": "statute", "law": AUCL, "version": "2019修正", "article": "第九条",
                                 "effective": "2019-04-23", "status": "superseded",
                                 "role": "substantive", "template": "statute-meaning"}
    question, answer = _texts(meaning)
    assert question.startswith(f"《{AUCL}》（2019修正）第九条")
    assert answer.endswith("（以上依据2019修正文本，自2019-04-23起施行，已于2025-10-15被取代，不是现行有效的条文；请以现行文本为准。）")
    scenario = next(x for x in old if x["id"] == f"statute/{AUCL}（2019修正）/第九条/scenario")
    assert "2019-04-23起、2025-10-15之前" in _texts(scenario)[0]
    reported = next(x for x in old if x["source"]["law"] == "中华人民共和国植物新品种保护条例")
    assert "据报道已于2025-06-01被取代" in _texts(reported)[1]


def test_a_superseded_file_is_skipped_unless_kept():
    records, skipped = input_records([str(AUCL_2019), str(PATENT_LAW)])
    assert {r.data["law"] for r in records} == {"中华人民共和国专利法"} and len(skipped) == 33
    records, skipped = input_records([str(AUCL_2019)], include_superseded=True)
    assert len(records) == 33 and not skipped
    # build_pairs applies the same rule to records however they were read (ecmiip build reads files)
    loaded = load_records([AUCL_2019, PATENT_LAW])
    assert {p.source["law"] for p in build_pairs(loaded, cot_ratio=0)} == {"中华人民共和国专利法"}
    assert len(build_pairs(loaded, cot_ratio=0, include_superseded=True)) == 2 * len(loaded)
    with pytest.raises(InputError, match="file not found"):
        input_records(["builtin", "no-such.jsonl"])


def test_validity_is_judged_on_the_day_of_the_build():
    before = date(2025, 1, 1)  # the 2019 law was the law then
    records, _ = input_records(["builtin"], as_of=before)
    assert any(r.data["law"] == AUCL for r in records)
    aucl = [r for r in records if r.data["law"] == AUCL and r.data["article"] == "第九条"]
    pairs = build_pairs(aucl, cot_ratio=0, as_of=before)
    assert all(p.source["status"] == "in_force" for p in pairs)
    assert pairs[0].question.startswith(f"《{AUCL}》第九条")  # current then: no version needed
    kept, skipped = select_records(aucl, as_of=date(2026, 1, 1))
    assert not kept and skipped == aucl


def test_a_statute_the_store_lacks_keeps_the_generic_note():
    rec = Record("statute", {"law": "示例省知识产权保护条例", "version": "2024", "article": "第一条",
                             "text": "为了加强知识产权保护，制定本条例。"})
    pairs = build_pairs([rec], cot_ratio=0)
    assert pairs and all(p.source["status"] is None and p.source["effective"] is None for p in pairs)
    assert pairs[0].answer.endswith(UNKNOWN_VERSION_NOTE.format(version="2024年"))


def test_a_record_citing_an_old_article_unversioned_gets_the_version_written():
    # Validation refuses such a record today; one checked before the law changed can still reach build_pairs.
    rec = Record("knowledge", {
        "id": "k-old", "right_type": "商业秘密", "concept": "商业秘密的定义",
        "related_articles": [f"《{AUCL}》第九条", "《中华人民共和国专利法》第十一条"],
        "analysis": "依照《反不正当竞争法》第九条第四款和第十条，商业秘密是指不为公众所知悉的商业信息。",
    })
    pairs = build_pairs([rec], cot_ratio=1)
    assert len(pairs) == 2
    for p in pairs:
        for text in (p.question, p.assistant_content()):
            assert _stale(text) == [], p.id
    basis = next(p for p in pairs if p.id.endswith("/basis"))
    assert f"《{AUCL}》（2019修正）第九条：“经营者不得实施下列侵犯商业秘密的行为" in basis.answer
    assert "（注：《反不正当竞争法》（2019修正）第九条2025-10-15起已被" in basis.answer
    assert "《中华人民共和国专利法》第十一条：“" in basis.answer  # current law is cited as it was


def test_versioned_citations_writes_the_version_once():
    text = "依照《反不正当竞争法》第九条、第十条，反不正当竞争法第六条和《中华人民共和国专利法》第十一条。"
    got = versioned_citations(text)
    assert got == ("依照《反不正当竞争法》（2019修正）第九条、第十条，反不正当竞争法（2019修正）第六条"
                   "和《中华人民共和国专利法》第十一条。")
    assert versioned_citations(got) == got
    assert versioned_citations(text, as_of=date(2025, 1, 1)) == text


# ---------------------------------------------------------------- the user's store


@pytest.fixture
def user_store(tmp_path, monkeypatch):
    """A user store holding a (fictitious, two-article) 2025 text of the 反不正当竞争法, in force."""
    folder = tmp_path / "home" / "statutes"
    folder.mkdir(parents=True)
    lines = [{"law": AUCL, "version": "2025修订", "chapter": "第一章 总则", "article": label_,
              "text": text} for label_, text in (("第一条", "为了促进社会主义市场经济健康发展，制定本法。"),
                                                  ("第九条", "经营者不得实施侵犯商业秘密的行为。"))]
    (folder / "user-aucl.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                                            encoding="utf-8")
    manifest = {"documents": [{"file": "user-aucl.jsonl", "law": AUCL, "version": "2025修订",
                               "effective": "2025-10-15", "status": "in_force"}], "overrides": {}}
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path / "home"))
    yield folder
    monkeypatch.undo()
    store()  # back to the shipped store


def test_builtin_includes_the_users_texts(user_store, tmp_path):
    records, _ = input_records(["builtin"])
    new = [r for r in records if r.data["law"] == AUCL]
    assert [(r.data["version"], r.data["article"]) for r in new] == [("2025修订", "第一条"), ("2025修订", "第九条")]
    pairs = build_pairs(new, cot_ratio=0)
    assert {p.source["status"] for p in pairs} == {"in_force"}
    assert pairs[0].source["effective"] == "2025-10-15"
    # an unversioned citation now means the current text: nothing to write
    assert versioned_citations(f"《{AUCL}》第九条") == f"《{AUCL}》第九条"
    recipe = _recipe(tmp_path)
    assert sum(r.get("law") == AUCL and r.get("version") == "2025修订" for r in stage1_records(recipe)) == 2


# ---------------------------------------------------------------- stage-1 pre-training


def _recipe(tmp_path: Path, extra: str = ""):
    path = tmp_path / "recipe.yaml"
    path.write_text(f"base: ''\ndata:\n  statutes: builtin\n{extra}"
                    f"  knowledge: ['{SAMPLES_DIR / 'knowledge.jsonl'}']\n"
                    f"  exemptions: ['{SAMPLES_DIR / 'exemptions.jsonl'}']\n", encoding="utf-8")
    return load_recipe(path)


def test_stage1_takes_current_texts_only_by_default(tmp_path):
    records = stage1_records(_recipe(tmp_path))
    statutes = [r for r in records if r["kind"] == "statute"]
    assert len(statutes) == len(current_articles())
    assert {r["status"] for r in statutes} == {"in_force"}
    assert len(records) - len(statutes) == 15  # 7 knowledge + 8 exemption records
    assert not any(r["law"] == AUCL for r in statutes)
    assert load_recipe("tiny-cpu").data.include_superseded is False


def test_stage1_with_history_labels_old_texts_and_softens_them(tmp_path):
    records = stage1_records(_recipe(tmp_path, "  include_superseded: true\n"))
    statutes = [r for r in records if r["kind"] == "statute"]
    assert len(statutes) == len(all_articles())
    art9 = next(r for r in statutes if r["law"] == AUCL and r["article"] == "第九条")
    assert art9["status"] == "superseded"
    assert stage1_text(art9).startswith(f"《{AUCL}》（2019修正，已于2025-10-15被取代）第九条：经营者不得实施")
    assert label(art9).level == "L4"
    patent = next(r for r in statutes if r["law"] == "中华人民共和国专利法" and r["article"] == "第十一条")
    assert stage1_text(patent).startswith("《中华人民共和国专利法》第十一条：发明和实用新型专利权被授予后")
    assert label(patent).level == "L1"
    for r in statutes:
        if r["status"] in OLD:
            assert "已于" in stage1_text(r) and label(r).level == "L4", r["law"]


def test_stage1_statute_files_drop_old_texts_too(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(f"base: ''\ndata:\n  statutes: ['{AUCL_2019}', '{PATENT_LAW}']\n", encoding="utf-8")
    records = stage1_records(load_recipe(path))
    assert {r["law"] for r in records} == {"中华人民共和国专利法"}


def test_recipe_include_superseded_must_be_a_boolean(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("base: x\ndata: {include_superseded: 'yes'}\n", encoding="utf-8")
    with pytest.raises(InputError, match="data.include_superseded = 'yes' is not a bool"):
        load_recipe(path)


# ---------------------------------------------------------------- hardness


def _aucl_record(**extra) -> dict:
    a = next(a for a in all_articles() if a.law == AUCL and a.article == "第九条")
    return {"kind": "statute", "law": a.law, "version": a.version, "article": a.article, "text": a.text, **extra}


def test_a_superseded_statute_gets_the_softest_level_with_the_reason():
    h = label(_aucl_record())
    assert (h.level, h.alpha_hard) == ("L4", 0.1)
    assert h.reasons[0].startswith("article of a law or regulation")
    assert f"superseded text: 《{AUCL}》（2019修正） not in force since 2025-10-15" in h.reasons[-1]
    # on a day it was the law, it is L1 like any law
    assert label(_aucl_record(), as_of=date(2025, 1, 1)).level == "L1"


def test_a_status_field_marks_a_text_the_store_does_not_hold():
    rec = {"kind": "statute", "law": "示例省知识产权保护条例", "version": "2010", "article": "第一条",
           "text": "侵犯知识产权的，由知识产权管理部门责令停止侵权，没收违法所得。"}  # a rule (issue 15: a purpose clause is L3)
    assert label(rec).level == "L1"
    h = label({**rec, "status": "repealed"})
    assert h.level == "L4" and "repealed text" in h.reasons[-1]
    # the store wins when it says the text is no longer in force
    assert label(_aucl_record(status="in_force")).level == "L4"


def test_superseded_level_is_configurable():
    assert label(_aucl_record(), HardnessConfig(superseded_level="L3")).level == "L3"
    assert label(_aucl_record(), config_from_mapping({"superseded_level": ""})).level == "L1"
    with pytest.raises(InputError, match="superseded_level"):
        config_from_mapping({"superseded_level": "L9"})


def test_hardness_command_softens_a_superseded_file(tmp_path):
    out = tmp_path / "labelled.jsonl"
    assert main(["data", "hardness", str(AUCL_2019), str(out)]) == 0
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 33 and {r["hardness"] for r in rows} == {"L4"}
    assert all("not in force since 2025-10-15" in r["hardness_reasons"][-1] for r in rows)
