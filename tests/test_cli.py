"""The command line reads well and reports user errors in one line, without a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ecmiip.cli import main


@pytest.mark.parametrize("argv", [["--help"], ["export", "--help"], ["verify", "--help"], ["ollama", "create", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage" in out.lower()
    if argv[0] == "export":
        for flag in ("--adapter", "--out", "--name", "--quant", "--outtype", "--force", "--tokenizer-pre"):
            assert flag in out


def test_user_error_is_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ecmiip", "export", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    flat = " ".join(proc.stderr.split())  # the console wraps long lines
    assert "model directory not found" in flat and "ecmiip pull" in flat and "Traceback" not in proc.stderr


def test_unknown_quant_type_is_named(tiny_qwen3_dir, tmp_path, capsys):
    assert main(["export", str(tiny_qwen3_dir), "--out", str(tmp_path), "--quant", "Q3_XL"]) == 1
    assert "unknown quantization type Q3_XL" in capsys.readouterr().err.replace("\n", " ")


def test_chat_answers_from_an_exported_gguf(tiny_qwen3_dir, tmp_path):
    assert main(["export", str(tiny_qwen3_dir), "--out", str(tmp_path), "--no-verify"]) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "ecmiip.chat.cli", "--model", str(tmp_path / "ec-miip-Q4_K_M.gguf"), "-p", "什么是专利？", "--max-tokens", "8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()  # random weights: some text, not a particular one


def test_every_subcommand_has_a_description():
    import argparse

    from ecmiip.cli import build_parser

    def leaves(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser
        for action in subs:
            for name, child in action.choices.items():
                yield from leaves(child, [*path, name])

    found = list(leaves(build_parser(), []))
    assert len(found) >= 18
    missing = [" ".join(path) for path, parser in found if not (parser.description or "").strip()]
    assert missing == []
