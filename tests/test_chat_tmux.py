"""ecmiip-chat in a real terminal (tmux): streaming, Ctrl-C, /save, the citation check."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt install tmux)")

CHAT = [sys.executable, "-m", "ecmiip.chat.cli"]
_ENV_AT_COLLECTION = dict(os.environ)  # before any test ran: what a later test's terminal may have gained


class Terminal:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.name = f"ecmiip-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        line = f"env {exports} {' '.join(shlex.quote(c) for c in command)}; sleep 30"
        # A tmux server of its own (-L): its environment and directory are this test's, never those of a
        # server an earlier test started (a shared server keeps the environment it was started with).
        self.tmux = ["tmux", "-L", self.name]
        start = [*self.tmux, "new-session", "-d", "-s", self.name, "-c", str(Path.cwd()), "-x", "160", "-y", "50", line]
        for attempt in range(5):  # the tmux server of a just-closed last session may still be exiting
            done = subprocess.run(start, capture_output=True, text=True)
            if done.returncode == 0:
                break
            time.sleep(0.2 * (attempt + 1))
        else:
            raise AssertionError(f"tmux new-session failed: {done.stderr.strip()}")

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name, "-S", "-200"], capture_output=True,
                              text=True).stdout

    def send(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        self.send("-l", text)
        self.send("Enter")

    def wait_for(self, needle: str, timeout: float = 60, after: int = 0) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.screen()
            if screen.count(needle) > after:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} did not appear; screen:\n{self.screen()}")

    def wait_prompt(self, count: int = 1, timeout: float = 60) -> str:
        """Wait until the input prompt ('>') has been shown ``count`` times."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            screen = self.screen()
            if sum(1 for line in screen.splitlines() if line == ">" or line.startswith("> ")) >= count:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"prompt #{count} did not appear; screen:\n{self.screen()}")

    def diagnose(self) -> str:
        """What the processes in the terminal are doing (for a failure message): state, CPU time, the Python
        stacks (py-spy, where installed) and the environment variables that differ from the session's start."""
        import psutil

        pane = subprocess.run([*self.tmux, "display-message", "-p", "-t", self.name, "#{pane_pid}"], capture_output=True,
                              text=True).stdout.strip()
        if not pane.isdigit():
            return "(the terminal's process is gone)"
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        lines = []
        root = psutil.Process(int(pane))
        for proc in [root, *root.children(recursive=True)]:
            try:
                lines.append(f"pid {proc.pid} {proc.status()} cpu {sum(proc.cpu_times()[:2]):.1f}s: "
                             f"{' '.join(proc.cmdline())[:200]}")
                env = proc.environ()
            except psutil.Error as e:
                lines.append(f"pid {proc.pid}: {e!r}")
                continue
            changed = sorted(k for k in set(env) | set(_ENV_AT_COLLECTION) if env.get(k) != _ENV_AT_COLLECTION.get(k))
            lines.append("  environment differs in: " + ", ".join(f"{k}={env.get(k)!r}" for k in changed))
            if spy and "python" in proc.name():
                lines.append(subprocess.run([spy, "dump", "--pid", str(proc.pid)], capture_output=True, text=True,
                                            timeout=60).stdout)
        return "\n".join(lines)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def _env(home: Path) -> dict[str, str]:
    return {"ECMIIP_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "TERM": "xterm-256color"}


def test_streaming_citation_check_ctrl_c_and_save(ollama, home):
    term = Terminal([*CHAT, "--ollama", "fake", "--ollama-host", ollama], _env(home))
    try:
        term.wait_prompt()
        # Streaming: the long answer grows on screen while it is written.
        term.type("请给我一个长的回答")
        first = term.wait_for("这是一个很长的回答").count("这是一个很长的回答")
        time.sleep(0.6)
        assert term.screen().count("这是一个很长的回答") > first
        # Ctrl-C stops the answer and keeps the session.
        term.send("C-c")
        term.wait_for("已停止")
        term.wait_prompt(2)
        # Every cited article is listed after the answer with its status.
        term.type("第九十九条的责任是什么？")
        screen = term.wait_for("第十一条 — 现行")
        report = screen.split("引用核查")[1]
        assert "《专利法》第九十九条 — 无此条" in report
        term.type("员工离职带走客户名单，是否侵犯商业秘密？")
        screen = term.wait_for("第九十九条 — 无此条", after=1)
        report = screen.split("引用核查")[-1]
        assert "《反不正当竞争法》第九条 — 已被取代" in report and "《刑法》第二百一十九条 — 现行" in report
        # /save writes a private transcript.
        term.type("/save md 案件记录")
        term.wait_for("已保存")
        saved = home / "transcripts" / "案件记录.md"
        assert saved.is_file() and stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert "第九十九条的责任是什么？" in saved.read_text(encoding="utf-8")
        # Ctrl-D leaves.
        term.send("C-d")
    finally:
        term.close()


def test_real_model_answers_in_the_terminal(tiny_qwen3_gguf, home):
    term = Terminal([*CHAT, "--model", str(tiny_qwen3_gguf), "--max-tokens", "24", "--ctx", "2048"], _env(home))
    try:
        term.wait_prompt(timeout=120)
        term.type("/law 专利法 11")
        term.wait_for("未经专利权人许可")
        term.type("什么是专利？")
        screen = term.wait_prompt(3, timeout=120)
        assert "error" not in screen.lower() and "错误" not in screen
        term.type("/stats")
        term.wait_for("生成")
    finally:
        term.close()
