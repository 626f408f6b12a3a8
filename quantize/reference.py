"""The model as trained, computed in fp32 one decoder layer at a time: what every export is checked against.

Rule: the math is transformers' and peft's own. The architecture's skeleton is built on the meta device
(no memory), peft injects its LoRA layers into it, and then each decoder layer in turn gets its weights
straight from the safetensors shards (positioned reads, as the streaming merge does), runs every
sequence, and is emptied again. Memory is one layer plus activations, whatever the model's size; the
arithmetic is fp32, so the reference stays exact where a bf16 forward of a 4 B model is off by 0.25.

The embedding and the head are the two matrices too large to hold whole in fp32 (1.5 GiB each for
Qwen3's vocabulary): the embedding is read only for the rows the sequences use, the head in blocks of
rows. Their LoRA terms follow peft's formulas with peft's own scaling.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from ecmiip.core.errors import InputError
from ecmiip.core.hf_models import empty_model, load_config
from ecmiip.quantize.adapter import _LORA_KEY, _strip_adapter_name
from ecmiip.quantize.checkpoint import Checkpoint, load_local_tensor, open_safetensors

HEAD_BLOCK_ROWS = 8192  # head rows per block: 80 MiB of fp32 at width 2560
EMBED, HEAD = "model.embed_tokens.weight", "lm_head.weight"


STORAGE = {"f16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Sequence:
    """Token ids to run, through every layer (``layers=None``) or only through the listed ones.

    ``stored_as`` ("f16"/"bf16") runs the *rounding twin*: the same math with every matrix rounded to
    that storage type after merging, and every matmul input too (llama.cpp's CPU kernels convert
    activations to the weights' type). Its distance from the exact reference is how far storage alone
    moves this model's logits, which is what the logits gate is scaled by.
    """

    ids: list[int]
    layers: tuple[int, ...] | None = None
    stored_as: str | None = None


@dataclass
class Weight:
    """One tensor (or a block of its rows) of the model as trained, in HF layout and fp32.

    ``value`` is what the export must hold: ``base`` (or the adapter's replacement) plus ``delta``, the
    LoRA term peft adds; both are kept so a checker can say *how* an exported tensor differs.
    """

    name: str
    start: int
    value: torch.Tensor
    base: torch.Tensor
    delta: torch.Tensor | None = None
    scale: float | None = None
    rank: int | None = None


WeightObserver = Callable[[Weight], None]


class Reference:
    """Base model (+ LoRA adapter, unmerged as trained) ready to run layer by layer."""

    def __init__(self, base_dir: Path, adapter_dir: Path | None = None, *, ckpt: Checkpoint | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.ckpt = ckpt or Checkpoint(self.base_dir)
        self.config = load_config(self.base_dir)
        self.model = empty_model(self.config, torch.float32)
        self.decoder = self.model.get_decoder()
        self.prefix = next(n for n, m in self.model.named_modules() if m is self.decoder)
        self.replacements: dict[str, torch.Tensor] = {}
        self.adapter_dir = Path(adapter_dir) if adapter_dir is not None else None
        if self.adapter_dir is not None:
            self._inject_adapter(self.adapter_dir)
        self.rotary = type(self.decoder.rotary_emb)(config=self.config)  # its buffers are computed, not stored
        self.n_layers = len(self.decoder.layers)

    # ---------------------------------------------------------------------------------------- adapter

    def _inject_adapter(self, adapter_dir: Path) -> None:
        """peft's LoRA layers on the meta skeleton; their (small) factors loaded now, in fp32."""
        from peft import LoraConfig, inject_adapter_in_model

        config = LoraConfig.from_pretrained(str(adapter_dir))
        config.modules_to_save = None  # whole-tensor replacements are read like base weights, below
        config.inference_mode = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inject_adapter_in_model(config, self.model, low_cpu_mem_usage=True)
        factors: dict[str, torch.Tensor] = {}
        weights = adapter_dir / "adapter_model.safetensors"
        for key, local in open_safetensors(weights).items():
            name = _strip_adapter_name(key)
            m = _LORA_KEY.match(name)
            if m is None:
                self.replacements[name] = load_local_tensor(local).float()
                continue
            suffix = f".{m['param']}" if m["param"] else ""
            factors[f"{m['module']}.{m['kind']}.default{suffix}"] = load_local_tensor(local).float()
        missing = [k for k, v in self.model.state_dict().items() if "lora_" in k and k not in factors and v.is_meta]
        if missing:
            raise InputError(f"{weights}: peft expects {missing[0]} (from adapter_config.json), the file does not hold it")
        self.model.load_state_dict(factors, strict=False, assign=True)

    # ---------------------------------------------------------------------------------------- weights

    def base_rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        if name in self.replacements:
            return self.replacements[name][start:stop]
        if name == HEAD and name not in self.ckpt:  # tied head: the base embedding
            name = EMBED
        if not self.ckpt.entries[name].shape:
            return self.ckpt.load(name).float()
        return self.ckpt.read_rows(name, start, stop).float()

    def base_embedding_rows(self, start: int, stop: int) -> torch.Tensor:
        return self.base_rows(EMBED, start, stop)

    @contextlib.contextmanager
    def _materialized(self, module: torch.nn.Module, hf_prefix: str, observe: WeightObserver | None):
        """``module``'s base weights read from the checkpoint for the duration of the block, then emptied."""
        empty = {k: v for k, v in module.state_dict(keep_vars=True).items() if "lora_" not in k}
        state = {}
        for key, meta in empty.items():
            name = hf_prefix + key.replace(".base_layer", "")
            if name not in self.ckpt and name not in self.replacements:
                raise InputError(f"{self.base_dir}: the checkpoint has no tensor {name}, which {type(module).__name__} needs")
            state[key] = self.base_rows(name, 0, meta.shape[0] if meta.dim() else 1).reshape(meta.shape)
        module.load_state_dict(state, strict=False, assign=True)
        if observe is not None:
            self._observe_module(module, hf_prefix, state, observe)
        try:
            yield module
        finally:
            module.load_state_dict(empty, strict=False, assign=True)

    def _observe_module(self, module, hf_prefix: str, state: dict, observe: WeightObserver) -> None:
        lora = {n: m for n, m in module.named_modules() if hasattr(m, "get_delta_weight") and "default" in getattr(m, "scaling", {})}
        for key, value in state.items():
            owner = key.removesuffix(".base_layer.weight").removesuffix(".base_layer.bias")
            delta = scale = rank = None
            if owner in lora and key.endswith(".base_layer.weight"):
                with torch.no_grad():
                    delta = lora[owner].get_delta_weight("default").float()
                scale, rank = float(lora[owner].scaling["default"]), int(lora[owner].r["default"])
            elif owner in lora and key.endswith(".base_layer.bias") and lora[owner].lora_B["default"].bias is not None:
                scale = float(lora[owner].scaling["default"])  # peft's lora_bias merges as bias + scaling · lora_B.bias
                delta = lora[owner].lora_B["default"].bias.detach().float() * scale
            name = hf_prefix + key.replace(".base_layer", "")
            observe(Weight(name, 0, value + delta if delta is not None else value, value, delta, scale, rank))

    def _lora_factors(self, module) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """(A, B, scaling) of a peft-wrapped embedding or head, as peft holds them."""
        if hasattr(module, "lora_embedding_A") and "default" in module.lora_embedding_A:
            return module.lora_embedding_A["default"], module.lora_embedding_B["default"], float(module.scaling["default"])
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            return module.lora_A["default"].weight, module.lora_B["default"].weight, float(module.scaling["default"])
        return None

    def _embed(self, ids: list[int]) -> torch.Tensor:
        rows = torch.stack([self.base_rows(EMBED, i, i + 1)[0] for i in ids])
        factors = self._lora_factors(self.decoder.embed_tokens)
        if factors is not None:  # peft: embedding(x, Aᵀ) @ Bᵀ · scaling
            a, b, scaling = factors
            rows = rows + (a.T[ids] @ b.T) * scaling
        return rows

    def embedding_rows(self, observe: WeightObserver) -> None:
        """The embedding as trained, streamed to ``observe`` in blocks of rows."""
        factors = self._lora_factors(self.decoder.embed_tokens)
        rows = self.ckpt.entries[EMBED].shape[0]
        for start in range(0, rows, HEAD_BLOCK_ROWS):
            stop = min(start + HEAD_BLOCK_ROWS, rows)
            base = self.base_rows(EMBED, start, stop)
            delta = scale = None
            if factors is not None:
                a, b, scale = factors
                delta = (a.T[start:stop] @ b.T) * scale
            rank = factors[0].shape[0] if factors is not None else None
            observe(Weight(EMBED, start, base + delta if delta is not None else base, base, delta, scale, rank))

    def _head_blocks(self) -> Iterable[Weight]:
        factors = self._lora_factors(self.model.lm_head)
        rows = self.config.vocab_size
        for start in range(0, rows, HEAD_BLOCK_ROWS):
            stop = min(start + HEAD_BLOCK_ROWS, rows)
            base = self.base_rows(HEAD, start, stop)
            delta = scale = None
            if factors is not None:  # peft Linear: x @ Aᵀ @ Bᵀ · scaling, i.e. W + scaling · B @ A
                a, b, scale = factors
                delta = (b[start:stop] @ a) * scale
            rank = factors[0].shape[0] if factors is not None else None
            yield Weight(HEAD, start, base + delta if delta is not None else base, base, delta, scale, rank)

    # ---------------------------------------------------------------------------------------- forward

    def _mask(self, h: torch.Tensor, position_ids: torch.Tensor, layer_type: str):
        from transformers import masking_utils

        make = (
            masking_utils.create_sliding_window_causal_mask
            if layer_type == "sliding_attention"
            else masking_utils.create_causal_mask
        )
        return make(config=self.config, inputs_embeds=h, attention_mask=None, cache=None, position_ids=position_ids)

    @torch.no_grad()
    def logits(self, sequences: list[Sequence], observe: WeightObserver | None = None) -> list[torch.Tensor]:
        """fp32 logits of every position of every sequence, one decoder layer in memory at a time.

        With ``observe``, every tensor of the model as trained passes through it once, in order: the
        embedding in row blocks, each layer's tensors, the final norm, the head in row blocks.
        """
        for s in sequences:
            bad = next((i for i in s.ids if not 0 <= i < self.config.vocab_size), None)
            if bad is not None:
                raise ValueError(f"token id {bad} is outside the vocabulary ({self.config.vocab_size})")
        if observe is not None:
            self.embedding_rows(observe)
        hidden = [_rounded(self._embed(s.ids), s.stored_as).unsqueeze(0) for s in sequences]
        positions = [torch.arange(len(s.ids)).unsqueeze(0) for s in sequences]
        rope = [self.rotary(h, p) for h, p in zip(hidden, positions, strict=True)]
        layer_types = getattr(self.config, "layer_types", None) or ["full_attention"] * self.n_layers
        masks = [{t: self._mask(h, p, t) for t in set(layer_types)} for h, p in zip(hidden, positions, strict=True)]
        for i, layer in enumerate(self.decoder.layers):
            with self._materialized(layer, f"{self.prefix}.layers.{i}.", observe) as live:
                exact = [k for k, s in enumerate(sequences) if s.stored_as is None]
                twins = [k for k, s in enumerate(sequences) if s.stored_as is not None]
                for group in (exact, twins):  # the twin rounds the live layer in place: exact runs first
                    if not group:
                        continue
                    with _stored_as(live, sequences[group[0]].stored_as):
                        for k in group:
                            if sequences[k].layers is not None and i not in sequences[k].layers:
                                continue
                            out = live(
                                hidden[k],
                                attention_mask=masks[k][layer_types[i]],
                                position_ids=positions[k],
                                position_embeddings=rope[k],
                            )
                            hidden[k] = out[0] if isinstance(out, tuple) else out
        with self._materialized(self.decoder.norm, f"{self.prefix}.norm.", observe) as norm:
            final = torch.cat([_rounded(norm(h)[0], s.stored_as) for h, s in zip(hidden, sequences, strict=True)])
        stored = [s.stored_as for s in sequences for _ in s.ids]
        twin_rows = torch.tensor([t is not None for t in stored])
        twin_type = next((t for t in stored if t is not None), None)
        logits = torch.empty(final.shape[0], self.config.vocab_size)
        for w in self._head_blocks():
            cols = slice(w.start, w.start + w.value.shape[0])
            logits[:, cols] = final @ w.value.T
            if twin_type is not None:
                logits[twin_rows, cols] = final[twin_rows] @ _rounded(w.value, twin_type).T
            if observe is not None:
                observe(w)
        out, at = [], 0
        for s in sequences:
            out.append(logits[at : at + len(s.ids)])
            at += len(s.ids)
        return out


def _rounded(x: torch.Tensor, stored_as: str | None) -> torch.Tensor:
    return x if stored_as is None else x.to(STORAGE[stored_as]).float()


@contextlib.contextmanager
def _stored_as(layer: torch.nn.Module, stored_as: str | None):
    """The live layer as llama.cpp runs the exported file: LoRA merged (peft's merge), every matrix
    rounded to the storage type, every matmul input rounded to it too. Undone when the block ends
    (the weights themselves are discarded with the layer)."""
    if stored_as is None:
        yield
        return
    merged = [m for m in layer.modules() if hasattr(m, "merge") and "default" in getattr(m, "scaling", {})]
    for m in merged:
        m.merge(adapter_names=["default"])
    hooks = []
    for m in layer.modules():
        if isinstance(m, torch.nn.Linear):
            m.weight.data = _rounded(m.weight.data, stored_as)
            hooks.append(m.register_forward_pre_hook(lambda _m, args: (_rounded(args[0], stored_as), *args[1:])))
    try:
        yield
    finally:
        for h in hooks:
            h.remove()
        for m in merged:
            m.unmerge()
