"""Per-item prompt accounting on the real tiny Qwen3 (llama.cpp and transformers): after the first item
only the item's own text and the template tokens around it are evaluated, the rest comes from the cache."""

from __future__ import annotations

import os
import time

import pytest

from ecmiip.bench.accounting import item_cost, question_text, question_tokens, summarize_cost
from ecmiip.bench.data import CaseItem, McqItem, ReciteItem
from ecmiip.bench.scorers import GenerationScorer, LikelihoodScorer, mcq_messages
from ecmiip.chat.backends import Stats
from ecmiip.chat.ollama_backend import OllamaBackend
from ecmiip.chat.open_model import open_model

# A BPE token may span the join of the question with the template text on either side of it, so the
# cache can stop one token short at the start and the suffix can hold one token more at the end.
JOIN_TOKENS = 2

QUESTIONS = [
    ("甲公司未经许可制造、销售他人专利产品，其行为属于：", ["侵犯专利权", "合理使用", "先用权", "权利用尽"]),
    ("根据商标法，注册商标的有效期为多少年？", ["五年", "十年", "十五年", "二十年"]),
    ("著作权中的发表权保护期截止于作者死亡后第几年的12月31日？", ["二十年", "三十年", "五十年", "七十年"]),
    ("下列哪些属于反不正当竞争法所称的商业秘密的构成要件？", ["不为公众所知悉", "具有商业价值", "采取了保密措施", "已经申请专利"]),
    ("外观设计专利权的期限自申请日起计算为：", ["十年", "十五年", "二十年", "二十五年"]),
    ("实用新型专利申请经初步审查没有发现驳回理由的，国务院专利行政部门应当：", ["作出授予决定", "进行实质审查", "要求复审", "宣告无效"]),
]
ITEMS = [
    McqItem(f"q{i}", q, dict(zip("ABCD", opts, strict=True)), frozenset("A"), "test")
    for i, (q, opts) in enumerate(QUESTIONS)
]


@pytest.fixture(scope="module", params=["llama.cpp", "transformers"])
def backend(request):
    model = request.getfixturevalue("tiny_qwen3_gguf" if request.param == "llama.cpp" else "tiny_qwen3_dir")
    backend = open_model(str(model), n_ctx=2048)
    yield backend
    backend.close()


def _shared_prefix(a: list[int], b: list[int]) -> int:
    return len(os.path.commonprefix([a, b]))


def _suffix_tokens(backend, prompt: str, item: McqItem) -> int:
    """Tokens of the rendered prompt after the question text: the per-item template overhead."""
    text = question_text(item)
    assert prompt.count(text) == 1, "the prompt must carry the question text once, as question_text says"
    return len(backend.tokenize_prompt(prompt[prompt.index(text) + len(text):]))


@pytest.mark.parametrize("scorer_name", ["likelihood", "generation"])
def test_only_the_question_is_evaluated_after_the_first_item(backend, scorer_name):
    scorer = LikelihoodScorer(backend) if scorer_name == "likelihood" else GenerationScorer(backend, max_tokens=4)
    backend.reset()
    previous: list[int] = []
    costs = []
    for n, item in enumerate(ITEMS):
        start = time.perf_counter()
        scorer.score(item)
        cost = item_cost(backend, item, time.perf_counter() - start)
        costs.append(cost)
        prompt = backend.render_prompt(mcq_messages(item), False)  # both scorers: thinking off
        tokens = backend.tokenize_prompt(prompt)
        overhead = _suffix_tokens(backend, prompt, item) + JOIN_TOKENS
        print(f"{type(backend).__name__} {scorer_name} {item.id}: {cost} suffix {overhead - JOIN_TOKENS}")

        assert cost["prompt_tokens"] == len(tokens)
        assert cost["cached"] + cost["evaluated"] == cost["prompt_tokens"]
        assert cost["question_tokens"] == len(backend.tokenize_text(question_text(item))) > 0
        assert cost["decode_tokens"] == (0 if scorer_name == "likelihood" else backend.last_stats.decode_tokens)
        assert cost["seconds"] > 0
        # exactly what the cache lacked: the tokens after the prefix shared with the previous prompt
        # (the last token is always evaluated, its logits are the ones read)
        assert cost["evaluated"] == len(tokens) - min(_shared_prefix(previous, tokens), len(tokens) - 1)
        if n == 0:
            assert cost["evaluated"] == cost["prompt_tokens"] and cost["cached"] == 0
        else:
            assert cost["evaluated"] < cost["prompt_tokens"]
            assert cost["evaluated"] <= cost["question_tokens"] + overhead
        previous = tokens
    summary = summarize_cost([{"id": it.id, "cost": c} for it, c in zip(ITEMS, costs, strict=True)])
    assert summary["first_evaluated"] == costs[0]["evaluated"] and summary["items"] == len(ITEMS)
    assert summary["evaluated"] < summary["prompt_tokens"]


def test_choice_logits_sets_stats(backend):
    backend.reset()
    messages = mcq_messages(ITEMS[0])
    backend.choice_logits(messages, ["A", "B"])
    stats = backend.last_stats
    total = backend.count_tokens(messages, False)
    assert (stats.prompt_tokens, stats.prompt_total, stats.ctx_used, stats.decode_tokens) == (total, total, total, 0)
    assert stats.prompt_ms > 0 and stats.finish == "stop" and stats.cached_tokens == 0
    backend.choice_logits(messages, ["A", "B"])  # the same prompt again: only the last token is evaluated
    assert (backend.last_stats.prompt_tokens, backend.last_stats.cached_tokens) == (1, total - 1)


def test_question_text_of_each_item_kind():
    mcq = McqItem("m", "问题？", {"A": "甲", "B": "乙"}, frozenset("A"))
    assert question_text(mcq) == "问题？\nA. 甲\nB. 乙"
    assert question_text(CaseItem("c", "被告擅自使用。", "侵权")) == "被告擅自使用。"
    assert question_text(ReciteItem("r", "专利法", "第十一条", "……")) == "《专利法》第十一条"


def test_summarize_cost_means():
    records = [
        {"id": "a", "cost": {"prompt_tokens": 100, "evaluated": 100, "cached": 0, "question_tokens": 20,
                             "decode_tokens": 0, "seconds": 0.5}},
        {"id": "b", "cost": {"prompt_tokens": 110, "evaluated": 30, "cached": 80, "question_tokens": 30,
                             "decode_tokens": 4, "seconds": 0.1}},
        {"id": "c", "cost": {"prompt_tokens": 90, "evaluated": 11, "cached": 79, "question_tokens": 10,
                             "decode_tokens": 2, "seconds": 0.2}},
        {"id": "d"},  # scored before costs were recorded (a resumed run)
    ]
    assert summarize_cost(records) == {
        "items": 3, "prompt_tokens": 100.0, "evaluated": 20.5, "cached": 79.5, "question_tokens": 20.0,
        "decode_tokens": 2.0, "seconds": 0.2667, "first_evaluated": 100,
    }
    assert summarize_cost([{"id": "d"}]) is None and summarize_cost([]) is None
    one = summarize_cost(records[:1])
    assert one["evaluated"] is None and one["cached"] is None and one["first_evaluated"] == 100


def test_summarize_cost_keeps_unknown_figures_none():
    records = [{"cost": {"prompt_tokens": None, "evaluated": e, "cached": None, "question_tokens": None,
                         "decode_tokens": 3, "seconds": 1.0}} for e in (50, 10, 20)]
    summary = summarize_cost(records)
    assert summary["prompt_tokens"] is None and summary["cached"] is None and summary["question_tokens"] is None
    assert (summary["evaluated"], summary["first_evaluated"], summary["decode_tokens"]) == (15.0, 50, 3.0)
    assert summarize_cost([{"cost": {"seconds": 0.25}}, {"cost": {"seconds": 0.75}}]) == {
        "items": 2, "prompt_tokens": None, "evaluated": None, "cached": None, "question_tokens": None,
        "decode_tokens": None, "seconds": 0.5, "first_evaluated": None,
    }


def test_ollama_stats_leave_prompt_length_and_cache_unknown(monkeypatch):
    from tests.fake_ollama import Handler, serve

    monkeypatch.setattr(Handler, "delay", 0.0)
    server, host = serve()
    try:
        backend = OllamaBackend("fake", host)
        GenerationScorer(backend).score(ITEMS[0])
        cost = item_cost(backend, ITEMS[0], 0.123456)
    finally:
        server.shutdown()
        server.server_close()
    evaluated = sum(len(m["content"]) for m in mcq_messages(ITEMS[0]))  # the fake server: one per character
    assert cost == {"prompt_tokens": None, "evaluated": evaluated, "cached": None, "question_tokens": None,
                    "decode_tokens": backend.last_stats.decode_tokens, "seconds": 0.1235}
    assert backend.last_stats.prompt_total is None and backend.last_stats.cached_tokens is None
    assert question_tokens(backend, "问题") is None


def test_no_stats_gives_only_the_time():
    class Silent:
        last_stats = None

    assert item_cost(Silent(), ITEMS[0], 0.3) == {"seconds": 0.3}
    stats = Stats(5, 1.0, 0, 0.0, 5, 64, "stop", prompt_total=8)
    assert stats.cached_tokens == 3
