"""Stage 2 contrastive triples: the right law and judgment must be likelier than wrong ones.

For each case: a positive (facts + the articles the court applied + its judgment), a negative (same
facts + unrelated articles + the opposite judgment) and a hard negative (the most similar other
case's facts + related but inapplicable articles of the same law + a plausible wrong judgment).

    loss = LM(text) + λ · mean_neg max(0, m − (logp(pos) − logp(neg)))

where logp is the mean per-token log-probability of the judgment span, so long and short judgments
weigh the same. In stage 2 (``train/pretrain.py``) the LM text is the graded-masked case text: the
paper's graded masking keeps per-layer shares of a judgment's facts, analysis, citations and
reasoning, which the rendered positive (facts, articles, judgment only) does not have. Without a
separate text the LM loss falls on the positive.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ecmiip.core.citations import CITATION_RE, article_number
from ecmiip.core.numerals import chinese_to_int
from ecmiip.core.statutes import Article, current_articles

JUDGMENT_MARK = "裁判结果："
_DISMISS = "驳回原告的全部诉讼请求。"
_INFRINGE = "被告立即停止侵权行为，并赔偿原告经济损失。"


@dataclass(frozen=True)
class CaseExample:
    """What the triples need of a case record."""

    facts: str
    articles: tuple[str, ...]  # citations as 《法律名》第X条
    judgment: str


@dataclass(frozen=True)
class Triple:
    positive: str
    negative: str
    hard_negative: str


def render(facts: str, articles: Sequence[str], judgment: str) -> str:
    return f"案件事实：{facts}\n适用法律：{'、'.join(articles)}\n{JUDGMENT_MARK}{judgment}"


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _similarity(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / max(1, len(x | y))


def _opposite(judgment: str) -> str:
    return _INFRINGE if "驳回" in judgment else _DISMISS


def _articles_by_law() -> dict[str, list[Article]]:
    """Articles in force today by law: a negative must be law that exists, never a superseded text."""
    laws: dict[str, list[Article]] = {}
    for a in current_articles():
        laws.setdefault(a.law, []).append(a)
    return laws


def _related_articles(cited: Sequence[str], laws: dict[str, list[Article]], rng: random.Random) -> list[str]:
    """Articles of the same laws near the cited ones, but not cited: related, yet not applicable."""
    out = []
    for citation in cited:
        m = CITATION_RE.search(citation)
        if not m or m.group("version") or m.group("law") not in laws:
            continue  # a citation of a named (older) version is not paired with the current articles
        number = chinese_to_int(m.group("num"))
        pool = [a for a in laws[m.group("law")] if a.article.startswith("第") and a.citation not in cited]
        pool.sort(key=lambda a: abs((article_number(a.article) or 0) - number))
        if pool:
            out.append(rng.choice(pool[:4]).citation)
    return out or [rng.choice(current_articles()).citation]


def build_triples(cases: Sequence[CaseExample], seed: int = 0) -> list[Triple]:
    rng = random.Random(seed)
    laws = _articles_by_law()
    unrelated_pool = [a.citation for a in current_articles()]
    triples = []
    for i, case in enumerate(cases):
        others = [c for j, c in enumerate(cases) if j != i]
        similar = max(others, key=lambda c: _similarity(c.facts, case.facts)) if others else case
        wrong = [c for c in rng.sample(unrelated_pool, 3) if c not in case.articles][:2]
        hard_judgment = similar.judgment if similar.judgment != case.judgment else _opposite(case.judgment)
        triples.append(
            Triple(
                positive=render(case.facts, case.articles, case.judgment),
                negative=render(case.facts, wrong, _opposite(case.judgment)),
                hard_negative=render(similar.facts, _related_articles(case.articles, laws, rng), hard_judgment),
            )
        )
    return triples


def encode(tokenizer, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Token ids, attention mask and a mask of the judgment span (the tokens after JUDGMENT_MARK)."""
    enc = tokenizer(list(texts), return_offsets_mapping=True, padding=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")
    starts = torch.tensor([t.index(JUDGMENT_MARK) + len(JUDGMENT_MARK) for t in texts]).unsqueeze(1)
    enc["judgment_mask"] = (offsets[..., 0] >= starts) & (offsets[..., 1] > offsets[..., 0]) & enc["attention_mask"].bool()
    return dict(enc)


def token_logprobs(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """log p(token_t | tokens_<t) for t = 1…T-1, one forward pass."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["input_ids"][:, 1:]
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.float()
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def span_logprob(model, batch: dict[str, torch.Tensor], logp: torch.Tensor | None = None) -> torch.Tensor:
    """Mean log-probability per token of the judgment span, one value per sequence."""
    logp = token_logprobs(model, batch) if logp is None else logp
    return _masked_mean(logp, batch["judgment_mask"][:, 1:])


def hinge_loss(model, positive: dict, negatives: Sequence[dict], *, margin: float = 1.0, logp: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over negatives of max(0, m − (logp(pos) − logp(neg))) on the judgment span."""
    pos = span_logprob(model, positive, logp)
    return torch.stack([F.relu(margin - (pos - span_logprob(model, neg))).mean() for neg in negatives]).mean()


def contrastive_loss(
    model,
    positive: dict,
    negatives: Sequence[dict],
    *,
    lam: float = 0.5,
    margin: float = 1.0,
    lm_batch: dict | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """LM loss plus λ × the mean hinge of each negative on the judgment span.

    The LM loss covers ``lm_batch`` (stage 2: the graded-masked case text), else the positive, and
    only its tokens that are in the loss: ``labels`` ≠ -100 when the batch carries graded-masking
    labels, else every real token. On the positive its forward pass is shared with the hinge.
    """
    text = positive if lm_batch is None else lm_batch
    text_logp = token_logprobs(model, text)
    logp = text_logp if lm_batch is None else token_logprobs(model, positive)
    in_loss = text["labels"][:, 1:] != -100 if "labels" in text else text["attention_mask"][:, 1:].bool()
    lm = -(text_logp * in_loss).sum() / in_loss.sum().clamp(min=1)
    hinge = hinge_loss(model, positive, negatives, margin=margin, logp=logp)
    return lm + lam * hinge, {"lm": lm.item(), "hinge": hinge.item()}
