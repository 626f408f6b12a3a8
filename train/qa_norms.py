"""An article read as structure, not as strings: its paragraphs (款), each with its enumerated items (项)
kept under their lead-in and marked cumulative or alternative, its conditions as whole clauses (a 的-clause
with its consequence and its exception), its rules (who 不得 / 应当 / 可以 do what), definitions, deadlines,
amounts and cross-references; and the article's role — substantive, or one that only organises the text
(purpose, competence, self-reference, transition, entry into force), which gets recitation pairs only.
The statute templates (``qa_statute_templates``) build their questions and answers from this reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from ecmiip.core.numerals import ITEM_NUMERAL, NUMERAL, NUMERAL_CHARS, STATUTE_NUMERAL
from ecmiip.core.statutes import ITEM_MARK
from ecmiip.train.article_roles import ORGANISATIONAL, ROLE_REASONS, SUBSTANTIVE, article_roles
from ecmiip.train.hardness import HardnessConfig

_ITEM = re.compile(rf"^{ITEM_MARK}\s*")
_INLINE_ITEMS = re.compile(ITEM_MARK)

# ---------------------------------------------------------------- text helpers


def flat(text: str) -> str:
    """The text on one line."""
    return text.strip().replace("\n", " ")


def quote_depths(text: str) -> list[int]:
    """How deep in “quotations” each character of ``text`` stands."""
    depths, depth = [], 0
    for ch in text:
        if ch == "“":
            depth += 1
        depths.append(depth)
        if ch == "”" and depth:
            depth -= 1
    return depths


def split_outside(text: str, marks: str) -> list[str]:
    """``text`` split at any of ``marks`` outside brackets and quotes (（指申请日；有优先权的，指优先权日）
    stays whole)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += 1 if ch in "（(“《" else -1 if ch in "）)”》" else 0
        if ch in marks and depth <= 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def sentences(text: str) -> list[str]:
    """Sentences split at 。 and ； outside brackets, without their ending punctuation."""
    return [s.strip().rstrip("：:，") for s in split_outside(text, "。；;") if s.strip().rstrip("：:，")]


def first_sentences(text: str, n: int = 1, limit: int = 160) -> str:
    """The first ``n`` sentences (split at 。 only), shortened to ``limit`` characters at a clause end."""
    parts = [s for s in re.split(r"(?<=。)", text.strip()) if s.strip()]
    out = "".join(parts[:n]).strip() or text.strip()
    if len(out) <= limit:
        return out
    cut = max(out.rfind(p, 0, limit) for p in "。；，")
    return out[: cut if cut > 0 else limit].rstrip("，；、") + "……"


def full_stop(text: str) -> str:
    """Text ending with one 。 (or its own ？！)."""
    text = text.strip().rstrip("，；、：")
    if text.endswith(("”", "）")):  # …构成“以不正当手段抢先注册”。 but “…。”: the quote's own stop
        return text if text[-2:-1] in ("。", "？", "！") else text + "。"
    return text if text.endswith(("。", "？", "！")) else text + "。"


def _chunks(sentence: str) -> list[str]:
    """Clauses split at commas outside brackets (（有优先权的，指优先权日） stays whole)."""
    return [c.strip() for c in split_outside(sentence, "，,") if c.strip()]


# A reference to another law's article (专利法第二十六条): its numbering may be an older version's.
FOREIGN_REFERENCE = re.compile(rf"(?<!本)(?:法|条例|细则|规定|解释|办法)(?:（\d{{4}}[^）]*）)?第{STATUTE_NUMERAL}条")


# ---------------------------------------------------------------- who can be the subject of a rule

# Longest first: the subject of a rule is the first of these in the clause that names it.
ACTORS = tuple(sorted((
    "国务院专利行政部门", "国务院知识产权行政部门", "国务院著作权主管部门", "著作权主管部门", "著作权行政管理部门",
    "国务院农业、林业主管部门", "审批机关", "品种权人", "人民法院", "人民检察院", "海关", "商标局", "国家知识产权局",
    "知识产权行政部门", "管理专利工作的部门", "专利代理机构", "专利代理师", "集体管理组织", "著作权集体管理组织",
    "专利权人", "专利申请人", "申请人", "发明人", "设计人", "被许可人", "许可人", "著作权人", "作者", "权利人",
    "商标注册人", "商标权人", "注册人", "经营者", "网络服务提供者", "侵权人", "被诉侵权人", "被告", "原告", "当事人",
    "利害关系人", "任何单位或者个人", "单位或者个人", "布图设计权利人", "出版者", "表演者", "录音录像制作者",
    "广播电台、电视台", "委托人", "受托人", "质权人", "出质人", "转让人", "受让人", "行为人", "犯罪嫌疑人",
    "录音制作者", "录像制作者", "制作者", "广播电台", "电视台", "请求人", "自然人", "公民", "律师",
    "被控侵权人", "被侵权人", "律师事务所", "审查员", "使用者", "技术调查官", "商标评审委员会", "收货人", "发货人",
), key=len, reverse=True))
AUTHORITIES = ("部门", "人民法院", "人民检察院", "海关", "商标局", "知识产权局", "机关", "委员会", "审查")
_ACTOR_RE = re.compile("|".join(map(re.escape, ACTORS)))


def actor_in(text: str) -> str:
    """The first actor named in ``text``, or ""."""
    m = _ACTOR_RE.search(text)
    return m.group(0) if m else ""


def is_authority(actor: str) -> bool:
    return any(a in actor for a in AUTHORITIES)


# Roles only a natural person holds (a scenario names a person, never a company); …师/…员/…官 are people too.
PERSON_ROLES = ("作者", "发明人", "设计人", "表演者", "自然人", "公民", "个人", "犯罪嫌疑人", "被告人", "律师",
                "专利代理师", "行为人")
# Roles only an organisation holds, named as such (甲专利代理机构), not as a company.
ORGANISATION_ROLES = re.compile(r"(?:机构|组织|电台|电视台|事务所)$")


def is_person(actor: str) -> bool:
    """Whether only a natural person can hold the role (发明人, 专利代理师); 制作者 and 出版者 need not be."""
    return actor in PERSON_ROLES or actor.endswith(("师", "员", "官")) or (
        actor.endswith("作者") and not actor.endswith("制作者"))


_OPENER = re.compile(r"^(?:但是|但|并且|并|且|凡是|凡|同时)")
# Before its subject a clause has at most a short qualifier (在先, 复审), a government (县级以上地方人民政府) or an
# attributive phrase (实行开放许可的); an actor after a
# preposition or verb (未经权利人许可, 对专利权人, 在权利人已经尽力举证, 可以不经著作权人许可) is an object.
_NOT_BEFORE_SUBJECT = re.compile(r"[对向经由被与和及给为按依据把将使未不从应除]|在(?!先)")
# … unless it is an attributive phrase (被授予国防专利权的, 普通使用许可合同的) that is no prepositional phrase.
_ATTRIBUTIVE = re.compile(r"^(?![对向经由与给按依据把将从])[^，]{1,20}的$")


# Words that narrow who an actor is and belong to its name (各高级人民法院, 复审请求人, 软件著作权人); any other
# word before an actor (文件送交专利代理机构) is not part of the subject.
QUALIFIERS = ("各", "各级", "各高级", "高级", "中级", "基层", "地方各级", "复审", "无效宣告", "软件", "在先", "原", "新",
              "国防", "中国", "外国", "境外", "境内", "国际", "涉外", "相关", "有关", "其他", "对方", "一方", "双方",
              "上级", "下级", "上一级", "国务院", "知识产权", "外国作品")


# After an actor: those the rule excludes (权利人和使用者以外的公民).
_EXCLUDED = re.compile(r"(?:(?:和|及|、)[^，]{1,10}?)?以外")


def opening_actor(clause: str) -> str:
    """The actor a clause opens with — its subject — or ""; the actor inside a 的-condition
    (著作权人声明不许使用的) is not the subject of what follows, so such a clause has none."""
    clause = _OPENER.sub("", clause.strip())
    m = _ACTOR_RE.search(clause)
    prefix = clause[: m.start()] if m else ""
    if m and re.match(r"(?:、[^，]{2,10}?)?(?:工作人员|人员)", clause[m.end():]):
        return ""  # 商标局、商标评审委员会工作人员: staff, not the organ
    if m and (re.match(r"保护|备案|总署", clause[m.end():]) or _EXCLUDED.match(clause[m.end():])):
        return ""  # 知识产权海关保护备案: a thing named after the actor; 权利人和使用者以外的公民: those excluded
    if m and clause[m.end(): m.end() + 1] == "的" and not clause[m.end():].startswith("的，"):
        return ""  # 国务院知识产权行政部门的工作人员: the department qualifies who acts
    if m and re.fullmatch(r"[^，的]{1,12}的[^，的]{2,8}", clause[m.end():]) and not re.search(_RULE_MODAL, clause):
        return ""  # 技术调查官提出的技术调查意见: the opinion is the subject, its author qualifies it
    if not m or clause.endswith("的") or not (_ATTRIBUTIVE.match(prefix) or prefix.endswith("人民政府") or (
            len(prefix) <= 6 and not _NOT_BEFORE_SUBJECT.search(prefix))):
        return ""
    # 各高级人民法院, 地方人民政府管理专利工作的部门: the qualifier binds too
    who = prefix + m.group(0) if prefix in QUALIFIERS or prefix.endswith("人民政府") else m.group(0)
    # 专利代理机构和专利代理师不得…: both are bound, not the first alone
    while joint := re.match(rf"(?:和|及|以及|或者|、)(?:{_ACTOR_RE.pattern})", clause[clause.index(who) + len(who):]):
        who += joint.group(0)
    return who


# ---------------------------------------------------------------- conditions and rules

MODALS = {"prohibition": "不得", "obligation": "应当", "permission": "可以"}
# 有权 as a permission (著作权人有权终止合同), not inside 享有权利, 专有权, 所有权, 权利人.
_HAS_RIGHT = r"(?<![享拥所专占持])有权(?![利人])"
_RULE_MODAL = rf"可以|应当(?!知道|认为|事人)|不得|必须|{_HAS_RIGHT}"
_EXCEPTION = re.compile(r"^(?:但是|但)")
_EXCEPTION_MARK = re.compile(r"^(?:但是|但)，?")  # 但是，…有下列情形之一的，不得…: the lead's own condition follows


def _conditional(chunk: str, lead: bool = False) -> bool:
    """A clause closing a 的-condition (not 为了…目的; 有下列情形之一的 only in an item list's lead-in)."""
    return (len(chunk) >= 4 and chunk.endswith("的") and not chunk.endswith("目的")
            and not chunk.startswith(("为了", "为")) and (lead or "下列" not in chunk))


@dataclass(frozen=True)
class Condition:
    """``condition``的，``consequence``（``exception``）: the 的-clause whole, with what follows from it."""

    sentence: str
    condition: str  # ends with 的
    consequence: str
    exception: str = ""
    subject: str = ""  # who the consequence binds or empowers, when named
    opening: bool = True  # the paragraph's first sentence: one further in may lean on the sentence before
    context: str = ""  # the rule the same sentence states before it (必须申请商标注册，未经核准注册的)
    leans_on: str = ""  # the part before a later one, which it may lean on (年费… ；专利权人未缴纳的)


@dataclass(frozen=True)
class Rule:
    """``premise``，``subject`` 不得/应当/可以 ``act``: a prohibition, duty or permission with its subject."""

    kind: str
    sentence: str
    subject: str
    act: str
    premise: str = ""
    phrase: str = ""  # the clause that names the subject: 专利权人与他人订立的专利实施许可合同
    said: str = ""  # the modal word as the text says it, when it is not the kind's usual one (有权)

    @property
    def modal(self) -> str:
        return self.said or MODALS[self.kind]


def read_condition(sentence: str, lead: bool = False) -> Condition | None:
    """The conditions of a sentence up to its last 的-clause before any 但是, the rest as consequence;
    ``lead``: the sentence introduces an item list (有下列情形之一的，…)."""
    parts = _chunks(sentence)
    main = next((i for i, c in enumerate(parts) if _EXCEPTION.match(c)), len(parts))
    last = max((i for i in range(main) if _conditional(parts[i], lead)), default=-1)
    if last < 0 or last + 1 >= main:
        return None
    # 分案申请，可以保留原申请日，享有优先权的，可以保留优先权日: a clause with its own modal ends a rule; the
    # condition starts after it
    # …公共利益的，由…责令…，违法经营额五万元以上的，可以并处…: an earlier condition already has its consequence
    start = 1 + max((i for i in range(last) if not parts[i].endswith("的") and (
        re.search(_RULE_MODAL, parts[i]) or any(_conditional(parts[j], lead) for j in range(i)))), default=-1)
    end = last + 1  # …的，法人或者非法人组织变更、终止后，…: the 后-clause is still the condition
    while end + 1 < main and parts[end].endswith("后") and not re.search(_RULE_MODAL, parts[end]):
        end += 1
    condition, consequence = "，".join(parts[start: end]), "，".join(parts[end: main])
    return Condition(sentence, condition, consequence, "，".join(parts[main:]), _subject(condition, consequence),
                     context="，".join(parts[:start]))


_MODAL_OR_VERB = re.compile(r"不得|应当|可以|必须|有权|不能|不予|予以|视为|依照|按照|由")


def _subject(condition: str, consequence: str) -> str:
    """Who the consequence binds: an actor named before its modal verb, else the actor the condition opens
    with (当事人对裁定不服的，可以起诉 → 当事人); an actor named after the verb is its object, not its subject."""
    m = _MODAL_OR_VERB.search(consequence)
    head = consequence[: m.start()] if m else consequence
    if who := next(filter(None, map(opening_actor, _chunks(head))), ""):
        return who
    head = head.strip("，, ")
    if head and re.search(r"(?:部门|委员会|机关|机构|局|法院|海关)$", head) and len(head) <= 20:
        return head  # an authority the list does not name (国家版权局…): still who acts
    if head and not head.startswith(("由", "对", "应", "可", "依", "按", "并", "但", "则", "即")):
        return ""  # 技术调查官可以…: somebody the law does not list acts, not the condition's actor
    opening = actor_in(condition[:12])
    if opening and re.match(rf"{re.escape(opening)}(?:、[^，]{{2,10}}?)?(?:工作人员|人员)", condition):
        return ""  # 商标局、商标评审委员会工作人员有下列情形之一的: the staff, not the organ
    if _EXCLUDED.match(condition[len(opening):]):
        return ""  # 权利人和使用者以外的公民…: those the rule excludes
    return opening if opening and condition.startswith(opening) else ""


_KIND_OF = {"不得": "prohibition", "应当": "obligation", "必须": "obligation", "可以": "permission", "有权": "permission"}


def _own_modals(sentence: str) -> Iterator[tuple[str, str]]:
    """(clause, modal word) for each modal the sentence's own clauses turn on: not 不应当 or 应当知道, nor one
    inside an attributive phrase (其他应当保密的信息) or a 的-condition (…可以得出唯一理解的)."""
    for chunk in _chunks(sentence):
        for m in re.finditer(_RULE_MODAL, chunk):
            if not chunk[: m.start()].endswith(("不", "其他")) and not chunk.endswith("的"):
                yield chunk, m.group(0)


def modal_kinds(sentence: str) -> list[str]:
    """The kind of each modal word the sentence turns on, in order (two 应当 of two bodies are two)."""
    return [_KIND_OF[word] for _, word in _own_modals(sentence)]


def modal_clause(sentence: str) -> str:
    """The clause the sentence's first own modal word stands in ("" when it has none)."""
    return next((chunk for chunk, _ in _own_modals(sentence)), "")


def modal_of(consequence: str) -> str:
    """The modal word a consequence turns on (不得, 应当, 可以), or ""."""
    m = re.search(f"{'|'.join(MODALS.values())}|{_HAS_RIGHT}", consequence)
    return m.group(0) if m else ""


def _subject_clause(parts: list[str]) -> tuple[int, str]:
    """(index, subject) of the clause before a modal that names its subject: the nearest one opening with an
    actor; a clause without its own subject (可以不经著作权人许可，但应当…) leans on one before it."""
    for i in range(len(parts) - 1, -1, -1):
        if re.search(r"(?:确定|变更|指定|选任|确认|任命)后$", parts[i]):
            continue  # 技术调查官确定或者变更后，应当告知…: the one appointed is not who acts
        if who := opening_actor(parts[i]):
            return i, who
    return -1, ""


# A modal the clause itself turns on, not one inside an attributive 的-phrase (其他应当保密的信息).
_OWN_MODAL = re.compile(rf"(?:{'|'.join(MODALS.values())})(?![^，]*的[^，的]{{1,4}}$)")


def read_rule(sentence: str, inherited: str = "") -> Rule | None:
    """A sentence whose subject 不得 / 应当 / 可以 do something; the subject is an actor the law names as
    such (``opening_actor``), else ``inherited``: the subject of the sentence this clause continues after ；
    (…，但应当按照规定支付报酬；著作权人声明不许使用的不得使用 → 录音制作者): the subject of the rule the part
    before it states. None when nobody can be told."""
    for kind, word in (*MODALS.items(), ("permission", "有权")):
        for m in re.finditer(_HAS_RIGHT if word == "有权" else word, sentence):
            before, after = sentence[: m.start()], sentence[m.end():]
            if before.endswith("不") or after.startswith(("知道", "认为")) or (word == "应当" and after.startswith("事人")):
                continue  # 不应当 / 应当知道 / 应当事人要求 (应 + 当事人): not a rule
            if len(after.strip()) < 2:
                continue
            parts = _chunks(before)
            at, subject = _subject_clause(parts)
            if at < 0:
                if not inherited:
                    continue
                return Rule(kind, sentence, inherited, after.strip("，, "), "，".join(parts), inherited,
                            "" if word == MODALS[kind] else word)
            premise = "，".join(parts[:at])
            # a clause with a modal of its own (专利代理师应当…承办业务，不得…) is no subject phrase
            phrase = subject if _OWN_MODAL.search(parts[at]) else re.sub(r"[，,]?(?:都|均|也|亦|仍|还)$", "", "，".join(parts[at:]))
            return Rule(kind, sentence, subject, after.strip("，, "), premise, phrase, "" if word == MODALS[kind] else word)
    return None


# Who may be aggrieved by a decision, most specific first: the article's own party names it.
_AGGRIEVED = ("申请人", "专利权人", "商标注册人", "品种权人", "布图设计权利人", "权利人", "请求人", "当事人")


# A condition that opens with the act itself (销售明知是…的, 假冒他人专利…的): whoever does it.
_ACT_OPENING = re.compile(r"^(?:销售|假冒|伪造|擅自|故意|以营利为目的|侵犯|违反|有下列)")


def implied_party(article: str, condition: str) -> str:
    """The party a condition without a subject is about, as the article implies: who 对…决定不服 is the
    party the article names (专利权人, 申请人…), else 当事人; who does the act a condition opens with
    (销售明知是假冒注册商标的商品…的) is the 行为人; "" for any other condition."""
    if _ACT_OPENING.match(condition):
        return "行为人"
    if "不服" not in condition:
        return ""
    named = {m.group(0) for m in _ACTOR_RE.finditer(article.replace(condition, ""))}
    return next((who for who in _AGGRIEVED if who in named), "当事人")


# ---------------------------------------------------------------- item lists

ALTERNATIVE, CUMULATIVE, LISTED = "alternative", "cumulative", "list"
NATURE_ZH = {ALTERNATIVE: "具备其中任何一项即适用", CUMULATIVE: "各项须同时具备，缺一不可", LISTED: "逐项列举"}


def item_nature(lead: str) -> str:
    """Whether the items of a lead-in are alternatives (之一, 下列各项, a list of prohibited acts),
    cumulative requirements (同时具备, 下列条件/手续/要求 that must be met) or a plain list (包括…)."""
    if re.search(r"下列(?:方式|途径|方法)之一|享有下列|包括下列", lead):  # a choice of procedure, rights held together
        return LISTED
    if re.search(r"同时具备|同时符合|下列(?:条件|要求|手续|事实)|(?:应当|必须|须)(?:具备|符合|办理|满足|提交|载明|写明)", lead):
        return CUMULATIVE
    listed = lead[lead.find("下列"):] if "下列" in lead else ""  # 不属于新产品的，…下列事实: the negation is the premise's
    if re.search(r"之一|下列各项|任何一项|下列行为|下列侵犯", lead) or (
            listed and re.search(r"不得|不予|不授予|不视为|不构成|不属于|禁止|视为", listed)):
        return ALTERNATIVE
    return LISTED


@dataclass(frozen=True)
class ItemList:
    lead: str  # without its closing colon
    items: tuple[str, ...]
    nature: str
    condition: Condition | None = None  # the lead's own 的-clause: 有下列情形之一的，…
    rule: Rule | None = None
    tail: str = ""  # the rest of the lead's sentence (情节严重的，…；构成犯罪的，…): more consequences
    @property
    def consequence(self) -> str:
        """What follows when the items apply: the lead's consequence or the lead itself."""
        if self.condition:
            return self.condition.consequence
        return self.lead

    @property
    def subject(self) -> str:
        return (self.condition.subject if self.condition else "") or (self.rule.subject if self.rule else "")

    @property
    def prohibition(self) -> bool:
        """A list of prohibited acts (未经权利人许可，不得进行下列行为): the items are what somebody must not do."""
        return self.condition is None and bool(_PROHIBITED_ACTS.search(self.lead))

    @property
    def prohibited_premise(self) -> str:
        """What the lead puts before its prohibition, its subject left out: 未经权利人许可."""
        m = _PROHIBITED_ACTS.search(self.lead)
        kept = []
        for clause in _chunks(self.lead[: m.start()] if m else ""):
            if who := opening_actor(clause):
                clause = clause[clause.index(who) + len(who):]
            kept.append(_ANYONE.sub("", clause).strip("，, "))
        return "，".join(k for k in kept if k)


_ANYONE = re.compile(r"^任何[^，]{0,8}(?:个人|单位|组织)")
_PROHIBITED_ACTS = re.compile(r"(?:不得|禁止)(?:进行|实施|从事|采用)?下列[^，。：]{0,8}行为")


# ---------------------------------------------------------------- paragraphs

_DEFINITION = re.compile(r"^(?:本(?:法|条例|细则|规定|解释|办法)所称的?)?(?P<a>[^，。；：]{1,45}?)，?是指(?P<b>.+)$"
                         r"|^(?P<a2>[^，。；：]{0,30}所称的?[^，。；：]{1,30}?)，?(?P<b2>包括.+)$")
DEADLINE = re.compile(rf"{NUMERAL}个?(?:日|天|工作日|个月|月|年)(?:内|以内|以上|之内)(?![^，。；]*(?:有期徒刑|拘役))"
                      rf"|之日起|届满|期满|诉讼时效"
                      rf"|(?:期限|保护期|有效期|期间)为{NUMERAL}个?(?:日|天|工作日|个月|月|年)"
                      rf"|(?:不超过|不得超过|最长不超过){NUMERAL}个?(?:日|天|工作日|个月|月|年)")
# An amount the text sets (300万元, 一倍以上五倍以下) or a fine it imposes (处…罚款, 并处罚金); a sentence that
# only names a 罚款 decision or the 赔偿数额 sets none.
AMOUNT = re.compile(rf"(?:\d+\.\d+|{NUMERAL})(?:元|万元|倍)|(?:处|并处|单处|给予)[^，。；]{{0,12}}(?:罚款|罚金)")
# Laws an article cites by short name: a reference keeps it (专利法第二十四条), never a bare 第二十四条 that
# reads as the citing text's own article.
CITED_LAWS = tuple(sorted((
    "专利法", "商标法", "著作权法", "反不正当竞争法", "民法典", "刑法", "民事诉讼法", "行政诉讼法", "刑事诉讼法",
    "种子法", "对外贸易法", "海关法", "电子商务法", "反垄断法", "合同法", "民法通则", "民法总则", "侵权责任法",
    "行政处罚法", "行政复议法", "促进科技成果转化法", "科学技术进步法", "国家赔偿法", "立法法",
), key=len, reverse=True))
REFERENCE = re.compile(rf"(?:本(?:法|条例|细则|规定|解释|办法)|《[^《》]{{2,40}}》|(?:修改前|修改后)?(?:{'|'.join(CITED_LAWS)})(?:（\d{{4}}[^）]*）)?)?"
                       rf"第{STATUTE_NUMERAL}条(?:之[一二三四五六七八九十]+)?(?:第{STATUTE_NUMERAL}款)?(?:第（?{ITEM_NUMERAL}）?项)?"
                       rf"|前(?:两|三)?款(?:第（{ITEM_NUMERAL}）项)?|前条|本条第{STATUTE_NUMERAL}款")


@dataclass(frozen=True)
class Definition:
    term: str
    meaning: str
    sentence: str


@dataclass
class Paragraph:
    """One 款: its text, its item list (with lead-in) when it has one, and what its sentences state."""

    number: int
    text: str
    items: ItemList | None = None
    conditions: list[Condition] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    deadlines: list[str] = field(default_factory=list)
    amounts: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


_NAMED = re.compile(rf"^(?:《[^《》]+》|{'|'.join(CITED_LAWS)})")


# What continues a reference: more paragraphs, items, articles or a range (第二款、第三款; 第（一）项、第（二）项;
# 第五项至第十七项; 第二百一十三条至第二百一十九条之一).
_MORE_PARTS = re.compile(rf"至第{STATUTE_NUMERAL}条(?:之[一二三四五六七八九十]+)?(?:第{STATUTE_NUMERAL}款)?"
                         rf"|(?:、|和|或者|以及|及|至)(?:第{STATUTE_NUMERAL}款(?:第（?{ITEM_NUMERAL}）?项)?"
                         rf"|第（?{ITEM_NUMERAL}）?项)")  # another article after 、 is a reference of its own


def _references(text: str) -> list[str]:
    """The references of a text, each with its law: 商标法第十三条、第五十七条 → 商标法第五十七条 too."""
    out: list[str] = []
    law, end = "", -1
    for m in REFERENCE.finditer(text):
        if m.start() < end:  # already part of the reference before (…至第二百一十九条之一)
            continue
        ref = m.group(0)
        if named := _NAMED.match(ref):
            law = named.group(0)
        elif law and ref.startswith("第") and re.fullmatch(  # …第八百四十七条所称“…”、第八百四十八条: the same law
                r"(?:所称的?“[^”]{1,30}”)?(?:[、和及或者]|第[^条，。；]{1,8}?[款项])+", text[end:m.start()]):
            ref = law + ref
        else:
            law = ""
        end = m.end()
        while more := _MORE_PARTS.match(text, end):  # 专利法第十九条第二款、第三款: both paragraphs
            ref, end = ref + more.group(0), more.end()
        out.append(ref)
    return out


def _split_paragraphs(text: str) -> list[tuple[str, list[str]]]:
    """(lead, items) per 款: item lines belong to the paragraph before; inline items are split out; a line
    that ends in ； goes on in the next (some store texts break a paragraph there)."""
    out: list[tuple[str, list[str]]] = []
    listing = False  # after a lead that ends with ：, unmarked lines are its items until one ends with 。
    for line in (x.strip() for x in text.split("\n")):
        if not line:
            continue
        if (_ITEM.match(line) or listing) and out:
            out[-1][1].append(_ITEM.sub("", line).rstrip("；;。，"))
            listing = listing and not line.endswith("。")
            continue
        listing = line.endswith(("：", ":")) and not _INLINE_ITEMS.search(line)
        inline = _INLINE_ITEMS.split(line)
        if len(inline) > 2 and inline[0].rstrip().endswith(("：", ":")):
            out.append((inline[0].strip(), [i.strip().rstrip("；;。，") for i in inline[1:] if i.strip()]))
        elif out and not out[-1][1] and out[-1][0].endswith(("；", ";")) and not re.match(r"\d+[.．、]", line):
            out[-1] = (out[-1][0] + line, [])  # a store line break after ； (…依其约定；\n没有约定的…): one 款
        else:
            out.append((line, []))
    return out


def _sentence_parts(text: str) -> list[tuple[int, str]]:
    """``sentences(text)`` with the number of the 。-sentence each part (split at ；) belongs to."""
    out = []
    for g, sentence in enumerate(split_outside(text, "。")):
        out += [(g, part) for part in sentences(sentence)]
    return out


# What introduces a list: 下列, 以下 (not the 以下 of 二十五万元以下).
LIST_MARK = rf"下列|(?<![\d{NUMERAL_CHARS}元年月日倍个项])以下"


def read_paragraph(number: int, lead: str, items: list[str]) -> Paragraph:
    text = lead + "".join(f"\n{i}" for i in items)
    p = Paragraph(number, text)
    body = _sentence_parts(lead)
    head = None
    if items and body:  # the part of the last sentence that introduces the items (有下列…的), else its last part
        last = [i for i, (g, _) in enumerate(body) if g == body[-1][0]]
        at = next((i for i in reversed(last) if re.search(LIST_MARK, body[i][1])), last[-1])
        tail = "；".join(part for i, (_, part) in enumerate(body) if i in last and i > at)
        head = body.pop(at)
    ruled: dict[int, str] = {}  # per sentence (。): the subject of its rule, which a part after ； without one inherits
    premises: dict[int, str] = {}  # per sentence: its 对于…, which every later part shares
    for i, (g, s) in enumerate(body):
        if re.fullmatch(r"(?:但是?，?)?[^，。；]{2,30}除外", s) and (p.rules or p.conditions):
            if p.rules and p.rules[-1].sentence == body[i - 1][1]:  # …应当提供…；许可使用合同另有约定的除外
                p.rules[-1] = replace(p.rules[-1], act=f"{p.rules[-1].act}（{s}）")
            elif p.conditions and p.conditions[-1].sentence.endswith(body[i - 1][1]) and not p.conditions[-1].exception:
                p.conditions[-1] = replace(p.conditions[-1], exception=s)
            continue
        if (re.match(r"但(?:是)?，", s) and p.conditions and p.conditions[-1].sentence == body[i - 1][1]
                and not p.conditions[-1].exception):  # …的，不承担赔偿责任；但是，应当停止使用…: its proviso
            p.conditions[-1] = replace(p.conditions[-1], exception=s)
            continue
        if p.definitions and p.definitions[-1].sentence == body[i - 1][1] and body[i - 1][0] == g \
                and not _DEFINITION.match(s):
            d = p.definitions[-1]  # 新颖性，是指…；也没有…; 中止…，是指…；暂停办理…: one definition, to the 。
            p.definitions[-1] = Definition(d.term, f"{d.meaning}；{s}", f"{d.sentence}；{s}")
            continue
        if m := _DEFINITION.match(s):
            p.definitions.append(Definition((m["a"] or m["a2"]).strip(), (m["b"] or m["b2"]).strip(), s))
        elif c := read_condition(_EXCEPTION_MARK.sub("", s)):  # 但是，…的，可以…: a proviso is a condition too
            if m := re.match(r"对于[^，]+，", c.condition):
                premises.setdefault(g, m.group(0))
            elif g in premises and not c.condition.startswith(("对", "除")):  # …；国家知识产权局…的: 对于… still holds
                c = replace(c, condition=premises[g] + c.condition)
            p.conditions.append(replace(c, sentence=s, opening=i == 0, leans_on=body[i - 1][1] if i else ""))
        elif r := read_rule(s, ruled.get(g, "")):
            p.rules.append(r)
            ruled[g] = r.subject
    if head:
        g, s = head
        p.items = ItemList(s.rstrip("：:"), tuple(items), item_nature(s), read_condition(_EXCEPTION_MARK.sub("", s), lead=True),
                           read_rule(s, ruled.get(g, "")), tail.rstrip("：:"))
    for s in sentences(lead) + items:
        if DEADLINE.search(s):
            p.deadlines.append(s)
        if AMOUNT.search(s):
            p.amounts.append(s)
    p.references = list(dict.fromkeys(_references(text)))
    return p


# ---------------------------------------------------------------- the article's role

@dataclass
class ArticleReading:
    text: str
    paragraphs: list[Paragraph]
    role: str = SUBSTANTIVE
    reason: str = ""

    @property
    def substantive(self) -> bool:
        return self.role == SUBSTANTIVE


def read_article(text: str) -> ArticleReading:
    """The article's 款 read one by one, and its role (substantive, or one that gets recitation only)."""
    text = text.strip()
    paragraphs = [read_paragraph(i, lead, items) for i, (lead, items) in enumerate(_split_paragraphs(text), 1)]
    for before, p in zip(paragraphs, paragraphs[1:], strict=False):  # a first sentence may lean on the one before
        if p.conditions and not p.conditions[0].leans_on and before.text and not before.items:
            p.conditions[0] = replace(p.conditions[0], leans_on=sentences(before.text)[-1])
    reading = ArticleReading(text, paragraphs)
    rules = any(p.conditions or p.items for p in paragraphs)
    for role in article_roles(text):
        if role != ORGANISATIONAL or not rules:  # a competence article that also sets conditions is a rule
            reading.role, reading.reason = role, ROLE_REASONS[role]
            break
    return reading


# ---------------------------------------------------------------- terms of art

EXTRA_TERMS = (
    "商标注册", "专利申请", "强制许可", "集体管理", "布图设计", "植物新品种", "品种权", "海关", "出质", "转让",
    "许可使用", "优先权", "复审", "驰名商标", "保全", "技术调查官", "管辖", "证据", "计算机软件", "网络服务提供者",
    "惩罚性赔偿", "专利代理", "国防专利", "使用费", "申请日", "商标评审委员会", "专利行政部门",
)


def key_terms(text: str, limit: int = 3) -> list[str]:
    """Terms of art the text contains, in order of appearance, longest first at a tie."""
    terms = set(HardnessConfig().legal_terms) | set(EXTRA_TERMS)
    found = sorted((text.find(t), -len(t), t) for t in terms if t in text)
    out: list[str] = []
    for _, _, t in found:
        if not any(t in o or o in t for o in out):
            out.append(t)
    return out[:limit]
