"""Citation verdicts on a table of real, non-existent, superseded, abbreviated, Arabic-numbered, 之一,
款/项, 修正案, misspelled and unstored citations: each string with the verdict a lawyer expects, judged
today (the default) or on the date a column gives."""

from __future__ import annotations

from datetime import date

import pytest

from ecmiip.cli import main
from ecmiip.core.citations import check, find_citations

TODAY = [
    # real, in every way of writing them
    ("《中华人民共和国专利法》第十一条", "ok"),
    ("《专利法》第十一条", "ok"),
    ("专利法第十一条", "ok"),
    ("《专利法》第11条", "ok"),
    ("《专利法》第八十二条", "ok"),
    ("《专利法》（2020修正）第六十四条", "ok"),
    ("《专利法》（2020年修正）第七十一条", "ok"),
    ("《专利法实施细则》第十五条", "ok"),
    ("《商标法》第五十七条", "ok"),
    ("《中华人民共和国商标法》（2019修正）第六十三条", "ok"),
    ("《著作权法》第二十四条", "ok"),
    ("《民法典》第一千一百八十五条", "ok"),
    ("《刑法》第二百一十九条", "ok"),
    ("《商业秘密规定》第十四条", "ok"),
    ("《专利侵权司法解释（二）》第三十一条", "ok"),
    ("《计算机软件保护条例》第十七条", "ok"),
    ("《中华人民共和国计算机软件保护条例》第十七条", "ok"),
    ("《信息网络传播权保护条例》第二十三条", "ok"),
    ("《集成电路布图设计保护条例》第三十六条", "ok"),
    ("《惩罚性赔偿解释》第三条", "ok"),
    ("《最高人民法院关于知识产权侵权诉讼中被告以原告滥用权利为由请求赔偿合理开支问题的批复》第一条", "ok"),
    ("《专利法》（修正）第十一条", "ok"),  # a version without a year that only one text matches
    # 之一, 款 and 项
    ("《刑法》第二百一十九条之一", "ok"),
    ("《专利法》第二十二条第三款", "ok"),
    ("《专利法》第七十五条第（二）项", "ok"),
    ("《专利法》第七十五条第二项", "ok"),
    ("《商标法》第五十七条第（七）项", "ok"),
    ("《专利法》第十条之一", "no_such_article"),
    ("《民法典》第一千一百八十五条之一", "no_such_article"),  # the 民法典 has no 之一 articles
    ("《专利法》第二十二条第六款", "no_such_article"),
    ("《专利法》第七十五条第（六）项", "no_such_article"),
    ("《商标法》第五十七条第（八）项", "no_such_article"),
    ("《专利法》第十一条第一款第二项", "no_such_article"),
    ("《刑法》第二百一十三条第二款", "no_such_article"),
    # beyond the last article
    ("《专利法》第九十九条", "no_such_article"),
    ("《专利法》第八十三条", "no_such_article"),
    ("《商标法》第七十四条", "no_such_article"),
    ("《著作权法》第六十八条", "no_such_article"),
    ("《民法典》第一千三百条", "no_such_article"),
    ("《刑法》第五百条", "no_such_article"),
    ("《最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定》第三十条", "no_such_article"),
    ("《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第二十一条", "no_such_article"),
    ("《集成电路布图设计保护条例》第三十七条", "no_such_article"),
    # superseded: the 2019 反不正当竞争法, the 2014 plant-variety regulations, the IP-crime interpretations,
    # and older versions the renumbering table knows
    ("《反不正当竞争法》第九条", "superseded"),
    ("《反法》第九条", "superseded"),
    ("《中华人民共和国反不正当竞争法》（2019修正）第九条", "superseded"),
    ("《植物新品种保护条例》第三十四条", "superseded"),
    ("《侵犯知识产权刑事案件解释（三）》第一条", "superseded"),
    ("《最高人民法院、最高人民检察院关于办理侵犯知识产权刑事案件具体应用法律若干问题的解释》第一条", "superseded"),
    ("《专利法》（2008修正）第六十九条", "superseded"),
    ("《专利法》（2008）第六十五条", "superseded"),
    ("《专利法》（2008修正）第五十九条", "superseded"),
    ("《专利法》（2000修正）第五十七条", "superseded"),
    ("《著作权法》（2010修正）第二十二条", "superseded"),
    ("《著作权法》（2010修正）第二十四条", "superseded"),
    # the store cannot tell: unstored laws and versions, excerpts, amendments
    ("《反不正当竞争法》（2025修订）第十条", "not_in_database"),
    ("《反不正当竞争法》第三十四条", "not_in_database"),
    ("《民法典》第一千条", "not_in_database"),
    ("《刑法》第一百条", "not_in_database"),
    ("《刑法》第二百一十九条之二", "not_in_database"),
    ("《刑法修正案（十一）》第二十二条", "not_in_database"),
    ("《民事诉讼法》第一百二十二条", "not_in_database"),
    # titles no law has
    ("《专利法实施条例》第十五条", "unknown_law"),
    ("《专利保护法》第三条", "unknown_law"),
    ("《版权法》第十条", "unknown_law"),
    ("《知识产权保护大全》第一条", "unknown_law"),
]

ON_A_DATE = [
    ("《反不正当竞争法》第九条", "2024-06-30", "ok"),  # the 2019 text was the law then
    ("《反不正当竞争法》（2019修正）第九条", "2025-10-14", "ok"),
    ("《反不正当竞争法》第九条", "2025-10-15", "superseded"),  # the day the 2025 revision took effect
    ("《侵犯知识产权刑事案件解释（三）》第一条", "2024-01-01", "ok"),
    ("《植物新品种保护条例》第三十四条", "2025-05-31", "ok"),
    ("《刑法》第二百一十九条之一", "2020-12-31", "not_yet_in_force"),  # added by 刑法修正案（十一）
    ("《专利法》第二十条", "2021-05-31", "not_yet_in_force"),  # the 2020 revision took effect 2021-06-01
    ("《专利法》第二十条", "2021-06-01", "ok"),
]


def _verdict(text: str, day: date | None = None):
    [citation] = find_citations(text)
    return check(citation, day)


def test_the_table_is_large_enough():
    assert len(TODAY) + len(ON_A_DATE) >= 60 and len({t for t, _ in TODAY}) == len(TODAY)


@pytest.mark.parametrize(("text", "expected"), TODAY, ids=[t for t, _ in TODAY])
def test_verdict_today(text, expected):
    verdict = _verdict(text)
    assert verdict.status == expected, verdict.reason
    assert bool(verdict.reason) == (expected != "ok")


@pytest.mark.parametrize(("text", "day", "expected"), ON_A_DATE, ids=[f"{t}@{d}" for t, d, _ in ON_A_DATE])
def test_verdict_on_a_date(text, day, expected):
    assert _verdict(text, date.fromisoformat(day)).status == expected


def test_superseded_verdicts_say_since_when_by_what_and_today_s_article():
    aucl = _verdict("《反不正当竞争法》第九条")
    assert "2025-10-15" in aucl.reason and "2025修订" in aucl.reason and "现行文本未收录" in aucl.reason
    patent = _verdict("《专利法》（2008修正）第六十九条")
    assert patent.current.article == "第七十五条" and "现行对应条文为《中华人民共和国专利法》（2020修正）第七十五条" in patent.reason
    assert _verdict("《专利法》（2000修正）第五十七条").current is None  # not in the table: said, not guessed
    assert "《中华人民共和国刑法》" in _verdict("《刑法修正案（十一）》第二十二条").reason
    assert "著作权法" in _verdict("《版权法》第十条").reason


def test_ambiguous_version_when_two_stored_texts_match(tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path / "home"))
    text = tmp_path / "aucl.md"
    text.write_text("# 中华人民共和国反不正当竞争法\n第一条　为了测试。\n第二条　仍为测试。\n", encoding="utf-8")
    assert main(["statutes", "import", str(text), "--law", "反不正当竞争法", "--version", "2025修订",
                 "--effective", "2025-10-15"]) == 0
    assert _verdict("《反不正当竞争法》（修）第一条").status == "ambiguous_version"  # 2019修正 and 2025修订
    assert _verdict("《反不正当竞争法》（2025修订）第一条").status == "ok"
    assert _verdict("《反不正当竞争法》第一条").doc.version == "2025修订"
