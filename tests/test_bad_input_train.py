"""Bad input to ``ecmiip data`` and ``ecmiip train``: one line naming the culprit, no traceback, nothing
outside the output folder touched, and every error before any model loads (the harness: tests/harness.py).
Below the table: unit tests that training's outputs (history, loss plot, checkpoints) are atomic and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecmiip.train.mipld import SAMPLES_DIR
from tests.harness import Case, check

PRE = ("train", "pretrain")
SFT = ("train", "sft")
BASE = ("--base", "{tmp}/base", "--out", "{tmp}/out")
CONFIG = ("--config", "{tmp}/r.yaml")

KNOWLEDGE = {"kind": "knowledge", "right_type": "专利权", "related_articles": ["《中华人民共和国专利法》第十一条"],
             "concept": "专利侵权", "analysis": "未经许可实施他人专利。"}
EXEMPTION = {"kind": "exemption", "area": "合理使用", "related_articles": ["《中华人民共和国著作权法》第二十四条"],
             "keywords": ["个人学习"], "explanation": "为个人学习使用他人已经发表的作品。"}
STATUTE = {"law": "中华人民共和国专利法", "version": "2020修正", "article": "第一条", "text": "为了保护专利权人的合法权益……"}
CASE = json.loads((SAMPLES_DIR / "cases.jsonl").read_text(encoding="utf-8").splitlines()[0])
QA = {"messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]}


def _line(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _files(files: dict[str, str | bytes], recipe: str | None = None, base: bool = True):
    """Write ``files`` into the case folder, a dummy base model folder (config.json only: nothing loads it)
    and, if given, the recipe ``r.yaml`` (its data paths relative to the case folder)."""
    def setup(tmp: Path) -> None:
        if base:
            (tmp / "base").mkdir()
            (tmp / "base" / "config.json").write_text('{"architectures": ["Qwen3ForCausalLM"]}', encoding="utf-8")
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        if recipe is not None:
            (tmp / "r.yaml").write_text(recipe, encoding="utf-8")
    return setup


def _recipe(data: str = "", extra: str = "") -> str:
    """A recipe on the shipped samples; ``data`` lines replace its data section's entries."""
    lines = {"statutes": "builtin", "knowledge": f"['{SAMPLES_DIR / 'knowledge.jsonl'}']",
             "exemptions": f"['{SAMPLES_DIR / 'exemptions.jsonl'}']", "cases": f"['{SAMPLES_DIR / 'cases.jsonl'}']"}
    for line in filter(None, data.split("\n")):
        key, _, value = line.partition(":")
        lines[key.strip()] = value.strip()
    return "base: ''\ndata:\n" + "".join(f"  {k}: {v}\n" for k, v in lines.items()) + extra


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_record(depth: int) -> str:
    return _line(KNOWLEDGE)[:-1] + ', "extra": ' + _nested(depth) + "}"


def _checkpoint(folder: str, files: dict[str, bytes]):
    def setup(tmp: Path) -> None:
        ck = tmp / "out" / folder
        ck.mkdir(parents=True)
        (ck / "trainer_state.json").write_text('{"global_step": 4, "log_history": []}', encoding="utf-8")
        for name, data in files.items():
            (ck / name).write_bytes(data)
    return setup


def _both(*setups):
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


# A safetensors header that promises 1,000 bytes of data the file does not hold.
_TRUNCATED_SAFETENSORS = (lambda h: len(h).to_bytes(8, "little") + h + b"\0" * 10)(
    json.dumps({"w": {"dtype": "F32", "shape": [250], "data_offsets": [0, 1000]}}).encode())


def _sft_recipe_with_qa(qa_lines: str | bytes):
    return _files({"qa.jsonl": qa_lines}, _recipe())


CASES = [
    # recipes: values no run could use, each named with the file and key
    Case("recipe-negative-lr", (*PRE, *CONFIG, *BASE), "sft.lr", setup=_files({}, _recipe(extra="sft: {lr: -1.0e-4}\n"))),
    Case("recipe-zero-lr-stage1", (*PRE, *CONFIG, *BASE), "pretrain.stage1.lr",
         setup=_files({}, _recipe(extra="pretrain: {stage1: {lr: 0}}\n"))),
    Case("recipe-val-fraction-7", (*PRE, *CONFIG, *BASE), "data.val_fraction = 7",
         setup=_files({}, _recipe("val_fraction: 7"))),
    Case("recipe-val-fraction-0", (*SFT, *CONFIG, *BASE), "data.val_fraction",
         setup=_files({}, _recipe("val_fraction: 0"))),
    Case("recipe-epochs-0", (*SFT, *CONFIG, *BASE), "sft.epochs", setup=_files({}, _recipe(extra="sft: {epochs: 0}\n"))),
    Case("recipe-batch-negative", (*PRE, *CONFIG, *BASE), "pretrain.stage2.batch_size",
         setup=_files({}, _recipe(extra="pretrain: {stage2: {batch_size: -1}}\n"))),
    Case("recipe-dropout-1", (*SFT, *CONFIG, *BASE), "sft.lora.dropout",
         setup=_files({}, _recipe(extra="sft: {lora: {dropout: 1.5}}\n"))),
    Case("recipe-method", (*PRE, *CONFIG, *BASE), "pretrain.method",
         setup=_files({}, _recipe(extra="pretrain: {method: half}\n"))),
    Case("recipe-precision", (*SFT, *CONFIG, *BASE), "sft.precision",
         setup=_files({}, _recipe(extra="sft: {precision: fp8}\n"))),
    Case("recipe-unknown-key", (*PRE, *CONFIG, *BASE), "sft.lerning_rate",
         setup=_files({}, _recipe(extra="sft: {lerning_rate: 2}\n"))),
    Case("recipe-wrong-type", (*PRE, *CONFIG, *BASE), "sft.batch_size", setup=_files({}, _recipe(extra="sft: {batch_size: eight}\n"))),
    Case("recipe-duplicate-key", (*PRE, *CONFIG, *BASE), "'seed' is given twice",
         setup=_files({}, _recipe(extra="seed: 1\nseed: 2\n"))),
    Case("recipe-not-utf8", (*PRE, *CONFIG, *BASE), "r.yaml:2",
         setup=_files({"r.yaml": b"base: ''\nseed: \xff\xfe\n"})),
    Case("recipe-empty", (*PRE, *CONFIG, *BASE), "the recipe is empty", setup=_files({"r.yaml": ""})),
    Case("recipe-not-yaml", (*PRE, *CONFIG, *BASE), "not valid YAML", setup=_files({"r.yaml": "base: [unclosed\n"})),
    Case("recipe-a-list", (*PRE, *CONFIG, *BASE), "must be a mapping", setup=_files({"r.yaml": "- 1\n- 2\n"})),
    Case("recipe-missing", (*PRE, "--config", "{tmp}/nowhere.yaml", *BASE), "nowhere.yaml", setup=_files({})),
    Case("recipe-unknown-name", (*SFT, "--config", "tiny-gpu", *BASE), "tiny-cpu", setup=_files({})),
    Case("recipe-is-folder", (*PRE, "--config", "{tmp}/adir.yaml", *BASE), "adir.yaml",
         setup=_both(_files({}), lambda tmp: (tmp / "adir.yaml").mkdir())),
    # the base model and the output folder
    Case("base-missing", (*PRE, *CONFIG, "--base", "{tmp}/nowhere", "--out", "{tmp}/out"), "nowhere",
         setup=_files({}, _recipe(), base=False)),
    Case("base-not-a-model", (*PRE, *CONFIG, "--base", "{tmp}/empty", "--out", "{tmp}/out"), "no config.json",
         setup=_both(_files({}, _recipe()), lambda tmp: (tmp / "empty").mkdir())),
    Case("out-is-a-file", (*PRE, *CONFIG, "--base", "{tmp}/base", "--out", "{tmp}/out/file"), "is a file",
         setup=_both(_files({}, _recipe()), lambda tmp: ((tmp / "out").mkdir(), (tmp / "out" / "file").write_text("x")))),
    Case("overwrite-pretrain-run", (*PRE, *CONFIG, *BASE), "holds an earlier pretrain run",
         setup=_both(_files({}, _recipe()), _checkpoint("stage1/checkpoint-4", {}))),
    Case("overwrite-pretrain-model", (*PRE, *CONFIG, *BASE), "--force",
         setup=_both(_files({}, _recipe()), lambda tmp: (tmp / "out" / "model").mkdir(parents=True))),
    Case("overwrite-sft-run", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "holds an earlier sft run",
         setup=_both(_files({"qa.jsonl": _line(QA)}, _recipe()), lambda tmp: (tmp / "out" / "adapter").mkdir(parents=True))),
    Case("resume-and-force", (*PRE, *CONFIG, *BASE, "--resume", "--force"), "pass one", setup=_files({}, _recipe())),
    Case("resume-truncated-safetensors", (*PRE, *CONFIG, *BASE, "--resume"), "checkpoint-4",
         setup=_both(_files({}, _recipe()), _checkpoint("stage1/checkpoint-4", {"model.safetensors": _TRUNCATED_SAFETENSORS}))),
    Case("resume-garbage-optimizer", (*SFT, *CONFIG, *BASE, "--resume", "--qa", "{tmp}/qa.jsonl"), "optimizer.pt",
         setup=_both(_files({"qa.jsonl": _line(QA)}, _recipe()),
                     _checkpoint("checkpoints/checkpoint-4", {"optimizer.pt": b"not a torch file"}))),
    Case("resume-bad-state", (*PRE, *CONFIG, *BASE, "--resume"), "global_step",
         setup=_both(_files({}, _recipe()), lambda tmp: (
             (tmp / "out/stage2/checkpoint-2").mkdir(parents=True),
             (tmp / "out/stage2/checkpoint-2/trainer_state.json").write_text("[]")))),
    # MIPLD data of each kind, read before any model loads
    Case("case-missing-field", (*PRE, *CONFIG, *BASE), "cases.jsonl:1: facts",
         setup=_files({"cases.jsonl": _line({k: v for k, v in CASE.items() if k != "facts"})},
                      _recipe("cases: [cases.jsonl]"))),
    Case("knowledge-bad-right-type", (*PRE, *CONFIG, *BASE), "knowledge.jsonl:1: right_type",
         setup=_files({"knowledge.jsonl": _line({**KNOWLEDGE, "right_type": "物权"})}, _recipe("knowledge: [knowledge.jsonl]"))),
    Case("exemption-empty-keywords", (*PRE, *CONFIG, *BASE), "exemptions.jsonl:1: keywords",
         setup=_files({"exemptions.jsonl": _line({**EXEMPTION, "keywords": []})}, _recipe("exemptions: [exemptions.jsonl]"))),
    Case("statute-bad-article", (*PRE, *CONFIG, *BASE), "statutes.jsonl:1: article",
         setup=_files({"statutes.jsonl": _line({**STATUTE, "article": "article 1"})}, _recipe("statutes: [statutes.jsonl]"))),
    Case("knowledge-empty-file", (*PRE, *CONFIG, *BASE), "knowledge.jsonl:1: file: empty",
         setup=_files({"knowledge.jsonl": ""}, _recipe("knowledge: [knowledge.jsonl]"))),
    Case("cases-blank-lines-only", (*PRE, *CONFIG, *BASE), "cases.jsonl:1: file: empty",
         setup=_files({"cases.jsonl": "\n \n"}, _recipe("cases: [cases.jsonl]"))),
    Case("knowledge-duplicate-key", (*PRE, *CONFIG, *BASE), "knowledge.jsonl:1: record: duplicate key 'concept'",
         setup=_files({"knowledge.jsonl": _line(KNOWLEDGE)[:-1] + ', "concept": "又一个"}'}, _recipe("knowledge: [knowledge.jsonl]"))),
    Case("knowledge-not-utf8", (*PRE, *CONFIG, *BASE), "knowledge.jsonl:2",
         setup=_files({"knowledge.jsonl": _line(KNOWLEDGE).encode() + b"\n" + _line(KNOWLEDGE).encode("gbk")},
                      _recipe("knowledge: [knowledge.jsonl]"))),
    Case("knowledge-nested-deep", (*PRE, *CONFIG, *BASE), "knowledge.jsonl:1: record: nested too deeply",
         setup=_files({"knowledge.jsonl": _nested(100_000)}, _recipe("knowledge: [knowledge.jsonl]"))),
    Case("knowledge-nested-moderate", (*PRE, *CONFIG, *BASE), "nested too deeply",
         setup=_files({"knowledge.jsonl": _deep_record(60)}, _recipe("knowledge: [knowledge.jsonl]"))),
    Case("data-file-missing", (*PRE, *CONFIG, *BASE), "missing.jsonl", setup=_files({}, _recipe("cases: [missing.jsonl]"))),
    Case("no-case-records", (*PRE, *CONFIG, *BASE), "stage 2 needs case records", setup=_files({}, _recipe("cases: []"))),
    # QA pairs of SFT
    Case("qa-empty", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "qa.jsonl:1", setup=_sft_recipe_with_qa("")),
    Case("qa-duplicate-key", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "qa.jsonl:2: messages: duplicate key 'messages'",
         setup=_sft_recipe_with_qa(_line(QA) + "\n" + _line(QA)[:-1] + ', "messages": []}\n')),
    Case("qa-not-utf8", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "qa.jsonl:1: messages: not UTF-8",
         setup=_sft_recipe_with_qa(b'{"messages": "\xe9t\xe9"}\n')),
    Case("qa-nested", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "nested too deeply", setup=_sft_recipe_with_qa(_nested(50_000))),
    Case("qa-no-answer", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "qa.jsonl:1",
         setup=_sft_recipe_with_qa(_line({"messages": QA["messages"][:1]}))),
    Case("qa-bad-role", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/qa.jsonl"), "messages[0]",
         setup=_sft_recipe_with_qa(_line({"messages": [{"role": "human", "content": "x"}, QA["messages"][1]]}))),
    Case("qa-missing", (*SFT, *CONFIG, *BASE, "--qa", "{tmp}/nope.jsonl"), "nope.jsonl", setup=_files({}, _recipe())),
    Case("qa-none-given", (*SFT, *CONFIG, *BASE), "--qa", setup=_files({}, _recipe())),
    # ecmiip data
    Case("validate-empty", ("data", "validate", "{tmp}/e.jsonl"), "e.jsonl:1: file: empty", setup=_files({"e.jsonl": ""}, base=False)),
    Case("validate-duplicate-key", ("data", "validate", "{tmp}/d.jsonl"), "duplicate key 'kind'",
         setup=_files({"d.jsonl": '{"kind": "case", "kind": "knowledge"}\n'}, base=False)),
    Case("validate-nested", ("data", "validate", "{tmp}/n.jsonl"), "n.jsonl:1", setup=_files({"n.jsonl": _nested(200_000)}, base=False)),
    Case("validate-folder", ("data", "validate", "{tmp}/adir"), "adir", setup=lambda tmp: (tmp / "adir").mkdir()),
    Case("stats-top-0", ("data", "stats", "--top", "0", str(SAMPLES_DIR / "cases.jsonl")), "--top"),
    Case("stats-empty", ("data", "stats", "{tmp}/e.jsonl"), "e.jsonl:1: file: empty", setup=_files({"e.jsonl": "\n"}, base=False)),
    Case("hardness-output-exists", ("data", "hardness", str(SAMPLES_DIR / "cases.jsonl"), "{tmp}/out.jsonl"), "out.jsonl",
         setup=_files({"out.jsonl": "keep me\n"}, base=False)),
    Case("build-qa-bad-ratio", ("data", "build-qa", str(SAMPLES_DIR / "cases.jsonl"), "--out", "{tmp}/out/qa.jsonl",
                                "--cot-ratio", "7"), "7"),
]


def test_enough_cases():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, tmp_path):
    check(case, tmp_path)


def test_overwrite_message_names_folder_and_both_options(tmp_path):
    case = Case("overwrite", (*PRE, *CONFIG, *BASE), "--resume",
                setup=_both(_files({}, _recipe()), _checkpoint("stage1/checkpoint-4", {})))
    proc = check(case, tmp_path)
    text = " ".join((proc.stdout + proc.stderr).decode().split())
    assert str(tmp_path / "out") in text and "--resume" in text and "--force" in text
    assert (tmp_path / "out" / "stage1" / "checkpoint-4" / "trainer_state.json").exists()  # nothing deleted


# ---------------------------------------------------------------- unit tests: atomic, checked outputs


def test_force_removes_only_the_earlier_runs_outputs(tmp_path):
    from ecmiip.train.run_folder import check_run_folder, remove_run

    out = tmp_path / "run"
    (out / "stage1" / "checkpoint-1").mkdir(parents=True)
    (out / "stage1-history.json").write_text("[]")
    (out / "notes.txt").write_text("mine")
    earlier = check_run_folder(out, "pretrain", resume=False, force=True)
    assert sorted(p.name for p in earlier) == ["stage1", "stage1-history.json"]
    assert (out / "stage1").exists()  # nothing deleted by the check itself
    remove_run(earlier)
    assert not (out / "stage1").exists() and (out / "notes.txt").read_text() == "mine"
    assert check_run_folder(out, "pretrain", resume=False, force=False) == []


def test_a_whole_checkpoint_passes_and_damage_is_named(tmp_path):
    import torch
    from safetensors.torch import save_file

    from ecmiip.train.run_folder import checkpoint_problem

    ck = tmp_path / "checkpoint-3"
    ck.mkdir()
    save_file({"w": torch.zeros(4, 4)}, str(ck / "model.safetensors"))
    torch.save({"state": {}}, ck / "optimizer.pt")
    (ck / "trainer_state.json").write_text('{"global_step": 3}')
    assert checkpoint_problem(ck) is None
    data = (ck / "model.safetensors").read_bytes()
    (ck / "model.safetensors").write_bytes(data[:-8])
    assert "model.safetensors: truncated" in checkpoint_problem(ck)
    (ck / "model.safetensors").write_bytes(data)
    (ck / "optimizer.pt").write_bytes((ck / "optimizer.pt").read_bytes()[:20])
    assert "optimizer.pt" in checkpoint_problem(ck)


def test_resume_from_refuses_a_damaged_checkpoint(tmp_path):
    from ecmiip.core.errors import InputError
    from ecmiip.train.loop import resume_from

    ck = tmp_path / "checkpoint-2"
    ck.mkdir()
    (ck / "trainer_state.json").write_text('{"global_step": 2}')
    (ck / "rng_state.pth").write_bytes(b"junk")
    with pytest.raises(InputError, match="checkpoint-2.*rng_state.pth.*--force"):
        resume_from(tmp_path, True)
    assert resume_from(tmp_path, False) is None


def _no_final_and_no_partial(path: Path) -> None:
    assert not path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}")]


def test_history_is_atomic(tmp_path):
    from ecmiip.train.loop import write_history

    path = tmp_path / "sft-history.json"
    with pytest.raises(TypeError):
        write_history([{"loss": 1.0}, {"loss": object()}], path)
    _no_final_and_no_partial(path)
    write_history([{"loss": 1.0, "epoch": 1}], path)
    assert json.loads(path.read_text()) == [{"loss": 1.0, "epoch": 1}]


def test_loss_plot_is_atomic(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from ecmiip.train.loop import plot_losses

    history = [{"loss": 2.0, "epoch": 1.0}, {"eval_loss": 1.5, "epoch": 1.0}]
    path = tmp_path / "sft-loss.png"
    real = Figure.savefig

    def half_then_fail(self, fname, *a, **k):
        Path(fname).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        plot_losses(history, path, "t")
    _no_final_and_no_partial(path)
    monkeypatch.setattr(Figure, "savefig", real)
    plot_losses(history, path, "t")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_recipe_help_lists_every_shipped_recipe():
    from ecmiip.train.recipe import RECIPES_DIR, recipe_help

    names = [p.stem for p in RECIPES_DIR.glob("*.yaml")]
    assert len(names) >= 3 and all(n in recipe_help() for n in names)
