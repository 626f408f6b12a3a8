"""Question–answer pairs for QLoRA SFT, built from MIPLD records by templates (``ecmiip data build-qa``).

SFT teaches the model to *answer* in the shape the legal system prompt asks for (facts → applicable
law → conclusion, citations as 《法律名》第X条), so every pair is derived from a record's own text and
cites only the article itself, what the record cites, or what those texts quote verbatim: a template
answer cannot invent an article. Cited articles found in the statute store are quoted in full.

Validity (``ecmiip.core.statutes``): nothing superseded is taught as current law.

* Inputs. ``builtin`` stands for the statute store's texts in force on the day of the build, the
  user's imported texts included. Statute records of a text the store knows is no longer in force
  (superseded or repealed, also when given as a file) are skipped, unless ``include_superseded``
  (``--include-superseded``, recipe ``data.include_superseded``) keeps them; texts not yet in force
  are always skipped. A statute the store does not hold is kept: nobody can tell.
* A statute pair's ``source`` records the text's ``effective`` date and its ``status`` on the day of
  the build (both null for a text the store does not hold). Its answer closes with the version and its
  effective date (``VERSION_NOTE``); a superseded text's pairs cite it with its version
  (``《法》（2019修正）第九条``), say since when it is no longer in force (``HISTORY_NOTE``), and its
  scenario is set while the old text was the law.
* Every other citation of a text no longer in force that names no version is *written with its
  version*, never dropped (``versioned_citations``): in a knowledge, exemption or case record's
  citations and text, and in an in-force text that refers to an old one (the 2022 反不正当竞争法
  interpretation cites the 2019 law's numbering, quoted as ``反不正当竞争法（2019修正）第二条``). A quoted
  old article ends with a note on what replaced it and the current article when the renumbering is
  known. Every citation of every pair therefore passes ``ecmiip.core.citations.verify_citations``
  as current, or names its version; a teacher's answer gets the same treatment when written.

Pairs per record:

* statute article — 2: what the article says (quoted, then its norms: conditions and consequences,
  prohibitions, duties, definitions, enumerations), and a scenario built from the article's main norm
  (or its key terms) answered as 【事实】/【适用法律】/【结论】.
* case — 4: does the defendant infringe (facts → analysis → law → judgment), which articles apply
  (with their text from the corpus), the holding, the disputed issues.
* knowledge — 2–3: the concept, its legal basis, and its difference from a related concept (same right
  type or a shared law) when the input has one.
* exemption — 3: does a conduct fall under the exemption, its elements, its legal basis.

A share of the pairs (``cot_ratio``, 0.2 by default: chain-of-thought to plain pairs 1 : 4) carry
reasoning steps in Qwen3's thinking form. Which ones is decided by the seed, spread evenly over the
templates (largest remainders), so the share is exact overall and per template up to rounding.
Question wording and scenario parties also follow the seed; a record's pairs do not depend on the
other records.

Output, one JSON object per line (what ``ecmiip.train.sft`` reads)::

    {"id": "statute/中华人民共和国专利法（2020修正）/第十一条/meaning",
     "source": {"kind": "statute", "law": "中华人民共和国专利法", "version": "2020修正", "article": "第十一条",
                "effective": "2021-06-01", "status": "in_force"},
     "messages": [{"role": "system", "content": LEGAL_SYSTEM_PROMPT},
                  {"role": "user", "content": "《中华人民共和国专利法》第十一条规定了什么？"},
                  {"role": "assistant", "content": "…"}],
     "cot": false}

``source`` of other kinds is ``{"kind": "case" | "knowledge" | "exemption", "id": record id}`` (a record
without ``id`` is named ``file:line``). When ``cot`` is true the assistant content is
``<think>\\n{reasoning steps}\\n</think>\\n\\n{answer}``; otherwise it is the answer alone, with no think block
(Qwen3's chat template renders such a final turn with an empty ``<think>\\n\\n</think>``, its non-thinking form).

An optional teacher model (``ecmiip.train.teacher``) rewrites each template answer into fluent prose: an OpenAI-compatible chat
completions endpoint (``http(s)://…/v1``, the only case in which anything goes over the network) or a
local GGUF run by llama.cpp. The teacher sees the source text, the question and the template answer.
Its answer replaces the template's only if it is non-empty and every article it cites exists in the
corpus or in the source; otherwise the template answer is kept and the failure counted. The reasoning
steps of a CoT pair are never rewritten. After ``MAX_CONSECUTIVE_FAILURES`` failures in a row the
teacher is no longer asked (a server that is down would otherwise cost a timeout per pair). A URL
teacher sends ``ECMIIP_TEACHER_API_KEY`` as a bearer token when that variable is set.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from ecmiip.core.citations import SUPERSEDED as SUPERSEDED_CITATION
from ecmiip.core.citations import CitationCheck, check, parse_citation, verify_citations
from ecmiip.core.errors import InputError
from ecmiip.core.outputs import atomic_path, refuse_existing
from ecmiip.core.paths import STATUTES_DIR
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT
from ecmiip.core.statutes import IN_FORCE, UNVERIFIED, Article, Document, StatuteStore, store
from ecmiip.train.hardness import (
    NOT_IN_FORCE,
    HardnessConfig,
    ceased,
    document_status,
    statute_document,
    statute_status,
)
from ecmiip.train.mipld import (
    CITATION_RE,
    Record,
    citations_of,
    int_to_chinese,
    load_records,
    record_text,
    resolve_law,
)

DEFAULT_COT_RATIO = 0.2
DEFAULT_SEED = 42

# Parties of template scenarios; the seed picks one per record.
PARTIES = ("甲公司", "乙公司", "丙某", "丁研究所", "某科技有限公司", "某文化传媒有限公司")
# Terms of art looked for in an article when it has no norm to build a scenario from.
EXTRA_TERMS = (
    "商标注册", "专利申请", "强制许可", "集体管理", "布图设计", "植物新品种", "品种权", "海关", "出质", "转让",
    "许可使用", "优先权", "复审", "驰名商标", "保全", "技术调查官", "管辖", "证据", "计算机软件", "网络服务提供者",
    "惩罚性赔偿", "专利代理", "国防专利", "使用费", "申请日", "商标评审委员会", "专利行政部门",
)
# The note closing a statute answer: the version and when it took effect, as the store knows them.
VERSION_NOTE = "（以上依据{version}文本，自{effective}起施行{validity}。）"
# … for a text no longer in force (built only with include_superseded).
HISTORY_NOTE = "（以上依据{version}文本，自{effective}起施行，{ceased}，不是现行有效的条文；请以现行文本为准。）"
# … for a text the store does not hold (a file of the user's), whose validity nobody has checked.
UNKNOWN_VERSION_NOTE = "（以上依据{version}文本；法律可能已经修改，请核对现行有效的版本。）"


# ---------------------------------------------------------------- pairs


@dataclass
class QAPair:
    """One training pair; ``answer`` and ``reasoning`` are kept apart until written."""

    id: str
    source: dict[str, str]
    template: str  # which template made it: CoT is spread over templates
    question: str
    answer: str
    reasoning: list[str]
    source_text: str = ""  # what a teacher is shown
    cot: bool = False
    polished: bool = False

    @property
    def kind(self) -> str:
        return self.source["kind"]

    def assistant_content(self) -> str:
        if self.cot:
            return "<think>\n" + "\n".join(self.reasoning) + "\n</think>\n\n" + self.answer
        return self.answer

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "messages": [
                {"role": "system", "content": LEGAL_SYSTEM_PROMPT},
                {"role": "user", "content": self.question},
                {"role": "assistant", "content": self.assistant_content()},
            ],
            "cot": self.cot,
        }


# ---------------------------------------------------------------- corpus and citations


def cite(law: str, article: str, version: str = "") -> str:
    """``《法名》第X条``, ``《法名》（2019修正）第X条`` with a version; a title that quotes another law nests
    it as 〈〉; a 批复 item 二 is cited 第二条."""
    title = law.replace("《", "〈").replace("》", "〉") + (f"》（{version}）" if version else "》")
    if article == "正文":
        return f"《{title}"
    if not article.startswith("第"):
        article = f"第{article}条"
    return f"《{title}{article}"


@lru_cache(maxsize=2)
def _corpus_articles(s: StatuteStore) -> dict[tuple[str, str], Article]:
    """Store articles by (law, ``第X条``), the text in force today where a law has several; a 批复's
    bare item ``二`` is also found as ``第二条``."""
    out: dict[tuple[str, str], Article] = {}
    for a in (*s.articles, *s.current_articles()):
        out[(a.law, a.article)] = a
        if not a.article.startswith("第") and a.article != "正文":
            out[(a.law, f"第{a.article}条")] = a
    return out


def corpus_article(law: str, article: str) -> Article | None:
    """The store article a citation names (law as written or resolved; any version), or None."""
    resolved = resolve_law(law)
    return _corpus_articles(store()).get((resolved, article)) if resolved else None


def _stale(v: CitationCheck) -> bool:
    """A citation that names no version and means a text no longer in force."""
    return v.status == SUPERSEDED_CITATION and v.citation.version is None and v.doc is not None


def _write_version(text: str, v: CitationCheck) -> str:
    """``《法》第九条`` → ``《法》（2019修正）第九条`` (a following ``、第十条`` inherits the version); a
    continuation whose head cannot carry it is written in full: ``、《法》（2019修正）第十条``."""
    c, (start, end) = v.citation, v.citation.span
    written = c.article + c.detail
    at = end - len(written)
    if text[at:end] != written:
        return text
    title = c.law.replace("《", "〈").replace("》", "〉")
    version = f"（{v.doc.version}）" if at > start else f"《{title}》（{v.doc.version}）"
    return text[:at] + version + text[at:]


def versioned_citations(text: str, as_of: date | None = None) -> str:
    """``text`` with the version written into every citation that names none but means a text no longer
    in force on ``as_of`` (today): training data never presents an old article as the law in force."""
    for _ in range(3):
        stale = [v for v in verify_citations(text, as_of) if _stale(v)]
        if not stale:
            break
        heads = [v for v in stale if v.citation.span[0] < v.citation.span[1] - len(v.citation.article + v.citation.detail)]
        for v in sorted(heads or stale, key=lambda v: v.citation.span[0], reverse=True):
            text = _write_version(text, v)
    return text


def unknown_citations(text: str, allowed: str = "") -> list[str]:
    """Citations in ``text`` of articles that are neither in the corpus nor cited in ``allowed``.

    ``allowed`` is the source material: a case may cite a law the corpus lacks (民事诉讼法) or an
    article beyond the corpus's excerpt of a law (民法典), and repeating it invents nothing.
    """
    def key(m: re.Match) -> tuple[str, str]:
        return (resolve_law(m["law"]) or m["law"], m["article"])

    in_source = {key(m) for m in CITATION_RE.finditer(allowed)}
    return [m.group(0) for m in CITATION_RE.finditer(text)
            if corpus_article(m["law"], m["article"]) is None and key(m) not in in_source]


def _quoted_articles(citations: Iterable[str], as_of: date | None = None) -> list[str]:
    """One line per citation: the citation, and the article's text when the store has it in the version
    cited (the one in force when none is written). A citation of a text no longer in force is written
    with its version and ends with a note on what replaced it."""
    lines = []
    for i, c in enumerate(citations, 1):
        parsed = parse_citation(c)
        verdict = check(parsed, as_of) if parsed else None
        art = verdict.article if verdict else None
        if verdict is None or verdict.status != SUPERSEDED_CITATION:
            lines.append(f"{i}. {c}：“{_flat(art.text)}”" if art else f"{i}. {c}")
            continue
        c = versioned_citations(c, as_of)
        quote = f"：“{_flat(art.text)}”" if art else ""
        lines.append(f"{i}. {c}{quote}（注：{verdict.reason}）")
    return lines


# ---------------------------------------------------------------- text helpers

_ITEM = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)]\s*")
_INLINE_ITEMS = re.compile(r"[（(][一二三四五六七八九十]+[）)]")
_CONNECTORS = re.compile(r"^(?:但是|但|并且|并|同时|此外|另外)[，,]?")


def _flat(text: str) -> str:
    return text.strip().replace("\n", " ")


def _sentences(text: str) -> list[str]:
    """Sentences split at 。 and ；, without their ending punctuation."""
    return [s.strip().rstrip("：:，") for s in re.split(r"[。；;]", text) if s.strip().rstrip("：:，")]


def _first_sentences(text: str, n: int = 1, limit: int = 160) -> str:
    """The first ``n`` sentences (split at 。 only), shortened to ``limit`` characters."""
    parts = [s for s in re.split(r"(?<=。)", text.strip()) if s.strip()]
    out = "".join(parts[:n]).strip() or text.strip()
    return out if len(out) <= limit else out[:limit].rstrip("，；、") + "……"


def _end(text: str) -> str:
    """Text ending with one 。 (or its own ？！)."""
    text = text.strip().rstrip("，；、：")
    return text if text.endswith(("。", "？", "！", "”", "）")) else text + "。"


@dataclass
class Unit:
    """A paragraph of an article: a lead sentence and, for an enumeration, its items."""

    lead: str
    items: list[str] = field(default_factory=list)


def article_units(text: str) -> list[Unit]:
    """Paragraphs (款) of an article, with enumerated items（一）（二）… attached to their lead."""
    units: list[Unit] = []
    for para in (p.strip() for p in text.split("\n")):
        if not para:
            continue
        if _ITEM.match(para):
            item = _ITEM.sub("", para).rstrip("；;。，")
            if units and (units[-1].items or units[-1].lead.endswith(("：", ":"))):
                units[-1].items.append(item)
            else:
                units.append(Unit("", [item]))
            continue
        inline = _INLINE_ITEMS.split(para)
        if len(inline) > 2 and inline[0].rstrip().endswith(("：", ":")):
            units.append(Unit(inline[0].strip(), [i.strip().rstrip("；;。，") for i in inline[1:] if i.strip()]))
        else:
            units.append(Unit(para))
    return units


# ---------------------------------------------------------------- norms in a sentence

_DEFINITION = re.compile(r"^(?:本(?:法|条例|细则|规定|解释|办法)所称的?)?(?P<a>[^，。；：“”]{1,40}?)，?是指(?P<b>.+)$")
_CONDITIONAL = re.compile(r"^(?P<a>.{4,}?)的，(?P<b>.+)$")
_MODALS = {"prohibition": "不得", "obligation": "应当", "permission": "可以"}
NORM_PRIORITY = ("conditional", "enumeration", "prohibition", "definition", "obligation", "permission")


@dataclass(frozen=True)
class Norm:
    """What one sentence of an article does. ``a``/``b``: term/meaning, condition/consequence or who/act."""

    kind: str  # definition, conditional, prohibition, obligation, permission, enumeration, plain
    sentence: str
    a: str = ""
    b: str = ""
    items: tuple[str, ...] = ()
    context: str = ""  # the sentence before it in the same paragraph, which it may depend on


def _modal_norm(sentence: str) -> Norm | None:
    for kind, word in _MODALS.items():
        for m in re.finditer(word, sentence):
            before, after = sentence[: m.start()], sentence[m.end():]
            if before.endswith("不") or after.startswith(("知道", "认为")):  # 不应当 / 应当知道: not a duty
                continue
            who = _CONNECTORS.sub("", before.strip("，, "))
            act = re.split(r"[，,：]", after, maxsplit=1)[0].strip()
            if len(who) >= 2 and len(act) >= 2:
                return Norm(kind, sentence, who, act)
    return None


def sentence_norm(sentence: str) -> Norm:
    """Classify a sentence: definition, condition → consequence, prohibition, duty, permission or plain."""
    if m := _DEFINITION.match(sentence):
        return Norm("definition", sentence, m["a"].strip(), m["b"].strip())
    if (m := _CONDITIONAL.match(sentence)) and "下列" not in m["a"]:
        return Norm("conditional", sentence, m["a"].strip(), m["b"].strip())
    return _modal_norm(sentence) or Norm("plain", sentence)


def _unit_norms(unit: Unit) -> list[Norm]:
    if unit.items:
        lead = unit.lead.rstrip("：:")
        return [Norm("enumeration", lead, lead, "", tuple(unit.items))]
    sentences = _sentences(unit.lead)
    return [replace(sentence_norm(s), context=sentences[i - 1] if i else "") for i, s in enumerate(sentences)]


def article_norms(text: str) -> list[Norm]:
    """Every norm of an article in order; an enumeration is one norm with its lead and items."""
    return [n for unit in article_units(text) for n in _unit_norms(unit)]


def describe_norm(n: Norm) -> str:
    """One line of the meaning answer: what kind of rule it is and its parts."""
    if n.kind == "definition":
        return f"界定了“{n.a}”的含义：{_end(n.b)}"
    if n.kind == "conditional":
        return f"适用条件是“{n.a}”，法律后果是：{_end(n.b)}"
    if n.kind == "prohibition":
        return f"禁止性规定：{n.a}不得{_end(n.b)}"
    if n.kind == "obligation":
        return f"义务性规定：{n.a}应当{_end(n.b)}"
    if n.kind == "permission":
        return f"授权性规定：{n.a}可以{_end(n.b)}"
    if n.kind == "enumeration":
        items = "；".join(f"（{int_to_chinese(i)}）{t}" for i, t in enumerate(n.items, 1))
        head = f"“{n.a}”，" if n.a else ""
        return f"{head}列举了{len(n.items)}项：{_end(items)}"
    return _end(n.sentence)


def key_terms(text: str, limit: int = 3) -> list[str]:
    """Terms of art the text contains, in order of appearance, longest first at a tie."""
    terms = set(HardnessConfig().legal_terms) | set(EXTRA_TERMS)
    found = sorted((text.find(t), -len(t), t) for t in terms if t in text)
    out: list[str] = []
    for _, _, t in found:
        if not any(t in o or o in t for o in out):
            out.append(t)
    return out[:limit]


# ---------------------------------------------------------------- statute templates


def _rng(seed: int, *key: str) -> random.Random:
    """A generator that depends on the seed and the record only (str seeds are stable across runs)."""
    return random.Random("\x1f".join((str(seed), *key)))


def _structured(facts: str, law: str, conclusion: str) -> str:
    return f"【事实】{facts}\n【适用法律】{law}\n【结论】{conclusion}"


def _version_note(doc: Document | None, status: str | None, label: str) -> str:
    """The line closing a statute answer: version and effective date, and whether it is still the law."""
    if doc is None or doc.effective is None:
        return UNKNOWN_VERSION_NOTE.format(version=label)
    effective = doc.effective.isoformat()
    if status in NOT_IN_FORCE:
        return HISTORY_NOTE.format(version=label, effective=effective, ceased=ceased(doc, status))
    validity = "；其效力待核实，请核对官方文本" if status == UNVERIFIED else ""
    return VERSION_NOTE.format(version=label, effective=effective, validity=validity)


def statute_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    d = record.data
    law, version, article, text = d["law"], d["version"], d["article"], d["text"].strip()
    rng = _rng(seed, "statute", law, version, article)
    day = as_of or date.today()
    doc = statute_document(law, version)
    status = document_status(doc, day) if doc else statute_status(d, day)
    current = status not in NOT_IN_FORCE
    ref = cite(law, article) if current else cite(law, article, version)
    source = {"kind": "statute", "law": law, "version": version, "article": article,
              "effective": doc.effective.isoformat() if doc and doc.effective else None, "status": status}
    base_id = f"statute/{law}（{version}）/{article}"
    source_text = f"{ref}（{doc.describe(day) if doc else version}）：{text}"
    label = f"{version}年" if version.isdigit() else version  # 2020年文本, 2020修正文本
    note = _version_note(doc, status, label)
    norms = article_norms(text)
    units = article_units(text)
    chapter = re.sub(r"^(?:第.+?章|[一二三四五六七八九十]+、)\s*", "", (d.get("chapter") or "").strip()).strip()

    # 1. what the article says
    question = rng.choice(("{r}规定了什么？", "请解释{r}的内容。", "{r}的主要内容是什么？", "{r}是如何规定的？"))
    points: list[str] = []
    for k, unit in enumerate(units, 1):
        lines = [describe_norm(n) for n in _unit_norms(unit)]
        if len(units) > 1:
            points.append(f"第{int_to_chinese(k)}款：" + "".join(lines))
        else:
            points.extend(lines)
    points = [f"{i}. {line}" for i, line in enumerate(points, 1)]
    answer = f"{ref}规定：\n“{text}”\n\n【要点】\n" + "\n".join(points) + f"\n\n{note}"
    where = f"，位于{d.get('chapter').strip()}" if (d.get("chapter") or "").strip() else ""
    reasoning = [
        f"1. 定位条文：问题问的是{ref}{where}，应当以条文原文为准，不能凭印象概括。",
        f"2. 分析结构：该条共{len(units)}款，" + "、".join(sorted({_NORM_ZH[n.kind] for n in norms})) + "。",
        "3. 逐款解读：" + "".join(p.split(". ", 1)[1] for p in points[:3]) + ("……" if len(points) > 3 else ""),
        f"4. 组织回答：先引用条文原文，再分款说明要点，并提示以{label}文本为准。",
    ]
    meaning = QAPair(f"{base_id}/meaning", source, "statute-meaning", question.format(r=ref), answer, reasoning,
                     source_text)

    # 2. a scenario that applies it
    party = rng.choice(PARTIES)
    scenario = _statute_scenario(norms, ref, text, party, chapter, rng)
    q, facts, applied, conclusion, steps = scenario
    if not current:  # an old text applies only to what happened while it was the law
        title = cite(law, "正文", version)
        until = f"{doc.effective.isoformat()}起、{doc.superseded_on.isoformat()}之前" \
            if doc and doc.effective and doc.superseded_on else "该文本施行期间"
        q += f"（相关行为发生在{until}，适用当时施行的{title}。）"
    answer = _structured(facts, f"{ref}规定：“{text}”\n{applied}", conclusion) + f"\n{note}"
    reasoning = [f"1. 梳理事实：{facts}", f"2. 检索法律：该问题由{ref}调整。", f"3. 适用分析：{steps}",
                 f"4. 得出结论：{conclusion}"]
    applying = QAPair(f"{base_id}/scenario", source, "statute-scenario", q, answer, reasoning, source_text)
    return [meaning, applying]


_NORM_ZH = {
    "definition": "含定义性规定", "conditional": "含“条件—后果”式规定", "prohibition": "含禁止性规定",
    "obligation": "含义务性规定", "permission": "含授权性规定", "enumeration": "含列举式规定", "plain": "含一般性规定",
}


def _statute_scenario(norms: list[Norm], ref: str, text: str, party: str, chapter: str,
                      rng: random.Random) -> tuple[str, str, str, str, str]:
    """(question, facts, how the article applies, conclusion, analysis step) from the article's main norm."""
    best = next((k for k in NORM_PRIORITY if any(n.kind == k for n in norms)), None)
    candidates = [n for n in norms if n.kind == best]
    n = rng.choice([n for n in candidates if not n.context] or candidates) if best else None
    first = _end(_sentences(text)[0]) if _sentences(text) else _end(text)
    if n is None and re.search(r"自.{4,16}起施行", text):
        law = ref.split("》")[0] + "》"
        q = f"{party}在处理一项纠纷时，需要确定{law}的施行时间。该规定从何时起施行？"
        return (q, f"{party}需要确定{law}的施行时间。", f"{ref}是该规定的施行条款。",
                f"{first}施行日前发生的行为，是否适用该规定，还应结合其溯及力的规定判断。",
                "施行时间由施行条款直接规定。")
    if n is None:
        terms = [t for t in key_terms(text)] or ([chapter] if chapter else [])
        topic = "、".join(f"“{t}”" for t in terms) or f"{ref.split('》')[0]}》所调整事项"
        q = f"{party}在处理一项涉及{topic}的事务时，想了解应当遵循哪些法律规定、该规定有何要求。请结合法律规定分析。"
        facts = f"{party}面对的问题涉及{topic}。"
        return (q, facts, f"该问题由{ref}调整。", f"{party}应当按照{ref}的规定处理，核心要求是：{first}",
                f"{ref}规定的事项与{topic}直接相关，其要求即为{party}应当遵循的规则。")
    if n.kind == "conditional":
        given = f"在“{n.context}”的前提下，" if n.context else ""
        q = f"{given}{party}遇到如下情形：{_end(n.a)}依照法律规定，这种情形应当如何处理？"
        return (q, f"本案的情形是：{_end(n.a)}",
                f"该规定的适用条件是“{n.a}”，法律后果是“{n.b.rstrip('。')}”。",
                f"{party}遇到的情形符合该条规定的适用条件，因此{_end(n.b)}如果还存在该条或其他条款规定的例外情形，需要结合更多事实另行判断。",
                f"事实“{n.a}”与该条规定的适用条件一致，应当产生该条规定的法律后果。")
    if n.kind == "enumeration":
        i = rng.randrange(len(n.items))
        item, num = n.items[i].rstrip("；;。"), int_to_chinese(i + 1)
        q = f"{party}所涉事项的相关事实符合以下描述：“{item}”。依照法律规定，这一情形应当如何认定和处理？"
        lead = f"“{n.a}”" if n.a else "下列情形"
        return (q, f"{party}所涉事实符合“{item}”这一描述。",
                f"该条规定了{lead}，共列举{len(n.items)}项，其中第（{num}）项为“{item}”。",
                f"该情形属于{ref}所列第（{num}）项情形，应当适用该条{lead}的规定。",
                f"将事实与该条列举的各项逐一对照，事实与第（{num}）项“{item}”相符。")
    if n.kind == "definition":
        q = f"{party}与他人就某一对象是否属于“{n.a}”发生争议。依照法律规定，认定“{n.a}”应当考察哪些要素？"
        return (q, f"双方争议的是相关对象能否认定为“{n.a}”。",
                f"该条对“{n.a}”作了定义：{_end(n.b)}",
                f"应当对照法定含义逐项审查相关对象是否符合“{n.b.rstrip('。')}”。符合的，可以认定为“{n.a}”；不符合的，不能认定。",
                f"“{n.a}”的含义以法律定义为准，争议对象应当与定义中的各要素逐一比对。")
    word = _MODALS[n.kind]
    claim = {"prohibition": "可以", "obligation": "可以不", "permission": "不能"}[n.kind]
    label = {"prohibition": "禁止性规定", "obligation": "义务性规定", "permission": "授权性规定"}[n.kind]
    q = f"{party}认为，{n.a}{claim}{n.b}。这种理解是否正确？"
    return (q, f"{party}主张{n.a}{claim}{n.b}。",
            f"这是一项{label}：{n.a}{word}{n.b}。",
            f"这种理解不正确。依照{ref}，{n.a}{word}{n.b}。如该条另有但书或例外，应当结合具体事实判断。",
            f"{party}的理解与该条“{word}”的规定相反。")


# ---------------------------------------------------------------- case, knowledge, exemption templates

_INFRINGEMENT_CAUSE = re.compile(r"侵害|侵犯|侵权|仿冒|不正当竞争|假冒")


def record_ref(record: Record) -> str:
    """A record's id, or ``file:line`` when it has none."""
    rid = record.data.get("id")
    return rid if isinstance(rid, str) and rid.strip() else f"{Path(record.path).name}:{record.line}"


def _citation_list(record: Record, as_of: date | None = None) -> list[str]:
    """The record's citations, deduplicated in order, as written but with the version of a text no longer
    in force written in."""
    out: list[str] = []
    for name in ("cited_articles", "related_articles"):
        for c in record.data.get(name) or ():
            c = versioned_citations(c.strip(), as_of) if isinstance(c, str) else ""
            if c and c not in out:
                out.append(c)
    return out


def _source_with_articles(record: Record, as_of: date | None = None) -> str:
    """The record's text followed by the text of the articles it cites, for the teacher."""
    lines = _quoted_articles(_citation_list(record, as_of), as_of)
    return record_text(record) + ("\n\n相关法条：\n" + "\n".join(lines) if lines else "")


def case_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    d = record.data
    rid = record_ref(record)
    rng = _rng(seed, "case", rid)
    source = {"kind": "case", "id": rid}
    src = _source_with_articles(record, as_of)
    cites = _citation_list(record, as_of)
    cite_line = "、".join(cites)
    cause = (d.get("cause") or "").strip()
    header = "\n".join(filter(None, (
        f"案由：{cause}" if cause else "",
        f"原告：{'、'.join(d['plaintiffs'])}",
        f"被告：{'、'.join(d['defendants'])}",
        f"当事人关系：{d['relation']}",
    )))
    infringement = bool(_INFRINGEMENT_CAUSE.search(cause or d["grounds"] + d["reasoning"]))
    ask = "被告是否构成侵权？" if infringement else "本案应当如何处理？"
    base = f"case/{rid}"
    pairs = []

    q = (f"根据以下事实，{ask}\n\n{header}\n原告诉讼请求：{d['plaintiff_claims']}\n"
         f"被告答辩意见：{d['defendant_claims']}\n经审理查明：{d['facts']}")
    answer = _structured(d["facts"], "\n".join(_quoted_articles(cites, as_of)),
                         f"{_end(d['grounds'])}本案判决：{d['judgment']}")
    answer = answer.replace("【适用法律】", f"【争议焦点与分析】{d['reasoning']}\n【适用法律】", 1)
    reasoning = [
        f"1. 梳理当事人与事实：双方为{d['relation']}。{_first_sentences(d['facts'])}",
        f"2. 归纳争议焦点：原告主张{_first_sentences(d['plaintiff_claims'], limit=80)}被告抗辩{_first_sentences(d['defendant_claims'], limit=80)}",
        f"3. 检索法律：本案涉及{cite_line}。",
        f"4. 适用分析：{_first_sentences(d['reasoning'], 2, 200)}",
        f"5. 得出结论：{_first_sentences(d['judgment'], limit=120)}",
    ]
    pairs.append(QAPair(f"{base}/judgment", source, "case-judgment", q, answer, reasoning, src))

    q = f"以下是一起{cause or '知识产权纠纷'}的案情：\n{d['facts']}\n\n本案应适用哪些法条？"
    answer = "本案应适用以下规定：\n" + "\n".join(_quoted_articles(cites, as_of)) + f"\n\n适用理由：{_end(d['grounds'])}"
    reasoning = [f"1. 确定法律关系：本案为{cause or '知识产权纠纷'}，双方为{d['relation']}。",
                 f"2. 找出待决问题：{_first_sentences(d['reasoning'], limit=120)}",
                 f"3. 对应规范：{cite_line}分别调整上述问题。",
                 "4. 核对条文：逐条核对条文内容，确认其与本案事实相关。"]
    pairs.append(QAPair(f"{base}/articles", source, "case-articles", q, answer, reasoning, src))

    q = rng.choice(("本案的裁判要旨是什么？", "从本案中可以提炼出什么裁判规则？"))
    q = f"{header}\n经审理查明：{d['facts']}\n判决结果：{d['judgment']}\n\n{q}"
    answer = f"{_end(d['grounds'])}\n\n裁判依据：{cite_line}。"
    reasoning = [f"1. 抓住关键事实：{_first_sentences(d['facts'], limit=120)}",
                 f"2. 回到法院说理：{_first_sentences(d['reasoning'], 2, 200)}",
                 "3. 抽象规则：把个案判断概括为可以适用于同类案件的规则，并注明依据的法条。"]
    pairs.append(QAPair(f"{base}/holding", source, "case-holding", q, answer, reasoning, src))

    focus = next((s for s in re.split(r"(?<=。)", d["reasoning"]) if "争议焦点" in s), "")
    focus = focus.strip() or (f"结合双方主张，本案争议焦点在于被告的抗辩理由能否成立，即"
                              f"{cause or '被诉行为'}的构成要件是否满足以及相应责任如何承担。")
    q = (f"{header}\n原告诉讼请求：{d['plaintiff_claims']}\n被告答辩意见：{d['defendant_claims']}\n\n"
         "本案双方的争议焦点是什么？")
    answer = f"原告主张：{d['plaintiff_claims']}\n被告抗辩：{d['defendant_claims']}\n争议焦点：{_end(focus)}"
    reasoning = [f"1. 原告的请求与理由：{_first_sentences(d['plaintiff_claims'], limit=100)}",
                 f"2. 被告的抗辩：{_first_sentences(d['defendant_claims'], limit=100)}",
                 "3. 对比双方主张中针锋相对的部分，即为争议焦点。"]
    pairs.append(QAPair(f"{base}/issues", source, "case-issues", q, answer, reasoning, src))
    return pairs


def _laws_of(record: Record) -> set[str]:
    return {c.resolved_law or c.law for c in citations_of(record)}


def knowledge_pairs(record: Record, seed: int, others: Sequence[Record], as_of: date | None = None) -> list[QAPair]:
    d = record.data
    rid = record_ref(record)
    rng = _rng(seed, "knowledge", rid)
    source = {"kind": "knowledge", "id": rid}
    src = _source_with_articles(record, as_of)
    concept, analysis, cites = d["concept"].strip(), d["analysis"].strip(), _citation_list(record, as_of)
    base = f"knowledge/{rid}"
    pairs = []

    q = rng.choice(("如何理解{c}？", "请解释{c}。", "什么是{c}？")).format(c=concept)
    answer = f"{analysis}\n\n相关规定：\n" + "\n".join(_quoted_articles(cites, as_of))
    reasoning = [f"1. 明确问题：需要说明{concept}的含义与要点。",
                 f"2. 找到规范基础：{'、'.join(cites)}。",
                 f"3. 归纳要点：{_first_sentences(analysis, 2, 200)}",
                 "4. 区分法律明确规定与学理、实践观点，分别说明。"]
    pairs.append(QAPair(f"{base}/concept", source, "knowledge-concept", q, answer, reasoning, src))

    q = f"{concept}的法律依据是什么？"
    answer = (f"{concept}的法律依据主要是：\n" + "\n".join(_quoted_articles(cites, as_of)) +
              f"\n\n简要说明：{_first_sentences(analysis, 2, 240)}")
    reasoning = [f"1. 确定领域：{concept}属于{d['right_type']}领域的问题。",
                 f"2. 检索规范：直接相关的条文是{'、'.join(cites)}。",
                 "3. 引用条文原文，并说明条文与该知识点的关系。"]
    pairs.append(QAPair(f"{base}/basis", source, "knowledge-basis", q, answer, reasoning, src))

    related = [o for o in others if o is not record and o.kind == "knowledge"
               and (o.data["right_type"] == d["right_type"] or _laws_of(o) & _laws_of(record))]
    if related:
        other = rng.choice(related)
        oc, oa, ocites = other.data["concept"].strip(), other.data["analysis"].strip(), _citation_list(other, as_of)
        q = rng.choice(("{a}与{b}有何区别？", "{a}和{b}的区别是什么？")).format(a=concept, b=oc)
        answer = (f"【{concept}】{_first_sentences(analysis, 2, 240)}（依据：{'、'.join(cites)}）\n"
                  f"【{oc}】{_first_sentences(oa, 2, 240)}（依据：{'、'.join(ocites)}）\n"
                  f"【区别】二者解决的问题不同：前者涉及{concept}，后者涉及{oc}，规范基础也不尽相同。"
                  "实践中应当先确定争议针对的是哪一问题，再适用相应的规定。")
        reasoning = [f"1. 分别界定：{concept}；{oc}。",
                     f"2. 比较规范基础：前者依据{'、'.join(cites)}，后者依据{'、'.join(ocites)}。",
                     "3. 比较适用对象与法律效果，归纳区别。"]
        pairs.append(QAPair(f"{base}/difference", source, "knowledge-difference", q, answer, reasoning,
                            src + "\n\n" + _source_with_articles(other, as_of)))
    return pairs


def exemption_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    d = record.data
    rid = record_ref(record)
    rng = _rng(seed, "exemption", rid)
    source = {"kind": "exemption", "id": rid}
    src = _source_with_articles(record, as_of)
    area, keywords, explanation = d["area"].strip(), [k.strip() for k in d["keywords"]], d["explanation"].strip()
    cites = _citation_list(record, as_of)
    elements = "\n".join(f"{i}. {k}" for i, k in enumerate(keywords, 1))
    party = rng.choice(PARTIES)
    base = f"exemption/{rid}"
    pairs = []

    ask = rng.choice(("该行为是否属于{a}的情形？", "{p}能否主张{a}？")).format(a=area, p=party)
    q = f"{party}被诉侵权，其抗辩涉及以下要素：{'、'.join(keywords)}。{ask}"
    answer = _structured(
        f"{party}以{area}为由抗辩，抗辩涉及{'、'.join(keywords)}等要素。",
        "\n".join(_quoted_articles(cites, as_of)) + f"\n裁判实践：{explanation}",
        f"应当围绕上述要素逐项审查证据：法定条件均得到证明的，可以认定属于{area}的情形；"
        "任一条件不满足，或者存在裁判实践中否定该抗辩的情形的，该抗辩不能成立。",
    )
    reasoning = [f"1. 识别抗辩类型：{party}主张的是{area}。",
                 f"2. 列出要件：{'、'.join(keywords)}。",
                 f"3. 检索法律：{'、'.join(cites)}。",
                 f"4. 对照裁判实践：{_first_sentences(explanation, 1, 160)}",
                 "5. 结论：条件齐备且不存在否定情形时方可成立，需要逐项核实证据。"]
    pairs.append(QAPair(f"{base}/applies", source, "exemption-applies", q, answer, reasoning, src))

    q = rng.choice(("{a}的认定要件有哪些？", "如何判断是否构成{a}？")).format(a=area)
    answer = f"认定{area}，通常需要审查以下要素：\n{elements}\n\n说明：{explanation}\n\n法律依据：{'、'.join(cites)}。"
    reasoning = [f"1. 明确问题：{area}的构成要件。", f"2. 检索规范：{'、'.join(cites)}。",
                 f"3. 结合裁判实践提炼要素：{'、'.join(keywords)}。"]
    pairs.append(QAPair(f"{base}/elements", source, "exemption-elements", q, answer, reasoning, src))

    q = f"主张{area}应当援引哪些法律规定？"
    answer = f"主张{area}，可以援引以下规定：\n" + "\n".join(_quoted_articles(cites, as_of)) + \
        f"\n\n适用时应围绕{'、'.join(keywords)}等要素举证。"
    reasoning = [f"1. 确定{area}所属领域：{d.get('right_type') or '知识产权'}。",
                 f"2. 检索条文：{'、'.join(cites)}。", "3. 说明各条文与抗辩要件的对应关系。"]
    pairs.append(QAPair(f"{base}/basis", source, "exemption-basis", q, answer, reasoning, src))
    return pairs


# ---------------------------------------------------------------- building


def _identity(record: Record) -> str:
    d = record.data
    if record.kind == "statute":
        return f"statute 《{d['law']}》（{d['version']}）{d['article']}"
    return f"{record.kind} {record_ref(record)}"


def check_unique(records: Sequence[Record]) -> None:
    """Refuse records that appear twice across files: their pairs would share ids and double in training."""
    seen: dict[str, Record] = {}
    dups = []
    for r in records:
        key = _identity(r)
        if key in seen:
            first = seen[key]
            dups.append(f"{key}: {first.path}:{first.line} and {r.path}:{r.line}")
        else:
            seen[key] = r
    if dups:
        more = f"\n… and {len(dups) - 10} more" if len(dups) > 10 else ""
        raise InputError(f"{len(dups)} duplicate record(s) across the input files:\n" + "\n".join(dups[:10]) + more)


def record_pairs(record: Record, seed: int, records: Sequence[Record] = (), as_of: date | None = None) -> list[QAPair]:
    """Template pairs of one record (CoT not yet assigned), citations of old texts versioned."""
    if record.kind == "statute":
        pairs = statute_pairs(record, seed, as_of)
    elif record.kind == "case":
        pairs = case_pairs(record, seed, as_of)
    elif record.kind == "knowledge":
        pairs = knowledge_pairs(record, seed, records, as_of)
    elif record.kind == "exemption":
        pairs = exemption_pairs(record, seed, as_of)
    else:
        raise ValueError(f"unknown record kind {record.kind!r}")
    for p in pairs:
        p.question = versioned_citations(p.question, as_of)
        p.answer = versioned_citations(p.answer, as_of)
        p.reasoning = [versioned_citations(step, as_of) for step in p.reasoning]
    return pairs


def check_ratio(ratio: float) -> None:
    if not 0 <= ratio <= 1:
        raise InputError(f"--cot-ratio must be between 0 and 1, got {ratio}")


def _document_files(s: StatuteStore) -> dict[str, Path]:
    """Document key → its JSONL file, shipped and the user's."""
    out: dict[str, Path] = {}
    for folder in (STATUTES_DIR, s.user_dir):
        manifest = folder / "manifest.json" if folder else None
        if manifest is None or not manifest.is_file():
            continue
        raw = json.loads(manifest.read_text(encoding="utf-8"))
        for rec in raw if isinstance(raw, list) else raw.get("documents", []):
            out[Path(rec["file"]).stem] = folder / rec["file"]
    return out


def input_paths(names: Sequence[str], include_superseded: bool = False, as_of: date | None = None) -> list[Path]:
    """The files named, with ``builtin`` standing for the statute store's texts in force on ``as_of``
    (today), the user's imported texts included, in store order; with ``include_superseded`` also
    the superseded and repealed ones (never a text not yet in force)."""
    out: list[Path] = []
    day = as_of or date.today()
    for name in names:
        if name == "builtin" and not Path(name).exists():
            s = store()
            files = _document_files(s)
            keep = (IN_FORCE, UNVERIFIED, *(NOT_IN_FORCE if include_superseded else ()))
            out.extend(files[d.key] for d in s.documents if document_status(d, day) in keep and d.key in files)
        else:
            out.append(Path(name))
    return out


def _store_records(include_superseded: bool, day: date) -> tuple[list[Record], list[Record]]:
    """(kept, skipped) statute records of the store's texts: those in force on ``day`` (plus the
    superseded and repealed ones with ``include_superseded``), and the others."""
    keep = (IN_FORCE, UNVERIFIED, *(NOT_IN_FORCE if include_superseded else ()))
    s = store()
    live = set(map(id, s.current_articles(day)))
    kept: list[Record] = []
    skipped: list[Record] = []
    lines: Counter = Counter()
    for a in s.articles:
        lines[a.doc.key] += 1
        data = {"law": a.law, "version": a.version, "chapter": a.chapter, "section": a.section,
                "article": a.article, "text": a.text}
        ok = id(a) in live or document_status(a.doc, day) in keep
        (kept if ok else skipped).append(Record("statute", data, f"statute store: {a.doc.key}", lines[a.doc.key]))
    return kept, skipped


def input_records(names: Sequence[str], include_superseded: bool = False,
                  as_of: date | None = None) -> tuple[list[Record], list[Record]]:
    """(records, skipped) of the inputs named, in order: ``builtin`` stands for the statute store's texts
    in force on ``as_of`` (today), the user's imported texts included; files are MIPLD records. Statute
    records of texts no longer in force are skipped unless ``include_superseded`` (``select_records``)."""
    day = as_of or date.today()
    missing = [n for n in names if n != "builtin" and not Path(n).is_file()]
    if missing:
        raise InputError(f"file not found: {', '.join(missing)}")
    files = [Path(n) for n in names if n != "builtin" or Path(n).exists()]
    loaded, at = load_records(files), 0
    records: list[Record] = []
    skipped: list[Record] = []
    for name in names:
        if name == "builtin" and not Path(name).exists():
            kept, left = _store_records(include_superseded, day)
        else:
            start = at
            while at < len(loaded) and loaded[at].path == str(Path(name)):
                at += 1
            kept, left = select_records(loaded[start:at], include_superseded, day)
        records += kept
        skipped += left
    return records, skipped


def select_records(records: Sequence[Record], include_superseded: bool = False,
                   as_of: date | None = None) -> tuple[list[Record], list[Record]]:
    """(kept, skipped): statute records of a text not in force on ``as_of`` (today) are skipped, unless
    ``include_superseded`` keeps the superseded and repealed ones; texts not yet in force are always
    skipped. A statute the store does not hold is kept (nobody can tell), as is every other kind."""
    day = as_of or date.today()
    keep = (IN_FORCE, UNVERIFIED, None, *(NOT_IN_FORCE if include_superseded else ()))
    kept: list[Record] = []
    skipped: list[Record] = []
    for r in records:
        (kept if r.kind != "statute" or statute_status(r.data, day) in keep else skipped).append(r)
    return kept, skipped


def assign_cot(pairs: Sequence[QAPair], ratio: float, seed: int) -> None:
    """Mark ``round(ratio × len(pairs))`` pairs as CoT, spread over templates by largest remainders."""
    check_ratio(ratio)
    groups: dict[str, list[QAPair]] = {}
    for p in pairs:
        p.cot = False
        groups.setdefault(p.template, []).append(p)
    target = int(ratio * len(pairs) + 0.5)
    quota = {g: ratio * len(ps) for g, ps in groups.items()}
    counts = {g: int(q) for g, q in quota.items()}
    tie = _rng(seed, "cot-order")
    order = sorted(groups, key=lambda g: (-(quota[g] - counts[g]), tie.random()))
    for g in order[: max(0, target - sum(counts.values()))]:
        counts[g] += 1
    for g in sorted(groups):
        for p in _rng(seed, "cot", g).sample(groups[g], counts[g]):
            p.cot = True


def build_pairs(records: Sequence[Record], seed: int = DEFAULT_SEED, cot_ratio: float = DEFAULT_COT_RATIO,
                on_record: Callable[[Record], None] | None = None, *, include_superseded: bool = False,
                as_of: date | None = None) -> list[QAPair]:
    """Template pairs of every record, in input order, with CoT assigned; statute records of texts not
    in force on ``as_of`` (today) are skipped unless ``include_superseded`` (see ``select_records``)."""
    check_unique(records)
    day = as_of or date.today()
    kept = {id(r) for r in select_records(records, include_superseded, day)[0]}
    knowledge = [r for r in records if r.kind == "knowledge"]
    pairs: list[QAPair] = []
    for r in records:
        if id(r) in kept:
            pairs.extend(record_pairs(r, seed, knowledge, day))
        if on_record:
            on_record(r)
    assign_cot(pairs, cot_ratio, seed)
    return pairs


def write_pairs(pairs: Iterable[QAPair], out: Path, force: bool = False, as_of: date | None = None) -> int:
    """Write JSONL atomically; refuses an existing ``out`` unless ``force``. Returns the line count.

    A teacher's answer gets the same treatment as a template's: a citation of a text no longer in force
    on ``as_of`` (today) that names no version is written with its version."""
    refuse_existing([out], force)
    n = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for p in pairs:
            if p.polished:
                p.answer = versioned_citations(p.answer, as_of)
            f.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


@dataclass
class QASummary:
    records: Counter = field(default_factory=Counter)  # per kind
    pairs: Counter = field(default_factory=Counter)
    cot: Counter = field(default_factory=Counter)

    @property
    def cot_share(self) -> float:
        total = sum(self.pairs.values())
        return sum(self.cot.values()) / total if total else 0.0


def summarize(records: Iterable[Record], pairs: Iterable[QAPair]) -> QASummary:
    s = QASummary()
    for r in records:
        s.records[r.kind] += 1
    for p in pairs:
        s.pairs[p.kind] += 1
        s.cot[p.kind] += p.cot
    return s
