"""Bad input to ``ecmiip bench`` and ``ecmiip build``: one line naming the culprit, no traceback, nothing
outside the output folder touched, every error before any model loads (the harness: tests/harness.py).
Below the table: unit tests that bench's and the build's outputs are atomic, and that the help reads clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.harness import Case, check

MODEL = ("--model", "{tmp}/m")  # a folder with config.json: a valid spec that nothing here ever loads
OUT = ("--out", "{tmp}/out")
MCQ = {"question": "题干", "options": {"A": "甲", "B": "乙"}, "answer_letters": ["A"], "type": "single"}
RESULTS = {"format": 1, "settings": {"seed": 0}, "invalid": {}, "models": {}}
ARCH = '{"architectures": ["Qwen3ForCausalLM"]}'


def _files(files: dict[str, str | bytes], model: bool = True):
    def setup(tmp: Path) -> None:
        if model:
            (tmp / "m").mkdir()
            (tmp / "m" / "config.json").write_text(ARCH, encoding="utf-8")
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return setup


def _line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _results(content: str | bytes):
    return _files({"out/results.json": content})


def _bench(*argv: str) -> tuple[str, ...]:
    return ("bench", *MODEL, *OUT, *argv)


def _build(*argv: str) -> tuple[str, ...]:
    return ("build", "--no-answer", "--out", "{tmp}/out", *argv)


def _mkdir(name: str):
    return lambda tmp: (tmp / name).mkdir(parents=True)


CASES = [
    # --model specs: checked before any model loads
    Case("model-missing", ("bench", "--model", "{tmp}/nowhere", *OUT), "nowhere"),
    Case("model-missing-gguf", ("bench", "--model", "{tmp}/x.gguf", *OUT), "x.gguf"),
    Case("model-not-gguf", ("bench", "--model", "{tmp}/x.gguf", *OUT), "not a GGUF file",
         setup=_files({"x.gguf": b"PK\x03\x04 not a gguf"}, model=False)),
    Case("model-empty-gguf", ("bench", "--model", "{tmp}/x.gguf", *OUT), "x.gguf", setup=_files({"x.gguf": b""}, model=False)),
    Case("model-text-file", ("bench", "--model", "{tmp}/notes.txt", *OUT), "notes.txt",
         setup=_files({"notes.txt": "hello"}, model=False)),
    Case("model-dir-without-config", ("bench", "--model", "{tmp}/d", *OUT), "no config.json", setup=_mkdir("d")),
    Case("model-adapter-alone", ("bench", "--model", "{tmp}/a", *OUT), "LoRA adapter",
         setup=_files({"a/adapter_config.json": "{}"}, model=False)),
    Case("model-missing-adapter", ("bench", "--model", "{tmp}/m+{tmp}/nope", *OUT), "nope", setup=_files({})),
    Case("model-ollama-no-name", ("bench", "--model", "ollama:", *OUT), "ollama:"),
    Case("model-second-bad", ("bench", *MODEL, "--model", "{tmp}/bad.gguf", *OUT), "bad.gguf",
         setup=_files({"bad.gguf": b"GGML"})),
    # options
    Case("task-unknown", _bench("--task", "mcq,essay"), "essay", setup=_files({})),
    Case("task-empty", _bench("--task", ","), "(none)", setup=_files({})),
    Case("scorer-unknown", _bench("--scorer", "vibes"), "vibes", setup=_files({})),
    Case("limit-0", _bench("--limit", "0"), "--limit", setup=_files({})),
    Case("n-ctx-0", _bench("--n-ctx", "0"), "--n-ctx", setup=_files({})),
    Case("speed-tokens-negative", _bench("--speed-tokens", "-5"), "--speed-tokens", setup=_files({})),
    Case("threshold-2", _bench("--threshold", "2"), "--threshold", setup=_files({})),
    Case("limit-not-a-number", _bench("--limit", "ten"), "ten", setup=_files({})),
    Case("out-is-a-file", ("bench", *MODEL, "--out", "{tmp}/out/f"), "is a file",
         setup=_files({"out/f": "x"})),
    Case("resume-and-force", _bench("--resume", "--force"), "pass one", setup=_files({})),
    Case("results-exist", _bench("--task", "mcq"), "results.json", setup=_results(_line(RESULTS))),
    # --resume with a results.json that is not one
    Case("results-a-list", _bench("--resume", "--task", "mcq"), "not a results file", setup=_results("[1, 2]")),
    Case("results-a-string", _bench("--resume", "--task", "mcq"), "results.json", setup=_results('"results"')),
    Case("results-not-json", _bench("--resume", "--task", "mcq"), "results.json", setup=_results("{half")),
    Case("results-not-utf8", _bench("--resume", "--task", "mcq"), "not UTF-8", setup=_results(b'{"format": "\xff"}')),
    Case("results-nested", _bench("--resume", "--task", "mcq"), "nested too deeply", setup=_results("[" * 100_000 + "]" * 100_000)),
    Case("results-other-format", _bench("--resume", "--task", "mcq"), "format 7", setup=_results('{"format": 7}')),
    Case("results-models-list", _bench("--resume", "--task", "mcq"), "models is not an object",
         setup=_results(_line({**RESULTS, "models": []}))),
    Case("results-items-not-list", _bench("--resume", "--task", "mcq"), "has no list of items",
         setup=_results(_line({**RESULTS, "models": {"m": {"tasks": {"mcq-generation": {"items": 3}}}}}))),
    Case("results-is-folder", _bench("--resume", "--task", "mcq"), "is a folder",
         setup=lambda tmp: (_files({})(tmp), (tmp / "out" / "results.json").mkdir(parents=True))),
    Case("resume-other-seed", _bench("--resume", "--task", "mcq", "--seed", "5"), "seed 0 → 5",
         setup=_results(_line(RESULTS))),
    # --data files
    Case("data-missing", _bench("--task", "mcq", "--data", "{tmp}/nope.jsonl"), "nope.jsonl", setup=_files({})),
    Case("data-which-task", _bench("--task", "mcq,case", "--data", "{tmp}/x.jsonl"), "mcq=",
         setup=_files({"x.jsonl": _line(MCQ)})),
    Case("data-unknown-task", _bench("--task", "mcq", "--data", "essay={tmp}/x.jsonl"), "essay",
         setup=_files({"x.jsonl": _line(MCQ)})),
    Case("data-empty", _bench("--task", "mcq", "--data", "{tmp}/e.jsonl"), "no mcq items", setup=_files({"e.jsonl": ""})),
    Case("data-not-utf8", _bench("--task", "mcq", "--data", "{tmp}/g.jsonl"), "g.jsonl:1",
         setup=_files({"g.jsonl": _line(MCQ).encode("gbk")})),
    Case("data-duplicate-key", _bench("--task", "mcq", "--data", "{tmp}/d.jsonl"), "d.jsonl:1: duplicate key 'answer_letters'",
         setup=_files({"d.jsonl": _line(MCQ)[:-1] + ', "answer_letters": ["B"]}'})),
    Case("data-nested", _bench("--task", "case", "--data", "{tmp}/n.jsonl"), "n.jsonl:1: nested too deeply",
         setup=_files({"n.jsonl": "[" * 100_000 + "]" * 100_000})),
    Case("data-not-objects", _bench("--task", "mcq", "--data", "{tmp}/l.jsonl"), "not a JSON object",
         setup=_files({"l.jsonl": "[1]\n2\n"})),
    Case("data-case-judgment", _bench("--task", "case", "--data", "{tmp}/c.jsonl"), "'judgment'",
         setup=_files({"c.jsonl": _line({"facts": "事实", "judgment": "部分侵权"})})),
    Case("data-recite-fields", _bench("--task", "recite", "--data", "{tmp}/r.jsonl"), "'question'",
         setup=_files({"r.jsonl": _line({"foo": 1})})),
    Case("data-is-folder", _bench("--task", "mcq", "--data", "{tmp}/dd"), "dd", setup=lambda tmp: (_files({})(tmp), (tmp / "dd").mkdir())),
    # item types: as the exam states them, never guessed; the answer must agree
    Case("data-no-type", _bench("--task", "mcq", "--data", "{tmp}/t.jsonl"), "t.jsonl:1: no 'type'",
         setup=_files({"t.jsonl": _line({k: v for k, v in MCQ.items() if k != "type"})})),
    Case("data-bad-type", _bench("--task", "mcq", "--data", "{tmp}/t.jsonl"), "'type' '判断'",
         setup=_files({"t.jsonl": _line({**MCQ, "type": "判断"})})),
    Case("data-single-two-answers", _bench("--task", "mcq", "--data", "{tmp}/t.jsonl"), "type single but 2 answer letters",
         setup=_files({"t.jsonl": _line({**MCQ, "answer_letters": ["A", "B"]})})),
    Case("data-multiple-one-answer", _bench("--task", "mcq", "--data", "{tmp}/t.jsonl"), "type multiple",
         setup=_files({"t.jsonl": _line({**MCQ, "type": "多选"})})),
    Case("data-type-option", _bench("--task", "mcq", "--type", "essay"), "--type", setup=_files({})),
    # the paper preset: three sets, one scorer
    Case("paper-two-files", _bench("--preset", "paper", "--data", "{tmp}/a.jsonl,{tmp}/b.jsonl"), "DX.jsonl,NOM.jsonl,HX.jsonl",
         setup=_files({"a.jsonl": _line(MCQ), "b.jsonl": _line(MCQ)})),
    Case("paper-unknown-set", _bench("--preset", "paper", "--data", "QX={tmp}/a.jsonl"), "QX",
         setup=_files({"a.jsonl": _line(MCQ)})),
    Case("paper-missing-file", _bench("--preset", "paper", "--data", "{tmp}/a.jsonl,{tmp}/b.jsonl,{tmp}/c.jsonl"), "b.jsonl",
         setup=_files({"a.jsonl": _line(MCQ)})),
    Case("paper-two-scorers", _bench("--preset", "paper", "--scorer", "likelihood,generation"), "one --scorer",
         setup=_files({})),
    # ecmiip build: every option, the recipe, the data and --out checked before anything is written
    Case("build-name-path", _build("--name", "../../x"), "--name"),
    Case("build-name-space", _build("--name", "my model"), "--name"),
    Case("build-quant", _build("--quant", "Q3"), "Q3"),
    Case("build-bench-limit", _build("--bench-limit", "0"), "--bench-limit"),
    Case("build-resume-force", _build("--resume", "--force"), "pass one"),
    Case("build-recipe-missing", _build("--recipe", "{tmp}/nope.yaml"), "nope.yaml"),
    Case("build-recipe-bad-value", _build("--recipe", "{tmp}/r.yaml"), "data.val_fraction",
         setup=_files({"r.yaml": "base: ''\ndata: {val_fraction: 7}\n"}, model=False)),
    Case("build-data-missing", _build("--data", "{tmp}/nope"), "nope"),
    Case("build-data-no-jsonl", _build("--data", "{tmp}/empty"), "no *.jsonl", setup=_mkdir("empty")),
    Case("build-data-duplicate-key", _build("--data", "{tmp}/d.jsonl", "--base", "{tmp}/m"), "duplicate key 'kind'",
         setup=_files({"d.jsonl": '{"kind": "case", "kind": "knowledge"}\n'})),
    Case("build-data-empty-file", _build("--data", "{tmp}/e.jsonl", "--base", "{tmp}/m"), "e.jsonl:1: file: empty",
         setup=_files({"e.jsonl": ""})),
    Case("build-out-is-file", ("build", "--out", "{tmp}/out/f"), "is a file", setup=_files({"out/f": "x"}, model=False)),
    Case("build-out-holds-build", _build("--base", "{tmp}/m"), "holds a build", setup=_files({"out/build.json": "{}"})),
    Case("build-out-not-a-build", _build("--base", "{tmp}/m"), "not a build folder", setup=_files({"out/x.txt": "mine"})),
    Case("build-resume-damaged-state", _build("--base", "{tmp}/m", "--resume"), "build.json",
         setup=_files({"out/build.json": "[1, 2"})),
    Case("build-resume-state-not-dict", _build("--base", "{tmp}/m", "--resume"), "build.json",
         setup=_files({"out/build.json": "[]"})),
    Case("build-base-missing", _build("--base", "{tmp}/nowhere"), "nowhere"),
    Case("build-base-no-config", _build("--base", "{tmp}/d"), "no config.json", setup=_mkdir("d")),
    Case("build-base-bad-config", _build("--base", "{tmp}/b"), "config.json", setup=_files({"b/config.json": "{oops"}, model=False)),
    Case("build-base-unknown-arch", _build("--base", "{tmp}/b"), "config.json",
         setup=_files({"b/config.json": '{"architectures": ["FancyNetForCausalLM"]}'}, model=False)),
]


def test_enough_cases():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    check(case, tmp_path)


def test_refused_build_keeps_the_users_files(tmp_path):
    case = Case("keep", _build("--base", "{tmp}/m", "--force", "--quant", "Q3"), "Q3",
                setup=_files({"out/build.json": "{}", "out/04-pretrain/x": "trained"}))
    check(case, tmp_path)
    assert (tmp_path / "out" / "04-pretrain" / "x").read_text() == "trained"  # --force deletes only after every check


# ---------------------------------------------------------------- unit tests: atomic outputs, help text


def _no_final_and_no_partial(path: Path) -> None:
    assert not path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}")]


def test_results_save_keeps_the_previous_file(tmp_path):
    from ecmiip.bench.results import load_results, save_results

    path = tmp_path / "results.json"
    save_results(path, dict(RESULTS))
    with pytest.raises(TypeError):
        save_results(path, {**RESULTS, "settings": {"x": object()}})
    assert load_results(path)["settings"] == {"seed": 0}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_accuracy_chart_is_atomic(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from ecmiip.bench.report import bar_chart

    results = {"models": {"m": {"tasks": {"recite": {"summary": {"n": 1, "rouge_l": 0.5, "exact": 0.0}}}}}}
    path = tmp_path / "accuracy.png"

    def half_then_fail(self, fname, *a, **k):
        Path(fname).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    real = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        bar_chart(results, path)
    _no_final_and_no_partial(path)
    monkeypatch.setattr(Figure, "savefig", real)
    bar_chart(results, path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_build_step_files_are_atomic(tmp_path):
    from ecmiip.core.outputs import write_json_atomic, write_jsonl_atomic

    path = tmp_path / "cases.jsonl"
    with pytest.raises(TypeError):
        write_jsonl_atomic(path, [{"a": 1}, {"b": object()}])
    _no_final_and_no_partial(path)
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "summary.json", {"x": object()})
    _no_final_and_no_partial(tmp_path / "summary.json")
    write_jsonl_atomic(path, [{"a": 1}])
    assert path.read_text() == '{"a": 1}\n'


def test_build_summary_reports_disk_and_reclaimable_checkpoints(tmp_path, capsys):
    from ecmiip.pipeline.build import reclaimable
    from ecmiip.pipeline.cli import _disk_summary

    class Plan:
        out = tmp_path / "b"

    for folder in ("04-pretrain/stage1/checkpoint-4", "05-sft/checkpoints/checkpoint-6"):
        (Plan.out / folder).mkdir(parents=True)
        (Plan.out / folder / "model.safetensors").write_bytes(b"\0" * 2**20)
    (Plan.out / "04-pretrain" / "model").mkdir()
    (Plan.out / "04-pretrain" / "model" / "model.safetensors").write_bytes(b"\0" * 2**20)
    assert [f.name for f, _ in reclaimable(Plan)] == ["checkpoint-4", "checkpoint-6"]
    from ecmiip.core.console import console

    with console.capture() as captured:
        console.width = 400
        _disk_summary(Plan)
    text = " ".join(captured.get().split())
    assert "uses 3.0 MiB" in text and "2.0 MiB" in text
    assert f"rm -r {Plan.out}/04-pretrain/stage1/checkpoint-*" in text and "05-sft/checkpoints/checkpoint-*" in text


def test_builds_folder_is_ignored_by_git():
    lines = (Path(__file__).resolve().parents[1] / ".gitignore").read_text().split()
    assert "builds/" in lines


def _subcommands():
    import argparse

    from ecmiip.cli import build_parser

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield (*path, name), sub
                    yield from walk(sub, (*path, name))

    return dict(walk(build_parser(), ()))


MINE = [("bench",), ("build",), ("train",), ("train", "pretrain"), ("train", "sft"), ("data",), ("data", "validate"),
        ("data", "stats"), ("data", "hardness"), ("data", "build-qa"), ("data", "qa-audit")]


@pytest.mark.parametrize("path", MINE, ids=[" ".join(p) for p in MINE])
def test_help_has_a_description_without_sphinx_markup(path):
    parser = _subcommands()[path]
    assert parser.description and len(parser.description) > 40
    text = parser.format_help()
    assert "``" not in text and not re.search(r":(mod|func|class|meth|ref):`", text), text


def test_every_recipe_option_lists_every_shipped_recipe():
    from ecmiip.train.recipe import shipped_recipes

    names = shipped_recipes()
    for path, parser in _subcommands().items():
        for action in parser._actions:
            if {"--config", "--recipe"} & set(action.option_strings) and "recipe" in (action.help or "").lower():
                assert all(n in action.help for n in names), (path, action.help)
