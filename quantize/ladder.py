"""A measured quant ladder: several llama.cpp quantizations of one F16 GGUF, each measured, with advice.

Per file: size (bytes; bits per weight = tensor bytes × 8 / parameters), and on held-out legal text
(``heldout.py``: bench/samples, never trained on; ``HELDOUT_TOKENS`` tokens) the mean KL divergence
KL(F16 ‖ quant) per token, top-1 agreement with F16 and perplexity, all through the export's own
``verify.check_drift`` with llama.cpp's F16 logits as the reference (the F16 row is that reference:
its KL and top-1 are not measured, its perplexity is). With a bench ``results.json``, each file's
headline accuracy per task. Then a recommendation per memory size (:func:`recommend`).

Importance matrix: llama.cpp's quantizer takes one through ``llama_model_quantize_params.imatrix``
(the interface ``quantize.py`` uses); ``imatrix.py`` collects it with llama.cpp from statute text
(disjoint from the held-out text), and the ladder adds an ``+ imatrix`` row for each type in
``IMATRIX_QUANTS`` beside the same type without, so the table shows its effect.

One row model, three renderings: :meth:`Ladder.to_json` (export-report.json), :func:`ladder_markdown`
(the model card), :func:`ladder_table` (the terminal).
"""

from __future__ import annotations

import contextlib
import functools
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.core.outputs import check_free_disk, refuse_existing
from ecmiip.core.prompts import DEFAULT_NUM_CTX

#: The default ladder, smallest first: what makes sense for a 4 B model. Q2_K and the IQ1/IQ2/IQ3_XXS
#: types lose too much at this size (and the IQ ones require an importance matrix); IQ4_XS is the
#: smallest 4-bit file, Q8_0 is within noise of F16.
LADDER = ("Q3_K_M", "IQ4_XS", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
#: Types also made with an importance matrix: the low end, where it matters.
IMATRIX_QUANTS = ("Q3_K_M", "IQ4_XS", "Q4_K_M")
#: Every type this module can make, with llama.cpp's nominal bits per weight (for the free-disk estimate).
TYPES: dict[str, float] = {
    "Q2_K": 3.4, "Q3_K_S": 3.5, "Q3_K_M": 3.9, "Q3_K_L": 4.3, "IQ3_S": 3.5, "IQ3_M": 3.7, "IQ4_XS": 4.3,
    "IQ4_NL": 4.6, "Q4_K_S": 4.6, "Q4_K_M": 4.9, "Q5_K_S": 5.6, "Q5_K_M": 5.7, "Q6_K": 6.6, "Q8_0": 8.5,
}  # fmt: skip
#: Types llama.cpp refuses to make without an importance matrix (llama-quant.cpp, tensor_requires_imatrix).
NEEDS_IMATRIX = ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "Q2_K_S")
REFERENCE_TYPES = ("F16", "BF16", "F32")
IMATRIX_SUFFIX = "imatrix"

HELDOUT_TOKENS = 512  # 311 MiB of F16 logits at Qwen3's vocabulary, parked on disk while each file runs
CALIBRATION_TOKENS = 4096
CALIBRATION_CHUNK = 512

GIB = 2**30
BUDGETS_GIB = (4, 8, 16, 24)
MARGIN = 0.2  # of the budget, left to the OS, other programs, a GPU's own context
RUNTIME_BYTES = 512 * 2**20  # llama.cpp's compute buffers at num_ctx 8192 (a few hundred MiB at 4 B)
NEGLIGIBLE_KL = 0.001  # nats/token: Q8_0's distance from F16 at 7–8 B; below it, a bigger file buys nothing


@dataclass
class Rung:
    """One file of the ladder; ``kl``/``top1`` are None for the reference (it is what they are measured against)."""

    quant: str
    path: Path
    bytes: int
    bits_per_weight: float
    imatrix: bool = False
    kl: float | None = None
    top1: float | None = None
    ppl: float | None = None
    accuracy: dict[str, float | None] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.quant} + {IMATRIX_SUFFIX}" if self.imatrix else self.quant

    @property
    def reference(self) -> bool:
        return self.quant in REFERENCE_TYPES


@dataclass
class Recommendation:
    budget_gib: float
    label: str | None  # the row's label; None when nothing fits
    needs_bytes: int | None  # file + KV cache + runtime of the recommended row (or of the smallest, if none fits)
    note: str = ""

    @property
    def budget(self) -> str:
        return f"{self.budget_gib:g} GB" + ("+" if self.budget_gib == max(BUDGETS_GIB) else "")


@dataclass
class Ladder:
    model: str
    rows: list[Rung]
    num_ctx: int
    kv_bytes: int
    heldout: dict
    imatrix: dict | None = None
    untrained: bool = False
    bench: str | None = None
    recommendations: list[Recommendation] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: dict) -> Ladder:
        """The ladder back from :meth:`to_json` (export-report.json's ``quant_ladder``), e.g. for a model card."""
        keys = {f for f in Rung.__dataclass_fields__}
        rows = [Rung(**{**{k: v for k, v in r.items() if k in keys}, "path": Path(r["path"])}) for r in doc["rows"]]
        recs = [Recommendation(c["budget_gib"], c["label"], c["needs_bytes"], c.get("note", ""))
                for c in doc.get("recommendations", [])]
        return cls(doc["model"], rows, doc["num_ctx"], doc["kv_cache_bytes"], doc["heldout"], doc.get("imatrix"),
                   doc.get("untrained", False), doc.get("bench"), recs)

    def to_json(self) -> dict:
        """The ``quant_ladder`` entry of export-report.json."""
        rows = []
        for r in self.rows:
            d = asdict(r)
            d.update(path=str(r.path), label=r.label, reference=r.reference)
            if not self.bench:
                d.pop("accuracy")
            rows.append(d)
        recs = [{**asdict(c), "budget": c.budget} for c in self.recommendations]
        return {"model": self.model, "against": "llama.cpp's logits of the F16 file", "num_ctx": self.num_ctx,
                "kv_cache_bytes": self.kv_bytes, "heldout": self.heldout, "imatrix": self.imatrix,
                "untrained": self.untrained, "bench": self.bench, "rows": rows, "recommendations": recs}


# ------------------------------------------------------------------------------------------ recommendation


def kv_cache_bytes(metadata: Mapping[str, object], num_ctx: int, bytes_per_value: int = 2) -> int:
    """K and V caches of ``num_ctx`` tokens (llama.cpp's default F16 cache) from a GGUF's metadata."""
    arch = str(metadata["general.architecture"])

    def get(key: str, default=None):
        value = metadata.get(f"{arch}.{key}", default)
        if value is None:
            raise InputError(f"the GGUF has no {arch}.{key}; cannot size its KV cache")
        return int(value)

    layers, heads = get("block_count"), get("attention.head_count")
    kv_heads = get("attention.head_count_kv", heads)
    head_dim = get("embedding_length") // heads
    k_len, v_len = get("attention.key_length", head_dim), get("attention.value_length", head_dim)
    return layers * num_ctx * kv_heads * (k_len + v_len) * bytes_per_value


def recommend(
    rows: Sequence[Rung],
    *,
    kv_bytes: int,
    budgets_gib: Sequence[float] = BUDGETS_GIB,
    margin: float = MARGIN,
    runtime_bytes: int = RUNTIME_BYTES,
    negligible_kl: float = NEGLIGIBLE_KL,
    include_reference: bool = False,
) -> list[Recommendation]:
    """Per memory size (RAM for CPU, VRAM for full offload), the file to download.

    A file fits when file + KV cache + runtime buffers ≤ (1 − ``margin``) × budget. Among the files
    that fit, one is *dominated* when another is no larger and no worse in KL (one of them strictly):
    it is never chosen. The largest undominated file has the lowest KL; the choice is the smallest
    file whose KL is within ``negligible_kl`` of that — bytes that buy no measurable fidelity are not
    spent (a smaller file is also faster). The reference counts as KL 0; a file with no KL measured is
    ranked by size only, after every measured one. The reference (F16) is the yardstick and the source
    for re-quantizing, not a download: it is left out unless ``include_reference`` (Q8_0 is within
    noise of it at half the size and twice the speed).
    """
    def kl(r: Rung) -> float:
        return 0.0 if r.reference else (math.inf if r.kl is None else r.kl)

    def needs(r: Rung) -> int:
        return r.bytes + kv_bytes + runtime_bytes

    rows = [r for r in rows if include_reference or not r.reference]
    out = []
    for budget in budgets_gib:
        usable = (1 - margin) * budget * GIB
        fits = [r for r in rows if needs(r) <= usable]
        if not fits:
            smallest = min(rows, key=lambda r: r.bytes, default=None)
            need = needs(smallest) if smallest else None
            note = (f"nothing fits: the smallest file needs {_gib(need)} (KV cache {_gib(kv_bytes)}); "
                    "lower num_ctx or offload fewer layers" if smallest else "no files")
            out.append(Recommendation(budget, None, need, note))
            continue
        frontier = [r for r in fits if not any(
            o is not r and not math.isinf(kl(o)) and o.bytes <= r.bytes and kl(o) <= kl(r)
            and (o.bytes < r.bytes or kl(o) < kl(r)) for o in fits)]
        best = min(kl(r) for r in frontier)
        if math.isinf(best):
            choice = max(frontier, key=lambda r: r.bytes)
        else:
            choice = min((r for r in frontier if kl(r) - best <= negligible_kl), key=lambda r: r.bytes)
        note = f"{_gib(needs(choice))} of {_gib(usable)} usable"
        out.append(Recommendation(budget, choice.label, needs(choice), note))
    return out


# ------------------------------------------------------------------------------------------ renderings


def _gib(n: int | None) -> str:
    return "—" if n is None else f"{n / GIB:.2f} GiB"


def _size(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / 2**20:.1f} MiB"


def _columns(ladder: Ladder) -> list[tuple[str, Callable[[Rung], str]]]:
    """(header, cell) of every column: the markdown table and the terminal table show the same cells."""
    def maybe(value, fmt: str) -> str:
        return "—" if value is None else fmt.format(value)

    cols: list[tuple[str, Callable[[Rung], str]]] = [
        ("quant", lambda r: r.label),
        ("size", lambda r: _size(r.bytes)),
        ("bits/weight", lambda r: f"{r.bits_per_weight:.2f}"),
        ("KL vs F16", lambda r: "reference" if r.reference else maybe(r.kl, "{:.4f}")),
        ("top-1 vs F16", lambda r: "reference" if r.reference else maybe(r.top1 and 100 * r.top1, "{:.1f} %")),
        (f"PPL held-out ({ladder.heldout.get('tokens', '?')} tok)", lambda r: maybe(r.ppl, "{:.3f}")),
    ]
    if ladder.bench:
        tasks = sorted({t for r in ladder.rows for t in r.accuracy})
        for task in tasks:
            head = f"{task} ROUGE-L" if task == "recite" else f"{task} acc."
            cols.append((head, lambda r, t=task: maybe(r.accuracy.get(t) and 100 * r.accuracy[t], "{:.1f} %")))
    return cols


def _notes(ladder: Ladder) -> list[str]:
    notes = [f"Held-out text: {ladder.heldout.get('text', '')}.",
             "KL: mean KL(F16 ‖ quant) in nats per token; top-1: share of positions where both pick the same token."]
    if ladder.imatrix:
        notes.append(f"Importance matrix: {ladder.imatrix.get('calibration', '')}, {ladder.imatrix.get('tokens')} tokens.")
    if ladder.untrained:
        notes.append("This model is untrained (random weights): its figures say nothing about quantization.")
    return notes


def ladder_markdown(ladder: Ladder) -> str:
    """The model card's quant table and recommendations (GitHub/hub Markdown)."""
    cols = _columns(ladder)
    lines = ["| " + " | ".join(h for h, _ in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(r) for _, cell in cols) + " |" for r in ladder.rows]
    lines += [""] + [f"- {n}" for n in _notes(ladder)]
    if ladder.recommendations:
        lines += ["", f"Which file for your memory (file + KV cache at num_ctx {ladder.num_ctx} "
                      f"({_gib(ladder.kv_bytes)}) + runtime, with {MARGIN:.0%} to spare):", "",
                  "| RAM / VRAM | file | needs |", "|---|---|---|"]
        for c in ladder.recommendations:
            lines.append(f"| {c.budget} | {c.label or '—'} | {c.note if c.label is None else _gib(c.needs_bytes)} |")
    return "\n".join(lines) + "\n"


def ladder_table(ladder: Ladder):
    """Rich tables (the ladder, then the recommendations) for the terminal."""
    from rich.console import Group
    from rich.table import Table

    table = Table(title=f"quant ladder of {ladder.model}", caption="\n".join(_notes(ladder)), caption_justify="left")
    cols = _columns(ladder)
    for i, (head, _) in enumerate(cols):
        table.add_column(head, justify="left" if i == 0 else "right")
    for r in ladder.rows:
        table.add_row(*(cell(r) for _, cell in cols), style="dim" if r.reference else None)
    recs = Table(title=f"which file (num_ctx {ladder.num_ctx}, KV cache {_gib(ladder.kv_bytes)})")
    for head in ("RAM / VRAM", "file", "needs"):
        recs.add_column(head)
    for c in ladder.recommendations:
        recs.add_row(c.budget, c.label or "[red]none[/]", c.note if c.label is None else _gib(c.needs_bytes))
    return Group(table, recs)


# ------------------------------------------------------------------------------------------ bench


def bench_accuracy(results_path: Path, rows: Sequence[Rung]) -> None:
    """Each row's headline per task from an ``ecmiip bench`` results.json (matched by the GGUF's file name)."""
    from ecmiip.bench.report import headline
    from ecmiip.bench.results import load_results

    if not Path(results_path).is_file():
        raise InputError(f"--bench {results_path}: no such results file (run `ecmiip bench` on the ladder's files)")
    models = load_results(Path(results_path))["models"]
    by_name = {Path(str(m.get("path", spec))).name: m for spec, m in models.items()}
    for r in rows:
        model = by_name.get(r.path.name)
        if model is not None:
            r.accuracy = {task: headline(task, entry.get("summary", {})) for task, entry in model.get("tasks", {}).items()}


# ------------------------------------------------------------------------------------------ measuring


def _model_facts(reference: Path) -> tuple[int, int, dict, str]:
    """(parameters, bytes outside the tensor data, metadata, storage type) of the reference GGUF."""
    st = Path(reference).stat()
    return _read_facts(str(reference), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_facts(reference: str, size: int, _mtime_ns: int) -> tuple[int, int, dict, str]:
    """gguf-py decodes the whole vocabulary (seconds at 150k tokens): once per file, not once per step."""
    from ecmiip.quantize.gguf_file import GGUFFile
    from ecmiip.quantize.verification import storage_type

    g = GGUFFile(Path(reference))
    n_params = sum(int(np.prod(t.shape)) for t in g.tensors.values())
    header = size - sum(t.nbytes for t in g.tensors.values())
    metadata = {k: v[1] for k, v in g.fields.items() if not isinstance(v[1], list)}
    return n_params, header, metadata, storage_type(g)


def reference_type(name: str) -> str:
    for t in REFERENCE_TYPES:
        if name.upper().endswith(f"-{t}") or name.upper() == t:
            return t
    return "F16"


def measure_ladder(
    reference: Path,
    files: Sequence[tuple[str, Path, bool]],
    *,
    heldout_tokens: int = HELDOUT_TOKENS,
    num_ctx: int = DEFAULT_NUM_CTX,
    bench: Path | None = None,
    imatrix_info: dict | None = None,
) -> Ladder:
    """Measure ``files`` ((type, path, made with an imatrix)) against ``reference`` on the held-out text."""
    from ecmiip.core.llama import loaded_llama
    from ecmiip.quantize import verify
    from ecmiip.quantize.heldout import HELDOUT_DESCRIPTION, heldout_text, token_ids
    from ecmiip.quantize.verification import RowsOnDisk, release_memory

    reference = Path(reference)
    for _, path, _ in files:
        verify.check_gguf(path)
    verify.check_gguf(reference)
    n_params, header, metadata, _ = _model_facts(reference)

    def rung(quant: str, path: Path, imatrix: bool) -> Rung:
        size = path.stat().st_size
        return Rung(quant, path, size, (size - header) * 8 / n_params, imatrix)

    rows = [rung(reference_type(reference.stem), reference, False)] + [rung(q, p, i) for q, p, i in files]
    with loaded_llama(reference, vocab_only=True) as llm:
        ids = token_ids(llm, heldout_text(), heldout_tokens)
        n_vocab = llm.n_vocab()
    if len(ids) < 2:
        raise InputError(f"held-out text gives {len(ids)} token(s) with {reference.name}'s tokenizer")
    untrained = False
    folder = reference.parent if reference.parent.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=".ecmiip-ladder-", dir=folder) as tmp:
        logits = np.empty((len(ids), n_vocab), np.float32)
        for start, chunk in verify.llama_logit_chunks(reference, ids):
            logits[start : start + chunk.shape[0]] = chunk
        ref = RowsOnDisk(logits, Path(tmp) / "f16-logits.f32")
        del logits
        release_memory()
        measured = rows[1:] or rows[:1]  # the reference alone: measured against itself, for its perplexity
        for r in measured:
            check = verify.check_drift(r.label, ref, ids, verify.llama_logit_chunks(r.path, ids))
            d = check.details
            if not r.reference:
                r.kl, r.top1, r.ppl = d["mean_kl"], d["top1_agreement"], d["ppl"]
            rows[0].ppl = d["reference_ppl"]
            untrained = untrained or d["untrained"]
            release_memory()
    rows.sort(key=lambda r: (r.bytes, r.imatrix))
    ladder = Ladder(reference.name, rows, num_ctx, kv_cache_bytes(metadata, num_ctx),
                    {"text": HELDOUT_DESCRIPTION, "tokens": len(ids)}, imatrix_info, untrained)
    if bench is not None:
        bench_accuracy(bench, rows)
        ladder.bench = str(bench)
    ladder.recommendations = recommend(rows, kv_bytes=ladder.kv_bytes)
    return ladder


# ------------------------------------------------------------------------------------------ making


def parse_ladder(names: Sequence[str]) -> list[str]:
    """Type names (``ladder`` expands to :data:`LADDER`), upper-cased, unknown and imatrix-only ones refused."""
    out: list[str] = []
    for name in names:
        upper = name.upper()
        if upper == "LADDER":
            out += LADDER
        elif upper in NEEDS_IMATRIX:
            raise UnsupportedError(f"{upper} needs an importance matrix for every tensor and loses too much at "
                                   f"this size; choose from {', '.join(TYPES)}")
        elif upper not in TYPES:
            raise InputError(f"unknown quantization type {name}; choose from ladder, {', '.join(TYPES)}")
        else:
            out.append(upper)
    return list(dict.fromkeys(out))


def ladder_paths(out: Path, name: str, quants: Sequence[str], imatrix_quants: Sequence[str]) -> list[tuple[str, Path, bool]]:
    """(type, file, with an importance matrix) of every rung, without the reference."""
    plain = [(q, out / f"{name}-{q}.gguf", False) for q in quants]
    return plain + [(q, out / f"{name}-{q}-{IMATRIX_SUFFIX}.gguf", True) for q in imatrix_quants if q in quants]


def planned_files(out: Path, name: str, *, quants: Sequence[str] = LADDER, imatrix_quants: Sequence[str] = IMATRIX_QUANTS,
                  existing: Mapping[str, Path] | None = None) -> list[tuple[str, Path, bool]]:
    """The rungs :func:`run_ladder` will write (those of ``existing`` are measured, not written): for an
    export's checks of existing outputs and free disk before its first byte."""
    made = {k.upper() for k in existing or {}}
    return [(q, p, i) for q, p, i in ladder_paths(Path(out), name, quants, imatrix_quants) if i or q not in made]


def planned_bytes(n_params: int, planned: Sequence[tuple[str, Path, bool]]) -> int:
    """Free disk the planned rungs need (llama.cpp's nominal bits per weight)."""
    return sum(int(n_params * TYPES[q] / 8) for q, _, _ in planned)


def _default_name(reference: Path) -> str:
    stem = reference.stem
    t = reference_type(stem)
    return stem[: -len(t) - 1] if stem.upper().endswith(f"-{t}") else stem


def run_ladder(
    reference: Path,
    out: Path,
    *,
    name: str | None = None,
    quants: Sequence[str] = LADDER,
    imatrix_quants: Sequence[str] = IMATRIX_QUANTS,
    heldout_tokens: int = HELDOUT_TOKENS,
    calibration_tokens: int = CALIBRATION_TOKENS,
    calibration_chunk: int = CALIBRATION_CHUNK,
    existing: Mapping[str, Path] | None = None,
    bench: Path | None = None,
    num_ctx: int = DEFAULT_NUM_CTX,
    force: bool = False,
    on_status: Callable[[str], None] | None = None,
) -> Ladder:
    """Quantize ``reference`` to every type of ``quants`` (and ``imatrix_quants`` with an importance matrix)
    into ``out``, then measure them all. ``existing`` maps types already quantized (by ``ecmiip export``)
    to their files, which are measured as they are. Every check comes before the first file is written.
    """
    from ecmiip.quantize import verify
    from ecmiip.quantize.inputs import check_output_dir, probe_writable
    from ecmiip.quantize.quantize import quantize

    reference, out = Path(reference), Path(out)
    verify.check_gguf(reference)
    n_params, _, _, stored = _model_facts(reference)
    if stored.upper() not in REFERENCE_TYPES:
        raise InputError(f"{reference}: its matrices are {stored.upper()}; quantize from the F16 (or BF16/F32) export")
    check_output_dir(out)
    quants = parse_ladder(quants)
    imatrix_quants = [q for q in parse_ladder(imatrix_quants) if q in quants] if calibration_tokens > 0 else []
    existing = {k.upper(): Path(v) for k, v in (existing or {}).items()}
    name = name or _default_name(reference)
    files = [(q, existing[q] if not i and q in existing else p, i) for q, p, i in ladder_paths(out, name, quants, imatrix_quants)]
    new = planned_files(out, name, quants=quants, imatrix_quants=imatrix_quants, existing=existing)
    refuse_existing([p for _, p, _ in new], force)
    if bench is not None and not Path(bench).is_file():
        raise InputError(f"--bench {bench}: no such results file (run `ecmiip bench` on the ladder's files)")
    out.mkdir(parents=True, exist_ok=True)
    probe_writable(out)
    check_free_disk(out, planned_bytes(n_params, new))
    say = on_status or (lambda _m: None)
    created = [p for _, p, _ in new if not p.exists()]
    try:
        imatrix = imatrix_info = None
        if imatrix_quants:
            imatrix, imatrix_info = _calibrate(reference, calibration_tokens, calibration_chunk, say)
        for q, path, with_imatrix in new:
            say(f"quantizing {q}{' with the importance matrix' if with_imatrix else ''}")
            quantize(reference, path, q, imatrix=imatrix if with_imatrix else None)  # a child: Ctrl-C stops it at once
        say(f"measuring {len(files) + 1} files on {heldout_tokens} held-out tokens")
        return measure_ladder(reference, files, heldout_tokens=heldout_tokens, num_ctx=num_ctx, bench=bench,
                              imatrix_info=imatrix_info)
    except BaseException:  # all or nothing, as `ecmiip export`: a rerun starts clean without --force
        for p in created:
            with contextlib.suppress(OSError):
                p.unlink()
        raise


def _calibrate(reference: Path, tokens: int, chunk: int, say: Callable[[str], None]):
    from ecmiip.core.llama import loaded_llama
    from ecmiip.quantize.heldout import CALIBRATION_DESCRIPTION, calibration_text, token_ids
    from ecmiip.quantize.imatrix import collect_imatrix

    with loaded_llama(reference, vocab_only=True) as llm:
        ids = token_ids(llm, calibration_text(), tokens)
    chunks = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]
    say(f"collecting the importance matrix ({len(ids)} tokens of statute text)")
    imatrix = collect_imatrix(reference, chunks)
    return imatrix, {"calibration": CALIBRATION_DESCRIPTION, "tokens": len(ids), "chunk": chunk,
                     "matrices": len(imatrix), "collected_with": "llama.cpp cb_eval (as llama-imatrix)"}
