"""Statute pairs: two per article, built from the article read as structure (``qa_norms.read_article``).

* meaning — the article quoted, then its structure paragraph by paragraph (``qa_statute_meaning``).
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

import re
from dataclasses import dataclass
from datetime import date

from ecmiip.core.citations import cited_label, format_citation
from ecmiip.core.numerals import NUMERAL, YEAR, chinese_to_int, int_to_chinese
from ecmiip.core.statutes import store
from ecmiip.train.article_roles import EFFECTIVE_DATE, ROLE_NOTES
from ecmiip.train.hardness import NOT_IN_FORCE, document_status, statute_document, statute_status
from ecmiip.train.mipld import Record
from ecmiip.train.qa_norms import (
    ACTORS,
    ALTERNATIVE,
    CUMULATIVE,
    DEADLINE,
    LIST_MARK,
    NATURE_ZH,
    Condition,
    ItemList,
    Paragraph,
    Rule,
    actor_in,
    full_stop,
    implied_party,
    is_authority,
    modal_of,
    opening_actor,
    read_article,
    sentences,
    split_outside,
)
from ecmiip.train.qa_pairs import QAPair, seeded_rng, structured
from ecmiip.train.qa_statute_context import (
    COMPANIES,
    GENERIC,
    KIND_ZH,
    LEANING,
    LEANS,
    MODAL_WORDS,
    PERSONS,
    Context,
    fact,
    leans_on_that,
    notes,
    quote,
    self_named,
    term,
    usable,
    version_note,
)
from ecmiip.train.qa_statute_meaning import meaning_pair

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


def _alternative(c: Context, p: Paragraph) -> tuple[str, str, str, list[str]] | None:
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
    named = next((a for a in map(opening_actor, before.split("，")) if a), "") or opening_actor(fact(item)) \
        or (before if re.search(r"(?:工作人员|人员)$", before) else "")  # 商标局、商标评审委员会工作人员 + 是…近亲属
    # an act or a situation with nobody in it (为…制造, 未经…许可使用, 提出…请求) gets a party; so does a
    # permission nobody in the facts could use (经…同意，可以查阅)
    party = c.party("") if slot and not named and (_DEED.match(item) or asked and asked.permission) else ""
    thing = _THING_SLOT.search(il.lead) if il.condition is None and il.lead.count("，") <= 1 else None
    if slot and (asked or party or named):
        told = fact(_unrepeated(before, item))
        if named and re.match(r"[^，]{2,20}(?:程序|过程|期间|阶段)中，", told):
            told = "在" + told  # …的人员 + 在复审或者无效宣告程序中，曾参与…
        # 国际申请 + 申请人办理…: the item's own subject belongs to the condition's (国际申请的申请人)
        own = opening_actor(fact(item))  # 使用者认为…组织 + 使用者要求查阅…，组织拒绝提供: the item as it stands
        if "认为" in before and own and not before.endswith(own):
            before, told = "", fact(item)
        joint = slot.group(1) or ("的" if before and told == fact(item) and opening_actor(told) else "")
        facts = _CARVE_OUT.sub("", f"{before}{joint}{party}{told}")
        if not asked:
            ask = "会产生什么法律后果"
        elif asked.permission:
            ask = f"{party or named}{asked.question}"
        else:
            ask = f"{party}的行为{asked.question}" if party and asked.question.startswith("是否") else asked.question
        q = f"{facts}。依照{c.ref.split('》')[0]}》的规定，{ask}？"
    elif thing and (asked := _asked(_THING_SLOT.sub(_thing(item, thing.group(1)), il.lead, count=1), True)):
        facts = f"存在“{fact(item)}”的情形"
        q = f"依照{c.ref.split('》')[0]}》的规定，{asked.question}？"
    elif not about:  # a matter somebody handles, or nobody: what happened cannot be told as a client's case
        return None
    else:  # the items are about the actor (审查员有下列情形之一的): one of them is found in them
        cond = f"{fact(il.condition.condition)}，" if il.condition and "下列" not in il.condition.condition else ""
        facts = f"存在“{fact(item)}”的情形"
        # 由国务院著作权管理部门责令限期改正: what happens to the actor is somebody else's act
        done_to = consequence.startswith("由") or opening_actor(consequence) not in ("", il.subject)
        ask = f"{actor}会面临什么法律后果" if done_to else f"对此{actor}应当如何处理"
        q = f"{cond}经查明，{actor}存在以下情形：“{fact(item)}”（该条所列的其他情形均不存在）。依照法律规定，{ask}？"
    if re.search(r"除[^，]*(?:外|以外)，|另有规定", facts):  # the law's carve-out is no fact of the client's
        return None
    law = f"{quote(c)}\n{c.where(p)}以“{il.lead}”引出{len(il.items)}项，{NATURE_ZH[ALTERNATIVE]}；第（{num}）项为“{item}”。"
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
    who = opening_actor(fact(item))
    if who and before.endswith(who):
        return item[len(who):]
    overlap = next((n for n in range(min(len(before), len(item)), 2, -1) if before.endswith(item[:n])), 0)
    return item[overlap:]  # …所开发的软件 + 开发的软件是…


def _thing(item: str, noun: str | None) -> str:
    """An item in the place of 下列… in a lead-in: 下列标志 → 带有民族歧视性的标志, 对下列各项 → 对“科学发现”."""
    if noun and noun not in ("各项", "情形", "行为"):
        return f"{item}{noun}" if item.endswith("的") else f"“{item}”{noun}"
    return f"“{fact(item)}”"


_ITEM_EXCEPTION = re.compile(r"[，；]\s*(但(?:是，?)?.+?除外)$")


def _prohibited(c: Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
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
    law = (f"{quote(c)}\n{c.where(p)}是一项禁止性规定，以“{il.lead}”引出{len(il.items)}项，"
           f"实施其中任何一项即违反该规定；第（{num}）项为“{item}”。")
    caveat = f"但应注意该项的除外规定：“{exception}”，属于这种情况的不在禁止之列。" if exception else ""
    conclusion = (f"不能。{c.where(p)}规定“{il.lead}”，{actor}的行为属于第（{num}）项所列的行为，"
                  f"违反该规定。{caveat}")
    steps = [f"1. 找出规范：{c.where(p)}以“{il.lead}”引出{len(il.items)}项，是禁止性规定。",
             f"2. 确定主体：禁止约束的是{subject or '实施所列行为的人'}，本案中是{actor}。",
             f"3. 对照事实：{actor}的行为与第（{num}）项“{act}”相符" + ("，再核对该项的除外情形。" if exception else "。"),
             f"4. 得出结论：{actor}不能这样做。"]
    return q, structured(full_stop(facts), law, conclusion), "statute-prohibition", steps


def _cumulative(c: Context, p: Paragraph) -> tuple[str, str, str, list[str]] | None:
    il = p.items
    if any(re.match(r"[^，；]*的(?:[，,]|$)|(?:如|若)", re.sub(r"（[^）]*）|\([^)]*\)", "", i)) for i in il.items):
        return None  # 申请人委托专利代理机构的，…: an item that applies only sometimes is no requirement of all
    k = c.rng.randrange(len(il.items))
    done, num = il.items[k], int_to_chinese(k + 1)
    subject = il.subject
    actor = c.actor(subject)
    if not actor:  # whose requirements they are is not told (当事人 for 网络服务提供者): a list question instead
        return None
    cond = f"{fact(il.condition.condition)}。" if il.condition and "下列" not in il.condition.condition else ""
    did = next((w for k, w in (("载明", "只载明了"), ("写明", "只写明了"), ("提交", "只提交了"), ("具备", "只具备"),
                                 ("符合", "只符合")) if k in il.lead), "已经做到了")
    q = (f"{cond}{actor}{did}{c.where(p)}所列的第（{num}）项：“{done}”，认为这样就已符合该规定。"
         "这种理解是否正确？")
    items = "\n".join(f"（{int_to_chinese(i)}）{t}" for i, t in enumerate(il.items, 1))
    rest = "、".join(f"第（{int_to_chinese(i)}）项" for i in range(1, len(il.items) + 1) if i != k + 1)
    law = f"{quote(c)}\n{c.where(p)}以“{il.lead}”引出下列{len(il.items)}项，{NATURE_ZH[CUMULATIVE]}：\n{items}"
    conclusion = (f"这种理解不正确。{c.where(p)}所列各项须同时具备，只做到第（{num}）项还不够，"
                  f"{subject or actor}还必须满足{rest}。")
    steps = [f"1. 找出规范：{c.where(p)}以“{il.lead}”引出{len(il.items)}项。",
             "2. 判断列举的性质：各项是并列的要求，须同时具备，不是择一即可。",
             f"3. 对照事实：{actor}只满足了第（{num}）项，{rest}尚未满足。",
             "4. 得出结论：不符合该规定，应当补足其余各项。"]
    return q, structured(f"{actor}只满足了第（{num}）项。", law, conclusion), "statute-cumulative", steps


def _listed(c: Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
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
# What a court does, in an interpretation whose consequence names nobody (应当根据…，确定案件的性质和案由).
_COURT_ACT = re.compile(r"^(?:应当|可以|一般)?(?:依法)?(?:根据[^，]*，)?(?:确定|认定|判决|判令|裁定|驳回|受理|按照[^，]*(?:处理|确定))")
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


# What is done to whoever the condition names (追究责任, 给予处分, 责令改正, 吊销…), not what they do.
_SANCTION = re.compile(r"追究|处分|处罚|责令|罚款|罚金|吊销|没收|警告|有期徒刑|拘役|承担[^，。；]{0,8}责任")


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
        (bool(re.search(r"有几|几项|多少|哪些", facts)), "facts that read as a question (权利要求书有几项权利要求)"),
        (any(m[0] not in facts and (_unroled(ask[: m.start()]) or not (_opens_with_actor(facts) or "他人" in facts))
             for m in _NAMES.finditer(ask)),
         "a party the facts never name, in no role the rule gives (相关当事人甲公司) or in facts about nobody"),
        (len(grams) != len(set(grams)), "the same words twice (two grievances joined)"),
        (bool(_DEED.match(facts) or _ACT_FIRST.match(facts)) and not _opens_with_actor(facts),
         "an act nobody in the facts does (故意为他人实施混淆行为提供…便利条件)"),
    )
    return next((why for doubt, why in doubts if doubt), "")


def _short_names(c: Context) -> set[str]:
    """The short names of other documents this one gives in its other articles (…具体衔接办法（以下简称衔接办法））."""
    return {name for article, name in _short_names_of(c.doc.key) if article != c.article} if c.doc else set()


def _short_names_of(key: str) -> tuple[tuple[str, str], ...]:
    """(article, short name) for each short name of another document a stored document gives; kept on the
    store (rebuilt when the store is), as its renumbering alignments are."""
    found = store().__dict__.setdefault("_short_names", {})
    if key not in found:
        found[key] = tuple((a.article, m[1]) for a in store().articles_of.get(key, ()) for m in re.finditer(
            r"以下(?:简称|称)([^）)，、]{1,10}(?:办法|规定|决定|条例|协定|公约|条约))[）)]", a.text))
    return found[key]


def _said_too(c: Context, p: Paragraph, k: Condition) -> str:
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


def _condition(c: Context, p: Paragraph, k: Condition) -> tuple[str, str, str, list[str]] | None:
    actor = c.actor(k.subject)
    modal = "可以" if modal_of(k.consequence) == "有权" else modal_of(k.consequence)
    # 除本条例另有规定的外，…: the carve-out is the law's, not a fact
    facts = self_named(_CARVE_OUT.sub("", fact(k.condition)), c.ref[1:].split("》")[0])
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
    elif actor and actor != k.subject and facts.startswith(k.subject) and \
            not facts[len(k.subject):].startswith(("合意", "共同", "协商", "双方")):  # 当事人合意…: more than one
        asker = actor  # 任何单位或者个人认为… → 乙公司认为…，乙公司可以…; 布图设计权利人乙公司…，…乙公司可以…
        facts = actor + facts[len(k.subject):]  # 当事人对裁定不服 → 当事人甲公司对裁定不服
        ask = f"{asker}{_ASK[modal]}" if modal in _ASK else "会产生什么法律后果"
    elif not actor and (generic := next((g for g in GENERIC if g in facts), "")):
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
        qualified = k.consequence.split(k.subject)[0] if k.subject in GENERIC else ""
        if qualified and not qualified.startswith("任何"):  # 制造同样产品的单位或者个人应当…: ask about them
            actor = qualified + k.subject
        elif actor and k.subject in GENERIC and actor not in facts:  # …的，任何单位或者个人可以申请撤销: who asks
            facts = f"{actor}认为，{facts}"
        ask = f"{actor}{modal}如何处理" if actor and modal else "会产生什么法律后果"
    head = k.consequence.split(modal)[0].rstrip("，") if modal else ""
    if k.subject and k.subject in head and "的" in head.split(k.subject)[0] and not head.startswith("任何"):
        actor = head  # 其商品符合使用该地理标志条件的自然人、法人或者其他组织可以…: as qualified, no made-up name
        ask = f"{actor}{_ASK.get(modal, '会面临什么法律后果')}"
    if _RULING.match(k.consequence) or (c.ref.startswith("《最高人民法院") and _COURT_ACT.match(k.consequence)):
        # …的，应予支持 / 应当…确定案件的性质和案由: the court's, not the party's
        ask = f"人民法院{'可以' if modal == '可以' else '应当'}如何处理"
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
    elif not actor and not implied and (_DEED.match(facts) or _ACT_FIRST.match(facts)) and not _opens_with_actor(facts) \
            and not any(_opens_with_actor(x) for x in split_outside(facts, "，")[1:]):
        # (通过…鉴定，…，被诉侵权人主张…的: the duty is theirs, not a made-up party's)
        actor = "甲公司与乙公司" if facts.startswith("共同") else c.party("")  # 共同申请…: two of them
        facts = actor + facts
        own = modal in ("可以", "应当") and k.consequence.startswith(modal)  # 与著作权人订立…合同的，可以…备案
        ask = f"{actor}会面临什么法律后果" if _SANCTION.search(k.consequence) and not own else \
            f"{actor}{_ASK[modal]}" if own else \
            f"{actor}{ask}" if ask in _ASK.values() else ask  # 甲公司申请商标注册…，甲公司应当怎么做
    if k.context:  # 分案申请，可以保留原申请日，享有优先权的: the sentence's rule comes first
        facts = f"{self_named(k.context, law)}，{facts}"
    elif k.leans_on and ((LEANS.search(k.condition) and not _tiers(k.leans_on, k.condition))
                         or _shares_party(k.condition, k.leans_on)):
        if re.search(MODAL_WORDS, k.leans_on):  # …请求人可以撤回其请求；…撤回其请求的: the law's rule, no fact
            return None
        facts = f"{self_named(k.leans_on.rstrip('。；;'), law)}；{facts}"  # say the sentence before first
    if ask.endswith("会面临什么法律后果") and not _SANCTION.search(k.consequence):
        ask = "会产生什么法律后果"  # a ruling in the party's favour, a deemed effect: nothing it faces
    if _scenario_doubt(facts, ask) or re.search(MODAL_WORDS, k.context):  # …注册人可以申请续展: a rule, no fact
        return None
    if any(name in facts for name in _short_names(c)):  # 衔接办法: a name another article of the text defines
        return None
    q = f"{facts}。依照{c.ref.split('》')[0]}》的规定，{ask}？"
    exception = f"但应注意该款的例外：{full_stop(re.sub(r'^但(?:是)?，?', '', k.exception))}" if k.exception else ""
    conclusion = (f"这一情形正是{c.where(p)}规定的“{k.condition}”，因此{full_stop(k.consequence)}{exception}"
                  f"{_said_too(c, p, k)}")
    steps = [f"1. 梳理事实：{full_stop(facts)}",
             f"2. 检索法律：{c.where(p)}规定，“{k.condition}”，{full_stop(k.consequence)}",
             "3. 适用分析：事实与该款的适用条件一致" + ("，同时核对例外情形是否存在。" if k.exception else "。"),
             f"4. 得出结论：{full_stop(k.consequence)}"]
    return q, structured(full_stop(facts), quote(c), conclusion), "statute-condition", steps


def _next_said(c: Context, p: Paragraph, sentence: str) -> str:
    """The paragraph's next sentence, which may qualify or shift this one (…九个月内做出决定；有特殊情况需要延长的，
    可以延长三个月; 表演者应当取得著作权人许可…。演出组织者组织演出，由该组织者取得…)."""
    parts = sentences(p.text.replace("\n", ""))
    at = parts.index(sentence) if sentence in parts else -1
    if at < 0 or at + 1 >= len(parts):
        return ""
    return f"此外，{'该款' if len(c.reading.paragraphs) > 1 else '该条'}还规定：“{parts[at + 1].rstrip('。；;')}”。"


def _limited_by(c: Context, p: Paragraph) -> str:
    """The next paragraph when it limits this one (…不受前款规定的限制, 前款…除外, 前款规定不适用于…)."""
    o = next((o for o in c.reading.paragraphs if o.number == p.number + 1), None)
    if o is None or "前款" not in o.text or not re.search(r"不受前款|除外|不适用|但", o.text):
        return ""
    return f"但应注意，{c.where(o)}规定：“{o.text.rstrip('。')}”。"


def _rule(c: Context, p: Paragraph, r: Rule) -> tuple[str, str, str, list[str]]:
    # ask the first of several acts: 不得违反…，不得损害…; 不得许可…，并按照约定支付…; 接受委托…，也可以…
    act = re.split(r"，即|；|，(?:并且|也|亦)?(?:不得|可以)|，并(?:且)?(?=按照|支付|向|在|将|应当)", r.act, maxsplit=1)[0]
    first, _, then = act.partition("，")  # 提取管理费，管理费按照…提取: the next clause has a subject of its own
    if then and any(then.startswith(first[-n:]) for n in (2, 3, 4)):
        act = first
    act = re.split(r"，(?=其[^，]{1,6}(?:由|应|为))", act, maxsplit=1)[0]  # 支付合理的报酬，其数额由双方协商
    clauses = act.split("，")  # …承担举证责任，发行者、出租者应当…: a second subject's own duty
    act = "，".join(clauses[: next((i for i, x in enumerate(clauses) if i and re.search(MODAL_WORDS, x)
                                    and not re.match(rf"(?:也|并|还|均|都)?(?:{MODAL_WORDS})", x)), len(clauses))])
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
    return q, f"{conclusion}\n\n{quote(c)}", "statute-rule", steps


def _definition(c: Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
    d = c.rng.choice(p.definitions)
    defined = term(d)  # 本规定所称信息网络 → 信息网络; 民法典第八百五十一条第一款所称“新技术…” → 新技术…
    q = f"依照{c.ref}，“{defined}”是指什么？"
    answer = f"依照{c.where(p)}，{full_stop(d.sentence)}\n\n{quote(c)}"
    steps = [f"1. 定位：“{defined}”的法定含义规定在{c.where(p)}。", "2. 以条文定义为准，不用学理概括替代。"]
    return q, answer, "statute-definition", steps


def _deadline(c: Context, p: Paragraph) -> tuple[str, str, str, list[str]]:
    q = f"{c.where(p)}规定了什么期限？"
    # whole sentences: a ；-part alone may lose its subject (…；本法第十条…的权利的保护期为五十年)
    whole = [s for s in split_outside(p.text.replace("\n", ""), "。") if DEADLINE.search(s)] or p.deadlines
    lines = "\n".join(f"{i}. {full_stop(s)}" for i, s in enumerate(whole, 1))
    answer = f"{c.where(p)}规定的期限是：\n{lines}\n\n{quote(c)}"
    steps = [f"1. 定位：{c.where(p)}。", "2. 找出期限的长度、起算点和届满的后果，照原文回答。"]
    return q, answer, "statute-deadline", steps


def _recite(c: Context) -> tuple[str, str, str, list[str]]:
    q = c.rng.choice(("请写出{r}的条文原文。", "{r}的原文是什么？")).format(r=c.ref)
    why = f"\n\n（{ROLE_NOTES[c.reading.role]}。）" if not c.reading.substantive else ""  # a lawyer's note, not the data's
    answer = f"{c.ref}规定：\n“{c.text}”{notes(c)}{why}"
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


def _effective(c: Context) -> tuple[str, str, str, list[str]]:
    title = c.ref.split("》")[0] + "》"
    q = f"{title}（{c.label}文本）自何时起施行？"
    said = written_date(c.text)
    quote = f"{c.ref}规定：“{c.text}”{notes(c)}"
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
    """A first paragraph that opens with a condition (指定中国的领土延伸申请办理转让的，…), a procedure (在无效宣告
    请求的审查过程中) or a pointer (依照前条第一款…): the later paragraphs speak within it, and a scenario built from
    one of them alone would leave it out."""
    return (bool(first.conditions) and first.text.startswith(first.conditions[0].condition)
            or bool(re.match(r"在[^，]{2,24}(?:过程|程序|期间)中|依照前条", first.text)))


def _second(c: Context) -> tuple[str, str, str, list[str], str]:
    """The second pair: (question, answer, template, steps, id suffix)."""
    if c.reading.role == EFFECTIVE_DATE:
        return (*_effective(c), "in-force")
    if not c.reading.substantive:
        return (*_recite(c), "recite")
    ps = c.reading.paragraphs
    lists = [p for p in ps if p.items and p.items.nature != "list" and usable(p.text)]
    if lists:
        p = c.rng.choice(lists)
        make = _cumulative if p.items.nature == CUMULATIVE else _prohibited if p.items.prohibition else _alternative
        return (*(make(c, p) or _listed(c, p)), "scenario")
    conditions = [(p, k) for p in ps for k in p.conditions
                  if usable(k.sentence) and len(k.context + k.condition) >= 12
                  and (not (LEANING.match(k.condition) or leans_on_that(k.condition))
                       or (bool(k.context or k.leans_on) and LEANS.search(k.condition)))
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
    rules = [(p, r) for p in ps for r in p.rules if usable(r.sentence) and not LEANING.match(r.premise or r.subject)
             and not (p.number > 1 and _sets_the_scene(ps[0])) and not leans_on_that(r.sentence)]
    if rules:
        return (*_rule(c, *c.rng.choice(rules)), "scenario")
    for pick, make in (([p for p in ps if p.definitions and usable(p.text)], _definition),
                       ([p for p in ps if p.items and usable(p.text)], _listed),
                       # a paragraph with items: its sentences joined would run the items together
                       # …and one that sets a period (how periods are counted sets none: 期限以年或者月计算的…)
                       ([p for p in ps if p.deadlines and not p.items and usable(*p.deadlines)
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
    c = Context(ref, text, reading, version_note(doc, status, label), rng, doc, label, current, article, day)

    question, answer, steps = meaning_pair(c)
    meaning = QAPair(f"{base_id}/meaning", dict(source), "statute-meaning", question, answer, steps, source_text)
    q, a, template, steps, suffix = _second(c)
    q = self_named(q, law)
    if not current:  # an old text applies only to what happened while it was the law
        title = format_citation(law, "", version)
        until = f"{doc.effective.isoformat()}起、{doc.superseded_on.isoformat()}之前" \
            if doc and doc.effective and doc.superseded_on else "该文本施行期间"
        q += f"（相关行为发生在{until}，适用当时施行的{title}。）"
    second = QAPair(f"{base_id}/{suffix}", dict(source), template, q, f"{a}\n{c.note}", steps, source_text)
    return [meaning, second]
