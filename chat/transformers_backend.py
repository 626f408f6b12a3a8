"""Answers from a Hugging Face model directory (optionally with a LoRA adapter), run by transformers.

This lets a fine-tune be chatted with and benchmarked straight from training, before it is exported to
GGUF, and the export be compared with what it was made from. It speaks the same :class:`Backend`
interface as llama.cpp and Ollama. Only local files are read: no hub access, no remote code, safetensors
weights only (a pickle can run code when loaded).

Tokens come from a plain loop over the model with a KV cache, not ``generate``: a stop request is then
seen between any two tokens, the sampling is the same chain as llama.cpp's (penalties, top-k, top-p,
min-p, temperature), and the cache is kept between turns so a new turn evaluates only what differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecmiip.chat.engine import LocalEngine
from ecmiip.core.chat_template import from_tokenizer
from ecmiip.core.errors import InputError
from ecmiip.core.hf_models import apply_adapter, load_model, load_tokenizer
from ecmiip.core.prompts import DEFAULT_NUM_CTX

if TYPE_CHECKING:
    import torch

# llama-cpp-python's defaults for options a request leaves out, so both engines sample alike.
_SAMPLING_DEFAULTS: dict[str, float] = {
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.95,
    "min_p": 0.05,
    "repeat_penalty": 1.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
}
# llama.cpp applies the repetition penalties to this many most recent tokens.
PENALTY_LAST_N = 64


class TransformersBackend(LocalEngine):
    """An HF causal LM folder run by transformers in this process, with the tokenizer's chat template.

    ``dtype=None`` loads float32 on CPU (half precision is slow there and drifts further from the
    weights) and the checkpoint's own dtype on a GPU. ``context_size`` is ``n_ctx``, capped at the
    model's ``max_position_embeddings``.
    """

    engine = "transformers"

    def __init__(
        self,
        model_dir: str | Path,
        *,
        adapter: str | Path | None = None,
        n_ctx: int = DEFAULT_NUM_CTX,
        dtype: torch.dtype | str | None = None,
    ) -> None:
        import torch

        super().__init__()
        self.model_dir = _check_model_dir(Path(model_dir))
        self.adapter_dir = _check_adapter_dir(Path(adapter)) if adapter is not None else None
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._tokenizer = load_tokenizer(self.model_dir, local_files_only=True)
        self._template = from_tokenizer(self._tokenizer)
        self._template.check()
        if dtype is None:
            dtype = "auto" if self.device.type == "cuda" else torch.float32
        model = load_model(self.model_dir, dtype=dtype, device=self.device, local_files_only=True, quiet=True)
        self.config = model.config
        generation_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        forward_params = inspect.signature(model.forward).parameters  # transformers 5 renamed the cache
        self._cache_kwarg = "cache" if "cache" in forward_params else "past_key_values"
        self._keeps_logits = "logits_to_keep" in forward_params
        if self.adapter_dir is not None:
            model = apply_adapter(model, self.adapter_dir)
        self._model = model.eval()
        max_positions = getattr(self.config, "max_position_embeddings", None)
        self.context_size: int = min(n_ctx, max_positions) if max_positions else n_ctx
        self._stop_ids = self._end_tokens(generation_eos)
        self._cache: Any = None
        self._cached_ids: list[int] | None = []  # None: the cache is in an unknown state (reset it)

    def _end_tokens(self, generation_eos: int | list[int] | None) -> tuple[int, ...]:
        ids: set[int] = set()
        for eos in (generation_eos, self._tokenizer.eos_token_id):
            if isinstance(eos, int):
                ids.add(eos)
            elif eos:
                ids.update(int(t) for t in eos)
        im_end = self._tokenizer.encode("<|im_end|>", add_special_tokens=False)
        if len(im_end) == 1:
            ids.add(im_end[0])
        return tuple(sorted(ids))

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        """Tokens that end an answer: the tokenizer's and generation config's eos, and ``<|im_end|>``."""
        return self._stop_ids

    @property
    def model(self) -> Any:
        """The loaded ``torch.nn.Module`` (a ``PeftModel`` when an adapter is on)."""
        return self._model

    @cached_property
    def n_params(self) -> int:
        """Parameters of the loaded model, adapter included (shared tensors counted once)."""
        return sum(p.numel() for p in self._model.parameters())

    def tokenize_prompt(self, prompt: str) -> list[int]:
        return list(self._tokenizer.encode(prompt, add_special_tokens=False))

    def tokenize_text(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))

    # -- the model and its KV cache ----------------------------------------------------------------

    def _cached_tokens(self) -> list[int]:
        return self._cached_ids or []

    def _keep(self, n: int) -> int:
        """Crop the cache to ``n`` tokens; a fresh cache where cropping is not known to be safe
        (sliding-window layers)."""
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cached = self._cached_ids or []
        if 0 < n < len(cached):
            layers = getattr(self._cache, "layers", None) or []
            if layers and all(type(layer) is DynamicLayer for layer in layers):
                try:
                    self._cache.crop(n - len(cached))
                except (ValueError, RuntimeError, AttributeError):
                    n = 0
            else:
                n = 0
        if n == 0:
            self._cache = DynamicCache(config=self.config)
        self._cached_ids = list(cached[:n])
        return n

    def _forward(self, ids: list[int]) -> Any:
        """Feed ``ids`` after the cached tokens; the next-token logits, float32 on CPU."""
        import torch

        done, self._cached_ids = self._cached_ids or [], None  # unknown until the forward pass completes
        kwargs: dict[str, Any] = {self._cache_kwarg: self._cache, "use_cache": True}
        if self._keeps_logits:
            kwargs["logits_to_keep"] = 1
        with torch.inference_mode():
            out = self._model(input_ids=torch.tensor([ids], device=self.device), **kwargs)
        done.extend(ids)
        self._cached_ids = done
        return out.logits[0, -1].float().cpu()

    def _sample(self, tokens: list[int], logits: Any, sampling: dict[str, Any], seed: int) -> Generator[int, Any, None]:
        """llama.cpp's sampler chain (:class:`_Sampler`), one forward pass per token drawn."""
        import torch

        sampler = _Sampler({**_SAMPLING_DEFAULTS, **sampling}, torch.Generator().manual_seed(seed))
        history = list(tokens)
        while True:
            token = sampler.sample(logits, history)
            yield token
            history.append(token)
            logits = self._forward([token])

    def _decoder(self) -> _IncrementalDecoder:
        return _IncrementalDecoder(self._tokenizer)

    def reset(self) -> None:
        self._cache, self._cached_ids = None, []

    def close(self) -> None:
        """Drop the model and the KV cache (and the GPU's cached blocks), so memory is freed now."""
        model, self._model = self._model, None
        self._cache, self._cached_ids = None, None
        if model is not None:
            del model
            import gc

            import torch

            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


# --------------------------------------------------------------------------------------------------
# loading


def _check_model_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(f"model directory not found: {path}")
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: not a Hugging Face model directory (no config.json)")
    if not any(path.glob("*.safetensors")):
        raise InputError(f"{path}: no *.safetensors weights (ec-miip does not load pickled weights)")
    return path


def _check_adapter_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(f"adapter directory not found: {path}")
    if not (path / "adapter_config.json").is_file():
        raise InputError(f"{path}: not a LoRA adapter directory (no adapter_config.json)")
    if not (path / "adapter_model.safetensors").is_file():
        if (path / "adapter_model.bin").is_file():
            raise InputError(f"{path}: adapter_model.bin is a pickle; ec-miip reads safetensors only")
        raise InputError(f"{path}: no adapter_model.safetensors")
    return path


# --------------------------------------------------------------------------------------------------
# decoding and sampling


class _IncrementalDecoder:
    """Text of a token stream, released only once whole characters are known.

    Decoding token by token would cut a Chinese character spelt by several byte tokens into U+FFFD
    halves, so a short window of recent tokens is decoded and text is released when it no longer ends
    in an incomplete character. Bytes that never form a character are dropped, as llama.cpp's stream does.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # window start: decoded with the new tokens so spacing is right
        self._read = 0  # tokens whose text was released

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def add(self, token: int) -> str:
        self._ids.append(token)
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) <= len(done) or text.endswith("\ufffd"):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return text[len(done) :].replace("\ufffd", "")

    def flush(self) -> str:
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return text[len(done) :].replace("\ufffd", "") if len(text) > len(done) else ""


class _Sampler:
    """llama.cpp's sampler chain, so both engines answer alike for the same options.

    Logit bias, repetition penalties, then greedy, or top-k → top-p → min-p → temperature → draw.
    """

    def __init__(self, options: dict[str, Any], generator: Any) -> None:
        import torch

        self.temperature = float(options["temperature"])
        self.top_k = int(options["top_k"])
        self.top_p = float(options["top_p"])
        self.min_p = float(options["min_p"])
        self.repeat = float(options["repeat_penalty"])
        self.presence = float(options["presence_penalty"])
        self.frequency = float(options["frequency_penalty"])
        self.generator = generator
        bias = options.get("logit_bias") or {}
        self.bias_ids = torch.tensor([int(k) for k in bias], dtype=torch.long)
        self.bias_add = torch.tensor([float(v) for v in bias.values()], dtype=torch.float32)

    def sample(self, logits: Any, history: list[int]) -> int:
        import torch

        logits = logits.clone()
        if len(self.bias_ids):
            logits[self.bias_ids] += self.bias_add
        self._penalise(logits, history[-PENALTY_LAST_N:])
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        # candidates sorted by logit where a cut needs the order; the full vocabulary is sorted only
        # for top-p without top-k (a sort of 150k logits costs more than a small model's forward pass)
        values, ids = logits, torch.arange(logits.numel())
        if 0 < self.top_k < logits.numel():
            values, ids = torch.topk(logits, self.top_k)
        elif self.top_p < 1.0:
            values, ids = torch.sort(logits, descending=True)
        if self.top_p < 1.0:
            cumulative = torch.cumsum(torch.softmax(values, dim=-1), dim=-1)
            keep = int(torch.searchsorted(cumulative, torch.tensor([self.top_p])).item()) + 1
            values, ids = values[:keep], ids[:keep]
        if self.min_p > 0.0:
            probs = torch.softmax(values, dim=-1)
            mask = probs >= self.min_p * probs.max()
            values, ids = values[mask], ids[mask]
        probs = torch.softmax(values / self.temperature, dim=-1)
        return int(ids[torch.multinomial(probs, 1, generator=self.generator)])

    def _penalise(self, logits: Any, window: list[int]) -> None:
        if not window or (self.repeat == 1.0 and self.presence == 0.0 and self.frequency == 0.0):
            return
        import torch

        ids, counts = torch.unique(torch.tensor(window, dtype=torch.long), return_counts=True)
        values = logits[ids]
        if self.repeat != 1.0:
            values = torch.where(values <= 0, values * self.repeat, values / self.repeat)
        logits[ids] = values - counts.float() * self.frequency - self.presence
