"""chat/clauses.py, model-independent and exact: segmentation, clause types and risk rules, on inline
contracts and on the licence-contract fixture (Markdown and .docx)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from ecmiip.chat.clauses import (
    CLAUSE_TYPES,
    PREAMBLE,
    RULES,
    SIGNATURE,
    Clause,
    classify,
    max_risk,
    roles,
    rule_findings,
    segment_clauses,
)
from ecmiip.chat.documents import read_document
from ecmiip.core.citations import verify_citations
from tests.doc_fixtures import CONTRACT_MD, contract_docx


@dataclass(frozen=True)
class P:
    number: int
    text: str


def paragraphs(text: str) -> list[P]:
    return [P(i, line) for i, line in enumerate(text.strip().split("\n"), 1)]


ARTICLES = """专利实施许可合同
甲方（许可方）：星河科技有限公司
乙方（被许可方）：蓝海制造有限公司
鉴于：
1. 甲方拥有ZL202010000001.X号发明专利；
2. 乙方希望实施该专利。
双方经友好协商，达成如下协议：
第一章 总则
第一条 定义
本合同所称“合同产品”，是指实施合同专利制造的产品。
第2条 许可授予
甲方以独占实施许可的方式许可乙方实施合同专利制造、销售合同产品。
（一）许可期限为五年；
（二）许可地域为中国大陆。
第二章 权利义务
第三条【改进成果】乙方对合同专利所作的任何改进，应当在完成后30日内无偿提供给甲方，其知识产权归甲方所有。
第四条 竞争限制：乙方在任何时候均不得从其他来源获得与合同专利类似的技术，无论本合同是否终止。
第五条 乙方不得对合同专利的有效性提出异议。
第六条 乙方必须向甲方或其指定的供应商购买生产合同产品所需的原材料。
第七条 因实施合同专利引起的第三方侵权索赔，由乙方自行承担全部责任。
第八条 争议解决
因本合同引起的争议，提交甲方所在地人民法院诉讼解决。
（以下无正文）
甲方（盖章）：
乙方（盖章）："""


def test_articles_with_chapters_recitals_and_signature():
    clauses = segment_clauses(paragraphs(ARTICLES))
    assert [(c.label, c.title, c.paragraphs, c.chapter) for c in clauses] == [
        (PREAMBLE, "", (1, 2, 3, 4, 5, 6, 7), ""),
        ("第一条", "定义", (9, 10), "第一章 总则"),
        ("第2条", "许可授予", (11, 12, 13, 14), "第一章 总则"),
        ("第三条", "改进成果", (16,), "第二章 权利义务"),
        ("第四条", "竞争限制", (17,), "第二章 权利义务"),
        ("第五条", "", (18,), "第二章 权利义务"),
        ("第六条", "", (19,), "第二章 权利义务"),
        ("第七条", "", (20,), "第二章 权利义务"),
        ("第八条", "争议解决", (21, 22), "第二章 权利义务"),
        (SIGNATURE, "", (23, 24, 25), ""),
    ]
    assert clauses[2].text == "第2条 许可授予\n甲方以独占实施许可的方式许可乙方实施合同专利制造、销售合同产品。\n" \
                              "（一）许可期限为五年；\n（二）许可地域为中国大陆。"
    assert clauses[2].name == "第2条（许可授予）"
    assert not clauses[0].reviewed and not clauses[-1].reviewed and clauses[1].reviewed
    assert [classify(c) for c in clauses] == [
        [], ["其他"], ["许可授予/范围/地域/期限", "独占性"], ["知识产权归属及改进成果"], ["竞业限制"], ["其他"],
        ["其他"], ["赔偿责任"], ["争议解决"], []]


def test_the_rules_on_the_inline_contract():
    clauses = segment_clauses(paragraphs(ARTICLES))
    found = {c.label: [(f.risk, f.rule, f.matched) for f in rule_findings(c, ARTICLES)] for c in clauses}
    assert found == {
        PREAMBLE: [], "第一条": [],
        "第2条": [("中", "独占许可未提备案", ("独占实施许可",))],
        "第三条": [("高", "改进成果单向回授", ("改进", "归甲方所有"))],
        "第四条": [("高", "不限期竞争限制", ("不得从其他来源获得与合同专利类似的技术", "任何时候"))],
        "第五条": [("高", "不得质疑有效性", ("不得对合同专利的有效性提出异议",))],
        "第六条": [("高", "搭售原材料或设备", ("必须向甲方或其指定的供应商购买",))],
        "第七条": [("中", "第三方侵权责任转嫁", ("第三方侵权索赔", "由乙方自行承担"))],
        "第八条": [], SIGNATURE: [],
    }
    (exclusive,) = rule_findings(clauses[2], ARTICLES)
    assert exclusive.articles == ("《中华人民共和国专利法实施细则》第十五条第二款",
                                  "《最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释》第二十五条")
    assert "“独占实施许可”" in exclusive.reason
    # 备案 anywhere in the contract: no finding.
    assert rule_findings(clauses[2], ARTICLES + "\n第九条 甲方负责办理备案。") == []


NUMBERED = """技术秘密许可协议
许可方：甲公司
1. 许可内容
1.1 甲方许可乙方使用技术秘密生产产品。
1.2 乙方应于每年1月支付许可费。
2. 保密
2.1 乙方应对技术秘密保密，未经甲方同意不得向第三方披露。
2.1.1 保密期限为合同终止后五年。
3、不可抗力
因不可抗力不能履行的，免除责任。"""


def test_numbered_top_level_keeps_sub_items_inside():
    clauses = segment_clauses(paragraphs(NUMBERED))
    assert [(c.label, c.title, c.paragraphs) for c in clauses] == [
        (PREAMBLE, "", (1, 2)), ("1.", "许可内容", (3, 4, 5)), ("2.", "保密", (6, 7, 8)), ("3、", "不可抗力", (9, 10))]
    assert [classify(c) for c in clauses[1:]] == [
        ["许可授予/范围/地域/期限", "费用与支付"], ["保密", "解除与终止"], ["不可抗力"]]
    grant = rule_findings(clauses[1], NUMBERED)
    assert [(f.rule, f.risk) for f in grant] == [("许可期限或地域缺失", "中")]
    assert "许可期限、许可地域" in grant[0].reason and grant[0].matched == ("许可乙方使用",)


SECTIONS = """合作协议
鉴于：
1. 甲方拥有注册商标；
2. 乙方拟使用该商标。
双方达成如下协议：
一、许可
（一）甲方以独占使用许可方式许可乙方在全国范围内使用注册商标，期限三年。
（二）乙方在合同有效期内不得生产与合同产品类似的产品。
二、其他
1. 本协议适用中华人民共和国法律。
2. 争议提交仲裁委员会仲裁。"""


def test_numbered_recitals_do_not_become_clauses_and_restarting_styles_are_sub_levels():
    clauses = segment_clauses(paragraphs(SECTIONS))
    assert [(c.label, c.title, c.paragraphs) for c in clauses] == [
        (PREAMBLE, "", (1, 2, 3, 4, 5)), ("一、", "许可", (6, 7, 8)), ("二、", "其他", (9, 10, 11))]
    assert classify(clauses[2]) == ["争议解决", "适用法律"]
    found = [(f.rule, f.risk, f.articles[0]) for f in rule_findings(clauses[1], SECTIONS)]
    assert found == [("限期竞争限制", "中", "《中华人民共和国民法典》第八百六十四条"),
                     ("独占许可未提备案", "中", "《中华人民共和国商标法》第四十三条第三款")]


def test_text_without_headings_is_one_clause_per_paragraph():
    clauses = segment_clauses(paragraphs("甲方许可乙方使用。\n乙方付款。"))
    assert [(c.label, c.paragraphs) for c in clauses] == [("第1段", (1,)), ("第2段", (2,))]
    assert segment_clauses([]) == []


@pytest.mark.parametrize(("sentence", "rule"), [
    ("乙方对许可技术的改进成果应免费提供给甲方使用。", "改进成果单向回授"),
    ("甲方对技术的改进应免费提供给乙方。", None),  # the licensor's improvements going to the licensee
    ("双方按照互惠原则交换改进技术，乙方的改进应提供给甲方。", None),
    ("乙方不得从第三方获得与合同技术竞争的技术。", "限期竞争限制"),
    ("乙方永久不得研发与许可技术类似的技术。", "不限期竞争限制"),
    ("乙方不得请求宣告合同专利无效。", "不得质疑有效性"),
    ("乙方只能从甲方指定的供应商处购买原材料。", "搭售原材料或设备"),
    ("因实施许可技术被第三方指控侵权的，由甲方承担责任。", None),
    ("乙方应对技术资料保密。", None),
])
def test_each_rule_only_on_plain_words(sentence, rule):
    clause = Clause("第一条", "", sentence, (1,))
    assert [f.rule for f in rule_findings(clause, sentence)] == ([rule] if rule else [])


def test_roles_follow_the_contract():
    assert "甲方" in roles("甲方（许可方）：A")[0]
    licensor, licensee = roles("乙方（许可方）：A\n甲方（被许可方）：B")
    assert "乙方" in licensor and "甲方" in licensee
    text = "乙方（许可方）：A\n甲方（被许可方）：B\n第一条 甲方的改进成果应无偿提供给乙方。"
    assert [f.rule for f in rule_findings(Clause("第一条", "", text.split("\n")[2], (3,)), text)] == ["改进成果单向回授"]


def test_every_article_the_rules_rely_on_verifies():
    names = [a for r in RULES.values() for a in r.articles]
    checks = verify_citations("\n".join(names))
    assert [c.text for c in checks] == names
    assert all(c.ok for c in checks), [(c.text, c.reason) for c in checks if not c.ok]
    assert not any(law in "".join(names) for law in ("劳动合同法", "反垄断法"))
    for patterns in CLAUSE_TYPES.values():
        for p in patterns:
            re.compile(p)


def test_max_risk():
    assert max_risk("低", None, "高", "中") == "高"
    assert max_risk() == "低" and max_risk(None, "中") == "中"


# ---------------------------------------------------------------- the fixture contract

FIXTURE_CLAUSES = [
    (PREAMBLE, "", (1, 2, 3, 4, 5, 6, 7, 8, 9), []),
    ("第一条", "定义", (10, 11, 12, 13, 14, 15, 16), ["知识产权归属及改进成果"]),
    ("第二条", "许可方式和范围", (17, 18, 19, 20), ["许可授予/范围/地域/期限", "独占性"]),
    ("第三条", "许可地域和期限", (21, 22, 23), ["许可授予/范围/地域/期限"]),
    ("第四条", "许可使用费及支付方式", (24, 25, 26, 27, 28, 29, 30, 31, 32), ["费用与支付", "违约责任"]),
    ("第五条", "技术资料的交付", (33, 34, 35), ["技术资料与指导"]),
    ("第六条", "技术指导和培训", (36, 37, 38, 39), ["技术资料与指导"]),
    ("第七条", "技术验收", (40, 41), ["技术资料与指导"]),
    ("第八条", "保密", (42, 43, 44, 45), ["保密", "解除与终止", "技术资料与指导"]),
    ("第九条", "权利瑕疵担保", (46, 47, 48, 49), ["不侵权保证"]),
    ("第十条", "侵权处理与赔偿", (50, 51, 52), ["赔偿责任"]),
    ("第十一条", "改进技术的归属", (53, 54, 55, 56),
     ["知识产权归属及改进成果", "许可授予/范围/地域/期限", "独占性", "费用与支付"]),
    ("第十二条", "竞争限制", (57, 58, 59, 60), ["竞业限制", "解除与终止"]),
    ("第十三条", "违约责任", (61, 62, 63, 64), ["费用与支付", "保密", "违约责任", "解除与终止", "技术资料与指导"]),
    ("第十四条", "合同的解除和终止", (65, 66, 67, 68, 69, 70, 71), ["费用与支付", "解除与终止"]),
    ("第十五条", "不可抗力", (72, 73), ["不可抗力"]),
    ("第十六条", "争议解决", (74, 75), ["争议解决"]),
    ("第十七条", "适用法律", (76, 77), ["争议解决", "适用法律"]),
    ("第十八条", "通知", (78, 79, 80), ["其他"]),
    ("第十九条", "其他", (81, 82, 83, 84), ["其他"]),
    (SIGNATURE, "", (85, 86, 87, 88, 89), []),
]
FIXTURE_FINDINGS = {
    "第二条": [("中", "独占许可未提备案", ("独占实施许可",))],
    "第十一条": [("高", "改进成果单向回授", ("改进", "无偿", "告知甲方"))],
    "第十二条": [("高", "不限期竞争限制", ("不得自行研究开发与许可专利或者技术秘密相同或者类似的技术",
                                    "不受本合同有效期限的限制"))],
}


@pytest.mark.parametrize("kind", ["md", "docx"])
def test_the_fixture_contract(kind, tmp_path):
    path = CONTRACT_MD if kind == "md" else contract_docx(tmp_path)
    doc = read_document(path)
    clauses = segment_clauses(doc.paragraphs)
    assert [(c.label, c.title, c.paragraphs, classify(c)) for c in clauses] == FIXTURE_CLAUSES
    found = {c.label: [(f.risk, f.rule, f.matched) for f in rule_findings(c, doc.text())] for c in clauses}
    assert {k: v for k, v in found.items() if v} == FIXTURE_FINDINGS
