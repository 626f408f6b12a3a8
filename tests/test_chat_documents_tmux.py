"""Documents in a real terminal (tmux): /file, the 〔第N段〕 check, /export docx, sessions that last, bad files.

The scripted answers come from tests/fake_ollama.py (a tiny real model cannot be made to cite a
paragraph on cue); the same commands on the real tiny GGUF are the last test.
"""

from __future__ import annotations

import shutil
import stat

import pytest
from docx import Document as Docx

from tests import doc_fixtures
from tests.test_chat_tmux import CHAT, Terminal, _env

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt install tmux)")


def _chat(url: str, *extra: str) -> list[str]:
    return [*CHAT, "--ollama", "fake", "--ollama-host", url, "--ctx", "32768", *extra]


def test_attach_cite_export_close_continue_and_find(ollama, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    contract = doc_fixtures.contract_docx(work)
    exported = work / "审查意见.docx"
    term = Terminal(_chat(ollama), _env(home))
    try:
        term.wait_prompt()
        term.type(f"/file {contract}")
        term.wait_for(f"已附加 {contract.name}：{len(doc_fixtures.contract_paragraphs())} 段")
        term.type("请核对附件中的改进技术回授条款")
        screen = term.wait_for("段落引用核查")
        report = screen.split("段落引用核查")[1]
        assert "✓ 第3段 — 见附件" in report and "⚠ 第999段 — 附件中没有这一段" in report
        assert "《中华人民共和国民法典》第八百五十条 — 现行" in screen
        term.wait_prompt(3)
        term.type(f"/export docx {exported}")
        term.wait_for("已导出")
        term.send("C-d")
    finally:
        term.close()

    text = "\n".join(p.text for p in Docx(str(exported)).paragraphs)
    assert "〔第3段〕" in text and "请核对附件中的改进技术回授条款" in text
    assert "非法垄断技术或者侵害他人技术成果的技术合同无效。" in text  # the appendix quotes the verified article
    db = home / "history.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600 and stat.S_IMODE(home.stat().st_mode) == 0o700

    # A new terminal continues the stored session: the attachment is back, and the next turn is added.
    term = Terminal(_chat(ollama, "--continue"), _env(home))
    try:
        screen = term.wait_for("已恢复会话 #1")
        assert "1 轮，附件 1 个" in screen
        term.wait_prompt()
        term.type("请再核对附件一次")
        term.wait_for("段落引用核查")
        term.wait_prompt(2)
        term.type("/sessions")
        term.wait_for("◀ 当前")
    finally:
        term.close()

    term = Terminal([*CHAT, "--history", "回授"], _env(home))
    try:
        screen = term.wait_for("#1")
        assert "第 1 轮" in screen and "回授" in screen
    finally:
        term.close()


BAD_FILES = {
    "missing": (lambda d: d / "没有这个文件.pdf", "文件不存在"),
    "empty": (doc_fixtures.empty_file, "文件是空的"),
    "encrypted": (doc_fixtures.encrypted_pdf, "打开密码"),
    "scanned": (doc_fixtures.scanned_pdf, "OCR"),
    "fake docx": (doc_fixtures.fake_docx, "不是 Word 文档"),
    "50 MB text": (doc_fixtures.big_text, "超过 .txt 文件的上限"),
    "binary": (doc_fixtures.binary_txt, "二进制"),
}


def test_bad_files_are_one_line_each_and_the_session_goes_on(ollama, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    paths = {name: make(work) for name, (make, _) in BAD_FILES.items()}
    gbk = doc_fixtures.gbk_text(work)
    term = Terminal(_chat(ollama), _env(home))
    try:
        term.wait_prompt()
        for i, (name, path) in enumerate(paths.items(), 2):
            term.type(f"/file {path}")
            screen = term.wait_prompt(i)
            message = screen.split(f"/file {path}")[-1].replace("\n", "")  # a long line wraps on screen
            assert message.count("错误：") == 1 and path.name in message and BAD_FILES[name][1] in message, name
            assert "Traceback" not in screen
        term.type(f"/file {gbk}")
        term.wait_for("GBK")
        term.type("/file")
        screen = term.wait_for(f"附件：{gbk}")
        assert screen.count("附件：") == 1  # none of the bad files was attached
        term.type("请核对附件")
        term.wait_for("段落引用核查")
    finally:
        term.close()


def test_real_model_reads_an_attached_docx(tiny_qwen3_gguf, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    contract = doc_fixtures.contract_docx(work)
    term = Terminal([*CHAT, "--model", str(tiny_qwen3_gguf), "--max-tokens", "16", "--ctx", "2048"], _env(home))
    try:
        term.wait_prompt(timeout=120)
        term.type(f"/file {contract}")
        term.wait_for("已附加")
        term.type("第十一条有什么风险？")
        screen = term.wait_for("未提供第", timeout=120)  # 2,048 tokens cannot hold the contract: the user is told
        screen = term.wait_prompt(3, timeout=120)
        assert not any(line.startswith("错误：") for line in screen.splitlines()) and "Traceback" not in screen
        term.type(f"/export md {work / '记录'}")
        term.wait_for("已导出")
    finally:
        term.close()
    text = (work / "记录.md").read_text(encoding="utf-8")
    assert "第十一条有什么风险？" in text and f"附件：{contract.name}" in text
