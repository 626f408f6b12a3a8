"""The committed top-level Modelfile is exactly what the exporter writes for the Qwen3 family, and Ollama's
own parser reads it as the product's port does."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from ecmiip.quantize.modelfile import CANONICAL_GGUF, canonical_modelfile
from ecmiip.quantize.modelfile_parser import parse_modelfile
from ecmiip.quantize.ollama_template import template_for_tokenizer
from tests.ollama_go import commands, ollama_parse

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_modelfile_is_current(tiny_qwen3_dir):
    template = template_for_tokenizer(AutoTokenizer.from_pretrained(tiny_qwen3_dir))
    assert template.family == "qwen3"
    expected = canonical_modelfile(template)
    committed = (ROOT / "Modelfile").read_text(encoding="utf-8")
    assert committed == expected, "regenerate: Path('Modelfile').write_text(canonical_modelfile(template))"
    (ollama,) = ollama_parse([committed])
    read = commands(ollama)
    assert read is not None, f"Ollama's parser refuses the Modelfile: {ollama['error']}"
    assert parse_modelfile(committed) == read
    assert ("model", CANONICAL_GGUF) in read and ("template", template.text) in read
    assert ("stop", "<|im_end|>") in read and ("stop", "<|im_start|>") in read
    assert any(name == "num_ctx" for name, _ in read) and any(name == "requires" for name, _ in read)
    # What `ollama show --modelfile` prints is Ollama's own re-serialisation (Modelfile.String): it reads back
    # to the same commands, so the shown Modelfile recreates the model.
    assert commands(ollama_parse([ollama["string"]])[0]) == read
