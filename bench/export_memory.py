"""Peak memory and wall time of ``ecmiip export`` against the usual peft + llama.cpp route.

``ecmiip export`` merges a LoRA adapter into the base *tensor by tensor while converting to GGUF*,
so its peak memory should follow the largest tensor, not the model: the design target is a peak RSS
of at most half the model's fp16 size. The usual route loads the whole model into transformers,
merges with peft, saves a merged copy and converts that with llama.cpp's ``convert_hf_to_gguf.py``.
This benchmark builds one random Qwen3 of a realistic size (plus a LoRA adapter for it), runs every
route in a fresh subprocess on it, and prints wall time and peak RSS side by side. The same target
holds for the export *with* its verification and for ``ecmiip verify`` alone (the fp32 reference runs
one decoder layer at a time, llama.cpp maps one GGUF at a time); ``--faults`` also plants converter
faults into the verified export and checks that verification names each. It only prints figures; it
asserts nothing, because timings and memory depend on the machine. The routes ecmiip measures step by
step are the programs in ``export_children``; ``peak_rss.py`` runs each measured command.

Run: ``python -m ecmiip.bench.export_memory [--preset qwen3-4b] [--work DIR] [--layers N ...] [--faults]
[--skip-peft] [--llama-cpp DIR] [--keep]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ecmiip.bench.export_children import INFO_PREFIX
from ecmiip.core.outputs import write_text_atomic

GIB = 2**30
TARGET_RATIO = 0.5  # export peak RSS ≤ this × the fp16 model size
PROJECTIONS = {  # module -> (attribute path, input-width key, output-width key)
    "q_proj": ("self_attn", "hidden", "q_out"),
    "k_proj": ("self_attn", "hidden", "kv_out"),
    "v_proj": ("self_attn", "hidden", "kv_out"),
    "o_proj": ("self_attn", "q_out", "hidden"),
    "gate_proj": ("mlp", "hidden", "intermediate"),
    "up_proj": ("mlp", "hidden", "intermediate"),
    "down_proj": ("mlp", "intermediate", "hidden"),
}


# --------------------------------------------------------------------------------------------------
# The model and adapter under test


@dataclass(frozen=True)
class Shape:
    """Qwen3 dimensions. Widths stay multiples of 256 so llama.cpp's K-quants apply to every matrix."""

    hidden: int = 2048
    layers: int = 20
    heads: int = 16
    kv_heads: int = 8
    head_dim: int = 128
    intermediate: int = 6144
    vocab: int = 151936
    tied: bool = True

    def widths(self) -> dict[str, int]:
        return {
            "hidden": self.hidden,
            "q_out": self.heads * self.head_dim,
            "kv_out": self.kv_heads * self.head_dim,
            "intermediate": self.intermediate,
        }

    def tensors(self) -> dict[str, tuple[int, ...]]:
        """HF tensor names and shapes in the order ``save_pretrained`` writes them."""
        w = self.widths()
        out: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (self.vocab, self.hidden)}
        for i in range(self.layers):
            p = f"model.layers.{i}"
            out[f"{p}.input_layernorm.weight"] = (self.hidden,)
            for module, (parent, fan_in, fan_out) in PROJECTIONS.items():
                out[f"{p}.{parent}.{module}.weight"] = (w[fan_out], w[fan_in])
            out[f"{p}.self_attn.q_norm.weight"] = (self.head_dim,)
            out[f"{p}.self_attn.k_norm.weight"] = (self.head_dim,)
            out[f"{p}.post_attention_layernorm.weight"] = (self.hidden,)
        out["model.norm.weight"] = (self.hidden,)
        if not self.tied:
            out["lm_head.weight"] = (self.vocab, self.hidden)
        return out

    def fp16_bytes(self) -> int:
        return sum(2 * math.prod(s) for s in self.tensors().values())

    def largest(self) -> tuple[str, int]:
        """Name and fp16 byte size of the largest tensor."""
        name, shape = max(self.tensors().items(), key=lambda kv: math.prod(kv[1]))
        return name, 2 * math.prod(shape)


def _plan_shards(tensors: dict[str, tuple[int, ...]], max_bytes: int) -> list[list[str]]:
    """Greedy split into shards of at most ``max_bytes`` (a bigger single tensor gets its own)."""
    shards: list[list[str]] = [[]]
    size = 0
    for name, shape in tensors.items():
        nbytes = 2 * math.prod(shape)
        if shards[-1] and size + nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
    return shards


def _qwen3_config(shape: Shape):
    from ecmiip.bench.random_models import qwen3_config

    config = qwen3_config(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        tie_word_embeddings=shape.tied,
    )
    config.architectures = ["Qwen3ForCausalLM"]
    config.dtype = "bfloat16"
    return config


def build_base(out_dir: Path, shape: Shape, *, shard_bytes: int, seed: int = 0) -> Path:
    """A random bf16 Qwen3 written shard by shard, so building it never holds more than one shard.

    Instantiating ``Qwen3ForCausalLM`` would initialise every weight in float32 (4× the fp16 size in
    RAM, minutes on two cores); filling bf16 tensors with ``normal_`` straight into safetensors shards
    gives the same kind of checkpoint (config.json, sharded safetensors with an index, tokenizer).
    """
    from safetensors.torch import save_file

    from ecmiip.bench.qwen3_tokenizer import build_qwen3_tokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = shape.tensors()
    shards = _plan_shards(tensors, shard_bytes)
    gen = torch.Generator().manual_seed(seed)
    weight_map: dict[str, str] = {}
    for i, names in enumerate(shards, 1):
        fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        data = {}
        for name in names:
            t = torch.empty(tensors[name], dtype=torch.bfloat16)
            if len(t.shape) == 1:
                t.fill_(1.0)  # RMSNorm weights start at one
            else:
                t.normal_(0.0, 0.02, generator=gen)
            data[name] = t
            weight_map[name] = fname
        save_file(data, str(out_dir / fname), metadata={"format": "pt"})
        del data
    index = {"metadata": {"total_size": shape.fp16_bytes()}, "weight_map": weight_map}
    (out_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    _qwen3_config(shape).save_pretrained(out_dir)
    build_qwen3_tokenizer(out_dir)
    return out_dir


def build_adapter(out_dir: Path, base_dir: Path, shape: Shape, *, r: int, alpha: int, seed: int = 1) -> Path:
    """A LoRA adapter on every projection, as peft saves one: random A and B (``init_lora_weights=False``).

    Training one with peft would need the whole model in RAM; the adapter file only needs the right
    names and shapes, so the factors are written directly and the config by peft's own ``LoraConfig``.
    """
    from peft import LoraConfig
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    w = shape.widths()
    tensors: dict[str, torch.Tensor] = {}
    for i in range(shape.layers):
        for module, (parent, fan_in, fan_out) in PROJECTIONS.items():
            key = f"base_model.model.model.layers.{i}.{parent}.{module}"
            a = torch.empty(r, w[fan_in]).uniform_(-1, 1, generator=gen) / math.sqrt(w[fan_in])
            b = torch.empty(w[fan_out], r).uniform_(-1, 1, generator=gen) / math.sqrt(r) * 0.05
            tensors[f"{key}.lora_A.weight"] = a
            tensors[f"{key}.lora_B.weight"] = b
    save_file(tensors, str(out_dir / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=r,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules=sorted(PROJECTIONS),  # "all-linear" as peft resolves and saves it
        init_lora_weights=False,
        base_model_name_or_path=str(base_dir),
    )
    config.save_pretrained(str(out_dir))
    return out_dir


# --------------------------------------------------------------------------------------------------
# Measuring one route in a fresh process


@dataclass
class Row:
    path: str
    wall_s: float | None = None
    peak_rss_bytes: int | None = None
    output_bytes: int | None = None
    returncode: int | None = None
    note: str = ""
    info: dict = field(default_factory=dict)
    key: str = ""  # stable name of the route, for the report and the JSON

    @property
    def ok(self) -> bool:
        return self.returncode == 0


PEAK_RSS = Path(__file__).with_name("peak_rss.py")  # runs each measured command as its only child


def measure(label: str, cmd: list[str], log: Path, *, outputs: Sequence[Path] = (), echo_failure: bool = True) -> Row:
    """Wall time and peak RSS of ``cmd``, run in a fresh process through ``peak_rss.py``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    result = log.with_suffix(".rusage.json")
    result.unlink(missing_ok=True)
    with open(log, "wb") as out:
        subprocess.run([sys.executable, "-S", str(PEAK_RSS), str(result), *cmd], stdout=out, stderr=subprocess.STDOUT)
    measured = json.loads(result.read_text()) if result.is_file() else {"rc": -1, "wall_s": None, "peak_rss_bytes": None}
    row = Row(label, measured["wall_s"], measured["peak_rss_bytes"], returncode=measured["rc"])
    text = log.read_text(errors="replace")
    for line in text.splitlines():
        if line.startswith(INFO_PREFIX):
            row.info.update(json.loads(line[len(INFO_PREFIX) :]))
    if row.ok:
        row.output_bytes = sum(_size(p) for p in outputs)
    else:
        tail = "\n".join(text.splitlines()[-15:])
        row.note = f"failed (exit {row.returncode}); log {log}"
        if echo_failure:
            print(f"\n[{label}] exited with {row.returncode}; last lines of {log}:\n{tail}\n", flush=True)
    return row


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")


def run_all(shape: Shape, work: Path, args: argparse.Namespace) -> dict:
    """Build one model and adapter, then measure every route on them."""
    py = sys.executable
    child = [py, "-m", "ecmiip.bench.export_children"]
    logs = work / "logs"
    base, adapter = work / "base", work / "adapter"
    name_largest, largest_bytes = shape.largest()
    fp16 = shape.fp16_bytes()
    notes: list[str] = []

    print(f"building a random Qwen3 ({shape.layers} layers, hidden {shape.hidden}) in {base} ...", flush=True)
    t0 = time.perf_counter()
    build_base(base, shape, shard_bytes=int(args.shard_gib * GIB))
    build_adapter(adapter, base, shape, r=args.rank, alpha=args.alpha)
    build_s = time.perf_counter() - t0
    print(f"built in {build_s:.1f} s: {fp16 / GIB:.2f} GiB fp16 on disk, largest tensor {name_largest}", flush=True)

    rows: list[Row] = []

    def step(label: str, cmd: list[str], slug: str, outputs: Sequence[Path] = ()) -> Row:
        print(f"running: {label} ...", flush=True)
        row = measure(label, cmd, logs / f"{slug}.log", outputs=outputs)
        row.key = slug
        rows.append(row)
        if row.ok:
            print(f"  {row.wall_s:.1f} s, peak RSS {row.peak_rss_bytes / GIB:.2f} GiB", flush=True)
        return row

    step("import torch, transformers (reference)", [*child, "import"], "import")

    # ecmiip: the export without and with verification, verification alone, then the steps alone.
    export_dir = work / "ecmiip-export"
    quant = args.quant
    export = step(
        f"ecmiip export (F16 + {quant}, --no-verify)",
        [py, "-m", "ecmiip", "export", str(base), "--adapter", str(adapter), "--out", str(export_dir),
         "--quant", quant, "--no-verify", "--force"],
        "ecmiip-export",
        [export_dir],
    )
    verify_alone = None
    if export.ok:
        verify_alone = step(
            f"ecmiip verify alone (F16 + {quant})",
            [py, "-m", "ecmiip", "verify", str(export_dir / "ec-miip-F16.gguf"), "--hf", str(base), "--adapter", str(adapter),
             "--quant", str(export_dir / f"ec-miip-{quant}.gguf")],
            "ecmiip-verify",
        )
    shutil.rmtree(export_dir, ignore_errors=True)
    verified = step(
        f"ecmiip export (F16 + {quant}, with verification)",
        [py, "-m", "ecmiip", "export", str(base), "--adapter", str(adapter), "--out", str(export_dir),
         "--quant", quant, "--force"],
        "ecmiip-export-verified",
        [export_dir],
    )
    if verified.ok and (export_dir / "export-report.json").is_file():
        report = json.loads((export_dir / "export-report.json").read_text())
        verified.info["checks"] = {c["name"]: c["summary"] for c in report["checks"]}
    if verified.ok and args.faults:
        from ecmiip.bench.export_faults import run as plant_and_verify

        print("planting faults into the verified export; `ecmiip verify` on each ...", flush=True)
        for f in plant_and_verify(export_dir / "ec-miip-F16.gguf", base, adapter, args.faults.split(","), logs):
            rows.append(Row(f"ecmiip verify, planted fault {f['fault']}", f["seconds"], f["peak_rss_bytes"],
                            returncode=0 if f["named"] else 1, key=f"fault-{f['fault']}",
                            note=("named: " if f["named"] else "NOT NAMED: ") + f["message"][:90]))
            print(f"  {rows[-1].path}: {rows[-1].note} ({f['seconds']:.0f} s)", flush=True)
    shutil.rmtree(export_dir, ignore_errors=True)

    ecmiip_f16 = work / "ecmiip-F16.gguf"
    convert = step(
        "ecmiip merge+convert only (F16)",
        [*child, "convert", str(base), str(adapter), str(ecmiip_f16)],
        "ecmiip-convert",
        [ecmiip_f16],
    )
    if convert.ok:
        q_path = work / f"ecmiip-{quant}.gguf"
        step(f"ecmiip quantize only (F16 → {quant})", [*child, "quantize", str(ecmiip_f16), str(q_path), quant],
             "ecmiip-quantize", [q_path])
        q_path.unlink(missing_ok=True)
    if not args.keep:
        ecmiip_f16.unlink(missing_ok=True)

    # The usual route: peft merge in transformers, save, then llama.cpp's converter.
    merged = work / "peft-merged"
    if args.skip_peft:
        notes.append("the peft merge_and_unload route was skipped (--skip-peft).")
        return _result(shape, work, base, fp16, name_largest, largest_bytes, build_s, rows, notes,
                       export, verified, verify_alone, convert)
    peft_row = step("peft merge_and_unload + save_pretrained", [*child, "peft", str(base), str(adapter), str(merged)],
                    "peft", [merged])
    if peft_row.ok:
        n_expected = shape.layers * len(PROJECTIONS)
        if peft_row.info.get("adapter_warnings") or peft_row.info.get("lora_modules") != n_expected:
            notes.append(f"peft loaded the adapter with warnings or on {peft_row.info.get('lora_modules')} of "
                         f"{n_expected} modules: {peft_row.info.get('adapter_warnings')}")
        for f in TOKENIZER_FILES:  # save_pretrained of the model writes no tokenizer; the converter needs it
            if (base / f).is_file():
                shutil.copy2(base / f, merged / f)
    llama_row = None
    if args.llama_cpp is None:
        notes.append("llama.cpp's convert_hf_to_gguf.py was skipped: pass --llama-cpp DIR (a llama.cpp checkout).")
    elif not (args.llama_cpp / "convert_hf_to_gguf.py").is_file():
        notes.append(f"llama.cpp's converter was skipped: {args.llama_cpp}/convert_hf_to_gguf.py does not exist.")
    elif peft_row.ok:
        llama_f16 = work / "llamacpp-F16.gguf"
        llama_row = step(
            "llama.cpp convert_hf_to_gguf.py (F16)",
            [py, str(args.llama_cpp / "convert_hf_to_gguf.py"), str(merged), "--outfile", str(llama_f16), "--outtype", "f16"],
            "llamacpp-convert",
            [llama_f16],
        )
        if not args.keep:
            llama_f16.unlink(missing_ok=True)
    if peft_row.ok and llama_row is not None and llama_row.ok:
        rows.append(Row(
            "peft + llama.cpp (route total)",
            peft_row.wall_s + llama_row.wall_s,
            max(peft_row.peak_rss_bytes, llama_row.peak_rss_bytes),
            llama_row.output_bytes,
            0,
            "wall: sum; peak: max of the two processes",
            key="peft-route",
        ))
    if not args.keep:
        shutil.rmtree(merged, ignore_errors=True)

    return _result(shape, work, base, fp16, name_largest, largest_bytes, build_s, rows, notes,
                   export, verified, verify_alone, convert)


def _result(shape, work, base, fp16, name_largest, largest_bytes, build_s, rows, notes,
            export, verified, verify_alone, convert) -> dict:
    def verdict(row: Row | None) -> dict | None:
        if row is None or not row.ok:
            return None
        ratio = row.peak_rss_bytes / fp16
        return {"path": row.path, "peak_rss_gib": row.peak_rss_bytes / GIB, "ratio": ratio, "met": ratio <= TARGET_RATIO}

    return {
        "shape": asdict(shape),
        "params": sum(math.prod(s) for s in shape.tensors().values()),
        "fp16_bytes": fp16,
        "on_disk_bytes": _size(base) if base.exists() else None,
        "largest_tensor": {"name": name_largest, "fp16_bytes": largest_bytes},
        "build_s": build_s,
        "target_ratio": TARGET_RATIO,
        "target": {"export": verdict(export), "export_verified": verdict(verified), "verify": verdict(verify_alone),
                   "merge_convert": verdict(convert)},
        "rows": [asdict(r) | {"ok": r.ok} for r in rows],
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------------
# Report


def print_report(result: dict) -> None:
    """The figures as a rich table, plus the target verdict and the convert step's memory trace."""
    from rich.table import Table

    from ecmiip.core.console import stdout_console

    con = stdout_console(150)
    fp16 = result["fp16_bytes"]
    largest = result["largest_tensor"]
    s = result["shape"]
    con.print(
        f"\n[bold]model[/]: random Qwen3, {s['layers']} layers, hidden {s['hidden']}, intermediate {s['intermediate']}, "
        f"heads {s['heads']}/{s['kv_heads']}×{s['head_dim']}, vocab {s['vocab']}, tied={s['tied']}: "
        f"{result['params'] / 1e9:.3f} B parameters, [bold]fp16 size {fp16 / GIB:.3f} GiB[/] ({fp16 / 1e9:.2f} GB); "
        f"largest tensor {largest['name']} {largest['fp16_bytes'] / GIB:.3f} GiB "
        f"({largest['fp16_bytes'] / fp16:.1%} of the model); built in {result['build_s']:.0f} s",
        highlight=False,
    )
    table = Table(title=f"export memory benchmark ({fp16 / GIB:.2f} GiB fp16 model, one fresh process per path)")
    for col, justify in [("path", "left"), ("wall (s)", "right"), ("peak RSS (GiB)", "right"),
                         ("peak / fp16 size", "right"), ("largest tensor (GiB)", "right"), ("output (GiB)", "right"),
                         ("note", "left")]:
        table.add_column(col, justify=justify)
    for r in result["rows"]:
        ok = r["ok"]
        table.add_row(
            r["path"],
            f"{r['wall_s']:.1f}" if ok else "—",
            f"{r['peak_rss_bytes'] / GIB:.2f}" if ok else "—",
            f"{r['peak_rss_bytes'] / fp16:.2f}×" if ok else "—",
            f"{largest['fp16_bytes'] / GIB:.3f}",
            f"{r['output_bytes'] / GIB:.2f}" if ok and r["output_bytes"] else "—",
            r["note"],
        )
    con.print(table)
    limit = TARGET_RATIO * fp16
    for key, what in [("export", "ecmiip export (--no-verify)"), ("export_verified", "ecmiip export with verification"),
                      ("verify", "ecmiip verify alone"), ("merge_convert", "ecmiip merge+convert step")]:
        v = result["target"].get(key)
        if v is None:
            con.print(f"target ≤ {TARGET_RATIO}× fp16 ({limit / GIB:.2f} GiB) for {what}: [yellow]not measured[/]")
        else:
            mark = "[green]MET[/]" if v["met"] else "[red]MISSED[/]"
            con.print(
                f"target ≤ {TARGET_RATIO}× fp16 ({limit / GIB:.2f} GiB) for {what}: {mark} "
                f"(peak {v['peak_rss_gib']:.2f} GiB = {v['ratio']:.2f}×)",
                highlight=False,
            )
    by_key = {r["key"]: r for r in result["rows"] if r["ok"]}
    for mine, theirs, what in [
        ("ecmiip-convert", "peft-route", "ecmiip merge+convert vs peft + llama.cpp (both end at an F16 GGUF)"),
    ]:
        a, b = by_key.get(mine), by_key.get(theirs)
        if a and b:
            con.print(
                f"{what}: peak {a['peak_rss_bytes'] / GIB:.2f} vs {b['peak_rss_bytes'] / GIB:.2f} GiB "
                f"({b['peak_rss_bytes'] / a['peak_rss_bytes']:.2f}× less), wall {a['wall_s']:.1f} vs {b['wall_s']:.1f} s "
                f"({b['wall_s'] / a['wall_s']:.2f}× faster)",
                highlight=False,
            )
    convert = by_key.get("ecmiip-convert")
    if convert and convert["info"].get("hwm_trace"):
        trace = Table(title="ecmiip merge+convert: peak RSS (VmHWM) as the conversion goes")
        trace.add_column("after")
        trace.add_column("VmHWM (GiB)", justify="right")
        trace.add_column("/ fp16 size", justify="right")
        for stage, b in convert["info"]["hwm_trace"].items():
            trace.add_row(stage, f"{b / GIB:.2f}", f"{b / fp16:.2f}×")
        step = convert["info"].get("largest_hwm_step") or {}
        if step.get("tensor"):
            trace.caption = f"largest single rise: {step['bytes'] / GIB:.2f} GiB while converting {step['tensor']} {step['shape']}"
        con.print(trace)
    checks = (by_key.get("ecmiip-export-verified") or {}).get("info", {}).get("checks")
    if checks:
        table = Table(title="verification of the export (export-report.json)")
        table.add_column("check")
        table.add_column("result")
        for name, summary in checks.items():
            table.add_row(name, summary)
        con.print(table)
    for note in result["notes"]:
        con.print(f"[yellow]note[/]: {note}", highlight=False)


# --------------------------------------------------------------------------------------------------
# Command line


def default_work_dir(needed: int) -> Path:
    """A fresh folder on a disk with room for the model and every route's outputs.

    /tmp is often a small RAM-backed filesystem; fall back to the current directory's disk then.
    """
    candidates = [Path(tempfile.gettempdir()), Path("/var/tmp"), Path.cwd()]
    for root in candidates:
        if root.is_dir() and os.access(root, os.W_OK) and shutil.disk_usage(root).free > needed:
            return Path(tempfile.mkdtemp(prefix="ecmiip-export-bench-", dir=root))
    raise SystemExit(f"no disk with {needed / GIB:.1f} GiB free among {', '.join(map(str, candidates))}; pass --work DIR")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ecmiip.bench.export_memory", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, help="folder for the model, adapter and outputs (default: a fresh temp folder)")
    p.add_argument("--hidden", type=int, nargs="+", default=[2048], help="hidden size(s) [2048]")
    p.add_argument("--layers", type=int, nargs="+", default=[20], help="layer count(s); one run per combination [20]")
    p.add_argument("--preset", choices=["qwen3-4b"], help="a real model's exact shapes (overrides the size options)")
    p.add_argument("--head-dim", type=int, default=128, help="head dimension [128]")
    p.add_argument("--heads", type=int, help="attention heads [hidden / head_dim]")
    p.add_argument("--kv-heads", type=int, help="key/value heads [heads / 2]")
    p.add_argument("--intermediate", type=int, help="MLP width [3 × hidden]")
    p.add_argument("--vocab", type=int, default=151936, help="vocabulary rows [151936, Qwen3's]")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank [16]")
    p.add_argument("--alpha", type=int, default=32, help="LoRA alpha [32]")
    p.add_argument("--quant", default="Q4_K_M", help="quantization of the export [Q4_K_M]")
    p.add_argument("--shard-gib", type=float, default=2.0, help="safetensors shard size of the base model [2.0]")
    p.add_argument("--llama-cpp", type=Path, help="llama.cpp checkout whose convert_hf_to_gguf.py to compare with")
    p.add_argument("--keep", action="store_true", help="keep the model, adapter and outputs")
    p.add_argument("--faults", nargs="?", const="qk-permuted,lora-missing,lora-scale,head-mixup,special-token-shift",
                   help="also plant converter faults into the verified export and check verification names each")
    p.add_argument("--skip-peft", action="store_true", help="skip the peft merge_and_unload route (it holds the whole model)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.preset == "qwen3-4b":  # Qwen/Qwen3-4B's config.json
        args.hidden, args.layers, args.heads, args.kv_heads, args.head_dim = [2560], [36], 32, 8, 128
        args.intermediate, args.vocab = 9728, 151936
    shapes = []
    for hidden, layers in itertools.product(args.hidden, args.layers):
        heads = args.heads or max(1, hidden // args.head_dim)
        shapes.append(Shape(hidden=hidden, layers=layers, heads=heads, kv_heads=args.kv_heads or max(1, heads // 2),
                            head_dim=args.head_dim, intermediate=args.intermediate or 3 * hidden, vocab=args.vocab))
    needed = int(max(s.fp16_bytes() for s in shapes) * 4.5) + GIB  # base + ecmiip F16+quant + peft copy + llama.cpp F16
    work = args.work or default_work_dir(needed)
    work.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(work).free < needed:
        print(f"warning: {work} has less than the {needed / GIB:.1f} GiB this run needs", flush=True)
    print(f"work folder: {work}", flush=True)
    results = []
    try:
        for shape in shapes:
            sub = work / (f"qwen3-h{shape.hidden}-l{shape.layers}" if len(shapes) > 1 else ".")
            sub.mkdir(parents=True, exist_ok=True)
            result = run_all(shape, sub.resolve(), args)
            results.append(result)
            print_report(result)
            if not args.keep:
                for big in ("base", "adapter"):
                    shutil.rmtree(sub / big, ignore_errors=True)
    finally:
        if results:
            out = work / "export-bench.json"
            doc = results[0] if len(results) == 1 else {"runs": results}
            write_text_atomic(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            print(f"figures written to {out}", flush=True)
        if not args.keep:
            for leftover in work.rglob("*.gguf"):
                leftover.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

