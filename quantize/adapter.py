"""A peft LoRA adapter, read as per-tensor deltas so it can be merged one base tensor at a time.

Merge rule (peft's): ``W' = W + scale · B @ A`` with ``scale = lora_alpha / r`` (rsLoRA:
``lora_alpha / √r``); embedding LoRA is ``W' = W + scale · (B @ A)ᵀ``; ``modules_to_save`` and saved
embedding layers replace the base tensor outright. Adapter kinds whose merge is not a plain low-rank
sum (DoRA, layer replication, trainable-token deltas...) are refused rather than merged wrongly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.quantize.checkpoint import Checkpoint, load_local_tensor, open_safetensors, read_json

_PREFIX = "base_model.model."
_LORA_KEY = re.compile(r"^(?P<module>.+)\.(?P<kind>lora_A|lora_B|lora_embedding_A|lora_embedding_B)(?:\.(?P<param>weight|bias))?$")

# Config switches whose merge this module does not implement: name -> why it matters.
_UNSUPPORTED_FLAGS = {
    "use_dora": "DoRA rescales each column by a learned magnitude, so the merge is not W + scale·BA",
    "layer_replication": "layer replication changes the number of layers",
    "trainable_token_indices": "trainable-token deltas are stored apart from the embedding",
    "target_parameters": "LoRA on raw parameters (MoE experts) is not supported",
    "use_qalora": "QA-LoRA pools inputs before the adapter",
    "use_bdlora": "block-diagonal LoRA is not a plain low-rank product",
}


@dataclass
class LoraPair:
    """The low-rank factors that target one base weight."""

    a: torch.Tensor
    b: torch.Tensor
    scale: float
    embedding: bool = False
    b_bias: torch.Tensor | None = None

    def delta_rows(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of the delta, without forming the whole delta."""
        if self.embedding:  # (B @ A)ᵀ = Aᵀ @ Bᵀ, rows of Aᵀ are columns of A
            return (self.a[:, start:stop].T.float() @ self.b.T.float()) * self.scale
        return (self.b[start:stop].float() @ self.a.float()) * self.scale


@dataclass
class LoraAdapter:
    """Deltas and replacements keyed by the base model's tensor names."""

    path: Path
    config: dict
    pairs: dict[str, LoraPair] = field(default_factory=dict)  # "<module>.weight" -> factors
    replacements: dict[str, torch.Tensor] = field(default_factory=dict)  # base tensor name -> new value

    @classmethod
    def load(cls, adapter_dir: Path) -> LoraAdapter:
        adapter_dir = Path(adapter_dir)
        config = read_json(adapter_dir / "adapter_config.json")
        _check_supported(adapter_dir, config)
        weights = adapter_dir / "adapter_model.safetensors"
        if not weights.is_file():
            if (adapter_dir / "adapter_model.bin").is_file():
                raise InputError(f"{adapter_dir}: adapter_model.bin is a pickle; ec-miip reads safetensors only")
            raise InputError(f"missing file: {weights}")
        tensors = {name: load_local_tensor(t) for name, t in open_safetensors(weights).items()}
        adapter = cls(adapter_dir, config)
        adapter._index(tensors, weights)
        return adapter

    def _index(self, tensors: dict[str, torch.Tensor], weights: Path) -> None:
        factors: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            name = _strip_adapter_name(key)
            m = _LORA_KEY.match(name)
            if m:
                part = m["kind"] + ("_bias" if m["param"] == "bias" else "")
                factors.setdefault(m["module"], {})[part] = value
            else:
                self.replacements[name] = value
        for module, parts in factors.items():
            embedding = "lora_embedding_A" in parts or "lora_embedding_B" in parts
            a = parts.get("lora_embedding_A" if embedding else "lora_A")
            b = parts.get("lora_embedding_B" if embedding else "lora_B")
            if a is None or b is None:
                raise InputError(f"{weights}: module {module} has only one of its two LoRA factors")
            r = a.shape[0]
            if a.dim() != 2 or b.dim() != 2 or r == 0 or b.shape[1] != r:
                raise InputError(
                    f"{weights}: module {module} has LoRA factors of shapes {list(a.shape)} and {list(b.shape)}, "
                    "which do not multiply (rank mismatch)"
                )
            if not (a.is_floating_point() and b.is_floating_point()):
                raise InputError(f"{weights}: module {module} has LoRA factors of type {a.dtype}/{b.dtype}, not floats")
            alpha = _pattern_value(self.config.get("alpha_pattern") or {}, module, self.config.get("lora_alpha", 8))
            scale = alpha / math.sqrt(r) if self.config.get("use_rslora") else alpha / r
            self.pairs[f"{module}.weight"] = LoraPair(a, b, scale, embedding, parts.get("lora_B_bias"))

    def touches(self, base_name: str) -> bool:
        bias_of = base_name.removesuffix(".bias") + ".weight"
        return (
            base_name in self.pairs
            or base_name in self.replacements
            or (base_name.endswith(".bias") and bias_of in self.pairs and self.pairs[bias_of].b_bias is not None)
        )

    def check_against(self, base: Checkpoint) -> None:
        """Every adapter tensor must land on a base tensor of a matching shape; the first mismatch is named."""
        for name, pair in self.pairs.items():
            shape = _base_shape(name, base)
            if shape is None:
                raise InputError(
                    f"{self.path}: adapter targets {name}, which the base model {base.dir} does not have "
                    "(adapter trained for another base?)"
                )
            out_dim, in_dim = (shape[1], shape[0]) if pair.embedding else (shape[0], shape[1])
            if pair.b.shape[0] != out_dim or pair.a.shape[1] != in_dim:
                raise InputError(
                    f"{self.path}: adapter tensor for {name} does not fit the base (adapter trained for another base?): "
                    f"lora_A {list(pair.a.shape)} × lora_B {list(pair.b.shape)} gives a delta of "
                    f"[{pair.b.shape[0]}, {pair.a.shape[1]}], base tensor {name} is {list(shape)}"
                )
            if pair.b_bias is not None and name.removesuffix(".weight") + ".bias" not in base:
                raise UnsupportedError(f"{self.path}: lora_bias on {name}, but the base layer has no bias to merge it into")
        for name, value in self.replacements.items():
            base_shape = _base_shape(name, base)
            if base_shape is None:
                raise InputError(
                    f"{self.path}: adapter holds a full tensor {name} that the base model {base.dir} does not have"
                )
            if tuple(value.shape) != tuple(base_shape):
                raise InputError(
                    f"{self.path}: adapter tensor {name} has shape {list(value.shape)}, base tensor is {list(base_shape)} "
                    "(adapter trained for another base, or a resized vocabulary?)"
                )

    def merge(self, name: str, base_value: torch.Tensor, start: int = 0) -> torch.Tensor:
        """The merged value of rows ``start:start + len(base_value)`` of one base tensor, in float32."""
        stop = start + (base_value.shape[0] if base_value.dim() else 1)
        # A saved base layer (peft's save_embedding_layers) or modules_to_save copy replaces the base
        # value; a LoRA delta on the same tensor still applies on top of it.
        replacement = self.replacements.get(name)
        out = (base_value if replacement is None else replacement[start:stop]).float()
        if name in self.pairs:
            out = out + self.pairs[name].delta_rows(start, stop)
        elif name.endswith(".bias"):
            pair = self.pairs.get(name.removesuffix(".bias") + ".weight")
            if pair is not None and pair.b_bias is not None:
                out = out + pair.b_bias.float() * pair.scale
        return out


def _strip_adapter_name(key: str) -> str:
    name = key.removeprefix(_PREFIX)
    return name.replace(".modules_to_save.default", "").replace(".base_layer", "")


def _pattern_value(patterns: dict, module: str, default: float) -> float:
    for key, value in patterns.items():
        if re.match(rf"(.*\.)?{key}$", module):
            return value
    return default


def _base_shape(name: str, base: Checkpoint) -> tuple[int, ...] | None:
    """Shape of the base tensor ``name``; a tied model's head is its embedding matrix."""
    if name in base:
        return base.entries[name].shape
    if name == "lm_head.weight" and base.config.get("tie_word_embeddings") and "model.embed_tokens.weight" in base:
        return base.entries["model.embed_tokens.weight"].shape
    return None


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_types(where: Path, config: dict) -> None:
    """The keys the merge reads have the types it needs; the first wrong one is named."""
    kind = config.get("peft_type", "LORA")
    if not isinstance(kind, str):
        raise InputError(f"{where}: peft_type must be a name such as \"LORA\", not {kind!r:.80}")
    alpha = config.get("lora_alpha", 8)
    if not _is_number(alpha) or alpha <= 0:
        raise InputError(f"{where}: lora_alpha must be a positive number, not {alpha!r:.80}")
    r = config.get("r")
    if r is not None and not (isinstance(r, int) and not isinstance(r, bool) and r > 0):
        raise InputError(f"{where}: r must be a positive integer, not {r!r:.80}")
    patterns = config.get("alpha_pattern")
    if patterns is not None and not (
        isinstance(patterns, dict) and all(_is_number(v) and v > 0 for v in patterns.values())
    ):
        raise InputError(f"{where}: alpha_pattern must map module names to positive numbers, not {patterns!r:.80}")
    for key in patterns or {}:
        try:
            re.compile(key)
        except re.error as e:
            raise InputError(f"{where}: alpha_pattern key {key!r:.80} is not a valid pattern ({e})") from e
    for flag in ("use_rslora", "fan_in_fan_out", "use_dora"):
        if config.get(flag) is not None and not isinstance(config[flag], bool):
            raise InputError(f"{where}: {flag} must be true or false, not {config[flag]!r:.80}")


def _check_supported(adapter_dir: Path, config: dict) -> None:
    where = adapter_dir / "adapter_config.json"
    _check_types(where, config)
    kind = config.get("peft_type", "LORA")
    if kind != "LORA":
        raise UnsupportedError(f"{where}: adapter type {kind} cannot be merged; only LoRA adapters are supported")
    for flag, why in _UNSUPPORTED_FLAGS.items():
        if config.get(flag):
            raise UnsupportedError(f"{where}: {flag} is set; {why}, so this exporter refuses to merge it")
    if config.get("fan_in_fan_out"):
        raise UnsupportedError(f"{where}: fan_in_fan_out (Conv1D layers) is not used by the supported architectures")
