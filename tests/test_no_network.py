"""Nothing but ``ecmiip pull`` (and an explicit teacher URL) may touch the network: chat, bench, export,
verify and build on missing local paths or uncached hub ids fail at once, in one line, and no socket to a
non-loopback address is even attempted (a guard installed in the child interpreter records any try)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import netguard

ECMIIP = [sys.executable, "-m", "ecmiip"]
CHAT = [sys.executable, "-m", "ecmiip.chat.cli"]

COMMANDS = {
    "chat-missing-gguf": [*CHAT, "--model", "{tmp}/missing.gguf", "-p", "你好"],
    "chat-missing-folder-adapter": [*CHAT, "--model", "{tmp}/base+{tmp}/adapter", "-p", "你好"],
    "chat-hub-id": [*CHAT, "--model", "Qwen/Qwen3-4B", "-p", "你好"],
    "bench-missing-model": [*ECMIIP, "bench", "--model", "{tmp}/missing.gguf", "--task", "mcq", "--out", "{tmp}/out"],
    "bench-hub-id": [*ECMIIP, "bench", "--model", "Qwen/Qwen3-4B", "--task", "mcq", "--out", "{tmp}/out"],
    "export-missing-base": [*ECMIIP, "export", "{tmp}/missing", "--out", "{tmp}/out"],
    "export-hub-id": [*ECMIIP, "export", "Qwen/Qwen3-4B", "--out", "{tmp}/out"],
    "verify-missing-hf": [*ECMIIP, "verify", "{tmp}/missing.gguf", "--hf", "{tmp}/nope"],
    "build-uncached-hub-id": [*ECMIIP, "build", "--base", "Qwen/Qwen3-4B-not-cached", "--out", "{tmp}/out"],
    "build-missing-base": [*ECMIIP, "build", "--base", "{tmp}/missing", "--out", "{tmp}/out"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_socket_leaves_the_machine(name, tmp_path):
    guard = tmp_path / "guard"
    env = {**os.environ, **netguard.guard_env(guard), "ECMIIP_HOME": str(tmp_path / "home"),
           "HF_HOME": str(tmp_path / "hf")}
    argv = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[name]]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "Traceback" not in text, text
    assert netguard.attempts(guard) == [], (name, netguard.attempts(guard), text)
