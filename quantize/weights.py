"""Weight parity: every tensor of the exported GGUF against the model as trained, and what is wrong if not.

Rule: an exported float tensor may differ from base + LoRA delta (computed by peft, in fp32) only by the
rounding of its storage type: |got − expected| ≤ u·|expected| + floor, with u the type's unit roundoff
(F16 2⁻¹¹, BF16 2⁻⁸, F32 0), floor the half-spacing of F16's subnormals, plus 10⁻⁶ of the operands for
the merge's fp32 summation order. Anything more is a fault, and the checker says which kind: a LoRA
delta missing or scaled by the wrong factor, Q/K rows in the wrong RoPE order, a head tied or untied
the wrong way, a tensor missing, misshapen or overflowing. It runs as the reference's weight observer,
so each tensor is read once, compared and forgotten.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import gguf
import torch

from ecmiip.quantize.arch import ArchSpec, _permute
from ecmiip.quantize.gguf_file import GGUFFile
from ecmiip.quantize.reference import HEAD, Weight

UNIT_ROUNDOFF = {
    gguf.GGMLQuantizationType.F32: 0.0,
    gguf.GGMLQuantizationType.F16: 2.0**-11,
    gguf.GGMLQuantizationType.BF16: 2.0**-8,
}
F16_FLOOR = 2.0**-25  # half the spacing of F16's subnormals
MERGE_SLACK = 1e-6  # fp32 summation order of W + scale·B@A, relative to |W| + |ΔW|
MAX_FINDINGS = 12
EXCESS_CHUNK = 1 << 20


@dataclass
class Finding:
    tensor: str
    fault: str


@dataclass
class WeightParity:
    """Observer for ``Reference.logits``: compares each weight with the GGUF's tensor as it passes."""

    gguf_file: GGUFFile
    spec: ArchSpec
    config: dict
    embedding_rows: Callable[[int, int], torch.Tensor]  # base embedding rows, for the tied-head diagnosis
    findings: list[Finding] = field(default_factory=list)
    compared: int = 0
    worst: float = 0.0  # largest |Δ| / allowed over all elements
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tmap = gguf.get_tensor_name_map(self.spec.arch, self.config["num_hidden_layers"])
        self.tied = bool(self.config.get("tie_word_embeddings", False))

    def gguf_name(self, hf_name: str) -> str | None:
        if hf_name == HEAD:  # llama.cpp scores with token_embd when the file has no output tensor
            return "output.weight" if "output.weight" in self.gguf_file.tensors else "token_embd.weight"
        return self.tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))

    def __call__(self, w: Weight) -> None:
        name = self.gguf_name(w.name)
        if name is None:
            return
        self.seen.add(name)
        if name not in self.gguf_file.tensors:
            if w.start == 0:
                self._found(name, f"missing from the GGUF (the model has {w.name} {list(w.value.shape)})")
            return
        info = self.gguf_file.tensors[name]
        rows = w.value.shape[0] if w.value.dim() > 1 else 1
        if (info.shape[1:] if w.value.dim() > 1 else info.shape) != tuple(w.value.shape[1:] if w.value.dim() > 1 else w.value.shape):
            if w.start == 0:
                self._found(name, f"shape {list(info.shape)} in the GGUF, {w.name} is {list(w.value.shape)}")
            return
        if info.qtype not in UNIT_ROUNDOFF:
            return  # a quantized reference: compared through the logits only
        expected = self._layout(w.name, w.value)
        got = torch.from_numpy(self.gguf_file.rows(name, w.start, w.start + rows) if w.value.dim() > 1 else self.gguf_file.rows(name))
        ratio = self._excess(got, expected, w, UNIT_ROUNDOFF[info.qtype])
        self.compared += 1
        self.worst = max(self.worst, ratio)
        if ratio > 1.0:
            self._found(name, self._diagnose(name, got, expected, w, UNIT_ROUNDOFF[info.qtype]))

    def _layout(self, hf_name: str, value: torch.Tensor) -> torch.Tensor:
        """HF layout → the row order llama.cpp's graph expects for this architecture."""
        heads = self._qk_heads(hf_name)
        return _permute(value, heads) if heads and self.spec.permute_qk else value

    def _qk_heads(self, hf_name: str) -> int | None:
        if ".self_attn.q_proj." in hf_name:
            return self.config["num_attention_heads"]
        if ".self_attn.k_proj." in hf_name:
            return self.config.get("num_key_value_heads") or self.config["num_attention_heads"]
        return None

    def _excess(self, got: torch.Tensor, expected: torch.Tensor, w: Weight, u: float) -> float:
        """Largest |got − expected| / allowed, a million elements at a time (temporaries stay small)."""
        if not torch.isfinite(got).all():
            return math.inf
        g, e = got.reshape(-1), expected.reshape(-1)
        b = self._layout(w.name, w.base).reshape(-1)
        d = self._layout(w.name, w.delta).reshape(-1) if w.delta is not None else None
        worst = 0.0
        for i in range(0, g.numel(), EXCESS_CHUNK):
            part = slice(i, i + EXCESS_CHUNK)
            operands = b[part].abs() if d is None else b[part].abs() + d[part].abs()
            allowed = operands.mul_(MERGE_SLACK).add_(e[part].abs(), alpha=u).add_(F16_FLOOR)
            worst = max(worst, float((g[part] - e[part]).abs_().div_(allowed).max()))
        return worst

    def _found(self, name: str, fault: str) -> None:
        if any(f.tensor == name for f in self.findings):
            return  # a tensor streamed in row blocks is reported once
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(name, fault))
        elif len(self.findings) == MAX_FINDINGS:
            self.findings.append(Finding("…", "more tensors differ"))

    def _close(self, got: torch.Tensor, expected: torch.Tensor, u: float) -> bool:
        scale = float(expected.abs().max()) or 1.0
        return float((got - expected).abs().max()) <= 4 * max(u, 1e-6) * scale

    def _diagnose(self, name: str, got: torch.Tensor, expected: torch.Tensor, w: Weight, u: float) -> str:
        if not torch.isfinite(got).all():
            big = float(w.value.abs().max())
            hint = "; values beyond ±65504 overflow F16: export with --outtype bf16" if big > 65504 else ""
            return f"holds inf or NaN (largest value of the trained tensor {big:.4g}){hint}"
        heads = self._qk_heads(w.name)
        if heads:
            interleaved, halves = _permute(w.value, heads), w.value
            if self.spec.permute_qk and self._close(got, halves, u):
                return (f"rows in HF's half-split RoPE order, but llama.cpp's {self.spec.name} graph rotates interleaved "
                        "pairs: the Q/K permutation was not applied")
            if not self.spec.permute_qk and self._close(got, interleaved, u):
                return (f"rows permuted into LLaMA's interleaved RoPE order, but llama.cpp's {self.spec.name} graph uses "
                        "NEOX (half-split) RoPE: the converter applied the LLaMA Q/K permutation to the wrong architecture")
        if w.delta is not None:
            # Fit got = base + s·delta, in place and flat (a 4 B projection is 100 MB per copy). The fit
            # holds when what is left is within 5 % of the fitted delta or within the stored tensor's own
            # rounding (a scaled fault scales that rounding too).
            delta = self._layout(w.name, w.delta).reshape(-1)
            off = got.reshape(-1) - self._layout(w.name, w.base).reshape(-1)
            norm = float(torch.dot(delta, delta))
            if norm > 0:
                s = float(torch.dot(off, delta)) / norm
                resid = float(off.sub_(delta, alpha=s).norm())
                del off
                if resid <= 0.05 * abs(s) * math.sqrt(norm) + 4 * u * float(got.norm()):
                    if abs(s) < 0.02:
                        return "the LoRA delta is missing: the tensor equals the base weight"
                    if abs(s - 1) > 0.02:  # s ≈ 1: the delta is right and the fault is elsewhere
                        return self._scale_fault(s, w)
        if w.name == HEAD:
            fault = self._head_fault(name, got, w.start, u)
            if fault:
                return fault
        diff = (got - expected).abs()
        row = int(diff.max(dim=-1).values.argmax()) if diff.dim() > 1 else 0
        rel = float(diff.max()) / (float(expected.abs().max()) or 1.0)
        return (f"differs from the model as trained: max |Δ| {float(diff.max()):.4g} at row {w.start + row} "
                f"({rel:.2e} of the tensor's largest value; {u:.2e} allowed by its storage type)")

    @staticmethod
    def _scale_fault(s: float, w: Weight) -> str:
        scale = w.scale or 0.0
        msg = f"the LoRA delta is scaled {s:.4g}× too {'much' if abs(s) > 1 else 'little'}: peft's scaling is {scale:.4g}, the file's {scale * s:.4g}"
        if w.rank:
            if math.isclose(s, math.sqrt(w.rank), rel_tol=0.02):
                msg += " (lora_alpha/√r where the adapter uses lora_alpha/r: rsLoRA applied to a plain LoRA adapter?)"
            elif math.isclose(s, 1 / math.sqrt(w.rank), rel_tol=0.02):
                msg += " (lora_alpha/r where the adapter uses rsLoRA's lora_alpha/√r)"
            elif math.isclose(s, 1 / scale, rel_tol=0.02) if scale else False:
                msg += " (the scaling lora_alpha/r was not applied)"
        return msg

    def _head_fault(self, name: str, got: torch.Tensor, start: int, u: float) -> str | None:
        if name == "token_embd.weight":
            why = "the model's head is lm_head.weight (tie_word_embeddings is false)" if not self.tied else (
                "the trained head is the base embedding, but the adapter changed token_embd (the export must untie it)")
            return f"output.weight is missing, so llama.cpp scores with token_embd.weight; {why}"
        if self.tied:
            return ("output.weight is not the embedding matrix the model ties its head to (tie_word_embeddings is true): "
                    "the head was untied and filled from elsewhere")
        if self._close(got, self.embedding_rows(start, start + got.shape[0]), u):
            return "output.weight holds the embedding matrix, not lm_head.weight: the head was tied for an untied model"
        return None

    def finish(self) -> None:
        """Tensors in the GGUF that the model does not have (other than llama.cpp's own extras)."""
        extra = sorted(set(self.gguf_file.tensors) - self.seen - {"rope_freqs.weight"})
        for name in extra[:3]:
            self._found(name, "in the GGUF but not in the model")
