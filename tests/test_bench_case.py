"""The ``case`` task: verdict and article reading, per-class figures, proven with fake backends."""

from __future__ import annotations

import json

import pytest

from ecmiip.bench import data as bench_data
from ecmiip.bench.case import (
    INFRINGING,
    NOT_INFRINGING,
    CaseGenerationScorer,
    article_key,
    as_mcq,
    cited_keys,
    extract_verdict,
    summarize_case,
)
from ecmiip.chat.backends import Delta


def _cases() -> list[bench_data.CaseItem]:
    loaded = bench_data.load(bench_data.DEFAULT_DATA["case"], "case")
    assert not loaded.invalid
    return loaded.items


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("结论：侵权\n依据《商标法》第五十七条", INFRINGING),
        ("结论：不侵权\n依据《专利法》第七十五条", NOT_INFRINGING),
        ("结论: 被告不构成侵犯专利权", NOT_INFRINGING),
        ("被告的行为构成对原告商标权的侵权。理由如下", INFRINGING),
        ("我认为被告不构成侵权，因为其属于合理使用。", NOT_INFRINGING),
        ("<think>初看像是不侵权，但……</think>结论：侵权", INFRINGING),
        ("本案的关键在于是否侵权。\n结论：不侵权", NOT_INFRINGING),  # the marker wins over line one
        ("结论：侵权\n如果被告能证明现有技术，则不侵权", INFRINGING),
        ("无法判断，需要更多证据", None),
        ("", None),
    ],
)
def test_verdict_extraction(text, verdict):
    assert extract_verdict(text) == verdict


def test_articles_match_whatever_way_they_are_written():
    assert article_key("《专利法》第十一条") == article_key("《中华人民共和国专利法》第11条")
    answer = "<think>《著作权法》第十条</think>结论：不侵权\n依据《专利法》第七十五条第（一）项、《专利法》第75条及第六十七条"
    assert cited_keys(answer) == [("中华人民共和国专利法", 75), ("中华人民共和国专利法", 67)]


class CaseOracle:
    """Answers every shipped case right, citing its articles."""

    def __init__(self, items):
        self.by_facts = {it.facts: it for it in items}

    def stream(self, messages, *, think, sampling, max_tokens, stop_event=None):
        facts = messages[-1]["content"].split("案情：", 1)[1]
        item = self.by_facts[facts]
        yield Delta("thinking", "先看事实")
        yield Delta("content", f"结论：{item.judgment}\n依据：" + "、".join(item.articles))


class AlwaysInfringing:
    def stream(self, messages, *, think, sampling, max_tokens, stop_event=None):
        yield Delta("content", "结论：侵权")


def test_oracle_scores_100_percent_with_every_article():
    items = _cases()
    s = summarize_case([CaseGenerationScorer(CaseOracle(items)).score(it) for it in items])
    assert s["accuracy"] == {"HX": 1.0, "NOM": 1.0, "overall": 1.0}
    assert s["per_class"][INFRINGING]["precision"] == s["per_class"][NOT_INFRINGING]["recall"] == 1.0
    assert s["articles"] == {"precision": 1.0, "recall": 1.0, "items": len(items)}
    assert s["no_verdict"] == 0


def test_constant_backend_scores_the_base_rate_and_the_class_figures_say_why():
    items = _cases()
    s = summarize_case([CaseGenerationScorer(AlwaysInfringing()).score(it) for it in items])
    positives = sum(it.judgment == INFRINGING for it in items)
    assert s["accuracy"]["overall"] == positives / len(items)
    assert s["per_class"][INFRINGING] == {"precision": positives / len(items), "recall": 1.0, "support": positives}
    assert s["per_class"][NOT_INFRINGING]["precision"] is None  # never predicted
    assert s["per_class"][NOT_INFRINGING]["recall"] == 0.0
    assert s["articles"]["recall"] == 0.0


def test_likelihood_form_of_a_case_is_a_two_option_question():
    item = _cases()[0]
    q = as_mcq(item)
    assert q.options == {"A": "构成侵权", "B": "不构成侵权"} and q.source == item.kind
    assert q.answer_letters == frozenset("A" if item.judgment == INFRINGING else "B")


def test_bad_case_lines_are_reported(tmp_path):
    good = {"facts": "被告未经许可复制原告软件并销售。", "judgment": "构成侵权", "articles": ["《著作权法》第十条"]}
    lines = [
        json.dumps(good, ensure_ascii=False),
        json.dumps({**good, "judgment": "部分侵权"}, ensure_ascii=False),
        json.dumps({**good, "articles": ["著作权法十条"]}, ensure_ascii=False),
        json.dumps({"judgment": "侵权"}, ensure_ascii=False),
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = bench_data.load(path, "case")
    assert [it.judgment for it in loaded.items] == [INFRINGING]
    assert [line.split(": ")[0] for line in loaded.invalid] == [f"{path}:{n}" for n in (2, 3, 4)]
    assert "侵权 or 不侵权" in loaded.invalid[0] and "'facts'" in loaded.invalid[2]


def test_calibrated_threshold_is_cross_validated():
    """Two-answer items whose second letter is a bit weaker: the fixed 0.5 rule misses, calibration finds it."""
    from ecmiip.bench.calibrate import best_threshold, calibrate

    records = [{"probs": {"A": 0.6, "B": 0.25, "C": 0.15}, "answer": ["A", "B"]} for _ in range(20)]
    records += [{"probs": {"A": 0.8, "B": 0.15, "C": 0.05}, "answer": ["A"]} for _ in range(20)]
    assert best_threshold(records) in (0.25, 0.3, 0.35, 0.4)
    c = calibrate(records)
    assert c["accuracy_cv"] == 1.0 and c["folds"] == 5
    assert calibrate(records[:5]) is None  # too few items to hold any out


def test_table_labels_are_the_shortest_tails_that_differ():
    from ecmiip.bench.report import short_labels

    assert short_labels(["/m/base", "/m/base+/runs/sft/adapter", "ollama:ec-miip"]) == {
        "/m/base": "base", "/m/base+/runs/sft/adapter": "base+adapter", "ollama:ec-miip": "ollama:ec-miip"}
    assert short_labels(["/a/dist/q.gguf", "/b/dist/q.gguf"]) == {"/a/dist/q.gguf": "a/dist/q.gguf",
                                                                   "/b/dist/q.gguf": "b/dist/q.gguf"}


def test_any_prefix_of_the_shipped_cases_is_balanced():
    """--limit takes the first items: the sample alternates verdicts so a prefix is no one-class set."""
    items = _cases()
    for n in (2, 4, 8):
        verdicts = [it.judgment for it in items[:n]]
        assert verdicts.count(INFRINGING) == verdicts.count(NOT_INFRINGING)
