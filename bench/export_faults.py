"""Does verification catch what converters get wrong? Plant each fault into a good export and see.

Each fault is a copy of a verified F16 (or BF16/F32) GGUF with one thing broken the way converters
break it, made from the file's own bytes (plus the base checkpoint where a fault needs the un-merged
weights) so the converter itself stays untouched:

- ``qk-permuted``: Q/K rows in the other RoPE layout (LLaMA's permutation applied to a NEOX model, or
  missing from a LLaMA one), in every layer;
- ``lora-missing``: one layer's LoRA deltas dropped (its projections hold the base weights);
- ``lora-scale``: one layer's LoRA deltas scaled by √r (rsLoRA's scaling on a plain LoRA adapter);
- ``head-mixup``: a tied model given a separate, freshly initialised head; an untied one losing its head;
- ``special-token-shift``: the added tokens' strings moved one id up (``<|im_end|>`` at the id after its own).

Verification must fail on every one with a message naming the fault. Run:
``python -m ecmiip.bench.export_faults GGUF --base BASE [--adapter ADAPTER] [--faults a,b] [--work DIR]``.
Each verification runs as ``ecmiip verify`` in a fresh process, measured (wall time, peak RSS). It prints a
table (fault, failed checks, the message, time, memory) and exits 1 if a fault went unnamed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from ecmiip.quantize.arch import _permute
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.gguf_file import GGUFFile, copy_gguf


@dataclass(frozen=True)
class Fault:
    what: str
    check: str  # the check that must fail
    message: str  # a regular expression its summary must match


FAULTS: dict[str, Fault] = {
    "qk-permuted": Fault("Q/K rows in the wrong RoPE layout, every layer", "weight parity", r"RoPE"),
    "lora-missing": Fault("one layer's LoRA deltas missing", "weight parity", r"LoRA delta is missing"),
    "lora-scale": Fault("one layer's LoRA deltas scaled by √r", "weight parity", r"LoRA delta is scaled"),
    "head-mixup": Fault("head tied/untied the wrong way", "weight parity", r"output\.weight"),
    "special-token-shift": Fault("added tokens one id off", "special tokens", r"off by one"),
}


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _heads(src: GGUFFile) -> tuple[int, int]:
    arch = src.architecture
    n = int(src.get(f"{arch}.attention.head_count"))
    return n, int(src.get(f"{arch}.attention.head_count_kv", n))


def _base_tensor(base: Checkpoint, gguf_name: str, n_layers: int, arch: gguf.MODEL_ARCH) -> np.ndarray:
    """The base checkpoint's value of a GGUF tensor (no adapter), in llama.cpp's row order."""
    tmap = gguf.get_tensor_name_map(arch, n_layers)
    for hf_name in base.entries:
        if tmap.get_name(hf_name, try_suffixes=(".weight", ".bias")) == gguf_name:
            return base.load(hf_name).float().numpy()
    raise KeyError(gguf_name)


def plant(fault: str, src_path: Path, base_dir: Path, dst: Path, *, rank: int = 64) -> Path:
    """A copy of ``src_path`` with ``fault`` planted; ``rank`` is the adapter's LoRA rank (for ``lora-scale``)."""
    src = GGUFFile(src_path)
    arch = src.architecture
    n_layers = int(src.get(f"{arch}.block_count"))
    arch_enum = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch)
    middle = n_layers // 2
    projections = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    transform: Callable[[str, np.ndarray], np.ndarray] | None = None
    tensors = None
    metadata = None

    if fault == "qk-permuted":
        n_head, n_kv = _heads(src)
        neox = arch in ("qwen2", "qwen3")

        def transform(name: str, w: np.ndarray) -> np.ndarray:
            m = re.fullmatch(r"blk\.\d+\.attn_(q|k)\.(weight|bias)", name)
            if not m:
                return w
            heads = n_head if m[1] == "q" else n_kv
            return np.asarray(_permute(w, heads) if neox else _unpermute(w, heads))

    elif fault in ("lora-missing", "lora-scale"):
        base = Checkpoint(base_dir)
        targets = {f"blk.{middle}.{p}.weight" for p in projections}

        def transform(name: str, w: np.ndarray) -> np.ndarray:
            if name not in targets:
                return w
            b = _base_tensor(base, name, n_layers, arch_enum)
            if arch == "llama" and (".attn_q." in name or ".attn_k." in name):
                n_head, n_kv = _heads(src)
                b = np.asarray(_permute(b, n_head if ".attn_q." in name else n_kv))
            if fault == "lora-missing":
                return b
            return b + np.sqrt(rank) * (w - b)

    elif fault == "head-mixup":
        if "output.weight" in src.tensors and not _tied(base_dir):
            tensors = [(n, n) for n in src.tensors if n != "output.weight"]  # untied model loses its head
        else:
            tensors = [(n, n) for n in src.tensors if n != "output.weight"] + [("token_embd.weight", "output.weight")]
            rng = np.random.default_rng(0)

            def transform(name: str, w: np.ndarray) -> np.ndarray:
                if name != "output.weight":
                    return w
                return rng.standard_normal(w.shape, dtype=np.float32) * 0.02  # a freshly initialised head

    elif fault == "special-token-shift":
        tokens = list(src.get("tokenizer.ggml.tokens"))
        types = list(src.get("tokenizer.ggml.token_type"))
        added = [i for i, t in enumerate(types) if t in (gguf.TokenType.CONTROL, gguf.TokenType.USER_DEFINED)]
        first, last = min(added), max(added)
        tokens[first + 1 : last + 1] = tokens[first:last]
        types[first + 1 : last + 1] = types[first:last]
        tokens[first] = "<|ecmiip_unused|>"
        metadata = {"tokenizer.ggml.tokens": tokens, "tokenizer.ggml.token_type": types}
    else:
        raise KeyError(f"unknown fault {fault}; choose from {', '.join(FAULTS)}")
    return copy_gguf(src, dst, tensors=tensors, metadata=metadata, transform=transform)



def _tied(base_dir: Path) -> bool:
    return bool(Checkpoint(base_dir).config.get("tie_word_embeddings", False))


def run(gguf_path: Path, base: Path, adapter: Path | None, faults: list[str], work: Path) -> list[dict]:
    """Plant each fault, then run ``ecmiip verify`` on it in a fresh, measured process; record which checks
    failed, what they said, and the verification's wall time and peak RSS (planting is not measured)."""
    import json

    from ecmiip.bench.export_memory import measure
    from ecmiip.quantize.checkpoint import read_json

    rank = int(read_json(adapter / "adapter_config.json").get("r", 8)) if adapter is not None else 8
    rows = []
    for name in faults:
        fault = FAULTS[name]
        planted, report = work / f"fault-{name}.gguf", work / f"fault-{name}.json"
        plant(name, gguf_path, base, planted, rank=rank)
        cmd = [sys.executable, "-m", "ecmiip", "verify", str(planted), "--hf", str(base), "--report", str(report)]
        measured = measure(f"verify {name}", cmd + (["--adapter", str(adapter)] if adapter else []), work / f"fault-{name}.log",
                           echo_failure=False)
        checks = json.loads(report.read_text())["checks"] if report.is_file() else []
        failed = {c["name"]: c["summary"] for c in checks if c["passed"] is False}
        named = fault.check in failed and re.search(fault.message, failed[fault.check]) is not None
        rows.append({"fault": name, "what": fault.what, "failed": sorted(failed), "named": named,
                     "message": failed.get(fault.check, "(did not fail)"), "seconds": measured.wall_s,
                     "peak_rss_bytes": measured.peak_rss_bytes, "exit": measured.returncode})
        planted.unlink(missing_ok=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from rich.table import Table

    from ecmiip.core.console import stdout_console

    p = argparse.ArgumentParser(prog="python -m ecmiip.bench.export_faults", description=__doc__.split("\n\n")[0])
    p.add_argument("gguf", type=Path, help="a verified F16/BF16/F32 export")
    p.add_argument("--base", type=Path, required=True, help="the base model it was exported from")
    p.add_argument("--adapter", type=Path, help="the LoRA adapter it was exported with (the LoRA faults need one)")
    p.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, from {', '.join(FAULTS)}")
    p.add_argument("--work", type=Path, help="folder for the planted copies (default: beside the GGUF)")
    args = p.parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        p.error(f"unknown fault {unknown[0]}; choose from {', '.join(FAULTS)}")
    if args.adapter is None:
        faults = [f for f in faults if not f.startswith("lora-")]
    with tempfile.TemporaryDirectory(prefix=".ecmiip-faults-", dir=args.work or args.gguf.parent) as tmp:
        rows = run(args.gguf, args.base, args.adapter, faults, Path(tmp))
    table = Table(title=f"planted faults in {args.gguf.name}")
    for col in ("fault", "named", "failed checks", "message", "verify s", "verify peak RSS (GiB)"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["fault"], "[green]yes[/]" if r["named"] else "[red]NO[/]", ", ".join(r["failed"]) or "—",
                      r["message"], f"{r['seconds']:.0f}", f"{r['peak_rss_bytes'] / 2**30:.2f}")
    stdout_console(180).print(table)
    return 0 if all(r["named"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
