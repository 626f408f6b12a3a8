"""Choosing the passages of an attached document (BM25 within a token budget) and checking the 〔第N段〕
references of an answer against them; no model: ``len`` stands in for the token count."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecmiip.chat.documents import LoadedDocument, Paragraph, read_document
from ecmiip.chat.passages import (
    Selection,
    check_paragraph_refs,
    format_document,
    match_passages,
    paragraph_refs,
    select_passages,
)
from tests import doc_fixtures as F

CONTRACT = read_document(F.CONTRACT_MD)
QUESTION = "改进技术归谁所有？乙方的改进要无偿转让给甲方吗"


def doc_of(*texts: str) -> LoadedDocument:
    return LoadedDocument(Path("测试.txt"), "txt", tuple(Paragraph(i, t) for i, t in enumerate(texts, 1)))


def test_whole_document_when_it_fits():
    selection = select_passages(CONTRACT, QUESTION, 10**6, len)
    assert selection.kept == CONTRACT.paragraphs and selection.left_out == () and selection.complete
    block = format_document(CONTRACT, selection)
    assert block.splitlines()[0].startswith("【用户提供的文件】“license_contract.md”（共 89 段，全文如下）")
    assert "〔第N段〕" in block.splitlines()[0]
    assert block.splitlines()[1:] == [f"〔第{p.number}段〕{p.text}" for p in CONTRACT.paragraphs]


def test_under_a_budget_the_bm25_best_in_document_order():
    budget = 700
    selection = select_passages(CONTRACT, QUESTION, budget, len)
    kept = [p.number for p in selection.kept]
    assert kept == sorted(kept) and 0 < len(kept) < 89
    assert {53, 54, 55, 56} <= set(kept)                       # 第十一条 改进技术的归属 and its items
    best = [p.number for p, _ in match_passages(QUESTION, CONTRACT.paragraphs, 89)]
    assert best[0] in kept
    assert [p.number for p in selection.left_out] == [n for n in range(1, 90) if n not in kept]
    block = format_document(CONTRACT, selection)
    assert len(block) <= budget
    assert f"只列出与问题最相关的 {len(kept)} 段，其余 {89 - len(kept)} 段未列出" in block
    assert select_passages(CONTRACT, QUESTION, budget, len) == selection  # deterministic


def test_question_sharing_no_word_fills_in_document_order():
    selection = select_passages(CONTRACT, "hello", 300, len)
    assert selection.kept[0].number == 1 and [p.number for p in selection.kept][:3] == [1, 2, 3]


def test_nothing_fits_returns_nothing_kept():
    selection = select_passages(CONTRACT, QUESTION, 20, len)
    assert selection.kept == () and selection.left_out == CONTRACT.paragraphs


def test_a_count_that_is_not_additive_still_ends_within_budget():
    def count(text: str) -> int:  # each passage costs more in company than alone
        return len(text) + 15 * text.count("〔第")

    selection = select_passages(CONTRACT, QUESTION, 700, count)
    assert count(format_document(CONTRACT, selection)) <= 700 and selection.kept


def test_match_passages_claim_features_meet_their_product_paragraphs():
    product = read_document(F.PRODUCT_TXT)
    claim = read_document(F.CLAIMS_TXT).paragraphs[0].text
    features = claim.split("包括：", 1)[1].rstrip("。").split("；")
    best = [match_passages(feature, product.paragraphs, 1)[0][0].number for feature in features]
    # 杯体 literal, 螺纹连接 → 卡扣 (equivalent), 电机, 刀片, 锂电池 literal; 安全开关 → the paragraph
    # saying the top of the base has no switch
    assert best == [3, 4, 5, 6, 7, 8]


def test_match_passages_order_ties_and_zero_scores():
    doc = doc_of("保密义务", "无关内容", "保密义务", "保密义务和竞业限制")
    results = match_passages("保密", doc.paragraphs, 10)
    assert [p.number for p, _ in results][:2] == [1, 3]            # a tie goes to the earlier paragraph
    assert all(score > 0 for _, score in results) and 2 not in [p.number for p, _ in results]
    assert match_passages("保密", doc.paragraphs, 0) == [] and match_passages("", doc.paragraphs, 3) == []
    assert match_passages("保密", (), 3) == []


def test_paragraph_refs_checked_against_what_was_given():
    selection = Selection(tuple(p for p in CONTRACT.paragraphs if p.number in (53, 54, 55)),
                          tuple(p for p in CONTRACT.paragraphs if p.number not in (53, 54, 55)))
    answer = ("依据〔第55段〕，乙方的改进须无偿转让（第五十五段、[第54段]）；又见【第53至55段】。"
              "第3段未提供，第200段不存在；第一阶段、第十一条不是段落引用。〔第55段〕再次引用。")
    assert check_paragraph_refs(answer, selection) == [
        ("〔第55段〕", True), ("第五十五段", True), ("[第54段]", True), ("【第53至55段】", True),
        ("第3段", False), ("第200段", False)]
    refs = paragraph_refs(answer, CONTRACT, selection)
    assert [(r.number, r.given, r.exists) for r in refs] == [
        (55, True, True), (54, True, True), (53, True, True), (3, False, True), (200, False, False)]


@pytest.mark.parametrize("text, numbers", [
    ("第3、5段", [3, 5]), ("第3和第5段", [3, 5]), ("第3-5段", [3, 4, 5]), ("第三至第五段", [3, 4, 5]),
    ("第1至9999段", [1, 9999]),                                   # a huge range is not expanded
])
def test_lists_and_ranges(text, numbers):
    doc = doc_of(*[f"段{i}" for i in range(1, 10)])
    assert [r.number for r in paragraph_refs(f"见{text}。", doc, Selection(doc.paragraphs, ()))] == numbers
