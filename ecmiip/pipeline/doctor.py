"""What this machine has, for ``ecmiip doctor`` and for the chat client's llama.cpp defaults.

Each probe answers for itself and never raises: one that fails leaves its values unknown (None) and says
why in its section's ``error``, so a half-broken machine still gets a report. Probes stay on this machine:
the only connection is to Ollama on a loopback address, with a 1 s timeout. The decisions are
:mod:`ecmiip.pipeline.advice`'s, on the :class:`MachineProfile` built here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import ipaddress
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ecmiip.pipeline.advice import QWEN3_4B, LlamaSettings, ModelShape, llama_settings

OLLAMA_PORT = 11434
COMMAND_TIMEOUT_S = 5.0  # nvidia-smi, ollama --version
OLLAMA_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class LlamaBuild:
    version: str | None = None  # llama-cpp-python's
    gpu_offload: bool | None = None
    backends: tuple[str, ...] = ()  # compiled-in backends besides the CPU: CUDA, Metal, Vulkan, BLAS…
    cpu_features: tuple[str, ...] = ()  # instruction sets llama.cpp uses: AVX2, AVX512, NEON…
    system_info: str = ""
    error: str | None = None
    amx_allowed: bool = False  # ECMIIP_LLAMA_AMX=1: the user lets llama.cpp use its AMX kernels (core.llama)


@dataclass(frozen=True)
class Memory:
    ram_total_bytes: int | None = None
    ram_available_bytes: int | None = None
    cpu_cores: int | None = None
    unified: bool = False  # Apple Silicon: the GPU shares the RAM
    source: str = ""  # where the figures came from
    error: str | None = None


@dataclass(frozen=True)
class GPU:
    name: str
    memory_total_bytes: int
    memory_free_bytes: int | None = None
    compute_capability: float | None = None  # CUDA's major.minor, e.g. 8.9


@dataclass(frozen=True)
class GPUs:
    devices: tuple[GPU, ...] = ()
    source: str = ""  # torch, nvidia-smi, apple, or "" when none was found
    error: str | None = None


@dataclass(frozen=True)
class Disk:
    label: str  # cwd, hf_cache, user_data
    path: str
    free_bytes: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Training:
    torch_version: str | None = None
    cuda_available: bool | None = None
    cuda_version: str | None = None
    bnb_version: str | None = None
    bnb_4bit_ok: bool | None = None  # a real Linear4bit ran a forward pass here
    bnb_4bit_device: str | None = None  # where it ran: cuda or cpu
    bnb_error: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Ollama:
    binary: str | None = None
    version: str | None = None  # what `ollama --version` printed
    host: str = f"http://127.0.0.1:{OLLAMA_PORT}"
    reachable: bool | None = None  # None: not contacted (not a loopback address)
    server_version: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Statutes:
    as_of: date | None = None
    superseded: tuple[str, ...] = ()  # documents kept as history: 《law》（version）
    missing_current: tuple[str, ...] = ()  # laws whose text in force on the probe day is not in the store
    error: str | None = None


@dataclass(frozen=True)
class RecipeNeed:
    name: str
    requires_cuda: bool
    gpu_memory_gb: float = 0.0


@dataclass(frozen=True)
class MachineProfile:
    probed_on: date
    system: str  # platform.system(): Linux, Darwin, Windows
    machine: str  # platform.machine(): x86_64, arm64
    python: str
    llama: LlamaBuild
    memory: Memory
    gpus: GPUs
    disks: tuple[Disk, ...]
    training: Training
    ollama: Ollama
    statutes: Statutes
    recipes: tuple[RecipeNeed, ...] = ()


def to_json(obj: Any) -> Any:
    """A profile or an advice as plain JSON values (dates in ISO form)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


# ---------------------------------------------------------------- probing

T = TypeVar("T")


def _safely(probe: Callable[[], T], failed: Callable[[str], T]) -> T:
    """``probe()``, or ``failed(reason)`` when it raises: a probe never takes the report down."""
    try:
        return probe()
    except Exception as e:  # noqa: BLE001 — any failure of a probe is a finding, not a crash
        return failed(f"{type(e).__name__}: {e}".strip()[:300])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence warnings and library loggers (bitsandbytes, torch) while probing: the report says it all."""
    levels = {name: logging.getLogger(name).level for name in ("bitsandbytes", "torch", "transformers")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in levels:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def parse_system_info(info: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``CUDA : ARCHS = 890 | … | CPU : SSE3 = 1 | AVX2 = 1 | …`` → (backends other than the CPU, CPU
    features that are on). llama.cpp prints each backend as ``NAME : key = value | …``."""
    backends: list[str] = []
    features: list[str] = []
    section = ""
    for part in (p.strip() for p in info.split("|")):
        if m := re.match(r"^([\w\- ]+?)\s*:\s*(.*)$", part):
            section, part = m.group(1).strip(), m.group(2).strip()
            if section.upper() != "CPU" and section not in backends:
                backends.append(section)
        if section.upper() == "CPU" and (kv := re.match(r"^(\w+)\s*=\s*(\S+)$", part)) and kv.group(2) == "1":
            features.append(kv.group(1))
    return tuple(backends), tuple(features)


def probe_llama() -> LlamaBuild:
    def run() -> LlamaBuild:
        import llama_cpp

        from ecmiip.core.llama import AMX_ENV, system_info

        info = system_info()
        backends, features = parse_system_info(info)
        return LlamaBuild(version=getattr(llama_cpp, "__version__", None),
                          gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()), backends=backends,
                          cpu_features=features, system_info=info, amx_allowed=os.environ.get(AMX_ENV) == "1")

    return _safely(run, lambda why: LlamaBuild(error=why))


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def probe_memory() -> Memory:
    def run() -> Memory:
        total = available = None
        source = ""
        if Path("/proc/meminfo").is_file():
            fields = {}
            for line in Path("/proc/meminfo").read_text().splitlines():
                key, _, rest = line.partition(":")
                if rest.split():
                    fields[key] = int(rest.split()[0]) * 1024  # kB
            total, available, source = fields.get("MemTotal"), fields.get("MemAvailable"), "/proc/meminfo"
            # a container's memory limit (cgroup v2) is the real ceiling when it is lower
            limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
            if limit and total and limit < total:
                total, source = limit, "/proc/meminfo, cgroup memory.max"
                if used is not None:
                    available = min(available or limit, max(0, limit - used))
        if total is None:
            with contextlib.suppress(ValueError, OSError, AttributeError):
                total, source = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "sysconf"
        if available is None:
            with contextlib.suppress(Exception):
                import psutil  # a test dependency, not a runtime one: used only where it happens to be

                available, source = psutil.virtual_memory().available, source + (", " if source else "") + "psutil"
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count()
        unified = platform.system() == "Darwin" and platform.machine() in ("arm64", "aarch64")
        return Memory(total, available, cores, unified, source,
                      None if total else "neither /proc/meminfo nor sysconf gave the RAM size")

    return _safely(run, lambda why: Memory(error=why))


def _gpus_from_torch() -> tuple[GPU, ...] | None:
    import torch

    if not torch.cuda.is_available():
        return None
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        free = None
        with contextlib.suppress(Exception):
            free = torch.cuda.mem_get_info(i)[0]
        out.append(GPU(props.name, int(props.total_memory), free, float(f"{props.major}.{props.minor}")))
    return tuple(out)


def parse_nvidia_smi(text: str) -> tuple[GPU, ...]:
    """``NAME, TOTAL_MIB, FREE_MIB[, CC]`` lines of ``nvidia-smi --query-gpu=… --format=csv,noheader,nounits``."""
    out = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[1].isdigit():
            continue
        free = int(parts[2]) * 2**20 if parts[2].isdigit() else None
        cc = None
        with contextlib.suppress(IndexError, ValueError):
            cc = float(parts[3])
        out.append(GPU(parts[0], int(parts[1]) * 2**20, free, cc))
    return tuple(out)


def _gpus_from_nvidia_smi() -> tuple[GPU, ...] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    base = [exe, "--format=csv,noheader,nounits"]
    for query in ("name,memory.total,memory.free,compute_cap", "name,memory.total,memory.free"):  # old drivers lack cc
        done = subprocess.run([*base, f"--query-gpu={query}"], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
        if done.returncode == 0:
            return parse_nvidia_smi(done.stdout)
    raise RuntimeError(f"nvidia-smi failed: {(done.stderr or done.stdout).strip()[:200]}")


def probe_gpus(memory: Memory | None = None, use_torch: bool = True) -> GPUs:
    """CUDA GPUs through torch (when it sees CUDA), else nvidia-smi; on Apple Silicon the unified memory."""
    errors = []
    if use_torch:
        try:
            with _quiet():
                found = _gpus_from_torch()
            if found:
                return GPUs(found, "torch")
        except Exception as e:  # noqa: BLE001
            errors.append(f"torch: {type(e).__name__}: {e}"[:200])
    try:
        found = _gpus_from_nvidia_smi()
        if found:
            return GPUs(found, "nvidia-smi")
    except Exception as e:  # noqa: BLE001
        errors.append(f"{type(e).__name__}: {e}"[:200])
    if memory is not None and memory.unified and memory.ram_total_bytes:
        return GPUs((GPU(f"Apple {platform.machine()} GPU (unified memory)", memory.ram_total_bytes,
                         memory.ram_available_bytes),), "apple")
    return GPUs((), "", "; ".join(errors) or None)


def _free_disk(path: Path) -> int:
    probe = path.expanduser()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def probe_disks() -> tuple[Disk, ...]:
    def hf_cache() -> Path:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)

    def user_data() -> Path:
        from ecmiip.core.paths import user_data_dir

        return user_data_dir()

    out = []
    for label, where in (("cwd", Path.cwd), ("hf_cache", hf_cache), ("user_data", user_data)):
        path = _safely(lambda w=where: str(w()), lambda why: why)
        out.append(_safely(lambda p=path, lb=label: Disk(lb, p, _free_disk(Path(p))),
                           lambda why, p=path, lb=label: Disk(lb, p, None, why)))
    return tuple(out)


def probe_training() -> Training:
    def run() -> Training:
        with _quiet():
            import torch

            cuda = bool(torch.cuda.is_available())
            bnb_version = bnb_ok = device = bnb_error = None
            try:
                import bitsandbytes as bnb

                bnb_version = getattr(bnb, "__version__", "unknown")
                device = "cuda" if cuda else "cpu"
                layer = bnb.nn.Linear4bit(64, 64, compute_dtype=torch.float32, quant_type="nf4").to(device)
                out = layer(torch.ones(1, 64, device=device))
                bnb_ok = bool(torch.isfinite(out).all())
                bnb_error = None if bnb_ok else "the 4-bit layer's output is not finite"
            except Exception as e:  # noqa: BLE001
                bnb_ok, bnb_error = False, f"{type(e).__name__}: {e}"[:300]
            return Training(torch.__version__, cuda, torch.version.cuda, bnb_version, bnb_ok, device, bnb_error)

    return _safely(run, lambda why: Training(error=why))


def ollama_host() -> str:
    """OLLAMA_HOST as Ollama reads it (``host``, ``host:port``, ``http://host:port``), else its default."""
    raw = os.environ.get("OLLAMA_HOST", "").strip() or f"127.0.0.1:{OLLAMA_PORT}"
    parts = urlsplit(raw if "://" in raw else f"http://{raw}")
    host = parts.hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # a server bound to every address answers on loopback
        host = "127.0.0.1"
    port = parts.port or OLLAMA_PORT
    return f"{parts.scheme or 'http'}://{'[' + host + ']' if ':' in host else host}:{port}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe_ollama() -> Ollama:
    def run() -> Ollama:
        binary = version = None
        named = os.environ.get("ECMIIP_OLLAMA")
        errors = []
        if named:
            if Path(named).is_file() and os.access(named, os.X_OK):
                binary = named
            else:
                errors.append(f"ECMIIP_OLLAMA={named} is not an executable file")
        binary = binary or shutil.which("ollama")
        if binary:
            try:
                done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                      timeout=COMMAND_TIMEOUT_S, check=False)
                found = re.findall(r"version is\s+(\S+)", done.stdout + done.stderr)
                version = found[0] if found else (done.stdout.strip().splitlines() or [None])[-1]
            except (OSError, subprocess.SubprocessError) as e:
                errors.append(f"`ollama --version`: {type(e).__name__}: {e}"[:200])
        host = ollama_host()
        parts = urlsplit(host)
        if not _loopback(parts.hostname or ""):
            errors.append(f"OLLAMA_HOST={os.environ.get('OLLAMA_HOST')} is not a loopback address: not contacted")
            return Ollama(binary, version, host, None, None, "; ".join(errors))
        reachable, server_version = False, None
        try:
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = cls(parts.hostname, parts.port, timeout=OLLAMA_TIMEOUT_S)  # direct: never through a proxy
            try:
                conn.request("GET", "/api/version")
                resp = conn.getresponse()
                body = resp.read(4096)
            finally:
                conn.close()
            if resp.status == 200:
                reachable = True
                server_version = json.loads(body).get("version")
            else:
                errors.append(f"GET /api/version answered HTTP {resp.status}")
        except (OSError, http.client.HTTPException, ValueError, AttributeError) as e:
            errors.append(getattr(e, "strerror", None) or f"{type(e).__name__}: {e}"[:200])
        return Ollama(binary, version, host, reachable, server_version, "; ".join(errors) or None)

    return _safely(run, lambda why: Ollama(error=why))


def probe_statutes(day: date) -> Statutes:
    """The store's review date, its superseded documents and the laws whose current text it lacks (the
    same rule as ``ecmiip.core.prompts.store_note``)."""
    def run() -> Statutes:
        from ecmiip.core.statutes import REPEALED, SUPERSEDED, store

        s = store()
        superseded = tuple(f"《{d.law}》（{d.version}）" for d in s.documents if d.status_on(day) in (SUPERSEDED, REPEALED))
        missing = tuple(f"《{law}》（{old.version}）" for law in s.by_law
                        if s.current(law, day) is None and (old := s.latest(law, day)) is not None)
        return Statutes(s.as_of, superseded, missing)

    return _safely(run, lambda why: Statutes(error=why))


def probe_recipes() -> tuple[RecipeNeed, ...]:
    def run() -> tuple[RecipeNeed, ...]:
        from ecmiip.train.recipe import load_recipe, shipped_recipes

        out = []
        for name in shipped_recipes():
            hw = _safely(lambda n=name: load_recipe(n).hardware, lambda why: None)
            if hw is not None:
                out.append(RecipeNeed(name, hw.requires_cuda, hw.gpu_memory_gb))
        return tuple(out)

    return _safely(run, lambda why: ())


def probe() -> MachineProfile:
    """Every probe: the whole machine, for ``ecmiip doctor`` (a few seconds: torch and bitsandbytes load)."""
    day = date.today()
    memory = probe_memory()
    return MachineProfile(
        probed_on=day, system=platform.system(), machine=platform.machine(), python=platform.python_version(),
        llama=probe_llama(), memory=memory, gpus=probe_gpus(memory), disks=probe_disks(),
        training=probe_training(), ollama=probe_ollama(), statutes=probe_statutes(day), recipes=probe_recipes(),
    )


def probe_runtime() -> MachineProfile:
    """Only what running a GGUF needs (llama.cpp build, RAM, GPUs), fast enough for a chat's start: torch is
    asked about GPUs only if something already imported it, else nvidia-smi."""
    memory = probe_memory()
    return MachineProfile(
        probed_on=date.today(), system=platform.system(), machine=platform.machine(),
        python=platform.python_version(), llama=probe_llama(), memory=memory,
        gpus=probe_gpus(memory, use_torch="torch" in sys.modules), disks=(), training=Training(error="not probed"),
        ollama=Ollama(error="not probed"), statutes=Statutes(error="not probed"),
    )


# ---------------------------------------------------------------- a GGUF's shape, for the chat client


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """A GGUF's metadata: scalars and strings, and numeric arrays of up to 4,096 values (per-layer head
    counts); the tokenizer's long arrays are skipped unread. The gguf package's reader parses those too,
    which takes seconds on a Qwen vocabulary: too slow for a chat's start."""
    import struct

    def read(f, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) != size:
            raise ValueError(f"{path}: truncated GGUF header")
        return struct.unpack(fmt, data)[0]

    def string(f) -> str:
        return f.read(read(f, "<Q")).decode("utf-8", "replace")

    def value(f, kind: int) -> Any:
        if kind in _SCALARS:
            return read(f, _SCALARS[kind])
        if kind == _STRING:
            return string(f)
        if kind != _ARRAY:
            raise ValueError(f"{path}: unknown GGUF value type {kind}")
        item, count = read(f, "<I"), read(f, "<Q")
        if item in _SCALARS and count <= 4096:
            return [read(f, _SCALARS[item]) for _ in range(count)]
        if item in _SCALARS:
            f.seek(count * struct.calcsize(_SCALARS[item]), 1)
        else:
            for _ in range(count):
                value(f, item)
        return None

    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        read(f, "<I")  # version
        read(f, "<Q")  # tensor count
        return {string(f): value(f, read(f, "<I")) for _ in range(read(f, "<Q"))}


def gguf_shape(path: str | Path) -> ModelShape:
    """Layers, KV cost per token and trained context of a GGUF, from its metadata (no weights read)."""
    meta = gguf_metadata(path)
    arch = meta["general.architecture"]

    def get(name: str) -> Any:
        return meta.get(f"{arch}.{name}")

    layers, heads = int(get("block_count")), int(get("attention.head_count"))
    kv_heads = get("attention.head_count_kv")
    kv_heads = int(max(kv_heads) if isinstance(kv_heads, list) else kv_heads) if kv_heads else heads
    head_k = int(get("attention.key_length") or int(get("embedding_length")) // heads)
    head_v = int(get("attention.value_length") or head_k)
    kv = layers * kv_heads * (head_k + head_v) * 2  # f16 K and V, llama.cpp's default cache type
    context = int(get("context_length") or QWEN3_4B.context_length)
    return ModelShape(str(meta.get("general.name") or Path(path).stem), layers, kv, context)


def chat_settings(gguf: str | Path) -> LlamaSettings | None:
    """llama.cpp's ``n_gpu_layers`` and ``n_ctx`` for chatting with this GGUF here, with the note to print
    once; None when the machine or the file could not be read (then keep the client's own defaults)."""
    def run() -> LlamaSettings:
        path = Path(gguf)
        return llama_settings(probe_runtime(), path.stat().st_size, gguf_shape(path))

    return _safely(run, lambda why: None)
