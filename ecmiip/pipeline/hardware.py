"""Whether this machine can run a recipe: a 4B QLoRA run on a CPU would take days, so say so first."""

from __future__ import annotations

from ecmiip.core.errors import InputError
from ecmiip.train.recipe import Recipe


def cuda_memory_gb() -> float | None:
    """Memory of the first CUDA GPU in GB, or None when there is no usable CUDA GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 1e9


def check_hardware(recipe: Recipe, *, ignore: bool = False) -> str | None:
    """Raise when the recipe needs a CUDA GPU this machine lacks (unless ``ignore``); else a warning or None."""
    hw = recipe.hardware
    if not hw.requires_cuda:
        return None
    name = recipe.source.name if recipe.source else "the recipe"
    need = f"a CUDA GPU with {hw.gpu_memory_gb:g} GB" + (f" ({hw.note})" if hw.note else "")
    memory = cuda_memory_gb()
    if memory is None:
        problem = (
            f"{name} fine-tunes with 4-bit QLoRA and needs {need}; this machine has no CUDA GPU, "
            "where bitsandbytes' 4-bit training runs on the CPU at a small fraction of the speed "
            f"(days for this recipe{_timing(recipe)})"
        )
    elif memory + 0.5 < hw.gpu_memory_gb:
        problem = f"{name} needs {need}; this GPU has {memory:.0f} GB and would run out of memory"
    else:
        return None
    if ignore:
        return f"{problem}. Starting anyway (--ignore-hardware)."
    raise InputError(
        f"{problem}. Try the pipeline on this machine with `ecmiip build --demo` (or --recipe tiny-cpu), "
        "or pass --ignore-hardware to start anyway."
    )


def _timing(recipe: Recipe) -> str:
    minutes = recipe.hardware.minutes_per_1000_samples
    return f"; on that GPU about {minutes:g} min per 1,000 QA pairs per epoch" if minutes else ""
