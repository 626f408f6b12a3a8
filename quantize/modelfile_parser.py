"""A port of Ollama's Modelfile parser (parser.ParseFile), so every value ec-miip writes is read back
the way Ollama will read it before it is trusted.

Ollama's parser has no escape sequences: a value ends at the first newline where the text so far is a
complete "..." or \"\"\"...\"\"\" string, and runes Go does not call printable are silently dropped.
Which runes those are is Go's table, not Python's: see ``go_strings.go_is_print``.
"""

from __future__ import annotations

from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.quantize.go_strings import go_is_print

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


def parse_commands(text: str) -> list[tuple[str, str]]:
    """(command, value) pairs of ``text``, a FROM line or not; see ``parse_modelfile``."""
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
    commands = parse_commands(text)
    if not any(name == "model" for name, _ in commands):
        raise InputError("Modelfile: no FROM line")
    return commands


def read_modelfile(path: Path) -> list[tuple[str, str]]:
    """``parse_modelfile`` of a file, keeping its line endings exactly as Ollama sees them."""
    with open(path, encoding="utf-8", newline="") as f:
        return parse_modelfile(f.read())
