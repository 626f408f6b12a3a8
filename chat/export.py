"""``/export``: a conversation, or its last answer, as a Word or Markdown document a lawyer can file.

The document says what it rests on: the model, the day the answers were checked for, how current the
statute store is, the attached files; and it ends with an appendix of every article the answers cite,
each with its version, validity and full text (an article the store cannot confirm is listed as such,
never quoted). Answers are exported as written; the citation check's warnings go with them.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from ecmiip.chat.report import Report
from ecmiip.chat.session import Session
from ecmiip.core.errors import InputError

FORMATS = ("docx", "md")


def export_path(fmt: str, name: str | None, *, last: bool) -> Path:
    """Where ``/export`` writes: the name given (its suffix set to ``fmt``), else a dated name here."""
    if fmt not in FORMATS:
        raise InputError(f"未知的导出格式 {fmt!r}；可用 docx 或 md")
    if name is None:
        stem = "ecmiip-文书" if last else "ecmiip-对话"
        return Path(f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}")
    path = Path(name).expanduser()
    if path.suffix.lower() != f".{fmt}":
        path = path.with_name(f"{path.name}.{fmt}")
    return path


def conversation_report(session: Session, *, model: str, as_of: date | None, last: bool) -> Report:
    """The conversation (or only its last answer, e.g. a ``/draft`` document) as a :class:`Report`."""
    from ecmiip.core.statutes import store

    if not session.turns:
        raise InputError("还没有可导出的回答；先提问，或用 /resume 打开一段对话")
    day = as_of or date.today()
    turns = session.turns[-1:] if last else session.turns
    report = Report("ec-miip 文书" if last else "ec-miip 对话记录",
                    f"模型：{model}；按{day.isoformat()}有效的法律核对引用（法条库核对至{store().as_of.isoformat()}）")
    if session.attachments:
        report.bullets([f"附件：{d.name}（{len(d.paragraphs)} 段）" for d in session.attachments])
    for i, turn in enumerate(turns, len(session.turns) - len(turns) + 1):
        if not last:
            report.heading(f"问题 {i}", 2)
            for line in turn.question.splitlines() or [""]:
                report.paragraph(line)
            report.heading(f"回答 {i}", 2)
        for line in turn.answer.splitlines():
            if line.strip():
                report.paragraph(line)
        if turn.sources:
            report.paragraph("；".join(turn.sources), bold_prefix="参考条文：")
        if turn.flagged:
            report.paragraph("；".join(turn.flagged), bold_prefix="⚠ 未能核实的引用：")
    report.citations_appendix([t.answer for t in turns], as_of)
    report.paragraph("本文件由离线模型生成，仅供参考，不能替代执业律师的法律意见；引用条文请以官方文本为准。")
    return report
