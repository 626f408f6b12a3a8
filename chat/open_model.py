"""One model argument for every command: a GGUF, an HF folder (with or without a LoRA adapter), or Ollama.

``ecmiip bench`` and the chat client take a single SPEC string, so comparing a fine-tune before and
after export is a matter of naming both. The SPEC forms:

* ``ollama:NAME``      a model served by a local Ollama
* ``FILE.gguf``        a GGUF run by llama.cpp in this process
* ``DIR``              a Hugging Face model directory (it holds ``config.json``), run by transformers
* ``DIR+ADAPTERDIR``   that directory with a peft LoRA adapter applied on top
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ecmiip.chat.backends import Backend
from ecmiip.chat.ollama_backend import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_OLLAMA_HOST,
    DEFAULT_TIMEOUT_S,
    OllamaBackend,
)
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import DEFAULT_NUM_CTX

SPEC_FORMS = (
    "a .gguf file, an HF model directory (holding config.json), DIR+ADAPTERDIR (a LoRA adapter on that "
    "directory) or ollama:NAME"
)


def parse_spec(spec: str) -> tuple[str, Path | str, Path | None]:
    """``(kind, target, adapter)`` with kind ``ollama``, ``gguf`` or ``hf``; no model is loaded.

    A path that exists as given wins over a ``+`` split, and the split is tried from the last ``+``
    first, so folders whose names contain ``+`` still work.
    """
    if spec.startswith("ollama:"):
        name = spec.removeprefix("ollama:")
        if not name:
            raise InputError(f"{spec}: no model name after ollama:")
        return "ollama", name, None
    path = Path(spec)
    if path.is_file() or (not path.exists() and spec.lower().endswith(".gguf") and "+" not in spec):
        if path.suffix.lower() != ".gguf":
            raise InputError(f"{spec}: not a model: expected {SPEC_FORMS}")
        return "gguf", path, None  # a missing .gguf is reported by the backend ("model not found")
    if path.is_dir():
        return "hf", _hf_dir(path), None
    for i in reversed([i for i, ch in enumerate(spec) if ch == "+"]):
        base, adapter = Path(spec[:i]), Path(spec[i + 1 :])
        if base.is_dir() and adapter.is_dir():
            return "hf", _hf_dir(base), adapter
    raise InputError(f"{spec}: not a model (no such file or directory): expected {SPEC_FORMS}")


def _hf_dir(path: Path) -> Path:
    if (path / "config.json").is_file():
        return path
    if (path / "adapter_config.json").is_file():
        raise InputError(f"{path}: a LoRA adapter, not a model: name its base model as BASEDIR+{path}")
    raise InputError(f"{path}: not a model directory (no config.json): expected {SPEC_FORMS}")


def open_model(
    spec: str,
    *,
    n_ctx: int | None = None,
    ollama_host: str | None = None,
    n_gpu_layers: int = -1,
    n_threads: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> Backend:
    """The backend SPEC names, loaded with an ``n_ctx``-token context (see the module doc for SPEC); by
    default the Ollama model's own ``num_ctx`` (after ``settle``), else ``DEFAULT_NUM_CTX``.

    ``n_gpu_layers`` and ``n_threads`` are llama.cpp's (all layers on a GPU when there is one; llama.cpp's
    choice of threads), ``ollama_host``, ``timeout`` and ``connect_timeout`` Ollama's.
    """
    kind, target, adapter = parse_spec(spec)
    if kind == "ollama":
        return OllamaBackend(str(target), ollama_host or DEFAULT_OLLAMA_HOST, num_ctx=n_ctx, timeout=timeout,
                             connect_timeout=connect_timeout)
    if kind == "gguf":
        from ecmiip.chat.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(target, n_ctx=n_ctx or DEFAULT_NUM_CTX, n_gpu_layers=n_gpu_layers, n_threads=n_threads)
    from ecmiip.chat.transformers_backend import TransformersBackend

    return TransformersBackend(target, adapter=adapter, n_ctx=n_ctx or DEFAULT_NUM_CTX)


def open_settled(spec: str, *, n_ctx: int | None = None, ollama_host: str | None = None,
                 say: Callable[[str], None] | None = None) -> Backend:
    """:func:`open_model`, then, for Ollama, the model's own ``num_ctx`` and whether it can think, as the
    server reports them (a one-shot command would otherwise send ``think`` to a model that refuses it)."""
    backend = open_model(spec, n_ctx=n_ctx, ollama_host=ollama_host)
    settle = getattr(backend, "settle", None)
    if settle is not None and (note := settle()) and say is not None:
        say(note)
    return backend


def model_info(spec: str, backend: Backend) -> dict:
    """Size figures of an opened model for the benchmark record; None where the engine does not say.

    ``file_size`` is the bytes of weights on disk (the GGUF; the safetensors of the folder and
    adapter), ``params`` the parameter count the engine reports.
    """
    from ecmiip.chat.llamacpp_backend import LlamaCppBackend
    from ecmiip.chat.transformers_backend import TransformersBackend

    if isinstance(backend, TransformersBackend):
        dirs = [backend.model_dir, *([backend.adapter_dir] if backend.adapter_dir is not None else [])]
        size = sum(f.stat().st_size for d in dirs for f in d.glob("*.safetensors"))
        return {"path": spec, "file_size": size, "params": backend.n_params}
    if isinstance(backend, LlamaCppBackend):
        import llama_cpp

        return {
            "path": spec,
            "file_size": Path(backend.model_path).stat().st_size,
            "params": int(llama_cpp.llama_model_n_params(backend.llm.model)),
        }
    return {"path": spec, "file_size": None, "params": None}
