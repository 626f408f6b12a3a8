"""Streaming rendering: finished blocks are printed once; fences are never split."""

from __future__ import annotations

import io

from rich.console import Console

from ecmiip.chat.render import StreamView, split_finished


def test_split_at_the_last_blank_line_outside_fences():
    assert split_finished("段一\n\n段二") == ("段一\n\n", "段二")
    assert split_finished("```\ncode\n\nmore\n") == ("", "```\ncode\n\nmore\n")
    assert split_finished("```\ncode\n```\n\n后文") == ("```\ncode\n```\n\n", "后文")


def test_every_block_is_printed_exactly_once_whatever_the_chunking():
    answer = "## 结论\n\n被告构成侵权。\n\n依据《中华人民共和国专利法》第十一条。\n\n- 一\n- 二\n"
    for size in (1, 2, 3, 7, len(answer)):
        out = io.StringIO()
        console = Console(file=out, width=60, force_terminal=False)
        with StreamView(console) as view:
            view.add("thinking", "先分析事实。")
            for i in range(0, len(answer), size):
                view.add("content", answer[i : i + size])
        text = out.getvalue()
        for piece in ("结论", "被告构成侵权。", "第十一条", "思考过程 6 字"):
            assert text.count(piece) == 1, (size, piece, text)
