"""Contract review: the rules of :mod:`~ecmiip.chat.clauses`, then the model, clause by clause, into a report.

The rules run first and always; the model is asked about each clause with the rule findings and the
texts of the relevant (verified) articles before it, and must answer in four fixed lines (风险等级 / 理由 /
依据 / 修改建议). Its answer is advisory: the final risk is the higher of the rules' and the model's, its
citations are checked against the statute store (only verified ones count as 依据, the others are reported
as unverified), and when its answer cannot be parsed the clause keeps the rule conclusion, saying so.

A long contract takes a while on a laptop, so each clause's model answer is appended to a state file
beside the output (``<out>.review-state.jsonl``) as soon as it is finished, keyed by a hash of the
document text, the model and the clause text; a rerun after Ctrl-C reuses those answers and asks the model
only about the rest. The state file is removed once the report is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from ecmiip.chat.backends import Backend
from ecmiip.chat.clauses import (
    CLAUSE_TYPES,
    PREAMBLE,
    RULES,
    Clause,
    Finding,
    ParagraphLike,
    classify,
    max_risk,
    rule_findings,
    segment_clauses,
)
from ecmiip.chat.report import Report
from ecmiip.core.citations import CitationCheck, verify_citations
from ecmiip.core.prompts import system_prompt

TASK = "合同条款审查"
FALLBACK_NOTE = "模型未给出可解析的结论，以下为规则结论"
RULES_ONLY_NOTE = "仅规则审查（未使用模型）"
NO_FINDING = "规则未发现明显风险"
STATE_SUFFIX = ".review-state.jsonl"
MAX_ANSWER_TOKENS = 1024
# Sampling for a review: deterministic, so a rerun of the same clause gives the same answer.
SAMPLING = {"temperature": 0.0, "seed": 0}

_CIVIL = "《中华人民共和国民法典》"
_TECH = "《最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释》"
#: Clause type → articles put before the model with the clause (each verified; tests check).
TYPE_ARTICLES: dict[str, tuple[str, ...]] = {
    "知识产权归属及改进成果": (f"{_CIVIL}第八百七十五条", f"{_TECH}第十条"),
    "许可授予/范围/地域/期限": (f"{_CIVIL}第八百六十二条", f"{_CIVIL}第八百六十四条", f"{_TECH}第二十八条"),
    "独占性": (f"{_TECH}第二十五条",),
    "费用与支付": (f"{_CIVIL}第八百七十三条",),
    "保密": (f"{_CIVIL}第五百零一条", f"{_CIVIL}第八百七十一条"),
    "竞业限制": (f"{_CIVIL}第八百五十条", f"{_CIVIL}第八百六十四条", f"{_TECH}第十条"),
    "不侵权保证": (f"{_CIVIL}第八百七十四条",),
    "赔偿责任": (f"{_CIVIL}第八百七十四条",),
    "违约责任": (f"{_CIVIL}第八百七十二条", f"{_CIVIL}第八百七十三条"),
    "技术资料与指导": (f"{_CIVIL}第八百六十六条", f"{_CIVIL}第八百六十八条"),
}
MAX_ARTICLES = 6


class DocumentLike(Protocol):
    """What the review needs of a :class:`~ecmiip.chat.documents.LoadedDocument`."""

    paragraphs: Sequence[ParagraphLike]

    @property
    def name(self) -> str: ...

    def text(self) -> str: ...


@dataclass(frozen=True)
class ModelAnswer:
    """The model's four lines, parsed leniently; ``parsed`` is False when no 风险等级 could be read."""

    raw: str
    parsed: bool
    risk: str | None = None
    reason: str = ""
    basis: str = ""
    suggestion: str = ""
    citations: tuple[CitationCheck, ...] = ()


@dataclass
class ClauseReview:
    clause: Clause
    types: list[str]
    findings: list[Finding]
    answer: ModelAnswer | None = None  # None: rules only, or a clause not reviewed

    @property
    def risk(self) -> str | None:
        """The higher of the rules' and the model's risk; None for 前言/签署."""
        if not self.clause.reviewed:
            return None
        model = self.answer.risk if self.answer and self.answer.parsed else None
        return max_risk(*(f.risk for f in self.findings), model)


@dataclass
class ReviewResult:
    document: str
    model: str | None  # None: --rules-only
    as_of: date
    reviews: list[ClauseReview] = field(default_factory=list)
    reused: int = 0  # clauses whose model answer came from the state file


# ---------------------------------------------------------------- prompts and answers

_FIELDS = ("风险等级", "理由", "依据", "修改建议")
_FIELD_RE = re.compile(r"^[\s>*#\-【\[]*(风险等级|风险|理由|分析|依据|法律依据|修改建议|建议)[】\]*\s]*[：:]\s*(.*)$")
_ALIAS = {"风险": "风险等级", "分析": "理由", "法律依据": "依据", "建议": "修改建议"}


def relevant_articles(types: Sequence[str], findings: Sequence[Finding], as_of: date | None = None
                      ) -> list[CitationCheck]:
    """The verified articles put before the model: the rule findings' first, then the types', at most
    ``MAX_ARTICLES``, each once."""
    names = [a for f in findings for a in f.articles] + [a for t in types for a in TYPE_ARTICLES.get(t, ())]
    out, seen = [], set()
    for check in verify_citations("\n".join(dict.fromkeys(names)), as_of):
        if check.ok and check.article is not None and check.article.citation not in seen:
            seen.add(check.article.citation)
            out.append(check)
    return out[:MAX_ARTICLES]


def build_messages(clause: Clause, types: Sequence[str], findings: Sequence[Finding],
                   articles: Sequence[CitationCheck], as_of: date | None = None,
                   with_article_texts: bool = True) -> list[dict]:
    """The system prompt of the 合同条款审查 task and one user message asking for the four fixed lines."""
    lines = [f"请审查下面这一条合同条款。\n\n【条款】{clause.name}", clause.text, "",
             f"【规则识别的条款类型】{'、'.join(types) or '其他'}", "【规则发现的风险】"]
    lines += [f"- {f.risk}：{f.reason}（依据：{'、'.join(f.articles)}）" for f in findings] or ["- 无"]
    if articles:
        lines.append("【相关法条（已核对）】")
        for c in articles:
            a = c.article
            lines.append(f"{a.citation}（{a.version}）：{a.text}" if with_article_texts else f"{a.citation}（{a.version}）")
    lines += ["", "请严格按以下格式输出四行，不要输出其他内容：",
              "风险等级：高、中、低三者选一",
              "理由：说明风险所在及其法律后果",
              "依据：《法律名》第X条（可写多条，用“、”分隔；只写上面列出的或你确信存在的条文）",
              "修改建议：可以直接替换原条款的修改后条文"]
    return [{"role": "system", "content": system_prompt(TASK, as_of)}, {"role": "user", "content": "\n".join(lines)}]


def parse_answer(raw: str, as_of: date | None = None) -> ModelAnswer:
    """Read the four lines wherever they stand (bullets, bold, 【】 and synonyms allowed; a field may run
    over several lines); the citations of 理由/依据/修改建议 are verified."""
    text = re.sub(r"<think>.*?</think>", "", raw, flags=re.S)
    fields: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if m := _FIELD_RE.match(line.strip()):
            current = _ALIAS.get(m[1], m[1])
            fields.setdefault(current, []).append(m[2].strip().strip("*").strip())
        elif current and line.strip():
            fields[current].append(line.strip())
    got = {k: "\n".join(v).strip() for k, v in fields.items()}
    risk = re.match(r"[*【\[]*\s*(高|中|低)", got.get("风险等级", ""))
    if risk is None:
        return ModelAnswer(raw, False)
    cited = "\n".join(got.get(k, "") for k in ("理由", "依据", "修改建议"))
    checks = {c.text: c for c in verify_citations(cited, as_of)}  # each citation once
    return ModelAnswer(raw, True, risk[1], got.get("理由", ""), got.get("依据", ""), got.get("修改建议", ""),
                       tuple(checks.values()))


def ask(backend: Backend, clause: Clause, types: Sequence[str], findings: Sequence[Finding],
        as_of: date | None = None, max_tokens: int = MAX_ANSWER_TOKENS) -> str:
    """The model's answer about one clause (content only, thinking off). The article texts are left out
    of the prompt when they would not fit the context, then the clause is cut short."""
    articles = relevant_articles(types, findings, as_of)
    messages = build_messages(clause, types, findings, articles, as_of)
    budget = backend.context_size - max_tokens
    if backend.count_tokens(messages, False) > budget:
        messages = build_messages(clause, types, findings, articles, as_of, with_article_texts=False)
    while backend.count_tokens(messages, False) > budget and len(clause.text) > 200:
        clause = Clause(clause.label, clause.title, clause.text[: len(clause.text) * 2 // 3] + "……（条款过长，已截断）",
                        clause.paragraphs, clause.chapter)
        messages = build_messages(clause, types, findings, articles, as_of, with_article_texts=False)
    stream = backend.stream(messages, think=False, sampling=dict(SAMPLING), max_tokens=max_tokens)
    with contextlib.closing(stream):
        return "".join(d.text for d in stream if d.kind == "content")


# ---------------------------------------------------------------- the state file


def state_path(out: Path) -> Path:
    return out.with_name(out.name + STATE_SUFFIX)


def clause_key(document_text: str, model: str, clause: Clause) -> str:
    h = hashlib.sha256()
    for part in (document_text, model, clause.label, clause.text):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:32]


def _load_state(path: Path | None) -> dict[str, str]:
    """key → raw answer of the clauses finished before; a torn last line (killed mid-write) is ignored."""
    if path is None or not path.is_file():
        return {}
    done = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            row = json.loads(line)
            done[row["key"]] = str(row["answer"])
    return done


def _append_state(path: Path, key: str, label: str, answer: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": key, "clause": label, "answer": answer}, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------- the review


def review(document: DocumentLike, backend: Backend | None = None, *, model: str | None = None,
           state: Path | None = None, as_of: date | None = None,
           on_clause: Callable[[int, ClauseReview], None] | None = None, show_progress: bool = True) -> ReviewResult:
    """Review every clause: rules always, the model too when ``backend`` is given (``model`` names it in
    the report and the state keys). ``state`` is the resume file; ``on_clause(i, review)`` is called after
    each clause is finished and saved."""
    day = as_of or date.today()
    text = document.text()
    clauses = segment_clauses(document.paragraphs)
    result = ReviewResult(document.name, model if backend is not None else None, day)
    done = _load_state(state) if backend is not None else {}
    with _progress(show_progress, len(clauses)) as advance:
        for i, clause in enumerate(clauses):
            item = ClauseReview(clause, classify(clause), rule_findings(clause, text))
            if backend is not None and clause.reviewed:
                key = clause_key(text, model or "", clause)
                if key in done:
                    raw = done[key]
                    result.reused += 1
                else:
                    raw = ask(backend, clause, item.types, item.findings, day)
                    if state is not None:
                        _append_state(state, key, clause.label, raw)
                item.answer = parse_answer(raw, day)
            result.reviews.append(item)
            advance(clause.name)
            if on_clause is not None:
                on_clause(i, item)
    return result


@contextlib.contextmanager
def _progress(show: bool, total: int):
    if not show:
        yield lambda _name: None
        return
    from ecmiip.core.console import progress

    with progress() as bar:
        task = bar.add_task("审查条款", total=total)
        yield lambda name: bar.update(task, advance=1, description=f"审查条款 {name}")


# ---------------------------------------------------------------- the report


def _key_points(item: ClauseReview) -> str:
    if not item.clause.reviewed:
        return "当事人、鉴于等" if item.clause.label == PREAMBLE else "附件与签署"
    if item.findings:
        return "；".join(f.rule for f in item.findings)
    if item.answer and item.answer.parsed and item.answer.reason:
        first = re.split(r"(?<=[。；])", item.answer.reason)[0]
        return first if len(first) <= 40 else first[:40] + "……"
    return NO_FINDING


def _basis_lines(item: ClauseReview, day: date) -> list[str]:
    rule_articles = list(dict.fromkeys(a for f in item.findings for a in f.articles))
    lines = [f"{c.text}（{c.word}）【规则】" for c in verify_citations("\n".join(rule_articles), day)]
    if item.answer and item.answer.parsed:
        for c in item.answer.citations:
            lines.append(f"{c.text}（{c.word}）【模型】" if c.ok else f"{c.text}（未能核实：{c.word}，{c.reason}）【模型】")
    return lines


SUMMARY_HEADER = ("条款", "类型", "风险等级", "要点")


def summary_rows(result: ReviewResult) -> list[list[str]]:
    """The summary table the report opens with (and the chat client prints): one row per part."""
    return [[x.clause.name, "、".join(x.types) or "—", x.risk or "未审查", _key_points(x)] for x in result.reviews]


def build_report(result: ReviewResult, *, statutes_as_of: date | None = None) -> Report:
    """Title and facts, the summary table first, one section per clause, the method, the citations appendix."""
    from ecmiip.core.statutes import store

    store_day = statutes_as_of or store().as_of
    r = Report(f"合同条款审查报告：{result.document}",
               f"文件：{result.document}　模型：{result.model or RULES_ONLY_NOTE}　审查日期：{result.as_of.isoformat()}"
               f"　法条库效力信息核对至：{store_day.isoformat()}")
    r.heading("审查摘要", 1)
    counts = {level: sum(1 for x in result.reviews if x.risk == level) for level in ("高", "中", "低")}
    reviewed = sum(1 for x in result.reviews if x.clause.reviewed)
    r.paragraph(f"共 {len(result.reviews)} 部分，审查条款 {reviewed} 条：高风险 {counts['高']} 条，中风险 {counts['中']} 条，"
                f"低风险 {counts['低']} 条。")
    r.table(SUMMARY_HEADER, summary_rows(result), widths=(0.22, 0.30, 0.14, 0.34))
    r.heading("逐条审查", 1)
    cited: list[str] = []
    for x in result.reviews:
        r.heading(x.clause.name, 2)
        r.paragraph(x.clause.text, bold_prefix="原文：")
        if not x.clause.reviewed:
            r.paragraph("不审查（标题、当事人、鉴于条款或签署部分）。", bold_prefix="说明：")
            continue
        r.paragraph("、".join(x.types), bold_prefix="类型：")
        r.paragraph(x.risk or "低", bold_prefix="风险等级：")
        reasons = [f"【规则：{f.rule}，{f.risk}】{f.reason}" for f in x.findings]
        if x.answer is not None and not x.answer.parsed:
            reasons.insert(0, FALLBACK_NOTE + ("。" if x.findings else f"：{NO_FINDING}。"))
        elif x.answer is not None:
            reasons.append(f"【模型，{x.answer.risk}】{x.answer.reason or '（未说明理由）'}")
        if not reasons:
            reasons = [NO_FINDING + "。"]
        r.paragraph("\n".join(reasons), bold_prefix="理由：")
        basis = _basis_lines(x, result.as_of)
        r.paragraph("\n".join(basis) if basis else "无", bold_prefix="依据：")
        suggestions = [f"【规则】{f.suggestion}" for f in x.findings]
        if x.answer is not None and x.answer.parsed and x.answer.suggestion:
            suggestions.append(f"【模型】{x.answer.suggestion}")
        r.paragraph("\n".join(suggestions) if suggestions else "无需修改。", bold_prefix="修改建议：")
        cited += [a for f in x.findings for a in f.articles]
        if x.answer is not None and x.answer.parsed:
            cited += [x.answer.reason, x.answer.basis, x.answer.suggestion]
    _method(r, result)
    r.citations_appendix(cited, as_of=result.as_of)
    return r


def _method(r: Report, result: ReviewResult) -> None:
    r.heading("审查方法", 1)
    r.paragraph("条款按“第X条”“一、”“1.”“1.1”等编号切分（前言与签署部分不审查）；条款类型由下表的公开规则确定"
                "（条款文字中出现任一关键词或模式即归入该类型，可归入多类）；风险规则只标记条款文字明确写出的情形，"
                "并在理由中列出匹配的原文词句。")
    r.table(["条款类型", "识别规则（正则表达式）"], [[t, "；".join(ps)] for t, ps in CLAUSE_TYPES.items()])
    r.table(["风险规则", "识别情形", "风险等级", "依据"],
            [[x.name, x.looks_for, x.risk, "、".join(x.articles)] for x in RULES.values()])
    if result.model:
        r.paragraph(f"规则结论之后，由模型 {result.model} 逐条给出风险等级、理由、依据和修改建议；最终风险等级取规则与"
                    "模型中较高者。模型的结论仅供参考，其引用的法条均经离线法条库核对，未能核实的已注明；"
                    "模型回答无法解析时，以规则结论为准。")
    else:
        r.paragraph("本次仅使用规则审查，未使用模型；未被规则标记的条款并不意味着没有风险。")
    r.paragraph("本报告不构成法律意见；涉及重大权益时，请咨询执业律师，并核对法条的现行有效文本。")


def write_review(result: ReviewResult, out: Path, *, force: bool = False, state: Path | None = None) -> Path:
    """Write the report, then remove the state file: the review is finished."""
    path = build_report(result).write(out, force=force)
    if state is not None:
        state.unlink(missing_ok=True)
    return path
