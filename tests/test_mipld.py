"""MIPLD data tools: the schema accepts the shipped data, reports every error where it is, counts
right, and the hardness labeller puts statutes, interpretations, holdings and doctrine where they belong."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from ecmiip.cli import main
from ecmiip.core.citations import check_citation, parse_citation
from ecmiip.core.errors import InputError
from ecmiip.core.numerals import chinese_to_int, int_to_chinese
from ecmiip.core.paths import STATUTES_DIR
from ecmiip.core.statutes import all_articles
from ecmiip.train.hardness import HardnessConfig, config_from_mapping, label, load_config, statute_document
from ecmiip.train.mipld import (
    SAMPLES_DIR,
    Record,
    citations_of,
    load_records,
    stats,
    validate_file,
)

SAMPLE_FILES = sorted(SAMPLES_DIR.glob("*.jsonl"))
CORPUS_FILES = sorted(STATUTES_DIR.glob("*.jsonl"))


def _sample(record_id: str) -> dict:
    for r in load_records(SAMPLE_FILES):
        if r.data.get("id") == record_id:
            return dict(r.data)
    raise KeyError(record_id)


def _write_jsonl(path: Path, lines: list) -> Path:
    """Lines given as str are written verbatim (to break them); anything else as JSON."""
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- shipped data


def test_shipped_statute_corpus_validates_without_a_single_problem():
    assert len(CORPUS_FILES) >= 46
    for path in CORPUS_FILES:
        assert validate_file(path) == [], path
    assert sum(1 for r in load_records(CORPUS_FILES) if r.kind == "statute") == len(all_articles())


def test_samples_validate_and_cover_every_kind():
    for path in SAMPLE_FILES:
        assert validate_file(path) == [], path
    counts = stats(load_records(SAMPLE_FILES)).per_kind
    assert counts["case"] >= 6 and counts["knowledge"] >= 6 and counts["exemption"] >= 6
    assert (SAMPLES_DIR / "README.md").read_text(encoding="utf-8").count("format samples") >= 1


def test_every_article_the_samples_cite_exists_in_the_corpus():
    known = {(a.law, a.article) for a in all_articles()}
    records = load_records(SAMPLE_FILES)
    cited = [c for r in records for c in citations_of(r)]
    assert len(cited) > 40
    for c in cited:
        assert (c.resolved_law, c.article) in known, c


def test_case_samples_read_as_judgments():
    for r in load_records([SAMPLES_DIR / "cases.jsonl"]):
        full = r.data["full_text"]
        for heading in ("经审理查明", "本院认为", "依照", "之规定", "判决如下"):
            assert heading in full, (r.data["id"], heading)


# ---------------------------------------------------------------- errors


def _broken_file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """A file with one problem per line (two on line 12); returns it and line → expected field."""
    case = _sample("sample-case-001")
    knowledge = _sample("sample-knowledge-001")
    no_analysis = {k: v for k, v in knowledge.items() if k != "analysis"}
    lines = [
        knowledge,  # 1: fine
        '{"kind": "case", "court_level": ',  # 2: malformed JSON
        "[1, 2, 3]",  # 3: not an object
        {**knowledge, "kind": "opinion"},  # 4: unknown kind
        no_analysis,  # 5: missing field
        {**case, "plaintiffs": "甲公司"},  # 6: wrong type
        {**case, "date": "2023/06/15"},  # 7: bad date format
        {**knowledge, "related_articles": ["《中华人民共和国专利法》第九十九条"]},  # 8: beyond the law
        "",  # 9: blank, skipped
        {**knowledge, "related_articles": ["专利法第十一条"]},  # 10: not 《法名》第X条
        {**knowledge, "concept": "  "},  # 11: empty text
        {**case, "date": "2023-02-30", "court_level": "区法院"},  # 12: not a date, bad choice
        {"law": "中华人民共和国专利法", "version": "2020修正", "article": "第11条", "text": "x"},  # 13: label
        {"text": "一条没有类型的记录"},  # 14: no kind, not a statute
    ]
    expected = {2: "record", 3: "record", 4: "kind", 5: "analysis", 6: "plaintiffs", 7: "date",
                8: "related_articles[0]", 10: "related_articles[0]", 11: "concept", 12: "date",
                13: "article", 14: "kind"}
    return _write_jsonl(tmp_path / "broken.jsonl", lines), expected


def test_every_error_is_reported_at_its_line(tmp_path):
    path, expected = _broken_file(tmp_path)
    errors = validate_file(path)
    located = {(e.line, e.field) for e in errors}
    for line, field in expected.items():
        assert (line, field) in located, (line, field, [str(e) for e in errors])
    assert (12, "court_level") in located  # a second error on the same line is reported too
    assert not any(e.line in (1, 9) for e in errors)
    assert all(not e.is_warning for e in errors)
    by_line = {e.line: str(e) for e in errors}
    assert by_line[2].startswith(f"{path}:2: record: malformed JSON")
    assert "expected a list of strings, got string" in by_line[6]
    assert "bad date format '2023/06/15'" in by_line[7]
    assert "第九十九条 is beyond 《中华人民共和国专利法》, which has 82 articles" in by_line[8]
    assert "unknown kind 'opinion'" in by_line[4]
    assert by_line[5] == f"{path}:5: analysis: missing field"


def test_load_records_refuses_a_file_with_errors(tmp_path):
    path, expected = _broken_file(tmp_path)
    with pytest.raises(InputError) as e:
        load_records([path])
    assert f"{path}:2: record" in str(e.value) and f"{path}:14: kind" in str(e.value)


def test_duplicates_and_unknown_fields(tmp_path):
    k = _sample("sample-knowledge-002")
    path = _write_jsonl(tmp_path / "dup.jsonl", [k, {**k, "anlysis": "typo"}])
    problems = {(e.line, e.field): e for e in validate_file(path)}
    assert problems[(2, "id")].reason.startswith("duplicate id 'sample-knowledge-002' (first on line 1)")
    assert problems[(2, "anlysis")].is_warning


def test_citation_rules():
    assert check_citation("《专利法》第七十五条第（二）项") == []
    assert check_citation("《专利法》第十一条第一款第二项")[0][0] == "error"  # that paragraph has no items
    assert check_citation("《反不正当竞争法》第九条")[0][0] == "error"  # superseded, version not written
    assert check_citation("《反不正当竞争法》（2019修正）第九条") == []  # the old text, deliberately
    assert check_citation("《最高人民法院关于适用〈中华人民共和国反不正当竞争法〉若干问题的解释》第二十九条") == []
    assert check_citation("《中华人民共和国著作权法》第六十八条")[0][0] == "error"
    assert check_citation("《专利法》第11条")[0][0] == "error"  # Chinese numerals, as statutes write them
    assert check_citation("《专利法》第一十一条")[0][0] == "error"
    assert check_citation("《中华人民共和国专利法》（2008修正）第九十条") == []  # another version: not checked
    assert check_citation("《中华人民共和国民事诉讼法》第五百条") == []  # not in the corpus: not checked
    severity, reason = check_citation("《民法典》第一千一百九十五条")[0]  # the corpus holds an excerpt
    assert severity == "warning" and "not checked" in reason
    assert parse_citation("《商标法》第五十七条").key == "《中华人民共和国商标法》第五十七条"


def test_chinese_numerals_round_trip_every_corpus_label():
    for n, text in [(10, "十"), (11, "十一"), (110, "一百一十"), (101, "一百零一"), (1005, "一千零五"), (1185, "一千一百八十五")]:
        assert int_to_chinese(n) == text
    for a in all_articles():
        if a.article.startswith("第"):
            for number in a.article[1:].removesuffix("条").split("条之"):
                assert int_to_chinese(chinese_to_int(number)) == number


def test_validate_command(tmp_path, capsys):
    path, expected = _broken_file(tmp_path)
    assert main(["data", "validate", str(path)]) == 1
    captured = capsys.readouterr()
    for line, field in expected.items():
        assert f"{path}:{line}: {field}: " in captured.out
    assert "error(s)" in captured.err

    assert main(["data", "validate", *map(str, SAMPLE_FILES)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "valid" in captured.err

    assert main(["data", "validate", str(tmp_path / "missing.jsonl")]) == 1
    assert "file not found" in capsys.readouterr().err


# ---------------------------------------------------------------- statistics


def test_stats_counts(tmp_path):
    k = _sample("sample-knowledge-004")  # cites 反不正当竞争法 第九条 and two SPC provisions
    e = _sample("sample-exemption-003")  # cites SPC 第十四条 and 反不正当竞争法 第九条
    statute = {"law": "中华人民共和国专利法", "version": "2020修正", "article": "第一条", "text": "十个字的条文内容啊。"}
    path = _write_jsonl(tmp_path / "mix.jsonl", [k, e, statute, {**statute, "article": "第二条", "text": "短"}])
    st = stats(load_records([path]))
    assert st.total == 4
    assert st.per_kind == {"knowledge": 1, "exemption": 1, "statute": 2}
    assert st.per_law == {"中华人民共和国专利法": 2}
    assert st.per_right_type == {"商业秘密": 2}
    assert st.per_area == {"反向工程": 1}
    assert st.articles_cited["《中华人民共和国反不正当竞争法》第九条"] == 2
    assert sum(st.articles_cited.values()) == 5 and len(st.articles_cited) == 4
    assert st.laws_cited["最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定"] == 3
    lengths = st.text_length["statute"]
    assert (lengths.count, lengths.min, lengths.max, lengths.mean) == (2, 1, 10, 5.5)
    assert st.text_length["knowledge"].max == len(k["concept"]) + 1 + len(k["analysis"])


def test_sample_stats_and_command(capsys):
    st = stats(load_records(SAMPLE_FILES))
    assert st.per_kind == {"case": 7, "knowledge": 7, "exemption": 8}
    assert main(["data", "stats", *map(str, SAMPLE_FILES), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "MIPLD records: 22" in out and "most cited articles" in out and "专利权" in out


# ---------------------------------------------------------------- hardness


def _statute(law: str, article: str = "第一条") -> Record:
    return next(r for r in load_records(CORPUS_FILES) if r.data["law"] == law and r.data["article"] == article)


def test_statute_title_is_one_signal_and_content_decides():
    # Issue 15: the title gives a prior (law +2, interpretation +1); the article's content moves it.
    h = label(_statute("中华人民共和国专利法", "第四十二条"), HardnessConfig())
    assert (h.level, h.alpha_hard) == ("L1", 1.0)
    assert any("time limit" in r for r in h.reasons)
    for law in ("最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释（二）",
                "最高人民法院关于涉网络知识产权侵权纠纷几个法律适用问题的批复"):
        first = "一" if law.endswith("批复") else "第一条"
        h = label(_statute(law, first))
        assert (h.level, h.alpha_hard) == ("L2", 0.7), law  # a rule with no hard or soft content: the title's L2
        assert "judicial interpretation" in h.reasons[0]
    # An interpretation's definition (所称…包括) is held exactly: L1 despite the title.
    h = label(_statute("最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定"))
    assert h.level == "L1" and "judicial interpretation" in h.reasons[0]
    assert any(r.startswith("definition") for r in h.reasons)
    # A State Council regulation with 规定 in its title is a regulation, not an interpretation; its
    # purpose article (为了…制定本规定) is not memorised like its rules.
    h = label(_statute("国务院关于涉外知识产权纠纷处理的规定"))
    assert h.reasons[0].startswith("article of a law or regulation") and "administrative regulation" in h.reasons[0]
    assert h.level == "L3" and any(r.startswith("purpose article") for r in h.reasons)


def test_every_corpus_article_is_levelled_by_content_or_l4_when_no_longer_in_force():
    today = date.today()
    by_title = HardnessConfig(statute_by_content=False)
    for r in load_records(CORPUS_FILES):
        doc = statute_document(r.data["law"], r.data["version"])
        spc = r.data["law"].startswith("最高人民法院")
        h = label(r)
        assert ("judicial interpretation" in h.reasons[0]) == spc, r.data["law"]
        assert h.level in (("L1", "L2", "L3") if doc.in_force_on(today) else ("L4",)), r.data["law"]
        assert any("not in force" in reason for reason in h.reasons) == (not doc.in_force_on(today))
        # statute_by_content: false keeps the levels by title (law/regulation L1, interpretation L2)
        expected = "L2" if spc else "L1"
        assert label(r, by_title).level == (expected if doc.in_force_on(today) else "L4"), r.data["law"]


def test_case_holding_is_l3_and_doctrine_l4():
    h = label(_sample("sample-case-001"))
    assert (h.level, h.alpha_hard) == ("L3", 0.4)
    assert any(r.startswith("cites") for r in h.reasons)
    h = label(_sample("sample-knowledge-002"))  # idea/expression: 通说, 利益平衡, 争议
    assert (h.level, h.alpha_hard) == ("L4", 0.1)
    assert any(r.startswith("soft markers") for r in h.reasons)


def test_signals_move_a_record_by_one_level():
    # Quantified, cited rules (patent terms) lift a knowledge record to L3.
    h = label(_sample("sample-knowledge-001"))
    assert h.level == "L3" and "raised to L3" in h.reasons[-1]
    # A case whose reasoning is all value balancing falls to L4.
    case = _sample("sample-case-003")
    soft = "本案涉及利益平衡与价值取向，理论上存在争议，通说认为应在个案中兼顾创新激励与公共利益。"
    h = label({**case, "reasoning": soft, "grounds": soft, "judgment": "驳回上诉，维持原判。", "cited_articles": []})
    assert h.level == "L4" and "lowered to L4" in h.reasons[-1]


def test_config_changes_alpha_and_rules(tmp_path):
    config = HardnessConfig(alpha_l1=0.9, alpha_l3=0.5, alpha_l4=0.2)
    assert label(_sample("sample-case-001"), config).alpha_hard == 0.5
    assert label(_sample("sample-knowledge-002"), config).alpha_hard == 0.2
    assert label(_statute("中华人民共和国商标法", "第五十七条"), config).alpha_hard == 0.9
    # Without any interpretation title pattern, an SPC interpretation is levelled as a law.
    no_interp = HardnessConfig(interpretation_titles=())
    assert label(_statute("最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释"), no_interp).level == "L1"

    yaml_path = tmp_path / "hardness.yaml"
    yaml_path.write_text("alpha_l3: 0.35\nalpha_l4: 0.05\nsoft_markers: [通说]\n", encoding="utf-8")
    loaded = load_config(yaml_path)
    assert (loaded.alpha_l3, loaded.alpha_l4, loaded.soft_markers) == (0.35, 0.05, ("通说",))
    for bad in ({"alpha_l5": 0.1}, {"alpha_l2": 1.5}, {"legal_terms": "专利"}, {"time_limit_patterns": ["("]},
                {"superseded_level": "L5"}):
        with pytest.raises(InputError):
            config_from_mapping(bad)


def test_hardness_command_writes_and_refuses_to_overwrite(tmp_path, capsys):
    src = SAMPLES_DIR / "knowledge.jsonl"
    out = tmp_path / "labelled" / "knowledge.jsonl"
    assert main(["data", "hardness", str(src), str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    originals = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(originals) == 7
    for row, orig in zip(rows, originals, strict=True):
        assert {k: row[k] for k in orig} == orig
        assert row["hardness"] in ("L3", "L4") and row["alpha_hard"] in (0.4, 0.1) and row["hardness_reasons"]
    assert validate_file(out) == []  # the output is MIPLD data too
    assert not list(out.parent.glob(".*partial"))

    before = out.read_bytes()
    assert main(["data", "hardness", str(src), str(out)]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before

    cfg = tmp_path / "h.yaml"
    cfg.write_text("alpha_l4: 0.25\n", encoding="utf-8")
    assert main(["data", "hardness", str(src), str(out), "--force", "--config", str(cfg)]) == 0
    alphas = {json.loads(line)["alpha_hard"] for line in out.read_text(encoding="utf-8").splitlines()}
    assert alphas == {0.4, 0.25}


def test_hardness_command_refuses_invalid_input(tmp_path, capsys):
    path, _ = _broken_file(tmp_path)
    out = tmp_path / "out.jsonl"
    assert main(["data", "hardness", str(path), str(out)]) == 1
    assert "errors in MIPLD data" in capsys.readouterr().err
    assert not out.exists()
