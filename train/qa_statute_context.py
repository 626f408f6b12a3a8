"""What every statute pair of one article shares: the article read, how its answer closes (version and
effective date), who a scenario may name, and the article's own words made safe to repeat (本法 named as the
law outside quotations, a quote's old numbering and stale citations noted)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from ecmiip.core.numerals import STATUTE_NUMERAL, int_to_chinese
from ecmiip.core.renumbering import reference_note
from ecmiip.core.statutes import UNVERIFIED, Document, store
from ecmiip.train.hardness import NOT_IN_FORCE, ceased
from ecmiip.train.qa_citations import stale_note
from ecmiip.train.qa_norms import (
    ACTORS,
    FOREIGN_REFERENCE,
    ORGANISATION_ROLES,
    ArticleReading,
    Definition,
    Paragraph,
    is_authority,
    is_person,
    quote_depths,
    split_outside,
)

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
GENERIC = ("任何单位或者个人", "单位或者个人")

_DANGLING = re.compile(r"前(?:两|三)?款|前条|前项|上述|该条|本条第")
# A clause that starts mid-thought: it leans on the sentence before it.
LEANING = re.compile(r"^(?:期满|逾期|届满|构成犯罪|未|该|其|此|上述|前述|依照前|经审查|审查后|修改后|对此|本章|同时|而|并|且|情节"
                      r"|[^，]{1,4}该)")  # 撤销该商标…的: which 商标? the sentence before says
_SELF = re.compile(rf"本(法|条例|细则|规定|解释|办法|决定)(第{STATUTE_NUMERAL}条)?")


def usable(*texts: str) -> bool:
    """Whether a clause can be asked about on its own: no dangling 前款, no other law's (possibly old)
    numbering."""
    joined = "".join(texts)
    return not _DANGLING.search(joined) and not FOREIGN_REFERENCE.search(joined)


def self_named(text: str, law: str) -> str:
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


def version_note(doc: Document | None, status: str | None, label: str) -> str:
    """The line closing a statute answer: version and effective date, and whether it is still the law."""
    if doc is None or doc.effective is None:
        return UNKNOWN_VERSION_NOTE.format(version=label)
    effective = doc.effective.isoformat()
    if status in NOT_IN_FORCE:
        return HISTORY_NOTE.format(version=label, effective=effective, ceased=ceased(doc, status))
    validity = "；其效力待核实，请核对官方文本" if status == UNVERIFIED else ""
    return VERSION_NOTE.format(version=label, effective=effective, validity=validity)


@dataclass
class Context:
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

    @cached_property
    def renumbering_note(self) -> str:
        """The store's note when the article cites a law in its old numbering (所称著作权法第十六条即现行…)."""
        if self.doc is None:
            return ""
        found = next((a for a in store().articles_of.get(self.doc.key, ()) if a.article == self.article), None)
        return reference_note(found, store()) if found else ""

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
        if subject in GENERIC:
            return self.party("")
        if ORGANISATION_ROLES.search(subject):
            name = "电视台" if subject.endswith("电视台") else subject
            return f"{self.rng.choice(ORGANISATIONS)}{name}"
        return f"{subject}{self.party(subject)}"


def fact(clause: str) -> str:
    """A condition clause as a statement of fact: each ``…的`` without its 的 (著作权属于自然人的，自然人死亡后 →
    著作权属于自然人，自然人死亡后)."""
    return "，".join(c[:-1] if c.endswith("的") and not c.endswith("目的") and len(c) >= 4 else c
                    for c in split_outside(clause, "，"))  # 以营利为目的 keeps its 的


def quote(c: Context) -> str:
    return f"{c.ref}规定：“{c.text}”{notes(c)}"


def notes(c: Context) -> str:
    """What a quoted article's citations mean today: an old numbering (著作权法第十六条 → 第十八条) or a
    version no longer in force (反不正当竞争法第六条 of the 2019 text)."""
    return c.renumbering_note + stale_note(c.text, c.as_of)


MODAL_WORDS = "不得|应当|可以|必须|有权"


# A later condition that leans on the sentence before it: its object or its period is there
# (专利权人未缴纳或者未缴足的; 在此期间未能办理的; 期满未补正的).
LEANS = re.compile(r"^(?:.*(?:事后|此后|其后|随后)[^，]*的|[^，]{0,8}未[^，]{1,8}的|[^，]*该(?:期限|手续)[^，]*的|没有[^，]*的|(?:在此期间|期满|逾期|届时|此后|上述|前述|在(?:规定|指定|该|上述)期限内)[^，]*的)$")


def leans_on_that(condition: str) -> bool:
    """该期限, 该手续 whose noun the condition has not named before (which? the sentence before says); not
    …授予专利权之日起，…认为该专利权的授予…, whose 专利权 it has."""
    return any(m[1] not in condition[: m.start()]
               for m in re.finditer(r"该(期限|手续|申请|商标|专利|作品|决定|合同|技术秘密|技术|产品|软件|货物)", condition))


def term(d: Definition) -> str:
    """The defined term itself: 本规定所称信息网络 → 信息网络; 民法典第八百八十七条规定的“技术培训合同” → 技术培训合同."""
    inner = re.search(r"“([^“”]+)”", d.term)
    return inner.group(1) if inner else re.sub(r"^本(?:法|条例|细则|规定|解释|办法)中的|^.*所称的?", "", d.term)
