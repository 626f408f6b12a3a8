"""The per-pair checks of the QA audit: what makes one question–answer pair unfit to train on.

Each problem has a code (``CODES``: its severity and what it means). Errors are defects a lawyer would
strike from the data — a clause cut off, a bracket left open, a scenario whose actor is the document
itself (本院、本解释), an answer that restates nothing, a citation that does not verify as the law in
force today; warnings need a reader's judgement. ``ecmiip.train.qa_audit`` runs these over a file (and
adds duplicate questions); the teacher runs ``answer_findings`` over each answer it writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecmiip.core.citations import (
    AMBIGUOUS_VERSION,
    NO_SUCH_ARTICLE,
    NOT_IN_DATABASE,
    NOT_YET_IN_FORCE,
    OK,
    SUPERSEDED,
    UNKNOWN_LAW,
    verify_citations,
)
from ecmiip.core.thinking import CLOSE_TAG, OPEN_TAG, cut_off_in_thinking, strip_thinking
from ecmiip.train.qa_norms import quote_depths

ERROR, WARNING = "error", "warning"

#: code → (severity, what it means).
CODES: dict[str, tuple[str, str]] = {
    "malformed-line": (ERROR, "not a QA pair: bad UTF-8 or JSON, or no messages ending with the assistant's answer"),
    "empty-answer": (ERROR, "the assistant's answer is empty"),
    "truncated-clause": (ERROR, "a text or clause ends mid-sentence (on ，、：的和或…), or a condition has no consequence"),
    "unmatched-bracket": (ERROR, "a bracket or quotation mark（）《》“”【】[]() is not closed, or closed without opening"),
    "self-referential-subject": (ERROR, "the scenario's actor is the document itself (本院、本法、本解释、本规定…)"),
    "filler-answer": (ERROR, "the answer's 核心要求是… restates the quoted article and says nothing of its application"),
    "empty-conclusion": (ERROR, "the conclusion says only that 该条…的规定 applies, not what follows from it"),
    "cot-unclosed": (ERROR, "a <think> block is never closed: the answer was cut off in its reasoning"),
    "citation-superseded": (ERROR, "cites an article of a text no longer in force as if current (write its version)"),
    "citation-no-such-article": (ERROR, "cites an article, paragraph or item the law does not have"),
    "citation-unknown-law": (ERROR, "cites a law whose title no real document has"),
    "citation-not-yet-in-force": (ERROR, "cites a version that is not yet in force"),
    "citation-ambiguous-version": (ERROR, "the version written matches several stored texts"),
    "duplicate-question": (ERROR, "the same question with a different answer on another line (conflicting targets)"),
    "duplicate-pair": (WARNING, "the same question and answer on another line"),
    "self-reference": (WARNING, "the question says 本法/本细则/本规定… outside a quotation: which document is meant?"),
    "citation-unchecked": (WARNING, "cites an article the offline statute store cannot check"),
    "quoted-citation-stale": (WARNING, "a quoted text cites an article that does not verify today (the quote is the "
                                       "law's own wording; say which version it means)"),
    "cot-flag-mismatch": (WARNING, "the pair's cot field disagrees with whether the answer has a think block"),
}

# What 本… names when a document speaks of itself (本案, 本人, 本公司 are parties and facts, not this).
_SELF = r"本(?:院|法|解释|规定|条例|细则|办法|决定|批复|通知|意见|纪要)"
_SELF_SUBJECT_RE = re.compile(rf"(?:^|[：:，,。；;！？]|认为|情形是?)\s*({_SELF})")
_SELF_RE = re.compile(_SELF)
_COURT_SELF_RE = re.compile("本院")

# How a text or clause may not end: inside a sentence, on a function word, on a dangling 的.
_OPEN_END_RE = re.compile(
    r"(?:[，,、：:；;]|(?<![目有别似])的|或者|以及|并且|但是|(?<![总调温平柔缓])和|(?<![涉普危顾])及|[或与并但]"
    r"|\b(?:and|or|the|of))\s*$"
)
_FOREIGN_END_RE = re.compile(r"[，、：；,][。？！]")
# 为了…目的 cut before its 的 (专利法第五十五条: "为了公共健康目"), and a consequence that is missing.
_CUT_PURPOSE_RE = re.compile(r"(?:为了|为|出于)[^，。；“”\n]{0,40}(?<![项科题节书条名账数剧栏细纲要注盲])目(?=[”。，；？])")
# A duty cut at its deadline: 应当自收到材料之日起60日内。 (what must be done within it is gone)
_CUT_DEADLINE_RE = re.compile(r"自[^。，；“”\n]{2,30}起[^。，；“”\n]{0,12}内(?=[。？])")
_NO_CONSEQUENCE_RE = re.compile(r"(?:后果是|因此)[：:]?\s*(?:“\s*”)?\s*[。；？]")
_EMPTY_QUOTE_RE = re.compile(r"“\s*”")
_QUOTE_RE = re.compile(r"“([^“”]*)”")

_FILLER_RE = re.compile(r"核心要求是[：:]\s*([^\n]+?)(?:。|$)")
_CONCLUSION_RE = re.compile(r"【结论】([^\n【]*)")
_EMPTY_APPLICATION_RE = re.compile(r"(?:应当|应)?适用(?:该|本|上述)(?:条|款|项|规定)[^。；，\n]{0,120}的规定$")

_BRACKETS = {"（": "）", "《": "》", "“": "”", "【": "】", "〔": "〕", "[": "]", "(": ")"}
_CLOSERS = {v: k for k, v in _BRACKETS.items()}

_CITATION_CODES = {
    SUPERSEDED: "citation-superseded", NO_SUCH_ARTICLE: "citation-no-such-article",
    UNKNOWN_LAW: "citation-unknown-law", NOT_YET_IN_FORCE: "citation-not-yet-in-force",
    AMBIGUOUS_VERSION: "citation-ambiguous-version", NOT_IN_DATABASE: "citation-unchecked",
}


@dataclass(frozen=True)
class Finding:
    """One problem of one pair: where (line, field), which (code), and the words that show it."""

    line: int
    code: str
    field: str  # question, answer, reasoning, line
    message: str

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def _excerpt(text: str, at: int, width: int = 24) -> str:
    start, end = max(0, at - width), min(len(text), at + width)
    return ("…" if start else "") + text[start:end].replace("\n", "⏎") + ("…" if end < len(text) else "")


def _unquoted(text: str) -> str:
    """The text with the contents of “quotations” blanked (same length): the law's own words are not the pair's."""
    out, depth = [], 0
    for ch in text:
        if ch == "“":
            depth += 1
        elif ch == "”" and depth:
            depth -= 1
        elif depth:
            ch = " " if ch != "\n" else ch
        out.append(ch)
    return "".join(out)


def bracket_problem(text: str) -> str:
    """Why the brackets of ``text`` do not match ("" when they do)."""
    stack: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if ch in _BRACKETS:
            stack.append((ch, i))
        elif ch in _CLOSERS:
            if not stack or stack[-1][0] != _CLOSERS[ch]:
                return f"{ch} without its {_CLOSERS[ch]}: {_excerpt(text, i)}"
            stack.pop()
    if stack:
        ch, i = stack[-1]
        return f"{ch} never closed: {_excerpt(text, i)}"
    return ""


def truncation_problem(text: str) -> str:
    """Why ``text`` (a question, an answer, a reasoning) stops mid-clause ("" when it does not)."""
    body = text.rstrip()
    if not body:
        return ""
    if m := _OPEN_END_RE.search(body):
        return f"ends on {m.group(0).strip()!r}: {_excerpt(body, len(body))}"
    if m := _CUT_PURPOSE_RE.search(body):
        return f"目的 cut before its 的: {_excerpt(body, m.end())}"
    if m := _CUT_DEADLINE_RE.search(body):
        return f"a deadline without what must be done within it: {_excerpt(body, m.end())}"
    if m := _FOREIGN_END_RE.search(body):
        return f"a clause ends on {m.group(0).strip()[0]!r} before the sentence does: {_excerpt(body, m.end())}"
    if m := _NO_CONSEQUENCE_RE.search(body):
        return f"a condition without its consequence: {_excerpt(body, m.end())}"
    if m := _EMPTY_QUOTE_RE.search(body):
        return f"an empty quotation: {_excerpt(body, m.end())}"
    for q in _QUOTE_RE.finditer(body):
        if q.group(1).rstrip().endswith(("，", "、", ",")):
            return f"a quotation ends on {q.group(1).rstrip()[-1]!r}: {_excerpt(body, q.end())}"
    return ""


def self_subject_problem(text: str) -> tuple[str, str] | None:
    """(code, why) when a scenario's facts have the document as their actor (error) or name it (warning)."""
    unquoted = _unquoted(text)
    if m := _COURT_SELF_RE.search(unquoted) or _SELF_SUBJECT_RE.search(unquoted):
        return "self-referential-subject", f"actor {m.group(m.lastindex or 0)!r}: {_excerpt(text, m.end())}"
    if m := _SELF_RE.search(unquoted):
        return "self-reference", f"{m.group(0)!r} outside a quotation: {_excerpt(text, m.end())}"
    return None


def _facts(answer: str) -> str:
    """The 【事实】 section of a structured answer, or ""."""
    m = re.search(r"【事实】([^\n【]*)", answer)
    return m.group(1) if m else ""


def filler_problems(answer: str) -> list[tuple[str, str]]:
    """(code, why) for an answer that restates the article instead of applying it."""
    found = []
    for m in _FILLER_RE.finditer(answer):
        said = m.group(1).strip().rstrip("。")
        rest = answer[:m.start()] + answer[m.end():]
        if not said or said in rest:
            found.append(("filler-answer", f"核心要求是 repeats the article: {_excerpt(answer, m.start(), 40)}"))
    conclusions = [m.group(1) for m in _CONCLUSION_RE.finditer(answer)]
    for conclusion in conclusions:
        for sentence in re.split(r"[。；]", _unquoted(conclusion)):
            last = sentence.strip().rsplit("，", 1)[-1]
            if _EMPTY_APPLICATION_RE.search(last):
                found.append(("empty-conclusion", f"【结论】{conclusion.strip()[:80]}"))
                break
    return found


def _citation_findings(line: int, field: str, text: str) -> list[Finding]:
    found, seen = [], set()
    depths = quote_depths(text)
    for verdict in verify_citations(text):
        if verdict.status == OK or (verdict.status == SUPERSEDED and verdict.citation.version):
            continue  # a citation that names its version says which text it means
        code = _CITATION_CODES[verdict.status]
        start = verdict.span[0] if verdict.span else 0
        if code != "citation-unchecked" and start < len(depths) and depths[start]:
            code = "quoted-citation-stale"
        if (code, verdict.text) not in seen:
            seen.add((code, verdict.text))
            found.append(Finding(line, code, field, f"{verdict.text}: {verdict.reason}"))
    return found


def _split_content(content: str) -> tuple[str, str]:
    """(reasoning, answer) of an assistant message: the closed think blocks and what is left."""
    reasoning = "\n".join(re.findall(f"{OPEN_TAG}(.*?){CLOSE_TAG}", content, re.S)).strip()
    return reasoning, strip_thinking(content).strip()


def question_findings(question: str, line: int = 0) -> list[Finding]:
    """Problems of a question: cut off, brackets, the document as actor, citations."""
    found = []
    if why := truncation_problem(question):
        found.append(Finding(line, "truncated-clause", "question", why))
    if why := bracket_problem(question):
        found.append(Finding(line, "unmatched-bracket", "question", why))
    if hit := self_subject_problem(question):
        found.append(Finding(line, hit[0], "question", hit[1]))
    found += _citation_findings(line, "question", question)
    return found


def answer_findings(content: str, line: int = 0) -> list[Finding]:
    """Problems of an assistant message (think block included): the checks the teacher's answers pass too."""
    if cut_off_in_thinking(content):
        return [Finding(line, "cot-unclosed", "answer", f"{OPEN_TAG} without {CLOSE_TAG}: {_excerpt(content, len(content))}")]
    reasoning, answer = _split_content(content)
    if not answer:
        return [Finding(line, "empty-answer", "answer", "nothing after the reasoning" if reasoning else "empty")]
    found = []
    for field, text in (("reasoning", reasoning), ("answer", answer)):
        if not text:
            continue
        if why := truncation_problem(text):
            found.append(Finding(line, "truncated-clause", field, why))
        if why := bracket_problem(text):
            found.append(Finding(line, "unmatched-bracket", field, why))
    if (hit := self_subject_problem(_facts(answer))) and hit[0] == "self-referential-subject":
        found.append(Finding(line, hit[0], "answer", f"【事实】 {hit[1]}"))
    found += [Finding(line, code, "answer", why) for code, why in filler_problems(answer)]
    cited = _citation_findings(line, "answer", answer)
    cited += [f for f in _citation_findings(line, "reasoning", reasoning) if (f.code, f.message) not in
              {(c.code, c.message) for c in cited}]
    return found + cited


def has_reasoning(content: str) -> bool:
    """Whether an assistant message carries a non-empty think block (a CoT pair)."""
    return bool(_split_content(content)[0])
