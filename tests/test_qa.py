"""QA pairs for SFT: enough pairs per record, the CoT share and form, citations that exist, determinism,
the command line, and a teacher reached for real (an OpenAI-style HTTP server, a local GGUF)."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ecmiip.cli import main
from ecmiip.core.citations import CITATION_RE, corpus_index, resolve_law
from ecmiip.core.errors import InputError
from ecmiip.core.paths import STATUTES_DIR
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT
from ecmiip.core.statutes import all_articles, current_articles
from ecmiip.train.mipld import SAMPLES_DIR, load_records
from ecmiip.train.qa import build_pairs, input_paths, input_records
from ecmiip.train.qa_citations import unknown_citations
from ecmiip.train.teacher import (
    MAX_CONSECUTIVE_FAILURES,
    TEACHER_PROMPT,
    HttpTeacher,
    LlamaCppTeacher,
    make_teacher,
    polish,
)

PATENT_LAW = STATUTES_DIR / "patent_law_2020.jsonl"
SAMPLE_FILES = sorted(SAMPLES_DIR.glob("*.jsonl"))
COT_FORM = re.compile(r"^<think>\n.+\n</think>\n\n.+", re.DOTALL)


@pytest.fixture(scope="module")
def records():
    return load_records([PATENT_LAW, *SAMPLE_FILES])


@pytest.fixture(scope="module")
def pairs(records):
    return build_pairs(records, seed=42)


def _assistant(line: dict) -> str:
    return line["messages"][-1]["content"]


def _source_key(source: dict) -> tuple:
    return (source["law"], source["version"], source["article"]) if source["kind"] == "statute" else (source["id"],)


def _bad_citations(text: str) -> list[str]:
    """Citations of articles the shipped corpus does not have (a 批复's item 二 counts as 第二条)."""
    bad = []
    for m in CITATION_RE.finditer(text):
        law = resolve_law(m["law"])
        labels = corpus_index()[law].labels if law else frozenset()
        if m["article"] not in labels and m["article"][1:-1] not in labels:
            bad.append(m.group(0))
    return bad


# ---------------------------------------------------------------- pairs


def test_every_article_has_two_pairs_and_every_other_record_two_to_five(records):
    pairs = build_pairs(records, seed=42, reasoning_share=None)  # every pair: balancing samples statute pairs
    per_source = Counter(_source_key(p.source) for p in pairs)
    for r in records:
        d = r.data
        key = (d["law"], d["version"], d["article"]) if r.kind == "statute" else (d["id"],)
        assert (per_source[key] >= 2) if r.kind == "statute" else (2 <= per_source[key] <= 5), (key, per_source[key])
    assert len(per_source) == len(records)
    assert {p.kind for p in pairs} == {"statute", "case", "knowledge", "exemption"}


def test_statute_pairs_ask_what_the_article_says_and_apply_it(records):
    pairs = build_pairs(records, seed=42, reasoning_share=None)
    art11 = [p for p in pairs if p.source.get("article") == "第十一条"]
    meaning = next(p for p in art11 if p.template == "statute-meaning")
    assert "《中华人民共和国专利法》第十一条" in meaning.question
    assert "任何单位或者个人未经专利权人许可，都不得实施其专利" in meaning.answer
    # the article is a prohibition put to its own subject (was: a "statute-scenario" with a made-up party)
    rule = next(p for p in art11 if p.id.endswith("/scenario"))
    assert rule.template == "statute-rule" and "任何单位或者个人未经专利权人许可，能否实施其专利" in rule.question
    assert rule.answer.startswith("不能。") and "《中华人民共和国专利法》第十一条" in rule.answer
    art75 = next(p for p in pairs if p.source.get("article") == "第七十五条" and p.id.endswith("/scenario"))
    assert re.search(r"【事实】.+\n【适用法律】.+\n【结论】.+", art75.answer, re.DOTALL)


def test_case_pairs_reason_cite_and_judge(pairs):
    case = [p for p in pairs if p.source == {"kind": "case", "id": "sample-case-001"}]
    judged = next(p for p in case if p.template == "case-judgment")
    assert judged.question.startswith("根据以下事实，被告是否构成侵权？")
    assert "【争议焦点与分析】" in judged.answer and "《中华人民共和国专利法》第六十四条" in judged.answer
    assert "八十万元" in judged.answer  # the judgment
    assert any("本案应适用哪些法条" in p.question for p in case)


def test_cot_share_is_one_in_five_and_in_qwen3_form(pairs):
    share = sum(p.cot for p in pairs) / len(pairs)
    assert abs(share - 0.2) <= 0.05
    for p in pairs:
        content = _assistant(p.to_json())
        if p.cot:
            assert COT_FORM.match(content), p.id
        else:
            assert "<think>" not in content and content == p.answer


@pytest.mark.parametrize("ratio", [0.0, 0.25, 1.0])
def test_cot_ratio_is_the_cot_share(records, ratio):
    got = build_pairs(records, seed=3, cot_ratio=ratio)
    assert abs(sum(p.cot for p in got) / len(got) - ratio) <= 0.01


def test_output_lines_are_chat_messages_with_the_legal_system_prompt(pairs):
    ids = [p.id for p in pairs]
    assert len(ids) == len(set(ids))
    for p in pairs:
        line = json.loads(json.dumps(p.to_json(), ensure_ascii=False))
        assert set(line) == {"id", "source", "messages", "cot"}
        assert line["source"]["template"] == p.template
        assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
        assert line["messages"][0]["content"] == LEGAL_SYSTEM_PROMPT
        assert all(m["content"].strip() for m in line["messages"])


def test_every_cited_article_exists_in_the_corpus(pairs):
    cited = 0
    for p in pairs:
        content = _assistant(p.to_json())
        cited += bool(CITATION_RE.search(content))
        assert _bad_citations(content) == [], p.id
    assert cited > len(pairs) * 0.9


def test_the_whole_shipped_corpus_gives_valid_pairs():
    recs, skipped = input_records(["builtin"])
    current = current_articles()
    assert len(recs) == len(current) and len(skipped) == len(all_articles()) - len(current) > 100
    got = build_pairs(recs, seed=1)
    assert len(got) == 2 * len(recs) > 2600
    # the files of the texts in force: what a caller that needs paths (ecmiip build) reads
    assert len(load_records(input_paths(["builtin"]))) == len(recs)
    for p in got:
        assert p.question.strip() and p.answer.strip() and p.reasoning
        # articles quoting laws outside the corpus (民事诉讼法 …) are quoted verbatim, nothing more
        assert unknown_citations(_assistant(p.to_json()), p.source_text) == [], p.id


def test_unknown_citations_are_invented_articles_not_quoted_ones():
    assert unknown_citations("依照《专利法》第十一条和《中华人民共和国专利法》第六十四条") == []
    assert unknown_citations("《中华人民共和国专利法》第九百条") == ["《中华人民共和国专利法》第九百条"]
    assert unknown_citations("《最高人民法院关于涉网络知识产权侵权纠纷几个法律适用问题的批复》第二条") == []
    outside = "《中华人民共和国民事诉讼法》第一百一十九条"
    assert unknown_citations(outside) == [outside]
    assert unknown_citations(outside, allowed=f"符合{outside}的规定") == []


def test_deterministic_per_seed(records, pairs):
    again = build_pairs(records, seed=42)
    assert [p.to_json() for p in again] == [p.to_json() for p in pairs]
    other = build_pairs(records, seed=7)
    assert [p.to_json() for p in other] != [p.to_json() for p in pairs]
    # a record's pairs do not depend on which other records are built with it
    alone = build_pairs(load_records([PATENT_LAW]), seed=42, cot_ratio=0)
    # balancing decides which statute pairs are kept, not what they say
    together = {p.id: p.to_json() for p in build_pairs(records, seed=42, cot_ratio=0, reasoning_share=None)}
    assert all(together[p.id] == p.to_json() for p in alone)


def test_a_record_given_twice_is_refused():
    with pytest.raises(InputError, match="duplicate"):
        build_pairs(load_records([SAMPLE_FILES[0], SAMPLE_FILES[0]]))


# ---------------------------------------------------------------- command line


def test_cli_writes_the_file_and_refuses_to_overwrite(tmp_path, pairs, capsys):
    out = tmp_path / "qa.jsonl"
    argv = ["data", "build-qa", str(PATENT_LAW), *map(str, SAMPLE_FILES), "--out", str(out), "--seed", "42"]
    assert main(argv) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [p.to_json() for p in pairs]
    err = capsys.readouterr().err
    assert "QA pairs" in err and "CoT share" in err

    out.write_text("keep me", encoding="utf-8")
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "keep me"
    assert main([*argv, "--force", "--cot-ratio", "0.5"]) == 0
    cot = [json.loads(x)["cot"] for x in out.read_text(encoding="utf-8").splitlines()]
    assert abs(sum(cot) / len(cot) - 0.5) <= 0.01
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa.jsonl"]  # no partial file left


@pytest.mark.parametrize(("extra", "message"), [
    (["--cot-ratio", "1.5"], "between 0 and 1"),
    (["--teacher-model", "m"], "needs --teacher"),
    (["--teacher", "no-such.gguf"], "neither an http"),
])
def test_cli_bad_options_are_one_line_errors(tmp_path, capsys, extra, message):
    assert main(["data", "build-qa", str(PATENT_LAW), "--out", str(tmp_path / "qa.jsonl"), *extra]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "qa.jsonl").exists()


# ---------------------------------------------------------------- teacher over HTTP


class _OpenAIStub(BaseHTTPRequestHandler):
    """/v1/chat/completions: fails on 第十一条, invents an article on 第二十二条, else polishes."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        user = body["messages"][-1]["content"]
        source = user.split("【来源材料】\n", 1)[1]
        if self.path != "/v1/chat/completions" or source.startswith("《中华人民共和国专利法》第十一条"):
            self.send_error(500, "boom")
            return
        if source.startswith("《中华人民共和国专利法》第二十二条"):
            content = "依照《中华人民共和国专利法》第九百条，……"
        else:
            draft = user.split("【参考答案】\n", 1)[1]
            content = "<think>\n先看条文。\n</think>\n\n润色：" + draft  # the whole answer: a first line alone is cut mid-clause and fails the audit
        reply = {"id": "x", "object": "chat.completion",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
        data = json.dumps(reply, ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def teacher_url():
    _OpenAIStub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _subset():
    """Patent law articles 1, 11 and 22 and one case: polished, refused by the server, rejected by us."""
    keep = {"第一条", "第十一条", "第二十二条"}
    return [r for r in load_records([PATENT_LAW, *SAMPLE_FILES])
            if r.data.get("article") in keep or r.data.get("id") == "sample-case-001"]


def test_http_teacher_polishes_and_a_failure_keeps_the_template(teacher_url):
    pairs = build_pairs(_subset(), seed=42, cot_ratio=0.5)
    templates = {p.id: p.answer for p in pairs}
    stats = polish(pairs, HttpTeacher(teacher_url, "teacher-x", api_key="k"))

    assert stats.polished + stats.failed == len(pairs) == len(_OpenAIStub.requests)
    assert stats.reasons == Counter({"HTTP 500": 2, "cites articles not in the source or the corpus": 2})
    for p in pairs:
        if p.source.get("article") in ("第十一条", "第二十二条"):
            assert not p.polished and p.answer == templates[p.id]
        else:
            assert p.polished and p.answer == "润色：" + templates[p.id]  # think block dropped
        if p.cot:
            assert COT_FORM.match(p.assistant_content()) and "先看条文" not in p.assistant_content()
    request = _OpenAIStub.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "teacher-x"
    assert request["auth"] == "Bearer k"
    assert request["messages"][0] == {"role": "system", "content": TEACHER_PROMPT}
    assert "【来源材料】" in request["messages"][1]["content"] and "【参考答案】" in request["messages"][1]["content"]


def test_cli_with_a_teacher_url(teacher_url, tmp_path, capsys):
    out = tmp_path / "qa.jsonl"
    assert main(["data", "build-qa", str(SAMPLE_FILES[0]), "--out", str(out),
                 "--teacher", teacher_url, "--teacher-model", "teacher-x"]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    answers = [_assistant(x).split("</think>\n\n")[-1] for x in lines]
    assert answers and all(a.startswith("润色：") for a in answers)
    assert {r["model"] for r in _OpenAIStub.requests} == {"teacher-x"}
    assert f"{len(lines)} polished" in capsys.readouterr().err.replace("\n", " ")


def test_an_unreachable_teacher_is_given_up_on(records):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    pairs = build_pairs(records[:20], seed=1)
    templates = [p.answer for p in pairs]
    stats = polish(pairs, HttpTeacher(f"http://127.0.0.1:{port}/v1", timeout=5))
    assert stats.polished == 0 and stats.failed == len(pairs)
    assert sum(n for r, n in stats.reasons.items() if r.startswith("unreachable")) == MAX_CONSECUTIVE_FAILURES
    assert [p.answer for p in pairs] == templates


def test_teacher_spec_is_a_url_or_a_gguf(tmp_path):
    assert isinstance(make_teacher("http://localhost:8000/v1", "m"), HttpTeacher)
    assert HttpTeacher("http://h/v1/").url == HttpTeacher("http://h/v1/chat/completions").url == "http://h/v1/chat/completions"
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"nope")
    with pytest.raises(InputError, match="not a GGUF"):
        make_teacher(str(not_gguf))
    with pytest.raises(InputError, match="neither"):
        make_teacher(str(tmp_path / "missing.gguf"))


# ---------------------------------------------------------------- teacher as a local GGUF


@pytest.fixture(scope="module")
def tiny_gguf(tiny_qwen3_dir, tmp_path_factory) -> Path:
    """The tiny random Qwen3 as an F16 GGUF (a few seconds): real chat template, nonsense answers."""
    from ecmiip.quantize.convert import convert

    path = tmp_path_factory.mktemp("teacher") / "tiny-qwen3.gguf"
    convert(tiny_qwen3_dir, path)
    return path


def test_gguf_teacher_runs_in_process(tiny_gguf):
    teacher = make_teacher(str(tiny_gguf))
    assert isinstance(teacher, LlamaCppTeacher)
    teacher.max_tokens = 8
    pairs = build_pairs([r for r in load_records([PATENT_LAW]) if r.data["article"] in ("第一条", "第二条")], seed=1)
    templates = [p.answer for p in pairs]
    stats = polish(pairs, teacher)
    assert stats.polished + stats.failed == len(pairs) and stats.polished >= 1
    for p, template in zip(pairs, templates, strict=True):
        assert p.answer.strip() and (p.answer != template) == p.polished


def test_gguf_teacher_renders_its_prompt_as_the_model_was_trained(tiny_gguf, tiny_qwen3_dir):
    from transformers import AutoTokenizer

    teacher = make_teacher(str(tiny_gguf))
    _, template = teacher._load()
    messages = [{"role": "system", "content": "你是知识产权法律助手。"}, {"role": "user", "content": "什么是专利权？"}]
    expected = AutoTokenizer.from_pretrained(tiny_qwen3_dir).apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True)
    assert template.render(messages) == expected and template.eos_token == "<|im_end|>"
