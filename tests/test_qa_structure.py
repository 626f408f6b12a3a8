"""Statute pairs built from the structure of an article: item lists with their lead-in and their cumulative or
alternative nature, whole 的-conditions, rules put to their own subject, articles that get recitation only,
effective dates from the statute store, no filler; the balance of reasoning against statute pairs; case pairs
reasoning through the stage-2 layers."""

from __future__ import annotations

import re
from functools import cache

import pytest

from ecmiip.core.statutes import current_articles
from ecmiip.train.mipld import SAMPLES_DIR, Record, load_records
from ecmiip.train.qa import balance, build_pairs, input_records
from ecmiip.train.qa_norms import ALTERNATIVE, CUMULATIVE, read_article, read_condition
from ecmiip.train.qa_pairs import REASONING_KINDS
from ecmiip.train.qa_statute_templates import statute_pairs, written_date

PATENT = "中华人民共和国专利法"
RULES = "中华人民共和国专利法实施细则"
WELL_KNOWN = "最高人民法院关于审理涉及驰名商标保护的民事纠纷案件应用法律若干问题的解释"


@cache
def _article(law: str, article: str) -> Record:
    a = next(a for a in current_articles() if a.law == law and a.article == article)
    return Record("statute", {"law": a.law, "version": a.version, "chapter": a.chapter, "article": a.article,
                              "text": a.text})


def _pairs(law: str, article: str, seed: int = 42):
    meaning, second = statute_pairs(_article(law, article), seed)
    return meaning, second


def test_cumulative_items_are_all_required():
    reading = read_article(_article(RULES, "第二十七条").data["text"])
    items = reading.paragraphs[0].items
    assert items.nature == CUMULATIVE and len(items.items) == 3 and items.subject == "申请人"
    assert items.lead.endswith("申请人还应当办理下列手续")  # the lead-in is kept whole
    for seed in range(4):
        _, second = _pairs(RULES, "第二十七条", seed)
        assert second.template == "statute-cumulative" and second.to_json()["source"]["template"] == "statute-cumulative"
        assert "这种理解不正确" in second.answer and "须同时具备" in second.answer
        assert "申请人" in second.question and "公司" not in second.question.split("申请人")[0]
        assert "属于" not in second.answer.split("【结论】")[1]  # never "one item qualifies"


def test_alternative_items_need_only_one():
    items = read_article(_article(PATENT, "第七十五条").data["text"]).paragraphs[0].items
    assert items.nature == ALTERNATIVE and items.consequence == "不视为侵犯专利权"
    _, second = _pairs(PATENT, "第七十五条")
    assert second.template == "statute-alternative"
    assert "具备其中任何一项即可" in second.answer and "因此不视为侵犯专利权。" in second.answer
    assert not re.search(r"应当适用该条.{0,20}的规定", second.answer)  # no empty consequence
    # an item's exception in a later paragraph travels with it (专利法第二十五条第二款 on item (四))
    for seed in range(30):
        _, s25 = _pairs(PATENT, "第二十五条", seed)
        if "第（四）项" in s25.question or "动物和植物品种" in s25.question:
            assert "第二款对此另有规定" in s25.answer
            break
    else:
        pytest.fail("item (四) of 专利法第二十五条 never drawn")


def test_conditions_with_de_are_whole_clauses():
    # 为了公共健康目的，… is a purpose, not a 的-condition: the old split gave "为了公共健康目"
    assert read_condition("为了公共健康目的，对取得专利权的药品，国务院专利行政部门可以给予强制许可") is None
    text = _article(PATENT, "第七十四条").data["text"]
    c = read_article(text).paragraphs[1].conditions[0]
    assert c.condition == "发明专利申请公布后至专利权授予前使用该发明未支付适当使用费的"
    assert c.consequence.startswith("专利权人要求支付使用费的诉讼时效为三年")
    assert c.exception.startswith("但是，专利权人于专利权授予之日前") and c.subject == "专利权人"
    # a comma inside brackets does not end a clause (细则第四十七条: 同日（指申请日；有优先权的，指优先权日）)
    c47 = read_article(_article(RULES, "第四十七条").data["text"]).paragraphs[0].conditions[0]
    assert c47.condition.startswith("两个以上的申请人同日（指申请日；有优先权的，指优先权日）")


def test_scenario_actor_is_the_rules_own_subject():
    _, second = _pairs(PATENT, "第五十五条")
    assert second.template == "statute-rule"
    assert second.question.startswith("为了公共健康目的，对取得专利权的药品，国务院专利行政部门能否给予")
    assert not re.search(r"[甲乙丙丁]公司|某", second.question)  # no company where the subject is an authority
    assert second.answer.startswith("可以。")
    _, s53 = _pairs(PATENT, "第五十三条")
    assert "国务院专利行政部门" in s53.question and "公司" not in s53.question


def test_self_referential_articles_are_recited_with_the_reason():
    meaning, second = _pairs(WELL_KNOWN, "第十四条")
    assert second.id.endswith("/recite") and second.template == "statute-recite"
    assert second.source["role"] == "self_referential" and "自我指涉" in second.source["reason"]
    assert "遇到如下情形" not in second.question and "本院以前有关司法解释与本解释不一致" in second.answer
    assert "本条是自我指涉条款，" in meaning.answer
    for law, article, role in ((PATENT, "第一条", "purpose"), (PATENT, "第三条", "organisational")):
        assert _pairs(law, article)[1].source["role"] == role


def test_effective_date_articles_answer_with_the_version_in_force():
    assert written_date("本法自1985年4月1日起施行。").isoformat() == "1985-04-01"
    _, second = _pairs(PATENT, "第八十二条")
    assert second.template == "statute-effective" and second.source["role"] == "effective_date"
    assert "2020修正文本自2021-06-01起施行" in second.answer and "最初的施行日期" in second.answer


def test_superseded_texts_are_excluded():
    records, skipped = input_records(["builtin"])
    assert skipped and all(r.data["version"] != "2019修正" or "反不正当竞争法" not in r.data["law"] for r in records)
    old = next(r for r in skipped if "反不正当竞争法" in r.data["law"])
    assert build_pairs([old], cot_ratio=0) == []


def test_no_filler_and_no_empty_answer():
    records, _ = input_records(["builtin", *map(str, sorted(SAMPLES_DIR.glob("*.jsonl")))])
    pairs = build_pairs(records, seed=42, reasoning_share=None)
    assert {p.source["role"] for p in pairs if p.kind == "statute"} >= {"substantive", "effective_date"}
    questions = {}
    for p in pairs:
        assert p.answer.strip() and p.question.strip(), p.id
        assert "核心要求是" not in p.answer and not re.search(r"应当适用该条.{0,30}的规定。", p.answer), p.id
        assert "遇到如下情形" not in p.question, p.id
        assert questions.setdefault(p.question, p.answer) == p.answer, p.id  # no conflicting targets


def test_balance_keeps_the_reasoning_share():
    records = load_records(sorted(SAMPLES_DIR.glob("*.jsonl")))
    records += [_article(PATENT, a) for a in ("第十一条", "第二十二条", "第二十五条", "第五十三条", "第五十五条",
                                             "第七十四条", "第七十五条", "第八十二条")]
    every = build_pairs(records, seed=5, reasoning_share=None)
    reasoning = sum(p.kind in REASONING_KINDS for p in every)
    for share in (0.85, 0.9):  # 70 reasoning pairs, 16 statute pairs
        kept = build_pairs(records, seed=5, reasoning_share=share)
        assert sum(p.kind in REASONING_KINDS for p in kept) == reasoning
        assert abs(reasoning / len(kept) - share) < 0.05
        assert [p.id for p in kept] == [p.id for p in every if p.id in {k.id for k in kept}]  # order kept
        assert [p.id for p in build_pairs(records, seed=5, reasoning_share=share)] == [p.id for p in kept]
    assert len(build_pairs(records, seed=5, reasoning_share=0.01)) == len(every)  # already few statute pairs
    statutes_only = [p for p in every if p.kind == "statute"]
    assert balance(statutes_only, 0.5, 1) == statutes_only  # nothing to balance against


def test_case_pairs_reason_through_the_stage2_layers():
    records = load_records([SAMPLES_DIR / "cases.jsonl"])
    judged = next(p for p in build_pairs(records, cot_ratio=1) if p.template == "case-judgment")
    heads = [step.split("：", 1)[0] for step in judged.reasoning]
    assert heads == ["1. 事实（查明）", "2. 分析（本院认为）", "3. 法律依据", "4. 裁判"]
    assert judged.reasoning[0].startswith("1. 事实（查明）：原告系") and "《中华人民共和国专利法》" in judged.reasoning[2]
