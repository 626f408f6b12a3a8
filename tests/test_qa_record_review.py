"""The case, knowledge and exemption pair classes a reviewer found filler, on the shipped samples: the dispute is
named from the record's own text, a 区别 says only what the two records support, and an exemption's elements are
not all presented as requirements when the record says one of them defeats the defence."""

from __future__ import annotations

import re

import pytest

from ecmiip.train.mipld import SAMPLES_DIR, Record, load_records
from ecmiip.train.qa_audit import pair_findings
from ecmiip.train.qa_case_issues import focus_text
from ecmiip.train.qa_exemption_elements import clauses, sort_elements
from ecmiip.train.qa_pairs import QAPair
from ecmiip.train.qa_record_templates import case_pairs, exemption_pairs, knowledge_pairs

GENERIC_FOCUS = ("抗辩理由能否成立，即", "构成要件是否满足以及相应责任如何承担")
TAUTOLOGY = ("二者解决的问题不同", "实践中应当先确定争议针对的是哪一问题")


@pytest.fixture(scope="module")
def samples() -> dict[str, Record]:
    return {r.data["id"]: r for r in load_records(sorted(SAMPLES_DIR.glob("*.jsonl")))}


def _pair(pairs: list[QAPair], suffix: str) -> QAPair:
    return next(p for p in pairs if p.id.endswith(suffix))


def _focus(answer: str) -> str:
    return answer.split("争议焦点：", 1)[1].split("法院的回答：")[0]


# ------------------------------------------------------------------ 1. case 争议焦点


def test_no_case_focus_is_the_generic_sentence(samples):
    for rid, record in samples.items():
        if record.kind == "case":
            issues = _pair(case_pairs(record, 42), "/issues")
            assert not any(g in issues.answer for g in GENERIC_FOCUS), rid
            assert "对比双方主张中针锋相对的部分" not in "".join(issues.reasoning), rid


def test_damages_case_focus_is_the_amount_and_punitive_damages(samples):
    focus = _focus(_pair(case_pairs(samples["sample-case-006"], 42), "/issues").answer)
    assert "惩罚性赔偿" in focus and "赔偿数额" in focus
    assert "故意" in focus and "情节严重" in focus  # the conditions the court decided on
    assert "构成要件" not in focus


def test_platform_case_focus_is_the_safe_harbour_after_removal(samples):
    answer = _pair(case_pairs(samples["sample-case-003"], 42), "/issues").answer
    focus = _focus(answer)
    assert "信息存储空间" in focus and "避风港" in focus and "删除" in focus and "赔偿责任" in focus
    assert "不能仅以删除行为免除赔偿责任" in answer.split("法院的回答：", 1)[1]  # the court's own answer


@pytest.mark.parametrize(("rid", "named"), [
    ("sample-case-002", ("正当使用", "混淆")),
    ("sample-case-004", ("商业秘密", "反向工程")),
    ("sample-case-005", ("区别商品或者服务来源",)),
    ("sample-case-007", ("合法来源",)),
])
def test_case_focus_names_the_defence_the_answer_raises(samples, rid, named):
    focus, labels, decided = focus_text(samples[rid])
    assert all(n in focus for n in named), focus
    assert labels and decided
    reasoning = samples[rid].data["reasoning"]
    assert all(s in reasoning for s in decided)  # the court's answer is quoted, not written


def test_a_stated_focus_is_kept(samples):
    focus, labels, _ = focus_text(samples["sample-case-001"])
    assert focus.startswith("本案争议焦点在于被诉产品是否落入涉案专利权的保护范围")
    assert labels == ["保护范围", "现有技术抗辩"]


def test_an_unrecognised_answer_is_quoted_not_generalised(samples):
    record = samples["sample-case-002"]
    bare = Record(record.kind, {**record.data, "defendant_claims": "原告起诉已超过诉讼时效。"})
    focus, labels, _ = focus_text(bare)
    assert labels == [] and "原告起诉已超过诉讼时效" in focus


# ------------------------------------------------------------------ 2. knowledge 区别


def test_difference_says_only_what_the_records_support(samples):
    others = [r for r in samples.values() if r.kind == "knowledge"]
    seen = 0
    for rid, record in samples.items():
        if record.kind != "knowledge":
            continue
        pairs = knowledge_pairs(record, 42, others)
        diff = next((p for p in pairs if p.id.endswith("/difference")), None)
        if diff is None:
            continue
        seen += 1
        assert not any(t in diff.answer for t in TAUTOLOGY), rid
        if "【区别】" in diff.answer:
            section = diff.answer.split("【区别】", 1)[1]
            cited = re.findall(r"《[^》]+》(?:（[^）]*）)?第[一二三四五六七八九十百零]+条", section)
            assert cited, section  # the articles are named
            own = set(record.data["related_articles"])
            assert any(c in own for c in cited) or "二者均涉及" in section
    assert seen >= 2


def test_difference_names_each_articles_opening_words(samples):
    others = [r for r in samples.values() if r.kind == "knowledge"]
    diff = _pair(knowledge_pairs(samples["sample-knowledge-002"], 42, others), "/difference")
    section = diff.answer.split("【区别】", 1)[1]
    assert "《中华人民共和国著作权法》第三条" in section and "《中华人民共和国著作权法》第二十四条" in section
    assert "不经著作权人许可" in section  # what Article 24 decides, from the store


def test_difference_section_dropped_when_the_bases_are_the_same(samples):
    record = samples["sample-knowledge-002"]
    twin_data = {**record.data, "id": "twin", "concept": "作品的独创性"}
    twin = Record(record.kind, twin_data)
    diff = _pair(knowledge_pairs(record, 42, [record, twin]), "/difference")
    assert "【区别】" not in diff.answer and "有何不同" not in diff.question


# ------------------------------------------------------------------ 3. exemption 认定要件


def test_reverse_engineering_exclusion_is_not_a_requirement(samples):
    record = samples["sample-exemption-003"]
    pairs = exemption_pairs(record, 42)
    elements = _pair(pairs, "/elements").answer
    listed, rest = elements.split("抗辩不能成立或受到限制的情形：", 1)
    assert "不正当手段获取在先" not in listed
    assert "- 不正当手段获取在先：以不正当手段获取商业秘密后再以反向工程为由抗辩的，不予支持。" in rest
    # nor is the exclusion something the defendant is told to prove, or a fact its defence "involves"
    assert "不正当手段获取在先" not in _pair(pairs, "/basis").answer
    assert "不正当手段获取在先" not in _pair(pairs, "/applies").question


def test_elements_are_not_claimed_as_requirements(samples):
    for rid, record in samples.items():
        if record.kind != "exemption":
            continue
        answer = _pair(exemption_pairs(record, 42), "/elements").answer
        assert "审查以下要素" in answer and "要件" not in answer.split("法律依据：")[0], rid
        for text, _ in sort_elements(record.data["keywords"], record.data["explanation"]).exclusions:
            assert text in answer, rid  # every clause of the record that defeats the defence is shown


@pytest.mark.parametrize(("rid", "kind", "keyword"), [
    ("sample-exemption-003", "defeating", "不正当手段获取在先"),
    ("sample-exemption-004", "bounding", "原有范围内继续实施"),
    ("sample-exemption-006", "bounding", "停止销售"),
    ("sample-exemption-007", "examined", "非突出使用"),  # a requirement worded negatively stays one
    ("sample-exemption-005", "examined", "非商业销售"),
])
def test_each_keyword_goes_where_the_explanation_puts_it(samples, rid, kind, keyword):
    d = samples[rid].data
    assert keyword in getattr(sort_elements(d["keywords"], d["explanation"]), kind)


def test_granting_clauses_are_not_exclusions():
    said = clauses("生效裁判认定，甲的，不构成侵犯商业秘密；但乙的，不予支持。丙不能组合，也无须证明无效。")
    assert [(c.text, c.defeats) for c in said] == [
        ("生效裁判认定，甲的，不构成侵犯商业秘密", False), ("乙的，不予支持", True),
        ("丙不能组合", True), ("无须证明无效", False)]


# ------------------------------------------------------------------ all three: determinism and the audit


def test_record_pairs_are_deterministic_and_pass_the_audit(samples):
    others = [r for r in samples.values() if r.kind == "knowledge"]

    def build(seed: int) -> list[QAPair]:
        out: list[QAPair] = []
        for r in samples.values():
            out += case_pairs(r, seed) if r.kind == "case" else \
                knowledge_pairs(r, seed, others) if r.kind == "knowledge" else exemption_pairs(r, seed)
        return out

    first, again = build(42), build(42)
    assert [(p.id, p.question, p.answer) for p in first] == [(p.id, p.question, p.answer) for p in again]
    for n, p in enumerate(first, 1):
        pair = {"id": p.id, "source": p.source, "messages": [
            {"role": "user", "content": p.question}, {"role": "assistant", "content": p.answer}]}
        errors = [f for f in pair_findings(pair, n) if f.is_error]
        assert not errors, (p.id, errors)
