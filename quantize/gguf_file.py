"""A GGUF's tensors read by rows, and copies of a GGUF with changes.

The tensor table comes from gguf-py's ``GGUFReader``; tensor data is read with positioned reads into
buffers we own, never through its memory map (a mapped file keeps every page it touched in RSS), so
checking a 7 GiB file tensor by tensor holds one tensor. Copies stream the same way: verification
builds a depth slice of a model too large to run whole from the exported file's own bytes, and the
fault benchmarks plant faults into an export without touching the converter.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from ecmiip.core.outputs import atomic_path

_FLOAT = {
    gguf.GGMLQuantizationType.F32: np.dtype(np.float32),
    gguf.GGMLQuantizationType.F16: np.dtype(np.float16),
    gguf.GGMLQuantizationType.BF16: np.dtype(np.uint16),
}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    qtype: gguf.GGMLQuantizationType
    shape: tuple[int, ...]  # numpy order: rows first
    offset: int  # absolute file offset of the data
    nbytes: int

    @property
    def row_bytes(self) -> int:
        return self.nbytes // (self.shape[0] if len(self.shape) > 1 else 1)


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(values: np.ndarray) -> np.ndarray:
    bits = values.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even


class GGUFFile:
    """Metadata and tensor table of a GGUF; tensor rows on demand as float32."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        reader = gguf.GGUFReader(self.path)
        self.tensors: dict[str, TensorInfo] = {
            t.name: TensorInfo(t.name, gguf.GGMLQuantizationType(t.tensor_type), tuple(int(d) for d in reversed(t.shape)),
                               int(t.data_offset), int(t.n_bytes))
            for t in reader.tensors
        }
        self.fields: dict[str, tuple[list[gguf.GGUFValueType], Any]] = {
            name: (list(f.types), f.contents()) for name, f in reader.fields.items() if not name.startswith("GGUF.")
        }
        self.alignment = int(self.fields.get("general.alignment", (None, gguf.GGUF_DEFAULT_ALIGNMENT))[1])
        del reader  # drops its memory map

    @property
    def architecture(self) -> str:
        return str(self.fields["general.architecture"][1])

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields[key][1] if key in self.fields else default

    def raw(self, name: str, start_row: int = 0, stop_row: int | None = None) -> bytes:
        info = self.tensors[name]
        rows = info.shape[0] if len(info.shape) > 1 else 1
        stop_row = rows if stop_row is None else stop_row
        length = (stop_row - start_row) * info.row_bytes
        with open(self.path, "rb") as f:
            data = os.pread(f.fileno(), length, info.offset + start_row * info.row_bytes)
        if len(data) != length:
            raise OSError(f"{self.path}: tensor {name} is cut short (truncated file)")
        return data

    def rows(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of a tensor, dequantized to float32."""
        info = self.tensors[name]
        data = self.raw(name, start, stop)
        tail = info.shape[1:] if len(info.shape) > 1 else info.shape
        if info.qtype in _FLOAT:
            values = np.frombuffer(data, dtype=_FLOAT[info.qtype])
            values = _bf16_to_f32(values) if info.qtype == gguf.GGMLQuantizationType.BF16 else values.astype(np.float32)
        else:
            values = gguf.quants.dequantize(np.frombuffer(data, dtype=np.uint8), info.qtype).astype(np.float32)
        return values.reshape(-1, *tail) if len(info.shape) > 1 else values.reshape(info.shape)


Transform = Callable[[str, np.ndarray], np.ndarray]


class _Copied:
    """What ``GGUFWriter.write_tensor_data`` needs (``nbytes``, ``tofile``), read and written one tensor at a time."""

    def __init__(self, src: GGUFFile, info: TensorInfo, transform: Transform | None, dst_name: str) -> None:
        self.src, self.info, self.transform, self.dst_name = src, info, transform, dst_name
        self.nbytes = info.nbytes

    def tofile(self, fout) -> None:
        if self.transform is None:
            fout.write(self.src.raw(self.info.name))
            return
        values = self.transform(self.dst_name, self.src.rows(self.info.name))
        if values.shape != self.info.shape:
            raise ValueError(f"transform of {self.info.name} changed its shape")
        if self.info.qtype == gguf.GGMLQuantizationType.BF16:
            fout.write(_f32_to_bf16(values).tobytes())
        else:
            fout.write(values.astype(_FLOAT[self.info.qtype]).tobytes())


def copy_gguf(
    src: GGUFFile,
    dst: Path,
    *,
    tensors: Iterable[tuple[str, str]] | None = None,
    metadata: dict[str, Any] | None = None,
    transform: Transform | None = None,
) -> Path:
    """``src`` with its metadata (``metadata`` overriding values of existing keys) and the ``(source name,
    new name)`` tensors (default: all, unchanged), each passed through ``transform`` (float tensors only).
    Written under a temporary name and renamed when complete."""
    overrides = metadata or {}
    unknown = sorted(set(overrides) - set(src.fields))
    if unknown:
        raise KeyError(f"{src.path} has no metadata key {unknown[0]}")
    pairs = list(tensors) if tensors is not None else [(n, n) for n in src.tensors]
    with atomic_path(Path(dst)) as tmp:
        writer = gguf.GGUFWriter(tmp, src.architecture)
        if src.alignment != gguf.GGUF_DEFAULT_ALIGNMENT:
            writer.data_alignment = src.alignment
        for key, (types, value) in src.fields.items():
            if key in ("general.architecture", "general.alignment"):
                continue
            sub_type = types[-1] if types[0] == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, overrides.get(key, value), types[0], sub_type=sub_type)
        infos = [(src.tensors[a], b) for a, b in pairs]
        for info, name in infos:
            if transform is not None and info.qtype not in _FLOAT:
                raise ValueError(f"{info.name}: only float tensors can be transformed, not {info.qtype.name}")
            if info.qtype in _FLOAT:
                dtype = np.dtype(np.int16) if info.qtype == gguf.GGMLQuantizationType.BF16 else _FLOAT[info.qtype]
                writer.add_tensor_info(name, info.shape, dtype, info.nbytes, raw_dtype=info.qtype)
            else:
                byte_shape = (*info.shape[:-1], info.row_bytes) if len(info.shape) > 1 else (info.nbytes,)
                writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), info.nbytes, raw_dtype=info.qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for info, name in infos:
            writer.write_tensor_data(_Copied(src, info, transform, name))
        writer.close()
    return Path(dst)
