"""Case, knowledge and exemption pairs, built from a record's own text and the articles it cites.

* case — 4: does the defendant infringe, which articles apply (with their text from the store), the holding,
  the disputed issues (named from the answer against the claim, with the court's own answer:
  ``qa_case_issues``); the first one's chain of thought is the case's stage-2 layers (facts → analysis →
  citation → judgment, ``case_layers``).
* knowledge — 2–3: the concept, its legal basis, and, when the input has a related concept (same right type
  or a shared law), the two side by side with a 区别 that names the articles each rests on — dropped when both
  rest on the same ones, since the records support no other difference.
* exemption — 3: does a conduct fall under the exemption, its elements, its legal basis; elements are sorted
  by the record's explanation into what is examined, what defeats the defence and what bounds its effect
  (``qa_exemption_elements``), none called a requirement.

A pair cites only what the record cites, written with its version when it means a text no longer in force.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from ecmiip.core.citations import check, parse_citation
from ecmiip.train.cases import segment_case
from ecmiip.train.mipld import Record, citations_of, record_text
from ecmiip.train.qa_case_issues import focus_text
from ecmiip.train.qa_citations import quoted_articles, stale_note, versioned_citations
from ecmiip.train.qa_exemption_elements import Elements, sort_elements
from ecmiip.train.qa_norms import first_sentences, flat, full_stop
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


_LAYER_STEPS = (("facts", "1. 事实（查明）"), ("analysis", "2. 分析（本院认为）"), ("citation", "3. 法律依据"),
                ("reasoning", "4. 裁判"))


_LAYER_HEAD_IN = re.compile(r"经审理查明|本院查明|经审理认定|本院认为|判决如下|裁定如下")
_LAYER_HEAD = re.compile(rf"^(?:{_LAYER_HEAD_IN.pattern})[：:，,]?")


def layer_better(have: str, piece: str, headed: bool) -> bool:
    """Whether ``piece`` should stand for its layer instead of ``have``: a headed span wins over an unheaded
    one, else the longer."""
    if not have:
        return True
    if bool(_LAYER_HEAD.match(have)) != headed:
        return headed
    return not headed and len(piece) > len(have)


def case_layers(record: Record, cite_line: str) -> list[str]:
    """The chain of thought of a case pair: the stage-2 layers of its text (``ecmiip.train.cases.segment_case``)
    in the order a judgment reasons — facts → analysis → citation → judgment —, each shortened at a clause
    end; a layer the text lacks is taken from the record's own field."""
    text = record_text(record)
    found: dict[str, str] = {}
    for span in segment_case(text):
        piece = text[span.start:span.end].strip()
        if m := _LAYER_HEAD_IN.search(piece):  # the caption before 经审理查明 is no fact
            piece = piece[m.start():]
        headed = bool(_LAYER_HEAD.match(piece))
        # the first headed span of a layer (经审理查明…, not the caption), the citing sentence, the longest else
        if layer_better(found.get(span.layer, ""), piece, headed):
            found[span.layer] = piece
    d = record.data
    fallback = {"facts": d["facts"], "analysis": d["reasoning"], "citation": f"本案涉及{cite_line}。",
                "reasoning": d["judgment"]}
    steps = []
    for layer, head in _LAYER_STEPS:
        body = _LAYER_HEAD.sub("", found.get(layer, "")).strip().split("\n")[0].strip()
        body = body if len(body) >= 8 else fallback[layer]
        limit = 240 if layer == "citation" else 200
        steps.append(f"{head}：{first_sentences(body, 2, limit)}")
    return steps


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
    reasoning = case_layers(record, cite_line)
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

    focus, labels, decided = focus_text(record)
    q = (f"{header}\n原告诉讼请求：{d['plaintiff_claims']}\n被告答辩意见：{d['defendant_claims']}\n\n"
         "本案双方的争议焦点是什么？")
    answer = f"原告主张：{d['plaintiff_claims']}\n被告抗辩：{d['defendant_claims']}\n争议焦点：" + \
        ("\n" if "\n" in focus else "") + full_stop(focus)
    if decided:
        answer += "\n法院的回答：" + "".join(decided)
    contested = f"被告争执的是{'、'.join(labels)}" if labels else "被告的答辩理由本身"
    reasoning = [f"1. 原告的请求与理由：{first_sentences(d['plaintiff_claims'], limit=100)}",
                 f"2. 被告的抗辩：{first_sentences(d['defendant_claims'], limit=100)}",
                 f"3. 对照双方主张：{contested}，争议焦点就是法院须回答的这{'几' if len(labels) > 1 else '一'}个问题。"]
    pairs.append(QAPair(f"{base}/issues", source, "case-issues", q, answer, reasoning, src))
    return pairs


def _laws_of(record: Record) -> set[str]:
    return {c.resolved_law or c.law for c in citations_of(record)}


def _with_gist(citation: str, as_of: date | None = None) -> str:
    """The citation with what its article decides — its first sentence, from the store — when the store has it."""
    parsed = parse_citation(citation)
    verdict = check(parsed, as_of) if parsed else None
    if verdict is None or verdict.article is None:
        return citation
    first = re.split(r"(?<=[。：:；])", flat(verdict.article.text))[0]
    gist = first_sentences(first.rstrip("：:；。，") + "。", 1, 90).rstrip("。")
    dots = "……" if first.endswith(("：", ":")) and not gist.endswith("……") else ""
    return f"{citation}（“{gist}{dots}”{stale_note(gist, as_of)}）"


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
        own, theirs = [c for c in cites if c not in ocites], [c for c in ocites if c not in cites]
        shared = [c for c in cites if c in ocites]
        asks = (("{a}与{b}分别指什么？二者的法律依据有何不同？", "请分别说明{a}和{b}，并比较二者的法律依据。")
                if own or theirs else ("{a}与{b}分别指什么？", "请分别说明{a}和{b}。"))
        q = rng.choice(asks).format(a=concept, b=oc)
        answer = (f"【{concept}】{first_sentences(analysis, 2, 240)}（依据：{'、'.join(cites)}）\n"
                  f"【{oc}】{first_sentences(oa, 2, 240)}（依据：{'、'.join(ocites)}）")
        if own or theirs:  # the records support a difference of basis only; no difference is made up
            basis = [f"- {name}：" + "；".join(_with_gist(c, as_of) for c in arts)
                     for name, arts in ((concept, own), (oc, theirs)) if arts]
            basis += [f"- 二者均涉及{'、'.join(shared)}"] if shared else []
            answer += "\n【区别】二者的规范基础不同：\n" + "\n".join(basis)
        reasoning = [f"1. 分别界定：{concept}；{oc}。",
                     f"2. 比较规范基础：前者依据{'、'.join(cites)}，后者依据{'、'.join(ocites)}。",
                     "3. 结论：二者由不同条文规定，各依其条文适用。" if own or theirs else
                     "3. 结论：二者依据相同条文，分别说明其含义。"]
        pairs.append(QAPair(f"{base}/difference", source, "knowledge-difference", q, answer, reasoning,
                            src + "\n\n" + _source_with_articles(other, as_of)))
    return pairs


def elements_answer(area: str, found: Elements) -> str:
    """The 认定要件 answer: what the court examines, what defeats the defence and what bounds its effect, each as
    the record's explanation says — no element is called a requirement the record does not make one."""
    lines = [f"认定{area}，裁判实践中审查以下要素：", *(f"{i}. {k}" for i, k in enumerate(found.examined, 1))]
    if found.bounding:
        lines.append(f"抗辩成立后的效果及其限度：{'、'.join(found.bounding)}。")
    if found.exclusions:
        lines.append("抗辩不能成立或受到限制的情形：")
        lines += [f"- {'、'.join(kws)}：{full_stop(text)}" if kws else f"- {full_stop(text)}"
                  for text, kws in found.exclusions]
    if found.granting:
        lines.append(f"\n说明：{full_stop('；'.join(found.granting))}")
    return "\n".join(lines)


def exemption_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    """Whether a conduct falls under the exemption, its elements and its legal basis."""
    d = record.data
    rid = record_ref(record)
    rng = seeded_rng(seed, "exemption", rid)
    source = {"kind": "exemption", "id": rid}
    src = _source_with_articles(record, as_of)
    area, keywords, explanation = d["area"].strip(), [k.strip() for k in d["keywords"]], d["explanation"].strip()
    found = sort_elements(keywords, explanation)
    examined = "、".join(found.examined) or "裁判说明所列事实"
    defeats = [text for text, _ in found.exclusions]
    cites = _citation_list(record, as_of)
    party = rng.choice(PARTIES)
    base = f"exemption/{rid}"
    pairs = []

    ask = rng.choice(("该行为是否属于{a}的情形？", "{p}能否主张{a}？")).format(a=area, p=party)
    q = f"{party}被诉侵权，其抗辩涉及以下要素：{examined}。{ask}"
    answer = structured(
        f"{party}以{area}为由抗辩，抗辩涉及{examined}等要素。",
        "\n".join(quoted_articles(cites, as_of)) + f"\n裁判实践：{explanation}",
        f"应当围绕上述要素逐项审查证据：上述事实均得到证明的，可以认定属于{area}的情形；任一事实不能证明的，"
        "该抗辩不能成立。" + (f"此外，裁判实践表明：{'；'.join(defeats)}。" if defeats else ""),
    )
    reasoning = [f"1. 识别抗辩类型：{party}主张的是{area}。",
                 f"2. 列出审查要素：{examined}"
                 + (f"；否定情形：{'、'.join(found.defeating)}。" if found.defeating else "。"),
                 f"3. 检索法律：{'、'.join(cites)}。",
                 f"4. 对照裁判实践：{first_sentences(explanation, 1, 160)}",
                 "5. 结论：要素均得到证明且不存在否定情形时方可成立，需要逐项核实证据。"]
    pairs.append(QAPair(f"{base}/applies", source, "exemption-applies", q, answer, reasoning, src))

    q = rng.choice(("{a}的认定要件有哪些？", "如何判断是否构成{a}？")).format(a=area)
    answer = f"{elements_answer(area, found)}\n\n法律依据：{'、'.join(cites)}。"
    reasoning = [f"1. 明确问题：认定{area}需要审查什么。", f"2. 检索规范：{'、'.join(cites)}。",
                 f"3. 读裁判说明，区分审查要素（{examined}）"
                 + (f"与否定情形（{'、'.join(found.defeating)}）。" if found.defeating else "与否定或限制情形。")]
    pairs.append(QAPair(f"{base}/elements", source, "exemption-elements", q, answer, reasoning, src))

    q = f"主张{area}应当援引哪些法律规定？"
    answer = f"主张{area}，可以援引以下规定：\n" + "\n".join(quoted_articles(cites, as_of)) + \
        f"\n\n适用时应围绕{examined}等要素举证。"
    reasoning = [f"1. 确定{area}所属领域：{d.get('right_type') or '知识产权'}。",
                 f"2. 检索条文：{'、'.join(cites)}。", "3. 说明各条文与抗辩要件的对应关系。"]
    pairs.append(QAPair(f"{base}/basis", source, "exemption-basis", q, answer, reasoning, src))
    return pairs
