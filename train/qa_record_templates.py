"""Case, knowledge and exemption pairs, built from a record's own text and the articles it cites.

* case — 4: does the defendant infringe (facts → analysis → law → judgment), which articles apply (with
  their text from the store), the holding, the disputed issues.
* knowledge — 2–3: the concept, its legal basis, and its difference from a related concept (same right
  type or a shared law) when the input has one.
* exemption — 3: does a conduct fall under the exemption, its elements, its legal basis.

A pair cites only what the record cites, written with its version when it means a text no longer in force.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from ecmiip.train.mipld import Record, citations_of, record_text
from ecmiip.train.qa_citations import quoted_articles, versioned_citations
from ecmiip.train.qa_norms import first_sentences, full_stop
from ecmiip.train.qa_pairs import PARTIES, QAPair, record_ref, seeded_rng, structured

_INFRINGEMENT_CAUSE = re.compile(r"侵害|侵犯|侵权|仿冒|不正当竞争|假冒")


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
    lines = quoted_articles(_citation_list(record, as_of), as_of)
    return record_text(record) + ("\n\n相关法条：\n" + "\n".join(lines) if lines else "")


def case_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    """Judgment, applicable articles, holding and disputed issues of one case record."""
    d = record.data
    rid = record_ref(record)
    rng = seeded_rng(seed, "case", rid)
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
    answer = structured(d["facts"], "\n".join(quoted_articles(cites, as_of)),
                         f"{full_stop(d['grounds'])}本案判决：{d['judgment']}")
    answer = answer.replace("【适用法律】", f"【争议焦点与分析】{d['reasoning']}\n【适用法律】", 1)
    reasoning = [
        f"1. 梳理当事人与事实：双方为{d['relation']}。{first_sentences(d['facts'])}",
        f"2. 归纳争议焦点：原告主张{first_sentences(d['plaintiff_claims'], limit=80)}被告抗辩{first_sentences(d['defendant_claims'], limit=80)}",
        f"3. 检索法律：本案涉及{cite_line}。",
        f"4. 适用分析：{first_sentences(d['reasoning'], 2, 200)}",
        f"5. 得出结论：{first_sentences(d['judgment'], limit=120)}",
    ]
    pairs.append(QAPair(f"{base}/judgment", source, "case-judgment", q, answer, reasoning, src))

    q = f"以下是一起{cause or '知识产权纠纷'}的案情：\n{d['facts']}\n\n本案应适用哪些法条？"
    answer = "本案应适用以下规定：\n" + "\n".join(quoted_articles(cites, as_of)) + f"\n\n适用理由：{full_stop(d['grounds'])}"
    reasoning = [f"1. 确定法律关系：本案为{cause or '知识产权纠纷'}，双方为{d['relation']}。",
                 f"2. 找出待决问题：{first_sentences(d['reasoning'], limit=120)}",
                 f"3. 对应规范：{cite_line}分别调整上述问题。",
                 "4. 核对条文：逐条核对条文内容，确认其与本案事实相关。"]
    pairs.append(QAPair(f"{base}/articles", source, "case-articles", q, answer, reasoning, src))

    q = rng.choice(("本案的裁判要旨是什么？", "从本案中可以提炼出什么裁判规则？"))
    q = f"{header}\n经审理查明：{d['facts']}\n判决结果：{d['judgment']}\n\n{q}"
    answer = f"{full_stop(d['grounds'])}\n\n裁判依据：{cite_line}。"
    reasoning = [f"1. 抓住关键事实：{first_sentences(d['facts'], limit=120)}",
                 f"2. 回到法院说理：{first_sentences(d['reasoning'], 2, 200)}",
                 "3. 抽象规则：把个案判断概括为可以适用于同类案件的规则，并注明依据的法条。"]
    pairs.append(QAPair(f"{base}/holding", source, "case-holding", q, answer, reasoning, src))

    focus = next((s for s in re.split(r"(?<=。)", d["reasoning"]) if "争议焦点" in s), "")
    focus = focus.strip() or (f"结合双方主张，本案争议焦点在于被告的抗辩理由能否成立，即"
                              f"{cause or '被诉行为'}的构成要件是否满足以及相应责任如何承担。")
    q = (f"{header}\n原告诉讼请求：{d['plaintiff_claims']}\n被告答辩意见：{d['defendant_claims']}\n\n"
         "本案双方的争议焦点是什么？")
    answer = f"原告主张：{d['plaintiff_claims']}\n被告抗辩：{d['defendant_claims']}\n争议焦点：{full_stop(focus)}"
    reasoning = [f"1. 原告的请求与理由：{first_sentences(d['plaintiff_claims'], limit=100)}",
                 f"2. 被告的抗辩：{first_sentences(d['defendant_claims'], limit=100)}",
                 "3. 对比双方主张中针锋相对的部分，即为争议焦点。"]
    pairs.append(QAPair(f"{base}/issues", source, "case-issues", q, answer, reasoning, src))
    return pairs


def _laws_of(record: Record) -> set[str]:
    return {c.resolved_law or c.law for c in citations_of(record)}


def knowledge_pairs(record: Record, seed: int, others: Sequence[Record], as_of: date | None = None) -> list[QAPair]:
    """Concept, legal basis and, when ``others`` hold a related concept, the difference from it."""
    d = record.data
    rid = record_ref(record)
    rng = seeded_rng(seed, "knowledge", rid)
    source = {"kind": "knowledge", "id": rid}
    src = _source_with_articles(record, as_of)
    concept, analysis, cites = d["concept"].strip(), d["analysis"].strip(), _citation_list(record, as_of)
    base = f"knowledge/{rid}"
    pairs = []

    q = rng.choice(("如何理解{c}？", "请解释{c}。", "什么是{c}？")).format(c=concept)
    answer = f"{analysis}\n\n相关规定：\n" + "\n".join(quoted_articles(cites, as_of))
    reasoning = [f"1. 明确问题：需要说明{concept}的含义与要点。",
                 f"2. 找到规范基础：{'、'.join(cites)}。",
                 f"3. 归纳要点：{first_sentences(analysis, 2, 200)}",
                 "4. 区分法律明确规定与学理、实践观点，分别说明。"]
    pairs.append(QAPair(f"{base}/concept", source, "knowledge-concept", q, answer, reasoning, src))

    q = f"{concept}的法律依据是什么？"
    answer = (f"{concept}的法律依据主要是：\n" + "\n".join(quoted_articles(cites, as_of)) +
              f"\n\n简要说明：{first_sentences(analysis, 2, 240)}")
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
        answer = (f"【{concept}】{first_sentences(analysis, 2, 240)}（依据：{'、'.join(cites)}）\n"
                  f"【{oc}】{first_sentences(oa, 2, 240)}（依据：{'、'.join(ocites)}）\n"
                  f"【区别】二者解决的问题不同：前者涉及{concept}，后者涉及{oc}，规范基础也不尽相同。"
                  "实践中应当先确定争议针对的是哪一问题，再适用相应的规定。")
        reasoning = [f"1. 分别界定：{concept}；{oc}。",
                     f"2. 比较规范基础：前者依据{'、'.join(cites)}，后者依据{'、'.join(ocites)}。",
                     "3. 比较适用对象与法律效果，归纳区别。"]
        pairs.append(QAPair(f"{base}/difference", source, "knowledge-difference", q, answer, reasoning,
                            src + "\n\n" + _source_with_articles(other, as_of)))
    return pairs


def exemption_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    """Whether a conduct falls under the exemption, its elements and its legal basis."""
    d = record.data
    rid = record_ref(record)
    rng = seeded_rng(seed, "exemption", rid)
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
    answer = structured(
        f"{party}以{area}为由抗辩，抗辩涉及{'、'.join(keywords)}等要素。",
        "\n".join(quoted_articles(cites, as_of)) + f"\n裁判实践：{explanation}",
        f"应当围绕上述要素逐项审查证据：法定条件均得到证明的，可以认定属于{area}的情形；"
        "任一条件不满足，或者存在裁判实践中否定该抗辩的情形的，该抗辩不能成立。",
    )
    reasoning = [f"1. 识别抗辩类型：{party}主张的是{area}。",
                 f"2. 列出要件：{'、'.join(keywords)}。",
                 f"3. 检索法律：{'、'.join(cites)}。",
                 f"4. 对照裁判实践：{first_sentences(explanation, 1, 160)}",
                 "5. 结论：条件齐备且不存在否定情形时方可成立，需要逐项核实证据。"]
    pairs.append(QAPair(f"{base}/applies", source, "exemption-applies", q, answer, reasoning, src))

    q = rng.choice(("{a}的认定要件有哪些？", "如何判断是否构成{a}？")).format(a=area)
    answer = f"认定{area}，通常需要审查以下要素：\n{elements}\n\n说明：{explanation}\n\n法律依据：{'、'.join(cites)}。"
    reasoning = [f"1. 明确问题：{area}的构成要件。", f"2. 检索规范：{'、'.join(cites)}。",
                 f"3. 结合裁判实践提炼要素：{'、'.join(keywords)}。"]
    pairs.append(QAPair(f"{base}/elements", source, "exemption-elements", q, answer, reasoning, src))

    q = f"主张{area}应当援引哪些法律规定？"
    answer = f"主张{area}，可以援引以下规定：\n" + "\n".join(quoted_articles(cites, as_of)) + \
        f"\n\n适用时应围绕{'、'.join(keywords)}等要素举证。"
    reasoning = [f"1. 确定{area}所属领域：{d.get('right_type') or '知识产权'}。",
                 f"2. 检索条文：{'、'.join(cites)}。", "3. 说明各条文与抗辩要件的对应关系。"]
    pairs.append(QAPair(f"{base}/basis", source, "exemption-basis", q, answer, reasoning, src))
    return pairs
