"""Lazy access to a Hugging Face model directory (config + sharded safetensors), by tensor or by rows.

Headers are parsed by ``gguf.utility.SafetensorsLocal``; data is read with plain positioned reads
into buffers we own, never through a memory map: a mapped file leaves every page it touched in RSS,
and mapping plus copying holds a tensor twice. ``read_rows`` lets the converter stream the largest
tensors (the embedding) in blocks, so peak memory does not even follow the largest tensor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gguf.utility import LocalTensor, SafetensorsLocal

from ecmiip.core.errors import InputError, UnsupportedError

_TORCH_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


# Model configs are a few kilobytes; anything far larger is not one (and is not read into memory).
MAX_JSON_BYTES = 64 * 2**20
MAX_SAFETENSORS_HEADER = 100_000_000


def read_json(path: Path) -> dict:
    """A JSON object from a file, with an error naming the file when it is missing, broken, too deeply
    nested or not an object."""
    if not path.is_file():
        raise InputError(f"missing file: {path}")
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise InputError(f"{path}: {path.stat().st_size:,} bytes is far too large for a JSON config")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from e
    except RecursionError as e:
        raise InputError(f"{path}: the JSON is nested too deeply to be a config") from e
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object {{...}}, found {type(doc).__name__}")
    return doc


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_config(config: dict, where: Path) -> None:
    """The fields the converter reads have the types it needs, named with the file when they do not."""
    archs = config.get("architectures")
    if archs is not None and not (isinstance(archs, list) and all(isinstance(a, str) for a in archs)):
        raise InputError(f"{where}: 'architectures' must be a list of names, not {archs!r:.80}")
    for key in ("num_hidden_layers", "hidden_size", "vocab_size", "num_attention_heads", "intermediate_size"):
        if key in config and not (_is_int(config[key]) and 0 < config[key] < 2**31):
            raise InputError(f"{where}: {key} must be a positive integer, not {config[key]!r:.80}")
    for key in ("num_key_value_heads", "head_dim", "max_position_embeddings"):
        value = config.get(key)
        if value is not None and not (_is_int(value) and 0 < value < 2**31):
            raise InputError(f"{where}: {key} must be a positive integer, not {value!r:.80}")
    for key in ("rms_norm_eps", "rope_theta"):
        value = config.get(key)
        if value is not None and not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
            raise InputError(f"{where}: {key} must be a positive number, not {value!r:.80}")
    for key in ("rope_scaling", "rope_parameters", "quantization_config"):
        value = config.get(key)
        if value is not None and not isinstance(value, dict):
            raise InputError(f"{where}: {key} must be an object {{...}} or null, not {value!r:.80}")
    tie = config.get("tie_word_embeddings")
    if tie is not None and not isinstance(tie, bool):
        raise InputError(f"{where}: tie_word_embeddings must be true or false, not {tie!r:.80}")


def open_safetensors(path: Path) -> dict[str, LocalTensor]:
    """Header of one safetensors file, checked against the file size."""
    if not path.is_file():
        raise InputError(f"missing file: {path}")
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
    if header_len > MAX_SAFETENSORS_HEADER:  # the format's own limit: a larger one is damage, not a header
        raise InputError(f"{path}: not a valid safetensors file (header length {header_len:,} bytes)")
    try:
        tensors = SafetensorsLocal(path).tensors
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, IndexError, AttributeError, OverflowError,
            RecursionError, MemoryError) as e:
        raise InputError(f"{path}: not a valid safetensors file ({e})") from e
    size = path.stat().st_size
    for name, t in tensors.items():
        if not all(_is_int(d) and d >= 0 for d in t.shape) or not all(
            _is_int(v) and v >= 0 for v in (t.data_range.offset, t.data_range.size)
        ):
            raise InputError(f"{path}: not a valid safetensors file (tensor {name!r:.80} has a bad shape or offsets)")
        if not isinstance(t.dtype, str) or t.dtype not in _TORCH_DTYPES:
            raise InputError(f"{path}: tensor {name} has unknown dtype {t.dtype}")
        expected = int(np.prod(t.shape, dtype=np.int64)) * _ITEMSIZE[t.dtype]
        end = t.data_range.offset + t.data_range.size
        if t.data_range.size != expected or end > size:
            raise InputError(
                f"{path}: tensor {name} is truncated or corrupt "
                f"(needs bytes up to {end}, file has {size}; expected {expected} bytes for {t.dtype}{list(t.shape)})"
            )
    return tensors


def read_local_rows(t: LocalTensor, start: int, stop: int) -> torch.Tensor:
    """Rows ``start:stop`` (along the first axis) of a stored tensor, read into a fresh buffer."""
    row_elems = int(np.prod(t.shape[1:], dtype=np.int64))
    itemsize = _ITEMSIZE[t.dtype]
    out = torch.empty(((stop - start) * row_elems * itemsize,), dtype=torch.uint8)
    with open(t.data_range.filename, "rb") as f:
        f.seek(t.data_range.offset + start * row_elems * itemsize)
        got = f.readinto(memoryview(out.numpy()))
    if got != out.numel():
        raise ValueError(f"short read: {got} of {out.numel()} bytes")
    return out.view(_TORCH_DTYPES[t.dtype]).reshape((stop - start, *t.shape[1:]))


def load_local_tensor(t: LocalTensor) -> torch.Tensor:
    """A whole stored tensor, read into a fresh buffer."""
    if not t.shape:
        return read_local_rows(LocalTensor(t.dtype, (1,), t.data_range), 0, 1).reshape(())
    return read_local_rows(t, 0, t.shape[0])


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path


class Checkpoint:
    """A HF causal-LM directory: ``config.json`` plus one or more safetensors shards."""

    def __init__(self, model_dir: Path) -> None:
        self.dir = Path(model_dir)
        if not self.dir.is_dir():
            raise InputError(f"model directory not found: {self.dir}")
        self.config = read_json(self.dir / "config.json")
        check_config(self.config, self.dir / "config.json")
        self._refuse_quantized()
        self._files: dict[Path, dict[str, LocalTensor]] = {}
        self.entries: dict[str, TensorEntry] = {}
        for shard in self._shard_files():
            header = open_safetensors(shard)
            self._files[shard] = header
            for name, t in header.items():
                self.entries[name] = TensorEntry(name, t.dtype, tuple(t.shape), shard)
        if not self.entries:
            raise InputError(f"{self.dir}: the safetensors files hold no tensors")

    def _shard_files(self) -> list[Path]:
        index = self.dir / "model.safetensors.index.json"
        if index.is_file():
            weight_map = read_json(index).get("weight_map")
            if not isinstance(weight_map, dict):
                raise InputError(f"{index}: no weight_map")
            bad = next((f for f in weight_map.values() if not isinstance(f, str) or Path(f).name != f), None)
            if bad is not None:
                raise InputError(f"{index}: weight_map names {bad!r:.80}, not a file in the model folder")
            return [self.dir / f for f in sorted(set(weight_map.values()))]
        single = self.dir / "model.safetensors"
        if single.is_file():
            return [single]
        if any(self.dir.glob("*.bin")) or any(self.dir.glob("*.pt")) or any(self.dir.glob("*.pth")):
            raise InputError(
                f"{self.dir}: only pickle checkpoints (.bin/.pt) found; ec-miip reads safetensors only "
                "(re-save with save_pretrained(safe_serialization=True))"
            )
        raise InputError(f"{self.dir}: no model.safetensors or model.safetensors.index.json")

    def _refuse_quantized(self) -> None:
        qc = self.config.get("quantization_config")
        if qc:
            method = qc.get("quant_method", "unknown")
            bits = "4-bit " if qc.get("load_in_4bit") or qc.get("bits") == 4 else ""
            raise UnsupportedError(
                f"{self.dir / 'config.json'}: the base model is {bits}quantized ({method}); adapters must be merged "
                "into the 16-bit (or fp32) base model, never into a quantized one — merging into a 4-bit base bakes "
                "its quantization error into the weights. Point BASE at the original 16-bit model."
            )

    @property
    def architecture(self) -> str:
        archs = self.config.get("architectures") or []
        if not archs:
            raise InputError(f"{self.dir / 'config.json'}: no 'architectures' entry")
        return archs[0]

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def load(self, name: str) -> torch.Tensor:
        return self.read_rows(name, 0, self.entries[name].shape[0]) if self.entries[name].shape else self._read_scalar(name)

    def read_rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        entry = self.entries[name]
        try:
            return read_local_rows(self._files[entry.file][name], start, stop)
        except (OSError, ValueError) as e:
            raise InputError(f"{entry.file}: cannot read tensor {name} ({e})") from e

    def _read_scalar(self, name: str) -> torch.Tensor:
        entry = self.entries[name]
        return load_local_tensor(self._files[entry.file][name])

    def nbytes(self) -> int:
        return sum(int(np.prod(e.shape, dtype=np.int64)) * _ITEMSIZE[e.dtype] for e in self.entries.values())
