"""The quant ladder: the recommendation rule and the three renderings on synthetic rows (fast), and a real
ladder of SmolLM2 and the tiny Qwen3 (slow: presence and sanity of every figure, values not asserted).

The slow tests measure on ``HELDOUT_TOKENS_TEST`` held-out tokens and collect the importance matrix from
``CALIBRATION_TOKENS_TEST`` statute tokens, so the pair stays near two minutes on two cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecmiip.core.errors import InputError, OutputExistsError, UnsupportedError
from ecmiip.quantize.ladder import (
    GIB,
    LADDER,
    Ladder,
    Rung,
    kv_cache_bytes,
    ladder_markdown,
    ladder_table,
    parse_ladder,
    recommend,
    run_ladder,
)

HELDOUT_TOKENS_TEST = 64
CALIBRATION_TOKENS_TEST = 256

# ------------------------------------------------------------------------------------------ synthetic rows

# Sizes and KL shaped like a 4 B model's (llama.cpp's published figures, rounded).
QWEN3_4B = {"general.architecture": "qwen3", "qwen3.block_count": 36, "qwen3.attention.head_count": 32,
            "qwen3.attention.head_count_kv": 8, "qwen3.embedding_length": 2560,
            "qwen3.attention.key_length": 128, "qwen3.attention.value_length": 128}  # fmt: skip


def _rows() -> list[Rung]:
    spec = [("Q3_K_M", 2.08, 0.09, False), ("Q3_K_M", 2.08, 0.07, True), ("IQ4_XS", 2.28, 0.04, False),
            ("Q4_K_M", 2.50, 0.035, False), ("Q4_K_M", 2.50, 0.028, True), ("Q5_K_M", 2.89, 0.012, False),
            ("Q6_K", 3.31, 0.005, False), ("Q8_0", 4.28, 0.0015, False), ("F16", 8.05, None, False)]
    return [Rung(q, Path(f"m-{q}{'-imatrix' if i else ''}.gguf"), int(gb * 1e9), gb * 8e9 / 4.02e9, i, kl,
                 None if kl is None else 1 - kl, 10.0 + (kl or 0)) for q, gb, kl, i in spec]


def _pick(rows, budget, **kw) -> str | None:
    kv = kv_cache_bytes(QWEN3_4B, 8192)
    return recommend(rows, kv_bytes=kv, budgets_gib=[budget], **kw)[0].label


def test_kv_cache_of_qwen3_4b_at_8192():
    assert kv_cache_bytes(QWEN3_4B, 8192) == 36 * 8192 * 8 * 256 * 2 == int(1.125 * GIB)


def test_kv_cache_without_head_lengths_uses_width_over_heads():
    meta = {k: v for k, v in QWEN3_4B.items() if "length" not in k or k.endswith("embedding_length")}
    assert kv_cache_bytes(meta, 1024) == 36 * 1024 * 8 * (80 + 80) * 2


def test_kv_cache_needs_the_layer_count():
    with pytest.raises(InputError, match="block_count"):
        kv_cache_bytes({"general.architecture": "qwen3"}, 8192)


def test_recommendation_per_memory_size():
    rows = _rows()
    recs = recommend(rows, kv_bytes=kv_cache_bytes(QWEN3_4B, 8192))
    assert [r.budget for r in recs] == ["4 GB", "8 GB", "16 GB", "24 GB+"]
    # 4 GB: 3.2 GiB usable; 1.125 GiB KV + 0.5 GiB runtime leave 1.58 GiB: no file fits.
    assert recs[0].label is None and "nothing fits" in recs[0].note and recs[0].needs_bytes > 0.8 * 4 * GIB
    # 8 GB: 6.4 GiB usable: Q8_0 (3.99 GiB) fits; the largest, as nothing smaller is within NEGLIGIBLE_KL.
    assert recs[1].label == "Q8_0"
    # 16 and 24 GB: F16 fits but is the reference, not a download.
    assert recs[2].label == recs[3].label == "Q8_0"


def test_largest_that_fits_and_imatrix_rows_dominate_their_twins():
    rows = _rows()
    assert _pick(rows, 5) == "Q4_K_M + imatrix"  # 4.0 GiB usable: up to 2.37 GiB of file
    assert _pick(rows, 4.6) == "Q3_K_M + imatrix"  # 3.68 GiB usable: Q3_K_M only; the imatrix one is better
    assert _pick(rows, 4.9) == "IQ4_XS"


def test_a_bigger_file_that_buys_no_measurable_kl_is_not_chosen():
    rows = _rows()
    rows[-2].kl = 0.0045  # Q8_0 barely better than Q6_K (0.005)
    assert _pick(rows, 8) == "Q6_K"
    assert _pick(rows, 8, negligible_kl=0.0) == "Q8_0"


def test_the_reference_only_when_asked():
    rows = _rows()
    assert _pick(rows, 24) == "Q8_0"
    assert _pick(rows, 24, include_reference=True) == "F16"  # Q8_0's 0.0015 is above NEGLIGIBLE_KL
    rows[-2].kl = 0.0005  # within noise of the reference: the smaller file
    assert _pick(rows, 24, include_reference=True) == "Q8_0"


def test_unmeasured_rows_rank_by_size_after_measured_ones():
    rows = [Rung("Q4_K_M", Path("a"), 2 * 10**9, 4.0), Rung("Q8_0", Path("b"), 4 * 10**9, 8.0)]
    assert _pick(rows, 16) == "Q8_0"
    rows[0].kl = 0.03
    assert _pick(rows, 16) == "Q4_K_M"  # a measured file goes before an unmeasured one


def _ladder(bench: bool = False) -> Ladder:
    rows = _rows()
    if bench:
        for r in rows:
            r.accuracy = {"mcq": 0.5, "recite": 0.25}
    lad = Ladder("m-F16.gguf", rows, 8192, kv_cache_bytes(QWEN3_4B, 8192), {"text": "held-out", "tokens": 512},
                 {"calibration": "statutes", "tokens": 4096}, bench="results.json" if bench else None)
    lad.recommendations = recommend(rows, kv_bytes=lad.kv_bytes)
    return lad


def test_markdown_has_a_row_per_file_and_the_advice():
    md = ladder_markdown(_ladder())
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0] == "| quant | size | bits/weight | KL vs F16 | top-1 vs F16 | PPL held-out (512 tok) |"
    assert "| Q4_K_M + imatrix | 2.33 GiB | 4.98 | 0.0280 | 97.2 % | 10.028 |" in table
    assert "| F16 | 7.50 GiB | 16.02 | reference | reference | 10.000 |" in table
    assert "| 8 GB | Q8_0 | 5.61 GiB |" in md and "| 4 GB | — | nothing fits" in md
    assert "accuracy" not in md and "acc." not in md


def test_markdown_with_bench_adds_a_column_per_task():
    md = ladder_markdown(_ladder(bench=True))
    assert md.splitlines()[0].endswith("| mcq acc. | recite ROUGE-L |")
    assert "| 50.0 % | 25.0 % |" in md


def test_json_rows_are_the_table_rows():
    doc = json.loads(json.dumps(_ladder().to_json()))
    assert [r["label"] for r in doc["rows"]] == [r.label for r in _rows()]
    f16 = doc["rows"][-1]
    assert f16["reference"] and f16["kl"] is None and f16["top1"] is None
    assert "accuracy" not in f16
    assert doc["kv_cache_bytes"] == kv_cache_bytes(QWEN3_4B, 8192)
    assert [r["budget"] for r in doc["recommendations"]] == ["4 GB", "8 GB", "16 GB", "24 GB+"]
    assert doc["recommendations"][1]["label"] == "Q8_0"


def test_rich_table_shows_the_same_cells():
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(ladder_table(_ladder()))
    text = console.export_text()
    assert "Q4_K_M + imatrix" in text and "0.0280" in text and "97.2 %" in text and "reference" in text
    assert "24 GB+" in text and "Q8_0" in text


def test_parse_ladder():
    assert parse_ladder(["ladder"]) == list(LADDER)
    assert parse_ladder(["q4_k_m", "LADDER", "Q2_K"]) == ["Q4_K_M", *[q for q in LADDER if q != "Q4_K_M"], "Q2_K"]
    with pytest.raises(UnsupportedError, match="IQ2_XS needs an importance matrix"):
        parse_ladder(["IQ2_XS"])
    with pytest.raises(InputError, match="unknown quantization type Q9"):
        parse_ladder(["Q9"])


def test_heldout_text_is_not_statute_text():
    from ecmiip.core.statutes import all_articles
    from ecmiip.quantize.heldout import calibration_text, heldout_text

    text = heldout_text()
    lines = text.splitlines()
    assert len(lines) == 24 + 32 and all(lines)
    articles = {a.text.strip() for a in all_articles()}
    assert not any(line in articles for line in lines)
    assert not any(line in calibration_text() for line in lines)


def test_bench_accuracy_by_file_name(tmp_path):
    from ecmiip.quantize.ladder import bench_accuracy

    rows = _rows()
    results = {"format": 1, "settings": {}, "invalid": {}, "models": {
        "m-Q8_0.gguf": {"path": "/elsewhere/m-Q8_0.gguf", "tasks": {
            "mcq": {"items": [{"id": "a"}], "summary": {"n": 1, "accuracy": {"overall": 0.75}}}}}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    bench_accuracy(path, rows)
    assert [r.accuracy for r in rows if r.accuracy] == [{"mcq": 0.75}]
    with pytest.raises(InputError, match="no such results file"):
        bench_accuracy(tmp_path / "none.json", rows)


# ------------------------------------------------------------------------------------------ real models


def _check_ladder(ladder: Ladder, out: Path, expected: set[str]) -> None:
    rows = ladder.rows
    assert {r.label for r in rows} == expected
    assert [r.bytes for r in rows] == sorted(r.bytes for r in rows)  # ordered by size
    for r in rows:
        assert r.path.is_file() and r.bytes == r.path.stat().st_size, r.label
        assert 1.0 < r.bits_per_weight < 17.0, r.label
        assert r.ppl is not None and r.ppl > 0, r.label
        if r.reference:
            assert r.kl is None and r.top1 is None
        else:
            assert r.kl is not None and r.kl >= 0, r.label
            assert r.top1 is not None and 0.0 <= r.top1 <= 1.0, r.label
    assert rows[-1].quant == "F16"
    assert ladder.heldout["tokens"] == HELDOUT_TOKENS_TEST
    assert ladder.imatrix and ladder.imatrix["matrices"] > 0
    assert len(ladder.recommendations) == 4
    assert all(c.label in expected - {"F16"} for c in ladder.recommendations)  # tiny models fit everywhere
    md = ladder_markdown(ladder)
    assert all(f"| {label} |" in md for label in expected)
    json.dumps(ladder.to_json())


def _run(gguf: Path, out: Path, quants, imatrix_quants) -> Ladder:
    return run_ladder(gguf.with_name("ec-miip-F16.gguf"), out, quants=quants, imatrix_quants=imatrix_quants,
                      heldout_tokens=HELDOUT_TOKENS_TEST, calibration_tokens=CALIBRATION_TOKENS_TEST,
                      calibration_chunk=128, existing={"Q4_K_M": gguf})


def test_ladder_of_tiny_qwen3(tiny_qwen3_gguf, tmp_path):
    """The whole default ladder (the export's Q4_K_M reused), Q4_K_M also with an importance matrix."""
    ladder = _run(tiny_qwen3_gguf, tmp_path, ["ladder"], ["Q4_K_M"])
    _check_ladder(ladder, tmp_path, {*LADDER, "Q4_K_M + imatrix", "F16"})
    assert ladder.untrained  # random weights: the report says the figures mean nothing
    assert "untrained" in ladder_markdown(ladder)


def test_ladder_of_smollm2(smollm2_gguf, tmp_path):
    """A real model, three types (IQ4_XS alone takes 30 s at SmolLM2's width 576: the Qwen3 test makes it)."""
    ladder = _run(smollm2_gguf, tmp_path, ["Q3_K_M", "Q4_K_M", "Q8_0"], ["Q4_K_M"])
    _check_ladder(ladder, tmp_path, {"Q3_K_M", "Q4_K_M", "Q4_K_M + imatrix", "Q8_0", "F16"})
    assert not ladder.untrained
    by = {r.label: r for r in ladder.rows}
    assert by["Q8_0"].kl < by["Q3_K_M"].kl  # 8 bits drift less than 3 on a real model
    assert by["Q4_K_M + imatrix"].kl != by["Q4_K_M"].kl  # the importance matrix reached the quantizer
    with pytest.raises(OutputExistsError):
        _run(smollm2_gguf, tmp_path, ["Q3_K_M"], [])


def test_json_round_trip_renders_the_same_card():
    ladder = _ladder(bench=True)
    again = Ladder.from_json(json.loads(json.dumps(ladder.to_json())))
    assert ladder_markdown(again) == ladder_markdown(ladder)


def _cli(argv: list[str]) -> int:
    import argparse

    from ecmiip.cli import run
    from ecmiip.quantize import ladder_cli

    parser = argparse.ArgumentParser(prog="ecmiip")
    ladder_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return run(args.handler, args)


def test_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"nope" * 10)
    assert _cli(["ladder", str(not_gguf), "--out", str(tmp_path / "out")]) != 0
    assert "not a GGUF file" in capsys.readouterr().err
    assert _cli(["ladder", str(not_gguf), "--out", str(tmp_path / "out"), "--tokens", "1"]) != 0
    assert "--tokens 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_measures_the_exports_own_quants(tmp_path):
    from ecmiip.quantize.ladder_cli import exported_quants

    q4 = tmp_path / "ec-miip-Q4_K_M.gguf"
    q4.write_bytes(b"x" * 10)
    stale = tmp_path / "ec-miip-Q8_0.gguf"
    stale.write_bytes(b"x" * 11)
    report = {"files": {"reference": {"path": str(tmp_path / "ec-miip-F16.gguf"), "bytes": 1},
                        "Q4_K_M": {"path": str(q4), "bytes": 10}, "Q8_0": {"path": str(stale), "bytes": 99}}}
    (tmp_path / "export-report.json").write_text(json.dumps(report), encoding="utf-8")
    assert exported_quants(tmp_path) == {"Q4_K_M": q4}  # the changed Q8_0 is not the export's any more
    (tmp_path / "export-report.json").write_text("{", encoding="utf-8")
    assert exported_quants(tmp_path) == {}


def test_export_quant_ladder_reports_every_rung_and_the_card_shows_it(tiny_qwen3_dir, tmp_path):
    """``ecmiip export --quant ladder``: the export's types, the other rungs and the importance-matrix twins,
    all measured into export-report.json; ``publish --dry-run`` puts the table in the model card."""
    from ecmiip.cli import main

    out, hub = tmp_path / "dist", tmp_path / "hub"
    assert main(["export", str(tiny_qwen3_dir), "--out", str(out), "--quant", "ladder", "--no-verify"]) == 0
    rows = json.loads((out / "export-report.json").read_text(encoding="utf-8"))["quant_ladder"]["rows"]
    assert len(rows) >= 8 and all((out / Path(r["path"]).name).is_file() for r in rows)
    assert main(["publish", str(out), "--repo", "you/ec-miip", "--dry-run", str(hub)]) == 0
    card = (hub / "README.md").read_text(encoding="utf-8")
    assert "## Quant ladder" in card and "Q4_K_M + imatrix" in card
