"""The routes ``ecmiip.bench.export_memory`` measures, each run alone in a fresh process.

``python -m ecmiip.bench.export_children ROUTE ARG...``, where ROUTE is one of:

- ``import``: import torch and transformers (the floor every route starts from);
- ``convert BASE ADAPTER OUT``: ecmiip's merge + conversion to an F16 GGUF, with the peak RSS traced
  as the conversion goes;
- ``quantize SRC DST TYPE``: ecmiip's quantization alone;
- ``peft BASE ADAPTER OUT``: the usual route's first half, peft's ``merge_and_unload`` and
  ``save_pretrained``.

A route reports what it found as one ``BENCH_INFO {json}`` line on stdout. Only the standard library
is imported before a route starts, so each route's memory is its own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

INFO_PREFIX = "BENCH_INFO "  # the parent reads the JSON after this prefix


def vm_hwm() -> int:
    """This process's peak RSS so far, in bytes (VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def report(info: dict) -> None:
    print(INFO_PREFIX + json.dumps(info), flush=True)


def import_libraries() -> None:
    import torch  # noqa: F401
    import transformers  # noqa: F401


def convert(base: str, adapter_dir: str, out: str) -> None:
    """Merge and convert to F16; report VmHWM after each phase and the largest rise over one tensor."""
    trace = {"python start": vm_hwm()}
    from ecmiip.quantize.adapter import LoraAdapter
    from ecmiip.quantize.convert import Conversion

    trace["after imports"] = vm_hwm()
    adapter = LoraAdapter.load(Path(adapter_dir))
    trace["after adapter load"] = vm_hwm()
    largest: dict = {"bytes": 0}
    state: dict = {"i": 0, "before": None}

    def on_tensor(t) -> None:  # called after each tensor has been merged, converted and written
        after = vm_hwm()
        if state["i"] == 0:
            trace[f"after first tensor ({t.source})"] = after
        if state["before"] is not None and after - state["before"] > largest["bytes"]:
            largest.update(bytes=after - state["before"], tensor=t.source, shape=list(t.shape))
        state["i"] += 1
        state["before"] = after

    conversion = Conversion(Path(base), adapter=adapter, outtype="f16")
    trace["after vocab, tokenizer, plan"] = state["before"] = vm_hwm()
    conversion.write(Path(out), on_tensor=on_tensor)
    trace["after all tensors"] = vm_hwm()
    report({"hwm_trace": trace, "largest_hwm_step": largest})


def quantize(src: str, dst: str, qtype: str) -> None:
    from ecmiip.quantize.quantize import quantize as run_quantize

    run_quantize(Path(src), Path(dst), qtype)


def peft_merge(base: str, adapter: str, out: str) -> None:
    """Load in bf16, apply the adapter with peft, merge, save; report how many modules took a LoRA."""
    import warnings

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
        model = PeftModel.from_pretrained(model, adapter)
    lora_modules = sum(1 for m in model.modules() if hasattr(m, "lora_A") and "default" in m.lora_A)
    adapter_warnings = [str(w.message)[:300] for w in caught if "adapter" in str(w.message).lower()]
    model = model.merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    report({"lora_modules": lora_modules, "adapter_warnings": adapter_warnings})


ROUTES: dict[str, Callable[..., None]] = {
    "import": import_libraries,
    "convert": convert,
    "quantize": quantize,
    "peft": peft_merge,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ROUTES:
        print(f"usage: python -m ecmiip.bench.export_children {{{','.join(ROUTES)}}} ARG...", file=sys.stderr)
        return 2
    ROUTES[argv[0]](*argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
