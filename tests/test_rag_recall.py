"""The statute-retrieval benchmark: its scenario set is well formed and cites real, current articles,
and the benchmark runs end to end (no recall target is asserted here: that is a measurement)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ecmiip.bench import rag_recall
from ecmiip.core import statutes
from ecmiip.core.citations import parse_citation
from ecmiip.core.errors import InputError

SCENARIOS = rag_recall.load(rag_recall.DEFAULT_DATA)


def _store() -> tuple[set[str], set[tuple[str, str]]]:
    articles = statutes.all_articles()
    return {a.law for a in articles}, {(a.law, a.article) for a in articles}


def test_scenario_file_parses_and_is_large_enough():
    assert len(SCENARIOS) >= 60
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)
    assert len({s.question for s in SCENARIOS}) == len(SCENARIOS)
    for s in SCENARIOS:
        assert 15 <= len(s.question) <= 60, s.question  # typed questions, not statute text
        assert "《" not in s.question and not parse_citation(s.question), s.question


def test_every_area_is_covered():
    counts = Counter(s.area for s in SCENARIOS)
    assert set(counts) == set(rag_recall.AREAS)
    assert min(counts.values()) >= 3, counts


def test_relevant_citations_of_stored_laws_name_existing_articles():
    laws, keys = _store()
    missing = [(s.id, text) for s in SCENARIOS for text, key in zip(s.relevant, s.keys, strict=True)
               if key[0] in laws and key not in keys]
    assert not missing
    # every law cited is one the store ships (the criminal-law articles may be the only exception)
    unknown = {key[0] for s in SCENARIOS for key in s.keys if key[0] not in laws}
    assert unknown <= {"中华人民共和国刑法"}, unknown


@pytest.mark.skipif(not hasattr(statutes, "current_articles"), reason="store without validity data")
def test_relevant_articles_are_current_law():
    """Superseded texts (反不正当竞争法 2019, 植物新品种保护条例 2014…) are never the expected answer."""
    laws, _ = _store()
    current = {(a.law, a.article) for a in statutes.current_articles()}
    stale = [(s.id, text) for s in SCENARIOS for text, key in zip(s.relevant, s.keys, strict=True)
             if key[0] in laws and key not in current]
    assert not stale


def test_required_topics_are_asked():
    cited = Counter(text for s in SCENARIOS for text in s.relevant)
    for article in ("《中华人民共和国著作权法》第二十四条", "《中华人民共和国专利法》第七十五条",
                    "《中华人民共和国专利法》第七十二条", "《中华人民共和国商标法》第六十五条",
                    "《中华人民共和国著作权法》第五十六条", "《中华人民共和国专利法》第四十二条",
                    "《中华人民共和国商标法》第三十九条", "《中华人民共和国著作权法》第二十三条",
                    "《中华人民共和国民法典》第一千一百八十五条", "《中华人民共和国专利法》第六十七条",
                    "《中华人民共和国专利法》第七十七条", "《中华人民共和国刑法》第二百一十三条",
                    "《中华人民共和国刑法》第二百一十七条", "《中华人民共和国刑法》第二百一十九条"):
        assert cited[article], article


def test_benchmark_runs_and_reports_a_recall(capsys):
    summary, outcomes = rag_recall.run(rag_recall.DEFAULT_DATA, k=5)
    assert summary.questions == len(SCENARIOS) == len(outcomes)
    assert 0.0 <= summary.recall <= 1.0 and 0.0 <= summary.mrr <= summary.recall
    assert all(len(o.retrieved) <= 5 for o in outcomes)
    assert rag_recall.main(["--k", "5", "--show-misses"]) == 0


def test_articles_not_in_the_store_are_counted_as_misses_not_errors(tmp_path):
    data = tmp_path / "s.jsonl"
    rows = [
        {"id": "a", "area": "刑事", "question": "卖假冒名牌包包会不会坐牢？",
         "relevant": ["《中华人民共和国刑法》第九百九十九条"]},
        {"id": "b", "area": "专利", "question": "发明专利能保护多少年？",
         "relevant": ["《中华人民共和国专利法》第四十二条", "《中华人民共和国著作权法》第九百条"]},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    summary, outcomes = rag_recall.run(data, k=5)
    first, second = outcomes
    assert not first.hit and first.unanswerable and first.missing == ("《中华人民共和国刑法》第九百九十九条",)
    assert second.missing == ("《中华人民共和国著作权法》第九百条",) and not second.unanswerable
    assert summary.questions == 2
    assert rag_recall.main(["--data", str(data)]) == 0


def test_articles_held_only_in_superseded_texts_are_reported_as_such(tmp_path):
    held, current = rag_recall.store_keys()
    stale = sorted(held - current)
    if not stale:
        pytest.skip("the store has no superseded text")
    law, article = stale[0]
    data = tmp_path / "s.jsonl"
    row = {"id": "a", "area": "合同", "question": "这条旧规定现在还能作为依据吗？", "relevant": [f"《{law}》{article}"]}
    data.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    _, (outcome,) = rag_recall.run(data, k=5)
    assert outcome.stale == (f"《{law}》{article}",) and not outcome.missing and outcome.unanswerable
    assert (law, article) not in outcome.retrieved


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "not JSON"),
    ('["a list"]', "not a JSON object"),
    ('{"id": "x", "area": "专利", "question": "专利保护多少年？"}', "relevant must be"),
    ('{"id": "x", "area": "火星", "question": "专利保护多少年？", "relevant": ["《中华人民共和国专利法》第四十二条"]}',
     "area '火星'"),
    ('{"id": "x", "area": "专利", "question": "专利保护多少年？", "relevant": ["专利法42条"]}',
     "is not a citation"),
])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, capsys, line, reason):
    data = tmp_path / "bad.jsonl"
    good = '{"id": "ok", "area": "专利", "question": "专利保护多少年？", "relevant": ["《中华人民共和国专利法》第四十二条"]}'
    data.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"bad\.jsonl:2: .*{reason}"):
        rag_recall.load(data)
    assert rag_recall.main(["--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "bad.jsonl:2:" in err and "Traceback" not in err
