"""End to end on real models: train a few LoRA steps → ecmiip export → llama.cpp loads and generates."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import gguf
import pytest
from llama_cpp import Llama

from ecmiip.cli import main
from ecmiip.core.llama import captured_llama_log
from tests.models import make_lora_adapter


def _export(base: Path, out: Path, *extra: str) -> dict:
    assert main(["export", str(base), "--out", str(out), *extra]) == 0
    report = json.loads((out / "export-report.json").read_text(encoding="utf-8"))
    assert report["passed"], report["checks"]
    for name in ("ec-miip-F16.gguf", "ec-miip-Q4_K_M.gguf", "Modelfile", "export-report.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*partial"))
    return report


def _checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def _generate(path: Path, prompt: str, n: int = 12) -> tuple[str, int]:
    with captured_llama_log():
        llm = Llama(str(path), n_ctx=256, verbose=False, seed=0)
    out = llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=n, temperature=0)
    with captured_llama_log():
        llm.close()
    return out["choices"][0]["message"]["content"], out["usage"]["completion_tokens"]


def _tensor_types(path: Path) -> Counter:
    return Counter(t.tensor_type.name for t in gguf.GGUFReader(path).tensors)


def _field(reader: gguf.GGUFReader, key: str):
    return reader.fields[key].contents()


@pytest.fixture(scope="module")
def qwen3_qlora(tiny_qwen3_dir, tmp_path_factory) -> Path:
    """A QLoRA adapter: trained a few steps on the NF4-quantized base, to be merged into the 16-bit one."""
    return make_lora_adapter(tiny_qwen3_dir, tmp_path_factory.mktemp("qlora") / "adapter", steps=3, load_in_4bit=True)


def test_tiny_qwen3_with_qlora_adapter(tiny_qwen3_dir, qwen3_qlora, tmp_path):
    out = tmp_path / "dist"
    report = _export(tiny_qwen3_dir, out, "--adapter", str(qwen3_qlora))
    checks = _checks(report)
    tok = checks["tokenizer parity"]["details"]
    assert tok["identical"] == tok["texts"] >= 1411  # the whole statute corpus, 100 %
    assert checks["weight parity"]["passed"] and checks["special tokens"]["passed"]
    assert checks["logits parity"]["passed"] and checks["chat-template parity"]["passed"]
    if checks["Modelfile TEMPLATE parity"]["passed"] is None:
        pytest.skip("go is not installed")  # the rest of this test needs nothing else, but say so
    assert checks["Modelfile TEMPLATE parity"]["passed"]
    assert "drift Q4_K_M" in checks

    q4 = _tensor_types(out / "ec-miip-Q4_K_M.gguf")
    assert q4["Q4_K"] > 0 and q4["Q6_K"] > 0 and set(q4) <= {"Q4_K", "Q6_K", "F32"}, q4

    reader = gguf.GGUFReader(out / "ec-miip-F16.gguf")
    assert _field(reader, "general.architecture") == "qwen3"
    assert _field(reader, "general.name") == "ec-miip"
    assert _field(reader, "general.finetune") == "ip-law"
    assert _field(reader, "general.license") == "apache-2.0"
    assert "legal" in _field(reader, "general.tags") and "zh" in _field(reader, "general.languages")
    assert _field(reader, "tokenizer.ggml.pre") == "qwen2"
    assert _field(reader, "qwen3.attention.key_length") == 64
    assert "<think>" in _field(reader, "tokenizer.chat_template")
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q_norm.weight" in names and "blk.1.attn_k_norm.weight" in names
    assert "output.weight" not in names  # tied embeddings stay tied

    text, n = _generate(out / "ec-miip-Q4_K_M.gguf", "什么是专利？")
    assert n > 0 and isinstance(text, str)


@pytest.mark.slow
def test_smollm2_without_and_with_adapter(smollm2_dir, tmp_path):
    plain = tmp_path / "plain"
    _export(smollm2_dir, plain)
    reader = gguf.GGUFReader(plain / "ec-miip-F16.gguf")
    assert _field(reader, "general.architecture") == "llama"
    assert _field(reader, "tokenizer.ggml.pre") == "gpt-2"
    # A real pretrained model: the exported F16 still knows its geography (its Q4_K_M is a re-quantization
    # of a Q4_1 original and drifts, KL ≈ 0.1, so only its ability to generate is checked).
    text, _ = _generate(plain / "ec-miip-F16.gguf", "What is the capital of France?", n=16)
    assert "Paris" in text
    text, n = _generate(plain / "ec-miip-Q4_K_M.gguf", "What is the capital of France?", n=16)
    assert n > 0 and text.strip()

    adapter = make_lora_adapter(smollm2_dir, tmp_path / "lora", steps=2, target_modules=["q_proj", "v_proj", "down_proj"])
    tuned = tmp_path / "tuned"
    report = _export(smollm2_dir, tuned, "--adapter", str(adapter), "--quant", "Q4_K_M", "--quant", "Q8_0")
    assert (tuned / "ec-miip-Q8_0.gguf").is_file()
    assert _checks(report)["logits parity"]["passed"]
    text, n = _generate(tuned / "ec-miip-Q4_K_M.gguf", "What is a patent?")
    assert n > 0


def test_adapted_head_of_tied_model_is_untied(tiny_qwen3_dir, tmp_path):
    """LoRA on lm_head of a tied model: the export unties and matches the trained (unmerged) model."""
    adapter = make_lora_adapter(
        tiny_qwen3_dir, tmp_path / "lora", steps=1, target_modules=["lm_head", "q_proj"], init_lora_weights=False
    )
    out = tmp_path / "dist"
    report = _export(tiny_qwen3_dir, out, "--adapter", str(adapter), "--quant", "Q4_K_M")
    assert _checks(report)["logits parity"]["passed"] and _checks(report)["weight parity"]["passed"]
    names = {t.name for t in gguf.GGUFReader(out / "ec-miip-F16.gguf").tensors}
    assert "output.weight" in names


def test_verify_command_and_ollama_create(tiny_qwen3_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "dist"
    _export(tiny_qwen3_dir, out, "--no-verify")
    report = tmp_path / "verify.json"
    args = ["verify", str(out / "ec-miip-F16.gguf"), "--hf", str(tiny_qwen3_dir), "--quant", str(out / "ec-miip-Q4_K_M.gguf")]
    assert main([*args, "--report", str(report)]) == 0
    names = [c["name"] for c in json.loads(report.read_text())["checks"]]
    assert names[:5] == ["tokenizer parity", "special tokens", "weight parity", "logits parity", "chat-template parity"]

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["ollama", "create", str(out), "--name", "ec-miip-test"]) == 0
    printed = capsys.readouterr().out
    assert f"ollama create ec-miip-test -f {out / 'Modelfile'}" in printed and "ollama run ec-miip-test" in printed
