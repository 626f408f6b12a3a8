"""The Ollama Modelfile: its Go TEMPLATE renders exactly what the HF chat template renders, and every
value survives Ollama's Modelfile parser. Both are checked with Ollama's own Go packages (tests/ollama_go.py),
and so are the product's emulations of them: the parser port and the stdlib ``go_render``."""

from __future__ import annotations

import dataclasses
import shutil

import jinja2.sandbox
import pytest

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.core.prompts import DEFAULT_NUM_CTX, LEGAL_SYSTEM_PROMPT, SAMPLING_DEFAULTS
from ecmiip.quantize import template_parity
from ecmiip.quantize.go_strings import go_is_print
from ecmiip.quantize.modelfile import REQUIRES_GO_TEMPLATE, quote_value, render_modelfile, write_modelfile
from ecmiip.quantize.modelfile_parser import parse_modelfile, read_modelfile
from ecmiip.quantize.ollama_template import (
    FAMILIES,
    OllamaTemplate,
    RenderHF,
    go_template,
    template_for,
    template_for_tokenizer,
)
from ecmiip.quantize.parity_conversations import PARITY_CONVERSATIONS, Conversation
from ecmiip.quantize.template_parity import GoMissingError, go_render, hf_render, template_mismatches
from tests.ollama_go import client_case, commands, ollama_parse, ollama_parse_one, ollama_render

needs_go = pytest.mark.skipif(
    shutil.which("go") is None,
    reason="Go is not installed (apt install golang-go): the TEMPLATE is checked with Go's text/template",
)

SMOLLM_DEFAULT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

# Conversations that end with an assistant turn: the Qwen3 template's "loop.last" branch, which shows
# an (even empty) think block and strips '\n' around reasoning and before content.
TRAILING_ASSISTANT = [
    Conversation(
        None, [("user", "问题", None), ("assistant", "\n\n回答\n", "\n\n推理\n\n")], label="last-reasoning"
    ),
    Conversation(
        "S", [("user", "问题", None), ("assistant", "回答", None)], think=False, label="last-empty-reasoning"
    ),
]


@pytest.fixture(scope="module")
def qwen3_tokenizer(tiny_qwen3_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_qwen3_dir)


@pytest.fixture(scope="module")
def smollm2_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


def jinja_renderer(chat_template: str) -> RenderHF:
    """Render a Jinja chat template the way transformers does, without a tokenizer."""
    compiled = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(
        chat_template
    )

    def render(messages, **kwargs):
        return compiled.render(messages=messages, add_generation_prompt=True, bos_token="<s>", **kwargs)

    return render


def _report(mismatches) -> str:
    return "\n".join(f"[{c.label}]\n  HF: {hf!r}\n  Go: {go!r}" for c, hf, go in mismatches)


def ollama_mismatches(
    template: OllamaTemplate, tokenizer, conversations: list[Conversation], *, modelfile_system: str = ""
) -> list[tuple[Conversation, str, str]]:
    """(conversation, HF text, Ollama text) where Ollama's own template.Execute, given the messages as a
    client sends them, renders differently from the HF chat template."""
    got = ollama_render(template.text, [client_case(c, modelfile_system) for c in conversations])
    want = [hf_render(tokenizer, c, modelfile_system=modelfile_system) for c in conversations]
    return [(c, w, g) for c, w, g in zip(conversations, want, got, strict=True) if w != g]


def parsed_alike(text: str) -> list[tuple[str, str]]:
    """The commands Ollama's own parser reads from ``text``, checked to be what the product's port reads."""
    ollama = ollama_parse_one(text)
    assert parse_modelfile(text) == ollama, "the parser port reads this Modelfile differently from Ollama"
    return ollama


# --- template families -----------------------------------------------------------------------------


def test_families_are_recognised(qwen3_tokenizer, smollm2_tokenizer):
    qwen3 = template_for_tokenizer(qwen3_tokenizer)
    assert (qwen3.family, qwen3.default_system, qwen3.stops) == (
        "qwen3",
        None,
        ("<|im_end|>", "<|im_start|>", "<|endoftext|>"),  # stops_for: those in the vocabulary, and EOS
    )
    smol = template_for_tokenizer(smollm2_tokenizer)
    assert smol.family == "chatml"
    assert smol.default_system == SMOLLM_DEFAULT  # derived by rendering the HF template, not hard-coded
    assert SMOLLM_DEFAULT in smol.text


def test_parity_conversations_cover_the_template_branches(qwen3_tokenizer):
    by_label = {c.label: c for c in PARITY_CONVERSATIONS}
    assert len(PARITY_CONVERSATIONS) >= 10 and len(by_label) == len(PARITY_CONVERSATIONS)
    assert all(c.turns[-1][0] == "user" for c in PARITY_CONVERSATIONS)
    assert {c.think for c in PARITY_CONVERSATIONS} == {None, True, False}
    render = {label: hf_render(qwen3_tokenizer, c) for label, c in by_label.items()}
    # Reasoning after the last real query is shown, stripped; reasoning before it is dropped.
    assert "<think>\n需要查询第十条。\n</think>\n\n我将查询法条库。<|im_end|>" in render["after-last-query"]
    assert "用户问的是" not in render["history-thinking-on"]
    assert render["system-think-off"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert render["system-think-on"].endswith("<|im_start|>assistant\n")
    assert "《" in render["multi-turn"] and "{{ .System }}" in render["quotes-braces"]


@pytest.mark.parametrize("modelfile_system", ["", LEGAL_SYSTEM_PROMPT], ids=["no-SYSTEM", "legal-SYSTEM"])
def test_qwen3_template_renders_like_hf(qwen3_tokenizer, modelfile_system):
    template = template_for_tokenizer(qwen3_tokenizer)
    conversations = PARITY_CONVERSATIONS + TRAILING_ASSISTANT
    mismatches = ollama_mismatches(
        template, qwen3_tokenizer, conversations, modelfile_system=modelfile_system
    )
    assert not mismatches, _report(mismatches)


@pytest.mark.parametrize("modelfile_system", ["", LEGAL_SYSTEM_PROMPT], ids=["no-SYSTEM", "legal-SYSTEM"])
def test_smollm2_template_renders_like_hf(smollm2_tokenizer, modelfile_system):
    template = template_for_tokenizer(smollm2_tokenizer)
    conversations = PARITY_CONVERSATIONS + TRAILING_ASSISTANT
    mismatches = ollama_mismatches(
        template, smollm2_tokenizer, conversations, modelfile_system=modelfile_system
    )
    assert not mismatches, _report(mismatches)
    # Without a SYSTEM, a conversation with no system message gets SmolLM2's own default system turn.
    single = ollama_render(template.text, [client_case(PARITY_CONVERSATIONS[0])])[0]
    assert single.startswith(f"<|im_start|>system\n{SMOLLM_DEFAULT}<|im_end|>\n<|im_start|>user\n")


@needs_go
def test_check_catches_a_one_newline_difference(qwen3_tokenizer):
    template = template_for_tokenizer(qwen3_tokenizer)
    broken = dataclasses.replace(
        template, text=template.text.replace("</think>\n\n{{ end }}", "</think>\n{{ end }}")
    )
    assert broken.text != template.text
    labels = {c.label for c, _, _ in template_mismatches(broken, qwen3_tokenizer)}
    assert {"system-think-off", "history-thinking-off"} <= labels
    assert "system-think-on" not in labels


@needs_go
def test_default_system_with_awkward_characters_is_a_go_string():
    """A default system text with quotes, braces and U+3000 (which a Modelfile would drop) still renders."""
    default = 'You are "Bot" {{ .System }}\u3000ok'
    hf_template = (
        "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}"
        "{{ '<|im_start|>system\\n" + default + "<|im_end|>\\n' }}{% endif %}"
        "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    render = jinja_renderer(hf_template)
    template = template_for(hf_template, render)
    assert template.family == "chatml" and template.default_system == default
    assert "\u3000" not in template.text and "\\u3000" in template.text
    written = parsed_alike(render_modelfile(gguf_name="m.gguf", template=template))
    assert ("template", template.text) in written
    conversations = PARITY_CONVERSATIONS[:4]
    want = []
    for c in conversations:
        messages, kwargs = c.to_hf()
        want.append(render(messages, **kwargs))
    assert ollama_render(template.text, [client_case(c) for c in conversations]) == want
    assert go_render(template.text, [c.to_ollama() for c in conversations]) == want


@needs_go
def test_go_render_gives_zero_values_for_missing_fields():
    text = "{{ .System }}|{{ .Think }}|{{ .IsThinkSet }}|{{ range .Messages }}{{ .Role }}:{{ .Thinking }}{{ end }}"
    cases = [{"Messages": [{"Role": "user", "Content": "x"}]}, {}]
    assert go_render(text, cases) == ["|false|false|user:", "|false|false|"]
    assert ollama_render(text, cases) == go_render(text, cases)


def test_go_render_without_go_says_so(monkeypatch):
    monkeypatch.setattr(template_parity.shutil, "which", lambda name: None)
    with pytest.raises(GoMissingError, match="golang-go"):
        go_render("{{ .System }}", [{}])


def test_to_ollama_mirrors_ollama_chat_handler():
    conv = Conversation(
        None, [("user", "a", None), ("user", "b", None), ("assistant", "c", "t")], think=False
    )
    data = conv.to_ollama("SYS")
    assert data == {
        "System": "SYS",
        "Messages": [
            {"Role": "system", "Content": "SYS", "Thinking": ""},
            {"Role": "user", "Content": "a\n\nb", "Thinking": ""},  # collate merges consecutive roles
            {"Role": "assistant", "Content": "c", "Thinking": "t"},
        ],
        "Think": False,
        "IsThinkSet": True,
    }
    # A request that starts with a system message keeps it and drops the Modelfile SYSTEM.
    own = Conversation("mine", [("user", "a", None)]).to_ollama("SYS")
    assert [m["Content"] for m in own["Messages"]] == ["mine", "a"] and own["IsThinkSet"] is False
    messages, kwargs = conv.to_hf("SYS")
    assert messages[-1] == {"role": "assistant", "content": "c", "reasoning_content": "t"} and kwargs == {
        "enable_thinking": False
    }


# The values Ollama's Execute hands a template that ranges over .Messages, as the shipped ones do: System,
# each collated message, Think, IsThinkSet, Response and Tools. (Not .Prompt, .Suffix or .ThinkLevel: in
# that case Ollama renders .Prompt as "<no value>", and go_render's Values has no Suffix or ThinkLevel.)
PROBE = (
    "S={{ printf \"%q\" .System }} think={{ .Think }}/{{ .IsThinkSet }} R={{ printf \"%q\" .Response }}"
    " T={{ if .Tools }}yes{{ else }}no{{ end }}\n"
    "{{ range $i, $m := .Messages }}{{ $i }} {{ $m.Role }} {{ printf \"%q %q\" $m.Content $m.Thinking }}\n{{ end }}"
)
COLLATE = [
    Conversation(None, [("user", "a", None), ("user", "b", None), ("assistant", "c", "t")], think=False),
    Conversation(None, [("user", "a", None), ("assistant", "b", "t1"), ("assistant", "c", "t2")]),
    Conversation("s1", [("system", "s2", None), ("user", "u", None), ("system", "s3", None)], think=True),
    Conversation("", [("user", "", None), ("tool", "r1", None), ("tool", "r2", None), ("user", "x", None)]),
]
COLLATE_INDEX = len(PARITY_CONVERSATIONS) + len(TRAILING_ASSISTANT)


@needs_go
@pytest.mark.parametrize("modelfile_system", ["", "SYS"], ids=["no-SYSTEM", "SYSTEM"])
def test_to_ollama_is_what_ollama_execute_gives_the_template(modelfile_system):
    """``to_ollama`` (pre-collated, for the stdlib ``go_render``) gives a template exactly the values that
    Ollama's Execute derives from the client's own messages: the collate, System and the flags."""
    conversations = PARITY_CONVERSATIONS + TRAILING_ASSISTANT + COLLATE
    ours = go_render(PROBE, [c.to_ollama(modelfile_system) for c in conversations])
    ollama = ollama_render(PROBE, [client_case(c, modelfile_system) for c in conversations])
    assert ours == ollama
    # System messages anywhere make System; consecutive ones are also merged in Messages.
    assert ollama[COLLATE_INDEX + 2] == (
        'S="s1\\n\\ns2\\n\\ns3" think=true/true R="" T=no\n0 system "s1\\n\\ns2" ""\n1 user "u" ""\n2 system "s3" ""\n'
    )


def shipped_templates() -> list[OllamaTemplate]:
    """The templates ec-miip writes: each family of ``gotemplate/*.gotmpl``, without and with a default
    system turn (``default_system.gotmpl``), as ``template_for`` builds them from HF chat templates."""
    from ecmiip.bench.qwen3_tokenizer import QWEN3_CHAT_TEMPLATE

    chatml = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    with_default = (
        "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}"
        "{{ '<|im_start|>system\\n" + SMOLLM_DEFAULT + "<|im_end|>\\n' }}{% endif %}"
        + chatml.removeprefix("{% for m in messages %}")
    )
    awkward = with_default.replace(SMOLLM_DEFAULT, 'You are "Bot" {{ .System }}\u3000ok')
    return [template_for(t, jinja_renderer(t)) for t in (QWEN3_CHAT_TEMPLATE, chatml, with_default, awkward)]


@needs_go
@pytest.mark.parametrize("modelfile_system", ["", LEGAL_SYSTEM_PROMPT], ids=["no-SYSTEM", "legal-SYSTEM"])
def test_go_render_is_ollamas_execute_on_every_shipped_template(modelfile_system):
    """The product's run-time check (``go_render``: Go's stdlib text/template on pre-collated values) renders
    every shipped template exactly as Ollama's own template package does for every parity conversation."""
    templates = shipped_templates()
    assert {t.family for t in templates} == set(FAMILIES)
    assert [t.default_system is None for t in templates] == [True, True, False, False]
    assert all(t.text == go_template(t.family).replace("@SYSTEM@\n", "") for t in templates[:2])
    conversations = PARITY_CONVERSATIONS + TRAILING_ASSISTANT
    for template in templates:
        ours = go_render(template.text, [c.to_ollama(modelfile_system) for c in conversations])
        ollama = ollama_render(template.text, [client_case(c, modelfile_system) for c in conversations])
        wrong = [(c.label, o, g) for c, o, g in zip(conversations, ollama, ours, strict=True) if o != g]
        assert not wrong, f"{template.family} (default system {template.default_system!r}): {wrong[:3]}"


# --- unsupported templates -------------------------------------------------------------------------

LLAMA3 = (
    "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
CHATML_WITH_BOS = (
    "{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.mark.parametrize("hf_template", [LLAMA3, CHATML_WITH_BOS], ids=["llama3", "chatml-with-bos"])
def test_unknown_template_lists_the_families(hf_template):
    with pytest.raises(UnsupportedError) as err:
        template_for(hf_template, jinja_renderer(hf_template))
    assert "qwen3" in str(err.value) and "chatml" in str(err.value)


# --- Modelfile values ------------------------------------------------------------------------------

NASTY_SYSTEMS = [
    LEGAL_SYSTEM_PROMPT,
    'He said "hi".',
    '"quoted at both ends"',
    '""starts with two quotes',
    'ends with a quote"',
    'a """ in the middle of a line',
    '"""',
    '"',
    "",
    "  leading and trailing spaces  ",
    "\n\nleading and trailing newlines\n\n",
    'line ending with a quote"\nnext line',
    "tab\there\r\nCRLF line\r\nand 《专利法》第十一条：“未经许可”（不得实施）。",
    "# not a comment\nPARAMETER stop not-a-parameter\nFROM nowhere",
    "{{ .System }} {{- end }}",
]


def _modelfile(
    system: str, template: OllamaTemplate, license_text: str | None = "Apache License 2.0"
) -> str:
    return render_modelfile(
        gguf_name="ec-miip-q4_k_m.gguf",
        template=template,
        system=system,
        parameters=dict(SAMPLING_DEFAULTS),
        license_text=license_text,
    )


@pytest.fixture(scope="module")
def qwen3_template() -> OllamaTemplate:
    from ecmiip.bench.qwen3_tokenizer import QWEN3_CHAT_TEMPLATE

    return template_for(QWEN3_CHAT_TEMPLATE, jinja_renderer(QWEN3_CHAT_TEMPLATE))


@pytest.mark.parametrize("system", NASTY_SYSTEMS, ids=range(len(NASTY_SYSTEMS)))
def test_modelfile_reads_back_exactly(qwen3_template, system):
    license_text = 'Apache License\nVersion 2.0, January 2004\n  "AS IS" BASIS  \n'
    assert parsed_alike(_modelfile(system, qwen3_template, license_text)) == [
        ("model", "./ec-miip-q4_k_m.gguf"),
        ("requires", REQUIRES_GO_TEMPLATE),
        ("template", qwen3_template.text),
        ("system", system),
        ("stop", "<|im_end|>"),
        ("stop", "<|im_start|>"),
        ("num_ctx", str(DEFAULT_NUM_CTX)),
        *((k, str(v)) for k, v in SAMPLING_DEFAULTS.items()),
        ("license", license_text),
    ]


def test_modelfile_layout(qwen3_template, tmp_path):
    path = tmp_path / "Modelfile"
    text = write_modelfile(path, gguf_name="m.gguf", template=qwen3_template, parameters={"temperature": 0.6})
    assert path.read_bytes() == text.encode()
    lines = text.splitlines()
    assert lines[0].startswith("# ") and "FROM ./m.gguf" in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines and 'PARAMETER stop "<|im_start|>"' in lines
    assert f"PARAMETER num_ctx {DEFAULT_NUM_CTX}" in lines and "PARAMETER temperature 0.6" in lines
    assert text.count('TEMPLATE """') == 1 and not any(ln.startswith("LICENSE") for ln in lines)
    assert ("system", LEGAL_SYSTEM_PROMPT) in read_modelfile(path)
    assert read_modelfile(path) == ollama_parse_one(path.read_bytes().decode("utf-8"))
    nested = parsed_alike(
        render_modelfile(gguf_name="./dist/m.gguf", template=qwen3_template, parameters={"num_ctx": 4096})
    )
    assert nested[0] == ("model", "./dist/m.gguf")
    assert [v for k, v in nested if k == "num_ctx"] == ["4096"]
    with pytest.raises(InputError, match="relative"):
        render_modelfile(gguf_name="/abs/m.gguf", template=qwen3_template)


@pytest.mark.parametrize(
    ("system", "named"),
    [
        ("第一条\u3000著作权", "U+3000 IDEOGRAPHIC SPACE"),
        ("zero\u200bwidth", "U+200B ZERO WIDTH SPACE"),
        ("bell\x07", "U+0007"),
        ('first line ends with """\nsecond line', 'line 1 ends with \'"""\''),
    ],
)
def test_unrepresentable_system_names_the_problem(qwen3_template, system, named):
    with pytest.raises(InputError) as err:
        _modelfile(system, qwen3_template)
    assert named in str(err.value) and "SYSTEM" in str(err.value)


def test_quote_value_forms():
    assert quote_value("<|im_end|>") == '"<|im_end|>"'
    assert quote_value("./m.gguf", allow_bare=True) == "./m.gguf"
    assert quote_value("two\nlines") == '"""two\nlines"""'
    assert quote_value('a "quote" at the end of line"\nx') == '"""a "quote" at the end of line"\nx"""'
    assert quote_value('say """hi"""') == '"say """hi""""'
    assert quote_value('""x') == '"""""x"""'


# --- the parser port reads what Ollama's own parser reads ---------------------------------------------


def test_parser_port_matches_ollama_behaviour():
    text = (
        "\ufeff# comment\nFROM llama3.2\nparameter temperature 1\n"
        'PARAMETER stop "<|eot_id|>"\n'
        'TEMPLATE """{{ .System }}\n{{ .Prompt }}"""\n'
        "MESSAGE user Hi there\n"
        'SYSTEM "multi\nline value"\n'
        'LICENSE "a\u3000b"\n'  # non-printable runes are silently dropped
        "adapter   ./lora.gguf   \n"
    )
    assert parsed_alike(text) == [
        ("model", "llama3.2"),
        ("temperature", "1"),
        ("stop", "<|eot_id|>"),
        ("template", "{{ .System }}\n{{ .Prompt }}"),
        ("message", "user: Hi there"),
        ("system", "multi\nline value"),
        ("license", "ab"),
        ("adapter", "./lora.gguf"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SYSTEM hi\n", "no FROM line"),
        ("FROM x\nBOGUS y\n", "unknown command"),
        ("FROM x\nSYSTEM\n", "command must be one of"),
        ('FROM x\nSYSTEM """never closed\n', "unexpected end of file"),
        ("FROM x\nMESSAGE robot hi\n", "message role"),
    ],
)
def test_parser_port_rejects_what_ollama_rejects(text, message):
    with pytest.raises(InputError, match=message):
        parse_modelfile(text)
    (ollama,) = ollama_parse([text])
    assert "error" in ollama, f"Ollama reads {commands(ollama)}"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("FROM x\nREQUIRES 0.14.0\n", [("model", "x"), ("requires", "0.14.0")]),
        ("requires\t v0.34.4 \nfrom x", [("requires", "v0.34.4"), ("model", "x")]),
        (
            'FROM x\nRequires "0.1"\nREQUIRES not-a-version\n',
            [("model", "x"), ("requires", "0.1"), ("requires", "not-a-version")],
        ),
        ("FROM x\nREQUIRES\n", None),
        ("FROM x\nREQUIRE 0.1\n", None),
    ],
)
def test_requires_reads_as_ollama_reads_it(text, want):
    """REQUIRES is one of Ollama's commands (any case); its value is checked as a version only when the
    model is created, not when the Modelfile is parsed."""
    (ollama,) = ollama_parse([text])
    assert commands(ollama) == want
    if want is None:
        with pytest.raises(InputError):
            parse_modelfile(text)
    else:
        assert parse_modelfile(text) == want


def test_parser_port_keeps_and_drops_the_runes_ollama_does():
    """Every code point, in one SYSTEM value: the port keeps exactly the runes Ollama keeps (Go's
    strconv.IsPrint, Unicode 15.0.0, whatever Unicode version Python has)."""
    skip = {"\r", "\n"}  # they would end the value
    value = "".join(chr(c) for c in range(0x21, 0x110000) if not 0xD800 <= c <= 0xDFFF and chr(c) not in skip)
    text = f"FROM x\nSYSTEM x {value}\n"
    ollama = ollama_parse_one(text)
    assert parse_modelfile(text) == ollama
    kept = "x " + "".join(filter(go_is_print, value))
    assert ollama == [("model", "x"), ("system", kept)]
    assert "\U0001fae8" in kept and "\U00031350" in kept and "\u3000" not in kept  # Unicode 15.0 emoji and CJK
