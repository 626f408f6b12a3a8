"""A real ``ollama serve`` for the tests: found, started on 127.0.0.1 with its own models folder, stopped.

The binary is ``$ECMIIP_OLLAMA`` (what ``.ci/build-ollama`` built), else ``ollama`` on PATH. Without one the
tests that need it skip and say how to get it; with ``ECMIIP_REQUIRE_OLLAMA=1`` (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

HOW_TO_GET = "build the pinned one with `.ci/build-ollama` and set ECMIIP_OLLAMA=<folder>/bin/ollama"


def ollama_binary() -> Path | None:
    if named := os.environ.get("ECMIIP_OLLAMA"):
        path = Path(named)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("ollama")
    return Path(found) if found else None


def require_ollama() -> Path:
    """The binary, or a skip (a failure in CI) that says why."""
    binary = ollama_binary()
    if binary is None:
        named = os.environ.get("ECMIIP_OLLAMA")
        why = f"ECMIIP_OLLAMA={named} is not an executable file" if named else "Ollama is not installed"
        skip_unless_required(f"{why}: {HOW_TO_GET}")
    return binary


def skip_unless_required(why: str) -> None:
    """Skip the test and say why; fail instead where ECMIIP_REQUIRE_OLLAMA=1 (CI) says Ollama must be there."""
    if os.environ.get("ECMIIP_REQUIRE_OLLAMA") == "1":
        pytest.fail(f"{why} (ECMIIP_REQUIRE_OLLAMA=1: Ollama and its packages must be present)")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OllamaServer:
    """``ollama serve`` on a free loopback port; ``home`` holds its models, keys and log."""

    seen_version: str | None = None  # of the last server started, for the test summary

    def __init__(self, binary: Path, home: Path, **env: str) -> None:
        self.binary = binary
        self.home = home
        self.host = f"127.0.0.1:{_free_port()}"
        self.url = f"http://{self.host}"
        self.log = home / f"serve-{self.host.rsplit(':', 1)[1]}.log"
        self.env = {
            **os.environ,
            "HOME": str(home),
            "OLLAMA_HOST": self.host,
            "OLLAMA_MODELS": str(home / "models"),
            "OLLAMA_NOPRUNE": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> OllamaServer:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ollama serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                OllamaServer.seen_version = self.version()
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"ollama serve did not answer on {self.url} within {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-n:] if self.log.exists() else ""

    def version(self) -> str:
        with urllib.request.urlopen(f"{self.url}/api/version", timeout=2) as r:
            return json.load(r)["version"]

    def cli(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """The ``ollama`` client against this server (``OLLAMA_HOST`` set)."""
        return subprocess.run(
            [str(self.binary), *args], env=self.env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )

    def post(self, path: str, body: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
        """One non-streamed API call; an HTTP error comes back as ``{"status": code, "error": ...}``."""
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps({"stream": False, **body}).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            return {"status": e.code, **json.loads(e.read() or b"{}")}

    def template_choice(self, model: str) -> str | None:
        """Which template the server said it selected for ``model`` (its "template selection" log line)."""
        for line in reversed(self.log_tail(200_000).splitlines()):
            if "template selection" in line and (f"/{model}:" in line or f"model={model} " in line):
                return line.split("selected=", 1)[1].split()[0]
        return None
