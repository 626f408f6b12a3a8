"""Contract clauses without a model: segmentation, clause types and risk rules, all plain tables.

A lawyer must be able to see why a clause was typed and flagged, so everything here is a readable
table (``CLAUSE_TYPES``, ``RULES``) printed in the report's method section, and each finding names the
words it matched. The rules are conservative: they flag only what the text plainly says; the model's
review adds to them and never removes a rule finding.

Segmentation. Headings are recognised at the start of a paragraph: 第X条 (Chinese or Arabic numerals),
一、, （一）, 1. / 1、, 1.1, 1.1.1, （1）. The top-level clauses are 第X条 whenever the contract uses it;
otherwise the first heading style used whose numbering never starts again from a lower number (a style
that restarts, such as （一） inside several articles, is a sub-level). Sub-items stay inside their
clause. 第X章 / 第X节 lines are not clauses: they name the chapter of the clauses after them. What comes
before the first clause (title, parties, 鉴于 recitals, even when the recitals are numbered, up to the
"达成如下协议" line) is one clause labelled 前言, and a trailing signature block (（以下无正文）,
甲方（盖章）…) one labelled 签署; neither is reviewed (``Clause.reviewed``). A text with no headings at all
is split into one clause per paragraph (第N段).

Party roles: 甲方 is taken as the licensor and 乙方 as the licensee unless the contract says otherwise
(乙方（许可方）), in which case the rules read the roles the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ecmiip.core.numerals import number_or_none

PREAMBLE = "前言"
SIGNATURE = "签署"
OTHER = "其他"
RISK_ORDER = {"低": 0, "中": 1, "高": 2}


class ParagraphLike(Protocol):
    number: int
    text: str


@dataclass(frozen=True)
class Clause:
    """One clause as the contract writes it: label (第十条, 1., 1.1, 一、; 前言 / 签署 / 第N段), title if the
    heading gives one, the text of all its paragraphs (heading line included) and their numbers."""

    label: str
    title: str
    text: str
    paragraphs: tuple[int, ...]
    chapter: str = ""

    @property
    def reviewed(self) -> bool:
        """Preamble and signature block are shown but not reviewed."""
        return self.label not in (PREAMBLE, SIGNATURE)

    @property
    def name(self) -> str:
        """How the report names the clause: 第十条（许可范围）."""
        return f"{self.label}（{self.title}）" if self.title else self.label


@dataclass(frozen=True)
class Finding:
    """A risk a rule (or the model) found in a clause."""

    risk: str  # 高 / 中 / 低
    rule: str  # the rule's name, as in RULES
    reason: str
    articles: tuple[str, ...]  # 《…》第…条, each verified against the statute store (tests check)
    suggestion: str
    matched: tuple[str, ...] = ()  # the words of the clause the rule matched


# ---------------------------------------------------------------- segmentation

_CN = "零〇一二三四五六七八九十百千两"
_MD = r"^(?:#{1,6}\s*)?(?:\*\*|__)?\s*"  # a Markdown heading mark or bold before the label
# style → pattern of the label at the start of a paragraph (after _MD); group "n" the number(s).
_STYLES: dict[str, str] = {
    "article": rf"第\s*(?P<n>[{_CN}]+|\d{{1,3}})\s*条(?![款项])",
    "cn": r"(?P<n>[一二三四五六七八九十]+)、",
    "cn_paren": r"[（(](?P<n>[一二三四五六七八九十]+)[）)]",
    "num3": r"(?P<n>\d{1,3}[.．]\d{1,3}[.．]\d{1,3})[.．]?(?![\d.．])",
    "num2": r"(?P<n>\d{1,3}[.．]\d{1,3})[.．]?(?![\d.．])",
    "num1": r"(?P<n>\d{1,3})[.．、](?![\d.．])",
    "num_paren": r"[（(](?P<n>\d{1,3})[）)]",
}
_STYLE_RES = {style: re.compile(_MD + f"(?P<label>{p})") for style, p in _STYLES.items()}
_CHAPTER_RE = re.compile(_MD + rf"第\s*[{_CN}\d]+\s*[章节编](?:\s|$|[^\w]|[\u4e00-\u9fff])")
# "双方经协商，达成如下协议：": the end of the preamble.
_AGREE_RE = re.compile(r"(?:达成|订立|签订|约定|同意|协议)[^。；\n]{0,12}如下|如下(?:条款|协议|约定)")
_RECITAL_RE = re.compile(_MD + r"鉴于")
_SIGNATURE_RE = re.compile(
    _MD + r"(?:[（(]以下无正文[）)]|(?:甲方|乙方|许可方|被许可方|许可人|被许可人)\s*[（(]?\s*(?:盖章|签字|签章|签名)"
    r"|(?:甲方|乙方)\s*[（(](?:许可方|被许可方|许可人|被许可人)[）)]\s*[（(](?:盖章|签字|签章)"
    r"|(?:法定代表人|授权代表)(?:或授权代表)?\s*[（(]?(?:签字|签章|签名)|签(?:订|署)(?:日期|地点)\s*[：:])"
)
_ANNEX_RE = re.compile(_MD + r"附件[一二三四五六七八九十\d]*\s*[：:、]")
_PARTY_WORDS = ("甲方", "乙方", "双方", "许可方", "许可人", "本合同", "本协议")


@dataclass(frozen=True)
class _Head:
    index: int  # position in the paragraph list
    style: str
    label: str
    key: tuple[int, ...]  # the number, for telling a restart
    rest: str  # the paragraph after the label


def _heading(text: str) -> _Head | None:
    for style, rx in _STYLE_RES.items():
        if m := rx.match(text):
            key = tuple(number_or_none(part) or 0 for part in re.split(r"[.．]", m["n"]))
            label = re.sub(r"\s+", "", m["label"])
            rest = text[m.end():].strip().lstrip("*_").strip()
            return _Head(-1, style, label, key, rest)
    return None


def _title(rest: str) -> str:
    """A heading's title: the whole rest of a short heading line, 【…】, or a short 标题： before the text."""
    rest = rest.strip().strip("*_").strip()
    if m := re.match(r"[【\[]([^】\]]{1,20})[】\]]", rest):
        return m[1].strip()
    if rest and len(rest) <= 20 and not re.search(r"[。；，,;]", rest):
        return rest.rstrip("：:").strip()
    if (m := re.match(r"([^，。；：:\s*]{2,12})[：:]", rest)) and not any(w in m[1] for w in _PARTY_WORDS):
        return m[1]
    return ""


def _preamble_end(paragraphs: Sequence[ParagraphLike]) -> int:
    """Index of the "达成如下协议" paragraph when it closes 鉴于 recitals (headings before it are recital
    items, not clauses), else -1."""
    recital = next((i for i, p in enumerate(paragraphs) if _RECITAL_RE.match(p.text)), None)
    if recital is None:
        return -1
    for i in range(recital, len(paragraphs)):
        if _AGREE_RE.search(paragraphs[i].text):
            return i
        head = _heading(paragraphs[i].text)
        if head is not None and head.style == "article":
            return -1
    return -1


def _top_style(heads: list[_Head]) -> str | None:
    styles = list(dict.fromkeys(h.style for h in heads))
    if "article" in styles:
        return "article"
    for style in styles:
        keys = [h.key for h in heads if h.style == style]
        if all(a < b for a, b in zip(keys, keys[1:], strict=False)):
            return style
    return styles[0] if styles else None


def segment_clauses(paragraphs: Sequence[ParagraphLike]) -> list[Clause]:
    """The contract's top-level clauses in order, with 前言 first and 签署 last when present."""
    paragraphs = list(paragraphs)
    if not paragraphs:
        return []
    start = _preamble_end(paragraphs) + 1
    heads: list[_Head] = []
    for i in range(start, len(paragraphs)):
        head = _heading(paragraphs[i].text)
        if head is not None:
            heads.append(_Head(i, head.style, head.label, head.key, head.rest))
    top = _top_style(heads)
    if top is None:
        return [Clause(f"第{p.number}段", "", p.text, (p.number,)) for p in paragraphs]
    tops = [h for h in heads if h.style == top]
    chapters = {i: _plain(p.text) for i, p in enumerate(paragraphs) if _CHAPTER_RE.match(p.text)}

    def clause(label: str, title: str, first: int, end: int) -> Clause:
        kept = [paragraphs[i] for i in range(first, end) if i not in chapters or i == first]
        chapter = next((chapters[i] for i in range(first - 1, -1, -1) if i in chapters), "")
        return Clause(label, title, "\n".join(p.text for p in kept), tuple(p.number for p in kept),
                      chapter if label not in (PREAMBLE, SIGNATURE) else "")

    clauses: list[Clause] = []
    if any(i not in chapters for i in range(tops[0].index)):
        clauses.append(clause(PREAMBLE, "", 0, tops[0].index))
    for n, head in enumerate(tops):
        end = tops[n + 1].index if n + 1 < len(tops) else len(paragraphs)
        sig = None
        if n + 1 == len(tops):
            sig = next((i for i in range(head.index + 1, end) if _SIGNATURE_RE.match(paragraphs[i].text)), None)
            while sig is not None and sig - 1 > head.index and _ANNEX_RE.match(paragraphs[sig - 1].text):
                sig -= 1  # the list of annexes just above the signatures goes with them
        clauses.append(clause(head.label, _title(head.rest), head.index, sig or end))
        if sig is not None:
            clauses.append(clause(SIGNATURE, "", sig, end))
    return clauses


def _plain(text: str) -> str:
    return re.sub(r"^#{1,6}\s*", "", text).strip().strip("*_").strip()


# ---------------------------------------------------------------- clause types

# A grant: 许可/授权/授予 a party to 实施/使用 (so 许可专利 as a defined term is no grant).
_GRANT = (r"(?:许可|授权|授予)(?:给)?(?:乙方|甲方|被许可[方人]|受让[方人]|其|对方|第三方)[^。；\n]{0,30}"
          r"(?:实施|使用|制造|销售)")

#: Clause type → the patterns that give it (searched in the clause's text; any match gives the type).
CLAUSE_TYPES: dict[str, tuple[str, ...]] = {
    "知识产权归属及改进成果": (r"改进", r"后续(?:开发|研发|成果|技术)", r"(?:知识产权|专利权|技术成果|所有权)[^。；\n]{0,10}归",
                          r"归属"),
    "许可授予/范围/地域/期限": (_GRANT, r"许可(?:范围|地域|区域|期限|方式)(?:为|是|限于|自|包括|[：:])",
                            r"(?:实施|使用)(?:范围|地域|区域|期限)"),
    "独占性": (r"独占", r"排他", r"独家"),
    "费用与支付": (r"(?:许可|使用|入门|提成|技术)费", r"支付", r"付款", r"价款", r"提成"),
    "保密": (r"保密", r"泄露", r"不得[^。；\n]{0,15}披露"),
    "竞业限制": (r"竞业", r"(?:竞争|类似|同类|相似|替代)(?:的|性)?(?:技术|产品|业务)"),
    "不侵权保证": (r"(?:不|未|没有)侵(?:犯|害)", r"权利瑕疵", r"(?:合法|有效)(?:拥有|持有)"),
    "赔偿责任": (r"索赔", r"追偿", r"第三方[^。；\n]{0,20}(?:主张|起诉|诉讼|指控|请求)", r"赔偿责任", r"免受"),
    "违约责任": (r"违约", r"违反本(?:合同|协议)"),
    "解除与终止": (r"(?:解除|终止)本(?:合同|协议)|本(?:合同|协议)(?:的)?(?:变更、)?(?:解除|终止)|有权(?:解除|终止)"
              r"|(?:合同|协议)(?:的)?(?:解除|终止)|期满|届满",),
    "争议解决": (r"争议", r"仲裁", r"管辖", r"人民法院(?:起诉|提起诉讼)"),
    "适用法律": (r"适用[^。；\n]{0,10}法律", r"法律适用", r"(?:依照|依据|按照|受)中华人民共和国(?:的)?法律"),
    "技术资料与指导": (r"技术资料", r"技术(?:指导|培训|服务|支持)", r"图纸", r"工艺文件"),
    "不可抗力": (r"不可抗力",),
}
_TYPE_RES = {t: tuple(re.compile(p) for p in ps) for t, ps in CLAUSE_TYPES.items()}


def classify(clause: Clause) -> list[str]:
    """The clause's types in the order of ``CLAUSE_TYPES``; ["其他"] when none applies; [] for 前言/签署."""
    if not clause.reviewed:
        return []
    text = f"{clause.title}\n{clause.text}"
    found = [t for t, res in _TYPE_RES.items() if any(rx.search(text) for rx in res)]
    return found or [OTHER]


# ---------------------------------------------------------------- roles

_ROLE_RE = re.compile(r"(甲方|乙方)\s*[（(]\s*(被许可[方人]|(?<!被)许可[方人]|受让[方人]|让与人|转让方)\s*[）)]")


def roles(whole_text: str) -> tuple[str, str]:
    """Regex alternations naming the licensor and the licensee (甲方 licensor unless the contract says
    乙方（许可方）)."""
    licensor, licensee = ["(?<!被)许可[方人]", "让与人", "转让方"], ["被许可[方人]", "受让[方人]"]
    m = _ROLE_RE.search(whole_text)
    swapped = bool(m and m[1] == "乙方" and not m[2].startswith(("被", "受")))
    licensor.append("乙方" if swapped else "甲方")
    licensee.append("甲方" if swapped else "乙方")
    return "(?:" + "|".join(licensor) + ")", "(?:" + "|".join(licensee) + ")"


# ---------------------------------------------------------------- risk rules

_CIVIL = "《中华人民共和国民法典》"
_TECH = "《最高人民法院关于审理技术合同纠纷案件适用法律若干问题的解释》"
_S = r"[^。；\n]"  # within one sentence
_PATENT_FILING = "《中华人民共和国专利法实施细则》第十五条第二款"
_TRADEMARK_FILING = "《中华人民共和国商标法》第四十三条第三款"


@dataclass(frozen=True)
class Rule:
    """One risk rule: its name, what it looks for (shown in the method section), risk and articles."""

    name: str
    looks_for: str
    risk: str
    articles: tuple[str, ...]
    suggestion: str


RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("改进成果单向回授", "被许可方的后续改进须无偿、独占或单方归许可方所有（非互惠回授）", "高",
         (f"{_CIVIL}第八百五十条", f"{_CIVIL}第八百七十五条", f"{_TECH}第十条第（一）项"),
         "乙方在合同标的技术基础上作出的后续改进，其技术成果归乙方所有；甲方作出的改进归甲方所有。"
         "一方需要使用对方的改进成果的，双方按照互利原则另行协商，以有偿、非独占的方式许可或分享。"),
    Rule("不限期竞争限制", "禁止被许可方研发、使用或从其他来源获得竞争技术/产品，且不限期限"
         "（永久、不限期、任何时候、无论合同是否终止）", "高",
         (f"{_CIVIL}第八百五十条", f"{_CIVIL}第八百六十四条", f"{_TECH}第十条第（二）项"),
         "删除限制乙方研发、使用或从其他来源获得类似或竞争技术的约定；确有必要的，仅限于合同有效期内"
         "且不得限制乙方在合同标的技术基础上进行新的研究开发。"),
    Rule("限期竞争限制", "禁止被许可方研发、使用或从其他来源获得竞争技术/产品（有期限）", "中",
         (f"{_CIVIL}第八百六十四条", f"{_TECH}第十条第（二）项"),
         "明确限制的期限与范围仅限于合同有效期内、合同标的技术所涉产品，并删除限制乙方从其他来源获得"
         "竞争技术的内容。"),
    Rule("独占许可未提备案", "独占许可专利或商标，而合同通篇未提备案", "中",
         (_PATENT_FILING, _TRADEMARK_FILING, f"{_TECH}第二十五条"),
         "增加：“甲方应自本合同生效之日起3个月内向国务院专利行政部门办理专利实施许可合同备案"
         "（商标使用许可由甲方报商标局备案），备案费用由甲方承担，乙方予以配合。”"),
    Rule("许可期限或地域缺失", "许可授予条款及全文均未写明许可期限或地域", "中",
         (f"{_CIVIL}第八百六十四条", f"{_TECH}第二十八条"),
         "在许可授予条款中写明：“许可期限自本合同生效之日起至____年__月__日止；许可地域为____。”"),
    Rule("不得质疑有效性", "禁止被许可方对许可的知识产权的有效性提出异议或请求宣告无效", "高",
         (f"{_CIVIL}第八百五十条", f"{_TECH}第十条第（六）项"),
         "删除该限制；可改为：“乙方对合同标的专利的有效性提出异议的，应书面通知甲方，甲方可以据此"
         "与乙方协商调整许可使用费。”"),
    Rule("搭售原材料或设备", "要求被许可方必须向许可方或其指定方购买原材料、零部件、设备等", "高",
         (f"{_CIVIL}第八百五十条", f"{_TECH}第十条第（四）项", f"{_TECH}第十条第（五）项"),
         "删除强制采购约定；可改为：“乙方可以自行选择符合约定质量标准的原材料、零部件和设备的供应来源。”"),
    Rule("第三方侵权责任转嫁", "因实施许可技术被第三方指控侵权的责任全部由被许可方承担", "中",
         (f"{_CIVIL}第八百七十四条",),
         "改为：“乙方按照本合同约定实施合同标的技术被第三方指控侵权的，由甲方负责处理并承担由此产生的"
         "全部责任和费用，乙方应及时通知甲方并予以协助。”"),
)}

_IMPROVE = r"(?:改进|改良|后续(?:开发|研发)|改进成果|衍生技术)"
_GRANT_BACK_TERMS = (r"(?:无偿|免费|无条件|不(?:收取|支付)任何(?:费用|对价)|无需(?:支付)?(?:任何)?(?:费用|对价))"
                     r"|独占|独家|排他")
_UNLIMITED = (r"永久|永远|不限期|无限期|期限不限|不受[^。；\n]{0,10}期限[^。；\n]{0,3}限制|任何时候|任何时间|无论(?:本合同|合同)?[^。；\n]{0,6}"
              r"(?:是否)?(?:终止|解除|届满|期满|有效)|(?:终止|解除|届满|期满)(?:后|之后)[^。；\n]{0,8}(?:仍|继续|依然)")
_COMPETE = (rf"竞业|不得{_S}{{0,40}}(?:研发|开发|研制|使用|实施|生产|制造|销售|引进|获得|取得|购买|采用|经营){_S}{{0,20}}"
            rf"(?:类似|同类|相似|竞争|替代)(?:的|性)?{_S}{{0,6}}(?:技术|产品|业务)"
            rf"|不得{_S}{{0,20}}(?:从|向)(?:其他来源|第三方|其他任何|任何第三方){_S}{{0,20}}(?:获得|取得|引进|购买)"
            rf"{_S}{{0,20}}技术")
_EXCLUSIVE = r"独占(?:实施|使用)?(?:许可|性许可)|独占(?:的|性)?(?:实施|使用)权|以独占(?:的)?方式|独占许可"
_NO_CHALLENGE = (rf"不得{_S}{{0,30}}(?:有效性|效力|权属|稳定性){_S}{{0,12}}(?:异议|质疑|挑战|争议)"
                 rf"|不得{_S}{{0,30}}(?:请求|申请|提出|提起){_S}{{0,6}}(?:宣告{_S}{{0,10}}无效|无效宣告)")
# The licence term and territory: in the grant clause any plain mention counts; elsewhere in the contract
# only an explicit one (a 中华人民共和国 in the governing-law clause is no territory).
_TERM = (r"(?:许可|实施|使用|授权|合同)(?:的)?(?:期限|期间|有效期)|有效期|期限为|期限自"
         rf"|自{_S}{{0,30}}起{_S}{{0,20}}(?:年|月|止)|\d+年|[一二三四五六七八九十]+年")
_TERRITORY = (r"地域|区域|地区|境内|全国|全球|世界|(?:中国|中华人民共和国)(?:大陆)?(?:境内|范围|地区|大陆)|在中国"
              r"|(?:省|市)(?:范围)?内")
_TERM_ELSEWHERE = r"(?:许可|实施|使用|授权|合同)(?:的)?(?:期限|期间|有效期)|有效期"
_TERRITORY_ELSEWHERE = r"(?:许可|实施|使用|授权|销售)(?:的)?(?:地域|区域|地区)|地域范围|区域范围"


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。；;\n])", text) if s.strip()]


def _finding(name: str, reason: str, matched: Sequence[str], articles: Sequence[str] | None = None) -> Finding:
    rule = RULES[name]
    words = "、".join(f"“{m}”" for m in matched)
    return Finding(rule.risk, name, f"{reason}（匹配：{words}）", tuple(articles or rule.articles), rule.suggestion,
                   tuple(matched))


def rule_findings(clause: Clause, whole_contract_text: str) -> list[Finding]:
    """What the rules find in one clause; ``whole_contract_text`` answers "mentioned anywhere?" questions
    (备案, the licence term). Nothing for 前言 and 签署."""
    if not clause.reviewed:
        return []
    licensor, licensee = roles(whole_contract_text)
    text, out = clause.text, []
    sentences = _sentences(text)

    to_licensor = (rf"(?:提供|转让|许可|交付|告知|通知|披露|交)(?:给|予)?{licensor}|{licensor}(?:单方|独家)?"
                   r"(?:享有|拥有|取得|所有|使用)")
    for s in sentences:
        to, m = None, re.search(_IMPROVE, s)
        if m is None or (re.search(licensor, s[:m.start()]) and not re.search(f"{licensee}|任何一方|双方|各方", s[:m.start()])):
            continue  # no improvement, or the licensor's own improvements
        if not re.search(r"互惠|互利|双方共(?:有|享)|有偿|归各自所有", s) and (
                (g := re.search(f"归{licensor}(?:单方|独家)?所有", s))
                or ((g := re.search(_GRANT_BACK_TERMS, s)) and (to := re.search(to_licensor, s)))):
            words = [m[0], g[0]] + ([to[0]] if to and to[0] != g[0] else [])
            out.append(_finding("改进成果单向回授", "被许可方的后续改进成果须单向交给许可方"
                                "（无偿、独占或归许可方所有），属于交换改进技术的条件不对等，可能构成非法垄断技术，"
                                "相关约定有无效风险", words))
            break

    for s in sentences:
        if m := re.search(_COMPETE, s):
            if re.search(r"保密|泄露|披露", s) and not re.search(r"竞业|竞争|类似|同类", s):
                continue
            unlimited = re.search(_UNLIMITED, s) or re.search(_UNLIMITED, text)
            labour = "；涉及员工竞业限制的，适用劳动法律规定（法条库未收录，未引用）" if re.search(
                r"员工|职工|劳动者|雇员", s) else ""
            if unlimited:
                out.append(_finding("不限期竞争限制", "限制被许可方获得或使用竞争技术，且不受期限限制，"
                                    f"属于限制技术竞争和技术发展，可能构成非法垄断技术{labour}", [m[0], unlimited[0]]))
            else:
                out.append(_finding("限期竞争限制", f"限制被许可方获得或使用竞争技术，虽有期限，仍可能被认定为限制技术竞争{labour}",
                                    [m[0]]))
            break

    if (m := re.search(_EXCLUSIVE, text)) and "备案" not in whole_contract_text:
        subject = [w for w in ("专利", "商标") if w in text or w in whole_contract_text]
        if subject:
            articles = [a for a in RULES["独占许可未提备案"].articles
                        if (a != _PATENT_FILING or "专利" in subject) and (a != _TRADEMARK_FILING or "商标" in subject)]
            what = "、".join(subject)
            out.append(_finding("独占许可未提备案", f"约定独占许可（{what}），但合同通篇未提及许可合同备案；"
                                "未备案的许可不能有效对抗善意第三人，被许可方的独占地位缺乏公示保障", [m[0]], articles))

    if re.search(_GRANT, text):
        missing = [what for what, here, elsewhere in (("许可期限", _TERM, _TERM_ELSEWHERE),
                                                       ("许可地域", _TERRITORY, _TERRITORY_ELSEWHERE))
                   if not re.search(here, text) and not re.search(elsewhere, whole_contract_text)]
        if missing:
            grant = re.search(_GRANT, text)
            out.append(_finding("许可期限或地域缺失", f"许可授予条款未写明{'、'.join(missing)}，合同其他条款也未约定；"
                                "实施范围包括期限和地域，约定不明易生争议（未约定期限的，被许可人实施不受期限限制）",
                                [grant[0]]))

    for s in sentences:
        if m := re.search(_NO_CHALLENGE, s):
            out.append(_finding("不得质疑有效性", "禁止被许可方对许可的知识产权的有效性提出异议，"
                                "属于非法垄断技术的情形，该约定有无效风险", [m[0]]))
            break

    tying = (rf"(?:必须|应当|应|只能|仅能|须|只得)[^。；\n]{{0,20}}(?:向|从){licensor}?[^。；\n]{{0,12}}"
             rf"(?:{licensor}|其指定|指定的)[^。；\n]{{0,20}}(?:购买|采购|购进|进货)"
             r"|不得(?:从|向)(?:其他|第三方|任何第三方)[^。；\n]{0,10}(?:渠道|来源|供应商)?[^。；\n]{0,6}(?:购买|采购)")
    for s in sentences:
        if m := re.search(tying, s):
            out.append(_finding("搭售原材料或设备", "要求被许可方向许可方或其指定方购买原材料、设备等，"
                                "属于附加非必需条件或限制采购渠道，可能构成非法垄断技术", [m[0]]))
            break

    for s in sentences:
        third = re.search(r"第三方[^。；\n]{0,30}(?:侵权|侵犯|侵害|索赔|主张权利|指控)|侵(?:犯|害)[^。；\n]{0,10}第三方", s)
        shifted = re.search(rf"(?:由|应由){licensee}[^。；\n]{{0,15}}(?:自行)?(?:承担|负责|负担)"
                            rf"|{licensee}[^。；\n]{{0,6}}(?:自行|独自|单独)(?:承担|负责|处理)", s)
        if third and shifted and not re.search(rf"(?:由|应由){licensor}[^。；\n]{{0,10}}(?:承担|负责)", s):
            out.append(_finding("第三方侵权责任转嫁", "因实施许可技术被第三方指控侵权的责任全部由被许可方承担，"
                                "与许可人原则上承担责任的法定分配相反（当事人可以另有约定，但风险明显转移给被许可方）",
                                [third[0], shifted[0]]))
            break
    return out


def max_risk(*risks: str | None) -> str:
    """The highest of the risks given (None ignored); 低 when none."""
    present = [r for r in risks if r in RISK_ORDER]
    return max(present, key=RISK_ORDER.__getitem__) if present else "低"


# ---------------------------------------------------------------- references to clauses in an answer

# 合同第十一条 / 本协议第3条 — never 《…合同法》第X条 (a statute) nor 第X条 alone (which law?).
CLAUSE_REF = re.compile(rf"(?<![》\w])(?:本|该|此|上述)?(?:合同|协议)(?:的)?第\s*([{_CN}\d]+)\s*条")


@dataclass(frozen=True)
class ClauseRef:
    text: str  # as the answer wrote it
    number: int
    clause: Clause | None  # the clause so numbered, None when the document has none


def clause_refs(answer: str, clauses: Sequence[Clause]) -> list[ClauseRef]:
    """Each clause of the contract the answer names (合同第十一条), once, with the clause when it exists.

    A clause is found by the number of its top-level label (第十一条, 11., 十一、), so an answer may cite the
    contract's own numbering whatever style the contract uses."""
    by_number: dict[int, Clause] = {}
    for c in clauses:
        digits = re.sub(r"[第条、.．\s]", "", c.label)
        n = number_or_none(digits) if digits else None
        if n is not None and c.reviewed:
            by_number.setdefault(n, c)
    out, seen = [], set()
    for m in CLAUSE_REF.finditer(answer):
        n = number_or_none(m.group(1))
        if n is not None and n not in seen:
            seen.add(n)
            out.append(ClauseRef(m.group(0), n, by_number.get(n)))
    return out
