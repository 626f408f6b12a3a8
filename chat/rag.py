"""Retrieval of statute articles for a question (``--rag``): BM25 over the shipped database, offline.

Chinese text is tokenised as overlapping character bigrams (a lone character stays a unigram) plus
lower-cased ASCII words and numbers: no segmenter, no model, and the same ranking on every machine.
Each article is indexed with its law's short title and its chapter, so 商标 in a question pulls
商标法 articles up. Questions are asked in everyday words and statutes use their own (专利侵权 vs
未经专利权人许可…实施其专利), so a short table adds the statutory wording of common terms to the
query. Articles the question cites itself (《专利法》第十一条怎么理解) come first. The index is built on
first use (well under a second) and kept for the process.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import bm25s
import numpy as np

from ecmiip.core.citations import cite, short_title, verify_citations
from ecmiip.core.statutes import Article, all_articles

_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+")

# Everyday term → the words statutes use for it (added to the query, never replacing it).
EXPANSIONS = {
    "专利侵权": "侵犯专利权 未经专利权人许可 实施其专利",
    "商标侵权": "侵犯注册商标专用权",
    "著作权侵权": "侵犯著作权 未经著作权人许可",
    "版权": "著作权",
    "盗版": "未经著作权人许可 复制 发行 侵权复制品",
    "抄袭": "剽窃",
    "仿制": "制造",
    "仿冒": "混淆",
    "山寨": "近似 混淆",
    "商业机密": "商业秘密",
    "离职": "保密义务",
    "赔偿": "赔偿数额",
    "平台": "网络服务提供者",
    "下架": "删除 屏蔽 断开链接",
    "软件": "计算机软件",
}

# BM25 parameters: a lower b than the usual 0.75 suits articles, whose length says little.
K1, B = 1.2, 0.5

CONTEXT_HEADER = "【参考条文】以下条文检索自离线法条库，按相关度排序，可能与问题无关；只引用确实适用的条文："


def tokenize(text: str) -> list[str]:
    """Character bigrams of each run of Chinese, plus ASCII words and numbers, lower-cased."""
    tokens: list[str] = []
    for m in _RUN_RE.finditer(text):
        run = m.group(0)
        if run.isascii():
            tokens.append(run.lower())
        elif len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    return tokens


def expand_query(question: str) -> str:
    """The question followed by the statutory wording of the everyday terms it uses."""
    extra = [words for term, words in EXPANSIONS.items() if term in question]
    return " ".join([question, *extra])


def _document(a: Article) -> str:
    return f"{short_title(a.law)} {a.chapter} {a.text}"


@lru_cache(maxsize=1)
def _index() -> tuple[bm25s.BM25, dict[str, int]]:
    """The BM25 index over every article, and its vocabulary (built once per process)."""
    retriever = bm25s.BM25(k1=K1, b=B)
    retriever.index([tokenize(_document(a)) for a in all_articles()], show_progress=False)
    return retriever, retriever.vocab_dict


def retrieve(question: str, k: int = 5) -> list[tuple[Article, float]]:
    """The ``k`` articles most relevant to ``question`` with their scores, best first.

    Articles the question cites come first, scored ``inf``; then BM25 order, ties in database
    order, so the result is deterministic. Articles sharing no token with the question never come.
    """
    if k <= 0:
        return []
    cited = [c.article for c in verify_citations(question) if c.article is not None]
    results = [(a, math.inf) for a in dict.fromkeys(cited)][:k]
    retriever, vocab = _index()
    tokens = [t for t in tokenize(expand_query(question)) if t in vocab]
    if not tokens:
        return results
    scores = np.asarray(retriever.get_scores(tokens), dtype=np.float64)
    articles = all_articles()
    for i in np.lexsort((np.arange(len(scores)), -scores)):
        if len(results) >= k or scores[i] <= 0:
            break
        if articles[i] not in cited:
            results.append((articles[i], float(scores[i])))
    return results


def format_context(results: list[tuple[Article, float]]) -> str:
    """The block the client puts before the question: one ``《法》第X条：text`` per article."""
    if not results:
        return ""
    return "\n\n".join([CONTEXT_HEADER, *(f"{cite(a)}：{a.text}" for a, _ in results)])


def sources(results: list[tuple[Article, float]]) -> list[str]:
    """The retrieved articles as citations, to list under the answer."""
    return [cite(a) for a, _ in results]
