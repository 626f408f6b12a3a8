"""Chinese numerals: one parser, one writer, and the character classes every citation regex is built from."""

from __future__ import annotations

import re

import pytest

from ecmiip.core.numerals import (
    ARTICLE_NUMERAL,
    ITEM_NUMERAL,
    NUMERAL,
    STATUTE_NUMERAL,
    canonical_number,
    chinese_to_int,
    int_to_chinese,
    number_or_none,
)


def test_parser_reads_every_way_a_number_is_written():
    assert chinese_to_int("一百二十三") == 123
    assert chinese_to_int("十一") == chinese_to_int("一十一") == chinese_to_int("11") == 11
    assert chinese_to_int("一百零一") == chinese_to_int("一百〇一") == 101
    assert chinese_to_int("两千") == 2000
    assert chinese_to_int("一万二千") == 12000
    with pytest.raises(ValueError):
        chinese_to_int("十一条")
    with pytest.raises(ValueError):
        chinese_to_int("")


def test_writer_and_canonical_form():
    for n in (1, 10, 11, 20, 101, 110, 1000, 1185, 9999):
        assert chinese_to_int(int_to_chinese(n)) == n
        assert canonical_number(int_to_chinese(n)) == n
    assert int_to_chinese(10) == "十" and int_to_chinese(110) == "一百一十"
    assert canonical_number("一十一") is None and canonical_number("11") is None
    assert number_or_none("一十一") == 11 and number_or_none(None) is None and number_or_none("甲") is None
    with pytest.raises(ValueError):
        int_to_chinese(10000)


def test_character_classes():
    assert re.fullmatch(NUMERAL, "两万") and re.fullmatch(NUMERAL, "30")
    assert re.fullmatch(ARTICLE_NUMERAL, "一百零一") and re.fullmatch(ARTICLE_NUMERAL, "11")
    assert not re.fullmatch(ARTICLE_NUMERAL, "两") and not re.fullmatch(ARTICLE_NUMERAL, "一万")
    assert re.fullmatch(STATUTE_NUMERAL, "一千一百八十五") and not re.fullmatch(STATUTE_NUMERAL, "11")
    assert re.fullmatch(ITEM_NUMERAL, "十") and not re.fullmatch(ITEM_NUMERAL, "十一百")
