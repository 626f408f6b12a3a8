"""Citation checking for the chat client: every citation of an answer is found where it stands and
judged ok / no_such_article / not_in_database / unknown_law; ``/law`` looks articles up in every
form a user types and says what is wrong when it cannot."""

from __future__ import annotations

from datetime import date

import pytest

from ecmiip.core import citations
from ecmiip.core.citations import (
    NO_SUCH_ARTICLE,
    NOT_IN_DATABASE,
    OK,
    SUPERSEDED,
    UNKNOWN_LAW,
    find_citations,
    lookup,
    parse_citation,
    resolve_law,
    verify_citations,
)
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import TASKS

PATENT_LAW = "中华人民共和国专利法"


def _one(text: str):
    checks = verify_citations(text)
    assert len(checks) == 1, [c.text for c in checks]
    return checks[0]


def test_an_article_beyond_the_law_and_a_real_one():
    bad = _one("依据《专利法》第九十九条，被告应当赔偿。")
    assert bad.status == NO_SUCH_ARTICLE and not bad.ok
    assert "八十二条" in bad.reason and "第九十九条" in bad.reason
    good = _one("依据《专利法》第十一条，被告构成侵权。")
    assert good.status == OK and good.ok and good.reason == ""
    assert good.article.law == PATENT_LAW and good.article.article == "第十一条"


def test_full_and_short_titles_resolve_to_the_database_title():
    for text in ("《中华人民共和国专利法》第十一条", "《专利法》第十一条", "《 专利法 》第十一条"):
        check = _one(text)
        assert check.ok and check.citation.resolved_law == PATENT_LAW
    assert resolve_law("商标法实施条例") == "中华人民共和国商标法实施条例"
    assert resolve_law("中华人民共和国计算机软件保护条例") == "计算机软件保护条例"  # prefix the title lacks
    assert resolve_law("商业秘密规定") == "最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定"
    assert resolve_law("专利侵权司法解释(二)") == "最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释（二）"
    outside = _one("《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》（二）第三十一条")
    assert outside.ok and outside.citation.resolved_law.endswith("（二）")  # numbering written after the title
    for alias, law in citations.ALIASES.items():
        assert resolve_law(alias) == law, alias  # every abbreviation names a shipped law


def test_nested_titles_in_either_bracket():
    for text in ("《最高人民法院关于适用〈中华人民共和国反不正当竞争法〉若干问题的解释》第二十九条",
                 "《最高人民法院关于适用《中华人民共和国反不正当竞争法》若干问题的解释》第二十九条"):
        check = _one(text)
        assert check.ok and check.span == (0, len(text))
    assert _one("《最高人民法院关于适用〈反不正当竞争法〉若干问题的解释》第三十条").status == NO_SUCH_ARTICLE


def test_zhi_yi_articles():
    c = parse_citation("《专利法》第十条之一")
    assert c.article == "第十条之一" and c.number == 10 and c.sub == 1
    check = _one("《专利法》第十条之一")
    assert check.status == NO_SUCH_ARTICLE and "第十条之一" in check.reason  # 2020 专利法 has no 之一 articles


def test_paragraph_and_item_suffixes_are_part_of_the_citation():
    text = "根据《专利法》第十一条第一款和《商标法》第五十七条第二项的规定"
    first, second = verify_citations(text)
    assert first.ok and first.citation.detail == "第一款" and text[slice(*first.span)] == "《专利法》第十一条第一款"
    assert second.ok and second.citation.detail == "第二项" and second.citation.resolved_law == "中华人民共和国商标法"
    assert _one("《专利法》第二十二条第三款").ok
    no_items = _one("《专利法》第二十二条第三款第一项")  # that paragraph has no items
    assert no_items.status == NO_SUCH_ARTICLE and "不分项" in no_items.reason


def test_more_articles_of_the_same_law_and_bare_titles():
    text = "《专利法》第十一条、第十二条和第九十条；另见商标法第五十七条，以及民法典第一千一百八十五条。"
    checks = verify_citations(text)
    assert [c.text for c in checks] == ["《专利法》第十一条", "《专利法》第十二条", "《专利法》第九十条",
                                        "《商标法》第五十七条", "《民法典》第一千一百八十五条"]
    assert [c.status for c in checks] == [OK, OK, NO_SUCH_ARTICLE, OK, OK]
    assert [text[slice(*c.span)] for c in checks][1:3] == ["第十二条", "第九十条"]
    # paragraphs after an article are skipped, the next article still belongs to the same law
    checks = verify_citations("《专利法》第二十二条第二款、第三款和第二十三条")
    assert [c.text for c in checks] == ["《专利法》第二十二条第二款", "《专利法》第二十三条"]


def test_free_text_without_false_positives():
    text = "《专利法》规定了专利权的保护，依照《商标法》第五十七条，侵权成立。本法第十条不在此列。"
    found = find_citations(text)
    assert [(c.law, c.article) for c in found] == [("商标法", "第五十七条")]
    assert verify_citations("专利法实施细则第十五条") == verify_citations("专利法实施细则第十五条")
    assert _one("专利法实施细则第十五条").citation.resolved_law == "中华人民共和国专利法实施细则"  # longest name
    assert verify_citations("这个问题与法条无关。") == []


def test_arabic_numerals_are_judged_by_their_value():
    assert _one("《专利法》第11条").ok
    assert _one("《专利法》第99条").status == NO_SUCH_ARTICLE


def test_made_up_laws_are_unknown():
    near = _one("《专利保护法》第三条")
    assert near.status == UNKNOWN_LAW and "中华人民共和国专利法" in near.reason
    assert "中华人民共和国专利法实施细则" in _one("《专利法实施条例》第五条").reason
    shapeless = _one("《知识产权保护大全》第一条")
    assert shapeless.status == UNKNOWN_LAW and "编造" in shapeless.reason


def test_laws_the_database_does_not_ship():
    for text in ("《中华人民共和国民事诉讼法》第一百二十二条", "《民事诉讼法》第一百二十二条", "《刑事诉讼法》第一百条",
                 "《最高人民法院关于审理专利纠纷案件适用法律问题的若干规定》第二条"):
        check = _one(text)
        assert check.status == NOT_IN_DATABASE and "未收录" in check.reason, text


def test_excerpts_and_other_versions_cannot_be_checked():
    assert _one("《民法典》第一千条").status == NOT_IN_DATABASE  # the database holds an IP excerpt
    beyond = _one("《民法典》第一千三百条")
    assert beyond.status == NO_SUCH_ARTICLE and "一千二百六十条" in beyond.reason
    for text in ("《中华人民共和国专利法》（2008修正）第六十五条", "《专利法（2008修正）》第六十五条"):
        check = _one(text)  # an older version: superseded, and the renumbering table knows today's article
        assert check.status == SUPERSEDED and "2008" in check.reason and check.current.article == "第七十一条"
    assert _one("《中华人民共和国专利法》（2020年修正）第六十五条").ok


def test_every_article_of_the_database_verifies():
    from ecmiip.core.statutes import all_articles

    for a in all_articles():
        if a.article.startswith("第"):
            verdict = _one(citations.cite(a))
            if a.doc.in_force_on(date.today()):
                assert verdict.ok, a.citation
            else:  # history: never confirmed as current law
                assert verdict.status == SUPERSEDED and a.doc.superseded_on.isoformat() in verdict.reason


def test_task_presets_cite_only_existing_articles():
    for name, text in TASKS.items():
        assert all(c.ok for c in verify_citations(text)), name


@pytest.mark.parametrize("article", [11, "11", "十一", "第十一条", " 第十一条 "])
def test_lookup_forms(article):
    found = lookup("专利法", article)
    assert (found.law, found.article) == (PATENT_LAW, "第十一条")
    assert "未经专利权人许可" in found.text


def test_lookup_titles_and_items():
    assert lookup("《中华人民共和国专利法》", 1).article == "第一条"
    assert lookup("商业秘密规定", "5").law.endswith("侵犯商业秘密民事案件适用法律若干问题的规定")
    reply = "最高人民法院关于涉网络知识产权侵权纠纷几个法律适用问题的批复"
    assert lookup(reply, 2).article == "二"  # a 批复's items are numbered 一, 二, …
    assert lookup("民法典", "第一千一百八十五条").text.startswith("故意侵害他人知识产权")


def test_lookup_errors_say_what_is_there():
    with pytest.raises(InputError, match="共八十二条.*第一条至第八十二条.*没有第九十九条"):
        lookup("专利法", 99)
    with pytest.raises(InputError, match="没有第十条之一"):
        lookup("专利法", "第十条之一")
    with pytest.raises(InputError, match="部分条文.*没有第一千条"):
        lookup("民法典", 1000)
    with pytest.raises(InputError, match="条号应写作"):
        lookup("专利法", "十一b")
    with pytest.raises(InputError, match="条号应写作"):
        lookup("专利法", 0)
    with pytest.raises(InputError) as e:
        lookup("版权法", 1)
    assert "《中华人民共和国著作权法》" in str(e.value)
    with pytest.raises(InputError) as e:
        lookup("专利", 1)
    assert "《中华人民共和国专利法》" in str(e.value) and "《中华人民共和国专利法实施细则》" in str(e.value)
    with pytest.raises(InputError, match="没有相近的名称"):
        lookup("xyz", 1)
