"""Training on real tiny models: recipes, QLoRA SFT on 4-bit layers, and the whole pipeline to a GGUF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecmiip.cli import main
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT
from ecmiip.core.statutes import all_articles
from ecmiip.train.mipld import SAMPLES_DIR
from ecmiip.train.recipe import load_recipe
from ecmiip.train.run_folder import checkpoint_complete

PNG = b"\x89PNG\r\n\x1a\n"


def test_shipped_recipes_load_with_the_papers_values():
    r = load_recipe("qwen3-4b")
    assert (r.sft.lora.r, r.sft.lora.alpha, r.sft.lora.dropout, r.sft.lr, r.sft.batch_size, r.sft.grad_accum, r.seed) == (
        64, 128, 0.05, 2e-5, 8, 8, 42,
    )
    assert r.sft.quantization.quant_type == "nf4" and r.sft.quantization.double_quant
    assert r.hardware.requires_cuda
    assert load_recipe("tiny-cpu").sft.max_steps > 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: x\nsft: {lr: 1e-4, lerning_rate: 2}\n", "unknown key sft.lerning_rate"),
        ("base: x\nsft: {batch_size: eight}\n", "sft.batch_size = 'eight' is not a int"),
        ("base: x\npretrain: {stage1: [1, 2]}\n", "pretrain.stage1 must be a mapping"),
        ("seed: 1\n", "missing 1 required positional argument: 'base'"),
        ("base: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_recipes_are_refused_with_the_key(tmp_path, text, message):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_recipe(path)
    assert message in str(e.value) and str(path) in str(e.value)


def test_recipe_hkre_section_is_the_hkre_config(tmp_path):
    from ecmiip.train.hkre_config import HKREConfig

    path = tmp_path / "r.yaml"
    path.write_text(
        "base: x\npretrain:\n  stage1:\n    hkre: {band_edges: [0.2, 0.4], relative_edges: true, "
        "hard_factors: {embedding: 0.0, low: 0.1, mid: 0.3, high: 0.7}, beta_schedule: cosine}\n",
        encoding="utf-8",
    )
    config = load_recipe(path).pretrain.stage1.hkre
    assert isinstance(config, HKREConfig)  # the recipe's section is the runtime config: nothing to convert
    assert config.edges(20) == (4, 8) and config.hard_factors["low"] == 0.1 and config.beta_schedule == "cosine"
    path.write_text("base: x\npretrain: {stage1: {hkre: {hard_factors: {low: high}}}}\n", encoding="utf-8")
    with pytest.raises(InputError, match="hard_factors"):
        load_recipe(path)


def _qa_file(path: Path, n: int = 8) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for a in all_articles()[:n]:
            messages = [
                {"role": "system", "content": LEGAL_SYSTEM_PROMPT},
                {"role": "user", "content": f"{a.citation}规定了什么？"},
                {"role": "assistant", "content": f"{a.citation}规定：{a.text[:60]}"},
            ]
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return path


def test_sft_trains_real_nf4_layers_on_cpu(tiny_qwen3_dir, tmp_path):
    import bitsandbytes as bnb

    from ecmiip.train.sft import load_qlora_model, run_sft

    recipe = load_recipe("tiny-cpu")
    model = load_qlora_model(tiny_qwen3_dir, recipe.sft.quantization, recipe.sft.lora)
    four_bit = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(four_bit) == 2 * 7  # every projection of both layers is NF4
    assert four_bit[0].weight.quant_type == "nf4"
    del model

    recipe.sft.max_steps, recipe.sft.lr = 12, 3e-3
    adapter = run_sft(recipe, tiny_qwen3_dir, [_qa_file(tmp_path / "qa.jsonl")], tmp_path / "sft")
    assert (adapter / "adapter_model.safetensors").is_file()
    losses = [e["loss"] for e in json.loads((tmp_path / "sft" / "sft-history.json").read_text()) if "loss" in e]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    assert (tmp_path / "sft" / "sft-loss.png").read_bytes()[:8] == PNG


def test_bad_qa_lines_are_reported_with_file_and_line(tmp_path):
    from ecmiip.train.mipld import load_conversations

    path = tmp_path / "qa.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_conversations([path])
    assert f"{path}:1:" in str(e.value) and f"{path}:2:" in str(e.value)


@pytest.mark.slow
def test_pretrain_sft_export_end_to_end(tiny_qwen3_dir, tmp_path):
    """Both pre-training stages → QLoRA SFT → adapter → ecmiip export → llama.cpp answers."""
    from llama_cpp import Llama

    from ecmiip.core.llama import captured_llama_log

    pre, sft, dist = tmp_path / "pre", tmp_path / "sft", tmp_path / "dist"
    assert main(["train", "pretrain", "--config", "tiny-cpu", "--base", str(tiny_qwen3_dir), "--out", str(pre)]) == 0
    for stage in ("stage1", "stage2"):
        assert (pre / f"{stage}-loss.png").read_bytes()[:8] == PNG
        history = json.loads((pre / f"{stage}-history.json").read_text())
        assert any("eval_loss" in e for e in history)  # validation loss was measured
    assert any("hkre_alpha" in e for e in json.loads((pre / "stage1-history.json").read_text()))
    model_dir = pre / "model"
    samples = Path(__file__).resolve().parents[1] / "train" / "samples"
    qa = tmp_path / "qa.jsonl"
    assert main(["data", "build-qa", str(samples / "knowledge.jsonl"), str(samples / "exemptions.jsonl"), "--out", str(qa)]) == 0
    assert main(["train", "sft", "--config", "tiny-cpu", "--base", str(model_dir), "--qa", str(qa), "--out", str(sft)]) == 0
    assert main(["export", str(model_dir), "--adapter", str(sft / "adapter"), "--out", str(dist)]) == 0
    report = json.loads((dist / "export-report.json").read_text())
    assert report["passed"]
    with captured_llama_log():
        llm = Llama(str(dist / "ec-miip-Q4_K_M.gguf"), n_ctx=512, verbose=False, seed=0)
    out = llm.create_chat_completion([{"role": "user", "content": "什么是专利权？"}], max_tokens=8, temperature=0)
    assert out["usage"]["completion_tokens"] > 0
    llm.close()


@pytest.mark.slow
def test_killed_sft_resumes_from_its_last_checkpoint(tiny_qwen3_dir, tmp_path):
    """A hard kill mid-training loses at most the steps since the last checkpoint."""
    import subprocess
    import sys
    import time

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        (Path(__file__).resolve().parents[1] / "train" / "recipes" / "tiny-cpu.yaml")
        .read_text(encoding="utf-8")
        .replace("  max_steps: 6\n", "  max_steps: 30\n  save_steps: 2\n")
        .replace("../samples/", str(Path(__file__).resolve().parents[1] / "train" / "samples") + "/"),
        encoding="utf-8",
    )
    qa, out = _qa_file(tmp_path / "qa.jsonl"), tmp_path / "sft"
    cmd = [sys.executable, "-m", "ecmiip", "train", "sft", "--config", str(recipe), "--base", str(tiny_qwen3_dir), "--qa", str(qa), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not checkpoint_complete(out / "checkpoints" / "checkpoint-4") and time.time() < deadline:
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    done = sorted(int(p.name.split("-")[1]) for p in (out / "checkpoints").glob("checkpoint-*") if checkpoint_complete(p))
    assert done and done[-1] < 30 and not (out / "adapter").exists()

    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"checkpoint-{done[-1]}" in resumed.stderr.replace("\n", "")  # continued from the last checkpoint
    history = json.loads((out / "sft-history.json").read_text())
    assert [e["step"] for e in history if "loss" in e] == list(range(1, 31))  # every step once, none redone
    assert (out / "adapter" / "adapter_model.safetensors").is_file()


def test_a_checkpoint_cut_off_mid_save_is_not_resumed(tmp_path):
    from ecmiip.train.loop import last_checkpoint

    for step, state in ((2, '{"global_step": 2}'), (4, '{"global_st'), (10, None)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-x").mkdir()
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    assert last_checkpoint(tmp_path / "missing") is None


def _recipe_with(tmp_path: Path, **data_lines: str) -> Path:
    text = "base: ''\ndata:\n" + "".join(f"  {k}: {v}\n" for k, v in data_lines.items())
    path = tmp_path / "recipe.yaml"
    path.write_text(text + "pretrain: {stage1: {max_steps: 1}, stage2: {max_steps: 1}}\n", encoding="utf-8")
    return path


def test_bad_training_input_fails_before_training(tiny_qwen3_dir, tmp_path, capsys):
    out = tmp_path / "out"
    broken = tmp_path / "cases.jsonl"
    broken.write_text('{"kind": "case", "facts": "x"}\n{not json\n', encoding="utf-8")
    recipe = _recipe_with(tmp_path, cases=f"['{broken}']")
    assert main(["train", "pretrain", "--config", str(recipe), "--base", str(tiny_qwen3_dir), "--out", str(out)]) == 1
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{broken}:1" in err and f"{broken}:2" in err
    assert not out.exists()  # nothing trained, nothing written

    empty = tmp_path / "none.jsonl"
    empty.write_text("", encoding="utf-8")
    recipe = _recipe_with(tmp_path, cases=f"['{empty}']")
    assert main(["train", "pretrain", "--config", str(recipe), "--base", str(tiny_qwen3_dir), "--out", str(out)]) == 1
    assert f"{empty}:1: file: empty" in capsys.readouterr().err.replace("\n", "")  # reported, not zero records

    no_cases = tmp_path / "knowledge-only.jsonl"
    no_cases.write_text((SAMPLES_DIR / "knowledge.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    recipe = _recipe_with(tmp_path, cases=f"['{no_cases}']")
    assert main(["train", "pretrain", "--config", str(recipe), "--base", str(tiny_qwen3_dir), "--out", str(out)]) == 1
    assert "stage 2 needs case records" in " ".join(capsys.readouterr().err.split())

    assert main(["train", "sft", "--config", "tiny-cpu", "--base", str(tmp_path / "missing"), "--qa", str(empty)]) == 1
    assert "base model directory not found" in capsys.readouterr().err.replace("\n", "")
