"""ecmiip build: the step engine (skip, rerun, invalidate), the refusals, and the real demo, killed and resumed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecmiip.cli import main
from ecmiip.core.errors import InputError
from ecmiip.pipeline.steps import MARKER, Step, StepState, run_step, why_not_complete
from ecmiip.train.recipe import load_recipe
from ecmiip.train.run_folder import checkpoint_complete

BUILD = [sys.executable, "-m", "ecmiip", "build"]


def _counting_step(name: str, calls: list[str], src: Path, settings: dict | None = None, fail: bool = False) -> Step:
    def run(folder: Path, resume: bool) -> dict:
        calls.append(f"{name}{' resume' if resume else ''}")
        if fail:
            raise RuntimeError("boom")
        (folder / "out.txt").write_text(src.read_text() + name)
        return {"chars": len(src.read_text())}

    return Step(name, name, f"0-{name}", run, inputs=lambda: [src], outputs=["out.txt"], settings=settings or {})


def test_complete_steps_are_skipped_and_changes_rerun_them(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    out = tmp_path / "build"
    calls: list[str] = []
    first = _counting_step("first", calls, src)
    second = Step("second", "second", "1-second", lambda f, r: calls.append("second") or {},
                  inputs=lambda: [out / "0-first"], outputs=[])
    for step in (first, second):
        assert run_step(step, out, StepState(out)).status == "done"
    state = StepState(out)
    assert [run_step(s, out, state).status for s in (first, second)] == ["skipped", "skipped"]
    assert calls == ["first", "second"]

    time.sleep(0.01)
    src.write_text("b")  # an input changed: the step and the one downstream of it run again
    os.utime(src, (time.time() + 2, time.time() + 2))
    assert why_not_complete(first, out, state) == "inputs changed"
    assert [run_step(s, out, state).status for s in (first, second)] == ["done", "done"]
    assert (out / "0-first" / "out.txt").read_text() == "bfirst"

    changed = _counting_step("first", calls, src, settings={"lr": 2})
    assert why_not_complete(changed, out, state) == "settings changed"
    (out / "0-first" / "out.txt").unlink()
    assert why_not_complete(first, out, state) == "output missing: out.txt"


def test_a_failed_step_is_recorded_and_resumed_in_its_folder(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a")
    out = tmp_path / "build"
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        run_step(_counting_step("s", calls, src, fail=True), out, StepState(out))
    record = json.loads((out / "build.json").read_text())["steps"]["s"]
    assert record["status"] == "failed" and record["error"] == "boom"
    assert not (out / "0-s" / MARKER).exists()
    assert run_step(_counting_step("s", calls, src), out, StepState(out)).status == "done"
    assert calls == ["s", "s resume"]  # same settings: the unfinished folder is handed back to the step


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_offline_without_a_cached_base_fails_at_once_saying_how(tmp_path, monkeypatch, capsys, no_network):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    start = time.perf_counter()
    assert main(["build", "--base", "Qwen/Qwen3-4B", "--out", str(tmp_path / "b")]) == 1
    assert time.perf_counter() - start < 5
    err = " ".join(capsys.readouterr().err.split())
    assert "Qwen/Qwen3-4B is not in the local Hugging Face cache" in err
    assert "ecmiip pull Qwen/Qwen3-4B" in err and "--base" in err
    assert not (tmp_path / "b").exists()  # nothing was started


def test_a_gpu_recipe_is_refused_on_a_machine_without_cuda(tiny_qwen3_dir, tmp_path, capsys, monkeypatch):
    import torch

    from ecmiip.pipeline.hardware import check_hardware

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["build", "--base", str(tiny_qwen3_dir), "--out", str(tmp_path / "b")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "qwen3-4b.yaml fine-tunes with 4-bit QLoRA and needs a CUDA GPU with 24 GB" in err
    assert "--ignore-hardware" in err and "ecmiip build --demo" in err
    assert not (tmp_path / "b").exists()
    recipe = load_recipe("qwen3-4b")
    assert "Starting anyway" in check_hardware(recipe, ignore=True)
    assert check_hardware(load_recipe("demo-cpu")) is None
    with pytest.raises(InputError):
        check_hardware(recipe)


def test_an_unconvertible_base_is_refused_before_training(tiny_qwen3_dir, tmp_path, capsys):
    base = tmp_path / "base"
    base.mkdir()
    config = json.loads((tiny_qwen3_dir / "config.json").read_text())
    (base / "config.json").write_text(json.dumps(config | {"architectures": ["MistralForCausalLM"]}))
    assert main(["build", "--base", str(base), "--recipe", "demo-cpu", "--out", str(tmp_path / "b")]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"{base}/config.json: unsupported architecture MistralForCausalLM" in err
    assert not (tmp_path / "b").exists()


def test_an_existing_build_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "b"
    out.mkdir()
    (out / "build.json").write_text('{"format": 1, "steps": {}}')
    assert main(["build", "--demo", "--out", str(out)]) == 1
    assert "--resume continues it, --force starts over" in " ".join(capsys.readouterr().err.split())


@pytest.mark.slow
def test_demo_killed_mid_sft_resumes_and_ends_with_a_gguf_chat_answers_from(smollm2_dir, tmp_path):
    """The README's demo, for real: killed during SFT, resumed, then ecmiip-chat -p answers from its GGUF."""
    out = tmp_path / "demo"
    cmd = [*BUILD, "--demo", "--out", str(out), "--no-answer"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 900
    while not checkpoint_complete(out / "05-sft" / "checkpoints" / "checkpoint-2") and time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the build ended before SFT checkpointed: {proc.stderr.read()[-3000:]}")
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    proc.stderr.close()
    state = json.loads((out / "build.json").read_text())["steps"]
    assert [state[s]["status"] for s in ("data", "hardness", "qa", "pretrain")] == ["done"] * 4
    assert state["sft"]["status"] == "running" and not (out / "05-sft" / "adapter").exists()
    pretrained = out / "04-pretrain" / "model" / "model.safetensors"
    before = pretrained.stat().st_mtime_ns

    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = " ".join(resumed.stderr.split())
    assert "resuming from" in log and "checkpoint-" in log
    assert pretrained.stat().st_mtime_ns == before  # pre-training was not redone
    history = json.loads((out / "05-sft" / "sft-history.json").read_text())
    assert [e["step"] for e in history if "loss" in e] == list(range(1, 7))  # every SFT step once
    state = json.loads((out / "build.json").read_text())["steps"]
    assert all(state[s]["status"] == "done" for s in ("sft", "export"))
    assert "ollama create ec-miip -f" in log and "ecmiip-chat --model" in log

    gguf = out / "06-export" / "ec-miip-Q4_K_M.gguf"
    modelfile = (out / "06-export" / "Modelfile").read_text(encoding="utf-8")
    assert "\nFROM ./ec-miip-Q4_K_M.gguf\n" in modelfile and "\nSYSTEM " in modelfile
    assert json.loads((out / "06-export" / "export-report.json").read_text())["passed"]
    chat = subprocess.run(
        [sys.executable, "-m", "ecmiip.chat.cli", "--model", str(gguf), "-p", "什么是专利权？", "--max-tokens", "24"],
        capture_output=True, text=True, timeout=300,
    )
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert chat.stdout.strip()

    again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)  # nothing left to do
    assert again.returncode == 0 and again.stderr.count("complete, skipped") == 6



def test_bench_step_benchmarks_the_quantized_model(tiny_qwen3_gguf, tmp_path):
    from ecmiip.pipeline.build import BuildPlan, quant_gguf, run_bench_step

    plan = BuildPlan(load_recipe("demo-cpu"), tmp_path, tmp_path, tmp_path / "b", bench=True, bench_limit=2)
    quant_gguf(plan).parent.mkdir(parents=True)
    quant_gguf(plan).symlink_to(tiny_qwen3_gguf)
    folder = tmp_path / "b" / "07-bench"
    folder.mkdir()
    summary = run_bench_step(plan, folder, False)
    assert set(summary) == {"mcq-likelihood", "mcq-generation", "case-likelihood", "case-generation", "recite"}
    assert all(0 <= v <= 1 for v in summary.values())
    assert (folder / "report.md").exists() and (folder / "accuracy.png").exists()


def test_a_mistyped_quant_type_fails_before_training(tiny_qwen3_dir, tmp_path, capsys):
    argv = ["build", "--base", str(tiny_qwen3_dir), "--recipe", "demo-cpu", "--quant", "Q3", "--out", str(tmp_path / "b")]
    assert main(argv) == 1
    assert "unknown quantization type Q3" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
