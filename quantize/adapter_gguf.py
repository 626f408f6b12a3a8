"""A peft LoRA adapter written as llama.cpp's LoRA GGUF, to be applied at load time on the base's GGUF.

Layout, as llama.cpp's loader (``llama-adapter.cpp``) reads it: ``general.type`` = "adapter",
``adapter.type`` = "lora", ``adapter.lora.alpha`` (float32), ``general.architecture`` = the base's, and a
pair of tensors per adapted matrix named after the base GGUF tensor (the converter's own name map, via
``plan_tensors``): ``<name>.lora_a`` = peft's A ``[r, in]`` and ``<name>.lora_b`` = B ``[out, r]`` (numpy
order); for the token embedding llama.cpp looks rows up in A, so ``lora_a`` = Aᵀ ``[vocab, r]``.
Llama-architecture q/k rows are permuted for llama.cpp's RoPE layout, so B's rows are permuted alike.

Scale: llama.cpp applies ``alpha / r`` (× the user's scale) with one alpha per file and each pair's own r;
peft's is ``lora_alpha / r`` (rsLoRA: ``lora_alpha / √r``), per module with ``alpha_pattern``/``rank_pattern``.
The file's alpha is the value that gives most modules peft's scale (``lora_alpha``, or ``lora_alpha·√r`` for
rsLoRA: folded into alpha, so ``alpha / r`` = ``lora_alpha / √r``); a module whose scale still differs has
the ratio folded into its B. Adapters llama.cpp cannot represent as a sum of low-rank products are refused
(see ``_check_representable``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import torch

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.core.outputs import atomic_path
from ecmiip.quantize.adapter import LoraAdapter, LoraPair
from ecmiip.quantize.arch import spec_for, tensor_transform
from ecmiip.quantize.checkpoint import Checkpoint
from ecmiip.quantize.convert import EMBED, HEAD, OUTTYPES, PlannedTensor, _to_numpy, plan_tensors
from ecmiip.quantize.modelcard import read_model_card

LORA_A, LORA_B = ".lora_a", ".lora_b"
TOKEN_EMBD = gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_EMBD] + ".weight"


@dataclass(frozen=True)
class AdapterTensor:
    name: str  # "<base GGUF tensor name>.lora_a" / ".lora_b"
    shape: tuple[int, ...]  # numpy order
    value: Callable[[], torch.Tensor]  # float32, produced when written


def _check_representable(adapter: LoraAdapter, tied: bool) -> None:
    """What llama.cpp's LoRA loader cannot apply, refused with the reason (the merged export still can)."""
    where = adapter.path
    for name, pair in sorted(adapter.pairs.items()):
        if pair.b_bias is not None:
            raise UnsupportedError(
                f"{where}: lora_bias on {name}; llama.cpp's LoRA GGUF has no bias term, so export the merged model "
                "without --adapter-gguf"
            )
        if tied and name == EMBED:
            raise UnsupportedError(
                f"{where}: LoRA on the token embedding of a model with tied embeddings; llama.cpp would apply it to "
                "the output layer too (the same tensor), so export the merged model without --adapter-gguf"
            )
        if tied and name == HEAD:
            raise UnsupportedError(
                f"{where}: LoRA on lm_head of a model with tied embeddings; the base GGUF has no output.weight "
                "for llama.cpp to apply it to, so export the merged model without --adapter-gguf"
            )
    if adapter.replacements:
        name = sorted(adapter.replacements)[0]
        raise UnsupportedError(
            f"{where}: the adapter replaces whole tensors ({name}; modules_to_save or saved embedding layers); "
            "llama.cpp's LoRA GGUF holds only low-rank pairs, so export the merged model without --adapter-gguf"
        )


def _alpha(pairs: dict[str, LoraPair]) -> float:
    """The alpha that gives most pairs their peft scale under llama.cpp's ``alpha / r``."""
    products = Counter(round(p.scale * p.a.shape[0], 6) for p in pairs.values())
    return float(products.most_common(1)[0][0])


class AdapterGGUF:
    """A checked adapter → LoRA GGUF conversion: everything that can fail on bad input fails in the
    constructor, before any output exists; ``write`` then writes the file atomically."""

    def __init__(self, adapter: LoraAdapter, ckpt: Checkpoint, *, outtype: str = "f16", name: str = "ec-miip") -> None:
        if outtype not in OUTTYPES:
            raise InputError(f"unknown output type {outtype}; choose from {', '.join(OUTTYPES)}")
        if not adapter.pairs:
            raise InputError(f"{adapter.path}: the adapter has no LoRA factors to write")
        self.adapter, self.ckpt, self.outtype, self.name = adapter, ckpt, outtype, name
        self.spec = spec_for(ckpt.architecture)
        adapter.check_against(ckpt)
        tied = bool(ckpt.config.get("tie_word_embeddings", False))
        _check_representable(adapter, tied)
        # The base GGUF's own plan (no adapter: a tied model stays tied) gives the names and shapes.
        base_plan = {t.target: t for t in plan_tensors(ckpt, self.spec, None, outtype)}
        self.alpha = _alpha(adapter.pairs)
        self.tensors: list[AdapterTensor] = []
        for hf_name, pair in sorted(adapter.pairs.items(), key=lambda kv: base_order(base_plan, kv[0])):
            planned = base_plan.get(hf_name)
            if planned is None:
                raise InputError(f"{adapter.path}: adapter targets {hf_name}, which has no tensor in a {self.spec.name} GGUF")
            self.tensors.extend(self._pair_tensors(planned, pair))
        self.rescaled = sum(1 for p in adapter.pairs.values() if not _same(p.scale * p.a.shape[0], self.alpha))

    def _pair_tensors(self, planned: PlannedTensor, pair: LoraPair) -> list[AdapterTensor]:
        r = pair.a.shape[0]
        factor = pair.scale * r / self.alpha  # 1 except where alpha_pattern/rank_pattern differ from the file's alpha
        transform = tensor_transform(self.spec, self.ckpt.config, planned.target)

        def lora_b() -> torch.Tensor:
            b = pair.b.float() * factor if not _same(factor, 1.0) else pair.b.float()
            return transform(b) if transform is not None else b

        if pair.embedding:  # A [r, vocab] → rows looked up by token: Aᵀ [vocab, r]; B [dim, r]
            a_shape, a_value = (pair.a.shape[1], r), lambda: pair.a.float().T.contiguous()
        else:
            a_shape, a_value = (r, pair.a.shape[1]), lambda: pair.a.float()
        return [
            AdapterTensor(planned.gguf_name + LORA_A, tuple(a_shape), a_value),
            AdapterTensor(planned.gguf_name + LORA_B, (pair.b.shape[0], r), lora_b),
        ]

    @property
    def nbytes(self) -> int:
        size = 4 if self.outtype == "f32" else 2
        return sum(int(np.prod(t.shape)) * size for t in self.tensors)

    def _write_metadata(self, writer: gguf.GGUFWriter) -> None:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, self.alpha)
        writer.add_name(f"{self.name} LoRA")
        writer.add_finetune("ip-law")
        card = read_model_card(self.ckpt.dir)
        if card.license:
            writer.add_license(card.license)
        base_name = card.base_model or self.ckpt.config.get("_name_or_path") or self.ckpt.dir.name
        writer.add_base_model_count(1)
        writer.add_base_model_name(0, str(base_name))
        writer.add_file_type(OUTTYPES[self.outtype][1])

    def write(self, out_path: Path) -> None:
        qtype = OUTTYPES[self.outtype][0]
        with atomic_path(out_path) as tmp:
            writer = gguf.GGUFWriter(tmp, self.spec.name)
            self._write_metadata(writer)
            for t in self.tensors:
                writer.add_tensor(t.name, _to_numpy(t.value(), qtype), raw_dtype=qtype)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()


def base_order(plan: dict[str, PlannedTensor], hf_name: str) -> int:
    """Adapter tensors in the base GGUF's tensor order (layer by layer), unknown names last."""
    names = list(plan)
    return names.index(hf_name) if hf_name in plan else len(names)


def _same(x: float, y: float) -> bool:
    return abs(x - y) <= 1e-6 * max(abs(x), abs(y), 1.0)

