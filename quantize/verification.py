"""The export's checks, in an order that keeps memory at one decoder layer plus one GGUF.

1. Tokenizer and special-token parity (llama.cpp loads the vocabulary only).
2. One pass of the fp32 reference (``reference.py``) over the checkpoint, layer by layer: every tensor of
   the F16/BF16/F32 file is compared with the model as trained as it passes (``weights.py``), and the
   reference logits are computed for the parity prompts and the held-out drift text.
3. llama.cpp, one GGUF at a time, freed before the next: logits parity of the reference file, run whole
   when it is at most ``FULL_RUN_MAX_BYTES``; above that on a depth slice (first two and last layers,
   with the embedding, final norm and head) copied from the file's own bytes, against the reference
   run through the same layers. The whole file is still checked tensor by tensor in step 2. Then each
   quant's drift on the held-out text against the reference.
4. Chat templates (llama.cpp's Jinja and Ollama's Go renderings against HF's).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import tempfile
from pathlib import Path

import numpy as np

from ecmiip.core.errors import InputError
from ecmiip.quantize import verify
from ecmiip.quantize.arch import spec_for
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.gguf_file import GGUFFile, copy_gguf
from ecmiip.quantize.parity_conversations import PARITY_CONVERSATIONS
from ecmiip.quantize.reference import STORAGE, Reference, Sequence
from ecmiip.quantize.weights import WeightParity

FULL_RUN_MAX_BYTES = 2 * 2**30  # run the reference GGUF whole in llama.cpp up to this size
DRIFT_TOKENS = 256


def slice_layers(n_layers: int) -> tuple[int, ...]:
    """The decoder layers a depth slice keeps: the first two and the last."""
    return tuple(range(n_layers)) if n_layers <= 3 else (0, 1, n_layers - 1)


def storage_type(gguf_file: GGUFFile) -> str:
    """"f32", "f16" or "bf16": the type most of the file's matrices are stored in (the file says, not its name)."""
    counts: dict[str, int] = {}
    for info in gguf_file.tensors.values():
        if len(info.shape) > 1:
            counts[info.qtype.name.lower()] = counts.get(info.qtype.name.lower(), 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else "f32"


def depth_for(gguf_path: Path, n_layers: int, full_run_max_bytes: int = FULL_RUN_MAX_BYTES) -> tuple[int, ...] | None:
    """The layers llama.cpp runs of a file this large (None: the whole model)."""
    return None if gguf_path.stat().st_size <= full_run_max_bytes else slice_layers(n_layers)


def write_slice(src: GGUFFile, layers: tuple[int, ...], dst: Path) -> Path:
    """A GGUF of ``layers`` only (renumbered), with the file's embedding, final norm and head, bytes unchanged.

    A LoRA adapter GGUF slices the same way: its pairs carry the base's tensor names, and it has no layer count.
    """
    keep = []
    for name in src.tensors:
        if not name.startswith("blk."):
            keep.append((name, name))
            continue
        index, rest = name[4:].split(".", 1)
        if int(index) in layers:
            keep.append((name, f"blk.{layers.index(int(index))}.{rest}"))
    count = f"{src.architecture}.block_count"
    return copy_gguf(src, dst, tensors=keep, metadata={count: len(layers)} if count in src.fields else None)


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS before llama.cpp maps the next file.

    glibc keeps freed blocks of the reference pass in its arenas (a gigabyte at 4 B) unless asked.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _status(message: str):
    from ecmiip.core.console import console

    return console.status(message)


def run_checks(
    reference_gguf: Path,
    base: Path,
    adapter_dir: Path | None,
    quant_paths: dict[str, Path],
    template,
    system: str,
    tokenizer,
    *,
    full_run_max_bytes: int = FULL_RUN_MAX_BYTES,
) -> list[verify.Check]:
    gguf_file = GGUFFile(reference_gguf)
    outtype = storage_type(gguf_file)
    if outtype not in ("f32", *STORAGE):
        raise InputError(f"{reference_gguf}: its matrices are {outtype.upper()}; give the 16/32-bit export as the "
                         "reference GGUF and each quant with --quant")
    with _status("verifying: tokenizer parity on the statute corpus"):
        checks = [verify.check_tokenizer(reference_gguf, tokenizer), verify.check_special_tokens(reference_gguf, tokenizer)]

    ckpt = Checkpoint(base)
    reference = Reference(base, adapter_dir, ckpt=ckpt)
    depth = depth_for(reference_gguf, reference.n_layers, full_run_max_bytes)
    prompts = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in verify.LOGIT_PROMPTS]
    drift_ids = tokenizer(verify.held_out_text(), add_special_tokens=True)["input_ids"][:DRIFT_TOKENS] if quant_paths else []
    stored = outtype if outtype in STORAGE else None
    sequences = [Sequence(ids, depth) for ids in prompts]
    sequences += [Sequence(ids, depth, stored_as=stored) for ids in prompts] if stored else []
    sequences += [Sequence(drift_ids)] if drift_ids else []
    parity = WeightParity(gguf_file, spec_for(ckpt.architecture), ckpt.config,
                          embedding_rows=reference.base_embedding_rows)
    with _status(f"verifying: every tensor and the fp32 reference logits, layer by layer ({reference.n_layers} layers)"):
        logits = [t.numpy() for t in reference.logits(sequences, observe=parity)]
        parity.finish()
    checks.append(_weights_check(parity, gguf_file))
    del reference, parity
    release_memory()

    n = len(prompts)
    exact, twin = logits[:n], logits[n : 2 * n] if stored else None
    twin_ratio = verify.logit_distance(exact, twin) if twin else 0.0
    tolerance = verify.logits_tolerance(outtype, twin_ratio)
    with _status("verifying: logits of llama.cpp against the fp32 reference"):
        check = _logits_check(reference_gguf, gguf_file, prompts, exact, depth, tolerance)
    if twin:
        check.summary += f"; limit = {verify.TWIN_GATE:g} × what {outtype.upper()} storage alone moves them ({twin_ratio:.3g})"
        check.details["storage_rounding_ratio"] = twin_ratio
    checks.append(check)
    del exact, twin
    del gguf_file
    release_memory()

    with _status("verifying: chat templates"):
        checks.append(verify.check_chat_template(reference_gguf, tokenizer, PARITY_CONVERSATIONS))
        checks.append(verify.check_modelfile_template(template, tokenizer, PARITY_CONVERSATIONS, system))

    if quant_paths:
        with _status("measuring quantization drift against the model as trained"), _scratch(reference_gguf) as tmp:
            reference_drift = RowsOnDisk(logits.pop(), Path(tmp) / "drift-reference.f32")
            del logits
            release_memory()
            for name, path in quant_paths.items():  # one GGUF in memory at a time
                checks.append(verify.check_drift(name, reference_drift, drift_ids, verify.llama_logit_chunks(path, drift_ids)))
                release_memory()
    return checks


class RowsOnDisk:
    """A float32 matrix parked in a file and read back by rows with positioned reads.

    The reference's drift logits (155 MiB for 256 tokens of Qwen3's vocabulary) would otherwise sit in
    memory beside the quant that llama.cpp maps; a memory map would leave every page read resident.
    """

    def __init__(self, array: np.ndarray, path: Path) -> None:
        self.path, self.shape = path, array.shape
        np.ascontiguousarray(array, dtype=np.float32).tofile(path)

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        width = self.shape[1]
        return np.fromfile(self.path, dtype=np.float32, count=(stop - start) * width, offset=start * width * 4).reshape(-1, width)


def _scratch(near: Path):
    """A temporary folder beside ``near`` (same disk as the export), else in the system's temp folder."""
    folder = near.parent if os.access(near.parent, os.W_OK) else None
    return tempfile.TemporaryDirectory(prefix=".ecmiip-verify-", dir=folder)


def _weights_check(parity: WeightParity, gguf_file: GGUFFile) -> verify.Check:
    findings = [{"tensor": f.tensor, "fault": f.fault} for f in parity.findings]
    if findings:
        first = parity.findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        summary = f"{first.tensor}: {first.fault}{more}"
    else:
        summary = (f"{parity.compared} tensors (or row blocks) equal the model as trained within their storage "
                   f"type's rounding (worst {parity.worst:.2f} of the allowance)")
    return verify.Check("weight parity", not findings, summary,
                        {"findings": findings, "compared": parity.compared, "worst_ratio": parity.worst,
                         "tensors_in_file": len(gguf_file.tensors)})


def _logits_check(path: Path, gguf_file: GGUFFile, prompts: list[list[int]], reference: list[np.ndarray],
                  depth: tuple[int, ...] | None, tolerance: float) -> verify.Check:
    labels = list(verify.LOGIT_PROMPTS)
    if depth is None:
        got = verify.llama_logits(path, prompts)
        return verify.check_logits(labels, reference, got, tolerance=tolerance)
    with _scratch(path) as tmp:
        sliced = write_slice(gguf_file, depth, Path(tmp) / "slice.gguf")
        got = verify.llama_logits(sliced, prompts)
    layers = ", ".join(str(i) for i in depth)
    return verify.check_logits(labels, reference, got, tolerance=tolerance,
                               what=f"; depth slice of layers {layers} (the file is checked tensor by tensor)")
