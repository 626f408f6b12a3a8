"""The architectures the converter knows: how HF config keys and tensors map onto llama.cpp's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gguf
import torch

from ecmiip.core.errors import UnsupportedError


@dataclass(frozen=True)
class ArchSpec:
    hf_name: str
    arch: gguf.MODEL_ARCH
    # llama.cpp's LLAMA graph applies RoPE to interleaved pairs; HF Llama rotates halves, so the
    # converter permutes q/k rows. Qwen2/Qwen3 use NEOX-style RoPE in llama.cpp: no permutation.
    permute_qk: bool

    @property
    def name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.arch]


SUPPORTED: dict[str, ArchSpec] = {
    "Qwen3ForCausalLM": ArchSpec("Qwen3ForCausalLM", gguf.MODEL_ARCH.QWEN3, permute_qk=False),
    "Qwen2ForCausalLM": ArchSpec("Qwen2ForCausalLM", gguf.MODEL_ARCH.QWEN2, permute_qk=False),
    "LlamaForCausalLM": ArchSpec("LlamaForCausalLM", gguf.MODEL_ARCH.LLAMA, permute_qk=True),
}


def spec_for(architecture: str) -> ArchSpec:
    if architecture not in SUPPORTED:
        raise UnsupportedError(
            f"unsupported architecture {architecture}; ec-miip converts: {', '.join(SUPPORTED)}"
        )
    return SUPPORTED[architecture]


def head_dim(config: dict) -> int:
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def rope_theta(config: dict) -> float:
    """transformers 5 moved rope_theta into ``rope_parameters``; accept both layouts."""
    params = config.get("rope_parameters") or {}
    return float(params.get("rope_theta", config.get("rope_theta", 10000.0)))


def rope_scaling(config: dict) -> dict | None:
    params = config.get("rope_scaling") or config.get("rope_parameters") or {}
    kind = params.get("rope_type") or params.get("type") or "default"
    return None if kind == "default" else params


def write_hparams(writer: gguf.GGUFWriter, config: dict, spec: ArchSpec) -> None:
    """Hyper-parameters in llama.cpp's keys; a RoPE scaling it cannot reproduce is refused."""
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config.get("num_key_value_heads") or config["num_attention_heads"])
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    hd = head_dim(config)
    writer.add_key_length(hd)
    writer.add_value_length(hd)
    writer.add_rope_dimension_count(hd)
    scaling = rope_scaling(config)
    if scaling is not None:
        kind = scaling.get("rope_type") or scaling.get("type")
        if kind == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(scaling["factor"])
        elif kind == "yarn":
            writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            writer.add_rope_scaling_factor(scaling["factor"])
            writer.add_rope_scaling_orig_ctx_len(scaling["original_max_position_embeddings"])
        else:
            raise UnsupportedError(f"RoPE scaling type {kind!r} is not supported by the converter (linear, yarn are)")


def _permute(w: torch.Tensor, n_head: int) -> torch.Tensor:
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tensor_transform(spec: ArchSpec, config: dict, hf_name: str) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A reshaping the converter must apply to this tensor, or None."""
    if not spec.permute_qk:
        return None
    if hf_name.endswith("self_attn.q_proj.weight") or hf_name.endswith("self_attn.q_proj.bias"):
        n = config["num_attention_heads"]
    elif hf_name.endswith("self_attn.k_proj.weight") or hf_name.endswith("self_attn.k_proj.bias"):
        n = config.get("num_key_value_heads") or config["num_attention_heads"]
    else:
        return None
    return lambda w: _permute(w, n)


# HF tensors that carry no weights llama.cpp needs.
SKIPPED_SUFFIXES = (".rotary_emb.inv_freq",)
