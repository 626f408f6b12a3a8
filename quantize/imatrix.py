"""An importance matrix collected with llama.cpp itself, and handed to its quantizer.

llama.cpp's quantizer weighs each weight's rounding error by how large the activations that multiply
it are (``quant_weights``): an *importance matrix* holds, for every matrix of the decoder, the mean of
x² over calibration tokens, one value per input column. llama.cpp computes it with its ``llama-imatrix``
tool, which llama-cpp-python does not ship; but the tool only does two things that the C API exposes:

- collection: a ``cb_eval`` graph callback (``llama_context_params.cb_eval``) sees every MUL_MAT node
  after it is computed, with its weight (``src[0]``, named ``blk.N.attn_q.weight``…) and its input
  activations (``src[1]``, F32). This module does what ``tools/imatrix/imatrix.cpp``'s
  ``collect_imatrix`` does for dense models: Σ x² per column and the number of rows, ``blk.*`` weights
  only, batches of at least 16 tokens. Reading ``struct ggml_tensor`` needs its layout, which is not
  in llama-cpp-python: it is declared below from ``ggml.h`` and checked against the library's own
  ``ggml_tensor_overhead()`` before use, and a weight name that is not ``blk.…`` is never read.
- use: ``llama_model_quantize_params.imatrix`` takes an array of ``{name, data, size}`` ending with a
  NULL name (llama.h, this llama.cpp), the mean x² per column as ``tools/quantize`` passes it after
  loading an imatrix file.

MoE layers (MUL_MAT_ID) are not collected: ec-miip's architectures are dense.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ecmiip.core.errors import EcmiipError, InputError, UnsupportedError
from ecmiip.core.llama import captured_llama_log, load_failure

MIN_BATCH_ROWS = 16  # imatrix.cpp ignores smaller batches (the last tokens of a generation)
GGML_TYPE_F32 = 0
_OBJECT_BYTES = 32  # sizeof(struct ggml_object): ggml_tensor_overhead() = this + sizeof(struct ggml_tensor)


class _Tensor(ctypes.Structure):
    """``struct ggml_tensor`` (ggml.h: GGML_MAX_DIMS 4, GGML_MAX_OP_PARAMS 64, GGML_MAX_SRC 10, GGML_MAX_NAME 64)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("buffer", ctypes.c_void_p),
        ("ne", ctypes.c_int64 * 4),
        ("nb", ctypes.c_size_t * 4),
        ("op", ctypes.c_int),
        ("op_params", ctypes.c_int32 * 16),
        ("flags", ctypes.c_int32),
        ("src", ctypes.c_void_p * 10),
        ("view_src", ctypes.c_void_p),
        ("view_offs", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char * 64),
        ("extra", ctypes.c_void_p),
        ("padding", ctypes.c_char * 8),
    ]


def _ggml_base() -> ctypes.CDLL:
    import llama_cpp

    folder = Path(llama_cpp.__file__).parent / "lib"
    for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
        if (folder / name).exists():
            lib = ctypes.CDLL(str(folder / name))
            break
    else:
        raise UnsupportedError(f"no libggml-base in {folder}: this llama-cpp-python build cannot collect an importance matrix")
    lib.ggml_tensor_overhead.restype = ctypes.c_size_t
    lib.ggml_op_name.restype = ctypes.c_char_p
    lib.ggml_op_name.argtypes = [ctypes.c_int]
    lib.ggml_backend_buffer_is_host.restype = ctypes.c_bool
    lib.ggml_backend_buffer_is_host.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    return lib


def _mul_mat_op(lib: ctypes.CDLL) -> int:
    """GGML_OP_MUL_MAT's value in this build, looked up by name (the enum grows between versions)."""
    for op in range(1, 200):
        name = lib.ggml_op_name(op)
        if name == b"MUL_MAT":
            return op
        if name is None or name == b"":
            break
    raise UnsupportedError("this llama.cpp build has no MUL_MAT operation by that name; cannot collect an importance matrix")


def _weight_name(raw: bytes) -> str:
    """``CUDA0#blk.0.attn_k.weight#0`` → ``blk.0.attn_k.weight`` (imatrix.cpp's filter_tensor_name)."""
    name = raw.decode("utf-8", "replace")
    if "#" in name:
        name = name.split("#")[1]
    return name


class _Collector:
    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib, self.mul_mat = lib, _mul_mat_op(lib)
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}
        self.error: BaseException | None = None

    def __call__(self, t_ptr: int, ask: bool, _user: int) -> bool:
        try:
            return self._collect(t_ptr, ask)
        except BaseException as e:  # never let an exception unwind through C
            self.error = self.error or e
            return False

    def _collect(self, t_ptr: int, ask: bool) -> bool:
        t = _Tensor.from_address(t_ptr)
        if t.op != self.mul_mat or not t.src[0] or not t.src[1]:
            return not ask  # asked: not wanted; told (never, as we do not ask): carry on
        src0, src1 = _Tensor.from_address(t.src[0]), _Tensor.from_address(t.src[1])
        name = _weight_name(src0.name)
        if ask:
            return name.startswith("blk.") and src1.type == GGML_TYPE_F32 and src1.ne[1] >= MIN_BATCH_ROWS
        ne0, rows = int(src1.ne[0]), int(src1.ne[1]) * int(src1.ne[2]) * int(src1.ne[3])
        if src1.nb[0] != 4 or src1.nb[1] != 4 * ne0 or src1.nb[2] != src1.nb[1] * src1.ne[1]:
            raise UnsupportedError(f"activations of {name} are not contiguous; cannot collect an importance matrix")
        if src0.ne[2] * src0.ne[3] != 1:
            raise UnsupportedError(f"{name} is a stack of matrices (MoE); not supported")
        if self.lib.ggml_backend_buffer_is_host(src1.buffer):
            x = np.ctypeslib.as_array(ctypes.cast(src1.data, ctypes.POINTER(ctypes.c_float)), shape=(rows, ne0))
        else:
            x = np.empty((rows, ne0), np.float32)
            self.lib.ggml_backend_tensor_get(t.src[1], x.ctypes.data, 0, x.nbytes)
        sq = np.square(x, dtype=np.float64).sum(axis=0)
        if name not in self.sums:
            self.sums[name], self.counts[name] = np.zeros(ne0), 0
        elif self.sums[name].shape[0] != ne0:
            raise UnsupportedError(f"{name}: activations of width {ne0}, then {self.sums[name].shape[0]}")
        self.sums[name] += sq
        self.counts[name] += rows
        return True

    def result(self) -> dict[str, np.ndarray]:
        out = {name: (s / self.counts[name]).astype(np.float32) for name, s in self.sums.items()}
        bad = next((n for n, v in out.items() if not np.isfinite(v).all()), None)
        if bad:
            raise EcmiipError(f"the importance matrix of {bad} is not finite (the model overflows on the calibration text)")
        return out


def collect_imatrix(gguf_path: Path, chunks: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """Mean x² per input column of every ``blk.*`` matrix, over the token ``chunks`` (each one sequence).

    Each chunk is decoded from an empty cache, as ``llama-imatrix`` does with its ``-c`` chunks.
    """
    import llama_cpp

    lib = _ggml_base()
    if ctypes.sizeof(_Tensor) + _OBJECT_BYTES != lib.ggml_tensor_overhead():
        raise UnsupportedError(
            f"this llama.cpp's struct ggml_tensor is {lib.ggml_tensor_overhead() - _OBJECT_BYTES} bytes, not "
            f"{ctypes.sizeof(_Tensor)}: its layout changed, so an importance matrix cannot be collected")
    chunks = [list(c) for c in chunks if len(c) >= MIN_BATCH_ROWS]
    if not chunks:
        raise InputError(f"the calibration text gives no chunk of {MIN_BATCH_ROWS} tokens or more")
    longest = max(len(c) for c in chunks)
    collector = _Collector(lib)
    callback = llama_cpp.ggml_backend_sched_eval_callback(collector)
    with captured_llama_log() as log, _model(gguf_path, log) as model:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = longest
        params.cb_eval, params.cb_eval_user_data = callback, None
        params.no_perf = True
        ctx = llama_cpp.llama_init_from_model(model, params)
        if not ctx:
            raise InputError(f"{gguf_path}: llama.cpp cannot create a context ({load_failure(log)})")
        batch = llama_cpp.llama_batch_init(longest, 0, 1)
        try:
            for tokens in chunks:
                llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
                batch.n_tokens = len(tokens)
                for i, token in enumerate(tokens):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, i, 1, True
                    batch.seq_id[i][0] = 0
                rc = llama_cpp.llama_decode(ctx, batch)
                if collector.error is not None:
                    raise collector.error
                if rc != 0:
                    raise EcmiipError(f"{gguf_path}: llama_decode returned {rc} while collecting the importance matrix")
        finally:
            llama_cpp.llama_batch_free(batch)
            llama_cpp.llama_free(ctx)
    if not collector.sums:
        raise UnsupportedError(f"{gguf_path}: llama.cpp reported no matrix multiplication of a blk.* weight")
    return collector.result()


@contextmanager
def _model(path: Path, log: list[str]) -> Iterator[int]:
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = 0
    params.use_extra_bufts = False  # no repacked copies for a short pass, and no AMX kernels (core.llama)
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise InputError(f"{path}: llama.cpp cannot load it ({load_failure(log)})")
    try:
        yield model
    finally:
        llama_cpp.llama_model_free(model)


def imatrix_array(imatrix: Mapping[str, np.ndarray]):
    """The ``llama_model_imatrix_data`` array llama.cpp reads (NULL-name terminated), with what it points to
    kept alive as attributes of the array."""
    import llama_cpp

    entries = (llama_cpp.llama_model_imatrix_data * (len(imatrix) + 1))()
    keep = []
    for i, (name, values) in enumerate(sorted(imatrix.items())):
        data = np.ascontiguousarray(values, dtype=np.float32)
        keep.append(data)
        entries[i].name = name.encode()
        entries[i].data = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        entries[i].size = data.size
    entries[len(imatrix)].name = None
    entries._keep = keep
    return entries
