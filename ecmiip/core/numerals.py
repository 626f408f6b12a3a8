r"""Chinese numerals as statutes write them: the one parser, the one writer, the one character class.

Article numbers (第一百二十三条), enumerated items (（三）) and headings (第二章) all use these; a module
that needs a regex over numerals builds it from ``NUMERAL``, ``ARTICLE_NUMERAL``, ``STATUTE_NUMERAL`` or
``ITEM_NUMERAL`` rather than spelling the characters out again.
"""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_WRITE_DIGITS = "零一二三四五六七八九"

#: Every character a Chinese numeral may hold (两 in 两年, 万 in amounts), for regex classes.
NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)
#: A numeral in running text, Chinese or Arabic: 两年, 十万元, 30日.
NUMERAL = rf"[{NUMERAL_CHARS}\d]+"
#: The characters statutes number articles, 款 and 项 with (no 两, no 万): 第一百零一条.
ARTICLE_NUMERAL_CHARS = NUMERAL_CHARS.replace("两", "").replace("万", "")
#: An article, 款 or 项 number as a citation may write it, Chinese or Arabic: 第十一条, 第11条.
ARTICLE_NUMERAL = rf"[{ARTICLE_NUMERAL_CHARS}\d]+"
#: An article number as a statute itself writes it, Chinese only: the 十一 of its label 第十一条.
STATUTE_NUMERAL = f"[{ARTICLE_NUMERAL_CHARS}]+"
#: The small numerals that label enumerated items and parts: （一）…（十）, 一、…, 解释（二）.
ITEM_NUMERAL = "[一二三四五六七八九十]+"
#: A year written with digits, Arabic or Chinese (2020, 二〇二〇): a statute's 自…年…月…日起施行.
YEAR = r"(?:\d{4}|[〇零一二三四五六七八九]{4})"


def chinese_to_int(text: str) -> int:
    """``"一百二十三"`` → 123; also accepts Arabic digits. Raises ValueError on anything else."""
    if text.isdigit():
        return int(text)
    if not text:
        raise ValueError("empty number")
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch == "万":
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
        elif ch in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + section + (digit or 0)


def int_to_chinese(n: int) -> str:
    """123 → ``"一百二十三"``, the way statutes number articles (10 → 十, 110 → 一百一十)."""
    if not 0 < n < 10000:
        raise ValueError(f"article number out of range: {n}")
    out, pending_zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out += "零"
            pending_zero = False
        if not (value == 10 and d == 1 and not out):
            out += _WRITE_DIGITS[d]
        out += unit
    return out


def canonical_number(text: str) -> int | None:
    """The numeral's value if it is written the canonical Chinese way, else None."""
    try:
        n = chinese_to_int(text)
    except ValueError:
        return None
    return n if not text.isdigit() and 0 < n < 10000 and int_to_chinese(n) == text else None


def number_or_none(text: str | None) -> int | None:
    """A numeral's value however it is written (十一, 一十一, 11); None when absent or garbled."""
    if not text:
        return None
    try:
        return chinese_to_int(text)
    except ValueError:
        return None
