"""What ``ecmiip export`` checks before its first byte: model names, local folders only, the Modelfile's
values, a writable output folder; and that export and verify never open a network connection."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ecmiip.core.errors import InputError
from ecmiip.quantize.export import ExportOptions, export
from ecmiip.quantize.inputs import check_model_name
from tests import netguard
from tests.harness import ROOT


@pytest.mark.parametrize("name", ["ec-miip", "ec-miip-v2", "知产助手", "qwen3_4b.ip-law", "my model", "a" * 96])
def test_plain_names_are_accepted(name):
    assert check_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", " ", "../x", "a/b", "a\\b", "..", ".", ".hidden", "-rf", "a..b", "a\nb", "a\tb", "a\x00b", "a\u200fb", "CON:",
     "a*b", "trailing.", " lead", "a" * 97, "知" * 33],
)
def test_unsafe_names_are_refused(name):
    with pytest.raises(InputError, match="--name"):
        check_model_name(name)


def _copy(model_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in model_dir.iterdir():
        if f.suffix == ".safetensors":
            (dest / f.name).symlink_to(f)
        else:
            shutil.copy(f, dest / f.name)
    return dest


def test_name_is_refused_before_anything_is_written(tiny_qwen3_dir, tmp_path):
    with pytest.raises(InputError, match="--name"):
        export(ExportOptions(base=tiny_qwen3_dir, out=tmp_path / "out", name="../../escape", verify=False))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("license_text", "why"),
    [('Terms.\nthe end """\nmore', 'ends with \'"""\''), ("Terms \x07 bell", "U+0007")],
)
def test_modelfile_values_are_checked_before_the_gguf_is_written(tiny_qwen3_dir, tmp_path, license_text, why):
    """A LICENSE the Modelfile cannot carry fails the export before the F16 GGUF, not after both GGUFs."""
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    (base / "LICENSE").write_text(license_text, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="LICENSE") as e:
        export(ExportOptions(base=base, out=out, verify=False))
    assert why in str(e.value)
    assert not out.exists()


def test_hub_ids_are_refused_with_pull_advice(tmp_path):
    with netguard.no_network() as attempts:
        with pytest.raises(InputError, match="ecmiip pull Qwen/Qwen3-4B"):
            export(ExportOptions(base=Path("Qwen/Qwen3-4B"), out=tmp_path / "out"))
        with pytest.raises(InputError, match="ecmiip pull me/lora"):
            export(ExportOptions(base=tmp_path, adapter=Path("me/lora"), out=tmp_path / "out"))
    assert attempts == []


@contextlib.contextmanager
def _read_only_folder(folder: Path):
    """``folder`` made read-only for this process: by permissions, or (as root, who ignores them) by a
    read-only bind mount; skip where neither is possible."""
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"running as root and cannot bind-mount: {bind.stderr.decode(errors='replace').strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip("cannot remount read-only")
        yield
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_read_only_output_folder_fails_before_converting(tiny_qwen3_dir, tmp_path):
    out = tmp_path / "out"
    with _read_only_folder(out):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ECMIIP_HOME": str(tmp_path / "home")}
        proc = subprocess.run([sys.executable, "-m", "ecmiip", "export", str(tiny_qwen3_dir), "--out", str(out)],
                              capture_output=True, env=env, timeout=300)
        text = (proc.stdout + proc.stderr).decode(errors="replace")
        assert proc.returncode == 1, text
        assert "Traceback" not in text and str(out) in " ".join(text.split()) and "cannot write" in text, text
        assert list(out.iterdir()) == []


def test_guard_blocks_the_network_and_allows_loopback(tmp_path):
    with netguard.no_network() as attempts:
        with pytest.raises(netguard.NetworkBlocked):
            socket.create_connection(("192.0.2.1", 80), timeout=0.5)
        with pytest.raises(netguard.NetworkBlocked):
            socket.getaddrinfo("huggingface.co", 443)
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
        server.close()
    assert len(attempts) == 2
    env = {**os.environ, **netguard.guard_env(tmp_path / "guard")}
    code = "import urllib.request\ntry:\n urllib.request.urlopen('https://huggingface.co', timeout=2)\nexcept OSError as e:\n print(e)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "blocked by the test guard" in proc.stdout, proc.stdout + proc.stderr
    assert netguard.attempts(tmp_path / "guard") == ["create_connection ('huggingface.co', 443)"]


def test_export_and_verify_stay_offline(tiny_qwen3_dir, tmp_path):
    """A whole export with its verification, then ``ecmiip verify``, with the hub's own offline switch off
    and every non-loopback connection refused: nothing even tries."""
    guard = tmp_path / "guard"
    env = {**os.environ, **netguard.guard_env(guard), "ECMIIP_HOME": str(tmp_path / "home")}
    out = tmp_path / "dist"
    run = [sys.executable, "-m", "ecmiip"]
    proc = subprocess.run([*run, "export", str(tiny_qwen3_dir), "--out", str(out)], capture_output=True, env=env, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode(errors="replace")
    assert json.loads((out / "export-report.json").read_text())["passed"]
    proc = subprocess.run([*run, "verify", str(out / "ec-miip-F16.gguf"), "--hf", str(tiny_qwen3_dir)],
                          capture_output=True, env=env, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode(errors="replace")
    assert netguard.attempts(guard) == []


def test_a_module_named_file_in_the_working_folder_cannot_break_the_quantizer(tiny_qwen3_dir, tmp_path):
    """The quantizer runs in a child interpreter: the folder the user runs from is not on its path."""
    (tmp_path / "numbers.py").write_text("raise SystemExit('shadowed the standard library')\n")
    ecmiip = Path(sys.executable).with_name("ecmiip")  # the console script: `python -m` would put the folder first
    proc = subprocess.run([str(ecmiip), "export", str(tiny_qwen3_dir), "--out", str(tmp_path / "out"),
                           "--quant", "Q8_0", "--no-verify"], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "out").glob("*-Q8_0.gguf"))
