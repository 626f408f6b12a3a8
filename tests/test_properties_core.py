"""Property-based tests for the parsers that take user text in the core: citation strings in free text,
``/law`` arguments, statute texts being imported. Whatever the text, they answer or refuse with an
InputError; they never crash, and what they return points back into the text they were given."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecmiip.core.citations import STATUS_WORDS, find_citations, lookup, parse_citation, verify_citations
from ecmiip.core.errors import InputError
from ecmiip.core.statute_text import segment

# Text made of the pieces citations are built from, so the generator reaches the interesting paths.
PIECES = ["《", "》", "〈", "〉", "（", "）", "(", ")", "第", "条", "款", "项", "之", "一", "二", "十", "百", "千", "零",
          "1", "9", "专利法", "商标法", "著作权法", "反不正当竞争法", "民法典", "刑法", "修正案", "2019修正", "2008",
          "、", "和", "，", "。", "\n", " ", "中华人民共和国", "最高人民法院关于", "解释", "规定", "x", "版权法"]
legal_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=200)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31))
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(legal_text, days)
def test_verify_never_crashes_and_spans_point_into_the_text(text, day):
    checks = verify_citations(text, day)
    for c in checks:
        assert c.status in STATUS_WORDS and c.word
        start, end = c.span
        assert 0 <= start < end <= len(text)
        assert (c.status == "ok") == (c.reason == "")
        if c.status == "ok":
            assert c.article is not None and c.doc is not None and c.doc.in_force_on(day)
    assert [c.span for c in checks] == sorted(c.span for c in checks)


@FAST
@given(legal_text)
def test_a_parsed_citation_is_found_again_in_itself(text):
    c = parse_citation(text)
    if c is not None:
        again = find_citations(c.text)
        assert again and again[0].article == c.article


@FAST
@given(st.sampled_from(["专利法", "商标法", "民法典", "刑法", "反法", "知识产权法", "《专利法》", ""]),
       st.text(max_size=12) | st.integers(min_value=-5, max_value=20000).map(str))
def test_law_lookup_answers_or_refuses(law, article):
    try:
        found = lookup(law, article)
    except InputError as e:
        assert str(e)
    else:
        assert found.text and found.law


@FAST
@given(st.lists(st.sampled_from(["第一条 甲。", "第二条　乙", "第3条 丙", "第十条之一 丁", "第一章 总则", "第一节 申请",
                                 "（一）项", "附件：", "- 2 -", "本法第二条规定", "第一编 总则", "目录", "第五条"]) |
                st.text(max_size=30), max_size=30))
def test_segmenting_any_lines_reports_or_refuses(lines):
    lines = [line.strip() for line in lines if line.strip()]
    report = segment(lines, "x.md")
    labels = [a.label for a in report.articles]
    assert len(labels) == len(set(labels))  # a repeat is reported, never kept twice
    for a in report.articles:
        assert 1 <= a.line <= len(lines) and a.label.startswith("第")
    for line, text in report.unparsed:
        assert lines[line - 1] == text
