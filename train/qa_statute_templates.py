"""Statute pairs: two per article of a statute record, built from the article's own text.

* meaning — what the article says: quoted, then its norms (conditions and consequences, prohibitions,
  duties, definitions, enumerations), paragraph by paragraph;
* scenario — a case built from the article's main norm (or its key terms), answered as
  【事实】/【适用法律】/【结论】.

Each answer closes with the version and its effective date (``VERSION_NOTE``). A text no longer in force
(built only with ``include_superseded``) is cited with its version (``《法》（2019修正）第九条``), its answer
says since when it is no longer in force (``HISTORY_NOTE``), and its scenario is set while the old text
was the law. A text the store does not hold gets ``UNKNOWN_VERSION_NOTE``: nobody has checked it.
"""

from __future__ import annotations

import random
import re
from datetime import date

from ecmiip.core.citations import cited_label, format_citation
from ecmiip.core.numerals import ITEM_NUMERAL, int_to_chinese
from ecmiip.core.statutes import UNVERIFIED, Document
from ecmiip.train.hardness import NOT_IN_FORCE, ceased, document_status, statute_document, statute_status
from ecmiip.train.mipld import Record
from ecmiip.train.qa_norms import (
    MODALS,
    NORM_PRIORITY,
    Norm,
    article_norms,
    article_units,
    describe_norm,
    full_stop,
    key_terms,
    sentences,
    unit_norms,
)
from ecmiip.train.qa_pairs import PARTIES, QAPair, seeded_rng, structured

# The note closing a statute answer: the version and when it took effect, as the store knows them.
VERSION_NOTE = "（以上依据{version}文本，自{effective}起施行{validity}。）"
# … for a text no longer in force (built only with include_superseded).
HISTORY_NOTE = "（以上依据{version}文本，自{effective}起施行，{ceased}，不是现行有效的条文；请以现行文本为准。）"
# … for a text the store does not hold (a file of the user's), whose validity nobody has checked.
UNKNOWN_VERSION_NOTE = "（以上依据{version}文本；法律可能已经修改，请核对现行有效的版本。）"


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
    """The meaning and the scenario pair of one statute record, as the text stands on ``as_of`` (today)."""
    d = record.data
    law, version, article, text = d["law"], d["version"], d["article"], d["text"].strip()
    rng = seeded_rng(seed, "statute", law, version, article)
    day = as_of or date.today()
    doc = statute_document(law, version)
    status = document_status(doc, day) if doc else statute_status(d, day)
    current = status not in NOT_IN_FORCE
    ref = format_citation(law, cited_label(article), "" if current else version)
    source = {"kind": "statute", "law": law, "version": version, "article": article,
              "effective": doc.effective.isoformat() if doc and doc.effective else None, "status": status}
    base_id = f"statute/{law}（{version}）/{article}"
    source_text = f"{ref}（{doc.describe(day) if doc else version}）：{text}"
    label = f"{version}年" if version.isdigit() else version  # 2020年文本, 2020修正文本
    note = _version_note(doc, status, label)
    norms = article_norms(text)
    units = article_units(text)
    chapter = re.sub(rf"^(?:第.+?章|{ITEM_NUMERAL}、)\s*", "", (d.get("chapter") or "").strip()).strip()

    # 1. what the article says
    question = rng.choice(("{r}规定了什么？", "请解释{r}的内容。", "{r}的主要内容是什么？", "{r}是如何规定的？"))
    points: list[str] = []
    for k, unit in enumerate(units, 1):
        lines = [describe_norm(n) for n in unit_norms(unit)]
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
        title = format_citation(law, "", version)
        until = f"{doc.effective.isoformat()}起、{doc.superseded_on.isoformat()}之前" \
            if doc and doc.effective and doc.superseded_on else "该文本施行期间"
        q += f"（相关行为发生在{until}，适用当时施行的{title}。）"
    answer = structured(facts, f"{ref}规定：“{text}”\n{applied}", conclusion) + f"\n{note}"
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
    first = full_stop(sentences(text)[0]) if sentences(text) else full_stop(text)
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
        q = f"{given}{party}遇到如下情形：{full_stop(n.a)}依照法律规定，这种情形应当如何处理？"
        return (q, f"本案的情形是：{full_stop(n.a)}",
                f"该规定的适用条件是“{n.a}”，法律后果是“{n.b.rstrip('。')}”。",
                f"{party}遇到的情形符合该条规定的适用条件，因此{full_stop(n.b)}如果还存在该条或其他条款规定的例外情形，需要结合更多事实另行判断。",
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
                f"该条对“{n.a}”作了定义：{full_stop(n.b)}",
                f"应当对照法定含义逐项审查相关对象是否符合“{n.b.rstrip('。')}”。符合的，可以认定为“{n.a}”；不符合的，不能认定。",
                f"“{n.a}”的含义以法律定义为准，争议对象应当与定义中的各要素逐一比对。")
    word = MODALS[n.kind]
    claim = {"prohibition": "可以", "obligation": "可以不", "permission": "不能"}[n.kind]
    label = {"prohibition": "禁止性规定", "obligation": "义务性规定", "permission": "授权性规定"}[n.kind]
    q = f"{party}认为，{n.a}{claim}{n.b}。这种理解是否正确？"
    return (q, f"{party}主张{n.a}{claim}{n.b}。",
            f"这是一项{label}：{n.a}{word}{n.b}。",
            f"这种理解不正确。依照{ref}，{n.a}{word}{n.b}。如该条另有但书或例外，应当结合具体事实判断。",
            f"{party}的理解与该条“{word}”的规定相反。")
