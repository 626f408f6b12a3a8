"""Statute pairs: two per article, built from the article read as structure (``qa_norms.read_article``).

* meaning — the article quoted, then its structure paragraph by paragraph: item lists with their lead-in and
  whether the items are cumulative or alternatives, conditions with their consequence and exception, who a
  rule binds, definitions, deadlines, amounts, cross-references; its chain of thought names only what the
  answer explains (an article with no structure lines: quote and version, nothing promised).
* the second pair applies the article's most structured part, in this order: an item list (one alternative
  item that suffices, one cumulative requirement that alone does not, or one prohibited act put to whoever
  does it: 乙公司未经权利人许可… → 不能), a 的-condition with its consequence, a rule put to its own subject
  (专利权人, 国务院专利行政部门, 人民法院…), a definition, a plain list, a deadline. Scenario questions name
  the rule's own subject as the actor: an authority when the subject is an authority, a party only in a role
  the rule gives (经营者甲公司, 申请人乙公司), a person for a role only people hold (发明人张某, 专利代理师李某),
  an organisation of its kind (甲专利代理机构); a condition that names nobody gets the party the article
  implies (专利权人甲公司对…决定不服, 行为人王某销售…). A clause whose subject cannot be told gets no pair
  and no structure line that names one.
* organisational, purpose, self-referential and transitional articles get a recitation pair instead, and an
  effective-date article is asked when the text *in force* took effect (its version and date from the statute
  store, not the original enactment date its words carry); the reason is recorded in ``source``.

Each answer closes with the version and its effective date (``VERSION_NOTE``). A text no longer in force
(built only with ``include_superseded``) is cited with its version (``《法》（2019修正）第九条``), its answer
says since when it is no longer in force (``HISTORY_NOTE``), and its question is set while the old text was
the law. A text the store does not hold gets ``UNKNOWN_VERSION_NOTE``: nobody has checked it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date

from ecmiip.core.citations import cited_label, format_citation
from ecmiip.core.numerals import NUMERAL, STATUTE_NUMERAL, YEAR, chinese_to_int, int_to_chinese
from ecmiip.core.renumbering import reference_note
from ecmiip.core.statutes import PRC, UNVERIFIED, Document, store
from ecmiip.train.article_roles import EFFECTIVE_DATE, ROLE_NOTES
from ecmiip.train.hardness import NOT_IN_FORCE, ceased, document_status, statute_document, statute_status
from ecmiip.train.mipld import Record
from ecmiip.train.qa_citations import stale_note
from ecmiip.train.qa_norms import (
    ACTORS,
    ALTERNATIVE,
    CUMULATIVE,
    DEADLINE,
    FOREIGN_REFERENCE,
    LIST_MARK,
    NATURE_ZH,
    ORGANISATION_ROLES,
    ArticleReading,
    Condition,
    Definition,
    ItemList,
    Paragraph,
    Rule,
    actor_in,
    full_stop,
    implied_party,
    is_authority,
    is_person,
    modal_clause,
    modal_kinds,
    modal_of,
    opening_actor,
    quote_depths,
    read_article,
    sentences,
    split_outside,
)
from ecmiip.train.qa_pairs import QAPair, seeded_rng, structured

# The note closing a statute answer: the version and when it took effect, as the store knows them.
VERSION_NOTE = "（以上依据{version}文本，自{effective}起施行{validity}。）"
# … for a text no longer in force (built only with include_superseded).
HISTORY_NOTE = "（以上依据{version}文本，自{effective}起施行，{ceased}，不是现行有效的条文；请以现行文本为准。）"
# … for a text the store does not hold (a file of the user's), whose validity nobody has checked.
UNKNOWN_VERSION_NOTE = "（以上依据{version}文本；法律可能已经修改，请核对现行有效的版本。）"

# Parties a scenario may give a role the rule names: natural persons for roles only people hold
# (``qa_norms.is_person``: 发明人, 专利代理师), an organisation of its own kind for 机构/组织/电台, else a company.
COMPANIES = ("甲公司", "乙公司", "丙科技有限公司", "丁文化传媒有限公司")
PERSONS = ("张某", "李某", "王某", "丙某", "丁某")
ORGANISATIONS = ("甲", "乙", "丙")
_GENERIC = ("任何单位或者个人", "单位或者个人")

_DANGLING = re.compile(r"前(?:两|三)?款|前条|前项|上述|该条|本条第")
# A clause that starts mid-thought: it leans on the sentence before it.
_LEANING = re.compile(r"^(?:期满|逾期|届满|构成犯罪|未|该|其|此|上述|前述|依照前|经审查|审查后|修改后|对此|本章|同时|而|并|且|情节"
                      r"|[^，]{1,4}该)")  # 撤销该商标…的: which 商标? the sentence before says
_SELF = re.compile(rf"本(法|条例|细则|规定|解释|办法|决定)(第{STATUTE_NUMERAL}条)?")


def _usable(*texts: str) -> bool:
    """Whether a clause can be asked about on its own: no dangling 前款, no other law's (possibly old)
    numbering."""
    joined = "".join(texts)
    return not _DANGLING.search(joined) and not FOREIGN_REFERENCE.search(joined)


def _self_named(text: str, law: str) -> str:
    """本法 / 本细则 outside a quotation named as the law itself, so a question says which document it means;
    本法第X条 becomes 该法第X条 when the store holds no such article (an excerpt of the law: 民法典)."""
    depths = quote_depths(text)
    doc = store().current(law)
    held = {a.article for a in store().articles_of.get(doc.key, ())} if doc else set()

    def named(m: re.Match) -> str:
        if depths[m.start()]:
            return m[0]
        return f"该{m[1]}{m[2]}" if m[2] and m[2] not in held else f"《{law}》{m[2] or ''}"
    return _SELF.sub(named, text)
KIND_ZH = {"prohibition": "禁止性规定", "obligation": "义务性规定", "permission": "授权性规定"}


def _version_note(doc: Document | None, status: str | None, label: str) -> str:
    """The line closing a statute answer: version and effective date, and whether it is still the law."""
    if doc is None or doc.effective is None:
        return UNKNOWN_VERSION_NOTE.format(version=label)
    effective = doc.effective.isoformat()
    if status in NOT_IN_FORCE:
        return HISTORY_NOTE.format(version=label, effective=effective, ceased=ceased(doc, status))
    validity = "；其效力待核实，请核对官方文本" if status == UNVERIFIED else ""
    return VERSION_NOTE.format(version=label, effective=effective, validity=validity)


@dataclass
class _Context:
    """What every template of one article needs."""

    ref: str
    text: str
    reading: ArticleReading
    note: str
    rng: random.Random
    doc: Document | None
    label: str  # 2020修正 → "2020修正", a bare year → "2020年"
    current: bool
    article: str = ""  # its label in the store: 第十一条
    as_of: date | None = None

    def where(self, p: Paragraph) -> str:
        """``《法》第十条第二款`` for a paragraph of a multi-paragraph article, else the article."""
        return f"{self.ref}第{int_to_chinese(p.number)}款" if len(self.reading.paragraphs) > 1 else self.ref

    def party(self, role: str) -> str:
        return self.rng.choice(PERSONS if is_person(role) else COMPANIES)

    def actor(self, subject: str) -> str:
        """Who a scenario names: the authority itself, a person in a role only people hold (发明人张某), an
        organisation of its kind (甲专利代理机构), a company in any other role (专利权人甲公司), a company for
        任何单位或者个人; never a person's role with a company's name."""
        if one := re.split(r"和|及|以及|或者|、", subject)[0] if subject not in ACTORS else "":
            subject = one  # 专利权人或者被许可人: a scenario names one of them (专利权人甲公司)
        if not subject or is_authority(subject):
            return subject
        if subject in _GENERIC:
            return self.party("")
        if ORGANISATION_ROLES.search(subject):
            name = "电视台" if subject.endswith("电视台") else subject
            return f"{self.rng.choice(ORGANISATIONS)}{name}"
        return f"{subject}{self.party(subject)}"


def _fact(clause: str) -> str:
    """A condition clause as a statement of fact: each ``…的`` without its 的 (著作权属于自然人的，自然人死亡后 →
    著作权属于自然人，自然人死亡后)."""
    return "，".join(c[:-1] if c.endswith("的") and not c.endswith("目的") and len(c) >= 4 else c
                    for c in split_outside(clause, "，"))  # 以营利为目的 keeps its 的


def _quote(c: _Context) -> str:
    return f"{c.ref}规定：“{c.text}”{_notes(c)}"


# ---------------------------------------------------------------- meaning


# What a structure line explains, as the chain of thought names it.
COVERS = {"role": "条文性质", "items": "列举事项", "condition": "适用条件和法律后果", "rule": "规范约束的主体",
          "definition": "定义", "deadline": "期限", "amount": "数额或处罚", "reference": "援引的条文",
          "sentence": "其余规定"}


def _structure_lines(c: _Context) -> list[str]:
    return [line for _, line in _structure(c)]


_OWN_REFERENCE = re.compile(r"^(?:本|前|第)")


def _phrase_joint(phrase: str) -> str:
    """A subject phrase before its modal: a comma after it, none after an adverb (一般应当)."""
    return phrase if phrase.endswith(("一般", "均", "都")) else f"{phrase}，"


def _own_words(sentence: str) -> str:
    """A sentence of the article as a structure line tells it: quoted when it cites another law, whose
    numbering is the one of the text's own time (著作权法第十六条 in a 2013 regulation)."""
    quoted = sentence.rstrip("。；;").replace("“", "‘").replace("”", "’")  # a quote inside a quote: ‘’
    return f"“{quoted}”。" if FOREIGN_REFERENCE.search(sentence) else full_stop(sentence)


def _notes(c: _Context) -> str:
    """What a quoted article's citations mean today: an old numbering (著作权法第十六条 → 第十八条) or a
    version no longer in force (反不正当竞争法第六条 of the 2019 text)."""
    return _renumbering_note(c) + stale_note(c.text, c.as_of)


def _renumbering_note(c: _Context) -> str:
    """The store's note when the article cites a law in its old numbering (所称著作权法第十六条即现行…)."""
    if c.doc is None:
        return ""
    found = next((a for a in store().articles_of.get(c.doc.key, ()) if a.article == c.article), None)
    return reference_note(found, store()) if found else ""


def _position(text: str, line: tuple[str, str]) -> int:
    """Where in ``text`` the words a structure line quotes first appear (items first, unknown last)."""
    if line[0] in ("role", "items"):
        return -1
    words = re.findall(r"[\u4e00-\u9fff]{6,}", line[1].split("：", 1)[-1].split("是“", 1)[-1])
    return next((text.find(w[:8]) for w in words[:3] if text.find(w[:8]) >= 0), len(text))  # its first words


def _structure(c: _Context) -> list[tuple[str, str]]:
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
        if p.items:
            items = "".join(f"（{int_to_chinese(i)}）{t}；" for i, t in enumerate(p.items.items, 1)).rstrip("；")
            lines.append(("items", f"{at}{_items_line(p.items)}：{items}。"))
        for k in p.conditions:
            lines.append(_condition_line(at, k, p))
        for r in p.rules:
            lines.append(("rule", _rule_line(at, r)))
        for d in p.definitions:
            lines.append(("definition", f"{at}界定了“{_term(d)}”：{_own_words(d.sentence)}"))
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
    return (k.opening and not k.context and not _LEANING.match(k.condition) and not _leans_on_that(k.condition)
            and not _LEANS.search(k.condition) and not re.match(r"[^，]{0,6}其他|除", k.condition))


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


_MODAL_WORDS = "不得|应当|可以|必须|有权"


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
    own = r.subject in held or re.match(rf"(?:也|均|都|并|还|一般|但是?|则|即|仍)?(?:{_MODAL_WORDS})", held)
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
    return "" if first is None else f"“{'，'.join(parts[first:])}”"


def _numbering_unsure(c: _Context, ref: str) -> bool:
    """Whether another law's article, as this text numbers it, may not be today's: not when the quote's note
    maps it, nor when this text took effect after the cited law's text in force; yes for a law the store lacks."""
    if f"所称{ref[: ref.index('条') + 1]}" in _renumbering_note(c):
        return False
    law = re.match(r"《?([^《》第]+?)》?第", ref)
    cited = next(filter(None, (store().current(n) for n in (law.group(1), PRC + law.group(1)))), None) if law else None
    return not (cited and cited.effective and c.doc and c.doc.effective and c.doc.effective >= cited.effective)


def _meaning(c: _Context) -> tuple[str, str, list[str]]:
    question = c.rng.choice(("{r}规定了什么？", "请解释{r}的内容。", "{r}的主要内容是什么？", "{r}是如何规定的？"))
    structure = _structure(c)
    lines = [line for _, line in structure]
    body = "\n【结构】\n" + "\n".join(f"{i}. {x}" for i, x in enumerate(lines, 1)) if lines else ""
    answer = f"{c.ref}规定：\n“{c.text}”{_notes(c)}\n{body}\n\n{c.note}".replace("\n\n\n", "\n\n")
    steps = [f"1. 定位条文：问题问的是{c.ref}，应当以{c.label}文本的原文为准。"]
    if lines:  # the chain of thought says what the answer does, and no more
        covers = "、".join(dict.fromkeys(COVERS[what] for what, _ in structure))
        steps += [f"2. 分析结构：该条共{len(c.reading.paragraphs)}款。{lines[0]}",
                  f"3. 组织回答：先引用条文原文，再说明{covers}。"]
    else:
        steps.append("2. 组织回答：引用条文原文，注明所依据的版本及其施行日期。")
    return question.format(r=c.ref), answer, steps


# ---------------------------------------------------------------- the second pair, by structure


def _lead_consequence(il: ItemList) -> str:
    """What the items trigger, with 下列 pointing at the item found."""
    if il.condition:
        return il.condition.consequence
    return re.sub(r"下列(?:情形)?之一|下列各项|下列", "该项所列", il.lead)


# Where the items stand in a lead-in: 有下列情形之一的 (the condition), 下列标志 / 对下列各项 (the things).
_CONDITION_SLOT = re.compile(r"(，?)(?:有|存在|具有|属于)?下列[^，。；：]{0,10}?之一的$")
_DEED = re.compile(r"^(?:未经|为|以|将|擅自|故意|明知|销售|制造|使用|进口|许诺销售|伪造|假冒|提出|需要|因|通过|利用|"
                   r"违反|拒绝|向|对|出租|复制|发行|提供|披露|获取|冒充)")
_THING_SLOT = re.compile(r"下列(各项|情形|行为|标志|[^，。；：的]{1,6}?(?=不|可以|应当|，))?")
# The consequence a client asks about: 不丧失新颖性 → 是否丧失新颖性, 不得作为… → 能否作为…, 可以查阅… → 能否查阅….
_ASKED = (
    (re.compile(r"^(?P<who>[^，。；]*?)(?:均)?(?:不得|不能|不予)(?P<act>.+)$"), "能否"),
    (re.compile(r"^(?P<who>[^，。；]*?)不(?P<act>(?!得|能|予).+)$"), "是否"),
    (re.compile(r"^(?P<who>[^，。；]*?)(?:均)?(?P<act>(?:视为|属于|构成).+)$"), "是否"),
    (re.compile(r"^(?P<who>[^，。；]*?)均属(?P<act>.+)$"), "是否属于"),
    (re.compile(r"^(?P<who>[^，。；]*?)(?:可以|有权)(?P<act>.+)$"), "能否"),  # a permission: the last
)


@dataclass(frozen=True)
class _Asked:
    who: str  # the actor the consequence names before its verb, "" when it names none
    question: str  # 是否丧失新颖性, 能否查阅国防专利说明书
    permission: bool  # 可以 / 有权: somebody must be there to use it


def _asked(consequence: str, about_a_thing: bool = False) -> _Asked | None:
    """The consequence asked as yes or no, when it can be: its last clause (what comes before, such as
    经…同意, is for the answer to tell); ``about_a_thing``: a lead-in with the item in it (对“科学发现”，不授予
    专利权), asked whole."""
    head, _, last = consequence.rpartition("，")
    for i, (pattern, word) in enumerate(_ASKED):
        m = pattern.match(last)
        if not m or "是否" in m["who"] or not (about_a_thing or not m["who"] or actor_in(m["who"]) == m["who"]):
            continue
        question = f"{m['who']}{word}{m['act']}"
        return _Asked(m["who"], f"{head}{question}" if about_a_thing else question, i == len(_ASKED) - 1)
    return None


def _alternative(c: _Context, p: Paragraph) -> tuple[str, str, str, list[str]] | None:
    """One item of an alternative list told as the client's facts, the lead's condition around it (在申请日以前
    六个月内，在…会议上首次发表), and the consequence asked as a client would (是否丧失新颖性, 能否查阅)."""
    il = p.items
    k = c.rng.randrange(len(il.items))
    item, num = il.items[k], int_to_chinese(k + 1)
    # who the items are about (审查员有下列情形之一的) is the actor; an authority handles the matter; a party the
    # lead names only in passing (…，当事人可以要求其回避) frames nothing
    about = bool(il.condition and il.subject and re.match(rf"{re.escape(il.subject)}(?:有|存在|具有)下列",
                                                          il.condition.condition))
    actor = c.actor(il.subject) if about or is_authority(il.subject) else ""
    consequence = _lead_consequence(il)
    slot = _CONDITION_SLOT.search(il.condition.condition) if il.condition and not (about or actor) else None
    asked = _asked(il.condition.consequence) if slot else None
    before = il.condition.condition[: slot.start()] if slot else ""
    # who the facts name as acting: a clause's own subject, not the 权利人 of 未经权利人许可
    named = next((a for a in map(opening_actor, before.split("，")) if a), "") or opening_actor(_fact(item)) \
        or (before if re.search(r"(?:工作人员|人员)$", before) else "")  # 商标局、商标评审委员会工作人员 + 是…近亲属
    # an act or a situation with nobody in it (为…制造, 未经…许可使用, 提出…请求) gets a party; so does a
    # permission nobody in the facts could use (经…同意，可以查阅)
    party = c.party("") if slot and not named and (_DEED.match(item) or asked and asked.permission) else ""
    thing = _THING_SLOT.search(il.lead) if il.condition is None and il.lead.count("，") <= 1 else None
    if slot and (asked or party or named):
        told = _fact(_unrepeated(before, item))
        if named and re.match(r"[^，]{2,20}(?:程序|过程|期间|阶段)中，", told):
            told = "在" + told  # …的人员 + 在复审或者无效宣告程序中，曾参与…
        # 国际申请 + 申请人办理…: the item's own subject belongs to the condition's (国际申请的申请人)
        own = opening_actor(_fact(item))  # 使用者认为…组织 + 使用者要求查阅…，组织拒绝提供: the item as it stands
        if "认为" in before and own and not before.endswith(own):
            before, told = "", _fact(item)
        joint = slot.group(1) or ("的" if before and told == _fact(item) and opening_actor(told) else "")
        facts = _CARVE_OUT.sub("", f"{before}{joint}{party}{told}")
        if not asked:
            ask = "会产生什么法律后果"
        elif asked.permission:
            ask = f"{party or named}{asked.question}"
        else:
            ask = f"{party}的行为{asked.question}" if party and asked.question.startswith("是否") else asked.question
        q = f"{facts}。依照{c.ref.split('》')[0]}》的规定，{ask}？"
    elif thing and (asked := _asked(_THING_SLOT.sub(_thing(item, thing.group(1)), il.lead, count=1), True)):
        facts = f"存在“{_fact(item)}”的情形"
        q = f"依照{c.ref.split('》')[0]}》的规定，{asked.question}？"
    elif not about:  # a matter somebody handles, or nobody: what happened cannot be told as a client's case
        return None
    else:  # the items are about the actor (审查员有下列情形之一的): one of them is found in them
        cond = f"{_fact(il.condition.condition)}，" if il.condition and "下列" not in il.condition.condition else ""
        facts = f"存在“{_fact(item)}”的情形"
        # 由国务院著作权管理部门责令限期改正: what happens to the actor is somebody else's act
        done_to = consequence.startswith("由") or opening_actor(consequence) not in ("", il.subject)
        ask = f"{actor}会面临什么法律后果" if done_to else f"对此{actor}应当如何处理"
        q = f"{cond}经查明，{actor}存在以下情形：“{_fact(item)}”（该条所列的其他情形均不存在）。依照法律规定，{ask}？"
    if re.search(r"除[^，]*(?:外|以外)，|另有规定", facts):  # the law's carve-out is no fact of the client's
        return None
    law = f"{_quote(c)}\n{c.where(p)}以“{il.lead}”引出{len(il.items)}项，{NATURE_ZH[ALTERNATIVE]}；第（{num}）项为“{item}”。"
    others = [f"该条第{int_to_chinese(o.number)}款对此另有规定：“{o.text}”" for o in c.reading.paragraphs
              if o is not p and (f"第（{num}）项" in o.text or
                                 (o.number == p.number + 1 and "前款" in o.text and "前款第（" not in o.text))]
    more = f"此外，该款还规定：“{il.tail}”。" if il.tail else ""  # 情节严重的…；构成犯罪的…: the rest of the lead
    conclusion = (f"该情形属于{c.where(p)}第（{num}）项规定的情形。所列情形具备其中任何一项即可，不需要同时具备其他各项，"
                  f"因此{full_stop(consequence)}{more}" + "".join(full_stop(x) for x in others))
    steps = [f"1. 找出规范：{c.where(p)}以“{il.lead}”引出{len(il.items)}项。",
             "2. 判断列举的性质：“之一”“各项”表明是选择性列举，满足任何一项即可。",
             f"3. 对照事实：本案情形与第（{num}）项“{item}”相符。",
             f"4. 得出结论：{full_stop(consequence)}"]
    return q, structured(full_stop(facts), law, conclusion), "statute-alternative", steps


def _unrepeated(before: str, item: str) -> str:
    """The item without the words the condition ends with (认为著作权集体管理组织 + 著作权集体管理组织不按照…)."""
    who = opening_actor(_fact(item))
    if who and before.endswith(who):
        return item[len(who):]
    overlap = next((n for n in range(min(len(before), len(item)), 2, -1) if before.endswith(item[:n])), 0)
    return item[overlap:]  # …所开发的软件 + 开发的软件是…


def _thing(item: str, noun: str | None) -> str:
    """An item in the place of 下列… in a lead-in: 下列标志 → 带有民族歧视性的标志, 对下列各项 → 对“科学发现”."""
    if noun and noun not in ("各项", "情形", "行为"):
        return f"{item}{noun}" if item.endswith("的") else f"“{item}”{noun}"
    return f"“{_fact(item)}”"


_ITEM_EXCEPTION = re.compile(r"[，；]\s*(但(?:是，?)?.+?除外)$")


def _prohibited(c: _Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
    """A list of prohibited acts: the actor is the one the prohibition binds (乙公司, acting without the
    权利人's permission), the question asks whether the act is allowed, the answer says it is not (and
    names the item's exception)."""
    il = p.items
    plain = [i for i, t in enumerate(il.items) if not t.startswith(("其他", "法律、行政法规"))]
    k = c.rng.choice(plain or range(len(il.items)))
    item, num = il.items[k], int_to_chinese(k + 1)
    m = _ITEM_EXCEPTION.search(item)
    act, exception = (item[: m.start()], m.group(1)) if m else (item, "")
    subject = il.rule.subject if il.rule else ""
    actor = c.actor(subject) if subject else c.party("")
    premise = il.prohibited_premise
    facts = f"{actor}{premise + '，' if premise else ''}{act}"
    q = f"{facts}。依照{c.ref.split('》')[0]}》的规定，{actor}能否这样做？"
    law = (f"{_quote(c)}\n{c.where(p)}是一项禁止性规定，以“{il.lead}”引出{len(il.items)}项，"
           f"实施其中任何一项即违反该规定；第（{num}）项为“{item}”。")
    caveat = f"但应注意该项的除外规定：“{exception}”，属于这种情况的不在禁止之列。" if exception else ""
    conclusion = (f"不能。{c.where(p)}规定“{il.lead}”，{actor}的行为属于第（{num}）项所列的行为，"
                  f"违反该规定。{caveat}")
    steps = [f"1. 找出规范：{c.where(p)}以“{il.lead}”引出{len(il.items)}项，是禁止性规定。",
             f"2. 确定主体：禁止约束的是{subject or '实施所列行为的人'}，本案中是{actor}。",
             f"3. 对照事实：{actor}的行为与第（{num}）项“{act}”相符" + ("，再核对该项的除外情形。" if exception else "。"),
             f"4. 得出结论：{actor}不能这样做。"]
    return q, structured(full_stop(facts), law, conclusion), "statute-prohibition", steps


def _cumulative(c: _Context, p: Paragraph) -> tuple[str, str, str, list[str]] | None:
    il = p.items
    if any(re.match(r"[^，；]*的(?:[，,]|$)|(?:如|若)", re.sub(r"（[^）]*）|\([^)]*\)", "", i)) for i in il.items):
        return None  # 申请人委托专利代理机构的，…: an item that applies only sometimes is no requirement of all
    k = c.rng.randrange(len(il.items))
    done, num = il.items[k], int_to_chinese(k + 1)
    subject = il.subject
    actor = c.actor(subject)
    if not actor:  # whose requirements they are is not told (当事人 for 网络服务提供者): a list question instead
        return None
    cond = f"{_fact(il.condition.condition)}。" if il.condition and "下列" not in il.condition.condition else ""
    did = next((w for k, w in (("载明", "只载明了"), ("写明", "只写明了"), ("提交", "只提交了"), ("具备", "只具备"),
                                 ("符合", "只符合")) if k in il.lead), "已经做到了")
    q = (f"{cond}{actor}{did}{c.where(p)}所列的第（{num}）项：“{done}”，认为这样就已符合该规定。"
         "这种理解是否正确？")
    items = "\n".join(f"（{int_to_chinese(i)}）{t}" for i, t in enumerate(il.items, 1))
    rest = "、".join(f"第（{int_to_chinese(i)}）项" for i in range(1, len(il.items) + 1) if i != k + 1)
    law = f"{_quote(c)}\n{c.where(p)}以“{il.lead}”引出下列{len(il.items)}项，{NATURE_ZH[CUMULATIVE]}：\n{items}"
    conclusion = (f"这种理解不正确。{c.where(p)}所列各项须同时具备，只做到第（{num}）项还不够，"
                  f"{subject or actor}还必须满足{rest}。")
    steps = [f"1. 找出规范：{c.where(p)}以“{il.lead}”引出{len(il.items)}项。",
             "2. 判断列举的性质：各项是并列的要求，须同时具备，不是择一即可。",
             f"3. 对照事实：{actor}只满足了第（{num}）项，{rest}尚未满足。",
             "4. 得出结论：不符合该规定，应当补足其余各项。"]
    return q, structured(f"{actor}只满足了第（{num}）项。", law, conclusion), "statute-cumulative", steps


def _listed(c: _Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
    il = p.items
    items = "\n".join(f"（{int_to_chinese(i)}）{t}" for i, t in enumerate(il.items, 1))
    # the question names the document, and its carve-out is the law's (除…另有规定外), not what is asked
    lead = re.sub(r"^(?:(?:依照|根据|按照)本(?:法|条例|细则|规定|解释|办法)(?:的)?规定|除[^，]*(?:外|以外))，?", "", il.lead)
    asked = re.sub(rf"(?:{LIST_MARK})(?:各项)?", "哪些", re.sub(rf"(?:{LIST_MARK})几", "哪几", lead, count=1), count=1)
    asked = re.sub(r"^(哪[些几][^，]{0,6})，", r"\1", asked)  # 下列情形，属于… → 哪些情形属于…
    asked = re.sub(r"(哪些[^，。；]{0,6}?)之一", r"\1", asked)  # 有下列行为之一的 → 有哪些行为的
    asked = re.sub(r"(哪[些几].*?)，并(?:且)?(?:应当|可以|不得).*$", r"\1", asked)  # …进行监督，并应当…记录
    q = f"依照{c.where(p)}，{asked}？" if asked != lead else f"依照{c.where(p)}，“{il.lead}”所列的是哪几项？"
    more = f"\n此外，该款还规定：“{il.tail}”。" if il.tail else ""  # 对直接负责的主管人员…；构成犯罪的…
    answer = f"{c.where(p)}规定“{il.lead}”，共{len(il.items)}项：\n{items}{more}"
    steps = [f"1. 定位：{c.where(p)}。", f"2. 列举的引语是“{il.lead}”。", f"3. 逐项列出全部{len(il.items)}项，不遗漏、不改写。"]
    return q, answer, "statute-list", steps


_ASK = {"可以": "可以怎么办", "有权": "可以怎么办", "应当": "应当怎么做", "不得": "不得做什么"}
# A consequence an authority draws (作为考量因素, 视为, 认定为, 不予…): no option of the condition's subject.
_WEIGHED = re.compile(r"^(?:可以|应当|一般)?(?:作为|视为|认定|推定|不予|予以|参照|责令|处以?|酌情)")


# A permission whose holder acts (可以依法在起诉前向人民法院申请…): what it names is asked for, not suffered.
_OWN_STEP = re.compile(r"^(?:可以|有权)(?:依法)?(?:在[^，]*?)?(?:向|申请|请求|要求|起诉|提起)")
_RULING = re.compile(r"^(?:人民法院)?(?:一般)?(?:应予|应当予以|不予|依法予以)(?:支持|准许|采纳|受理)")
_CARVE_OUT = re.compile(r"^除[^，]*(?:外|以外)，")
# A condition that opens with the act of whoever the consequence binds (许可他人使用其注册商标的，许可人应当…).
_ACT_FIRST = re.compile(r"^(?:许可|转让|申请|请求|变更|委托|订立|提出|办理|撤回|放弃|共同|出卖|出售|与|直接向|滥用|对初步)")
def _tiers(before: str, condition: str) -> bool:
    """Two tiers of one scale (…5万元以上的，可处…；没有…或者5万元以下的，…): the first is no background to
    the second."""
    return bool(re.search(r"以上的，", before) and re.search(r"以下|不足|没有", condition))


def _shares_party(condition: str, before: str) -> bool:
    """A condition that names a party the sentence before introduces, and leans on it (被请求人提出的中止理由)."""
    named = [m.group(0) for m in re.finditer(r"被请求人|被许可人|申请人|请求人", condition)]
    return any(n in before for n in named) and bool(re.search(r"提出的|所述|该|其", condition))


def _leans_on_that(condition: str) -> bool:
    """该期限, 该手续 whose noun the condition has not named before (which? the sentence before says); not
    …授予专利权之日起，…认为该专利权的授予…, whose 专利权 it has."""
    return any(m[1] not in condition[: m.start()]
               for m in re.finditer(r"该(期限|手续|申请|商标|专利|作品|决定|合同)", condition))
# What is done to whoever the condition names (追究责任, 给予处分, 责令改正, 吊销…), not what they do.
_SANCTION = re.compile(r"追究|处分|处罚|责令|罚款|罚金|吊销|没收|警告|有期徒刑|拘役")
# A later condition that leans on the sentence before it: its object or its period is there
# (专利权人未缴纳或者未缴足的; 在此期间未能办理的; 期满未补正的).
_LEANS = re.compile(r"^(?:.*(?:事后|此后|其后|随后)[^，]*的|[^，]{0,8}未[^，]{1,8}的|[^，]*该(?:期限|手续)[^，]*的|没有[^，]*的|(?:在此期间|期满|逾期|届时|此后|上述|前述|在(?:规定|指定|该|上述)期限内)[^，]*的)$")


_NAMES = re.compile("|".join(map(re.escape, (*COMPANIES, *PERSONS))))
# A clause that names a topic, not something that happened (对于侵犯著作权…的权利, 涉及著作权法修改前发生…).
_TOPIC = re.compile(r"^(?:对于|关于|涉及|对(?!.*(?:不服|提出|作出|进行|采取|申请|请求|实施|使用|认定)))")


def _unroled(before: str) -> bool:
    """Whether a name asked about comes without a role of the rule's (被侵权人丙公司 has one; 当事人甲公司 has not)."""
    role = next((a for a in ACTORS if before.endswith(a)), "")
    return role in ("", "当事人") or before.endswith("相关当事人")


def _opens_with_actor(facts: str) -> bool:
    """Facts whose first words say who acts (当事人乙公司请求…), not an act with a role as its object (变更商标注册人名义)."""
    return bool(who := opening_actor(facts)) and facts.startswith(who)


def _scenario_doubt(facts: str, ask: str) -> str:
    """Why the facts and question of a condition scenario cannot be trusted to read as a client's case ("" when
    they can): each reason a class an earlier read found wrong or garbled. Such an article gets a safer pair."""
    clauses = split_outside(facts, "，；")
    grams = [facts[i: i + 12] for i in range(len(facts) - 11)]
    doubts = (
        (len(facts) < 12, "too short to be a situation (注册商标专用权移转)"),
        (bool(re.search(r"除[^，]*(?:外|以外)，", facts)), "the law's carve-out told as a fact"),
        ("；" in facts and _tiers(*facts.split("；", 1)), "a tier of a scale told as background"),
        (bool(clauses) and bool(_TOPIC.match(clauses[-1])) or any(x.startswith(("涉及", "关于")) for x in clauses),
         "a topic, not an event"),
        (bool(re.fullmatch(r"可以(?:怎么办|如何处理)", ask)), "a power asked of nobody"),
        (any(m[0] not in facts and (_unroled(ask[: m.start()]) or not (_opens_with_actor(facts) or "他人" in facts))
             for m in _NAMES.finditer(ask)),
         "a party the facts never name, in no role the rule gives (相关当事人甲公司) or in facts about nobody"),
        (len(grams) != len(set(grams)), "the same words twice (two grievances joined)"),
        (bool(_DEED.match(facts) or _ACT_FIRST.match(facts)) and not _opens_with_actor(facts),
         "an act nobody in the facts does (故意为他人实施混淆行为提供…便利条件)"),
    )
    return next((why for doubt, why in doubts if doubt), "")


def _said_too(c: _Context, p: Paragraph, k: Condition) -> str:
    """What else the article says of the same facts: the rest of the sentence after ； (构成犯罪的，依法追究刑事责任)
    and another paragraph whose alternative conditions include these (其商标已在商标局获得注册，或者…)."""
    whole = next((x for x in split_outside(p.text.replace("\n", ""), "。") if k.sentence in x), "")
    tail = whole[whole.index(k.sentence) + len(k.sentence):].lstrip("；;") if whole else ""
    here = "该款" if len(c.reading.paragraphs) > 1 else "该条"
    said = f"此外，{here}还规定：“{tail}”。" if tail and whole[whole.index(k.sentence) + len(k.sentence)] in "；;" else ""
    core = k.condition.removesuffix("的")
    for o in c.reading.paragraphs:
        said += "".join(f"此外，{c.where(o)}规定：“{full_stop(x.sentence)[:-1]}”。" for x in o.conditions
                        if x is not k and core in x.condition and "或者" in x.condition.replace(core, ""))
    return said


def _condition(c: _Context, p: Paragraph, k: Condition) -> tuple[str, str, str, list[str]] | None:
    actor = c.actor(k.subject)
    modal = "可以" if modal_of(k.consequence) == "有权" else modal_of(k.consequence)
    # 除本条例另有规定的外，…: the carve-out is the law's, not a fact
    facts = _self_named(_CARVE_OUT.sub("", _fact(k.condition)), c.ref[1:].split("》")[0])
    implied = "" if k.subject else implied_party(c.text, k.condition)
    if implied:  # 对…决定不服的，可以起诉: whoever is aggrieved, as the article names them (专利权人甲公司)
        actor = c.actor(implied)
        named = facts.find(implied, 0, 12)  # 布图设计登记申请人对…不服: the role is there, give it a name
        if named >= 0 and actor.startswith(implied):
            end = named + len(implied)
            actor = f"{facts[:end]}{actor[len(implied):]}"
            facts = f"{actor}{facts[end:]}"
        else:
            facts = actor + facts
        ask = f"{actor}{_ASK.get(modal, '会面临什么法律后果')}" if implied != "行为人" else f"{actor}会面临什么法律后果"
    elif actor and actor != k.subject and facts.startswith(k.subject):  # 当事人对裁定不服 → 当事人甲公司对裁定不服
        asker = actor  # 任何单位或者个人认为… → 乙公司认为…，乙公司可以…; 布图设计权利人乙公司…，…乙公司可以…
        facts, ask = actor + facts[len(k.subject):], f"{asker}{_ASK.get(modal, '怎么做')}"
    elif not actor and (generic := next((g for g in _GENERIC if g in facts), "")):
        # 任何单位或者个人认为…的，可以请求…: somebody in particular asks (甲公司认为…，可以怎么办)
        actor = c.party("")
        facts = facts.replace(generic, actor, 1)
        ask = f"{actor}{_ASK.get(modal, '会面临什么法律后果')}"
    elif not actor and modal == "不得":  # 不得在市场销售 → 能否在市场销售; 支付的报酬不得追回 → 支付的报酬能否追回
        what, _, act = k.consequence.partition("不得")
        ask = f"{what.split('，')[-1]}能否{act.split('，')[0]}"
    elif not actor and modal in ("应当", "不得") and k.consequence.startswith((modal, "还" + modal, "也" + modal)) \
            and not _WEIGHED.match(k.consequence):  # 应当认定…: the court's finding, nobody's duty
        ask = _ASK[modal]  # 外国人…申请商标注册的，应当按…办理: a duty falls on the facts' subject; a 可以 may not
    else:
        qualified = k.consequence.split(k.subject)[0] if k.subject in _GENERIC else ""
        if qualified and not qualified.startswith("任何"):  # 制造同样产品的单位或者个人应当…: ask about them
            actor = qualified + k.subject
        elif actor and k.subject in _GENERIC and actor not in facts:  # …的，任何单位或者个人可以申请撤销: who asks
            facts = f"{actor}认为，{facts}"
        ask = f"{actor}{modal}如何处理" if actor and modal else "会产生什么法律后果"
    head = k.consequence.split(modal)[0].rstrip("，") if modal else ""
    if k.subject and k.subject in head and "的" in head.split(k.subject)[0] and not head.startswith("任何"):
        actor = head  # 其商品符合使用该地理标志条件的自然人、法人或者其他组织可以…: as qualified, no made-up name
        ask = f"{actor}{_ASK.get(modal, '会面临什么法律后果')}"
    if _RULING.match(k.consequence):  # …请求中止审理…的，应予支持: the court rules on the party's request
        ask = "人民法院应当如何处理"
    elif re.search(r"视为|认定|推定", k.consequence) and not is_authority(k.subject):  # …应当视为非专有权利
        ask = "会产生什么法律后果"
    elif _SANCTION.search(k.consequence) and actor and not is_authority(actor) and not _OWN_STEP.match(k.consequence):
        # 应当依纪依法追究责任: done to them (not 可以…申请采取责令停止有关行为…的措施: a step of their own)
        ask = f"{actor}会面临什么法律后果"
    elif not modal and actor and not implied and k.consequence.startswith(k.subject):  # 人民法院应予支持: ask it
        ask = f"{k.subject}应当如何处理" if is_authority(k.subject) else f"{k.subject}会面临什么法律后果"
    elif modal and k.subject and not is_authority(k.subject) and _WEIGHED.match(k.consequence):
        # 当事人拒不如实披露的，可以作为…考量因素: the 可以 is the court's, not the party's option
        ask = f"{k.subject}会面临什么法律后果"
    law = c.ref[1:].split("》")[0]
    parts = split_outside(facts, "，")
    grievances = [i for i, part in enumerate(parts) if "不服" in part]
    if len(grievances) > 1:  # …的决定不服的，…的裁决不服的，可以起诉: one of them happened
        facts = "，".join(parts[: grievances[0] + 1])
    if actor and not implied and _ACT_FIRST.match(facts) and not opening_actor(facts):  # 许可他人使用其注册商标的
        facts = actor + facts
    elif not actor and not implied and (_DEED.match(facts) or _ACT_FIRST.match(facts)) and not _opens_with_actor(facts):
        actor = "甲公司与乙公司" if facts.startswith("共同") else c.party("")  # 共同申请…: two of them
        facts = actor + facts
        own = modal in ("可以", "应当") and k.consequence.startswith(modal)  # 与著作权人订立…合同的，可以…备案
        ask = f"{actor}会面临什么法律后果" if _SANCTION.search(k.consequence) and not own else \
            f"{actor}{_ASK[modal]}" if own else \
            f"{actor}{ask}" if ask in _ASK.values() else ask  # 甲公司申请商标注册…，甲公司应当怎么做
    if k.context:  # 分案申请，可以保留原申请日，享有优先权的: the sentence's rule comes first
        facts = f"{_self_named(k.context, law)}，{facts}"
    elif k.leans_on and ((_LEANS.search(k.condition) and not _tiers(k.leans_on, k.condition))
                         or _shares_party(k.condition, k.leans_on)):
        if re.search(_MODAL_WORDS, k.leans_on):  # …请求人可以撤回其请求；…撤回其请求的: the law's rule, no fact
            return None
        facts = f"{_self_named(k.leans_on.rstrip('。；;'), law)}；{facts}"  # say the sentence before first
    if ask.endswith("会面临什么法律后果") and not _SANCTION.search(k.consequence):
        ask = "会产生什么法律后果"  # a ruling in the party's favour, a deemed effect: nothing it faces
    if _scenario_doubt(facts, ask) or re.search(_MODAL_WORDS, k.context):  # …注册人可以申请续展: a rule, no fact
        return None
    q = f"{facts}。依照{c.ref.split('》')[0]}》的规定，{ask}？"
    exception = f"但应注意该款的例外：{full_stop(re.sub(r'^但(?:是)?，?', '', k.exception))}" if k.exception else ""
    conclusion = (f"这一情形正是{c.where(p)}规定的“{k.condition}”，因此{full_stop(k.consequence)}{exception}"
                  f"{_said_too(c, p, k)}")
    steps = [f"1. 梳理事实：{full_stop(facts)}",
             f"2. 检索法律：{c.where(p)}规定，“{k.condition}”，{full_stop(k.consequence)}",
             "3. 适用分析：事实与该款的适用条件一致" + ("，同时核对例外情形是否存在。" if k.exception else "。"),
             f"4. 得出结论：{full_stop(k.consequence)}"]
    return q, structured(full_stop(facts), _quote(c), conclusion), "statute-condition", steps


def _next_said(c: _Context, p: Paragraph, sentence: str) -> str:
    """The paragraph's next sentence, which may qualify or shift this one (…九个月内做出决定；有特殊情况需要延长的，
    可以延长三个月; 表演者应当取得著作权人许可…。演出组织者组织演出，由该组织者取得…)."""
    parts = sentences(p.text.replace("\n", ""))
    at = parts.index(sentence) if sentence in parts else -1
    if at < 0 or at + 1 >= len(parts):
        return ""
    return f"此外，{'该款' if len(c.reading.paragraphs) > 1 else '该条'}还规定：“{parts[at + 1].rstrip('。；;')}”。"


def _limited_by(c: _Context, p: Paragraph) -> str:
    """The next paragraph when it limits this one (…不受前款规定的限制, 前款…除外, 前款规定不适用于…)."""
    o = next((o for o in c.reading.paragraphs if o.number == p.number + 1), None)
    if o is None or "前款" not in o.text or not re.search(r"不受前款|除外|不适用|但", o.text):
        return ""
    return f"但应注意，{c.where(o)}规定：“{o.text.rstrip('。')}”。"


def _rule(c: _Context, p: Paragraph, r: Rule) -> tuple[str, str, str, list[str]]:
    # ask the first of several acts: 不得违反…，不得损害…; 不得许可…，并按照约定支付…; 接受委托…，也可以…
    act = re.split(r"，即|；|，(?:并且|也|亦)?(?:不得|可以)|，并(?:且)?(?=按照|支付|向|在|将|应当)", r.act, maxsplit=1)[0]
    first, _, then = act.partition("，")  # 提取管理费，管理费按照…提取: the next clause has a subject of its own
    if then and any(then.startswith(first[-n:]) for n in (2, 3, 4)):
        act = first
    clauses = act.split("，")  # …承担举证责任，发行者、出租者应当…: a second subject's own duty
    act = "，".join(clauses[: next((i for i, x in enumerate(clauses) if i and re.search(_MODAL_WORDS, x)
                                    and not re.match(rf"(?:也|并|还|均|都)?(?:{_MODAL_WORDS})", x)), len(clauses))])
    # 播放他人的录像制品，还应当…: the adverb goes with the question's modal (电视台是否还必须…)
    adverb = re.search(r"[，,]?(还|也|亦)$", r.premise or "")
    premise = r.premise[: adverb.start()] if adverb else r.premise
    premise = f"{premise}，" if premise else ""
    extra = adverb.group(1) if adverb else ""
    ask = {"prohibition": f"{extra}能否", "obligation": f"是否{extra}必须", "permission": f"是否{extra}可以" if extra else "能否"}[r.kind]
    phrase = r.phrase or r.subject
    hedged = phrase.endswith("一般") and r.kind == "obligation"  # …时，一般应当考虑: not a 必须
    if hedged:
        phrase, ask = phrase[:-2].rstrip("，"), "一般是否应当"
    # 任何单位或者个人未经专利权人许可，都不得… → …未经专利权人许可，能否…; 专利权人与他人订立的合同，应当… → …合同是否必须…
    # no comma after the subject itself (…的著作权集体管理组织能否…, …咨询时，该组织是否…) nor a 但 (…，但是否必须…)
    last = phrase.rsplit("，", 1)[-1]
    bare = phrase.endswith((r.subject, "但", "但是", *ACTORS)) or len(last) <= 6 or phrase.startswith(f"{r.subject}与") or (
        "，" not in phrase and "的" in phrase[len(r.subject):])
    joint = "" if bare else "，"
    q = re.sub(r"^(?:但是|但)，?", "", f"{premise}{phrase}{'，' if hedged else joint}{ask}{act}？")  # 但原告以…的: the 但 is the article's
    if p.number > 1 and not r.premise and len(r.sentence) < 25:  # 著作权人可以支付执笔人适当的报酬: whose, of what?
        q = f"{full_stop(c.reading.paragraphs[p.number - 2].text.replace(chr(10), ''))}{q}"
    yes = {"prohibition": "不能", "obligation": "是的，必须这样做", "permission": "可以"}[r.kind]
    if hedged:
        yes = "一般应当这样做"
    # a 但 after the modal is a proviso to the rule; one in the premise (…放弃使用，但…的) is part of its condition
    proviso = re.search(r"但是|但", r.act) or re.search(r"除.+外", r.premise or "")
    exception = "该款另有但书或除外规定，适用时应一并核对。" if proviso else ""
    conclusion = (f"{yes}。依照{c.where(p)}，{full_stop(r.sentence)}{exception}{_next_said(c, p, r.sentence)}"
                  f"{_limited_by(c, p)}")
    after = r.sentence.split(r.subject, 1)[-1]
    who = r.phrase if re.match(r"(?:和|及|以及|或者|、|与|等)", after) and r.phrase else r.subject
    steps = [f"1. 确定主体：问题问的是{who}的行为。",
             f"2. 检索法律：{c.where(p)}是一项{KIND_ZH[r.kind]}，主体为{who}。",
             f"3. 得出结论：{who}{r.modal}{full_stop(act)}"]
    return q, f"{conclusion}\n\n{_quote(c)}", "statute-rule", steps


def _term(d: Definition) -> str:
    """The defined term itself: 本规定所称信息网络 → 信息网络; 民法典第八百八十七条规定的“技术培训合同” → 技术培训合同."""
    inner = re.search(r"“([^“”]+)”", d.term)
    return inner.group(1) if inner else re.sub(r"^本(?:法|条例|细则|规定|解释|办法)中的|^.*所称的?", "", d.term)


def _definition(c: _Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
    d = c.rng.choice(p.definitions)
    # 本规定所称信息网络 → 信息网络; 民法典第八百五十一条第一款所称“新技术…” → 新技术…
    term = _term(d)
    q = f"依照{c.ref}，“{term}”是指什么？"
    answer = f"依照{c.where(p)}，{full_stop(d.sentence)}\n\n{_quote(c)}"
    steps = [f"1. 定位：“{term}”的法定含义规定在{c.where(p)}。", "2. 以条文定义为准，不用学理概括替代。"]
    return q, answer, "statute-definition", steps


def _deadline(c: _Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
    q = f"{c.where(p)}规定了什么期限？"
    # whole sentences: a ；-part alone may lose its subject (…；本法第十条…的权利的保护期为五十年)
    whole = [s for s in split_outside(p.text.replace("\n", ""), "。") if DEADLINE.search(s)] or p.deadlines
    lines = "\n".join(f"{i}. {full_stop(s)}" for i, s in enumerate(whole, 1))
    answer = f"{c.where(p)}规定的期限是：\n{lines}\n\n{_quote(c)}"
    steps = [f"1. 定位：{c.where(p)}。", "2. 找出期限的长度、起算点和届满的后果，照原文回答。"]
    return q, answer, "statute-deadline", steps


def _recite(c: _Context) -> tuple[str, str, str, list[str]]:
    q = c.rng.choice(("请写出{r}的条文原文。", "{r}的原文是什么？")).format(r=c.ref)
    why = f"\n\n（{ROLE_NOTES[c.reading.role]}。）" if not c.reading.substantive else ""  # a lawyer's note, not the data's
    answer = f"{c.ref}规定：\n“{c.text}”{_notes(c)}{why}"
    steps = [f"1. 定位条文：{c.ref}。", f"2. 照{c.label}文本的原文写出，不增删改写。"]
    return q, answer, "statute-recite", steps


_DATE = re.compile(rf"自(?P<y>{YEAR})年(?P<m>{NUMERAL})月(?P<d>{NUMERAL})日起施行")


def written_date(text: str) -> date | None:
    """The date an effective-date article's words carry: 自1985年4月1日起施行 → 1985-04-01."""
    if not (m := _DATE.search(text)):
        return None
    y = m["y"] if m["y"].isdigit() else "".join(str(chinese_to_int(ch)) if ch not in "〇零" else "0" for ch in m["y"])

    def num(s: str) -> int:
        return int(s) if s.isdigit() else chinese_to_int(s)

    try:
        return date(int(y), num(m["m"]), num(m["d"]))
    except ValueError:
        return None


def _effective(c: _Context) -> tuple[str, str, str, list[str]]:
    title = c.ref.split("》")[0] + "》"
    q = f"{title}（{c.label}文本）自何时起施行？"
    said = written_date(c.text)
    quote = f"{c.ref}规定：“{c.text}”{_notes(c)}"
    if c.doc is None or c.doc.effective is None:
        answer = f"{quote}\n条文所载的是该文件的施行日期；该文件此后可能修改过，请核对现行有效版本的施行日期。"
    elif said is not None and said != c.doc.effective:
        answer = (f"{quote}\n这是该文件最初的施行日期。{c.label}文本自{c.doc.effective.isoformat()}起施行，"
                  f"{'是现行有效的文本' if c.current else '现已不是现行有效的文本'}；问现行规定的施行时间，应当以此为准。")
    else:
        answer = f"{quote}\n{c.label}文本自{c.doc.effective.isoformat()}起施行。"
    steps = ["1. 区分：条文所载日期可能是最初的施行日期，修改后的文本另有施行日期。",
             f"2. 查版本：{c.label}文本" + (f"自{c.doc.effective.isoformat()}起施行。" if c.doc and c.doc.effective else "的施行日期需要核对。")]
    return q, answer, "statute-effective", steps


# 法律另有规定的，依照其规定: a pointer elsewhere, nothing to decide a case with.
_DEFERS = re.compile(r"^(?:依照|从|适用|按照)其规定")


def _sets_the_scene(first: Paragraph) -> bool:
    """A first paragraph that opens with a condition (指定中国的领土延伸申请办理转让的，…): the later paragraphs
    speak within it, and a scenario built from one of them alone would leave it out."""
    return bool(first.conditions) and first.text.startswith(first.conditions[0].condition)


def _second(c: _Context) -> tuple[str, str, str, list[str], str]:
    """The second pair: (question, answer, template, steps, id suffix)."""
    if c.reading.role == EFFECTIVE_DATE:
        return (*_effective(c), "in-force")
    if not c.reading.substantive:
        return (*_recite(c), "recite")
    ps = c.reading.paragraphs
    lists = [p for p in ps if p.items and p.items.nature != "list" and _usable(p.text)]
    if lists:
        p = c.rng.choice(lists)
        make = _cumulative if p.items.nature == CUMULATIVE else _prohibited if p.items.prohibition else _alternative
        return (*(make(c, p) or _listed(c, p)), "scenario")
    conditions = [(p, k) for p in ps for k in p.conditions
                  if _usable(k.sentence) and len(k.context + k.condition) >= 12
                  and (not (_LEANING.match(k.condition) or _leans_on_that(k.condition))
                       or (bool(k.context or k.leans_on) and _LEANS.search(k.condition)))
                  # a later sentence's condition often shares a premise the scenario would drop (对于…, 为扶助贫困…,
                  # 事后…, 被请求人提出的…): only the first of its paragraph, or one whose context the question states
                  and (k.opening or bool(k.context))
                  and not modal_of(k.condition)
                  and not _DEFERS.match(k.consequence) and "的，" not in k.context  # no condition nested in another
                  and not re.search(r"还(?:应当|可以|须)", k.consequence)  # 申请书还应当包括…: adds to what came before
                  and (k.opening or not p.text.startswith("为"))  # 为扶助贫困，…: a later rule holds only in that regime
                  and not (p.number > 1 and _sets_the_scene(ps[0]))]
    c.rng.shuffle(conditions)
    for p, k in conditions:
        if made := _condition(c, p, k):
            return (*made, "scenario")
    rules = [(p, r) for p in ps for r in p.rules if _usable(r.sentence) and not _LEANING.match(r.premise or r.subject)]
    if rules:
        return (*_rule(c, *c.rng.choice(rules)), "scenario")
    for pick, make in (([p for p in ps if p.definitions and _usable(p.text)], _definition),
                       ([p for p in ps if p.items and _usable(p.text)], _listed),
                       # a paragraph with items: its sentences joined would run the items together
                       # …and one that sets a period (how periods are counted sets none: 期限以年或者月计算的…)
                       ([p for p in ps if p.deadlines and not p.items and _usable(*p.deadlines)
                         and re.search(rf"{NUMERAL}个?(?:日|天|工作日|个月|月|年)(?:内|以内|之内|以上|以下)"
                                       rf"|(?:期限?|期间)为{NUMERAL}", p.text)], _deadline)):
        if pick:
            return (*make(c, c.rng.choice(pick)), "scenario")
    return (*_recite(c), "recite")


def statute_pairs(record: Record, seed: int, as_of: date | None = None) -> list[QAPair]:
    """The meaning pair and the structural (or recitation) pair of one statute record, as the text stands on
    ``as_of`` (today)."""
    d = record.data
    law, version, article, text = d["law"], d["version"], d["article"], d["text"].strip()
    rng = seeded_rng(seed, "statute", law, version, article)
    day = as_of or date.today()
    doc = statute_document(law, version)
    status = document_status(doc, day) if doc else statute_status(d, day)
    current = status not in NOT_IN_FORCE
    ref = format_citation(law, cited_label(article), "" if current else version)
    reading = read_article(text)
    source = {"kind": "statute", "law": law, "version": version, "article": article,
              "effective": doc.effective.isoformat() if doc and doc.effective else None, "status": status,
              "role": reading.role, **({"reason": reading.reason} if reading.reason else {})}
    base_id = f"statute/{law}（{version}）/{article}"
    source_text = f"{ref}（{doc.describe(day) if doc else version}）：{text}"
    label = f"{version}年" if version.isdigit() else version  # 2020年文本, 2020修正文本
    c = _Context(ref, text, reading, _version_note(doc, status, label), rng, doc, label, current, article, day)

    question, answer, steps = _meaning(c)
    meaning = QAPair(f"{base_id}/meaning", dict(source), "statute-meaning", question, answer, steps, source_text)
    q, a, template, steps, suffix = _second(c)
    q = _self_named(q, law)
    if not current:  # an old text applies only to what happened while it was the law
        title = format_citation(law, "", version)
        until = f"{doc.effective.isoformat()}起、{doc.superseded_on.isoformat()}之前" \
            if doc and doc.effective and doc.superseded_on else "该文本施行期间"
        q += f"（相关行为发生在{until}，适用当时施行的{title}。）"
    second = QAPair(f"{base_id}/{suffix}", dict(source), template, q, f"{a}\n{c.note}", steps, source_text)
    return [meaning, second]
