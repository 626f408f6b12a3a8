"""Checks for a LoRA GGUF: does it fit a base GGUF, and does llama.cpp running base + adapter answer as the
merged export does.

The fit is checked in Python first, from the two files' headers: llama.cpp refuses a wrong architecture or
a missing tensor with an exception, but some mismatches (an embedding LoRA on a tied base, whose output
layer *is* the embedding) reach a matrix product of the wrong shape and abort the whole process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ecmiip.core.errors import InputError
from ecmiip.core.llama import loaded_llama
from ecmiip.quantize import verify
from ecmiip.quantize.adapter_gguf import LORA_A, LORA_B, TOKEN_EMBD
from ecmiip.quantize.convert import convert
from ecmiip.quantize.gguf_file import GGUFFile
from ecmiip.quantize.verification import FULL_RUN_MAX_BYTES, depth_for, release_memory, write_slice

OUTPUT = "output.weight"

# The gate, in the unit of the export's logits check (max |Δlogit| / max(logit std, 1)).
# Both files hold the same weights up to the storage type's rounding, taken in different places: the
# merged file rounds W + s·BA once per element; base + adapter rounds W, A and B separately and llama.cpp
# rounds the activations fed to the two extra products. Each side is within the export's gate of the exact
# model (3 × its rounding twin, see ``verify.logits_tolerance``), so by the triangle inequality the two
# differ by at most twice that. The floor covers models whose rounding twin is tiny; measured (F16, 4 prompts):
# tiny Qwen3 0.007 (rsLoRA 0.011; its own gate 0.013), SmolLM2 0.015 (|Δ| 0.09 on logits of std 4–6). The
# adapters of the tests move the logits by 2.3–7.9 from the base, so 0.05 still catches a pair scaled 2 % off;
# rsLoRA's √r left out of alpha measured 2.3, and a transposed or misplaced pair is refused by ``check_fits``.
# BF16 keeps 3 fewer mantissa bits than F16, so its floor is 8× (measured 0.069 on tiny Qwen3); F32 rounds
# nothing but the summation order (measured 0.0001).
FLOOR = 0.05
FLOORS = {"f16": FLOOR, "bf16": 8 * FLOOR, "f32": 2e-3}


def adapter_tolerance(outtype: str, twin_ratio: float | None) -> float:
    """Limit for base + adapter against the merged file: twice the export's own gate (when the export measured
    its rounding twin), at least the storage type's floor."""
    gate = verify.logits_tolerance(outtype, twin_ratio) if twin_ratio is not None else 0.0
    return max(2 * gate, FLOORS[outtype])


def check_fits(adapter_gguf: Path, base_gguf: Path) -> None:
    """Refuse, with one line, an adapter GGUF llama.cpp cannot apply to ``base_gguf`` — before llama.cpp sees it."""
    adapter = GGUFFile(adapter_gguf)
    if adapter.get("general.type") != "adapter" or adapter.get("adapter.type") != "lora":
        raise InputError(f"{adapter_gguf}: not a LoRA adapter GGUF (general.type={adapter.get('general.type')!r}, "
                         f"adapter.type={adapter.get('adapter.type')!r})")
    base = GGUFFile(base_gguf)  # its vocabulary makes this the slow read (seconds at Qwen's 151 k tokens)
    if base.get("general.type", "model") != "model":
        raise InputError(f"{base_gguf}: not a model GGUF (general.type={base.get('general.type')!r})")
    if adapter.architecture != base.architecture:
        raise InputError(f"{adapter_gguf}: the adapter is for a {adapter.architecture} model, {base_gguf} is "
                         f"{base.architecture}; give the base GGUF it was trained on")
    pairs: dict[str, dict[str, tuple[int, ...]]] = {}
    for name, info in adapter.tensors.items():
        suffix = next((s for s in (LORA_A, LORA_B) if name.endswith(s)), None)
        if suffix is None:
            raise InputError(f"{adapter_gguf}: tensor {name} is neither a .lora_a nor a .lora_b")
        pairs.setdefault(name.removesuffix(suffix), {})[suffix] = info.shape
    for target, parts in sorted(pairs.items()):
        if set(parts) != {LORA_A, LORA_B}:
            raise InputError(f"{adapter_gguf}: {target} has only one of lora_a and lora_b")
        if target not in base.tensors:
            raise InputError(f"{adapter_gguf}: adapts {target}, which {base_gguf} does not have "
                             "(a different model, or a tied head?); give the base GGUF it was trained on")
        if target == TOKEN_EMBD and OUTPUT not in base.tensors:
            raise InputError(f"{adapter_gguf}: adapts the token embedding, but {base_gguf} ties its output layer "
                             "to it, and llama.cpp would apply the pair there too")
        a, b, w = parts[LORA_A], parts[LORA_B], base.tensors[target].shape  # numpy order: w is [out, in]
        if target == TOKEN_EMBD:  # a [vocab, r], b [dim, r]; the embedding is [vocab, dim]
            fits = len(a) == len(b) == 2 and a[0] == w[0] and b[0] == w[1] and a[1] == b[1]
        else:  # a [r, in], b [out, r]
            fits = len(a) == len(b) == len(w) == 2 and a[1] == w[1] and b[0] == w[0] and b[1] == a[0]
        if not fits:
            raise InputError(f"{adapter_gguf}: {target} is {list(w)} in {base_gguf}, but the adapter's lora_a "
                             f"{list(a)} and lora_b {list(b)} do not fit it; give the base GGUF it was trained on")


def adapter_logits(base_gguf: Path, adapter_gguf: Path, sequences: list[list[int]]) -> list[np.ndarray]:
    """Logits at every position of each sequence from llama.cpp with the adapter applied (scale 1)."""
    check_fits(adapter_gguf, base_gguf)
    out = []
    longest = max(len(s) for s in sequences)
    with loaded_llama(base_gguf, repack=False, lora_path=str(adapter_gguf), n_ctx=max(64, longest + 8),
                      n_batch=verify.CHUNK, n_ubatch=verify.CHUNK) as llm:
        for tokens in sequences:
            out.append(np.concatenate([chunk.copy() for _, chunk in verify._decode_chunks(llm, tokens)]))
    return out


def check_adapter_gguf(adapter_gguf: Path, base_gguf: Path, merged_gguf: Path, prompts: list[list[int]], *,
                       tolerance: float, labels: list[str] | None = None) -> verify.Check:
    """llama.cpp's logits from base + adapter against those of the merged file: top-1 and max |Δ|."""
    labels = labels or [str(i) for i in range(len(prompts))]
    merged = verify.llama_logits(merged_gguf, prompts)
    release_memory()
    got = adapter_logits(base_gguf, adapter_gguf, prompts)
    check = verify.check_logits(labels, merged, got, tolerance=tolerance, what=" against the merged file")
    check.name = "adapter GGUF parity"
    return check


def verify_adapter_export(adapter_gguf: Path, base_dir: Path, merged_gguf: Path, tokenizer, *, outtype: str,
                          twin_ratio: float | None, full_run_max_bytes: int = FULL_RUN_MAX_BYTES) -> verify.Check:
    """The export's check: the base converted to a scratch GGUF beside the outputs, base + adapter run in
    llama.cpp against the merged file on the logits prompts, the scratch files removed.

    A merged file above ``full_run_max_bytes`` is run as the logits check runs it: the base, the adapter and
    the merged file are each cut to the same depth slice (bytes unchanged), so the check costs the slice's
    memory, not the whole 16-bit base's (8.8 GiB at 4 B otherwise).
    """
    prompts = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in verify.LOGIT_PROMPTS]
    merged = GGUFFile(merged_gguf)
    depth = depth_for(merged_gguf, int(merged.get(f"{merged.architecture}.block_count")), full_run_max_bytes)
    with tempfile.TemporaryDirectory(prefix=".ecmiip-adapter-", dir=merged_gguf.parent) as tmp:
        base_gguf = Path(tmp) / "base.gguf"
        convert(base_dir, base_gguf, outtype=outtype, tokenizer=tokenizer)
        release_memory()
        check_fits(adapter_gguf, base_gguf)  # on the files as they are, before any slicing
        if depth is not None:
            base_gguf = _slice(GGUFFile(base_gguf), depth, Path(tmp) / "base-slice.gguf", drop_source=True)
            merged_gguf = _slice(merged, depth, Path(tmp) / "merged-slice.gguf")
            adapter_gguf = _slice(GGUFFile(adapter_gguf), depth, Path(tmp) / "lora-slice.gguf")
        del merged
        check = check_adapter_gguf(adapter_gguf, base_gguf, merged_gguf, prompts,
                                   tolerance=adapter_tolerance(outtype, twin_ratio), labels=list(verify.LOGIT_PROMPTS))
    if depth is not None:
        check.summary += f"; depth slice of layers {', '.join(str(i) for i in depth)}"
        check.details["layers"] = list(depth)
    return check


def _slice(src: GGUFFile, depth: tuple[int, ...], dst: Path, *, drop_source: bool = False) -> Path:
    write_slice(src, depth, dst)
    if drop_source:  # the scratch base: free its disk before the next file is written
        src.path.unlink()
    return dst
