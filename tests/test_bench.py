"""ecmiip bench: the scoring is proven with fake backends, then one real run on the tiny Qwen3 GGUF."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from ecmiip.bench import data as bench_data
from ecmiip.bench.answers import exact_match, extract_letters, lcs_length, rouge_l
from ecmiip.bench.report import summarize
from ecmiip.bench.scorers import GenerationScorer, letter_probs, predict_set
from ecmiip.chat.backends import Delta
from ecmiip.cli import main


def _items() -> list[bench_data.McqItem]:
    return bench_data.load(bench_data.DEFAULT_DATA["mcq"], "mcq").items


class OracleBackend:
    """Knows the right option *texts* of every item and answers with the letters they carry now.

    Some sample stems repeat and some options span lines, so an item is found by its stem and the
    ``\nX. text`` of every one of its options in the prompt.
    """

    def __init__(self, items: list[bench_data.McqItem]) -> None:
        self.items = items

    def _letter_of(self, user: str, text: str) -> str | None:
        m = re.search(r"\n([A-J])\. " + re.escape(text) + "(?:\n|$)", user)
        return m.group(1) if m else None

    def stream(self, messages, *, think, sampling, max_tokens, stop_event=None):
        user = messages[-1]["content"]
        for it in self.items:
            found = {o: self._letter_of(user, t) for o, t in it.options.items()}
            if ("\n\n" + it.question + "\n") in user and None not in found.values():
                letters = sorted(found[a] for a in it.answer_letters)
                break
        else:
            raise AssertionError("the oracle does not know this item")
        yield Delta("thinking", "让我想想，A 也许不对")
        yield Delta("content", "答案：" + "、".join(letters))


class ConstantBackend:
    def stream(self, messages, *, think, sampling, max_tokens, stop_event=None):
        yield Delta("content", "A")


def _accuracy(backend, items) -> float:
    scorer = GenerationScorer(backend)
    return summarize("mcq", [scorer.score(it) for it in items])["accuracy"]["overall"]


def test_oracle_scores_100_percent():
    items = _items()
    assert len(items) == 165
    assert _accuracy(OracleBackend(items), items) == 1.0


def test_constant_backend_scores_its_letters_base_rate():
    items = _items()
    base_rate = sum(it.answer_letters == {"A"} for it in items) / len(items)
    assert 0 < base_rate < 1
    assert _accuracy(ConstantBackend(), items) == pytest.approx(base_rate)


def test_shuffled_options_keep_the_oracle_at_100_percent():
    items = _items()
    rng = random.Random(7)
    shuffled = [bench_data.shuffle_options(it, rng) for it in items]
    assert any(s.options != it.options for s, it in zip(shuffled, items, strict=True))
    for s, it in zip(shuffled, items, strict=True):
        assert {s.options[a] for a in s.answer_letters} == {it.options[a] for a in it.answer_letters}
    assert _accuracy(OracleBackend(items), shuffled) == 1.0


@pytest.mark.parametrize(
    ("text", "letters"),
    [
        ("答案：B", "B"),
        ("选B和D", "BD"),
        ("B、D", "BD"),
        ("Ｂ", "B"),
        ("答案：ＡＣ", "AC"),
        ("the answer is (C)", "C"),
        ("I think the answer is B.", "B"),
        ("<think>A 不对，C 也许</think>\n\n答案是D。", "D"),
        ("推理中</think>B", "B"),
        ("<think>没想完 A", ""),
        ("ABD", "ABD"),
        ("正确答案为A、C，因为B错误。", "AC"),
        ("D\n解析：A说法错误", "D"),
        ("A: 假定条件 is wrong. The answer is D.", "D"),
        ("我不知道", ""),
    ],
)
def test_letter_extraction(text, letters):
    assert extract_letters(text, "ABCD") == frozenset(letters)


def test_likelihood_set_rule():
    probs = letter_probs({"A": 2.0, "B": 2.0 - math.log(1.5), "C": -5.0, "D": -5.0})
    assert sum(probs.values()) == pytest.approx(1.0)
    assert predict_set(probs, 0.5) == {"A", "B"}  # B is 1/1.5 of A: a second answer
    assert predict_set(probs, 0.9) == {"A"}
    assert predict_set(letter_probs({"A": 0.0, "B": 3.0}), 0.5) == {"B"}


def test_rouge_l_and_exact_match():
    assert lcs_length("abcde", "ace") == 3
    assert rouge_l("abc", "abc") == 1.0
    assert rouge_l("", "abc") == 0.0
    assert rouge_l("abd", "abc") == pytest.approx(2 / 3)
    assert exact_match("答案: 为了保护 专利权。", "为了保护专利权。")
    assert not exact_match("为了保护", "为了保护专利权。")


def test_invalid_lines_are_reported_with_file_and_line(tmp_path):
    good = {"question": "Q?", "options": {"A": "x", "B": "y"}, "answer_letters": ["B"], "type": "single"}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "answer_letters": ["C"]}),
        "",
        json.dumps({**good, "options": {"A": "x", "C": "y"}}),
        json.dumps([1, 2]),
        json.dumps({k: v for k, v in good.items() if k != "question"}),
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded = bench_data.load(path, "mcq")
    assert [it.id for it in loaded.items] == ["items.jsonl:1"]
    assert [line.split(": ")[0] for line in loaded.invalid] == [f"{path}:{n}" for n in (2, 3, 5, 6, 7)]
    assert "not options" in loaded.invalid[1]
    # every non-blank line is an item or an invalid entry
    assert len(loaded.items) + len(loaded.invalid) == sum(1 for line in lines if line)


def test_shipped_samples_and_statute_set_load_cleanly():
    recite = bench_data.load(bench_data.DEFAULT_DATA["recite"], "recite")
    assert len(recite.items) == 24 and not recite.invalid
    assert recite.items[0].law == "商标法" and recite.items[0].article == "第二条"
    statutes = bench_data.statute_recitation_items()
    assert len(statutes) == 40 and statutes == bench_data.statute_recitation_items()


def _without_timings(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    for model in data["models"].values():
        model.pop("speed", None)
        model.pop("timing", None)
        for entry in model["tasks"].values():  # per-item cost: wall time, and what the KV cache held
            entry["summary"].pop("cost", None)
            for record in entry["items"]:
                record.pop("cost", None)
    return data


def test_real_run_writes_outputs_and_resumes_identically(tiny_qwen3_gguf, tmp_path):
    args = ["bench", "--model", str(tiny_qwen3_gguf), "--task", "mcq,case,recite,speed", "--limit", "5"]
    full = tmp_path / "full"
    assert main([*args, "--out", str(full)]) == 0
    for name in ("results.json", "report.md", "accuracy.png"):
        assert (full / name).stat().st_size > 0
    results = json.loads((full / "results.json").read_text(encoding="utf-8"))
    model = results["models"][str(tiny_qwen3_gguf)]
    assert set(model["tasks"]) == {"mcq-likelihood", "mcq-generation", "case-likelihood", "case-generation", "recite"}
    assert set(model["tasks"]["case-generation"]["summary"]["per_class"]) == {"侵权", "不侵权"}
    for entry in model["tasks"].values():
        assert len(entry["items"]) == 5 and entry["summary"]["n"] == 5
    assert all("raw" in r and "prediction" in r for r in model["tasks"]["mcq-generation"]["items"])
    assert all(abs(sum(r["probs"].values()) - 1) < 1e-3 for r in model["tasks"]["mcq-likelihood"]["items"])
    assert model["speed"]["decode_tokens"] == 64 and model["speed"]["ttft_s"] > 0
    assert main([*args, "--out", str(full)]) == 1  # no overwrite without --resume or --force
    assert main([*args, "--out", str(full), "--resume", "--seed", "1"]) == 1  # other settings: refused

    # an "interrupted" run: the last items of each task and the speed figures are missing
    partial = tmp_path / "partial"
    partial.mkdir()
    cut = json.loads((full / "results.json").read_text(encoding="utf-8"))
    for entry in cut["models"][str(tiny_qwen3_gguf)]["tasks"].values():
        del entry["items"][2:]
    cut["models"][str(tiny_qwen3_gguf)].pop("speed")
    (partial / "results.json").write_text(json.dumps(cut, ensure_ascii=False), encoding="utf-8")
    assert main([*args, "--out", str(partial), "--resume"]) == 0
    assert _without_timings(partial / "results.json") == _without_timings(full / "results.json")


def test_real_run_reports_invalid_data_lines(tiny_qwen3_gguf, tmp_path):
    data = tmp_path / "mine.jsonl"
    good = {"question": "专利权的期限？", "options": {"A": "十年", "B": "二十年"}, "answer_letters": ["B"], "type": "single"}
    data.write_text(json.dumps(good, ensure_ascii=False) + "\n{bad\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["bench", "--model", str(tiny_qwen3_gguf), "--task", "mcq", "--scorer", "likelihood",
            "--data", str(data), "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["invalid"]["mcq"] == [f"{data}:2: not JSON (Expecting property name enclosed in double quotes)"]
    assert len(results["models"][str(tiny_qwen3_gguf)]["tasks"]["mcq-likelihood"]["items"]) == 1
    assert f"{data}:2" in (out / "report.md").read_text(encoding="utf-8")


def test_ollama_spec_runs_generation_tasks(tmp_path, monkeypatch):
    from tests.fake_ollama import Handler, serve

    monkeypatch.setattr(Handler, "delay", 0.0)
    server, host = serve()
    try:
        out = tmp_path / "out"
        argv = ["bench", "--model", "ollama:fake", "--ollama-host", host, "--limit", "2", "--out", str(out)]
        assert main(argv) == 0
    finally:
        server.shutdown()
    model = json.loads((out / "results.json").read_text(encoding="utf-8"))["models"]["ollama:fake"]
    assert set(model["tasks"]) == {"mcq-generation", "case-generation", "recite"}  # no logits: no likelihood
    assert model["tasks"]["mcq-generation"]["items"][0]["raw"].startswith("专利权")
    assert model["speed"]["decode_tokens"] > 0 and model["file_size"] is None


def test_hf_model_dir_with_and_without_adapter(smollm2_dir, tmp_path):
    """SmolLM2 as an HF folder, alone and with a LoRA adapter (unmerged), in one run."""
    from tests.models import make_lora_adapter

    adapter = make_lora_adapter(smollm2_dir, tmp_path / "adapter", seed=1)
    specs = [str(smollm2_dir), f"{smollm2_dir}+{adapter}"]
    out = tmp_path / "out"
    argv = ["bench", *[a for s in specs for a in ("--model", s)], "--task", "mcq,case,speed", "--scorer", "likelihood",
            "--limit", "3", "--speed-tokens", "8", "--out", str(out)]
    assert main(argv) == 0
    models = json.loads((out / "results.json").read_text(encoding="utf-8"))["models"]
    assert set(models) == set(specs)
    base, tuned = (models[s] for s in specs)
    assert base["params"] > 100e6 and tuned["file_size"] > base["file_size"]
    for m in (base, tuned):
        assert set(m["tasks"]) == {"mcq-likelihood", "case-likelihood"} and m["speed"]["decode_tokens"] == 8
    probs = [[r["probs"] for r in m["tasks"]["mcq-likelihood"]["items"]] for m in (base, tuned)]
    assert probs[0] != probs[1]  # the adapter is really applied


def test_two_gguf_models_in_one_table(tiny_qwen3_gguf, smollm2_gguf, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["bench", "--model", str(tiny_qwen3_gguf), "--model", str(smollm2_gguf), "--task", "mcq,recite,speed",
            "--scorer", "likelihood", "--limit", "2", "--speed-tokens", "8", "--out", str(out)]
    assert main(argv) == 0
    shown = capsys.readouterr().err
    assert tiny_qwen3_gguf.name in shown and smollm2_gguf.name in shown
    models = json.loads((out / "results.json").read_text(encoding="utf-8"))["models"]
    assert set(models) == {str(tiny_qwen3_gguf), str(smollm2_gguf)}
    for m in models.values():
        assert set(m["tasks"]) == {"mcq-likelihood", "recite"} and m["file_size"] > 0 and m["params"] > 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert str(tiny_qwen3_gguf) in report and str(smollm2_gguf) in report
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_items_relying_on_superseded_law_are_named():
    samples = bench_data.SAMPLES_DIR
    lexeval = bench_data.load(samples / "lexeval_ip_mcq.jsonl", "mcq").items  # third-party exam items, as published
    stale = {it.id: bench_data.superseded_citations(it) for it in lexeval if bench_data.superseded_citations(it)}
    assert stale and all("反不正当竞争法》第九条" in c for cited in stale.values() for c in cited)
    ours = bench_data.load(samples / "ip_case_samples.jsonl", "case").items  # written for the project
    assert not any(bench_data.superseded_citations(it) for it in ours)
