"""The Ollama Modelfile written next to an exported GGUF, and the proof that its TEMPLATE is right.

Ollama prompts the model through the Modelfile TEMPLATE, a Go ``text/template``, not through the
model's Hugging Face Jinja chat template. A TEMPLATE that differs from the Jinja one by a single
newline silently degrades a fine-tuned model, so export renders ``TEST_CONVERSATIONS`` through both
(``go_render`` and ``hf_render``) and requires identical text. Values are quoted for Ollama's
Modelfile parser, which has no escape sequences; ``parse_modelfile`` is a port of that parser so
every value we write is read back before it is trusted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecmiip import __version__
from ecmiip.core.errors import EcmiipError, InputError, UnsupportedError, VerificationError
from ecmiip.core.outputs import write_text_atomic
from ecmiip.core.prompts import DEFAULT_NUM_CTX, LEGAL_SYSTEM_PROMPT

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
FAMILIES = ("qwen3", "chatml")
RENDER_GO = Path(__file__).with_name("gotemplate") / "render.go"

# Renders a list of {"role", "content"} messages with the HF template and a generation prompt;
# keyword arguments (enable_thinking) go to the template.
RenderHF = Callable[..., str]


@dataclass(frozen=True)
class OllamaTemplate:
    family: str
    text: str
    stops: tuple[str, ...] = (IM_END, IM_START)
    default_system: str | None = None


# --- Go templates ---------------------------------------------------------------------------------

# Both families render every message, system messages included, where it stands, as the HF ChatML
# templates do (Ollama's .System would gather all system messages at the top), and add the HF
# template's default system turn, if it has one, when the conversation starts without a system message.
_DEFAULT_SYSTEM = """\
{{- if and .Messages (ne (index .Messages 0).Role "system") }}<|im_start|>system
@DEFAULT@<|im_end|>
{{ end }}"""

# SmolLM2's template exactly; Qwen2.5's too, except for tool messages (ec-miip uses no tools).
_CHATML = """\
@SYSTEM@
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""

# Qwen3: the HF template shows the reasoning of an assistant turn only after the last real user query
# (a user message wrapped in <tool_response>, tags of 15 and 16 bytes, does not count; with none,
# $lastQuery stays past the end), strips '\n' around it and left-strips the content after it.
# text/template has no string functions, so "strip"/"lstrip" drop one '\n' per recursive call, and
# len (slice s 1) is len(s)-1. The <think> block is its own {{ if }} list so that Ollama's heuristic
# infers <think>/</think> as the thinking tags. HF enable_thinking=False is IsThinkSet && !Think.
_QWEN3 = """\
{{- define "lstrip" }}{{ if and . (eq (index . 0) 10) }}{{ template "lstrip" (slice . 1) }}{{ else }}{{ . }}{{ end }}{{ end }}
{{- define "strip" }}{{ if and . (eq (index . 0) 10) }}{{ template "strip" (slice . 1) }}{{ else if and . (eq (index . (len (slice . 1))) 10) }}{{ template "strip" (slice . 0 (len (slice . 1))) }}{{ else }}{{ . }}{{ end }}{{ end }}
{{- $lastQuery := len .Messages }}
{{- range $i, $_ := .Messages }}
{{- if and (eq .Role "user") (not (and (ge (len .Content) 31) (eq (slice .Content 0 15) "<tool_response>") (eq (slice .Content (len (slice .Content 16))) "</tool_response>"))) }}
{{- $lastQuery = $i }}
{{- end }}
{{- end }}
@SYSTEM@
{{- range $i, $_ := .Messages }}
{{- if or (eq .Role "system") (eq .Role "user") }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}
{{- $reasoning := and (gt $i $lastQuery) (or (eq (len (slice $.Messages $i)) 1) .Thinking) }}<|im_start|>assistant
{{ if $reasoning }}<think>
{{ template "strip" .Thinking }}
</think>

{{ end }}
{{- if $reasoning }}{{ template "lstrip" .Content }}{{ else }}{{ .Content }}{{ end }}<|im_end|>
{{ end }}
{{- end }}<|im_start|>assistant
{{ if and .IsThinkSet (not .Think) }}<think>

</think>

{{ end }}"""


def go_is_print(ch: str) -> bool:
    """Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')} ({ch!r})"


def go_string(s: str) -> str:
    """A Go string literal for ``s``, escaping what a Modelfile could not carry as it is."""
    out = []
    for ch in s:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise InputError(f"text contains a lone surrogate {_describe(ch)}")
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif go_is_print(ch):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _go_text(s: str) -> str:
    """Template text that outputs ``s`` exactly: as it is when plain, else as a Go string constant."""
    plain = "{{" not in s and "}}" not in s and '"' not in s
    if plain and all(ch == "\n" or go_is_print(ch) for ch in s):
        return s
    return "{{ " + go_string(s) + " }}"


def _with_default_system(body: str, default_system: str | None) -> str:
    block = "" if default_system is None else _DEFAULT_SYSTEM.replace("@DEFAULT@", _go_text(default_system))
    return body.replace("@SYSTEM@\n", block + "\n" if block else "")


def _unsupported(why: str) -> UnsupportedError:
    return UnsupportedError(
        f"unsupported chat template: {why}. ec-miip writes Ollama templates for these families: "
        "qwen3 (ChatML with Qwen3 thinking), chatml (ChatML without thinking: Qwen2/Qwen2.5, SmolLM2)"
    )


def _probe_default_system(render_hf: RenderHF) -> str | None:
    """The system text the HF template inserts when a conversation has none (SmolLM2, Qwen2.5)."""
    probe, sys_probe = "ecmiip probe: user", "ecmiip probe: system"
    tail = f"{IM_START}user\n{probe}{IM_END}\n{IM_START}assistant\n"
    with_system = render_hf([{"role": "system", "content": sys_probe}, {"role": "user", "content": probe}])
    if with_system != f"{IM_START}system\n{sys_probe}{IM_END}\n{tail}":
        raise _unsupported(f"a system + user conversation renders as {with_system!r}, not as ChatML")
    alone = render_hf([{"role": "user", "content": probe}])
    if alone == tail:
        return None
    m = re.fullmatch(
        re.escape(f"{IM_START}system\n") + "(.*)" + re.escape(f"{IM_END}\n"), alone[: -len(tail)], re.S
    )
    if not alone.endswith(tail) or m is None:
        raise _unsupported(f"a single user message renders as {alone!r}, not as ChatML")
    return m.group(1)


def template_for(hf_chat_template: str, render_hf: RenderHF) -> OllamaTemplate:
    """Pick the template family from the HF template's text, and check the pick by rendering probes."""
    if IM_START not in hf_chat_template or IM_END not in hf_chat_template:
        raise _unsupported("it does not use ChatML's <|im_start|>/<|im_end|> markers")
    default_system = _probe_default_system(render_hf)
    if any(k in hf_chat_template for k in ("enable_thinking", "reasoning_content", "<think>")):
        off = render_hf([{"role": "user", "content": "x"}], enable_thinking=False)
        if not off.endswith(f"{IM_START}assistant\n<think>\n\n</think>\n\n"):
            raise _unsupported(
                "it mentions thinking but enable_thinking=False does not add an empty <think> block"
            )
        return OllamaTemplate(
            "qwen3", _with_default_system(_QWEN3, default_system), default_system=default_system
        )
    return OllamaTemplate(
        "chatml", _with_default_system(_CHATML, default_system), default_system=default_system
    )


def template_for_tokenizer(tokenizer: Any) -> OllamaTemplate:
    """``template_for`` on a Hugging Face tokenizer's own chat template."""
    if not tokenizer.chat_template:
        raise _unsupported("the tokenizer has no chat template")

    import jinja2

    where = getattr(tokenizer, "name_or_path", "") or "the tokenizer"

    def render_hf(messages: list[dict[str, str]], **kwargs: Any) -> str:
        try:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)
        except jinja2.TemplateError as e:  # SecurityError (the sandbox refused), syntax, raise_exception()
            raise InputError(
                f"{where}: its chat template (tokenizer_config.json or chat_template.jinja) cannot be rendered: "
                f"{type(e).__name__}: {str(e)[:200]}"
            ) from e
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as e:
            raise InputError(
                f"{where}: its chat template (tokenizer_config.json or chat_template.jinja) fails on a plain "
                f"conversation: {type(e).__name__}: {str(e)[:200]}"
            ) from e

    return template_for(tokenizer.chat_template, render_hf)


# --- Conversations rendered both ways -------------------------------------------------------------


@dataclass
class Conversation:
    """A chat as a client sends it; turns are (role, content, thinking or None), ``think`` is the
    request's think flag (HF ``enable_thinking``), None when unset."""

    system: str | None
    turns: list[tuple[str, str, str | None]]
    think: bool | None = None
    label: str = field(default="", compare=False)

    def _messages(self, modelfile_system: str) -> list[tuple[str, str, str | None]]:
        msgs = ([("system", self.system, None)] if self.system is not None else []) + list(self.turns)
        # Ollama's chat handler: the Modelfile SYSTEM goes first unless the request starts with a system message.
        if modelfile_system and (not msgs or msgs[0][0] != "system"):
            msgs.insert(0, ("system", modelfile_system, None))
        return msgs

    def to_ollama(self, modelfile_system: str = "") -> dict[str, Any]:
        """The data Ollama gives the TEMPLATE (template.Values after collate).

        Ollama merges consecutive turns of one role with a blank line and HF templates do not, so
        conversations meant to compare the two alternate roles.
        """
        messages: list[dict[str, str]] = []
        for role, content, thinking in self._messages(modelfile_system):
            if messages and messages[-1]["Role"] == role and role != "tool":
                messages[-1]["Content"] += "\n\n" + content  # collate merges consecutive same-role turns
            else:
                messages.append({"Role": role, "Content": content, "Thinking": thinking or ""})
        system = "\n\n".join(m["Content"] for m in messages if m["Role"] == "system")
        return {
            "System": system,
            "Messages": messages,
            "Think": bool(self.think),
            "IsThinkSet": self.think is not None,
        }

    def to_hf(self, modelfile_system: str = "") -> tuple[list[dict[str, str]], dict[str, Any]]:
        """Messages and template kwargs for ``apply_chat_template``.

        Assistant turns always carry ``reasoning_content`` (empty when there is none), as Ollama's
        messages always carry ``Thinking``; so the Qwen3 template never re-splits content at ``</think>``.
        """
        messages = []
        for role, content, thinking in self._messages(modelfile_system):
            msg = {"role": role, "content": content}
            if role == "assistant":
                msg["reasoning_content"] = thinking or ""
            messages.append(msg)
        return messages, ({} if self.think is None else {"enable_thinking": self.think})


_CASE = "某公司未经许可，在其网站上提供他人享有著作权的电影《流浪地球》的在线播放服务。权利人能主张哪些权利？"
_STATUTE = "《中华人民共和国著作权法》第十条第一款第（十二）项规定了信息网络传播权：以有线或者无线方式向公众提供，使公众可以在其选定的时间和地点获得作品的权利。"

TEST_CONVERSATIONS: list[Conversation] = [
    Conversation(None, [("user", "什么是专利的新颖性？", None)], label="single-user"),
    Conversation(
        "你是一名知识产权律师。",
        [("user", "商标注册需要哪些材料？", None)],
        think=False,
        label="system-think-off",
    ),
    Conversation("你是一名知识产权律师。", [("user", _CASE, None)], think=True, label="system-think-on"),
    Conversation(
        None,
        [
            ("user", _CASE, None),
            ("assistant", _STATUTE, None),
            ("user", "赔偿数额怎么计算？请引用法条。", None),
        ],
        label="multi-turn",
    ),
    Conversation(
        LEGAL_SYSTEM_PROMPT,
        [
            ("user", _CASE, None),
            (
                "assistant",
                "权利人可以主张信息网络传播权受到侵害。",
                "用户问的是在线播放电影……\n应适用著作权法第十条。",
            ),
            ("user", "如果对方主张合理使用呢？", None),
        ],
        think=True,
        label="history-thinking-on",
    ),
    Conversation(
        None,
        [
            ("user", "发明专利的保护期限是多久？", None),
            ("assistant", "\n\n二十年，自申请日起计算。\n", "\n《专利法》第四十二条。\n\n"),
            ("user", "实用新型呢？", None),
            ("assistant", "十年。", "第四十二条第一款。"),
            ("user", "外观设计呢？", None),
        ],
        think=False,
        label="history-thinking-off",
    ),
    Conversation(
        'Answer in "plain" text; never say """.',
        [
            (
                "user",
                '  he wrote "{{ .System }}" and {% raw %}{{ x }}{% endraw %} }}\n\n""" done """  \n',
                None,
            )
        ],
        label="quotes-braces",
    ),
    Conversation(
        "\n  leading and trailing whitespace  \n",
        [
            ("user", "\n\t第一行\n\n第二行 \n", None),
            ("assistant", "  好的。  ", None),
            ("user", "  ？  ", None),
        ],
        think=True,
        label="whitespace",
    ),
    Conversation(
        "",
        [("user", "商业秘密的构成要件：秘密性、价值性、保密措施；对吗？", None)],
        label="empty-system",
    ),
    Conversation(
        "你是一名知识产权律师。",
        [
            ("user", "请核对法条。", None),
            ("assistant", "\n我将查询法条库。", "\n\n需要查询第十条。\n"),
            ("user", "<tool_response>\n" + _STATUTE + "\n</tool_response>", None),
        ],
        think=True,
        label="after-last-query",
    ),
    Conversation(
        "你是一名知识产权律师。",
        [
            ("user", "什么是驰名商标？", None),
            ("assistant", "驰名商标是在中国为相关公众所熟知的商标。", None),
            ("system", "以下回答请更简短。", None),
            ("user", "举一个例子。", None),
        ],
        think=False,
        label="mid-system",
    ),
    Conversation(
        None,
        [
            ("user", "“反不正当竞争法”第九条——商业秘密（含技术信息、经营信息）……", None),
            ("assistant", "", None),
            ("user", "继续。", None),
        ],
        label="fullwidth-empty-assistant",
    ),
]


class GoMissingError(EcmiipError):
    """Checking a TEMPLATE needs the Go toolchain."""


def _go_env() -> dict[str, str]:
    # GOPROXY=off: rendering needs the standard library only, so Go must never reach the network.
    env = dict(os.environ, GOTOOLCHAIN="local", GO111MODULE="on", GOFLAGS="", GOWORK="off", GOPROXY="off")
    home = env.get("HOME", "")
    if not (home and os.access(home, os.W_OK)):
        scratch = Path(tempfile.gettempdir()) / "ecmiip-go"
        env.setdefault("GOCACHE", str(scratch / "cache"))
        env.setdefault("GOPATH", str(scratch / "path"))
    return env


def go_render(template_text: str, cases: Sequence[dict[str, Any]]) -> list[str]:
    """Render ``template_text`` with Go's text/template for each case (``Conversation.to_ollama()``)."""
    go = shutil.which("go")
    if go is None:
        raise GoMissingError("checking the Ollama TEMPLATE needs Go (`go` on PATH); install golang-go")
    payload = json.dumps({"template": template_text, "cases": list(cases)}, ensure_ascii=False)
    proc = subprocess.run(
        [go, "run", RENDER_GO.name],
        input=payload.encode(),
        capture_output=True,
        cwd=RENDER_GO.parent,
        env=_go_env(),
        timeout=300,
    )
    if proc.returncode != 0:
        raise VerificationError(
            f"rendering the Go template failed: {proc.stderr.decode(errors='replace').strip()}"
        )
    return json.loads(proc.stdout)


def hf_render(tokenizer: Any, conversation: Conversation, *, modelfile_system: str = "") -> str:
    """The HF chat template's rendering of ``conversation`` with a generation prompt."""
    messages, kwargs = conversation.to_hf(modelfile_system)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)


def template_mismatches(
    template: OllamaTemplate,
    tokenizer: Any,
    conversations: Sequence[Conversation] = TEST_CONVERSATIONS,
    *,
    modelfile_system: str = "",
) -> list[tuple[Conversation, str, str]]:
    """(conversation, HF text, Go text) for each conversation the two templates render differently."""
    got = go_render(template.text, [c.to_ollama(modelfile_system) for c in conversations])
    want = [hf_render(tokenizer, c, modelfile_system=modelfile_system) for c in conversations]
    return [(c, w, g) for c, w, g in zip(conversations, want, got, strict=True) if w != g]


# --- Modelfile writing and parsing ----------------------------------------------------------------

_COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser"}
_COMMANDS |= {"parameter", "message", "requires"}  # Ollama's isValidCommand
_ROLES = {"system", "user", "assistant"}
_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)


def _unquote(s: str) -> tuple[str, bool]:
    if s.startswith('"""'):
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s.startswith('"'):
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def _next_state(ch: str, state: int, line: int) -> tuple[int, str]:
    """Ollama's parseRuneForState; '' stands for the rune 0 it returns when a rune is consumed."""
    alpha = ch.isascii() and ch.isalpha()
    if state == _NIL:
        return (_COMMENT, "") if ch == "#" else (_NIL, "") if ch in " \t\r\n" else (_NAME, ch)
    if state == _NAME:
        if alpha:
            return _NAME, ch
        if ch in " \t":
            return _VALUE, ""
        raise InputError(f"Modelfile line {line}: command must be one of {', '.join(sorted(_COMMANDS))}")
    if state == _VALUE:
        return (_NIL, ch) if ch in " \t\r\n" else (_VALUE, ch)
    if state in (_PARAMETER, _MESSAGE):
        if alpha or (state == _PARAMETER and (ch.isdigit() and ch.isascii() or ch == "_")):
            return state, ch
        if ch in " \t":
            return _VALUE, ""
        raise InputError(f"Modelfile line {line}: unexpected end of a PARAMETER or MESSAGE name")
    return (_NIL, "") if ch in "\r\n" else (_COMMENT, "")


def _parse_commands(text: str) -> list[tuple[str, str]]:
    commands: list[tuple[str, str]] = []
    state, line, name, role, buf = _NIL, 1, "", "", []
    for ch in text.removeprefix("\ufeff"):
        if ch in "\r\n":
            line += 1
        nxt, r = _next_state(ch, state, line)
        if nxt != state:
            word = "".join(buf)
            if state == _NAME:
                if word.lower() not in _COMMANDS:
                    raise InputError(f"Modelfile line {line}: unknown command {word!r}")
                name = {"from": "model"}.get(word.lower(), word.lower())
                nxt = {"parameter": _PARAMETER, "message": _MESSAGE}.get(name, nxt)
            elif state == _PARAMETER:
                name = word
            elif state == _MESSAGE:
                if word not in _ROLES:
                    raise InputError(f"Modelfile line {line}: message role must be system, user or assistant")
                role = word
            elif state == _VALUE:
                value, ok = _unquote(word.strip(" \t\r\n"))
                if not ok or r in (" ", "\t"):
                    buf.append(r)  # whitespace inside a value, or a quoted value not closed yet
                    continue
                commands.append((name, f"{role}: {value}" if role else value))
                role = ""
            buf, state = [], nxt
        if r and go_is_print(r):
            buf.append(r)
    if state == _VALUE:
        value, ok = _unquote("".join(buf).strip(" \t\r\n"))
        if not ok:
            raise InputError(
                f"Modelfile: unexpected end of file in an unclosed quoted value: {''.join(buf)[:80]!r}"
            )
        commands.append((name, f"{role}: {value}" if role else value))
    elif state not in (_NIL, _COMMENT):
        raise InputError("Modelfile: unexpected end of file")
    return commands


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """(command, value) pairs as Ollama's parser.ParseFile reads them; FROM is named "model",
    PARAMETER lines are named by their key and MESSAGE values are "role: content"."""
    commands = _parse_commands(text)
    if not any(name == "model" for name, _ in commands):
        raise InputError("Modelfile: no FROM line")
    return commands


def read_modelfile(path: Path) -> list[tuple[str, str]]:
    """``parse_modelfile`` of a file, keeping its line endings exactly as Ollama sees them."""
    with open(path, encoding="utf-8", newline="") as f:
        return parse_modelfile(f.read())


def _why_unquotable(s: str, what: str) -> str:
    for ch in s:
        if ch not in " \t\r\n" and not go_is_print(ch):
            return f"{what} contains {_describe(ch)}, which Ollama's Modelfile parser silently drops"
    # Both quoted forms fail only when a line that is not the last ends with '"""' (spaces aside): it
    # closes a """...""" value early, and its final '"' closes a "..." value early.
    lines = re.split(r"[\r\n]", s)[:-1]
    line = next((i for i, ln in enumerate(lines, 1) if ln.rstrip(" \t").endswith('"""')), "?")
    return (
        f"{what} cannot be written in a Modelfile: its line {line} ends with '\"\"\"', and Ollama's parser, "
        "which has no escape sequences, would end the value there; reword that line end"
    )


def quote_value(s: str, *, what: str = "value", allow_bare: bool = False) -> str:
    """``s`` as a Modelfile value that Ollama reads back unchanged, else InputError naming the problem.

    Ollama's parser has no escapes: a value ends at the first newline where the text so far is a
    complete "..." or \"\"\"...\"\"\" string, and it drops non-printable runes. So try the forms and keep
    the first that round-trips through the port of the parser.
    """
    forms = (
        ['"""' + s + '"""', '"' + s + '"'] if ("\n" in s or "\r" in s) else ['"' + s + '"', '"""' + s + '"""']
    )
    for form in ([s] if allow_bare else []) + forms:
        with contextlib.suppress(InputError):  # the form ends early and the rest does not parse
            if _parse_commands(f"SYSTEM {form}\n") == [("system", s)]:
                return form
    raise InputError(_why_unquotable(s, what))


def _parameter_line(key: str, value: object) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        raise InputError(f"invalid Modelfile parameter name {key!r}")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        text = quote_value(str(value), what=f"PARAMETER {key}")
    return f"PARAMETER {key} {text}"


def render_modelfile(
    *,
    gguf_name: str,
    template: OllamaTemplate,
    system: str | None = LEGAL_SYSTEM_PROMPT,
    parameters: dict[str, object] | None = None,
    license_text: str | None = None,
    num_ctx: int = DEFAULT_NUM_CTX,
) -> str:
    """The Modelfile text; ``gguf_name`` is relative to the Modelfile's folder.

    ``num_ctx`` is always written: without it Ollama picks a context by VRAM and may silently
    truncate long prompts; a ``num_ctx`` in ``parameters`` wins. A list value gives repeated lines.
    """
    if Path(gguf_name).is_absolute() or "\\" in gguf_name:
        raise InputError(f"gguf_name must be a path relative to the Modelfile's folder, not {gguf_name!r}")
    gguf_name = gguf_name.removeprefix("./")
    lines = [
        f"# Ollama Modelfile written by ec-miip {__version__}.",
        f"# TEMPLATE: Go template of the {template.family!r} family, written to render exactly what the model's",
        "# Hugging Face chat template renders.",
        "# Create the model with: ollama create <name> -f Modelfile",
        f"FROM {quote_value('./' + gguf_name, what='FROM path', allow_bare=True)}",
        f"TEMPLATE {quote_value(template.text, what='TEMPLATE')}",
    ]
    if system is not None:
        lines.append(f"SYSTEM {quote_value(system, what='SYSTEM')}")
    lines += [_parameter_line("stop", stop) for stop in template.stops]
    for key, value in {"num_ctx": num_ctx, **(parameters or {})}.items():
        values = value if isinstance(value, list | tuple) else [value]
        lines += [_parameter_line(key, v) for v in values]
    if license_text is not None:
        lines.append(f"LICENSE {quote_value(license_text, what='LICENSE')}")
    return "\n".join(lines) + "\n"


def write_modelfile(path: Path, **kwargs: Any) -> str:
    """Write ``render_modelfile(**kwargs)`` to ``path`` atomically; returns the text."""
    text = render_modelfile(**kwargs)
    write_text_atomic(path, text)
    return text


# --- The repository's canonical Modelfile -----------------------------------------------------------

CANONICAL_GGUF = "./dist/ec-miip-Q4_K_M.gguf"
QWEN3_LICENSE = """Qwen3-4B is licensed under the Apache License, Version 2.0 (the "License"); you may not use
this model except in compliance with the License. You may obtain a copy of the License at
http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to in writing,
the model is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either
express or implied. See the License for the specific language governing permissions and limitations."""


def canonical_modelfile(template: OllamaTemplate) -> str:
    """The top-level ``Modelfile`` of the repository: the Qwen3-4B export in ``dist/``."""
    from ecmiip.core.prompts import SAMPLING_DEFAULTS

    return render_modelfile(
        gguf_name=CANONICAL_GGUF,
        template=template,
        parameters=dict(SAMPLING_DEFAULTS),
        license_text=QWEN3_LICENSE,
    )
