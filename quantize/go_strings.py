"""Go string literals and Go's notion of a printable rune, shared by the TEMPLATE and the Modelfile.

Ollama's Modelfile parser silently drops runes Go does not call printable, and a Go template can
carry any text only as a Go string constant; both come down to ``strconv.IsPrint`` and ``strconv.Quote``.
"""

from __future__ import annotations

import unicodedata

from ecmiip.core.errors import InputError


def go_is_print(ch: str) -> bool:
    """Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def describe_char(ch: str) -> str:
    """A character as an error message names it: code point, Unicode name and repr."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')} ({ch!r})"


def go_string(s: str) -> str:
    """A Go string literal for ``s``, escaping what a Modelfile could not carry as it is."""
    out = []
    for ch in s:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise InputError(f"text contains a lone surrogate {describe_char(ch)}")
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif go_is_print(ch):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def go_template_text(s: str) -> str:
    """Go template text that outputs ``s`` exactly: as it is when plain, else as a Go string constant."""
    plain = "{{" not in s and "}}" not in s and '"' not in s
    if plain and all(ch == "\n" or go_is_print(ch) for ch in s):
        return s
    return "{{ " + go_string(s) + " }}"
