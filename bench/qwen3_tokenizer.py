"""Qwen3's tokenizer rebuilt offline from the ``qwen.tiktoken`` file that ``dashscope`` ships.

The Hugging Face hub is out of reach where the benchmarks and tests run, so the byte-level BPE is
rebuilt from tiktoken ranks (merges recovered, cached next to the cached models), with Qwen3's added
tokens in id order and its chat template (``qwen3_chat_template.jinja``).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecmiip.core.model_cache import CACHE_VERSION, cache_lock, cache_root
from ecmiip.core.outputs import write_json_atomic

QWEN3_MAX_POSITIONS = 40960
QWEN3_BOS_ID = 151643  # <|endoftext|>
QWEN3_EOS_ID = 151645  # <|im_end|>

# Qwen3's chat template: ChatML, with <think> blocks kept only after the last user query, and
# `enable_thinking=False` answered by an empty think block in the generation prompt.
QWEN3_CHAT_TEMPLATE = Path(__file__).with_name("qwen3_chat_template.jinja").read_text(encoding="utf-8")

# Used when the installed transformers does not export it (tokenization_qwen2.PRETOKENIZE_REGEX).
_QWEN2_REGEX_FALLBACK = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen3's added tokens in id order from 151643; the flag says whether the token is "special"
# (skipped by decode(skip_special_tokens=True)). Tool and think tags are plain added tokens.
QWEN3_ADDED_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", True),
    ("<|fim_middle|>", True),
    ("<|fim_suffix|>", True),
    ("<|fim_pad|>", True),
    ("<|repo_name|>", True),
    ("<|file_sep|>", True),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)


def qwen_tiktoken_path() -> Path:
    """The ``qwen.tiktoken`` vocabulary shipped by ``dashscope`` (151,643 lines ``base64(bytes) rank``)."""
    spec = importlib.util.find_spec("dashscope")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the Qwen tokenizer is rebuilt from dashscope's qwen.tiktoken, but dashscope is not installed "
            "(pip install 'ec-miip[test]' or pip install dashscope)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "qwen.tiktoken"
    if not path.is_file():
        raise RuntimeError(
            f"dashscope is installed but has no {path}; this dashscope version is not supported"
        )
    return path


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """Token bytes → rank; a tiktoken rank is also the token's id."""
    ranks: dict[bytes, int] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable character map used by byte-level BPE vocabularies."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def _bpe_split(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """Byte-pair encode ``token`` with only tokens ranked below ``max_rank``, as tiktoken would."""
    parts = [token[i : i + 1] for i in range(len(token))]
    while len(parts) > 2:
        best, best_rank = -1, max_rank
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < best_rank:
                best, best_rank = i, rank
        if best < 0:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    return parts


def recover_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merge list that tiktoken ranks imply, ordered by the rank of the merged token.

    tiktoken stores no merges: a token of rank r is produced by BPE that, restricted to tokens ranked
    below r, leaves exactly two parts. That pair is the merge, and its priority is r.
    """
    merges: list[tuple[bytes, bytes]] = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        parts = _bpe_split(ranks, token, rank)
        if len(parts) != 2:
            raise ValueError(f"token {token!r} (rank {rank}) is not the merge of two lower-ranked tokens")
        merges.append((parts[0], parts[1]))
    return merges


def _qwen_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level vocab and merges of Qwen's BPE; the merges are cached next to the cached models."""
    path = qwen_tiktoken_path()
    data = path.read_bytes()
    ranks = read_tiktoken_ranks(path)
    byte_char = bytes_to_unicode()

    def encode(token: bytes) -> str:
        return "".join(byte_char[b] for b in token)

    vocab = {encode(token): rank for token, rank in ranks.items()}
    cache = cache_root() / f"qwen-merges-{hashlib.sha256(data).hexdigest()[:12]}-v{CACHE_VERSION}.json"
    if not cache.is_file():
        with cache_lock(cache.name):
            if not cache.is_file():  # not written by another process while we waited
                write_json_atomic(cache, [(encode(a), encode(b)) for a, b in recover_merges(ranks)], indent=None)
    merges = [(a, b) for a, b in json.loads(cache.read_text(encoding="utf-8"))]
    return vocab, merges


def _qwen2_pretokenize_regex() -> str:
    try:
        from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX
    except ImportError:
        return _QWEN2_REGEX_FALLBACK
    return PRETOKENIZE_REGEX


def qwen3_backend_tokenizer() -> Any:
    """A ``tokenizers.Tokenizer`` equal to Qwen3's: byte-level BPE, Qwen2 split regex, added tokens."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE

    vocab, merges = _qwen_vocab_and_merges()
    tok = Tokenizer(
        BPE(
            vocab=vocab,
            merges=merges,
            dropout=None,
            unk_token=None,
            continuing_subword_prefix="",
            end_of_word_suffix="",
            fuse_unk=False,
            byte_fallback=False,
        )
    )
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_qwen2_pretokenize_regex()), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False, trim_offsets=False),
        ]
    )
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, use_regex=False, trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    for content, special in QWEN3_ADDED_TOKENS:  # one at a time, so ids follow the table's order
        token = AddedToken(content, special=special, normalized=False)
        if special:
            tok.add_special_tokens([token])
        else:
            tok.add_tokens([token])
    return tok


def _check_known_ids(encode: Callable[[str], list[int]], where: str) -> None:
    got = encode("<|im_start|>hello<|im_end|>")
    if got != [151644, 14990, 151645]:
        raise RuntimeError(f"{where}: rebuilt Qwen tokenizer gives {got} for '<|im_start|>hello<|im_end|>'")


def build_qwen3_tokenizer(out_dir: Path) -> None:
    """Save Qwen3's tokenizer (tokenizer.json, tokenizer_config.json, chat template) into ``out_dir``."""
    from transformers import Qwen2TokenizerFast  # Qwen2Tokenizer in transformers 5, which keeps the alias

    backend = qwen3_backend_tokenizer()
    _check_known_ids(lambda s: backend.encode(s).ids, "tokenizers backend")
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        add_prefix_space=False,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        errors="replace",
        model_max_length=QWEN3_MAX_POSITIONS,
        chat_template=QWEN3_CHAT_TEMPLATE,
    )
    _check_known_ids(lambda s: tokenizer(s)["input_ids"], "transformers tokenizer")
    tokenizer.save_pretrained(out_dir)
