"""ecmiip-chat without a terminal: -p, piped stdin, --rag, and every command on a live session."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console

from ecmiip.chat.cli import Chat, build_parser, open_backend
from ecmiip.core.errors import InputError
from tests.fake_ollama import Handler, serve

CHAT = [sys.executable, "-m", "ecmiip.chat.cli"]


@pytest.fixture
def ollama():
    server, url = serve()
    Handler.requests.clear()
    yield url
    server.shutdown()


@pytest.mark.parametrize("fixture", ["tiny_qwen3_gguf", "smollm2_gguf"])
def test_p_answers_from_both_test_ggufs(fixture, request):
    gguf = request.getfixturevalue(fixture)
    proc = subprocess.run([*CHAT, "--model", str(gguf), "-p", "What is a patent? Answer in English.", "--max-tokens", "16"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "\ufffd" not in proc.stdout


def test_p_answers_from_an_hf_folder_with_an_adapter(smollm2_dir, tmp_path):
    from ecmiip.bench.models import make_lora_adapter

    adapter = make_lora_adapter(smollm2_dir, tmp_path / "adapter", seed=2)
    proc = subprocess.run([*CHAT, "--model", f"{smollm2_dir}+{adapter}", "-p", "What is a patent? Answer in English.",
                           "--max-tokens", "12"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "\ufffd" not in proc.stdout


def test_piped_stdin_and_the_citation_check(ollama):
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", ollama], input="第九十九条是什么？\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "《专利法》第九十九条" in proc.stdout  # the answer itself, on stdout
    assert "引用核查" in proc.stderr and "九十九" in proc.stderr.split("引用核查")[1]


def test_rag_puts_articles_in_the_prompt_and_lists_sources(ollama):
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", ollama, "--rag", "-p", "未经许可制造专利产品构成侵权吗？"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "参考条文" in proc.stderr and "《中华人民共和国专利法》第十一条" in proc.stderr


def _chat(url: str, *extra: str) -> tuple[Chat, io.StringIO]:
    args = build_parser().parse_args(["--ollama", "fake", "--ollama-host", url, *extra])
    buf = io.StringIO()
    console = Console(file=buf, width=100)
    return Chat(open_backend(args), args, console, console), buf


def test_commands_on_a_live_session(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.ask("什么是专利？", interactive=True)
    assert len(chat.session.turns) == 1 and "专利权" in chat.session.turns[0].answer

    chat.command("/mode drafting")
    chat.command("/task 案例解析")
    assert chat.session.mode == "drafting" and "案例" in chat.session.system
    chat.command("/think")  # Qwen3 thinks by default: the first toggle turns it off
    chat.ask("再说一遍", interactive=True)
    assert Handler.requests[-1]["think"] is False
    chat.command("/think")
    chat.ask("再说一遍", interactive=True)
    assert Handler.requests[-1]["think"] is True and Handler.requests[-1]["options"]["temperature"] > 0.6
    assert all("先看事实" not in t.answer for t in chat.session.turns)  # thinking is never kept

    chat.command("/law 商标法 57")
    assert "第五十七条" in buf.getvalue()
    with pytest.raises(InputError, match="九十九"):
        chat.command("/law 专利法 99")

    monkeypatch.setattr("builtins.input", lambda prompt: "")  # accept every example value
    chat.command("/draft 律师函")
    assert "律师函" in Handler.requests[-1]["messages"][-1]["content"]

    chat.command("/save json 会话")
    chat.command("/reset")
    assert chat.session.turns == []
    chat.command("/load 会话")
    assert len(chat.session.turns) == 4
    chat.command("/stats")
    assert "decode" in buf.getvalue()
    with pytest.raises(InputError, match="未知命令"):
        chat.command("/nope")


def test_errors_leave_the_session_intact(ollama):
    chat, _ = _chat(ollama, "--ctx", "2048")
    chat.ask("短问题", interactive=True)
    with pytest.raises(InputError, match="tokens"):
        chat.ask("长" * 5000, interactive=True)  # longer than the whole context: refused, not truncated
    assert [t.question for t in chat.session.turns] == ["短问题"]  # the history survived the error
    chat.ask("还在吗？", interactive=True)
    assert [t.question for t in chat.session.turns] == ["短问题", "还在吗？"]
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", "http://127.0.0.1:9", "-p", "hi"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Ollama is not running" in proc.stderr.replace("\n", " ")
