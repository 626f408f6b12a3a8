"""The committed top-level Modelfile is exactly what the exporter writes for the Qwen3 family."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from ecmiip.quantize.modelfile import CANONICAL_GGUF, canonical_modelfile
from ecmiip.quantize.modelfile_parser import parse_modelfile
from ecmiip.quantize.ollama_template import template_for_tokenizer

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_modelfile_is_current(tiny_qwen3_dir):
    template = template_for_tokenizer(AutoTokenizer.from_pretrained(tiny_qwen3_dir))
    assert template.family == "qwen3"
    expected = canonical_modelfile(template)
    committed = (ROOT / "Modelfile").read_text(encoding="utf-8")
    assert committed == expected, "regenerate: Path('Modelfile').write_text(canonical_modelfile(template))"
    commands = parse_modelfile(committed)
    assert ("model", CANONICAL_GGUF) in commands
    assert ("stop", "<|im_end|>") in commands and ("stop", "<|im_start|>") in commands
    assert any(name == "num_ctx" for name, _ in commands)
