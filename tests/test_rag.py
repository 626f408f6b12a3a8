"""Retrieval for ``--rag``: the right articles for everyday questions, the same ranking every run and
in every process, a context block the model can cite from, and no dependency on the training code."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from ecmiip.chat.rag import format_context, label, retrieve, sources, tokenize

PATENT_11 = "《中华人民共和国专利法》第十一条"


@pytest.mark.parametrize("question", [
    "未经许可制造、销售他人的专利产品，是否构成专利侵权？",
    "我的发明专利被别人仿制并销售，这算专利侵权吗？",
    "专利侵权",
])
def test_patent_infringement_finds_article_11(question):
    assert PATENT_11 in sources(retrieve(question, k=5))


@pytest.mark.parametrize("question", [
    "他人在同一种商品上使用与我的注册商标近似的商标，容易导致混淆，构成侵权吗？",
    "商标近似如何判断？",
])
def test_trademark_similarity_finds_the_trademark_law(question):
    found = retrieve(question, k=5)
    assert any(a.law == "中华人民共和国商标法" for a, _ in found), sources(found)


def test_trade_secrets_and_online_dissemination():
    found = retrieve("员工离职后泄露公司客户名单，是否侵犯商业秘密？")
    assert any("侵犯商业秘密民事案件" in a.law for a, _ in found), sources(found)
    assert all(a.doc.in_force_on(date.today()) for a, _ in found)  # the 2019 反不正当竞争法 is history
    history = retrieve("侵犯商业秘密的行为有哪些？", k=60, include_superseded=True)
    old = [a for a, _ in history if a.law.endswith("反不正当竞争法")]
    assert old and all(not a.doc.in_force_on(date.today()) for a in old)  # asked for, history comes, scored down
    assert "已被《中华人民共和国反不正当竞争法》（2025修订" in label(old[0])
    assert history[0][0].doc.in_force_on(date.today())
    found = retrieve("短视频平台未经许可传播他人的电影，平台要承担什么责任？")
    assert any("信息网络传播权" in a.law for a, _ in found), sources(found)


def test_ranking_is_ordered_bounded_and_deterministic():
    question = "惩罚性赔偿的适用条件是什么？"
    first = retrieve(question, k=8)
    assert len(first) == 8 and first == retrieve(question, k=8)
    scores = [s for _, s in first]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    assert retrieve(question, k=3) == first[:3]
    code = ("import json; from ecmiip.chat.rag import retrieve; "
            f"print(json.dumps([[a.citation, s] for a, s in retrieve({question!r}, k=8)]))")
    other = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert other == [[a.citation, s] for a, s in first]


def test_nothing_to_match_returns_nothing():
    assert retrieve("") == [] and retrieve("？！") == [] and retrieve("zzqx") == []
    assert retrieve("专利侵权", k=0) == []
    assert format_context([]) == "" and sources([]) == []


def test_articles_the_question_cites_come_first():
    found = retrieve("《专利法》第十二条和商标法第四十三条分别规定了什么？", k=5)
    assert sources(found)[:2] == ["《中华人民共和国专利法》第十二条", "《中华人民共和国商标法》第四十三条"]
    assert len(found) == 5 and len(set(sources(found))) == 5


def test_context_quotes_each_article_for_citing():
    found = retrieve("未经许可制造、销售他人的专利产品，是否构成专利侵权？", k=3)
    block = format_context(found)
    assert "效力信息核对至" in block
    for (article, _), citation in zip(found, sources(found), strict=True):
        assert citation.endswith(article.article) and f"{label(article)}：{article.text}" in block
        assert f"（{article.version}）" in label(article) and "现行有效" in label(article)
    # a title nested in a title is quoted with 〈〉, so the citation parses back to the same article
    found = retrieve("反不正当竞争法司法解释 仿冒混淆 有一定影响的商品名称", k=10)
    nested = [c for c in sources(found) if "〈" in c]
    assert nested and all("《" not in c[1:c.index("》")] for c in nested)


def test_tokenizer_bigrams_and_ascii_words():
    assert tokenize("专利法 APP第12条") == ["专利", "利法", "app", "第", "12", "条"]
    assert tokenize("《权》") == ["权"]


def test_chat_does_not_import_training_code():
    code = ("import sys, ecmiip.chat.rag, ecmiip.chat.drafts, ecmiip.core.citations, ecmiip.core.prompts; "
            "print([m for m in sys.modules if m.startswith('ecmiip.train')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
