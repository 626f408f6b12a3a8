"""Issue 15: an article's role is read once (train/article_roles.py) and both readers agree on it.

build-qa gives a purpose, effective-date, self-referential, transitional or competence article
recitation pairs only; hardness takes points off the same articles. Two copies of the patterns once
disagreed (a department's competence article was organisational for hardness and a rule for build-qa;
a pending criminal case's 尚未审结 made a suspension rule "transitional").
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from ecmiip.core.statutes import all_articles
from ecmiip.train.article_hardness import soft_function
from ecmiip.train.article_roles import SUBSTANTIVE, article_roles
from ecmiip.train.hardness import HardnessConfig
from ecmiip.train.qa_norms import read_article

TRADE_SECRET = "最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定"
LAYOUT = "集成电路布图设计保护条例"

# Soft-function names in hardness's reasons for each role build-qa records.
HARDNESS_NAME = {"purpose": "purpose article", "effective_date": "effective-date article",
                 "transitional": "transitional or self-referential",
                 "self_referential": "transitional or self-referential",
                 "organisational": "competence or organisation"}


def text_of(law: str, article: str) -> str:
    return [a for a in all_articles() if a.law == law and a.article == article][-1].text


@pytest.mark.parametrize("law, article, role", [
    ("中华人民共和国专利法", "第一条", "purpose"),
    ("中华人民共和国专利法", "第八十二条", "effective_date"),
    ("实施国际著作权条约的规定", "第二十一条", "self_referential"),                       # 由国家版权局负责解释
    (TRADE_SECRET, "第二十八条", "transitional"),                                           # 修改后的法律
    (LAYOUT, "第六条", "organisational"),                                                   # 负责…管理工作
    ("最高人民法院关于北京、上海、广州知识产权法院案件管辖的规定", "第八条", "transitional"),  # 成立前已经受理
    (TRADE_SECRET, "第二十五条", SUBSTANTIVE),             # a criminal case 尚未审结: a rule on suspension
    ("中华人民共和国专利法", "第二十二条", SUBSTANTIVE),
])
def test_build_qa_and_hardness_read_the_same_role(law, article, role):
    text = text_of(law, article)
    assert read_article(text).role == role
    soft = [reason.split(":")[0] for _, reason in soft_function(text, HardnessConfig())]
    if role == SUBSTANTIVE:
        assert not any(name in soft for name in HARDNESS_NAME.values())
    else:
        assert HARDNESS_NAME[role] in soft


def test_a_competence_article_that_sets_conditions_is_still_a_rule_for_build_qa():
    text = "国务院知识产权行政部门负责布图设计登记工作。申请人有下列情形之一的，不予登记：\n（一）甲；\n（二）乙。"
    assert "organisational" in article_roles(text)
    assert read_article(text).role == SUBSTANTIVE


def test_the_hardness_config_fields_are_the_roles_patterns():
    config = replace(HardnessConfig(), competence_patterns=(r"受理布图设计登记申请",))
    roles = article_roles(text_of(LAYOUT, "第十四条"), config.role_patterns())
    assert roles == {"organisational": "受理布图设计登记申请"}
    assert article_roles("本规定由国家版权局负责解释。", {**config.role_patterns(), "self_referential": ()}) == {}
