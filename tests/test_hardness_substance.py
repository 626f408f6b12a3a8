"""Issue 15: a statute article's hardness comes from what it says, its document's title being one signal.

A law's purpose, competence and effective-date articles fall below L1; an SPC interpretation article
with a time limit or an amount rises to L1; texts no longer in force stay soft; every rule is a
HardnessConfig field a YAML file can change, and the reasons name the signals that decided.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from ecmiip.core.errors import InputError
from ecmiip.core.statutes import all_articles
from ecmiip.train.article_hardness import document_type, hard_content
from ecmiip.train.hardness import HardnessConfig, builtin_statutes, config_from_mapping, label, load_config
from ecmiip.train.hardness_table import level_counts, markdown_table

PATENT_LAW = "中华人民共和国专利法"
COPYRIGHT_LAW = "中华人民共和国著作权法"
TRADEMARK_SPC = "最高人民法院关于审理商标民事纠纷案件适用法律若干问题的解释"
PLANT_SPC = "最高人民法院关于审理侵害植物新品种权纠纷案件具体应用法律问题的若干规定"
AUCL = "中华人民共和国反不正当竞争法"
DAY = date(2026, 11, 29)


def statute(law: str, article: str, **extra) -> dict:
    """The store's text of one article as a statute record (the newest version the store holds)."""
    a = [a for a in all_articles() if a.law == law and a.article == article][-1]
    return {"kind": "statute", "law": a.law, "version": a.version, "article": a.article, "text": a.text, **extra}


def reason(h, prefix: str) -> str:
    found = [r for r in h.reasons if r.startswith(prefix)]
    assert found, f"no reason starting {prefix!r} in {h.reasons}"
    return found[0]


# ---------------------------------------------------------------- levels that differ from the document's


def test_a_laws_purpose_article_is_not_memorised_like_its_rules():
    h = label(statute(PATENT_LAW, "第一条"), as_of=DAY)
    assert (h.level, h.alpha_hard) == ("L3", 0.4)
    assert "为了保护专利权人的合法权益" in reason(h, "purpose article")
    assert h.reasons[0].startswith(f"article of a law or regulation: 《{PATENT_LAW}》 (law): title +2")
    assert h.reasons[-1].startswith("score -1: L3")


def test_a_competence_article_falls_to_l2():
    for law, article in ((PATENT_LAW, "第三条"), (COPYRIGHT_LAW, "第七条")):
        h = label(statute(law, article), as_of=DAY)
        assert h.level == "L2", (law, article)
        assert "负责" in reason(h, "competence or organisation")


def test_an_effective_date_article_is_soft_and_its_date_is_no_time_limit():
    h = label(statute(PATENT_LAW, "第八十二条"), as_of=DAY)  # 本法自1985年4月1日起施行。
    assert h.level == "L3"
    assert "本法自" in reason(h, "effective-date article")
    assert not any(r.startswith(("time limit", "amount", "numeric limit")) for r in h.reasons)


def test_an_interpretation_article_with_a_time_limit_or_an_amount_reaches_l1():
    h = label(statute(TRADEMARK_SPC, "第十八条"), as_of=DAY)  # 诉讼时效为三年
    assert (h.level, h.alpha_hard) == ("L1", 1.0)
    assert h.reasons[0].startswith(f"judicial interpretation: 《{TRADEMARK_SPC}》")
    assert "三年" in reason(h, "time limit")
    h = label(statute(PLANT_SPC, "第六条"), as_of=DAY)  # 在300万元以下确定赔偿数额
    assert h.level == "L1" and "万元" in reason(h, "amount")
    # the same interpretation's rule with nothing hard in it keeps the title's L2
    h = label(statute(TRADEMARK_SPC, "第十九条"), as_of=DAY)  # 商标使用许可合同未经备案的，不影响…效力
    assert h.level == "L2" and h.reasons[-1].startswith("score 1: L2")


def test_a_self_referential_article_of_an_interpretation_is_l3():
    h = label(statute(TRADEMARK_SPC, "第二十四条"), as_of=DAY)  # 以前的有关规定与本解释不一致的，以本解释为准
    assert h.level == "L3" and "与本解释不一致" in reason(h, "transitional or self-referential")


def test_a_reference_to_another_articles_items_is_not_an_enumeration():
    config = HardnessConfig()
    referenced = "依照商标法第五十七条第（一）（二）项的规定，认定商标相同或者近似。"
    assert not any(r.startswith("enumerated") for _, r in hard_content(referenced, config))
    listed = "有下列情形之一的，不予受理：\n（一）未写明名称的；\n（二）未签字的。"
    assert any(r == "enumerated conditions: 2 items +1" for _, r in hard_content(listed, config))


# ---------------------------------------------------------------- texts no longer in force


def test_a_superseded_text_is_soft_whatever_its_content():
    record = statute(AUCL, "第九条")  # the shipped 2019 text, superseded on 2025-10-15; its content scores L1
    h = label(record, as_of=DAY)
    assert (h.level, h.alpha_hard) == ("L4", 0.1)
    assert reason(h, "score").startswith("score 4: L1")  # what it would be in force…
    assert "not in force since 2025-10-15" in h.reasons[-1]  # …and why it is not
    assert label(record, as_of=date(2025, 1, 1)).level == "L1"  # on a day it was the law


def test_every_stored_text_no_longer_in_force_is_l4_and_none_in_force_is():
    records = builtin_statutes(DAY, include_superseded=True)
    levels = Counter((r["status"] in ("superseded", "repealed"), label(r, as_of=DAY).level) for r in records)
    assert {level for (old, level) in levels if old} == {"L4"}
    assert {level for (old, level) in levels if not old} <= {"L1", "L2", "L3"}


# ---------------------------------------------------------------- configurable rules


def test_a_yaml_config_changes_a_decision(tmp_path):
    purpose = statute(PATENT_LAW, "第一条")
    path = tmp_path / "hardness.yaml"
    path.write_text("purpose_points: 0\n", encoding="utf-8")
    assert label(purpose, load_config(path), as_of=DAY).level == "L1"  # nothing soft counted: the law's L1

    competence = statute(PATENT_LAW, "第三条")
    path.write_text("competence_patterns: []\n", encoding="utf-8")
    assert label(competence, load_config(path), as_of=DAY).level == "L1"

    limit = statute(TRADEMARK_SPC, "第十八条")
    path.write_text("time_limit_points: 0\n", encoding="utf-8")
    assert label(limit, load_config(path), as_of=DAY).level == "L2"

    path.write_text("l1_score: 4\nl2_score: 3\n", encoding="utf-8")
    h = label(limit, load_config(path), as_of=DAY)  # title 1 + time limit 2
    assert h.level == "L2" and h.reasons[-1] == "score 3: L2 (L1 from 4, L2 from 3, else L3)"
    assert label(statute(PATENT_LAW, "第二十八条"), load_config(path), as_of=DAY).level == "L3"  # title 2 alone

    path.write_text("statute_by_content: false\n", encoding="utf-8")
    h = label(purpose, load_config(path), as_of=DAY)
    assert h.level == "L1" and h.reasons[-1] == "levelled by title only (statute_by_content: false): L1"
    assert label(limit, load_config(path), as_of=DAY).level == "L2"


def test_a_new_soft_pattern_from_yaml_is_used_and_named(tmp_path):
    path = tmp_path / "hardness.yaml"
    path.write_text("principle_patterns: [授予专利权的发明]\nprinciple_points: 2\n", encoding="utf-8")
    h = label(statute(PATENT_LAW, "第二十二条"), load_config(path), as_of=DAY)
    assert reason(h, "principle or policy") == "principle or policy: 授予专利权的发明 −2"


@pytest.mark.parametrize("raw, field", [
    ({"purpose_points": -1}, "purpose_points"),
    ({"l1_score": 0, "l2_score": 1}, "l1_score"),
    ({"competence_patterns": ["("]}, "competence_patterns"),
    ({"law_titles": "法$"}, "law_titles"),
    ({"statute_by_content": "no"}, "statute_by_content"),
])
def test_a_bad_rule_is_a_one_line_error_naming_the_field(raw, field):
    with pytest.raises(InputError, match=field) as e:
        config_from_mapping(raw, "h.yaml")
    assert "\n" not in str(e.value) and str(e.value).startswith("h.yaml: ")


def test_document_types_come_from_the_title_patterns():
    config = HardnessConfig()
    assert document_type(PATENT_LAW, config) == "law"
    assert document_type("中华人民共和国专利法实施细则", config) == "regulation"
    assert document_type("国务院关于涉外知识产权纠纷处理的规定", config) == "regulation"
    assert document_type(TRADEMARK_SPC, config) == "interpretation"
    assert document_type("关于加强知识产权保护的意见", config) == "normative"


# ---------------------------------------------------------------- the README's table


def test_the_table_counts_levels_per_document_type():
    records = [statute(PATENT_LAW, "第一条"), statute(PATENT_LAW, "第三条"), statute(TRADEMARK_SPC, "第十八条")]
    counts = level_counts(records, HardnessConfig(), DAY)
    assert counts["law"] == Counter({"L3": 1, "L2": 1}) and counts["interpretation"] == Counter({"L1": 1})
    table = markdown_table(counts).splitlines()
    assert table[0] == "| document type | articles | L1 | L2 | L3 | L4 |"
    assert table[2] == "| law | 2 | 0 (0.0 %) | 1 (50.0 %) | 1 (50.0 %) | 0 (0.0 %) |"
    assert table[-1].startswith("| **all** | 3 | 1 (33.3 %)")
    assert not any(row.startswith("| normative") for row in table)  # types without records are left out
