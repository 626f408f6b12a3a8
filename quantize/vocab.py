"""Byte-level BPE tokenizer → GGUF vocabulary (tokens, types, merges, special ids, chat template).

``tokenizer.ggml.pre`` is chosen from the tokenizer's own pre-tokenizer definition (its split regex
and digit handling), not from a hash of sample encodings, so retrained or extended tokenizers that
keep a known pre-tokenizer still convert. ``--tokenizer-pre`` overrides the choice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import gguf

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.quantize.checkpoint import read_json

QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# What ByteLevel(use_regex=True) applies: the GPT-2 split.
GPT2_BYTELEVEL = "bytelevel-gpt2"
DIGITS_INDIVIDUAL = "digits-individual"

# Pre-tokenizer signatures (the ordered splitting steps) → llama.cpp's name for that pre-tokenizer.
PRE_TOKENIZERS: dict[tuple[str, ...], str] = {
    (QWEN2_REGEX,): "qwen2",
    (LLAMA3_REGEX,): "llama-bpe",
    (DIGITS_INDIVIDUAL, GPT2_BYTELEVEL): "smollm",
    (GPT2_BYTELEVEL,): "gpt-2",
}


def pre_tokenizer_signature(tokenizer_json: dict) -> tuple[str, ...]:
    """The splitting steps of a HF ``tokenizer.json`` pre-tokenizer, in order."""
    steps: list[str] = []

    def visit(node: dict | None) -> None:
        if not node:
            return
        kind = node.get("type")
        if kind == "Sequence":
            for child in node.get("pretokenizers", []):
                visit(child)
        elif kind == "Split":
            pattern = node.get("pattern", {})
            if "Regex" not in pattern or node.get("invert"):
                raise UnsupportedError(f"pre-tokenizer Split {json.dumps(node, ensure_ascii=False)} is not a regex split")
            steps.append(pattern["Regex"])
        elif kind == "ByteLevel":
            if node.get("use_regex", True):
                steps.append(GPT2_BYTELEVEL)
        elif kind == "Digits":
            steps.append(DIGITS_INDIVIDUAL if node.get("individual_digits") else r"\p{N}+")
        else:
            raise UnsupportedError(f"pre-tokenizer step {kind} has no llama.cpp equivalent")

    visit(tokenizer_json.get("pre_tokenizer"))
    return tuple(steps)


def detect_pre(tokenizer_json: dict, source: Path) -> str:
    signature = pre_tokenizer_signature(tokenizer_json)
    try:
        return PRE_TOKENIZERS[signature]
    except KeyError:
        known = "; ".join(f"{name}: {' then '.join(sig)}" for sig, name in PRE_TOKENIZERS.items())
        raise UnsupportedError(
            f"{source}: pre-tokenizer {' then '.join(signature) or '(none)'} matches none that llama.cpp implements "
            f"({known}). If it is equivalent to one of them, pass --tokenizer-pre NAME."
        ) from None


@dataclass
class Vocab:
    tokens: list[str]
    types: list[int]
    pre: str
    special: gguf.SpecialVocab
    added: dict[int, dict] = field(default_factory=dict)

    def write(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(self.pre)
        writer.add_token_list(self.tokens)
        writer.add_token_types(self.types)
        self.special.add_to_gguf(writer, quiet=True)


def _looks_special(text: str) -> bool:
    """Control-looking added tokens (llama.cpp treats ``<|…|>`` as control even when HF does not)."""
    return (text.startswith("<|") and text.endswith("|>")) or (text.startswith("<｜") and text.endswith("｜>"))


def load_vocab(model_dir: Path, vocab_size: int, tokenizer_pre: str | None = None) -> Vocab:
    """Read ``tokenizer.json`` (+ ``tokenizer_config.json``) of a byte-level BPE tokenizer."""
    path = model_dir / "tokenizer.json"
    tok = read_json(path)
    model = tok.get("model") or {}
    if model.get("type") != "BPE":
        raise UnsupportedError(f"{path}: tokenizer model {model.get('type')} is not byte-level BPE")
    vocab: dict[str, int] = model.get("vocab") or {}
    if not vocab:
        raise InputError(f"{path}: empty vocabulary")
    added = {int(t["id"]): t for t in tok.get("added_tokens", [])}
    size = max(vocab_size, max(vocab.values()) + 1, max(added, default=-1) + 1)
    if size > vocab_size:
        raise InputError(
            f"{path}: the tokenizer has {size} tokens but config.json says vocab_size {vocab_size}; "
            "the embedding matrix has no row for the extra tokens (resize the model's embeddings first)"
        )
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.UNUSED] * size
    for text, i in vocab.items():
        tokens[i] = text
        types[i] = gguf.TokenType.NORMAL
    for i, t in added.items():
        tokens[i] = t["content"]
        types[i] = gguf.TokenType.CONTROL if t.get("special") or _looks_special(t["content"]) else gguf.TokenType.USER_DEFINED
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=size)
    if not special.merges:
        raise InputError(f"{path}: no BPE merges")
    if special.chat_template is None:
        jinja = model_dir / "chat_template.jinja"
        if jinja.is_file():
            special.chat_template = jinja.read_text(encoding="utf-8")
    return Vocab(tokens, [int(t) for t in types], tokenizer_pre or detect_pre(tok, path), special, added)
