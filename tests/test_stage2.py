"""Stage 2: case segmentation, graded masking rates, and the contrastive loss on a real tiny model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, Qwen3ForCausalLM

from ecmiip.bench.random_models import qwen3_config
from ecmiip.train.cases import (
    DEFAULT_KEEP,
    MaskingConfig,
    graded_mask,
    protected_chars,
    retention,
    segment_case,
    swap_variants,
    token_labels,
)
from ecmiip.train.contrastive import CaseExample, build_triples, contrastive_loss, encode, span_logprob

SAMPLES = Path(__file__).resolve().parents[1] / "train" / "samples" / "cases.jsonl"


def _sample_cases() -> list[dict]:
    return [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_segments_follow_the_judgment_headings():
    text = "原告诉称被告侵权。经审理查明：被告制造了被诉产品。本院认为，依照《中华人民共和国专利法》第十一条之规定，被告构成侵权。判决如下：被告停止侵害。"
    spans = segment_case(text)
    assert [(s.layer, text[s.start : s.end]) for s in spans] == [
        ("facts", "原告诉称被告侵权。经审理查明：被告制造了被诉产品。"),
        ("analysis", "本院认为，"),
        ("citation", "依照《中华人民共和国专利法》第十一条之规定，"),
        ("analysis", "被告构成侵权。"),
        ("reasoning", "判决如下：被告停止侵害。"),
    ]
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert all(a.end == b.start for a, b in zip(spans, spans[1:], strict=False))


def test_every_sample_case_has_all_four_layers():
    for case in _sample_cases():
        layers = {s.layer for s in segment_case(case["full_text"])}
        assert layers == {"facts", "analysis", "citation", "reasoning"}, case["id"]


def test_retention_rates_on_the_sample_cases_are_within_five_points():
    kept = {layer: 0 for layer in DEFAULT_KEEP}
    total = {layer: 0 for layer in DEFAULT_KEEP}
    config = MaskingConfig()
    for i, case in enumerate(_sample_cases()):
        text = case["full_text"]
        flags = graded_mask(text, config, random.Random(i))
        for span in segment_case(text):
            kept[span.layer] += sum(flags[span.start : span.end])
            total[span.layer] += span.end - span.start
    for layer, target in DEFAULT_KEEP.items():
        assert abs(kept[layer] / total[layer] - target) <= 0.05, (layer, kept[layer] / total[layer])


def test_key_terms_and_their_context_are_never_masked():
    config = MaskingConfig(keep={"facts": 0.0, "analysis": 0.0, "citation": 1.0, "reasoning": 0.0})
    text = "经审理查明：被告未经许可使用，主张合理使用。本院认为，被告构成侵权。判决如下：驳回。"
    flags = graded_mask(text, config, random.Random(0))
    protected = protected_chars(text, config)
    for term in ("合理使用", "侵权", "许可"):
        i = text.index(term)
        assert all(flags[i - 4 : i + len(term) + 4]), term
    assert not any(f for f, p in zip(flags, protected, strict=True) if not p and text[0] != "《")  # everything else masked
    assert retention(text, flags)["analysis"] < 1.0


def test_variants_and_token_labels(tiny_qwen3_dir):
    config = MaskingConfig(variant_rate=1.0)
    assert swap_variants("被告侵害原告权利", config, random.Random(0)) == "被告侵犯原告权利"
    tok = AutoTokenizer.from_pretrained(tiny_qwen3_dir)
    text = "本院认为，被告构成侵权。"
    enc = tok(text, return_offsets_mapping=True)
    flags = [i >= 5 for i in range(len(text))]  # "本院认为，" out of the loss
    labels = token_labels(enc["input_ids"], enc["offset_mapping"], flags)
    kept_text = "".join(tok.decode([t]) for t in labels if t != -100)
    assert kept_text == "被告构成侵权。"


def _case_examples() -> list[CaseExample]:
    return [CaseExample(c["facts"], tuple(c["cited_articles"]), c["judgment"]) for c in _sample_cases()]


def test_triples_are_built_from_the_corpus():
    cases = _case_examples()
    triples = build_triples(cases, seed=0)
    assert len(triples) == len(cases)
    for case, t in zip(cases, triples, strict=True):
        assert case.facts in t.positive and case.facts in t.negative
        assert case.facts not in t.hard_negative  # similar facts, from another case
        assert t.positive != t.negative != t.hard_negative
        assert all(a in t.positive for a in case.articles)


@pytest.mark.slow
def test_contrastive_loss_falls_on_a_toy_set(tiny_qwen3_dir):
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tiny_qwen3_dir)
    tok.padding_side = "right"
    model = Qwen3ForCausalLM(qwen3_config(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                          num_attention_heads=2, num_key_value_heads=1, head_dim=32))
    cases = [CaseExample(c.facts[:60], c.articles, c.judgment[:60]) for c in _case_examples()[:3]]
    triples = build_triples(cases, seed=0)
    pos = encode(tok, [t.positive for t in triples])
    negs = [encode(tok, [t.negative for t in triples]), encode(tok, [t.hard_negative for t in triples])]
    assert pos["judgment_mask"].any(dim=1).all()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses, hinges = [], []
    for _ in range(10):
        loss, parts = contrastive_loss(model, pos, negs, lam=1.0, margin=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        hinges.append(parts["hinge"])
    assert losses[-1] < losses[0] - 1.0, losses
    assert hinges[-1] < 0.5 * hinges[0], hinges
    with torch.no_grad():
        assert (span_logprob(model, pos) > span_logprob(model, negs[0])).all()
