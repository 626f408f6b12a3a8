"""ecmiip-chat without a terminal: -p, piped stdin, --rag, and every command on a live session."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from rich.console import Console

from ecmiip.chat.cli import Chat, build_parser, open_backend
from ecmiip.core.errors import InputError
from tests.fake_ollama import Handler

CHAT = [sys.executable, "-m", "ecmiip.chat.cli"]


@pytest.mark.parametrize("fixture", ["tiny_qwen3_gguf", "smollm2_gguf"])
def test_p_answers_from_both_test_ggufs(fixture, request):
    gguf = request.getfixturevalue(fixture)
    proc = subprocess.run([*CHAT, "--model", str(gguf), "-p", "What is a patent? Answer in English.", "--max-tokens", "16"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "\ufffd" not in proc.stdout


def test_p_answers_from_an_hf_folder_with_an_adapter(smollm2_dir, tmp_path):
    from tests.models import make_lora_adapter

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


def test_p_prints_every_cited_article_with_its_status(ollama):
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", ollama, "-p", "员工离职带走客户名单，是否侵犯商业秘密？"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = proc.stderr.replace("\n", "").split("引用核查")[1]
    expected = [
        ("《反不正当竞争法》第九条", "已被取代"),  # the 2019 text, replaced on 2025-10-15
        ("侵犯商业秘密民事案件适用法律若干问题的规定》第九条", "现行"),
        ("《刑法》第二百一十九条", "现行"),
        ("《反不正当竞争法》（2025修订）第十条", "库中未收录"),  # the current text is not in the store
        ("《商业秘密保护法》第三条", "库中无此法"),
        ("《专利法》第九十九条", "无此条"),
    ]
    for citation, word in expected:
        assert f"{citation} — {word}" in report, (citation, report)
    assert "2025-10-15" in report and "2021-03-01起施行" in report  # since when, and the version relied on
    assert report.count(" — ") == len(expected)


def test_as_of_checks_against_the_versions_in_force_then(ollama):
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", ollama, "--as-of", "2023-06-30",
                           "-p", "员工离职带走客户名单，是否侵犯商业秘密？"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = proc.stderr.replace("\n", "").split("引用核查")[1]
    assert "按2023-06-30有效的版本" in report and "《反不正当竞争法》第九条 — 现行" in report
    assert "2023-06-30" in Handler.requests[-1]["messages"][0]["content"]  # the system prompt says the date
    bad = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", ollama, "--as-of", "2023/06/30", "-p", "hi"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


def test_law_shows_the_version_dates_and_status(ollama):
    chat, buf = _chat(ollama)
    chat.command("/law 专利法 75")
    out = buf.getvalue().replace("\n", "")
    assert "2020修正" in out and "2021-06-01起施行" in out and "现行有效" in out
    chat.command("/law 反法 9")  # no current text in the store: the old one, marked as such
    out = buf.getvalue().replace("\n", "")
    assert "2025-10-15起已被" in out and "现行文本未收录" in out
    chat.command("/law 专利法 69 2020修正")
    with pytest.raises(InputError, match="2020修正"):
        chat.command("/law 专利法 69 1999")


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

    monkeypatch.setattr("builtins.input", lambda prompt: "")  # every field left blank
    chat.command("/draft 律师函")
    sent = Handler.requests[-1]["messages"][-1]["content"]
    assert "律师函" in sent and "委托人（权利人）：【待填写】" in sent
    assert "北京星河文化传媒有限公司" not in sent  # the example is a hint, never a fact
    assert "反不正当竞争法》第九条" not in sent and "（2019修正）第九条" not in sent

    def interrupted(prompt):
        raise KeyboardInterrupt
    monkeypatch.setattr("builtins.input", interrupted)  # Ctrl-C while /draft asks: the session survives
    turns = len(chat.session.turns)
    chat.command("/draft 保密协议")
    assert len(chat.session.turns) == turns and "已取消起草" in buf.getvalue()

    chat.command("/save json 会话")
    chat.command("/reset")
    assert chat.session.turns == []
    chat.command("/load 会话")
    assert len(chat.session.turns) == 4
    chat.command("/stats")
    out = buf.getvalue().split("已载入")[-1]
    assert "4 轮" in out and "生成" not in out  # figures of the old session's turns are not this one's
    chat.ask("再问一次", interactive=True)
    chat.command("/stats")
    assert "生成" in buf.getvalue().split("再问一次")[-1]
    with pytest.raises(InputError, match="未知命令"):
        chat.command("/nope")


def test_errors_leave_the_session_intact(ollama):
    chat, _ = _chat(ollama, "--ctx", "2048")
    chat.ask("短问题", interactive=True)
    with pytest.raises(InputError, match=r"共需 \d+ 个 token.*--ctx 2048.*只余 1536 个.*更大的 --ctx"):
        chat.ask("长" * 5000, interactive=True)  # longer than the whole context: refused, not truncated
    assert [t.question for t in chat.session.turns] == ["短问题"]  # the history survived the error
    chat.ask("还在吗？", interactive=True)
    assert [t.question for t in chat.session.turns] == ["短问题", "还在吗？"]
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", "http://127.0.0.1:9", "-p", "hi"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Ollama is not running" in proc.stderr.replace("\n", " ")


class _Interrupting:
    """A backend that is interrupted (Ctrl-C) before its first byte, or in the middle of an answer."""

    context_size, last_stats = 8192, None

    def __init__(self, when: str) -> None:
        self.when = when

    def count_tokens(self, messages, think):
        return sum(len(m["content"]) for m in messages)

    def stream(self, messages, **kw):
        if self.when == "connect":
            raise KeyboardInterrupt
        return self._gen()

    def _gen(self):
        from ecmiip.chat.backends import Delta

        yield Delta("content", "部分")
        raise KeyboardInterrupt

    def close(self):
        pass


@pytest.mark.parametrize("when", ["connect", "stream"])
def test_ctrl_c_before_the_first_byte_or_mid_answer_keeps_the_session(ollama, when, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.ask("什么是专利？", interactive=True)
    history = list(chat.session.turns)
    chat.backend = _Interrupting(when)
    chat.run_line("再问一次")
    assert chat.session.turns == history and "已停止" in buf.getvalue()


def test_commands_with_quotes_never_crash(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.ask("什么是专利？", interactive=True)
    for line in ["/system don't invent", "/law 专利法 \"11", "/mode it's", "/task \"学理问答", "/draft don't",
                 "/save don't", "/load \"x", "/stats '", "/help \"", "/think '", "/reset' x", "/", "/\"", "/law '' ''"]:
        chat.run_line(line)
    assert chat.session.system == "don't invent" and len(chat.session.turns) == 1
    assert "Traceback" not in buf.getvalue() and "未知命令 /reset'" in buf.getvalue()
    chat.run_line('/system "be brief"')
    assert chat.session.system == "be brief"


def test_split_args_falls_back_to_words():
    from ecmiip.chat.cli import split_args

    assert split_args("专利法 11 '2008'") == ["专利法", "11", "2008"]
    assert split_args("don't invent") == ["don't", "invent"]
    assert split_args('"unbalanced x') == ['"unbalanced', "x"]


def test_mode_in_words_and_stats_after_reset(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.command("/mode drafting")
    out = buf.getvalue()
    assert "drafting（文书起草）" in out and "温度 0.9" in out and "{" not in out
    chat.ask("什么是专利？", interactive=True)
    chat.command("/stats")
    assert "生成" in buf.getvalue() and "1 轮" in buf.getvalue()
    chat.command("/reset")
    chat.command("/stats")
    after = buf.getvalue().split("对话已清空")[-1]
    assert "生成" not in after and "0 轮" in after and "turns" not in after


def test_a_finished_turn_is_autosaved_and_loads(ollama, tmp_path, monkeypatch):
    import stat

    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.ask("什么是专利？", interactive=True)
    assert chat.autosave is not None and stat.S_IMODE(chat.autosave.stat().st_mode) == 0o600
    assert stat.S_IMODE(chat.autosave.parent.stat().st_mode) == 0o700
    chat.ask("再说一遍", interactive=True)
    other, _ = _chat(ollama)
    other.command("/load autosave")
    assert [t.question for t in other.session.turns] == ["什么是专利？", "再说一遍"]
    chat.command("/help")
    assert str(tmp_path / "transcripts") in buf.getvalue().replace("\n", "")


def test_a_bad_transcript_replaces_nothing(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.ask("什么是专利？", interactive=True)
    folder = tmp_path / "transcripts"
    (folder / "utf.json").write_bytes(b'{"system": "\xff", "turns": []}')
    (folder / "mode.json").write_text('{"system": "s", "turns": [], "mode": "wild"}', encoding="utf-8")
    (folder / "types.json").write_text('{"system": "s", "turns": [{"question": ["x"]}]}', encoding="utf-8")
    for name in ("utf", "mode", "types", "absent"):
        chat.run_line(f"/load {name}")
    assert [t.question for t in chat.session.turns] == ["什么是专利？"] and chat.session.mode == "rigorous"
    assert buf.getvalue().count("错误：") == 4
    chat.ask("还在吗？", interactive=True)  # the next question works (the crash used to come here)
    assert len(chat.session.turns) == 2


def test_ollama_replies_of_the_wrong_shape_keep_the_session(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)
    chat.ask("什么是专利？", interactive=True)
    for question in ("坏类型", "坏JSON", "半截", "非HTTP"):
        chat.run_line(question)
    assert [t.question for t in chat.session.turns] == ["什么是专利？"]
    assert buf.getvalue().count("错误：") == 4 and "Traceback" not in buf.getvalue()


def test_the_budget_notice(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama, "--max-tokens", "7")
    chat.ask("截断一下", interactive=True)
    assert "--max-tokens 上限（7 tokens）" in buf.getvalue()
    proc = subprocess.run([*CHAT, "--ollama", "fake", "--ollama-host", ollama, "--max-tokens", "7", "-p", "截断"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "ECMIIP_HOME": str(tmp_path)})
    assert proc.returncode == 0 and "--max-tokens 上限" in proc.stderr


def test_unexpected_errors_are_one_line_with_a_log(ollama, tmp_path, monkeypatch):
    monkeypatch.setenv("ECMIIP_HOME", str(tmp_path))
    chat, buf = _chat(ollama)

    def broken(rest):
        raise ZeroDivisionError("boom")
    chat.cmd_help = broken
    chat.run_line("/help")
    assert "意外错误（ZeroDivisionError: boom）" in buf.getvalue() and list((tmp_path / "logs").glob("*.log"))
