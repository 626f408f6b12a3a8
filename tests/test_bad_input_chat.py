"""Bad inputs to ``ecmiip-chat``, each run as a user would: one line naming the culprit, a non-zero exit, no
traceback, nothing changed outside the user-data folder. Flags, the question on stdin, model files,
saved transcripts (``--load``) and a local Ollama that is missing, slow or talks nonsense."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fake_ollama import Handler, serve
from tests.harness import CHAT, Case, check

CLOSED = "http://127.0.0.1:9"  # nothing listens on the discard port
FAKE = ("--ollama", "fake", "--ollama-host", "{ollama}")


def _file(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def _transcript(data: bytes | str | object, name: str = "bad.json") -> Callable[[Path], None]:
    raw = data if isinstance(data, (bytes, str)) else json.dumps(data, ensure_ascii=False)
    return _file(f"home/transcripts/{name}", raw)


GOOD = {"system": "系统", "turns": [{"question": "问", "answer": "答", "sources": [], "flagged": []}],
        "mode": "rigorous", "task": None, "think": None}


def _load(case_id: str, data, culprit: str) -> Case:
    return Case(case_id, ("--ollama", "fake", "--ollama-host", CLOSED, "--load", "bad", "-p", "问题"), culprit,
                setup=_transcript(data), program=CHAT)


def _fake(case_id: str, question: str, culprit: str, *extra: str) -> Case:
    return Case(case_id, (*FAKE, *extra, "-p", question), culprit, program=CHAT, timeout=60)


CASES = [
    # flags: a usage error, exit 2
    Case("ctx-zero", ("--ollama", "m", "--ctx", "0", "-p", "x"), "--ctx", program=CHAT, exit_codes=(2,)),
    Case("ctx-negative", ("--ollama", "m", "--ctx", "-4096", "-p", "x"), "--ctx", program=CHAT, exit_codes=(2,)),
    Case("ctx-not-a-number", ("--ollama", "m", "--ctx", "8k", "-p", "x"), "--ctx", program=CHAT, exit_codes=(2,)),
    Case("ctx-huge", ("--ollama", "m", "--ctx", "99999999999", "-p", "x"), "--ctx", program=CHAT, exit_codes=(2,)),
    Case("max-tokens-zero", ("--ollama", "m", "--max-tokens", "0", "-p", "x"), "--max-tokens", program=CHAT,
         exit_codes=(2,)),
    Case("timeout-zero", ("--ollama", "m", "--timeout", "0", "-p", "x"), "--timeout", program=CHAT, exit_codes=(2,)),
    Case("timeout-nan", ("--ollama", "m", "--timeout", "nan", "-p", "x"), "--timeout", program=CHAT, exit_codes=(2,)),
    Case("connect-timeout-negative", ("--ollama", "m", "--connect-timeout", "-1", "-p", "x"), "--connect-timeout",
         program=CHAT, exit_codes=(2,)),
    Case("gpu-layers-minus-two", ("--ollama", "m", "--gpu-layers", "-2", "-p", "x"), "--gpu-layers", program=CHAT,
         exit_codes=(2,)),
    Case("threads-zero", ("--ollama", "m", "--threads", "0", "-p", "x"), "--threads", program=CHAT, exit_codes=(2,)),
    Case("as-of-slashes", ("--ollama", "m", "--as-of", "2023/06/30", "-p", "x"), "YYYY-MM-DD", program=CHAT,
         exit_codes=(2,)),
    Case("unknown-mode", ("--ollama", "m", "--mode", "wild", "-p", "x"), "--mode", program=CHAT, exit_codes=(2,)),
    Case("no-model", ("-p", "x"), "--model", program=CHAT, exit_codes=(2,)),
    Case("model-and-ollama", ("--model", "{tmp}/m.gguf", "--ollama", "m", "-p", "x"), "--ollama", program=CHAT,
         exit_codes=(2,)),
    # the question
    Case("stdin-not-utf8", ("--ollama", "m", "--ollama-host", CLOSED), "stdin", stdin=b"\xd7\xa8\xc0\xfb\xff\xfe",
         program=CHAT),
    Case("stdin-gbk", ("--ollama", "m", "--ollama-host", CLOSED), "stdin", stdin="什么是专利？".encode("gbk"),
         program=CHAT),
    Case("stdin-empty", ("--ollama", "m", "--ollama-host", CLOSED), "问题为空", stdin=b"", program=CHAT),
    Case("stdin-blank", ("--ollama", "m", "--ollama-host", CLOSED), "问题为空", stdin=b" \n\t\n", program=CHAT),
    Case("p-empty", ("--ollama", "m", "--ollama-host", CLOSED, "-p", "  "), "-p", program=CHAT),
    Case("p-not-utf8", ("--ollama", "m", "--ollama-host", CLOSED, "-p", "专利\udcff"), "-p", program=CHAT),
    Case("question-longer-than-the-context", ("--ollama", "m", "--ollama-host", CLOSED, "--ctx", "512"), "--ctx",
         stdin="长" * 3000, program=CHAT),
    # model files
    Case("model-missing", ("--model", "{tmp}/missing.gguf", "-p", "x"), "{tmp}/missing.gguf", program=CHAT),
    Case("gguf-that-is-text", ("--model", "{tmp}/fake.gguf", "-p", "x"), "{tmp}/fake.gguf",
         setup=_file("fake.gguf", "this is not a model\n" * 50), program=CHAT),
    Case("gguf-empty", ("--model", "{tmp}/empty.gguf", "-p", "x"), "{tmp}/empty.gguf", setup=_file("empty.gguf", b""),
         program=CHAT),
    Case("gguf-truncated-header", ("--model", "{tmp}/cut.gguf", "-p", "x"), "{tmp}/cut.gguf",
         setup=_file("cut.gguf", b"GGUF\x03\x00\x00\x00" + b"\xff" * 40), program=CHAT),
    Case("model-folder-without-weights", ("--model", "{tmp}/empty-model", "-p", "x"), "{tmp}/empty-model",
         setup=_file("empty-model/README.md", "nothing here"), program=CHAT),
    # a local Ollama that is missing, refused, slow or talks nonsense
    Case("ollama-not-running", ("--ollama", "m", "--ollama-host", CLOSED, "-p", "x"), "Ollama is not running",
         program=CHAT),
    Case("ollama-remote-host", ("--ollama", "m", "--ollama-host", "http://192.168.1.20:11434", "-p", "x"),
         "192.168.1.20", program=CHAT),
    Case("ollama-not-an-address", ("--ollama", "m", "--ollama-host", "ftp://127.0.0.1", "-p", "x"), "ftp://127.0.0.1",
         program=CHAT),
    Case("ollama-unknown-model", ("--ollama", "nope", "--ollama-host", "{ollama}", "-p", "x"), "'nope' not found",
         program=CHAT),
    _fake("ollama-never-sends-a-byte", "请挂起", "--timeout", "--timeout", "1"),
    _fake("ollama-not-json", "坏JSON", "not JSON"),
    _fake("ollama-wrong-field-types", "坏类型", "message.content"),
    _fake("ollama-stream-cut", "半截", "ended the stream"),
    _fake("ollama-not-http", "非HTTP", "not HTTP"),
    # saved transcripts: checked whole before they replace anything
    Case("load-missing", ("--ollama", "m", "--ollama-host", CLOSED, "--load", "nothing", "-p", "x"), "nothing.json",
         program=CHAT),
    Case("load-outside-the-folder", ("--ollama", "m", "--ollama-host", CLOSED, "--load", "../../x", "-p", "x"),
         "../../x", program=CHAT),
    Case("load-no-autosave-yet", ("--ollama", "m", "--ollama-host", CLOSED, "--load", "autosave", "-p", "x"),
         "自动保存", program=CHAT),
    _load("load-invalid-utf8", b'{"system": "\xff\xfe", "turns": []}', "bad.json"),
    _load("load-not-json", "# ec-miip 对话记录\n\n## 问题 1\n", "不是有效的 JSON"),
    _load("load-a-list", [1, 2, 3], "顶层"),
    _load("load-turns-not-a-list", {**GOOD, "turns": "很多轮"}, "turns"),
    _load("load-question-a-number", {**GOOD, "turns": [{"question": 7, "answer": "答"}]}, "turns[0].question"),
    _load("load-sources-not-text", {**GOOD, "turns": [{"question": "问", "sources": [1]}]}, "turns[0].sources"),
    _load("load-unknown-mode", {**GOOD, "mode": "wild"}, "mode='wild'"),
    _load("load-unknown-task", {**GOOD, "task": "算命"}, "task='算命'"),
    _load("load-think-a-string", {**GOOD, "think": "yes"}, "think"),
    _load("load-system-missing", {"turns": []}, "system"),
    _load("load-nested-too-deep", "[" * 100000 + "]" * 100000, "bad.json"),
    Case("load-a-folder", ("--ollama", "m", "--ollama-host", CLOSED, "--load", "dir", "-p", "x"), "dir.json",
         setup=_file("home/transcripts/dir.json/x", "x"), program=CHAT),
]


@pytest.fixture(scope="module")
def ollama():
    server, url = serve()
    Handler.hang = 5.0
    yield url
    server.shutdown()
    Handler.hang = 60.0


def test_at_least_25_chat_cases():
    assert len(CASES) >= 25 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(case: Case, ollama, tmp_path):
    case = dataclasses.replace(case, argv=[a.replace("{ollama}", ollama) for a in case.argv])
    check(case, tmp_path / case.id)
