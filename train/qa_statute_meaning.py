"""The meaning pair of a statute article: the article quoted, then its structure paragraph by paragraph, each
line saying only what the reading is sure of (whom a rule binds only when the sentence leaves no doubt; a
condition line only for an opening condition that leans on nothing) and every other sentence in the text's own
words; its chain of thought names only what the answer explains."""

from __future__ import annotations

import re

from ecmiip.core.numerals import NUMERAL, int_to_chinese
from ecmiip.core.statutes import PRC, store
from ecmiip.train.article_roles import ROLE_NOTES
from ecmiip.train.qa_norms import (
    DEADLINE,
    FOREIGN_REFERENCE,
    NATURE_ZH,
    Condition,
    ItemList,
    Paragraph,
    Rule,
    full_stop,
    is_authority,
    modal_clause,
    modal_kinds,
    sentences,
    split_outside,
)
from ecmiip.train.qa_statute_context import (
    KIND_ZH,
    LEANING,
    LEANS,
    MODAL_WORDS,
    Context,
    leans_on_that,
    notes,
    term,
)

# What a structure line explains, as the chain of thought names it.
COVERS = {"role": "条文性质", "items": "列举事项", "condition": "适用条件和法律后果", "rule": "规范约束的主体",
          "definition": "定义", "deadline": "期限", "amount": "数额或处罚", "reference": "援引的条文",
          "sentence": "其余规定"}


_OWN_REFERENCE = re.compile(r"^(?:本|前|第)")


def _own_words(sentence: str) -> str:
    """A sentence of the article as a structure line tells it: quoted when it cites another law, whose
    numbering is the one of the text's own time (著作权法第十六条 in a 2013 regulation)."""
    quoted = sentence.rstrip("。；;").replace("“", "‘").replace("”", "’")  # a quote inside a quote: ‘’
    return f"“{quoted}”。" if FOREIGN_REFERENCE.search(sentence) else full_stop(sentence)


def _position(text: str, line: tuple[str, str]) -> int:
    """Where in ``text`` the words a structure line quotes first appear (items first, unknown last)."""
    if line[0] in ("role", "items"):
        return -1
    words = re.findall(r"[\u4e00-\u9fff]{6,}", line[1].split("：", 1)[-1].split("是“", 1)[-1])
    return next((text.find(w[:8]) for w in words[:3] if text.find(w[:8]) >= 0), len(text))  # its first words


def _structure(c: Context) -> list[tuple[str, str]]:
    """(what it covers, line) for each structure line of the meaning answer: the article's own words sorted
    by what they do (a sentence told once, under the first thing it does), then what it cites."""
    lines: list[tuple[str, str]] = []
    if not c.reading.substantive:
        lines.append(("role", f"本条是{ROLE_NOTES[c.reading.role].replace('：', '，', 1)}。"))
    many = len(c.reading.paragraphs) > 1
    cited: dict[str, list[int]] = {}
    for p in c.reading.paragraphs:
        start = len(lines)  # this paragraph's lines are put in the order of the text they tell
        at = f"第{int_to_chinese(p.number)}款" if many else "本条"
        told = {k.sentence for k in p.conditions} | {r.sentence for r in p.rules}
        if p.items:  # an item or the lead-in is told in the items line
            told |= {p.items.lead, *p.items.items, *(i.rstrip("；;。") for i in p.items.items)}
            items = "".join(f"（{int_to_chinese(i)}）{t}；" for i, t in enumerate(p.items.items, 1)).rstrip("；")
            lines.append(("items", f"{at}{_items_line(p.items)}：{items}。"))
        for k in p.conditions:
            lines.append(_condition_line(at, k, p))
        for r in p.rules:
            lines.append(("rule", _rule_line(at, r)))
        for d in p.definitions:
            lines.append(("definition", f"{at}界定了“{term(d)}”：{_own_words(d.sentence)}"))
        quoted = "".join(line for _, line in lines[start:])
        told |= {k.exception for k in p.conditions}
        for s in (s for s in p.deadlines if s not in told and s not in quoted and _clauses(s)):  # told once
            lines.append(("deadline", f"{at}涉及的期限：{_clauses(s)}。"))
            told.add(s)
        for s in (s for s in p.amounts if s not in told and s not in quoted and s not in p.deadlines):
            lines.append(("amount", f"{at}涉及的数额或处罚：“{s.rstrip('。；;')}”。"))  # a fine with its prison term
            told.add(s)
        quoted = "".join(line for _, line in lines[start:]).replace("‘", "“").replace("’", "”")
        for s in sentences(p.text.split("\n")[0] if p.items else p.text.replace("\n", "")):
            if s not in told and s.rstrip("。；;：:") not in quoted:  # …由该组织者取得著作权人许可: none left out
                lines.append(("sentence", f"{at}规定：{_own_words(s)}"))
        lines[start:] = sorted(lines[start:], key=lambda line: _position(p.text, line))
        for ref in p.references:
            cited.setdefault(ref, []).append(p.number)
    if cited:
        def where(numbers: list[int]) -> str:
            return f"（见第{'、'.join(int_to_chinese(n) for n in numbers)}款）" if many else ""
        # another law's article is quoted as the text wrote it: an older text cites that law's old numbering
        refs = "、".join(f"{ref if _OWN_REFERENCE.match(ref) else '“' + ref + '”'}{where(numbers)}"
                         for ref, numbers in cited.items())
        unsure = "、".join(f"“{ref}”" for ref in cited if not _OWN_REFERENCE.match(ref) and _numbering_unsure(c, ref))
        caveat = f"其中{unsure}是该文件施行时所引法律的条文序号，现行文本的序号可能已经调整，请核对。" if unsure else ""
        lines.append(("reference", f"{'本条' if not many else ''}援引了{refs}，适用时应一并查阅。{caveat}"))
    return lines


def _items_line(il: ItemList) -> str:
    """How a list is introduced: its lead-in and nature; items a 但…除外 introduces are exceptions."""
    if re.search(r"但[^，。；]*下列[^，。；]*除外", il.lead):
        return f"以“{il.lead}”引出{len(il.items)}项除外情形，具备其中任何一项即属除外"
    return f"以“{il.lead}”引出{len(il.items)}项，{NATURE_ZH[il.nature]}"


def _plain_condition(k: Condition) -> bool:
    """A condition a line can tell apart from its sentence: it opens its paragraph, states no rule before it
    and leans on nothing the sentence before says (期满未补正的, 属于其他情形的)."""
    return (k.opening and not k.context and not LEANING.match(k.condition) and not leans_on_that(k.condition)
            and not LEANS.search(k.condition) and not re.match(r"[^，]{0,6}其他|除", k.condition))


def _condition_line(at: str, k: Condition, p: Paragraph) -> tuple[str, str]:
    if not _plain_condition(k):  # the sentence whole, in the text's words: nothing it leans on is lost
        exception = f"；{k.exception}" if k.exception and k.exception not in k.sentence else ""
        shared = re.match(r"对于[^，]+，", k.condition)  # …；国家知识产权局…的: the 对于 before ； holds here too
        premise = shared.group(0) if shared and not k.sentence.startswith(shared.group(0)) else ""
        # …其发表权可由继承人行使；没有继承人…的，由…行使: the part before ；, when no line of its own tells it
        told = {x.sentence for x in p.conditions} | {r.sentence for r in p.rules}
        if k.leans_on and k.leans_on not in told and f"{k.leans_on}；{k.sentence}" in p.text.replace("\n", ""):
            premise = f"{k.leans_on}；"
        return "sentence", f"{at}规定：{_own_words(premise + k.sentence.rstrip('。；;') + exception)}"
    label = "但书" if k.exception.startswith("但") and not k.exception.endswith("除外") else "例外"
    extra = f"；{label}：“{re.sub(r'^但(?:是)?，?', '', k.exception)}”" if k.exception else ""
    return "condition", f"{at}的适用条件是“{k.condition}”，法律后果是“{k.consequence}”{extra}。"


def _rule_line(at: str, r: Rule) -> str:
    """A rule in the text's own words. It names whom it binds only where the sentence leaves no doubt: one
    modal word, the subject the whole phrase before it (上级人民法院 is not 人民法院; two duties of two bodies
    name nobody), or the subject a part after ； continues (…；著作权人声明不许使用的不得使用)."""
    kinds = modal_kinds(r.sentence)
    exception = re.search(r"（([^（）]*除外)）$", r.act)  # …；许可使用合同另有约定的除外: read with the rule
    told = _own_words(r.sentence.rstrip("。；;") + (f"；{exception.group(1)}" if exception else ""))
    # a deemed effect or a thing's standing (…合同等，可以作为证据) is nobody's duty or power
    if re.search(r"(?:可以|应当|不得)(?:视为|推定|作为)", r.sentence) or (
            re.search(r"(?:可以|应当)认定", r.sentence) and not is_authority(r.subject)):
        return f"{at}规定：{told}"
    continued = r.subject not in r.sentence
    rest = r.sentence.removeprefix(r.premise).lstrip("，")  # 专利权人与他人订立的合同 is no 专利权人
    opens = rest.startswith(r.subject) and rest[len(r.subject): len(r.subject) + 1] not in ("与", "和", "及", "以", "的", "、", "或", "等")
    # …当事人一方以…提供…，…，约定的技术转让费可以…: the modal's clause has a subject of its own
    held = modal_clause(r.sentence)
    own = r.subject in held or re.match(rf"(?:也|均|都|并|还|一般|但是?|则|即|仍)?(?:{MODAL_WORDS})", held)
    if len(kinds) == 1 and (continued or opens and own):
        return f"{at}有一项{KIND_ZH[r.kind]}，约束的主体是{r.subject}：{told}"
    return f"{at}有{'和'.join(dict.fromkeys(KIND_ZH[k] for k in kinds or [r.kind]))}：{told}"


# What makes a clause a period: a length (十五日内, 10年) or a word for one; 自登记之日起生效 is a starting day.
_PERIOD = re.compile(rf"{NUMERAL}个?(?:日|天|工作日|个月|月|年)|届满|期满|时效|保护期|有效期|期限|期间")


def _clauses(sentence: str) -> str:
    """The words of a sentence that hold a period, quoted from the first clause that holds one to the end of the
    part (…应当自收到材料之日起60日内，作出批准或者不予批准的决定): what the line says is a period is one, and
    what is to be done in it is not cut off."""
    parts = split_outside(sentence.rstrip("。；;"), "，")
    first = next((i for i, x in enumerate(parts) if DEADLINE.search(x) and _PERIOD.search(x)), None)
    if first is not None and (len(parts[first]) < 8 or re.match(r"(?:应当|可以|不得|必须)", parts[first])):
        first = 0  # 到期满为止: with what runs out; 应当在三日内告知…: with who must
    return "" if first is None else f"“{'，'.join(parts[first:])}”"


def _numbering_unsure(c: Context, ref: str) -> bool:
    """Whether another law's article, as this text numbers it, may not be today's: not when the quote's note
    maps it, nor when this text took effect after the cited law's text in force; yes for a law the store lacks."""
    if f"所称{ref[: ref.index('条') + 1]}" in c.renumbering_note:
        return False
    law = re.match(r"《?([^《》第]+?)》?第", ref)
    cited = next(filter(None, (store().current(n) for n in (law.group(1), PRC + law.group(1)))), None) if law else None
    return not (cited and cited.effective and c.doc and c.doc.effective and c.doc.effective >= cited.effective)


def meaning_pair(c: Context) -> tuple[str, str, list[str]]:
    question = c.rng.choice(("{r}规定了什么？", "请解释{r}的内容。", "{r}的主要内容是什么？", "{r}是如何规定的？"))
    structure = _structure(c)
    lines = [line for _, line in structure]
    body = "\n【结构】\n" + "\n".join(f"{i}. {x}" for i, x in enumerate(lines, 1)) if lines else ""
    answer = f"{c.ref}规定：\n“{c.text}”{notes(c)}\n{body}\n\n{c.note}".replace("\n\n\n", "\n\n")
    steps = [f"1. 定位条文：问题问的是{c.ref}，应当以{c.label}文本的原文为准。"]
    if lines:  # the chain of thought says what the answer does, and no more
        covers = "、".join(dict.fromkeys(COVERS[what] for what, _ in structure))
        steps += [f"2. 分析结构：该条共{len(c.reading.paragraphs)}款。{lines[0]}",
                  f"3. 组织回答：先引用条文原文，再说明{covers}。"]
    else:
        steps.append("2. 组织回答：引用条文原文，注明所依据的版本及其施行日期。")
    return question.format(r=c.ref), answer, steps
