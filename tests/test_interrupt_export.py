"""Ctrl-C while llama.cpp quantizes: ``ecmiip export`` (and ``ecmiip ladder``, with an importance matrix)
stops within seconds, exits 130 and leaves no final-named output nor temporary file; the same command then
succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import ROOT
from tests.models import cached_model


@pytest.fixture(scope="module")
def wide_qwen3_dir(tiny_qwen3_dir) -> Path:
    """A random Qwen3 wide enough (~200 M parameters) that quantizing it takes seconds, not a blink."""
    return cached_model(
        "tiny-qwen3", hidden_size=1024, intermediate_size=3072, num_hidden_layers=4,
        num_attention_heads=16, num_key_value_heads=8, head_dim=64,
    )


def _ctrl_c_live() -> None:
    """In the child, before exec: SIGINT as a terminal's foreground command has it. A test run started in
    the background (`nohup ... &`) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _export(base: Path, out: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ECMIIP_HOME": str(out.parent / "home")}
    return subprocess.Popen(
        [sys.executable, "-m", "ecmiip", "export", str(base), "--out", str(out), "--quant", "Q4_K_M", "--no-verify"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, preexec_fn=_ctrl_c_live, **kw,
    )


def _ctrl_c_while_writing(proc: subprocess.Popen, partial: Path, what: str) -> str:
    """Wait until ``partial`` appears, send SIGINT to the whole process group (as a terminal does) well inside
    llama.cpp's quantization loop, and return the output once the command stopped: exit 130 within 5 s."""
    deadline = time.monotonic() + 300
    while not partial.exists():
        assert proc.poll() is None, f"{what} ended before writing {partial.name}:\n{proc.stdout.read().decode()}"
        assert time.monotonic() < deadline, f"{what} never started writing {partial.name}"
        time.sleep(0.02)
    time.sleep(0.3)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"{what} still running 10 s after Ctrl-C (a quantizer in the process?)")
    elapsed = time.monotonic() - sent
    text = output.decode("utf-8", errors="replace")
    assert proc.returncode == 130, text
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert "Traceback" not in text and "Exception ignored" not in text, text
    return text


def test_ctrl_c_stops_quantization(wide_qwen3_dir, tmp_path):
    out = tmp_path / "out"
    partial = out / ".ec-miip-Q4_K_M.gguf.partial"
    text = _ctrl_c_while_writing(_export(wide_qwen3_dir, out, process_group=0), partial, "export")
    assert "interrupted" in text
    left = sorted(p.name for p in out.rglob("*")) if out.exists() else []
    assert not any(n.endswith(".gguf") or n.endswith(".partial") for n in left), left
    # No quantizer left running in the background.
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(partial) not in ps

    rerun = _export(wide_qwen3_dir, out)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output.decode(errors="replace")
    assert (out / "ec-miip-Q4_K_M.gguf").is_file() and (out / "Modelfile").is_file()
    assert not list(out.glob(".*partial"))


def test_ctrl_c_stops_an_importance_matrix_quantization_of_the_ladder(wide_qwen3_dir, tmp_path):
    """The ladder's other types and importance-matrix twins run in the same child as the export's types."""
    from ecmiip.quantize.convert import convert

    f16 = tmp_path / "m-F16.gguf"
    convert(wide_qwen3_dir, f16)
    out = tmp_path / "ladder"
    partial = out / ".m-Q3_K_M-imatrix.gguf.partial"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ECMIIP_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "ecmiip", "ladder", str(f16), "--out", str(out), "--quant", "Q3_K_M",
           "--imatrix-quant", "Q3_K_M", "--tokens", "32"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, preexec_fn=_ctrl_c_live,
                            process_group=0)
    _ctrl_c_while_writing(proc, partial, "ladder")
    assert not list(out.iterdir()), sorted(p.name for p in out.iterdir())  # the plain Q3_K_M too: all or nothing


def test_failure_in_progress_callback_stops_the_child(tiny_qwen3_dir, tmp_path):
    """Any exception while the quantizer runs (here: in the progress callback) stops it and removes its file."""
    from ecmiip.quantize.convert import convert
    from ecmiip.quantize.quantize import quantize

    f16 = tmp_path / "m-F16.gguf"
    convert(tiny_qwen3_dir, f16)

    def stop(i, n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quantize(f16, tmp_path / "m-Q4_K_M.gguf", "Q4_K_M", on_progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-F16.gguf"]
