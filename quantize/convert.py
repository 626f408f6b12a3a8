"""HF checkpoint (+ optional LoRA adapter) → GGUF, streamed.

The GGUF header and tensor table are written first from shapes alone; then each tensor is read in
blocks of rows, merged with its adapter delta, converted and appended. Peak memory is one block
(plus the adapter), neither the model nor its largest tensor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf.utility import model_weight_count_rounded_notation

from ecmiip.core.errors import InputError
from ecmiip.core.hf_models import load_tokenizer
from ecmiip.core.outputs import atomic_path
from ecmiip.quantize.adapter import LoraAdapter
from ecmiip.quantize.arch import SKIPPED_SUFFIXES, ArchSpec, spec_for, tensor_transform, write_hparams
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.modelcard import read_model_card
from ecmiip.quantize.vocab import Vocab, load_vocab

OUTTYPES = {
    "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32, torch.float32),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16, torch.float16),
    "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16, torch.bfloat16),
}
_NUMPY = {gguf.GGMLQuantizationType.F32: np.float32, gguf.GGMLQuantizationType.F16: np.float16, gguf.GGMLQuantizationType.BF16: np.int16}
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


# Rows per block when streaming a tensor: about 4 M values, so a block in float32 is ~16 MiB.
BLOCK_VALUES = 1 << 22


def row_blocks(shape: tuple[int, ...]) -> list[tuple[int, int]]:
    rows = shape[0] if shape else 1
    per_block = max(1, BLOCK_VALUES // max(1, int(np.prod(shape[1:], dtype=np.int64))))
    return [(r, min(r + per_block, rows)) for r in range(0, rows, per_block)]


def merged_rows(ckpt: Checkpoint, adapter: LoraAdapter | None, t: PlannedTensor, start: int, stop: int) -> torch.Tensor:
    """Rows ``start:stop`` of a planned tensor, with its adapter merged, in HF layout."""
    value = ckpt.read_rows(t.source, start, stop) if ckpt.entries[t.source].shape else ckpt.load(t.source)
    if adapter is not None and adapter.touches(t.target):
        value = adapter.merge(t.target, value, start)
    return value


def iter_merged(ckpt: Checkpoint, adapter: LoraAdapter | None, plan: list[PlannedTensor]):
    """(planned tensor, whole merged value) pairs, one tensor at a time."""
    for t in plan:
        yield t, merged_rows(ckpt, adapter, t, 0, t.shape[0] if t.shape else 1)


class StreamedTensor:
    """What ``GGUFWriter.write_tensor_data`` needs of a tensor (``nbytes``, ``tofile``), produced
    block by block: read rows, merge, convert, write, forget. Memory stays at one block."""

    def __init__(self, conversion: Conversion, t: PlannedTensor) -> None:
        self.conversion, self.t = conversion, t
        self.nbytes = _nbytes(t)

    def tofile(self, fout) -> None:
        c, t = self.conversion, self.t
        transform = tensor_transform(c.spec, c.ckpt.config, t.target)
        if transform is not None:  # q/k row permutation mixes rows across blocks: whole tensor (small)
            value = transform(merged_rows(c.ckpt, c.adapter, t, 0, t.shape[0]))
            _to_numpy(value, t.qtype).tofile(fout)
            return
        for start, stop in row_blocks(t.shape):
            _to_numpy(merged_rows(c.ckpt, c.adapter, t, start, stop), t.qtype).tofile(fout)


def _add_tokenizer_flags(vocab: Vocab, tokenizer) -> None:
    """add_bos/add_eos as the HF tokenizer really behaves, not as its config claims."""
    with_special = tokenizer("a")["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    extra = len(with_special) - len(plain)
    vocab.special.add_special_token["bos"] = extra > 0 and with_special[0] != plain[0]
    vocab.special.add_special_token["eos"] = extra > 0 and with_special[-1] != plain[-1]


class Conversion:
    """A checked conversion: everything that can fail on bad input fails in the constructor,
    before any output exists; ``write`` then streams the tensors."""

    def __init__(
        self,
        base_dir: Path,
        *,
        adapter: LoraAdapter | None = None,
        outtype: str = "f16",
        tokenizer_pre: str | None = None,
        metadata: Metadata | None = None,
        tokenizer=None,
        ckpt: Checkpoint | None = None,
    ) -> None:
        if outtype not in OUTTYPES:
            raise InputError(f"unknown output type {outtype}; choose from {', '.join(OUTTYPES)}")
        self.base_dir = Path(base_dir)
        self.ckpt = ckpt if ckpt is not None else Checkpoint(self.base_dir)
        self.spec = spec_for(self.ckpt.architecture)
        self.adapter = adapter
        if adapter is not None:
            adapter.check_against(self.ckpt)
        self.outtype = outtype
        self.vocab = load_vocab(self.base_dir, self.ckpt.config["vocab_size"], tokenizer_pre)
        _add_tokenizer_flags(self.vocab, tokenizer or load_tokenizer(self.base_dir, local_files_only=True))
        self.plan = plan_tensors(self.ckpt, self.spec, adapter, outtype)
        self.metadata = metadata or Metadata()
        self.card = read_model_card(self.base_dir)

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(t.shape, dtype=np.int64)) for t in self.plan)

    def _write_metadata(self, writer: gguf.GGUFWriter) -> None:
        meta, card, config = self.metadata, self.card, self.ckpt.config
        writer.add_type(gguf.GGUFType.MODEL)
        writer.add_name(meta.name)
        writer.add_basename(meta.basename or meta.name)
        if meta.finetune:
            writer.add_finetune(meta.finetune)
        writer.add_size_label(model_weight_count_rounded_notation(self.n_params))
        if card.license:
            writer.add_license(card.license)
        base_name = meta.base_model or card.base_model or config.get("_name_or_path") or self.base_dir.name
        writer.add_base_model_count(1)
        writer.add_base_model_name(0, str(base_name))
        writer.add_tags(meta.tags)
        writer.add_languages(meta.languages)
        writer.add_file_type(OUTTYPES[self.outtype][1])
        write_hparams(writer, config, self.spec)
        self.vocab.write(writer)

    def write(self, out_path: Path, on_tensor: Callable[[PlannedTensor], None] | None = None) -> None:
        """Header and tensor table from shapes alone, then each tensor merged, converted and appended."""
        try:
            self._write(out_path, on_tensor)
        except OSError as e:
            if e.filename is not None and Path(e.filename) != out_path.with_name(f".{out_path.name}.partial"):
                raise  # an input file: its own error names it
            raise OSError(e.errno, f"cannot write {out_path} ({e.strerror or e}); is the disk full or the folder "
                          "read-only?") from e

    def _write(self, out_path: Path, on_tensor: Callable[[PlannedTensor], None] | None) -> None:
        with atomic_path(out_path) as tmp:
            writer = gguf.GGUFWriter(tmp, self.spec.name)
            self._write_metadata(writer)
            for t in self.plan:
                writer.add_tensor_info(t.gguf_name, t.shape, np.dtype(_NUMPY[t.qtype]), _nbytes(t), raw_dtype=t.qtype)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            for t in self.plan:
                writer.write_tensor_data(StreamedTensor(self, t))
                if on_tensor:
                    on_tensor(t)
            writer.close()


def convert(base_dir: Path, out_path: Path, *, on_tensor: Callable[[PlannedTensor], None] | None = None, **kwargs) -> Conversion:
    """Check, then write ``out_path`` atomically; keyword arguments as for ``Conversion``."""
    conversion = Conversion(base_dir, **kwargs)
    conversion.write(out_path, on_tensor)
    return conversion
