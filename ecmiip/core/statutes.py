"""The shipped statute database: one article per JSONL line, one file per law (see data/statutes/README.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ecmiip.core.errors import InputError
from ecmiip.core.paths import STATUTES_DIR


@dataclass(frozen=True)
class Article:
    law: str
    version: str
    chapter: str
    article: str
    text: str

    @property
    def citation(self) -> str:
        return f"《{self.law}》{self.article}"


def read_articles(path: Path) -> Iterator[Article]:
    """Articles of one JSONL file; a bad line raises an error naming ``file:line``."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                yield Article(rec["law"], rec["version"], rec.get("chapter", ""), rec["article"], rec["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise InputError(f"{path}:{lineno}: not a statute record ({e})") from e


@lru_cache(maxsize=1)
def all_articles() -> tuple[Article, ...]:
    """Every article of the shipped corpus, in manifest order."""
    manifest = json.loads((STATUTES_DIR / "manifest.json").read_text(encoding="utf-8"))
    return tuple(a for doc in manifest for a in read_articles(STATUTES_DIR / doc["file"]))


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def chinese_to_int(text: str) -> int:
    """``"一百二十三"`` → 123; also accepts Arabic digits. Raises ValueError on anything else."""
    if text.isdigit():
        return int(text)
    if not text:
        raise ValueError("empty number")
    total, digit = 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
        else:
            raise ValueError(f"not a Chinese numeral: {text!r}")
    return total + (digit or 0)
