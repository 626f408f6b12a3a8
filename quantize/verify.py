"""Checks that an exported GGUF answers as the trained model does.

Gated (export fails): tokenizer parity, logits parity of the 16/32-bit GGUF with the HF model
(base + adapter, unmerged: the model as trained), chat-template parity, Modelfile TEMPLATE parity.
Reported only: quantization drift (KL, top-1 agreement, perplexity) of each quant against F16.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ecmiip.core.chat_template import from_llama, from_tokenizer
from ecmiip.core.errors import InputError
from ecmiip.core.llama import loaded_llama
from ecmiip.core.statutes import all_articles

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
    """Legal text the model never trained on, for drift measurements: the start of the quant ladder's
    held-out text (``heldout.py``: bench/samples case facts and questions), so both report on the same text."""
    from ecmiip.quantize.heldout import heldout_text

    return heldout_text()[:max_chars]


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


def _quiet_llama(path: Path, **kwargs):
    """The GGUF loaded for a check: log captured, CPU repack buffers off (a check runs a few hundred tokens)."""
    return loaded_llama(path, repack=False, **kwargs)


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


CHUNK = 32  # tokens per llama.cpp decode: its logits buffers hold one chunk, not the whole text


def _decode_chunks(llm, tokens: list[int]):
    """(first position, logits of each position in the chunk) as llama.cpp computes them, chunk by chunk.

    The arrays are views of llama.cpp's own buffer, valid until the next chunk: callers reduce or copy.
    Decoding through the C API asks for every position's logits without llama-cpp-python's
    ``logits_all``, which keeps a second n_ctx × vocabulary copy (160 MiB at Qwen3's vocabulary).
    """
    import llama_cpp

    n_vocab = llm.n_vocab()
    batch = llama_cpp.llama_batch_init(CHUNK, 0, 1)
    try:
        llm.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), True)
        for start in range(0, len(tokens), CHUNK):
            piece = tokens[start : start + CHUNK]
            batch.n_tokens = len(piece)
            for i, token in enumerate(piece):
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, start + i, 1, True
                batch.seq_id[i][0] = 0
            rc = llama_cpp.llama_decode(llm.ctx, batch)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc} at position {start}")
            logits = llama_cpp.llama_get_logits(llm.ctx)
            yield start, np.ctypeslib.as_array(logits, shape=(len(piece), n_vocab))
    finally:
        llama_cpp.llama_batch_free(batch)


def _load_for_logits(gguf_path: Path, longest: int):
    return _quiet_llama(gguf_path, n_ctx=max(64, longest + 8), n_batch=CHUNK, n_ubatch=CHUNK)


def llama_logits(gguf_path: Path, sequences: list[list[int]]) -> list[np.ndarray]:
    """Logits at every position of each (short) sequence, as llama.cpp computes them, from one load."""
    out = []
    with _load_for_logits(gguf_path, max(len(s) for s in sequences)) as llm:
        for tokens in sequences:
            out.append(np.concatenate([chunk.copy() for _, chunk in _decode_chunks(llm, tokens)]))
    return out


def llama_logit_chunks(gguf_path: Path, tokens: list[int]):
    """``(start, logits)`` chunks of one long sequence, with one GGUF loaded for the duration."""
    with _load_for_logits(gguf_path, len(tokens)) as llm:
        yield from _decode_chunks(llm, tokens)


TWIN_GATE = 3.0


def logits_tolerance(outtype: str, twin_ratio: float) -> float:
    """The logits gate: max |Δlogit| of llama.cpp against the fp32 reference, in units of the logits' std.

    What F16 (BF16) storage can change in the logits depends on the model — depth, width, activation
    outliers — so it is measured on the model itself: the reference's *rounding twin* runs the same
    prompts with every matrix rounded to the storage type after merging and every matmul input rounded
    too, as llama.cpp's CPU kernels do (``twin_ratio``: its max |Δ| from the exact reference, same units).
    llama.cpp itself lands at 0.9–1.3× the twin's distance on every model and depth measured (tiny
    Qwen3 with 2 and 8 layers, SmolLM2 with 30, the 4 B shape; F16 and BF16; whole and sliced; see
    ``bench/logits_gate.py``); its remaining differences (F16 KV cache, summation order) are of the same
    size. The gate allows 3× the twin: loose enough for every honest export, while one wrong tensor moves
    the logits by whole standard deviations. F32 files round nothing; their gate is 10⁻³.
    """
    if outtype == "f32":
        return 1e-3
    return max(TWIN_GATE * twin_ratio, 1e-4)


def logit_distance(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    """max |Δ| / max(std, 1) over the sequences: the unit the logits gate is stated in."""
    return max(float(np.abs(r - o).max()) / max(float(r.std()), 1.0) for r, o in zip(reference, other, strict=True))


def check_logits(labels: list[str], reference: list[np.ndarray], got: list[np.ndarray], *, tolerance: float,
                 what: str = "") -> Check:
    """Top-1 agreement and max |Δlogit| of llama.cpp's logits against the fp32 reference's.

    Gate: max |Δ| within ``tolerance`` (scaled by the logits' spread) and top-1 agreement at every
    position where the reference's top choice leads by more than that tolerance (closer calls are ties).
    """
    rows = []
    for label, ref, out in zip(labels, reference, got, strict=True):
        diff = np.abs(ref - out)
        spread = float(ref.std())
        top2 = np.sort(ref, axis=-1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > tolerance * max(spread, 1.0)
        agree = ref.argmax(-1) == out.argmax(-1)
        rows.append(
            {
                "prompt": label[:40],
                "tokens": int(ref.shape[0]),
                "max_abs_diff": float(diff.max()),
                "mean_abs_diff": float(diff.mean()),
                "logit_std": spread,
                "top1_agreement": float(agree.mean()),
                "top1_disagree_clear": int((~agree & clear).sum()),
            }
        )
    worst = logit_distance(reference, got)
    top1 = float(np.mean([r["top1_agreement"] for r in rows]))
    clear_misses = sum(r["top1_disagree_clear"] for r in rows)
    passed = worst <= tolerance and clear_misses == 0
    return Check(
        "logits parity",
        passed,
        f"top-1 agreement {100 * top1:.1f} %, max |Δ| {max(r['max_abs_diff'] for r in rows):.4g} "
        f"({worst:.3g} × logit std; limit {tolerance:.3g}){what}",
        {"prompts": rows, "tolerance": tolerance, "worst_ratio": worst},
    )


DRIFT_ROWS = 8
UNTRAINED_PPL_FRACTION = 0.1  # reference PPL ≥ this × vocabulary: no better than a tenth of uniform guessing


def _log_softmax32(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32) - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def check_drift(name: str, reference: np.ndarray, ids: list[int], chunks) -> Check:
    """KL(trained ‖ quant), top-1 agreement and perplexity on held-out legal text — reported, not gated.

    ``chunks`` yields ``(start, logits)`` of the quant (see ``llama_logit_chunks``); statistics are
    accumulated chunk by chunk, so no second whole-text array exists. The reference is the fp32 model as
    trained: the figures say what a user of the file loses against the fine-tune itself. A reference
    that predicts the text no better than a tenth of uniform guessing is an untrained (random) model,
    and its figures are printed as such, never as findings.
    """
    n, vocab = reference.shape
    kl = top1 = 0.0
    nll_ref = nll_q = 0.0
    for chunk_start, chunk in chunks:
        for offset in range(0, chunk.shape[0], DRIFT_ROWS):  # a few rows at a time: temporaries stay small
            logits = chunk[offset : offset + DRIFT_ROWS]
            start = chunk_start + offset
            stop = start + logits.shape[0]
            ref_lp, lp = _log_softmax32(reference[start:stop]), _log_softmax32(logits)
            kl += float((np.exp(ref_lp) * (ref_lp - lp)).sum(dtype=np.float64))
            top1 += float((ref_lp.argmax(-1) == lp.argmax(-1)).sum())
            rows = np.arange(stop - start)[: max(0, min(stop, n - 1) - start)]
            targets = np.asarray(ids[start + 1 : start + 1 + len(rows)])
            nll_ref -= float(ref_lp[rows, targets].sum(dtype=np.float64))
            nll_q -= float(lp[rows, targets].sum(dtype=np.float64))
    kl, top1 = kl / n, top1 / n
    ref_ppl, q_ppl = math.exp(nll_ref / (n - 1)), math.exp(nll_q / (n - 1))
    untrained = ref_ppl >= UNTRAINED_PPL_FRACTION * vocab
    summary = f"KL {kl:.4f}, top-1 {100 * top1:.1f} %, PPL {q_ppl:.3f} (as trained {ref_ppl:.3f})"
    if untrained:
        summary = (f"untrained model (PPL {ref_ppl:,.0f} as trained, vocabulary {vocab:,}): figures say nothing "
                   f"about quantization — KL {kl:.4f}, top-1 {100 * top1:.1f} %")
    return Check(
        f"drift {name}",
        None,
        summary,
        {"tokens": n, "mean_kl": kl, "top1_agreement": top1, "ppl": q_ppl, "reference_ppl": ref_ppl,
         "untrained": untrained, "against": "fp32 model as trained"},
    )


def check_special_tokens(gguf_path: Path, hf_tokenizer) -> Check:
    """Every added token at its HF id, and BOS/EOS/PAD the same tokens; a fault names token and ids."""
    faults: list[str] = []
    with _quiet_llama(gguf_path, vocab_only=True) as llm:
        n_vocab = llm.n_vocab()
        for tid, added in sorted(hf_tokenizer.added_tokens_decoder.items()):
            ids = _llama_tokenize(llm, added.content, special=True)
            at = llm.detokenize([tid], special=True).decode("utf-8", "replace") if tid < n_vocab else None
            if ids != [tid]:
                where = f"id {ids[0]}" if len(ids) == 1 else f"{len(ids)} tokens {ids[:4]}"
                off = " (off by one)" if len(ids) == 1 and abs(ids[0] - tid) == 1 else ""
                faults.append(f"{added.content} is id {tid} in HF, {where} in the GGUF{off}")
            elif at != added.content:
                faults.append(f"id {tid} is {added.content} in HF, {at!r} in the GGUF")
        for role, hf_id, gguf_id in [
            ("BOS", hf_tokenizer.bos_token_id, llm.metadata.get("tokenizer.ggml.bos_token_id")),
            ("EOS", hf_tokenizer.eos_token_id, llm.metadata.get("tokenizer.ggml.eos_token_id")),
            ("PAD", hf_tokenizer.pad_token_id, llm.metadata.get("tokenizer.ggml.padding_token_id")),
        ]:
            if hf_id is None or gguf_id is None or int(gguf_id) == hf_id:
                continue
            gguf_id = int(gguf_id)
            name = llm.detokenize([gguf_id], special=True).decode("utf-8", "replace") if 0 <= gguf_id < n_vocab else "?"
            off = " (off by one)" if abs(gguf_id - hf_id) == 1 else ""
            faults.append(f"{role} is {hf_tokenizer.convert_ids_to_tokens(hf_id)} (id {hf_id}) in HF, "
                          f"{name} (id {gguf_id}) in the GGUF{off}")
    n = len(hf_tokenizer.added_tokens_decoder)
    return Check(
        "special tokens",
        not faults,
        f"{n} added tokens and BOS/EOS/PAD at HF's ids" if not faults else "; ".join(faults[:3]),
        {"faults": faults},
    )


def check_chat_template(gguf_path: Path, hf_tokenizer, conversations) -> Check:
    """The chat template embedded in the GGUF, with the GGUF's BOS/EOS, renders every conversation as the
    HF tokenizer's template with the tokenizer's BOS/EOS does."""
    with _quiet_llama(gguf_path, vocab_only=True) as llm:
        embedded = from_llama(llm, gguf_path)
    if not embedded.text:
        return Check("chat-template parity", False, "the GGUF has no tokenizer.chat_template")
    hf = from_tokenizer(hf_tokenizer)
    mismatches = []
    for i, conv in enumerate(conversations):
        messages, kwargs = conv.to_hf()
        expected = hf.render(messages, **kwargs)
        got = embedded.render(messages, **kwargs)
        if got != expected:
            mismatches.append({"conversation": i, "hf": expected[-120:], "gguf": got[-120:]})
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

    from ecmiip.quantize.template_parity import template_mismatches

    if not template.is_go:
        return Check("Modelfile TEMPLATE parity", None, "no Go TEMPLATE: Ollama renders the GGUF's chat template "
                     f"(see chat-template parity), because {template.why}")
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
