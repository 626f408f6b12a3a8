"""Atomic outputs (ecmiip.core.outputs): one context manager for text, JSONL and binary files."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ecmiip.core.outputs import (
    atomic_path,
    atomic_write,
    write_bytes_atomic,
    write_jsonl_atomic,
    write_text_atomic,
)


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_text_binary_and_jsonl_take_their_name_when_complete(tmp_path):
    write_text_atomic(tmp_path / "a.md", "专利\n")
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert write_jsonl_atomic(tmp_path / "c.jsonl", [{"法": 1}, {"b": 2}]) == 2
    assert (tmp_path / "a.md").read_text(encoding="utf-8") == "专利\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert (tmp_path / "c.jsonl").read_text(encoding="utf-8") == '{"法": 1}\n{"b": 2}\n'
    assert _names(tmp_path) == ["a.md", "b.bin", "c.jsonl"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, TypeError])
def test_an_interrupted_write_keeps_the_previous_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "results.json"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(error), atomic_write(path) as f:
        f.write("half")
        raise error
    assert path.read_text(encoding="utf-8") == "old"
    assert _names(tmp_path) == ["results.json"]


def test_a_row_that_is_not_json_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_jsonl_atomic(tmp_path / "x.jsonl", [{"a": 1}, {"b": object()}])
    assert _names(tmp_path) == []


def test_the_file_is_flushed_to_disk_before_the_rename(tmp_path, monkeypatch):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b))[1])
    write_text_atomic(tmp_path / "a.txt", "x")
    assert order == ["fsync", "replace"]


def test_a_path_for_another_writer(tmp_path):
    final = tmp_path / "out.gguf"
    with atomic_path(final) as tmp:
        assert tmp.name == ".out.gguf.partial" and not tmp.exists()
        tmp.write_bytes(b"GGUF")
        assert not final.exists()
    assert final.read_bytes() == b"GGUF" and _names(tmp_path) == ["out.gguf"]


def test_a_leftover_at_the_temporary_name_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / ".a.txt.partial").symlink_to(victim)
    write_text_atomic(tmp_path / "a.txt", "new")
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "new"
    assert _names(tmp_path) == ["a.txt", "victim.txt"]


def test_private_output_is_0600_under_a_fresh_name(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (tmp_path / ".s.json.partial").symlink_to(victim)
    old = tmp_path / "s.json"
    old.write_text("old", encoding="utf-8")
    os.chmod(old, 0o666)
    with atomic_write(old, private=True) as f:
        json.dump({"a": 1}, f)
    assert json.loads(old.read_text(encoding="utf-8")) == {"a": 1}
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert _names(tmp_path) == [".s.json.partial", "s.json", "victim.txt"]


def test_only_text_and_binary_writing_modes(tmp_path):
    with pytest.raises(ValueError, match="'a'"), atomic_write(tmp_path / "x", "a"):
        pass
