"""Property-based tests for the parsers that take user text outside the core: slash-command arguments,
JSONL records, Modelfile values and chat templates. Whatever they are given, they answer or refuse with
one clear error; they never crash, and what they accept they give back unchanged."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecmiip.core.errors import InputError
from ecmiip.quantize.modelfile import quote_value
from ecmiip.quantize.modelfile_parser import parse_modelfile
from ecmiip.train.mipld import JsonLineError, loads_strict, scan_file
from tests.ollama_go import commands, ollama_parse

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


MODEL = ("model", "./m.gguf")


def _ollama_reads_system(forms: list[str]) -> list[list[tuple[str, str]] | None]:
    """What Ollama's parser reads from a Modelfile with each form as its SYSTEM (None: refused), in one call."""
    return [commands(r) for r in ollama_parse([f"FROM ./m.gguf\nSYSTEM {form}\n" for form in forms])]


def test_a_modelfile_value_round_trips_or_is_refused():
    """quote_value's form reads back unchanged with Ollama's own parser; a value it refuses, no form carries."""
    accepted: list[tuple[str, str]] = []
    refused: list[str] = []

    @SETTINGS
    @given(st.text(max_size=300))
    @example("🫨 U+1FAE8 and 𱍐 U+31350, assigned in Unicode 15.0")
    @example("第一条\u3000著作权")
    @example('first line ends with """\nsecond line')
    def collect(value):
        try:
            form = quote_value(value, what="SYSTEM")
        except InputError as e:
            assert "SYSTEM" in str(e)
            refused.append(value)
        else:
            assert parse_modelfile(f"FROM ./m.gguf\nSYSTEM {form}\n") == [MODEL, ("system", value)]
            accepted.append((value, form))

    collect()
    got = _ollama_reads_system([form for _, form in accepted])
    wrong = [(v, f, g) for (v, f), g in zip(accepted, got, strict=True) if g != [MODEL, ("system", v)]]
    assert not wrong, "Ollama reads these back differently:\n" + "\n".join(map(repr, wrong[:5]))
    # A refusal is right only when Ollama would change the value in every form a Modelfile could hold it.
    forms = [(v, f) for v in refused for f in (v, f'"{v}"', f'"""{v}"""')]
    got = _ollama_reads_system([f for _, f in forms])
    kept = [(v, f) for (v, f), g in zip(forms, got, strict=True) if g == [MODEL, ("system", v)]]
    assert not kept, "refused, yet Ollama reads this form back unchanged:\n" + "\n".join(map(repr, kept[:5]))


# Pieces of Modelfiles, right and wrong: every command (any case), PARAMETER and MESSAGE names, quotes that
# open and close values, comments, every kind of line end and blank, and runes Go drops or keeps.
MODELFILE_PIECES = [
    "FROM", "from", "From", " ./m.gguf", "TEMPLATE", "SYSTEM", "system", "LICENSE", "ADAPTER", "DRAFT", "RENDERER",
    "PARSER", "REQUIRES", "requires", "Requires", " 0.14.0", " v0.14.0", "PARAMETER", "parameter", " stop",
    " num_ctx", " temperature", " 0.6", " top_k1", " _x", "MESSAGE", " user", " assistant", " system", " User",
    " robot", "BOGUS", "FROMM", "1", "-", "=", " ", "  ", "\t", "\n", "\r\n", "\r", "#", "# comment\n", '"', '""',
    '"""', " x", "x", "hi there", "{{ .System }}", "\ufeff", "\u3000", "\u200b", "\x00", "\x07", "\x85", "\xa0",
    "é", "《专利法》", "🫨", "\U00031350", "\U000e0001",
]
modelfile_text = st.lists(st.sampled_from(MODELFILE_PIECES), max_size=40).map("".join) | st.text(max_size=120)


def _port(text: str) -> list[tuple[str, str]] | None:
    try:
        return parse_modelfile(text)
    except InputError as e:
        assert str(e).startswith("Modelfile")
        return None


def test_the_modelfile_parser_port_reads_what_ollama_reads():
    """On any text the port gives Ollama's parser.ParseFile commands, and refuses exactly what Ollama refuses
    (the messages may differ)."""
    texts: list[str] = []

    @SETTINGS
    @given(modelfile_text)
    @example("FROM x\nREQUIRES 0.14.0\n")
    @example("FROM x\nrequires\t  v0.34.4  \nREQUIRES\n")
    @example("FROM x\nSYSTEM 🫨\U00031350\u3000\x85.\n")
    @example('\ufeff\ufeffFROM x\n')
    @example('FROM x\nSYSTEM """a\n"""b"""\n')
    @example("FROM x\nPARAMETER  stop x\nMESSAGE user\thi\n")
    def collect(text):
        texts.append(text)
        _port(text)  # answers or refuses with an InputError, never crashes

    collect()
    got = ollama_parse(texts)
    wrong = [(t, _port(t), r) for t, r in zip(texts, got, strict=True) if _port(t) != commands(r)]
    wrong.sort(key=lambda w: len(w[0]))
    why = f"{len(wrong)} of {len(texts)} texts parse differently (text, port, Ollama):\n"
    assert not wrong, why + "\n".join(map(repr, wrong[:5]))


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
