"""HF checkpoint (+ optional LoRA adapter) → GGUF, one tensor at a time.

The GGUF header and tensor table are written first from shapes alone; then each tensor is read,
merged with its adapter delta, converted and appended, and dropped. Peak memory therefore follows
the largest tensor, not the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np
import torch

from ecmiip.core.errors import InputError
from ecmiip.core.outputs import atomic_path
from ecmiip.quantize.adapter import LoraAdapter
from ecmiip.quantize.arch import SKIPPED_SUFFIXES, ArchSpec, spec_for, tensor_transform, write_hparams
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.modelcard import read_model_card
from ecmiip.quantize.vocab import load_vocab

OUTTYPES = {
    "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32, torch.float32),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16, torch.float16),
    "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16, torch.bfloat16),
}
EMBED, HEAD = "model.embed_tokens.weight", "lm_head.weight"


@dataclass
class Metadata:
    name: str = "ec-miip"
    basename: str | None = None
    finetune: str | None = None
    base_model: str | None = None
    tags: list[str] = field(default_factory=lambda: ["legal", "intellectual-property", "chinese", "ec-miip"])
    languages: list[str] = field(default_factory=lambda: ["zh", "en"])


@dataclass(frozen=True)
class PlannedTensor:
    gguf_name: str
    source: str  # checkpoint tensor the values come from
    target: str  # HF name the adapter merges into (differs from source only for an untied head)
    shape: tuple[int, ...]
    qtype: gguf.GGMLQuantizationType


def _layer_order(name: str) -> tuple:
    m = re.search(r"\.layers\.(\d+)\.", name)
    rank = 0 if name == EMBED else 2 if m is None else 1
    return (rank, int(m.group(1)) if m else 0, name)


def plan_tensors(ckpt: Checkpoint, spec: ArchSpec, adapter: LoraAdapter | None, outtype: str) -> list[PlannedTensor]:
    """GGUF names, shapes and types of every tensor, before any tensor data is read."""
    config = ckpt.config
    tmap = gguf.get_tensor_name_map(spec.arch, config["num_hidden_layers"])
    qtype = OUTTYPES[outtype][0]
    tied = bool(config.get("tie_word_embeddings", False))
    # A tied model whose head or embedding the adapter changed must be untied to stay exact:
    # the trained model looked up the base embedding but scored with the adapted head.
    untie = tied and adapter is not None and (adapter.touches(HEAD) or adapter.touches(EMBED))
    sources = {name: name for name in ckpt.entries}
    if untie:
        sources.setdefault(HEAD, EMBED)
    elif tied:
        sources.pop(HEAD, None)
    plan = []
    for target, source in sorted(sources.items(), key=lambda kv: _layer_order(kv[0])):
        if target.endswith(SKIPPED_SUFFIXES):
            continue
        gguf_name = tmap.get_name(target, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise InputError(f"{ckpt.entries[source].file}: tensor {target} has no place in a {spec.name} GGUF")
        shape = ckpt.entries[source].shape
        plan.append(PlannedTensor(gguf_name, source, target, shape, qtype if len(shape) > 1 else gguf.GGMLQuantizationType.F32))
    return plan


def _nbytes(t: PlannedTensor) -> int:
    return int(np.prod(t.shape, dtype=np.int64)) * (2 if t.qtype in (gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.BF16) else 4)


def estimate_gguf_bytes(plan: list[PlannedTensor]) -> int:
    return sum(_nbytes(t) for t in plan)


def _to_numpy(value: torch.Tensor, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    if qtype == gguf.GGMLQuantizationType.F32:
        return value.to(torch.float32).numpy()
    if qtype == gguf.GGMLQuantizationType.F16:
        return value.to(torch.float16).numpy()
    return value.to(torch.bfloat16).view(torch.int16).numpy()


def iter_merged(ckpt: Checkpoint, adapter: LoraAdapter | None, plan: list[PlannedTensor]):
    """(planned tensor, merged HF-layout value) pairs, one at a time."""
    for t in plan:
        value = ckpt.load(t.source)
        if adapter is not None and adapter.touches(t.target):
            value = adapter.merge(t.target, value)
        yield t, value


def _add_tokenizer_flags(vocab, model_dir: Path) -> None:
    """add_bos/add_eos as the HF tokenizer really behaves, not as its config claims."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds
        raise InputError(f"{model_dir}: the tokenizer cannot be loaded by transformers ({e})") from e
    with_special = tok("a")["input_ids"]
    plain = tok("a", add_special_tokens=False)["input_ids"]
    extra = len(with_special) - len(plain)
    vocab.special.add_special_token["bos"] = extra > 0 and with_special[0] != plain[0]
    vocab.special.add_special_token["eos"] = extra > 0 and with_special[-1] != plain[-1]


def convert(
    base_dir: Path,
    out_path: Path,
    *,
    adapter: LoraAdapter | None = None,
    outtype: str = "f16",
    tokenizer_pre: str | None = None,
    metadata: Metadata | None = None,
    on_tensor: Callable[[PlannedTensor], None] | None = None,
) -> list[PlannedTensor]:
    """Write ``out_path`` (atomically) and return the tensor plan it followed."""
    base_dir = Path(base_dir)
    ckpt = Checkpoint(base_dir)
    spec = spec_for(ckpt.architecture)
    if adapter is not None:
        adapter.check_against(ckpt)
    vocab = load_vocab(base_dir, ckpt.config["vocab_size"], tokenizer_pre)
    _add_tokenizer_flags(vocab, base_dir)
    plan = plan_tensors(ckpt, spec, adapter, outtype)
    meta = metadata or Metadata()
    card = read_model_card(base_dir)

    with atomic_path(out_path) as tmp:
        writer = gguf.GGUFWriter(tmp, spec.name)
        writer.add_type(gguf.GGUFType.MODEL)
        writer.add_name(meta.name)
        writer.add_basename(meta.basename or meta.name)
        if meta.finetune:
            writer.add_finetune(meta.finetune)
        if card.license:
            writer.add_license(card.license)
        base_name = meta.base_model or card.base_model or ckpt.config.get("_name_or_path") or base_dir.name
        writer.add_base_model_count(1)
        writer.add_base_model_name(0, str(base_name))
        writer.add_tags(meta.tags)
        writer.add_languages(meta.languages)
        writer.add_file_type(OUTTYPES[outtype][1])
        write_hparams(writer, ckpt.config, spec)
        vocab.write(writer)
        for t in plan:
            dtype = np.int16 if t.qtype == gguf.GGMLQuantizationType.BF16 else np.float16 if t.qtype == gguf.GGMLQuantizationType.F16 else np.float32
            writer.add_tensor_info(t.gguf_name, t.shape, np.dtype(dtype), _nbytes(t), raw_dtype=t.qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for t, value in iter_merged(ckpt, adapter, plan):
            transform = tensor_transform(spec, ckpt.config, t.target)
            if transform is not None:
                value = transform(value)
            writer.write_tensor_data(_to_numpy(value, t.qtype))
            del value
            if on_tensor:
                on_tensor(t)
        writer.close()
    return plan
