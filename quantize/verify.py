"""Checks that an exported GGUF answers as the trained model does.

Gated (export fails): tokenizer parity, logits parity of the 16/32-bit GGUF with the HF model
(base + adapter, unmerged: the model as trained), chat-template parity, Modelfile TEMPLATE parity.
Reported only: quantization drift (KL, top-1 agreement, perplexity) of each quant against F16.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ecmiip.core.errors import InputError
from ecmiip.core.statutes import all_articles
from ecmiip.quantize.llama_log import captured_llama_log

MIXED_TEXTS = [
    "依照《中华人民共和国专利法》第十一条的规定，未经许可实施他人专利，构成侵权。",
    "Article 11 of the Patent Law (2020修正), 第11条 / Art.11 — see §3.2(a)!",
    "商标注册号：No.12345678，申请日2019-04-23；赔偿金额￥500,000.00元（人民币伍拾万元整）。",
    "“合理使用”与'fair use'：Section 107 of 17 U.S.C.; 《著作权法》第二十四条（一）至（十三）项。",
    "  leading spaces, tabs\tand\nnewlines\n\n中文\u3000全角空格　and emoji 😀 ©®™ 1/2 ½ Ⅻ",
    "<|im_start|>user\n专利权的保护期限是多久？<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 ０１２３４５６７８９ ＡＢＣ",
    "1234567890123 3.14159 -42 1e-5 0x1F 2023年12月11日 第一百零五条 100%",
    "甲公司诉乙公司侵害发明专利权纠纷案：原告主张被告产品落入权利要求1的保护范围，被告以现有技术抗辩。",
    "Don't, won't, it's, we're, I'll, they'd — can't stop; 'quoted' \"double\" `code` {json: [1, 2]}",
]

LOGIT_PROMPTS = [
    "根据《中华人民共和国商标法》第五十七条，下列行为属于侵犯注册商标专用权：",
    "The patent holder sued the defendant for infringement because",
    "问：著作权的合理使用有哪些情形？\n答：",
    "<|im_start|>user\n什么是商业秘密？<|im_end|>\n<|im_start|>assistant\n",
]


def held_out_text(max_chars: int = 1200) -> str:
    """Legal text for drift measurements: every 97th article of the corpus, a spread across laws."""
    parts, total = [], 0
    for article in all_articles()[::97]:
        parts.append(f"{article.citation}：{article.text}")
        total += len(parts[-1])
        if total >= max_chars:
            break
    return "\n".join(parts)[:max_chars]


@dataclass
class Check:
    name: str
    passed: bool | None  # None: reported, not gated (or skipped)
    summary: str
    details: dict = field(default_factory=dict)


class _Truncated(Exception):
    pass


def _gguf_extent(data) -> tuple[int, int]:
    """(bytes the tensors' data needs, tensor count) from a GGUF's header and tensor table alone.

    gguf.GGUFReader decodes every vocabulary string into numpy arrays (seconds for a 150k vocabulary);
    this walks the same structure with struct reads only.
    """
    import struct

    import gguf

    size = len(data)
    pos = 0

    def take(fmt: str):
        nonlocal pos
        n = struct.calcsize(fmt)
        if pos + n > size:
            raise _Truncated
        out = struct.unpack_from(fmt, data, pos)
        pos += n
        return out[0] if len(out) == 1 else out

    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def skip_value(vtype: int, depth: int = 0) -> object:
        nonlocal pos
        if vtype == 8:  # string
            n = take("<Q")
            if pos + n > size:
                raise _Truncated
            pos += n
            return bytes(data[pos - n : pos]) if n < 64 else None
        if vtype == 9:  # array
            if depth > 2:
                raise ValueError("arrays nested too deeply")
            etype, count = take("<I"), take("<Q")
            if count > size:
                raise _Truncated
            if etype in scalar:
                n = struct.calcsize(scalar[etype]) * count
                if pos + n > size:
                    raise _Truncated
                pos += n
            else:
                for _ in range(count):
                    skip_value(etype, depth + 1)
            return None
        if vtype not in scalar:
            raise ValueError(f"unknown metadata type {vtype}")
        return take(scalar[vtype])

    if take("<4s") != b"GGUF":
        raise ValueError("no GGUF magic")
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not supported")
    if n_tensors > size or n_kv > size:
        raise _Truncated
    alignment = 32
    for _ in range(n_kv):
        key = skip_value(8)
        vtype = take("<I")
        value = skip_value(vtype)
        if key == b"general.alignment" and isinstance(value, int) and value > 0:
            alignment = value
    ends = []
    for _ in range(n_tensors):
        skip_value(8)
        n_dims = take("<I")
        if n_dims > 8:
            raise ValueError(f"a tensor with {n_dims} dimensions")
        dims = [take("<Q") for _ in range(n_dims)]
        ttype, offset = take("<I"), take("<Q")
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ttype)]
        n = 1
        for d in dims:
            n *= d
        ends.append(offset + n // block * type_size)
    data_start = -(-pos // alignment) * alignment
    return data_start + max(ends, default=0), n_tensors


def check_gguf(path: Path) -> None:
    """A complete GGUF file, or InputError naming it: truncated downloads and copies are common, and
    llama.cpp itself only says that it failed to load."""
    import mmap

    path = Path(path)
    if not path.is_file():
        raise InputError(f"GGUF not found: {path}" if not path.exists() else f"{path}: not a file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        magic = f.read(4)
        if magic != b"GGUF":
            raise InputError(f"{path}: not a GGUF file (it starts with {magic!r}, not b'GGUF')")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                needed, n_tensors = _gguf_extent(data)
            except _Truncated:
                raise InputError(f"{path}: truncated GGUF: it ends inside its header ({size:,} bytes); export it again") from None
            except (ValueError, KeyError, OverflowError) as e:
                raise InputError(f"{path}: corrupt GGUF header ({str(e)[:120]}); export it again") from e
    if n_tensors == 0:
        raise InputError(f"{path}: the GGUF holds no tensors")
    if needed > size:
        raise InputError(f"{path}: truncated GGUF: its tensors need {needed:,} bytes, the file has {size:,}; export it again")


@contextlib.contextmanager
def _quiet_llama(path: Path, **kwargs):
    from llama_cpp import Llama

    with captured_llama_log() as log:
        try:
            llm = Llama(str(path), verbose=False, **kwargs)
        except ValueError as e:  # llama.cpp says only "failed to load"; its log says why
            tail = " / ".join(line.strip() for line in log[-4:] if line.strip())
            raise InputError(f"{path}: llama.cpp cannot load this GGUF ({e}; {tail[:300]})") from e
    try:
        yield llm
    finally:
        with captured_llama_log():
            llm.close()


def _llama_tokenize(llm, text: str, *, special: bool, add_bos: bool = False) -> list[int]:
    return llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)


def check_tokenizer(gguf_path: Path, hf_tokenizer, texts: list[str] | None = None) -> Check:
    """Identical ids for every statute article and the mixed texts, with and without special parsing."""
    corpus = texts if texts is not None else [a.text for a in all_articles()] + MIXED_TEXTS
    mismatches: list[dict] = []
    total = 0
    with _quiet_llama(gguf_path, vocab_only=True) as llm:
        for text in corpus:
            total += 1
            hf_ids = hf_tokenizer(text, add_special_tokens=False)["input_ids"]
            ll_ids = _llama_tokenize(llm, text, special=True)
            if hf_ids != ll_ids:
                first = next((i for i, (a, b) in enumerate(zip(hf_ids, ll_ids, strict=False)) if a != b), min(len(hf_ids), len(ll_ids)))
                mismatches.append({"text": text[:80], "position": first, "hf": hf_ids[first : first + 5], "llama": ll_ids[first : first + 5]})
        # add_bos / add_eos flags: the same special tokens around a plain text.
        total += 1
        hf_full = hf_tokenizer(MIXED_TEXTS[0])["input_ids"]
        add_bos = bool(llm.metadata.get("tokenizer.ggml.add_bos_token", "false") == "true")
        ll_full = _llama_tokenize(llm, MIXED_TEXTS[0], special=True, add_bos=add_bos)
        if llm.metadata.get("tokenizer.ggml.add_eos_token") == "true":
            ll_full = ll_full + [llm.token_eos()]
        if hf_full != ll_full:
            mismatches.append({"text": "(with special tokens added)", "hf": hf_full[:4], "llama": ll_full[:4]})
    agree = total - len(mismatches)
    return Check(
        "tokenizer parity",
        not mismatches,
        f"{agree}/{total} texts tokenized identically ({100 * agree / total:.2f} %)",
        {"texts": total, "identical": agree, "mismatches": mismatches[:10]},
    )


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def llama_logits(gguf_path: Path, tokens: list[int]) -> np.ndarray:
    """Logits at every position, as llama.cpp computes them."""
    with _quiet_llama(gguf_path, n_ctx=max(64, len(tokens) + 8), logits_all=True, n_batch=512) as llm:
        llm.reset()
        llm.eval(tokens)
        return np.array(llm.scores[: len(tokens)], dtype=np.float32)


def load_hf_model(hf_dir: Path, adapter_dir: Path | None):
    """The model as trained: base plus the unmerged adapter. fp32 up to 2B parameters, bf16 above."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own status line says what is loading
    # Local folders only (the callers checked they exist): never a hub lookup, never a pickle.
    config = AutoConfig.from_pretrained(hf_dir, trust_remote_code=False, local_files_only=True)
    big = getattr(config, "num_hidden_layers", 0) * getattr(config, "hidden_size", 0) ** 2 * 12 > 2e9
    model = AutoModelForCausalLM.from_pretrained(
        hf_dir, dtype=torch.bfloat16 if big else torch.float32, trust_remote_code=False, local_files_only=True,
        use_safetensors=True,
    )
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir, local_files_only=True, use_safetensors=True)
    return model.eval()


def check_logits(gguf_path: Path, hf_model, hf_tokenizer, *, tolerance: float) -> Check:
    """Top-1 agreement and max |Δlogit| of the GGUF against the HF model on a few prompts.

    Gate: max |Δ| within ``tolerance`` (scaled by the logits' spread) and top-1 agreement at every
    position where HF's top choice leads by more than that tolerance (closer calls are rounding ties).
    """
    rows = []
    for prompt in LOGIT_PROMPTS:
        ids = hf_tokenizer(prompt, add_special_tokens=True)["input_ids"]
        with torch.no_grad():
            ref = hf_model(torch.tensor([ids])).logits[0].float().numpy()
        got = llama_logits(gguf_path, ids)
        diff = np.abs(ref - got)
        spread = float(ref.std())
        top2 = np.sort(ref, axis=-1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > tolerance * max(spread, 1.0)
        agree = ref.argmax(-1) == got.argmax(-1)
        rows.append(
            {
                "prompt": prompt[:40],
                "tokens": len(ids),
                "max_abs_diff": float(diff.max()),
                "mean_abs_diff": float(diff.mean()),
                "logit_std": spread,
                "top1_agreement": float(agree.mean()),
                "top1_disagree_clear": int((~agree & clear).sum()),
            }
        )
    worst = max(r["max_abs_diff"] / max(r["logit_std"], 1.0) for r in rows)
    top1 = float(np.mean([r["top1_agreement"] for r in rows]))
    clear_misses = sum(r["top1_disagree_clear"] for r in rows)
    passed = worst <= tolerance and clear_misses == 0
    return Check(
        "logits parity",
        passed,
        f"top-1 agreement {100 * top1:.1f} %, max |Δ| {max(r['max_abs_diff'] for r in rows):.4g} "
        f"({worst:.3g} × logit std; limit {tolerance})",
        {"prompts": rows, "tolerance": tolerance},
    )


def check_drift(reference: Path, quants: dict[str, Path], tokenizer, text: str | None = None) -> list[Check]:
    """KL(ref ‖ quant), top-1 agreement and perplexity on held-out legal text — reported, not gated."""
    ids = tokenizer(text or held_out_text(), add_special_tokens=True)["input_ids"][:512]
    ref_lp = _log_softmax(llama_logits(reference, ids))
    targets = np.array(ids[1:])

    def ppl(lp: np.ndarray) -> float:
        return float(math.exp(-lp[np.arange(len(targets)), targets].mean()))

    checks = []
    ref_ppl = ppl(ref_lp[:-1])
    for name, path in quants.items():
        lp = _log_softmax(llama_logits(path, ids))
        kl = float((np.exp(ref_lp) * (ref_lp - lp)).sum(-1).mean())
        top1 = float((ref_lp.argmax(-1) == lp.argmax(-1)).mean())
        q_ppl = ppl(lp[:-1])
        checks.append(
            Check(
                f"drift {name}",
                None,
                f"KL {kl:.4f}, top-1 {100 * top1:.1f} %, PPL {q_ppl:.3f} (reference {ref_ppl:.3f})",
                {"tokens": len(ids), "mean_kl": kl, "top1_agreement": top1, "ppl": q_ppl, "reference_ppl": ref_ppl},
            )
        )
    return checks


def check_chat_template(gguf_path: Path, hf_tokenizer, conversations) -> Check:
    """llama.cpp's rendering of the template embedded in the GGUF equals HF ``apply_chat_template``."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    with _quiet_llama(gguf_path, vocab_only=True) as llm:
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            return Check("chat-template parity", False, "the GGUF has no tokenizer.chat_template")
        eos = llm.detokenize([llm.token_eos()], special=True).decode() if llm.token_eos() >= 0 else ""
        bos = llm.detokenize([llm.token_bos()], special=True).decode() if llm.token_bos() >= 0 else ""
    formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
    mismatches = []
    for i, conv in enumerate(conversations):
        messages, kwargs = conv.to_hf()
        expected = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
        got = formatter(messages=messages, **kwargs).prompt
        if got != expected:
            mismatches.append({"conversation": i, "hf": expected[-120:], "llama.cpp": got[-120:]})
    n = len(conversations)
    return Check(
        "chat-template parity",
        not mismatches,
        f"{n - len(mismatches)}/{n} conversations rendered identically",
        {"mismatches": mismatches},
    )


def check_modelfile_template(template, hf_tokenizer, conversations, system: str) -> Check:
    """Go's own text/template renders the Modelfile TEMPLATE exactly as HF renders the chat template,
    with the Modelfile's SYSTEM applied the way Ollama applies it."""
    import shutil

    from ecmiip.quantize.modelfile import template_mismatches

    if shutil.which("go") is None:
        return Check("Modelfile TEMPLATE parity", None, "skipped: Go is not installed (apt install golang-go)")
    mismatches = template_mismatches(template, hf_tokenizer, conversations, modelfile_system=system)
    n = len(conversations)
    return Check(
        "Modelfile TEMPLATE parity",
        not mismatches,
        f"{n - len(mismatches)}/{n} conversations rendered identically by Go text/template",
        {"mismatches": [{"conversation": c.label, "hf": hf[-160:], "go": go[-160:]} for c, hf, go in mismatches]},
    )


def report_dict(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
