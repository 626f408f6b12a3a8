"""``ecmiip bench --preset paper``: the paper's Table 3 (DX, NOM, HX) on the shipped samples."""

from __future__ import annotations

import json

from ecmiip.bench import data as bench_data
from ecmiip.bench import paper
from ecmiip.cli import main


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_paper_preset_on_the_shipped_samples(tiny_qwen3_gguf, tmp_path):
    out = tmp_path / "paper"
    argv = ["bench", "--preset", "paper", "--model", str(tiny_qwen3_gguf), "--limit", "4", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["settings"]["preset"] == "paper"
    model = results["models"][str(tiny_qwen3_gguf)]
    assert set(model["tasks"]) == {"mcq-generation", "case-generation"}  # one scorer: generation
    cells = paper.measured(model)
    assert cells["DX"][2][1] == 4  # n of the DX column
    report = (out / "report.md").read_text(encoding="utf-8")
    section = report.split("## Table 3 layout", 1)[1].split("\n## ", 1)[0]
    assert "| model | DX | NOM | HX |" in section
    assert f"| {tiny_qwen3_gguf} (measured) |" in section
    assert "| Qwen3-4B (paper) — quoted, not re-measured | 0.555 | not at hand | not at hand |" in section
    assert "| EC-MIIP (paper) — quoted, not re-measured | 0.863 |" in section
    assert (out / "accuracy.png").stat().st_size > 0


def test_paper_preset_with_three_files(tiny_qwen3_gguf, tmp_path):
    """DX lines without a type are single-choice (the paper's DX is); NOM/HX lines take their file's kind."""
    mcq = [r for r in _rows(bench_data.DEFAULT_DATA["mcq"]) if len(r["answer_letters"]) == 1][:3]
    cases = _rows(bench_data.DEFAULT_DATA["case"])
    dx, nom, hx = tmp_path / "DX.jsonl", tmp_path / "NOM.jsonl", tmp_path / "HX.jsonl"
    _write(dx, [{k: v for k, v in r.items() if k != "type"} for r in mcq])
    _write(nom, [{k: v for k, v in r.items() if k != "kind"} for r in cases if r["kind"] == "NOM"][:3])
    _write(hx, [{k: v for k, v in r.items() if k != "kind"} for r in cases if r["kind"] == "HX"][:2])
    out = tmp_path / "out"
    argv = ["bench", "--preset", "paper", "--model", str(tiny_qwen3_gguf), "--scorer", "likelihood",
            "--data", f"{dx},{nom},{hx}", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    tasks = results["models"][str(tiny_qwen3_gguf)]["tasks"]
    assert {r["type"] for r in tasks["mcq-likelihood"]["items"]} == {"single"}
    assert all(len(r["prediction"]) == 1 for r in tasks["mcq-likelihood"]["items"])
    assert tasks["case-likelihood"]["summary"]["count"]["NOM"][1] == 3
    assert tasks["case-likelihood"]["summary"]["count"]["HX"][1] == 2
    cells = paper.measured(results["models"][str(tiny_qwen3_gguf)])
    assert [cells[c][2][1] for c in paper.COLUMNS] == [3, 3, 2]
