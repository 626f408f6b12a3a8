"""What to run on a machine, decided from its :class:`~ecmiip.pipeline.doctor.MachineProfile` alone.

Pure rules, no probing and no I/O, so that each rule is tested on synthetic machines and ``ecmiip doctor``
and ``ecmiip-chat`` (its llama.cpp defaults) decide the same way. Memory figures are estimates with stated
margins, not measurements: a recommendation errs towards what loads, and says what it assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecmiip.pipeline.doctor import LlamaBuild, MachineProfile

GB = 10**9
GiB = 2**30


@dataclass(frozen=True)
class ModelShape:
    """What the memory rules need of a model: its layer count and KV-cache cost per token of context."""

    name: str
    n_layers: int
    kv_bytes_per_token: int  # 2 (K and V) × layers × KV heads × head dim × 2 bytes (f16 cache, llama.cpp's default)
    context_length: int  # the longest context it was trained for

    @staticmethod
    def kv_bytes(n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int = 2) -> int:
        return 2 * n_layers * n_kv_heads * head_dim * bytes_per_value


# Qwen3-4B: 36 layers, 8 KV heads of 128 (GQA), 40,960 positions (config.json of Qwen/Qwen3-4B).
QWEN3_4B = ModelShape("Qwen3-4B", 36, ModelShape.kv_bytes(36, 8, 128), 40960)  # 147,456 bytes per token
QWEN3_4B_PARAMETERS = 4.02e9

# Average bits per weight of llama.cpp's mixed quant types. Source: llama.cpp tools/quantize/README.md (its
# Llama-2-7B table: Q4_K_M 4.84, Q5_K_M 5.68, Q6_K 6.56), rounded up a little for Q4_K_M because at 4B the
# tied embedding it keeps at Q6_K is a larger share of the weights; Q8_0 is 8.5 by construction (34 bytes per
# 32 weights), F16 16. The sizes below are therefore ±5 % estimates (Qwen's own Qwen3-4B-GGUF files agree
# to within that); an export's real file sizes are in its export-report.json.
BITS_PER_WEIGHT = {"Q4_K_M": 4.9, "Q5_K_M": 5.7, "Q6_K": 6.56, "Q8_0": 8.5, "F16": 16.0}
QWEN3_4B_BYTES = {q: int(QWEN3_4B_PARAMETERS * bpw / 8) for q, bpw in BITS_PER_WEIGHT.items()}  # Q4_K_M ≈ 2.46 GB
DEFAULT_QUANT = "Q4_K_M"
LADDER = ("Q8_0", "Q6_K", "Q5_K_M")  # larger first: the best one that fits comfortably wins, else DEFAULT_QUANT

MIN_CTX = 2048
MAX_CTX = 32768
SIZING_CTX = 8192  # the context a quant must leave room for to count as fitting (ecmiip's default num_ctx)
OVERHEAD = int(0.6 * GiB)  # llama.cpp's compute buffers and the process itself (approximate)
GPU_RESERVE = int(0.5 * GiB)  # per GPU: the CUDA context and what the desktop keeps there
COMFORT = 0.75  # share of the free RAM a model may take: the rest of the machine keeps running
LOW_MEMORY = 4 * GB  # below this much free RAM + usable VRAM the 4B model does not run well
CUDA_TRAIN_MARGIN_GB = 0.5  # as ecmiip.pipeline.hardware: a 24 GB card reports a little under 24
BF16_COMPUTE_CAPABILITY = 8.0  # Ampere: native bfloat16, which the qwen3-4b recipe computes in
DISK_BASE_BYTES = QWEN3_4B_BYTES["F16"]  # Qwen3-4B's bf16 safetensors in the HF cache
DISK_EXPORT_BYTES = QWEN3_4B_BYTES["F16"] + QWEN3_4B_BYTES[DEFAULT_QUANT]  # an export: the F16 GGUF and one quant
STATUTES_STALE_DAYS = 365
BUILD_WITH_CUDA = ('CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir '
                   "--no-binary llama-cpp-python llama-cpp-python")
BUILD_WITH_METAL = BUILD_WITH_CUDA.replace("GGML_CUDA", "GGML_METAL")
BUILD_PORTABLE = BUILD_WITH_CUDA.replace("-DGGML_CUDA=on", "-DGGML_NATIVE=OFF")  # AVX2, no AMX: what CI builds


@dataclass(frozen=True)
class LlamaSettings:
    """llama.cpp's settings for one model on this machine, and one line that says why."""

    n_gpu_layers: int  # llama.cpp's: -1 all layers, 0 none
    n_ctx: int
    runs_well: bool
    note: str


@dataclass(frozen=True)
class Advice:
    quant: str
    n_gpu_layers: int
    num_ctx: int
    runs_well: bool
    training_possible: bool | None  # None: unknown (torch could not be probed)
    training_recipe: str | None
    recommendations: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)


def gib(n: float) -> str:
    return f"{n / GiB:.1f} GiB"


# ---------------------------------------------------------------- memory


def _offload(profile: MachineProfile) -> bool:
    return profile.llama.gpu_offload is True


def _vram_pool(profile: MachineProfile) -> int | None:
    """Free memory of the discrete GPUs llama.cpp can use (it splits layers across all of them), less a
    reserve each; None when there is no usable discrete GPU or its memory is unknown."""
    if not _offload(profile) or profile.memory.unified or not profile.gpus.devices:
        return None
    free = [g.memory_free_bytes if g.memory_free_bytes is not None else int(g.memory_total_bytes * 0.9)
            for g in profile.gpus.devices]
    return max(0, sum(f - GPU_RESERVE for f in free))


def _ram(profile: MachineProfile) -> int | None:
    m = profile.memory
    if m.ram_available_bytes is not None:
        return m.ram_available_bytes
    return m.ram_total_bytes // 2 if m.ram_total_bytes is not None else None  # available unknown: assume half


def usable_memory(profile: MachineProfile) -> int | None:
    """Free RAM plus the VRAM llama.cpp can use: what a model has to fit in here."""
    ram, vram = _ram(profile), _vram_pool(profile)
    if ram is None and vram is None:
        return None
    return (ram or 0) + (vram or 0)


def _fit_ctx(budget: float, shape: ModelShape, ceiling: int = MAX_CTX) -> int:
    """The largest power-of-two context whose KV cache fits ``budget`` bytes, within [MIN_CTX, ceiling]."""
    top = max(MIN_CTX, min(ceiling, MAX_CTX, shape.context_length))
    ctx = MIN_CTX
    while ctx * 2 <= top and (ctx * 2) * shape.kv_bytes_per_token <= budget:
        ctx *= 2
    return ctx


def _need(model_bytes: int, shape: ModelShape, ctx: int) -> int:
    return model_bytes + OVERHEAD + ctx * shape.kv_bytes_per_token


def llama_settings(profile: MachineProfile, model_bytes: int, shape: ModelShape = QWEN3_4B) -> LlamaSettings:
    """GPU layers and context for a ``model_bytes`` GGUF of ``shape`` on this machine.

    A discrete GPU takes every layer when the weights, a 2,048-token KV cache and the compute buffers fit its
    free memory (the context then grows into what is left); otherwise a share of the layers proportional to
    the free VRAM, with the context sized on RAM. Apple's unified memory (Metal) takes every layer and sizes
    the context on the free RAM, as does a CPU. The context is a power of two from 2,048 to 32,768.
    """
    ram, vram, L = _ram(profile), _vram_pool(profile), shape.n_layers
    kv = shape.kv_bytes_per_token
    if ram is None and vram is None:
        layers = -1 if _offload(profile) else 0
        return LlamaSettings(layers, SIZING_CTX, True, f"memory unknown: {_layers_text(layers, L)}, "
                             f"context {SIZING_CTX} tokens (ecmiip's default)")
    if vram is not None and vram >= _need(model_bytes, shape, MIN_CTX):
        ctx = _fit_ctx(vram - model_bytes - OVERHEAD, shape)
        return LlamaSettings(-1, ctx, True, f"{_layers_text(-1, L)} ({gib(vram)} free VRAM usable), "
                             f"context {ctx} tokens (KV cache {gib(ctx * kv)})")
    ram = ram or 0
    if vram:  # partial offload: the context on RAM and VRAM together, at most the default
        ctx = _fit_ctx(COMFORT * ram + vram - model_bytes - OVERHEAD, shape, ceiling=SIZING_CTX)
        per_layer = (model_bytes + ctx * kv) / L
        layers = max(0, min(L - 1, int((vram - OVERHEAD) // per_layer)))
        runs_well = ram + vram >= _need(model_bytes, shape, ctx)
        return LlamaSettings(layers, ctx, runs_well, f"{_layers_text(layers, L)} (the model does not fit the "
                             f"{gib(vram)} of free VRAM usable), context {ctx} tokens (KV cache {gib(ctx * kv)})"
                             + _tight(runs_well))
    layers = -1 if _offload(profile) and profile.memory.unified else 0
    ctx = _fit_ctx(COMFORT * ram - model_bytes - OVERHEAD, shape)
    runs_well = ram >= _need(model_bytes, shape, ctx)
    where = "unified memory" if layers else "RAM"
    return LlamaSettings(layers, ctx, runs_well, f"{_layers_text(layers, L)}, context {ctx} tokens "
                         f"(KV cache {gib(ctx * kv)}; {gib(ram)} of {where} free)" + _tight(runs_well))


def _tight(runs_well: bool) -> str:
    return "" if runs_well else "; too little free memory for this model: expect swapping, close other programs"


def _layers_text(layers: int, total: int) -> str:
    if layers == -1:
        return f"all {total} layers on the GPU"
    if layers == 0:
        return "no GPU layers (CPU)"
    return f"{layers} of {total} layers on the GPU"


def choose_quant(profile: MachineProfile, shape: ModelShape = QWEN3_4B) -> str:
    """On a GPU (discrete, or Apple's unified memory with Metal) the largest quant that fits comfortably
    (:func:`largest_fitting`); on a CPU Q4_K_M, because a CPU generates each token as fast as it can read the
    weights from memory, so a larger file answers proportionally slower (Q8_0 about 1.7× slower) for a fidelity
    gain the ladder measures as small; :func:`advise` names the larger one that would fit."""
    if _vram_pool(profile) is None and not (profile.memory.unified and _offload(profile)):
        return DEFAULT_QUANT
    return largest_fitting(profile, shape)


def largest_fitting(profile: MachineProfile, shape: ModelShape = QWEN3_4B) -> str:
    """The largest quant whose weights and an 8,192-token cache fit comfortably: all in the free VRAM of a
    discrete GPU (a quant split between GPU and CPU runs slower than a smaller one that fits), or within
    three quarters of the free RAM (CPU, Apple unified memory). Q4_K_M otherwise."""
    vram, ram = _vram_pool(profile), _ram(profile)
    if usable_memory(profile) is None or usable_memory(profile) < LOW_MEMORY:
        return DEFAULT_QUANT
    budget = vram if vram is not None else COMFORT * (ram or 0)
    for quant in LADDER:
        if _need(QWEN3_4B_BYTES[quant], shape, SIZING_CTX) <= budget:
            return quant
    return DEFAULT_QUANT


# ---------------------------------------------------------------- the whole advice


def advise(profile: MachineProfile) -> Advice:
    """Quant, GPU layers, context, training recipe and the lines that explain them, for Qwen3-4B here."""
    recs: list[str] = []
    warns: list[str] = []
    quant = choose_quant(profile)
    settings = llama_settings(profile, QWEN3_4B_BYTES[quant])
    usable = usable_memory(profile)
    runs_well = settings.runs_well and (usable is None or usable >= LOW_MEMORY)

    size = f"~{QWEN3_4B_BYTES[quant] / GB:.1f} GB"
    if usable is None:
        warns.append("memory could not be measured: the advice assumes the defaults")
        recs.append(f"Quant: {quant} ({size}), the default")
    elif usable < LOW_MEMORY:
        warns.append(f"only {gib(usable)} of free RAM + VRAM: Qwen3-4B will not run well here. Use {DEFAULT_QUANT} "
                     f"with a small num_ctx ({MIN_CTX}), close other programs, or use a machine with more memory")
        recs.append(f"Quant: {quant} ({size}), the smallest we ship")
    elif quant == DEFAULT_QUANT and (larger := largest_fitting(profile)) != DEFAULT_QUANT:
        recs.append(f"Quant: {quant} ({size}): on a CPU each token costs a read of the whole model, so the "
                    f"smallest good quant answers fastest; {larger} (~{QWEN3_4B_BYTES[larger] / GB:.1f} GB) also "
                    "fits in RAM, closer to F16 but slower (see the quant ladder in the export report)")
    elif quant == DEFAULT_QUANT:
        recs.append(f"Quant: {quant} ({size}), the default: a larger quant would not fit comfortably")
    else:
        where = "in the free VRAM" if _vram_pool(profile) is not None else "in three quarters of the free RAM"
        recs.append(f"Quant: {quant} ({size}): fits with an {SIZING_CTX}-token context {where}; "
                    f"{DEFAULT_QUANT} (~{QWEN3_4B_BYTES[DEFAULT_QUANT] / GB:.1f} GB) is smaller and faster")
    recs.append(f"llama.cpp: {settings.note}")
    recs.append(f"Run: ecmiip-chat --model MODEL-{quant}.gguf --gpu-layers {settings.n_gpu_layers} "
                f"--ctx {settings.n_ctx}  (Ollama: PARAMETER num_ctx {settings.n_ctx})")
    warns.extend(_llama_build_warnings(profile))
    possible, recipe, line = _training(profile)
    (recs if possible else warns).append(line)
    recs.extend(_ollama(profile))
    w, r = _statutes(profile)
    warns.extend(w)
    recs.extend(r)
    warns.extend(_disk(profile))
    return Advice(quant, settings.n_gpu_layers, settings.n_ctx, runs_well, possible, recipe, tuple(recs), tuple(warns))


def _llama_build_warnings(profile: MachineProfile) -> list[str]:
    llama = profile.llama
    if llama.error:
        return [f"llama-cpp-python is not usable ({llama.error}): `pip install llama-cpp-python`, "
                "or run the GGUF with Ollama"]
    return _amx(llama) + _offload_warnings(profile)


def _amx(llama: LlamaBuild) -> list[str]:
    """ggml's AMX kernel crashes on some Sapphire Rapids machines (core.llama.amx_kernels_off)."""
    if "AMX_INT8" not in llama.cpu_features:
        return []
    if llama.amx_allowed:
        return ["this llama.cpp build has AMX kernels and ECMIIP_LLAMA_AMX=1 lets ec-miip use them: if a model "
                "crashes at its first token (segmentation fault), unset it (llama.cpp issue 20824)"]
    return ["this llama.cpp build has AMX kernels, which crash at the first token on some machines that report "
            "AMX (llama.cpp issue 20824): ec-miip loads models without them (and without llama.cpp's CPU "
            "repacking). ECMIIP_LLAMA_AMX=1 turns them on; llama-cli and other programs on this build are not "
            f"protected; a build without them: {BUILD_PORTABLE}"]


def _offload_warnings(profile: MachineProfile) -> list[str]:
    llama, gpus = profile.llama, profile.gpus.devices
    if llama.gpu_offload:
        return []
    if gpus and not profile.memory.unified:
        g = gpus[0]
        return [f"this llama.cpp build has no GPU offload, so the {g.name} ({gib(g.memory_total_bytes)}) stays "
                f"unused: rebuild it with CUDA: {BUILD_WITH_CUDA}"]
    if profile.memory.unified:
        return [f"this llama.cpp build has no GPU offload (Metal): rebuild it: {BUILD_WITH_METAL}"]
    return []


def _training(profile: MachineProfile) -> tuple[bool | None, str | None, str]:
    """Whether and with which shipped recipe this machine can train, and the line that says so."""
    t = profile.training
    cpu_recipes = [r.name for r in profile.recipes if not r.requires_cuda]
    demo = "demo-cpu" if "demo-cpu" in cpu_recipes else (cpu_recipes[0] if cpu_recipes else None)
    cpu_list = " / ".join(cpu_recipes) or "the CPU recipes"
    if t.error or t.torch_version is None:
        return None, None, f"Training: unknown, torch could not be probed ({t.error or 'not importable'})"
    if not t.bnb_version:
        return False, None, (f"Training: not possible here: bitsandbytes is not importable ({t.bnb_error or 'missing'})"
                             "; every recipe's SFT loads the base in 4-bit: `pip install bitsandbytes`")
    if not t.cuda_available:
        if not t.bnb_4bit_ok:
            return False, None, (f"Training: not possible here: bitsandbytes' 4-bit layers do not run on this CPU "
                                 f"({t.bnb_error or 'unknown reason'})")
        return True, demo, (f"Training: CPU only: the demo recipes only ({cpu_list}; `ecmiip build --demo`); "
                            "the 4-bit QLoRA recipe for Qwen3-4B needs a CUDA GPU (days on a CPU)")
    if not t.bnb_4bit_ok:
        return False, None, (f"Training: CUDA is there but bitsandbytes' 4-bit layers fail on it "
                             f"({t.bnb_error or 'unknown reason'}): QLoRA needs them; reinstall bitsandbytes")
    memory = max((g.memory_total_bytes for g in profile.gpus.devices), default=0) / GB
    cuda_recipes = sorted((r for r in profile.recipes if r.requires_cuda), key=lambda r: -r.gpu_memory_gb)
    for r in cuda_recipes:
        if memory + CUDA_TRAIN_MARGIN_GB >= r.gpu_memory_gb:
            line = f"Training: possible: QLoRA 4-bit with the {r.name} recipe (needs ~{r.gpu_memory_gb:g} GB; " \
                   f"this GPU has {memory:.0f} GB)"
            cc = max((g.compute_capability or 0.0 for g in profile.gpus.devices), default=0.0)
            if cc and cc < BF16_COMPUTE_CAPABILITY:
                line += (f"; compute capability {cc:g} has no native bfloat16, which {r.name} computes in: "
                         "expect it slow, or set float16 in a copy of the recipe")
            return True, r.name, line
    if cuda_recipes:
        r = cuda_recipes[-1]
        return True, demo, (f"Training: the {r.name} recipe needs a ~{r.gpu_memory_gb:g} GB GPU (an estimate); this "
                            f"one has {memory:.0f} GB: try the pipeline with {demo}, or pass --ignore-hardware "
                            "with a smaller batch_size at your own risk")
    return True, demo, f"Training: CUDA and 4-bit bitsandbytes work; shipped recipes: {cpu_list}"


def _ollama(profile: MachineProfile) -> list[str]:
    o = profile.ollama
    if o.binary is None and not o.reachable:
        return ["Ollama: not installed (optional): ecmiip-chat runs the GGUF with llama.cpp; to use Ollama, "
                "install it from ollama.com"]
    version = o.server_version or o.version or "version unknown"
    if o.reachable:
        return [f"Ollama {version}: running at {o.host}: `ollama create NAME -f Modelfile`, then "
                "`ecmiip-chat --ollama NAME`"]
    why = f" ({o.error})" if o.error else ""
    return [f"Ollama {version}: installed but not reachable at {o.host}{why}: start it with `ollama serve`"]


def _statutes(profile: MachineProfile) -> tuple[list[str], list[str]]:
    s = profile.statutes
    if s.error or s.as_of is None:
        return [f"statute store could not be read ({s.error})"], []
    recs = [f"Statutes: store reviewed on {s.as_of.isoformat()}; {len(s.superseded)} superseded document(s) kept "
            "as history"]
    warns = []
    if s.missing_current:
        warns.append(f"statutes: the text in force is not shipped for {len(s.missing_current)} law(s); answers say "
                     "so and ask the user to check (`ecmiip statutes status` lists them; `ecmiip statutes import` "
                     "adds an official text)")
    if (profile.probed_on - s.as_of).days > STATUTES_STALE_DAYS:
        warns.append(f"statutes: the store was last reviewed {(profile.probed_on - s.as_of).days} days ago; "
                     "newer amendments may be missing: import them with `ecmiip statutes import`")
    return warns, recs


def _disk(profile: MachineProfile) -> list[str]:
    needs = {"hf_cache": (DISK_BASE_BYTES, "Qwen3-4B's weights (`ecmiip pull`)"),
             "cwd": (DISK_EXPORT_BYTES, f"an export (F16 GGUF + {DEFAULT_QUANT})")}
    out = []
    for d in profile.disks:
        if d.label in needs and d.free_bytes is not None and d.free_bytes < needs[d.label][0]:
            need, what = needs[d.label]
            out.append(f"disk: {gib(d.free_bytes)} free in {d.path}; {what} needs ~{gib(need)}")
    return out
