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
import random
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecmiip.chat.backends import (
    LLAMA_ONLY_SAMPLING_KEYS,
    SAMPLING_KEYS,
    Delta,
    Stats,
    check_sampling,
    prepare_prompt,
)
from ecmiip.chat.thinking import ThinkSplitter
from ecmiip.core.errors import InputError

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

_DTYPES = ("float32", "float16", "bfloat16")


class TransformersBackend:
    """An HF causal LM folder run by transformers in this process, with the tokenizer's chat template.

    ``dtype=None`` loads float32 on CPU (half precision is slow there and drifts further from the
    weights) and the checkpoint's own dtype on a GPU. ``context_size`` is ``n_ctx``, capped at the
    model's ``max_position_embeddings``. The prompt is evaluated in slices of :attr:`PREFILL_STEP`
    tokens so a stop request is honoured while a long document is read.
    """

    PREFILL_STEP = 256

    def __init__(
        self,
        model_dir: str | Path,
        *,
        adapter: str | Path | None = None,
        n_ctx: int = 4096,
        dtype: torch.dtype | str | None = None,
    ) -> None:
        import torch

        self.model_dir = _check_model_dir(Path(model_dir))
        self.adapter_dir = _check_adapter_dir(Path(adapter)) if adapter is not None else None
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._tokenizer = _load_tokenizer(self.model_dir)
        if not self._tokenizer.chat_template:
            raise InputError(f"{self.model_dir}: not a chat model (the tokenizer has no chat template)")
        model = _load_model(self.model_dir, _resolve_dtype(dtype, self.device), self.device)
        self.config = model.config
        generation_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        forward_params = inspect.signature(model.forward).parameters  # transformers 5 renamed the cache
        self._cache_kwarg = "cache" if "cache" in forward_params else "past_key_values"
        self._keeps_logits = "logits_to_keep" in forward_params
        if self.adapter_dir is not None:
            model = _load_adapter(model, self.adapter_dir)
        self._model = model.eval()
        max_positions = getattr(self.config, "max_position_embeddings", None)
        self.context_size: int = min(n_ctx, max_positions) if max_positions else n_ctx
        self.last_stats: Stats | None = None
        self._stops = self._stop_ids(generation_eos)
        self._cache: Any = None
        self._cached_ids: list[int] | None = []  # None: the cache is in an unknown state (reset it)

    def _stop_ids(self, generation_eos: int | list[int] | None) -> frozenset[int]:
        ids: set[int] = set()
        for eos in (generation_eos, self._tokenizer.eos_token_id):
            if isinstance(eos, int):
                ids.add(eos)
            elif eos:
                ids.update(int(t) for t in eos)
        im_end = self._tokenizer.encode("<|im_end|>", add_special_tokens=False)
        if len(im_end) == 1:
            ids.add(im_end[0])
        return frozenset(ids)

    @property
    def stop_token_ids(self) -> tuple[int, ...]:
        """Tokens that end an answer: the tokenizer's and generation config's eos, and ``<|im_end|>``."""
        return tuple(sorted(self._stops))

    @property
    def model(self) -> Any:
        """The loaded ``torch.nn.Module`` (a ``PeftModel`` when an adapter is on)."""
        return self._model

    @cached_property
    def n_params(self) -> int:
        """Parameters of the loaded model, adapter included (shared tensors counted once)."""
        return sum(p.numel() for p in self._model.parameters())

    # -- prompts -----------------------------------------------------------------------------------

    def render_prompt(self, messages: list[dict], think: bool | None) -> str:
        """The prompt text the tokenizer's template makes of ``messages``, ending with the assistant's turn.

        transformers renders chat templates in a sandboxed Jinja environment, so a template cannot
        reach the file system or Python internals.
        """
        import jinja2

        options = {} if think is None else {"enable_thinking": think}
        try:
            prompt = self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True, **options
            )
        except (jinja2.TemplateError, ValueError, TypeError) as e:
            raise InputError(f"the model's chat template rejected the conversation: {e}") from e
        return prompt if isinstance(prompt, str) else str(prompt)

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """Token ids of a rendered prompt; no BOS is added, the template writes what the model needs."""
        return list(self._tokenizer.encode(prompt, add_special_tokens=False))

    def tokenize_text(self, text: str) -> list[int]:
        """Token ids of plain text as a prompt carries it: no BOS, and markup is not read as special tokens
        (the benchmarks measure a question's own length with it)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))

    def count_tokens(self, messages: list[dict], think: bool | None) -> int:
        return len(self.tokenize_prompt(self.render_prompt(messages, think)))

    # -- likelihood --------------------------------------------------------------------------------

    def choice_logits(self, messages: list[dict], choices: list[str]) -> dict[str, float]:
        """Next-token logits of each one-token ``choices`` string after the prompt (thinking off).

        The likelihood benchmark reads a multiple-choice answer from these without generating;
        ``last_stats`` says how much of the prompt was evaluated (decode 0), as after a turn.
        """
        ids = {c: self._choice_id(c) for c in choices}
        tokens, _, _ = prepare_prompt(self, messages, False, max_tokens=1)
        self.last_stats = None
        t0 = time.perf_counter()
        logits, evaluated = self._evaluate(tokens, lambda: False)
        prompt_ms = (time.perf_counter() - t0) * 1000
        self.last_stats = Stats(evaluated, prompt_ms, 0, 0.0, len(tokens), self.context_size, "stop", len(tokens))
        return {c: float(logits[i]) for c, i in ids.items()}

    def _choice_id(self, choice: str) -> int:
        ids = self._tokenizer.encode(choice, add_special_tokens=False)
        if len(ids) != 1:
            raise InputError(f"the choice {choice!r} is not one token for this model ({len(ids)} tokens)")
        return int(ids[0])

    # -- generation --------------------------------------------------------------------------------

    def stream(
        self,
        messages: list[dict],
        *,
        think: bool | None,
        sampling: dict,
        max_tokens: int,
        stop_event: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """Stream the answer; errors in the request are raised here, before anything is generated."""
        check_sampling(sampling, SAMPLING_KEYS | LLAMA_ONLY_SAMPLING_KEYS, "transformers")
        tokens, budget, in_thinking = prepare_prompt(self, messages, think, max_tokens)
        return self._generate(tokens, dict(sampling), budget, stop_event, in_thinking)

    def _generate(
        self,
        tokens: list[int],
        sampling: dict[str, Any],
        budget: int,
        stop_event: threading.Event | None,
        in_thinking: bool,
    ) -> Iterator[Delta]:
        import torch

        stopped = stop_event.is_set if stop_event is not None else (lambda: False)
        seed = sampling.pop("seed", None)
        generator = torch.Generator().manual_seed(seed if seed is not None else random.randrange(2**31))
        sampler = _Sampler({**_SAMPLING_DEFAULTS, **sampling}, generator)
        self.last_stats = None
        t0 = time.perf_counter()
        logits, evaluated = self._evaluate(tokens, stopped)
        if logits is None:
            wall_ms = (time.perf_counter() - t0) * 1000
            used = len(self._cached_ids or [])
            self.last_stats = Stats(evaluated, wall_ms, 0, 0.0, used, self.context_size, "cancelled", len(tokens))
            return
        t_prompt = time.perf_counter()
        decoder = _IncrementalDecoder(self._tokenizer)
        splitter = ThinkSplitter(in_thinking=in_thinking)
        history = list(tokens)
        n, finish = 0, "cancelled"  # stays so if the reader abandons the stream (Ctrl-C)
        try:
            while True:
                token = sampler.sample(logits, history)
                if token in self._stops:
                    finish = "stop"
                    break
                n += 1
                history.append(token)
                for kind, text in splitter.feed(decoder.add(token)):
                    yield Delta(kind, text)
                if stopped():
                    break
                if n >= budget:
                    finish = "length"
                    break
                logits = self._forward([token])
            for kind, text in [*splitter.feed(decoder.flush()), *splitter.flush()]:
                yield Delta(kind, text)
        finally:
            self.last_stats = Stats(
                prompt_tokens=evaluated,
                prompt_ms=(t_prompt - t0) * 1000,
                decode_tokens=n,
                decode_ms=(time.perf_counter() - t_prompt) * 1000,
                ctx_used=len(tokens) + n,
                ctx_size=self.context_size,
                finish=finish,
                prompt_total=len(tokens),
            )

    # -- the model and its KV cache ----------------------------------------------------------------

    def _evaluate(self, tokens: list[int], stopped: Callable[[], bool]) -> tuple[Any, int]:
        """Logits after ``tokens`` (float32, CPU) and how many tokens were evaluated for them.

        Only what the KV cache lacks is evaluated. The logits are None when a stop came before the
        whole prompt was read.
        """
        if not tokens:
            raise InputError("the chat template made an empty prompt")
        keep = self._reuse(tokens)
        logits = None
        for start in range(keep, len(tokens), self.PREFILL_STEP):
            if stopped():
                return None, start - keep
            logits = self._forward(tokens[start : start + self.PREFILL_STEP])
        return (None if stopped() else logits), len(tokens) - keep

    def _reuse(self, tokens: list[int]) -> int:
        """Trim the cache to its longest prefix shared with ``tokens``, one token short of it at most.

        A fresh cache is started where trimming is not known to be safe (sliding-window layers).
        """
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cached = self._cached_ids
        keep = min(_common_prefix(cached, tokens), len(tokens) - 1) if cached else 0
        if cached and 0 < keep < len(cached):
            layers = getattr(self._cache, "layers", None) or []
            if layers and all(type(layer) is DynamicLayer for layer in layers):
                try:
                    self._cache.crop(keep - len(cached))
                except (ValueError, RuntimeError, AttributeError):
                    keep = 0
            else:
                keep = 0
        if keep == 0:
            self._cache = DynamicCache(config=self.config)
        self._cached_ids = list(tokens[:keep])
        return keep

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

    def reset(self) -> None:
        """Forget the KV cache: the next prompt is evaluated cold (the speed benchmark wants that)."""
        self._cache, self._cached_ids = None, []

    def close(self) -> None:
        """Drop the model and the KV cache (and the GPU's cached blocks), so memory is freed now."""
        model, self._model = getattr(self, "_model", None), None
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


def _resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype | str:
    import torch

    if dtype is None:
        return "auto" if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype in _DTYPES:
        return getattr(torch, dtype)
    raise InputError(f"unknown dtype {dtype!r} (expected auto, {', '.join(_DTYPES)})")


def _quiet_loading() -> Callable[[], None]:
    """Hide transformers' per-tensor progress bar (noise in a chat window); returns the undo."""
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled():
        return lambda: None
    hf_logging.disable_progress_bar()
    return hf_logging.enable_progress_bar


def _load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_dir, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{model_dir}: transformers cannot load its tokenizer ({e})") from e


def _load_model(model_dir: Path, dtype: Any, device: Any) -> Any:
    from transformers import AutoModelForCausalLM

    undo = _quiet_loading()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, trust_remote_code=False, use_safetensors=True, local_files_only=True, dtype=dtype
        )
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{model_dir}: transformers cannot load it as a causal LM ({e})") from e
    finally:
        undo()
    return model.to(device)


def _load_adapter(model: Any, adapter_dir: Path) -> Any:
    import warnings

    from peft import PeftModel

    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in 5.x: not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise InputError(f"{adapter_dir}: peft cannot apply this adapter to the model ({e})") from e


# --------------------------------------------------------------------------------------------------
# decoding and sampling


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


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
