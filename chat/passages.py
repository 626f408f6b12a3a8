"""Which paragraphs of an attached document go before the model, and whether the answer cites real ones.

A document that fits the context goes in whole. One that does not is cut to the paragraphs most
relevant to the question: BM25 over the paragraphs (the tokens of :func:`ecmiip.chat.rag.tokenize`,
Chinese bigrams, plus single characters weighted as rag weighs them, so 卡扣 still meets 卡紧), best
first, each kept while it fits the budget, then shown in document order; the user is told which were
left out. Nothing is random and ties go to the earlier paragraph, so the same question on the same
document gives the same passages.

Each passage carries its number as 〔第N段〕 and the answer must cite that way; :func:`check_paragraph_refs`
finds every 〔第N段〕 / [第N段] / 第N段 (Arabic or Chinese numerals, lists 第3、5段 and ranges 第3至5段) in an
answer and says whether the model was shown that paragraph, as statute citations are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from ecmiip.chat.documents import LoadedDocument, Paragraph
from ecmiip.chat.rag import CHAR_WEIGHT, K1, B, tokenize
from ecmiip.core.numerals import ARTICLE_NUMERAL, number_or_none

_HAN_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_NUM = rf"(?:{ARTICLE_NUMERAL})"
#: 〔第3段〕 [第3段] 【第三段】 第3段 第3、5段 第3至5段 第3-5段
PARAGRAPH_REF = re.compile(rf"[〔\[【]?第({_NUM}(?:\s*[、，,和及与至到~～\-—–]\s*(?:第)?{_NUM})*)段[〕\]】]?")
_REF_PART = re.compile(rf"({_NUM})|([至到~～\-—–])")
#: A range longer than this in one reference is not expanded (第1至20000段 is not 20000 citations).
MAX_RANGE = 200


@dataclass(frozen=True)
class Selection:
    kept: tuple[Paragraph, ...]      # in document order
    left_out: tuple[Paragraph, ...]  # in document order

    @property
    def complete(self) -> bool:
        return not self.left_out


@dataclass(frozen=True)
class ParagraphRef:
    text: str      # as the answer wrote it: 〔第3段〕, 第3至5段
    number: int    # one paragraph it names
    given: bool    # among the passages the model was shown
    exists: bool   # in the document at all


def passage(p: Paragraph) -> str:
    """One passage as the model sees it."""
    return f"〔第{p.number}段〕{p.text}"


def header(doc: LoadedDocument, selection: Selection) -> str:
    """The line before the passages: which file, how much of it is shown, how to cite."""
    total = len(doc.paragraphs)
    shown = (f"共 {total} 段，全文如下" if selection.complete else
             f"共 {total} 段，篇幅所限只列出与问题最相关的 {len(selection.kept)} 段，"
             f"其余 {len(selection.left_out)} 段未列出")
    return (f"【用户提供的文件】“{doc.name}”（{shown}）。回答中涉及文件内容时，须以〔第N段〕注明所依据的段落，"
            "只可引用下列段落：")


def format_document(doc: LoadedDocument, selection: Selection) -> str:
    """The block put before the question: the header, then one ``〔第N段〕text`` per kept paragraph."""
    return "\n".join([header(doc, selection), *map(passage, selection.kept)])


def select_passages(doc: LoadedDocument, question: str, budget_tokens: int,
                    count: Callable[[str], int]) -> Selection:
    """The paragraphs of ``doc`` to show for ``question`` within ``budget_tokens`` (as ``count`` counts).

    All of them when the whole block fits. Otherwise paragraphs in order of BM25 relevance to the
    question (then, those sharing no word with it, in document order), each kept if it still fits;
    the block is counted once more at the end and the least relevant kept ones dropped should the
    count not be additive. ``kept`` is empty when not even the header fits: the caller says so.
    """
    everything = Selection(doc.paragraphs, ())
    if count(format_document(doc, everything)) <= budget_tokens:
        return everything
    scores = _scores(question, doc.paragraphs)
    ranked = [int(i) for i in np.lexsort((np.arange(len(scores)), -scores))]
    probe = Selection((), doc.paragraphs)  # the header of a partial selection: its wording does not change length much
    room = budget_tokens - count(header(doc, probe))
    chosen: list[int] = []
    for i in ranked:
        cost = count(passage(doc.paragraphs[i])) + 1  # + the line break
        if cost <= room:
            chosen.append(i)
            room -= cost
    while chosen:
        selection = _selection(doc, chosen)
        if count(format_document(doc, selection)) <= budget_tokens:
            return selection
        chosen.pop()  # the least relevant of those kept
    return Selection((), doc.paragraphs)


def _selection(doc: LoadedDocument, indices: list[int]) -> Selection:
    keep = set(indices)
    return Selection(tuple(p for i, p in enumerate(doc.paragraphs) if i in keep),
                     tuple(p for i, p in enumerate(doc.paragraphs) if i not in keep))


def match_passages(query: str, paragraphs: Sequence[Paragraph], k: int) -> list[tuple[Paragraph, float]]:
    """The ``k`` paragraphs that best match ``query`` with their BM25 scores, best first, ties in document
    order; paragraphs sharing no word or character with the query are never returned."""
    if k <= 0 or not paragraphs:
        return []
    scores = _scores(query, paragraphs)
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [(paragraphs[i], float(scores[i])) for i in order[:k] if scores[i] > 0]


def _terms(text: str) -> list[str]:
    """Bigrams and words (rag's tokens) plus every Chinese character, marked apart from one-character words."""
    return tokenize(text) + ["#" + c for c in _HAN_RE.findall(text)]


def _scores(query: str, paragraphs: Sequence[Paragraph]) -> np.ndarray:
    """BM25 of each paragraph for ``query``; characters weigh ``CHAR_WEIGHT`` of a bigram, as in rag."""
    out = np.zeros(len(paragraphs), dtype=np.float64)
    weights: dict[str, float] = {}
    for term in _terms(query):
        weights[term] = weights.get(term, 0.0) + (CHAR_WEIGHT if term.startswith("#") else 1.0)
    if not weights:
        return out
    retriever = bm25s.BM25(k1=K1, b=B)
    retriever.index([_terms(p.text) or ["\u0000"] for p in paragraphs], show_progress=False)
    vocab = retriever.vocab_dict
    for term, weight in weights.items():
        if term in vocab:
            out += weight * np.asarray(retriever.get_scores([term]), dtype=np.float64)
    return out


def paragraph_refs(answer: str, doc: LoadedDocument, selection: Selection) -> list[ParagraphRef]:
    """Every paragraph the answer cites, once each in order of first mention, and whether it was shown
    to the model and whether the document has it at all."""
    given = {p.number for p in selection.kept}
    total = len(doc.paragraphs)
    out: list[ParagraphRef] = []
    seen: set[int] = set()
    for text, number in _cited(answer):
        if number not in seen:
            seen.add(number)
            out.append(ParagraphRef(text, number, number in given, 1 <= number <= total))
    return out


def check_paragraph_refs(answer: str, selection: Selection) -> list[tuple[str, bool]]:
    """Each reference in ``answer`` as written (〔第3段〕, 第3至5段), once, and whether every paragraph it
    names was among the passages given to the model."""
    given = {p.number for p in selection.kept}
    verdicts: dict[str, bool] = {}
    for text, number in _cited(answer):
        verdicts[text] = verdicts.get(text, True) and number in given
    return list(verdicts.items())


def _cited(answer: str) -> list[tuple[str, int]]:
    """(reference as written, paragraph number) for each paragraph each reference names."""
    out: list[tuple[str, int]] = []
    for m in PARAGRAPH_REF.finditer(answer):
        numbers: list[int] = []
        pending_range = False
        for part in _REF_PART.finditer(m.group(1)):
            if part.group(2):
                pending_range = True
                continue
            n = number_or_none(part.group(1))
            if n is None:
                continue
            if pending_range and numbers and 0 < n - numbers[-1] <= MAX_RANGE:
                numbers += range(numbers[-1] + 1, n + 1)
            else:
                numbers.append(n)
            pending_range = False
        out += [(m.group(0), n) for n in numbers]
    return out
