"""Quantization with llama.cpp's own quantizer (``llama_model_quantize``), never a home-made one.

llama.cpp quantizes inside one long C call whose only way back into Python is its log callback, and
ctypes swallows a KeyboardInterrupt raised there: Ctrl-C would be ignored until the whole file was
written. So the quantizer runs in a child process of its own (its own session, so the terminal's
SIGINT reaches only us, and killed with us on Linux); Ctrl-C in the parent stops it at once, and
the temporary output is removed, so no final-named file is ever left behind. Every quantization goes
this way: the export's types, the ladder's others, and those made with an importance matrix (handed to
the child in a scratch ``.npz``, arrays only).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import llama_cpp
import numpy as np

from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.llama import captured_llama_log
from ecmiip.core.outputs import atomic_path
from ecmiip.quantize.imatrix import imatrix_array

QUANT_TYPES: dict[str, int] = {
    "Q4_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
    "Q5_K_M": llama_cpp.LLAMA_FTYPE_MOSTLY_Q5_K_M,
    "Q6_K": llama_cpp.LLAMA_FTYPE_MOSTLY_Q6_K,
    "Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
}
# Bits per weight of each type's bulk tensors, for the free-disk estimate (llama.cpp's figures, rounded up).
BITS_PER_WEIGHT = {"Q4_K_M": 5.0, "Q5_K_M": 5.8, "Q6_K": 6.6, "Q8_0": 8.5}

# llama.cpp quantizes each tensor in slabs of rows whose buffers stay below this size (its default,
# 8 GiB, turns a whole embedding matrix into float32 at once: twice its F16 size in RAM).
MAX_BUF_BYTES = 64 * 2**20

# Seconds a child gets to exit after SIGTERM before it is killed.
STOP_GRACE_S = 2.0

_TENSOR_LINE = re.compile(r"\[\s*(\d+)/\s*(\d+)\]")
_PROGRESS, _LOG = "@@ecmiip-progress ", "@@ecmiip-log "


def parse_quant_types(names: list[str]) -> list[str]:
    upper = [n.upper() for n in names]
    unknown = [n for n in upper if n not in QUANT_TYPES]
    if unknown:
        raise InputError(f"unknown quantization type {', '.join(unknown)}; choose from {', '.join(QUANT_TYPES)}")
    return list(dict.fromkeys(upper))


def llama_ftype(qtype: str) -> int:
    """llama.cpp's file type for ``qtype``: the export's four, or any other its quantizer knows (IQ4_XS…)."""
    ftype = QUANT_TYPES.get(qtype, getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}", None))
    if not isinstance(ftype, int):
        raise InputError(f"llama.cpp has no quantization type {qtype}")
    return ftype


def quantize_in_process(
    src: Path,
    dst: Path,
    qtype: str,
    *,
    imatrix: Mapping[str, np.ndarray] | None = None,
    nthread: int = 0,
    max_buf_bytes: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Run llama.cpp's quantizer here, writing ``dst`` directly (not atomically); returns its log.

    Not interruptible: use :func:`quantize`, which runs this in a child process.
    """
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_ftype(qtype)
    params.nthread = nthread
    params.max_buf_size = MAX_BUF_BYTES if max_buf_bytes is None else max_buf_bytes
    entries = imatrix_array(imatrix) if imatrix else None  # kept alive until the call returns
    if entries is not None:
        params.imatrix = ctypes.cast(entries, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))

    def progress(line: str) -> None:
        m = _TENSOR_LINE.search(line)
        if m and on_progress is not None:
            on_progress(int(m.group(1)), int(m.group(2)))

    with captured_llama_log(progress) as log:
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0 or not Path(dst).is_file():
        tail = "\n".join(line for line in log[-8:] if line.strip())
        raise EcmiipError(f"llama.cpp could not quantize {src} to {qtype} (code {rc}):\n{tail}")
    return log


def quantize(
    src: Path,
    dst: Path,
    qtype: str,
    *,
    imatrix: Mapping[str, np.ndarray] | None = None,
    nthread: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Quantize ``src`` (F32/F16/BF16 GGUF) to ``dst``, weighing rounding errors by ``imatrix`` when given
    (``imatrix.collect_imatrix``); llama.cpp's log explains any failure.

    Runs in a child process that Ctrl-C (or any exception here) stops within a second; ``dst`` appears
    only when the quantizer has finished.
    """
    llama_ftype(qtype)
    scratch = tempfile.TemporaryDirectory(prefix=".ecmiip-imatrix-") if imatrix else contextlib.nullcontext()
    with atomic_path(dst) as tmp, scratch as folder:
        imatrix_file = ""
        if imatrix:
            imatrix_file = str(Path(folder) / "imatrix.npz")
            np.savez(imatrix_file, **{name: np.asarray(v, np.float32) for name, v in imatrix.items()})
        _run_child(Path(src), tmp, qtype, nthread, imatrix_file, on_progress)


def _run_child(src: Path, tmp: Path, qtype: str, nthread: int, imatrix_file: str, on_progress) -> None:
    cmd = [
        # `-c` puts the working folder first on sys.path: drop it, so a user's numbers.py (or any file
        # named like a module) in the folder they run from cannot shadow the standard library.
        sys.executable, "-c", "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
        "from ecmiip.quantize.quantize import _child_main; _child_main()",
        str(src), str(tmp), qtype, str(nthread), str(MAX_BUF_BYTES), str(os.getpid()), imatrix_file,
    ]
    log: list[str] = []
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line.startswith(_PROGRESS):
                if on_progress is not None:
                    i, n = line.removeprefix(_PROGRESS).split()
                    on_progress(int(i), int(n))
            else:
                log.append(line.removeprefix(_LOG))
        rc = proc.wait()
    except BaseException:  # Ctrl-C, or a failure in on_progress: stop the quantizer before the file goes
        _stop(proc)
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    if rc != 0 or not tmp.is_file():
        tail = "\n".join(line for line in log[-8:] if line.strip())
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            raise EcmiipError(
                f"llama.cpp's quantizer was killed by {name} while quantizing {src} to {qtype}"
                + (" (out of memory?)" if -rc == signal.SIGKILL else "")
            )
        raise EcmiipError(f"llama.cpp could not quantize {src} to {qtype} (code {rc}):\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the child and wait for it, so it never writes after its file was removed."""
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this process when the parent dies (SIGKILL of ``ecmiip export``)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child_main() -> None:
    """Entry point of the quantizer child: argv = src, tmp, qtype, nthread, max_buf_bytes, parent pid,
    importance-matrix .npz ("" for none)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it stops us with SIGTERM
    src, tmp, qtype, nthread, max_buf, parent, imatrix_file = sys.argv[1:8]
    _die_with_parent(int(parent))

    def progress(i: int, n: int) -> None:
        print(f"{_PROGRESS}{i} {n}", flush=True)

    imatrix = None
    if imatrix_file:
        with np.load(imatrix_file, allow_pickle=False) as npz:
            imatrix = {name: npz[name] for name in npz.files}
    try:
        quantize_in_process(Path(src), Path(tmp), qtype, imatrix=imatrix, nthread=int(nthread),
                            max_buf_bytes=int(max_buf), on_progress=progress)
    except EcmiipError as e:
        for line in str(e).splitlines()[1:]:
            print(f"{_LOG}{line}", flush=True)
        sys.exit(1)
