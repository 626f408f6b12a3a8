"""ecmiip-chat keeps every word the user types or pastes, and survives every interruption (tmux, fake Ollama).

The fake server records each request, so the tests assert what reached the model, not only the screen.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.fake_ollama import Handler
from tests.test_chat_tmux import CHAT, Terminal, _env, pytestmark  # noqa: F401 — skipped without tmux


class Term(Terminal):
    """The whole scrollback, so that counting prompts still works after long outputs."""

    def screen(self) -> str:
        return subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name, "-S", "-"], capture_output=True,
                              text=True).stdout


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def _open(ollama: str, home: Path, *extra: str) -> Term:
    term = Term([*CHAT, "--ollama", "fake", "--ollama-host", ollama, *extra], _env(home))
    term.wait_prompt()
    return term


def _questions() -> list[str]:
    """The user messages of the last request: the history the model saw, then the new question."""
    return [m["content"] for m in Handler.requests[-1]["messages"] if m["role"] == "user"]


def _wait_requests(n: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while len(Handler.requests) < n and time.time() < deadline:
        time.sleep(0.05)
    assert len(Handler.requests) >= n, f"{len(Handler.requests)} requests, expected {n}"


def _paste(term: Terminal, text: str, tmp: Path) -> None:
    """A bracketed paste, as a terminal sends it when text is pasted with the mouse or Ctrl-Shift-V."""
    buffer = tmp / "paste.txt"
    buffer.write_text(text, encoding="utf-8")
    subprocess.run([*term.tmux, "load-buffer", "-b", term.name, str(buffer)], check=True)
    subprocess.run([*term.tmux, "paste-buffer", "-p", "-d", "-b", term.name, "-t", term.name], check=True)


def test_quotes_in_every_slash_command_keep_the_session(ollama, home):
    term = _open(ollama, home)
    try:
        term.type("什么是专利？")
        term.wait_prompt(2)
        commands = ["/system don't invent", "/law 专利法 \"11", "/law 专利法 '11'", "/mode it's", "/task \"学理问答",
                    "/draft don't", "/save don't", "/save md \"记录", "/load \"x", "/load it's", "/stats '",
                    "/help \"", "/think '", "/think", "/reset' x", "/nope 'x"]
        for i, command in enumerate(commands, start=3):
            term.type(command)
            term.wait_prompt(i)
        term.type("/multi \"it's")  # multi-line on: Enter is a newline, Esc-Enter sends
        term.wait_for("多行输入：开")
        term.send("-l", "/multi '")
        term.send("Escape", "Enter")
        term.wait_for("多行输入：关")
        commands += ["/multi", "/multi"]
        screen = term.screen()
        assert "Traceback" not in screen and "未知命令 /reset'" in screen and "未知命令 /nope" in screen
        assert "第十一条" in screen  # '11' quoted is 11
        term.type("还在吗？")
        _wait_requests(2)
        term.wait_prompt(len(commands) + 3)
        assert _questions() == ["什么是专利？", "还在吗？"]  # the history survived every command
        assert Handler.requests[-1]["messages"][0]["content"] == "don't invent"  # the apostrophe is text
    finally:
        term.close()


def test_ctrl_c_and_ctrl_d_inside_draft(ollama, home):
    term = _open(ollama, home)
    try:
        term.type("什么是专利？")
        term.wait_prompt(2)
        term.type("/draft 律师函")
        term.wait_for("留空则标为")
        term.send("C-c")
        term.wait_for("已取消起草")
        term.wait_prompt(3)
        term.type("/draft 律师函")
        term.wait_for("留空则标为", after=1)
        term.send("C-d")
        term.wait_for("已取消起草", after=1)
        term.wait_prompt(4)
        term.type("还在吗？")
        _wait_requests(2)
        term.wait_prompt(5)
        assert _questions() == ["什么是专利？", "还在吗？"]
    finally:
        term.close()


def test_ctrl_c_while_ollama_has_not_sent_a_byte(ollama, home):
    term = _open(ollama, home)
    try:
        term.type("什么是专利？")
        term.wait_prompt(2)
        term.type("请挂起")
        term.wait_for("等待模型")  # the spinner, with the seconds waited
        _wait_requests(2)
        term.send("C-c")
        term.wait_for("已停止")
        term.wait_prompt(3)
        term.type("还在吗？")
        _wait_requests(3)
        term.wait_prompt(4)
        assert _questions() == ["什么是专利？", "还在吗？"]  # the stopped question is not in the history
        assert "Traceback" not in term.screen()
    finally:
        term.close()


def test_a_hanging_ollama_times_out_and_the_session_goes_on(ollama, home):
    term = _open(ollama, home, "--timeout", "1")
    try:
        term.type("请挂起")
        term.wait_for("sent nothing for 1 s")
        term.wait_prompt(2)
        term.type("还在吗？")
        _wait_requests(2)
        term.wait_prompt(3)
        assert _questions() == ["还在吗？"]
    finally:
        term.close()


def test_a_20000_character_paste_arrives_whole(ollama, home, tmp_path):
    term = _open(ollama, home, "--ctx", "65536")
    try:
        text = "".join(f"第{i}段：被告未经许可实施了原告的专利方法。" for i in range(1000))[:20000]
        assert len(text) == 20000
        _paste(term, text, tmp_path)
        time.sleep(0.5)
        term.send("Enter")
        _wait_requests(1)
        term.wait_for("引用核查")  # the echoed paste scrolls the first prompt off the captured screen
        assert _questions() == [text]
        term.type("/stats")
        screen = term.wait_for("历史")
        prompt_tokens = int(screen.split("提示")[-1].split("tokens")[0].strip(" │"))
        assert prompt_tokens > 20000  # the fake counts one token per character the model received
    finally:
        term.close()


def test_a_30_line_paste_is_one_message(ollama, home, tmp_path):
    term = _open(ollama, home)
    try:
        text = "\n".join(f"第{i}行：事实陈述，包括 'quotes' 和 \"双引号\"。" for i in range(1, 31))
        _paste(term, text, tmp_path)
        time.sleep(0.3)
        term.send("Enter")
        _wait_requests(1)
        term.wait_prompt(2)
        time.sleep(0.3)
        assert len(Handler.requests) == 1 and _questions() == [text]
    finally:
        term.close()


def test_esc_enter_and_multi_mode_make_multi_line_messages(ollama, home):
    term = _open(ollama, home)
    try:
        term.send("-l", "第一行")
        term.send("Escape", "Enter")
        term.type("第二行")
        _wait_requests(1)
        term.wait_for("引用核查")
        assert _questions() == ["第一行\n第二行"]
        term.type("/multi")
        term.wait_for("多行输入：开")
        term.type("甲")
        term.type("乙")
        term.send("Escape", "Enter")
        _wait_requests(2)
        assert _questions()[-1] == "甲\n乙"
    finally:
        term.close()


def test_up_recalls_the_previous_question_after_a_restart(ollama, home):
    term = _open(ollama, home)
    try:
        term.type("上一次会话的问题")
        _wait_requests(1)
        term.wait_prompt(2)
        term.send("C-d")
    finally:
        term.close()
    term = _open(ollama, home)
    try:
        term.send("Up")
        term.wait_for("> 上一次会话的问题")
        term.send("Enter")
        _wait_requests(2)
        assert _questions() == ["上一次会话的问题"]
    finally:
        term.close()


def test_the_budget_notice_on_a_capped_answer(ollama, home):
    term = _open(ollama, home, "--max-tokens", "5")
    try:
        term.type("请截断")
        term.wait_for("--max-tokens 上限（5 tokens）")
        term.wait_prompt(2)
        assert list((home / "transcripts").glob("autosave-*.json"))  # the finished turn was autosaved
    finally:
        term.close()
