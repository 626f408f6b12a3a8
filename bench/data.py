"""Bench item sets: JSONL loaders whose schema is checked line by line.

Every line of a data file ends up either as an item or as an entry of ``Loaded.invalid`` reading
``file:line: reason``, so a score always says how many items it was computed on and which were not.

``mcq`` schema (one JSON object per line):
    question        str, the stem (if absent, ``input`` is used with its options cut off, as in the
                    shipped LexEval sample)
    options         {"A": str, "B": str, ...}: consecutive letters from A, at least two
    answer_letters  non-empty list of option letters
    type            the item type *as the exam states it* (it is never inferred from the answer):
                    ``single`` (单选: exactly one right option), ``multiple`` (多选: two or more) or
                    ``indefinite`` (不定项: one or more); 单选/多选/不定项 are accepted too, and
                    ``"multi": false`` / ``true`` (single / indefinite: it says only "not single").
                    A line without it is invalid unless ``--type`` gives one for the whole file.
                    The answer must agree with the type (one letter for single, ≥ 2 for multiple).
    source          optional str, for accuracy per source
    id              optional str; default ``<file name>:<line>``

``case`` schema (the paper's NOM / HX items):
    facts       str, the facts of the case as a court found them
    judgment    "侵权" or "不侵权" (also accepted: "构成侵权", "不构成侵权")
    articles    optional list of citations ``《法律名》第X条`` the judgment relies on
    kind        optional str, e.g. ``NOM`` (ordinary) or ``HX`` (confusable): accuracy is given per kind
                (a data file named for the paper preset gives its kind to lines without one)
    id          optional str; default ``<file name>:<line>``

``recite`` schema:
    law, article, text   str each: the law's name, ``第X条`` and the reference text
    (a LawBench 1-1 line, ``question`` "…商标法第二条的内容是什么？" + ``answer``, is also accepted)
    id                   optional str; default ``<file name>:<line>``
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ecmiip.core.numerals import STATUTE_NUMERAL
from ecmiip.core.statutes import store

SAMPLES_DIR = Path(__file__).parent / "samples"
DEFAULT_DATA = {
    "mcq": SAMPLES_DIR / "lexeval_ip_mcq.jsonl",
    "recite": SAMPLES_DIR / "lawbench_1-1_ip_recitation.jsonl",
    "case": SAMPLES_DIR / "ip_case_samples.jsonl",
}
_JUDGMENTS = {"侵权": "侵权", "构成侵权": "侵权", "不侵权": "不侵权", "不构成侵权": "不侵权"}
LETTERS = "ABCDEFGHIJ"
SINGLE, MULTIPLE, INDEFINITE = "single", "multiple", "indefinite"
ITEM_TYPES = (SINGLE, MULTIPLE, INDEFINITE)
_TYPE_NAMES = {
    **{t: t for t in ITEM_TYPES},
    "单选": SINGLE, "单选题": SINGLE, "单项选择": SINGLE, "单项选择题": SINGLE,
    "多选": MULTIPLE, "多选题": MULTIPLE, "多项选择": MULTIPLE, "多项选择题": MULTIPLE,
    "不定项": INDEFINITE, "不定项选择": INDEFINITE, "不定项选择题": INDEFINITE,
}
_OPTION_LINE = re.compile(r"^\s*[A-J]\s*[:：.．、]")
_LAWBENCH_Q = re.compile(rf"^(?:民法商法|行政法|经济法|社会法|刑法|宪法相关法|诉讼与非诉讼程序法)?(.+?)(第{STATUTE_NUMERAL}条)")


@dataclass(frozen=True)
class McqItem:
    id: str
    question: str
    options: dict[str, str]
    answer_letters: frozenset[str]
    source: str = ""
    item_type: str = INDEFINITE


@dataclass(frozen=True)
class ReciteItem:
    id: str
    law: str
    article: str
    text: str


@dataclass(frozen=True)
class CaseItem:
    id: str
    facts: str
    judgment: str  # 侵权 or 不侵权
    articles: tuple[str, ...] = ()
    kind: str = ""


@dataclass
class Loaded:
    """Items of one file and the lines that were not items (``file:line: reason``)."""

    items: list = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


class _Bad(ValueError):
    """One line does not follow the schema; the message is the reason."""


def _str(rec: dict, key: str) -> str:
    value = rec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"'{key}' must be a non-empty string")
    return value


def item_type(rec: dict, default: str | None) -> str:
    """``type`` (or ``multi``) of one line, else ``default``; never guessed from the answer."""
    if "type" in rec:
        name = rec["type"]
        if not isinstance(name, str) or name.strip() not in _TYPE_NAMES:
            raise _Bad(f"'type' {name!r} is not single, multiple or indefinite (单选, 多选, 不定项)")
        return _TYPE_NAMES[name.strip()]
    if "multi" in rec:
        if not isinstance(rec["multi"], bool):
            raise _Bad(f"'multi' must be true or false, not {rec['multi']!r}")
        return INDEFINITE if rec["multi"] else SINGLE
    if default is None:
        raise _Bad("no 'type': say single, multiple or indefinite as the exam states it, "
                   "or pass --type for the whole file")
    return default


def parse_mcq(rec: dict, default_id: str, default_type: str | None = None) -> McqItem:
    options = rec.get("options")
    if not isinstance(options, dict) or len(options) < 2:
        raise _Bad("'options' must be an object with at least two letters")
    if list(options) != list(LETTERS[: len(options)]):
        raise _Bad(f"option letters must be A, B, C… in order, not {', '.join(map(str, options))}")
    if not all(isinstance(v, str) and v.strip() for v in options.values()):
        raise _Bad("every option must be a non-empty string")
    answers = rec.get("answer_letters")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise _Bad("'answer_letters' must be a non-empty list of letters")
    unknown = sorted(set(answers) - set(options))
    if unknown:
        raise _Bad(f"answer letter(s) {', '.join(unknown)} are not options")
    if "question" in rec:
        question = _str(rec, "question")
    else:
        question = _stem(_str(rec, "input"), options)
        if not question:
            raise _Bad("'input' has no question before its options")
    source = rec.get("source", "")
    if not isinstance(source, str):
        raise _Bad("'source' must be a string")
    kind = item_type(rec, default_type)
    answer_set = frozenset(answers)
    if kind == SINGLE and len(answer_set) != 1:
        raise _Bad(f"type single but {len(answer_set)} answer letters ({', '.join(sorted(answer_set))}); "
                   "fix the type or the answer")
    if kind == MULTIPLE and len(answer_set) < 2:
        raise _Bad("type multiple (two or more right options) but one answer letter; "
                   "fix the answer, or say indefinite (不定项) if one may be right")
    return McqItem(str(rec.get("id", default_id)), question, dict(options), answer_set, source, kind)


def parse_recite(rec: dict, default_id: str) -> ReciteItem:
    item_id = str(rec.get("id", default_id))
    if "text" in rec or "law" in rec:
        return ReciteItem(item_id, _str(rec, "law"), _str(rec, "article"), _str(rec, "text"))
    m = _LAWBENCH_Q.match(_str(rec, "question"))
    if not m:
        raise _Bad("no 'law'/'article'/'text', and 'question' names no law and article")
    text = re.sub(r"^答案[:：]", "", _str(rec, "answer")).strip()
    if not text:
        raise _Bad("'answer' is empty")
    return ReciteItem(item_id, m.group(1), m.group(2), text)


def parse_case(rec: dict, default_id: str, default_kind: str | None = None) -> CaseItem:
    from ecmiip.core.citations import parse_citation

    facts = _str(rec, "facts")
    judgment = _JUDGMENTS.get(str(rec.get("judgment", "")).strip())
    if judgment is None:
        raise _Bad(f"'judgment' must be 侵权 or 不侵权, not {rec.get('judgment')!r}")
    articles = rec.get("articles", [])
    if not isinstance(articles, list) or not all(isinstance(a, str) for a in articles):
        raise _Bad("'articles' must be a list of citations like 《专利法》第十一条")
    for a in articles:
        if parse_citation(a) is None:
            raise _Bad(f"'articles': {a!r} is not a citation like 《专利法》第十一条")
    kind = rec.get("kind", default_kind or "")
    if not isinstance(kind, str):
        raise _Bad("'kind' must be a string")
    return CaseItem(str(rec.get("id", default_id)), facts, judgment, tuple(articles), kind)


def _stem(text: str, options: dict[str, str]) -> str:
    """The question part of an ``input`` that ends with its options (``A: …`` lines, possibly wrapped).

    Cut before the last line that starts option A with option A's text; else drop trailing option lines.
    """
    lines = text.rstrip().splitlines()
    first_a = options["A"].strip()[:10]
    for i in range(len(lines) - 1, -1, -1):
        m = _OPTION_LINE.match(lines[i])
        if m and lines[i].lstrip().startswith("A") and lines[i][m.end():].strip().startswith(first_a):
            return "\n".join(lines[:i]).strip()
    while lines and _OPTION_LINE.match(lines[-1]):
        lines.pop()
    return "\n".join(lines).strip()


def data_file(spec: str, file: str) -> Path:
    """The file a ``--data`` value names, refused with a reason when it is not a file."""
    from ecmiip.core.errors import InputError

    if Path(file).is_dir():
        raise InputError(f"--data {spec}: {file} is a folder; give a JSONL file")
    if not Path(file).is_file():
        raise InputError(f"data file not found: {file}")
    return Path(file)


PARSERS = {"mcq": parse_mcq, "recite": parse_recite, "case": parse_case}


def load(path: Path, task: str, default: str | None = None) -> Loaded:
    """Items of a JSONL file for ``task``; blank lines are skipped, every other bad line is reported (bad
    UTF-8, malformed JSON, a key given twice, deep nesting, the schema). ``default``: the mcq type or
    the case kind of lines that do not give one."""
    from ecmiip.train.mipld import JsonLineError, loads_strict

    parse = PARSERS[task]
    out = Loaded()
    for lineno, raw in enumerate(Path(path).read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = loads_strict(raw.decode("utf-8").lstrip("\ufeff"))
            if not isinstance(rec, dict):
                raise _Bad("not a JSON object")
            default_id = f"{path.name}:{lineno}"
            out.items.append(parse(rec, default_id, default) if task != "recite" else parse(rec, default_id))
        except UnicodeDecodeError as e:
            out.invalid.append(f"{where}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8")
        except json.JSONDecodeError as e:
            out.invalid.append(f"{where}: not JSON ({e.msg})")
        except (JsonLineError, _Bad) as e:
            out.invalid.append(f"{where}: {e}")
    ids = [it.id for it in out.items]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        out.invalid.append(f"{path}: duplicate ids {', '.join(dup[:5])}")
    return out


def statute_recitation_items(n: int = 40) -> list[ReciteItem]:
    """A fixed sample of ``n`` articles spread evenly over the shipped texts in force on the store's review
    date (same list every run and on every machine: the user's imports and today's date do not move it;
    a superseded text is never the reference a model is scored against)."""
    s = store()
    articles = [a for a in s.current_articles(s.as_of) if a.doc.origin == "shipped"]
    picked = [articles[i * len(articles) // n] for i in range(min(n, len(articles)))]
    return [ReciteItem(f"statute:{a.law}:{a.article}", a.law, a.article, a.text) for a in picked]


def superseded_citations(item: McqItem | ReciteItem | CaseItem) -> list[str]:
    """Citations an item relies on that are no longer in force (today): its gold answer follows an
    older text, which a report must say rather than score silently as current law."""
    from ecmiip.core.citations import SUPERSEDED, format_citation, verify_citations

    if isinstance(item, McqItem):
        text = " ".join([item.question, *item.options.values()])
    elif isinstance(item, ReciteItem):
        text = format_citation(item.law, item.article)
    else:
        text = " ".join([item.facts, *item.articles])
    return [c.text for c in verify_citations(text) if c.status == SUPERSEDED and not c.citation.version]


def shuffle_options(item: McqItem, rng: random.Random) -> McqItem:
    """The same question with its options in another order and the answer letters moved with them."""
    old = list(item.options)
    order = old[:]
    rng.shuffle(order)
    new_of = {o: LETTERS[i] for i, o in enumerate(order)}
    options = {new_of[o]: item.options[o] for o in order}
    answers = frozenset(new_of[a] for a in item.answer_letters)
    return McqItem(item.id, item.question, options, answers, item.source, item.item_type)
