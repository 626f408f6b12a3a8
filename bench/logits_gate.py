"""What F16/BF16 storage does to the logits, measured: the evidence behind the logits gate.

For each model (and output type) this exports a GGUF (or takes one), runs llama.cpp on the parity
prompts and compares with the fp32 layer-streamed reference, and with the reference's rounding twin
(the same math with weights and matmul inputs rounded to the storage type). It prints both distances
(max |Δlogit| / std), their ratio — the gate in ``verify.logits_tolerance`` allows ``TWIN_GATE`` — and
the share of the gate used. Depth slices are measured too (as verification runs them on large files).
It prints figures and asserts nothing.

Run: ``python -m ecmiip.bench.logits_gate [--model DIR[:GGUF] ...] [--outtype f16 bf16] [--slice]``.
Without ``--model`` it measures the offline test models (tiny Qwen3 with 2 and 8 layers, SmolLM2).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ecmiip.core.hf_models import load_tokenizer
from ecmiip.quantize import verify
from ecmiip.quantize.convert import convert
from ecmiip.quantize.gguf_file import GGUFFile
from ecmiip.quantize.reference import Reference, Sequence
from ecmiip.quantize.verification import slice_layers, write_slice

UNIT = {"f16": 2.0**-11, "bf16": 2.0**-8}


def measure(base: Path, gguf_path: Path, outtype: str, layers: tuple[int, ...] | None, work: Path,
            adapter: Path | None = None) -> dict:
    tokenizer = load_tokenizer(base, local_files_only=True)
    prompts = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in verify.LOGIT_PROMPTS]
    reference = Reference(base, adapter)
    n_layers = len(layers) if layers is not None else reference.n_layers
    sequences = [Sequence(ids, layers) for ids in prompts] + [Sequence(ids, layers, outtype) for ids in prompts]
    out = [t.numpy() for t in reference.logits(sequences)]
    del reference
    exact, twin = out[: len(prompts)], out[len(prompts) :]
    run = gguf_path if layers is None else write_slice(GGUFFile(gguf_path), layers, work / "slice.gguf")
    got = verify.llama_logits(run, prompts)
    twin_ratio, llama_ratio = verify.logit_distance(exact, twin), verify.logit_distance(exact, got)
    gate = verify.logits_tolerance(outtype, twin_ratio)
    return {"model": base.name, "outtype": outtype, "layers": n_layers, "sliced": layers is not None,
            "twin": twin_ratio, "llama": llama_ratio, "llama_over_twin": llama_ratio / twin_ratio,
            "gate_used": llama_ratio / gate}


def _default_models() -> list[tuple[Path, Path | None]]:
    from ecmiip.bench.random_models import tiny_qwen3
    from ecmiip.pipeline.demo_base import demo_base

    return [(tiny_qwen3(), None, None), (tiny_qwen3(num_hidden_layers=8), None, None), (demo_base(), None, None)]


def main(argv: list[str] | None = None) -> int:
    from rich.table import Table

    from ecmiip.core.console import stdout_console

    p = argparse.ArgumentParser(prog="python -m ecmiip.bench.logits_gate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", default=[], help="BASE or BASE:GGUF[:ADAPTER] (an existing export)")
    p.add_argument("--outtype", nargs="+", default=["f16", "bf16"], choices=sorted(UNIT))
    p.add_argument("--slice", action="store_true", help="also measure the depth slice verification uses on large files")
    args = p.parse_args(argv)
    models = [(Path(parts[0]), Path(parts[1]) if len(parts) > 1 else None, Path(parts[2]) if len(parts) > 2 else None)
              for parts in (m.split(":") for m in args.model)] or _default_models()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ecmiip-gate-") as tmp:
        work = Path(tmp)
        for base, given, adapter in models:
            for outtype in args.outtype if given is None else ["bf16" if "BF16" in given.name.upper() else "f16"]:
                gguf_path = given or work / f"m-{outtype.upper()}.gguf"
                if given is None:
                    convert(base, gguf_path, outtype=outtype)
                n = int(GGUFFile(gguf_path).get(f"{GGUFFile(gguf_path).architecture}.block_count"))
                depths = [None] + ([slice_layers(n)] if args.slice and n > 3 else [])
                for layers in depths:
                    rows.append(measure(base, gguf_path, outtype, layers, work, adapter))
                    print(rows[-1], flush=True)
    table = Table(title=f"max |Δlogit| / std against the fp32 reference; gate = {verify.TWIN_GATE:g} × rounding twin")
    for col in ("model", "type", "layers run", "rounding twin", "llama.cpp", "llama.cpp / twin", "share of gate"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["model"], r["outtype"], f"{r['layers']}{' (slice)' if r['sliced'] else ''}", f"{r['twin']:.4g}",
                      f"{r['llama']:.4g}", f"{r['llama_over_twin']:.2f}", f"{100 * r['gate_used']:.0f} %")
    stdout_console(150).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
