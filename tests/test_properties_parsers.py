"""Property-based tests for the parsers that take user text outside the core: slash-command arguments,
JSONL records, Modelfile values and chat templates. Whatever they are given, they answer or refuse with
one clear error; they never crash, and what they accept they give back unchanged."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecmiip.core.errors import InputError
from ecmiip.quantize.modelfile import quote_value
from ecmiip.quantize.modelfile_parser import parse_modelfile
from ecmiip.train.mipld import JsonLineError, loads_strict, scan_file

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.text(max_size=300))
def test_a_modelfile_value_round_trips_or_is_refused(value):
    try:
        form = quote_value(value, what="SYSTEM")
    except InputError as e:
        assert "SYSTEM" in str(e)
    else:
        assert parse_modelfile(f"FROM ./m.gguf\nSYSTEM {form}\n")[-1] == ("system", value)


JSON_PIECES = ['{', '}', '[', ']', '"kind"', '"statute"', '"law"', '"text"', ':', ',', '1', 'null', '"',
               '"\\u0000"', '"第一条"', 'true', ' ', '\n', '"kind": "case"', '"a":1,"a":2']
jsonish = st.lists(st.sampled_from(JSON_PIECES), max_size=30).map("".join) | st.text(max_size=80)


@SETTINGS
@given(jsonish)
def test_a_json_line_is_a_value_or_one_reason(text):
    try:
        loads_strict(text)
    except (json.JSONDecodeError, JsonLineError) as e:
        assert str(e)


@SETTINGS
@given(st.lists(jsonish | st.binary(max_size=40).map(lambda b: b.decode("latin-1")), max_size=6))
def test_a_jsonl_file_gives_records_and_reasons_with_line_numbers(lines):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.jsonl"
        content = "\n".join(lines)
        path.write_bytes(content.encode("utf-8", errors="surrogateescape"))
        records, errors = scan_file(path)
        n = max(1, len(content.splitlines()), content.count("\n") + 1)
        for e in errors:
            assert e.reason and (e.line is None or 1 <= e.line <= n)
        assert all(r.kind in ("statute", "case", "knowledge", "exemption") for r in records)


TEMPLATE_PIECES = ["{{", "}}", "{%", "%}", " for m in messages ", " endfor ", " if ", " endif ", "m.content", "m['role']",
                   "messages[0]", "raise_exception('x')", "''.__class__", "1/0", "add_generation_prompt", " else ",
                   "<|im_start|>", "\n", "enable_thinking", "|length", "loop.index", "x", "("]
template = st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=25).map("".join)


@SETTINGS
@given(template, st.booleans() | st.none())
def test_a_chat_template_renders_or_is_one_input_error(text, think):
    from ecmiip.core.chat_template import ChatTemplate, ChatTemplateError

    template = ChatTemplate(text, bos_token="<s>", eos_token="</s>", source="model.gguf")
    try:
        template.check()
    except ChatTemplateError as e:
        assert str(e).startswith("model.gguf") and "\n" not in str(e)
        return  # refused when the model is opened (the engine names the file)
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "问"}]
    try:
        assert isinstance(template.render(messages, **({} if think is None else {"enable_thinking": think})), str)
    except InputError as e:
        assert "chat template" in str(e) and "\n" not in str(e)


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    from rich.console import Console

    from ecmiip.chat.cli import Chat, build_parser, open_backend
    from tests.fake_ollama import serve

    server, url = serve()
    home = tmp_path_factory.mktemp("home")
    mp = pytest.MonkeyPatch()
    mp.setenv("ECMIIP_HOME", str(home))
    args = build_parser().parse_args(["--ollama", "fake", "--ollama-host", url])
    buf = io.StringIO()
    console = Console(file=buf, width=100)
    session = Chat(open_backend(args), args, console, console)
    session.ask("你好", interactive=False)
    yield session
    mp.undo()
    server.shutdown()


COMMANDS = ["/system", "/mode", "/task", "/law", "/save", "/load", "/think", "/stats", "/help", "/reset", "/nope", "/"]
ARGS = ["don't", "'", '"', "专利法", "11", "第十条之一", "rigorous", "json", "md", "../x", "..", "/etc/passwd", "\\",
        "案例解析", "\x00", " ", "；", "x" * 300]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(COMMANDS), st.lists(st.sampled_from(ARGS) | st.text(max_size=20), max_size=4))
def test_any_slash_command_keeps_the_session(chat, command, args):
    turns = list(chat.session.turns)
    chat.run_line(" ".join([command, *args]))  # never raises: the session's boundary
    if command not in ("/reset", "/load"):
        assert chat.session.turns == turns
    chat.session.turns[:] = turns if command in ("/reset", "/load") else chat.session.turns
