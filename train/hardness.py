"""Rule-based hardness labels for MIPLD records, for HKRE's hardness-weighted training.

Legal knowledge is not equally rigid. A statute article must be reproduced verbatim; a doctrinal
comment may be paraphrased freely. Each record gets one of four levels and the weight α_hard that
training puts on holding it exactly:

* **L1** absolute hard: rules to be memorised verbatim: time limits, amounts, penalties, definitions,
  enumerated conditions, and by default any rule of a law or administrative regulation. α = 1.0.
* **L2** binding rules held less tightly: a judicial interpretation's or normative document's rule
  with nothing hard in it (rules about applying the law rather than the law), and a law's competence,
  principle, formality or discretionary article. α = 0.7.
* **L3** structured holdings and consistent adjudication patterns: cases, exemption rules drawn from
  effective cases; and the statute articles that state no rule of their own: purpose (为了…制定本法),
  effective date (本法自…起施行), transitional and self-referential articles. α = 0.4 by default.
* **L4** soft: doctrine, value balancing, commentary, and statute texts no longer in force. α = 0.1
  by default.

The L3/L4 defaults continue L1 → L2's step of 0.3, so the levels are evenly spaced, and keep L4
above zero: soft knowledge still anchors terminology and citations, but the model is left free to
phrase it. Both are in :class:`HardnessConfig` and can be set from YAML.

A statute article in force is levelled by what it says, its document's title being one signal
among several (issue 15; :mod:`ecmiip.train.article_hardness`). It scores points:

* title, by document type: law +2, administrative regulation +2 (neither an interpretation, a
  normative document nor a title ending in 法), judicial interpretation +1 (最高人民法院/检察院关于…
  解释/规定/批复/决定), normative document +1 (…意见/通知/指南/纪要/答复/公告);
* hard content, each kind once: time limit +2 (三年内, 诉讼时效为三年, 自…之日起, 不得超过五日),
  amount +2 (300万元以下, 一倍以上三倍以下, 百分之…), numeric limit +1 (不得超过10项), penalty +1
  (罚款, 没收, 吊销, 刑事责任, 惩罚性赔偿…), enumerated conditions +1 (two or more items （一）（二） of
  the article's own; 第（一）项 cites another's and does not count), definition or deeming rule +1
  (是指, 所称…包括, 视为);
* soft function, each kind once: purpose −3 (为了…制定本法, 根据…制定本条例), effective date −3
  (本法自…起施行), transitional or self-referential −2 (本解释施行前/后, 以本解释为准, 同时废止,
  修改前的专利法), competence or organisation −1 (…主管部门负责…工作, …的权力机构), principle or
  policy −1 (国家鼓励, 遵循诚实信用原则), formalities −1 (办理…手续, 规定的格式, 缴纳…费, 签字或者盖章),
  discretion −1 (综合考虑, 酌情, 考虑…因素, 可以参考).

A score of at least ``l1_score`` (2) is L1, at least ``l2_score`` (1) L2, anything less L3; an
article in force is never L4. Dates (2001年7月1日, 一九九二年九月三十日) are taken out before numbers are
read, so an effective date is not a time limit. So a law's rule stays L1 unless it only states
competence, principle, formalities or discretion (L2) or no rule at all (L3); an interpretation's
rule is L2 unless it sets a limit, an amount, a penalty, a definition or a list of conditions (L1),
or is discretionary, transitional or self-referential (L3). Every pattern, word list, point and
threshold is a field of :class:`HardnessConfig`; ``statute_by_content: false`` levels statutes by
title alone (law and regulation L1, interpretation and normative document L2), the rule before
issue 15. The reasons list the title's points, each signal with its points and the match that
showed it, and the score.

Validity comes after substance: a text that is no longer in force (superseded or repealed, known
from the statute store by the record's law and version, or from a ``status`` field the record
carries) gets ``superseded_level``, L4 by default, whatever it says. History is worth knowing, but
training must not hold an old text as tightly as the law in force; the reason names the text and
since when it is not in force.
Other records start from their kind (case and exemption L3, knowledge L4) and move by one level on
the balance of hard signals (article citations, time limits, penalties, amounts, enumerated
structure, legal-term density) against soft markers (通说, 利益平衡, 酌情 …): a knowledge record that is
mostly quantified, cited rules rises to L3; a case or exemption that is mostly value balancing
falls to L4. Every decision is written into the reasons.

Training takes the label a record carries (:func:`record_alpha`): records written by ``ecmiip data
hardness --config`` keep the α the user produced and inspected, and only unlabelled records are
labelled by these rules when stage 1 reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecmiip.core.citations import LOOSE_ARTICLE_RE, parse_citation
from ecmiip.core.errors import InputError
from ecmiip.core.numerals import ITEM_NUMERAL, NUMERAL, YEAR
from ecmiip.core.statutes import IN_FORCE, REPEALED, SUPERSEDED, UNVERIFIED, Article, Document, store
from ecmiip.core.typed_yaml import FieldError, build, check_fields, load_yaml
from ecmiip.train.article_hardness import article_level, first_matches
from ecmiip.train.article_roles import (
    EFFECTIVE_DATE,
    ORGANISATIONAL,
    PURPOSE,
    ROLE_PATTERNS,
    SELF_REFERENTIAL,
    TRANSITIONAL,
)
from ecmiip.train.mipld import Record, citations_of, load_records, record_kind

if TYPE_CHECKING:  # recipe imports the QA builder, which imports this module's validity rules
    from ecmiip.train.recipe import Recipe

LEVELS = ("L1", "L2", "L3", "L4")


@dataclass(frozen=True)
class HardnessConfig:
    """Weights, thresholds and the word lists the rules use. Lists replace the defaults when set."""

    alpha_l1: float = 1.0
    alpha_l2: float = 0.7
    alpha_l3: float = 0.4
    alpha_l4: float = 0.1
    #: Statute titles that make a record L2 as a judicial interpretation (regular expressions).
    interpretation_titles: tuple[str, ...] = (r"^最高人民(法院|检察院).*(解释|规定|批复|决定)(（[^）]*）)?$",)
    #: Statute titles that make a record L2 as a normative document (regular expressions).
    normative_titles: tuple[str, ...] = (r"(意见|通知|指南|指引|纪要|答复|公告)(（[^）]*）)?$",)
    #: Titles of laws (the rest that are neither interpretations nor normative documents are
    #: administrative regulations): the document types the README's table counts.
    law_titles: tuple[str, ...] = (r"法(典)?(（[^）]*）)?$",)
    #: Phrases that state a time limit (regular expressions).
    time_limit_patterns: tuple[str, ...] = (
        rf"{NUMERAL}个?(年|月|日|天|工作日)(内|以内|之内|届满)",
        rf"(期限|保护期|期间|时效)为?[^。；，\n]{{0,20}}?{NUMERAL}个?(年|月|日|天|工作日)",
        r"自[^。；\n]{1,20}之日起",
        rf"(未满|不满|已满|超过|不得超过|逾){NUMERAL}个?(年|月|日|天|工作日)",
    )
    #: Phrases that state an amount, a multiple or a share (regular expressions).
    amount_patterns: tuple[str, ...] = (
        rf"{NUMERAL}万?元(以上|以下)?", rf"{NUMERAL}倍(以上|以下)", rf"百分之{NUMERAL}", rf"{NUMERAL}(%|％)",
    )
    #: Words of sanctions.
    penalty_terms: tuple[str, ...] = (
        "罚款", "没收", "拘留", "刑事责任", "吊销", "惩罚性赔偿", "销毁", "罚金", "有期徒刑", "拘役", "给予处分",
    )
    #: Terms of art whose density marks precise legal content.
    legal_terms: tuple[str, ...] = (
        "专利权", "权利要求", "保护范围", "技术特征", "等同", "现有技术", "新颖性", "创造性", "外观设计",
        "实用新型", "注册商标", "商标专用权", "近似", "混淆", "显著性", "驰名商标", "在先使用", "著作权",
        "复制权", "发行权", "信息网络传播权", "独创性", "合理使用", "法定许可", "商业秘密", "保密措施",
        "不为公众所知悉", "反向工程", "不正当竞争", "侵权", "侵犯", "停止侵害", "赔偿", "法定赔偿",
        "合理开支", "许可使用费", "合法来源", "举证", "诉讼时效", "无效宣告", "权利用尽", "先用权",
        "通知", "必要措施", "过错", "明知", "应知", "故意", "情节严重", "被诉侵权", "权利人",
    )
    #: Markers of doctrine, value judgements and discretion.
    soft_markers: tuple[str, ...] = (
        "利益平衡", "价值判断", "价值取向", "政策", "一般认为", "通说", "学界", "学说", "有观点认为", "有学者",
        "存在争议", "有争议",
        "分歧", "理论上", "酌情", "综合考虑", "个案", "自由裁量", "比例原则", "公共利益", "激励",
        "兼顾", "宽严", "衡量",
    )
    #: Legal terms per 100 characters from which the text counts as dense.
    term_density: float = 3.0
    #: At most this many points for citations (each distinct article is one).
    citation_points: int = 2
    #: Hard minus soft points needed to raise a knowledge record to L3.
    promote_margin: int = 3
    #: Soft minus hard points needed to lower a case or exemption to L4.
    demote_margin: int = 2
    #: Level of a statute text no longer in force (superseded or repealed): the softest by default, so
    #: an old text is not memorised as if it were the law. "" levels it like a text in force.
    superseded_level: str = "L4"

    # ---- statute articles in force: a score from the title and the content (train/article_hardness.py)
    #: False levels a statute by its title alone (law and regulation L1, interpretation and normative
    #: document L2): the rule before issue 15, kept to compare and for users who want it.
    statute_by_content: bool = True
    #: Title points by document type.
    law_points: int = 2
    regulation_points: int = 2
    interpretation_points: int = 1
    normative_points: int = 1
    #: Scores from which an article is L1 and L2; below ``l2_score`` it is L3.
    l1_score: int = 2
    l2_score: int = 1
    #: Points each kind of hard content adds (time limits, amounts and penalties use the lists above).
    time_limit_points: int = 2
    amount_points: int = 2
    quantity_points: int = 1
    penalty_points: int = 1
    enumerated_points: int = 1
    definition_points: int = 1
    #: Dates, taken out of an article before its numbers are read: "自1985年4月1日起施行" sets no limit.
    date_patterns: tuple[str, ...] = (
        rf"({YEAR})年({NUMERAL}月({NUMERAL}日)?)?",
    )
    #: Numeric limits other than time and money: "不得超过10项", "至少3人".
    quantity_patterns: tuple[str, ...] = (
        rf"(不得|不|最多|至少)(超过|少于|多于|低于)?{NUMERAL}个?(项|件|份|人|名|次|种|页|字)",
    )
    #: Definitions and deeming rules: the exact meaning of a term.
    definition_patterns: tuple[str, ...] = (r"是指", r"所称[^。；\n]{0,40}(包括|指)", r"视为")
    #: Points each soft function takes away, and the patterns that show it. The article's role
    #: (purpose, effective date, self-reference, transition, competence) is read by
    #: train/article_roles.py, which build-qa also asks; these fields are its patterns.
    purpose_points: int = 3
    purpose_patterns: tuple[str, ...] = ROLE_PATTERNS[PURPOSE]
    effective_date_points: int = 3
    effective_date_patterns: tuple[str, ...] = ROLE_PATTERNS[EFFECTIVE_DATE]
    #: Transitional and self-referential articles take ``transitional_points`` once between them.
    transitional_points: int = 2
    transitional_patterns: tuple[str, ...] = ROLE_PATTERNS[TRANSITIONAL]
    self_referential_patterns: tuple[str, ...] = ROLE_PATTERNS[SELF_REFERENTIAL]
    competence_points: int = 1
    competence_patterns: tuple[str, ...] = ROLE_PATTERNS[ORGANISATIONAL]
    principle_points: int = 1
    principle_patterns: tuple[str, ...] = (
        r"国家(鼓励|支持|提倡|扶持|促进|推动|加强|建立|实行|采取)",
        r"遵循[^。；\n]{0,30}原则",
    )
    formality_points: int = 1
    formality_patterns: tuple[str, ...] = (
        r"(办理|履行)[^。；\n]{0,20}手续", r"(规定|统一|制定)的?(表格|格式)", r"填写[^。；\n]{0,20}表格",
        r"一式[两二三四]份", r"签(字|名)或者盖章",
        r"缴纳[^。；\n]{0,8}费",
    )
    discretion_points: int = 1
    discretion_patterns: tuple[str, ...] = (r"综合(考虑|考量|判断)", r"酌情", r"(考虑|考量)[^。；\n]{0,6}因素", r"可以参考")

    def __post_init__(self) -> None:
        check_fields(self, [
            *[(f"alpha_{level.lower()}", lambda v: 0 <= v <= 1, "between 0 and 1") for level in LEVELS],
            *[(f.name, lambda v: all(isinstance(t, str) and t for t in v), "a list of non-empty strings")
              for f in fields(self) if isinstance(getattr(self, f.name), tuple)],
            ("superseded_level", lambda v: v in ("", *LEVELS), f"one of {', '.join(LEVELS)} or \"\" (level as in force)"),
            *[(f.name, lambda v: v >= 0, "a whole number of points, 0 or more")
              for f in fields(self) if f.name.endswith("_points")],
            ("l1_score", lambda v: v >= self.l2_score, f"at least l2_score ({self.l2_score})"),
        ])  # fmt: skip
        for name in (f.name for f in fields(self) if f.name.endswith(("_patterns", "_titles"))):
            for pattern in getattr(self, name):
                try:
                    re.compile(pattern)
                except re.error as e:
                    raise FieldError(name, pattern, f"a regular expression ({e})") from None

    def role_patterns(self) -> dict[str, tuple[str, ...]]:
        """The patterns of each article role, as :func:`~ecmiip.train.article_roles.article_roles` takes them."""
        return {PURPOSE: self.purpose_patterns, EFFECTIVE_DATE: self.effective_date_patterns,
                TRANSITIONAL: self.transitional_patterns, SELF_REFERENTIAL: self.self_referential_patterns,
                ORGANISATIONAL: self.competence_patterns}

    def alpha(self, level: str) -> float:
        return {"L1": self.alpha_l1, "L2": self.alpha_l2, "L3": self.alpha_l3, "L4": self.alpha_l4}[level]


@dataclass(frozen=True)
class Hardness:
    level: str  # "L1" … "L4"
    alpha_hard: float
    reasons: tuple[str, ...]

    def as_fields(self) -> dict[str, Any]:
        """The fields ``ecmiip data hardness`` adds to a record."""
        return {"hardness": self.level, "alpha_hard": self.alpha_hard, "hardness_reasons": list(self.reasons)}


def load_config(path: Path) -> HardnessConfig:
    """A config from YAML: any subset of HardnessConfig's fields; an unknown key or a bad value is an error."""
    raw = load_yaml(path, what="hardness config")
    return config_from_mapping({} if raw is None else raw, str(path))


def config_from_mapping(raw: Mapping[str, Any], where: str = "config") -> HardnessConfig:
    """The config of these settings, each checked, so a typo fails loudly instead of being ignored."""
    return build(HardnessConfig, raw, where, what="the hardness config")


# ---------------------------------------------------------------- rules

# Text each kind is judged on: for a case its holding, not the parties' claims.
_JUDGED_FIELDS = {
    "statute": ("text",),
    "case": ("reasoning", "grounds", "judgment"),
    "knowledge": ("concept", "analysis"),
    "exemption": ("explanation",),
}
_BASE_LEVEL = {"case": "L3", "exemption": "L3", "knowledge": "L4"}
_ENUMERATED = re.compile(rf"（{ITEM_NUMERAL}）|\({ITEM_NUMERAL}\)")
def _hard_signals(text: str, record: Mapping[str, Any], config: HardnessConfig) -> list[tuple[int, str]]:
    """(points, reason) for each sign of rigid content."""
    signals = []
    cited = {c.key for c in citations_of(record)}
    for m in LOOSE_ARTICLE_RE.finditer(text):
        c = parse_citation(m.group(0))
        cited.add(c.key if c else m.group(0))
    if cited:
        signals.append((min(len(cited), config.citation_points), f"cites {len(cited)} article(s)"))
    times = first_matches(config.time_limit_patterns, text)
    if times:
        signals.append((1, f"time limit: {times[0]}"))
    penalties = [t for t in config.penalty_terms if t in text]
    if penalties:
        signals.append((1, f"penalty: {', '.join(penalties)}"))
    amounts = first_matches(config.amount_patterns, text)
    if amounts:
        signals.append((1, f"amount: {amounts[0]}"))
    items = len(_ENUMERATED.findall(text))
    if items >= 2:
        signals.append((1, f"enumerated structure: {items} items"))
    hits = sum(text.count(t) for t in config.legal_terms)
    density = 100 * hits / max(len(text), 1)
    if density >= config.term_density:
        signals.append((1, f"legal-term density {density:.1f}/100 chars"))
    return signals


def _soft_signals(text: str, config: HardnessConfig) -> list[str]:
    return [m for m in config.soft_markers if m in text]


# ---------------------------------------------------------------- statute validity

NOT_IN_FORCE = (SUPERSEDED, REPEALED)


def statute_document(law: str, version: str) -> Document | None:
    """The store's text of a statute record (its law and version), or None when the store lacks it."""
    found = [d for d in store().by_law.get(law, ()) if d.version == version]
    return found[-1] if found else None


def document_status(doc: Document, day: date | None = None) -> str:
    """``in_force`` (or ``unverified``) while the text is the law on ``day`` (today), else how it is not:
    ``superseded``, ``repealed`` or ``not_yet_in_force``."""
    day = day or date.today()
    if doc.in_force_on(day):
        return UNVERIFIED if doc.status == UNVERIFIED else IN_FORCE
    status = doc.status_on(day)
    return status if status in (*NOT_IN_FORCE, "not_yet_in_force") else SUPERSEDED


def statute_status(data: Mapping[str, Any], day: date | None = None) -> str | None:
    """A statute record's status on ``day`` (today): the store's, or the record's ``status`` field.

    ``superseded``/``repealed`` when either says the text is no longer in force; ``in_force``,
    ``unverified`` or ``not_yet_in_force`` as the store has it; None when neither knows.
    """
    day = day or date.today()
    own = data.get("status") if isinstance(data.get("status"), str) else None
    doc = statute_document(str(data.get("law", "")), str(data.get("version", "")))
    if doc is None:
        return own
    status = document_status(doc, day)
    return own if own in NOT_IN_FORCE and status not in NOT_IN_FORCE else status


def ceased(doc: Document | None, status: str) -> str:
    """``已于2025-10-15被取代`` / ``已于2025-04-26废止`` / ``已被取代``: how a text stopped being the law."""
    when = f"于{doc.superseded_on.isoformat()}" if doc and doc.superseded_on else ""
    reported = "据报道" if doc and "reported" in doc.status_basis else ""
    return f"{reported}已{when}{'废止' if status == REPEALED else '被取代'}"


def label(record: Record | Mapping[str, Any], config: HardnessConfig | None = None,
          as_of: date | None = None) -> Hardness:
    """The hardness level, α_hard and the reasons for one valid record (statute validity on ``as_of``, today)."""
    config = config or HardnessConfig()
    data = record.data if isinstance(record, Record) else record
    kind = record.kind if isinstance(record, Record) else record_kind(data)
    if kind not in _JUDGED_FIELDS:
        raise ValueError(f"not a MIPLD record kind: {kind!r}")
    text = "\n".join(data[f] for f in _JUDGED_FIELDS[kind] if isinstance(data.get(f), str))

    if kind == "statute":
        level, reasons = article_level(data["law"], text, config)
        status = statute_status(data, as_of)
        if status in NOT_IN_FORCE and config.superseded_level:
            doc = statute_document(data["law"], data.get("version", ""))
            since = f" since {doc.superseded_on.isoformat()}" if doc and doc.superseded_on else ""
            level = config.superseded_level
            reasons.append(f"{status} text: 《{data['law']}》（{data.get('version', '')}） not in force{since}, "
                           f"{level} (superseded_level) so it is not memorised as current law")
        return Hardness(level, config.alpha(level), tuple(reasons))

    hard = _hard_signals(text, data, config)
    level = _BASE_LEVEL[kind]
    soft = _soft_signals(text, config)
    hard_points = sum(p for p, _ in hard)
    soft_points = len(soft)
    reasons = [f"{kind}: base {level}"] + [r for _, r in hard]
    if soft:
        reasons.append(f"soft markers: {', '.join(soft)}")
    balance = f"hard {hard_points} vs soft {soft_points}"
    if level == "L4" and hard_points - soft_points >= config.promote_margin:
        level = "L3"
        reasons.append(f"{balance}: raised to L3")
    elif level == "L3" and soft_points - hard_points >= config.demote_margin:
        level = "L4"
        reasons.append(f"{balance}: lowered to L4")
    else:
        reasons.append(balance)
    return Hardness(level, config.alpha(level), tuple(reasons))


# ---------------------------------------------------------------- the label training uses

ALPHA_FIELD = "alpha_hard"
LEVEL_FIELD = "hardness"


def record_name(record: Mapping[str, Any], index: int | None = None) -> str:
    """How an error names a record: its id, a statute's 《law》article（version）, else its place in the list."""
    if isinstance(record.get("id"), str) and record["id"]:
        return f"record {record['id']!r}"
    if record_kind(record) == "statute" and record.get("law") and record.get("article"):
        version = f"（{record['version']}）" if record.get("version") else ""
        return f"《{record['law']}》{record['article']}{version}"
    return f"{record_kind(record) or 'record'} record #{index + 1}" if index is not None else "a record"


def record_alpha(record: Mapping[str, Any], config: HardnessConfig | None = None, index: int | None = None) -> float:
    """The α_hard stage 1 trains a record with: the label it carries, else its level's α, else the rules'.

    A record labelled by ``ecmiip data hardness --config`` (or by hand) keeps that α, so the labels a user
    produced and inspected are the ones HKRE's decay is chosen by; only an unlabelled record is labelled
    here, with ``config`` (the defaults when None). A bad label is an error, never relabelled in silence.
    """
    config = config or HardnessConfig()
    if ALPHA_FIELD in record:
        value = record[ALPHA_FIELD]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:  # NaN too
            raise InputError(f"{record_name(record, index)}: {ALPHA_FIELD} must be a number between 0 and 1, "
                             f"got {value!r}")
        return float(value)
    if LEVEL_FIELD in record:
        level = record[LEVEL_FIELD]
        if level not in LEVELS:
            raise InputError(f"{record_name(record, index)}: {LEVEL_FIELD} must be one of {', '.join(LEVELS)}, "
                             f"got {level!r}")
        return config.alpha(level)
    return label(record, config).alpha_hard


# ---------------------------------------------------------------- what pre-training reads
# (here, not in pretrain.py, so that the data can be checked without importing torch)


def _data_files(recipe: Recipe, names: list[str]) -> list[Path]:
    from ecmiip.train.recipe import resolve

    return [resolve(recipe, n) for n in names]


def _statute_record(a: Article, status: str) -> dict:
    return {"kind": "statute", "law": a.law, "version": a.version, "chapter": a.chapter, "section": a.section,
            "article": a.article, "text": a.text, "status": status}


def builtin_statutes(as_of: date | None = None, include_superseded: bool = False) -> list[dict]:
    """What ``data.statutes: builtin`` means: the statute store's texts in force on ``as_of`` (today),
    the user's imported ones included, as statute records with their ``status``; with
    ``include_superseded`` every stored text, those no longer in force too."""
    day = as_of or date.today()
    s = store()
    articles = s.articles if include_superseded else s.current_articles(day)
    return [_statute_record(a, document_status(a.doc, day)) for a in articles]


def stage1_records(recipe: Recipe, as_of: date | None = None) -> list[dict]:
    """Statutes, knowledge and exemptions.

    ``data.statutes: builtin`` means the statute store's texts in force on ``as_of`` (today), the
    user's imported texts included; a list of files means their statute records, of which those the
    store knows to be no longer in force are left out. With ``data.include_superseded`` the
    superseded and repealed texts stay, each statute record carrying its ``status`` so that its text
    is labelled with its version and status (``stage1_text``) and hardness gives it the softest level.
    Texts not yet in force are never included. Each record keeps the fields it carries, its hardness
    label (``alpha_hard``) included, so that stage 1 trains with that label (:func:`record_alpha`).
    """
    data, day = recipe.data, as_of or date.today()
    if data.statutes == "builtin":
        records = builtin_statutes(day, data.include_superseded)
    else:
        files = _data_files(recipe, [data.statutes] if isinstance(data.statutes, str) else data.statutes)
        records = [r.data | {"kind": "statute", "status": statute_status(r.data, day) or UNVERIFIED}
                   for r in load_records(files) if r.kind == "statute"]
    allowed = (IN_FORCE, UNVERIFIED, *(NOT_IN_FORCE if data.include_superseded else ()))
    records = [r for r in records if r["status"] in allowed]
    records += [r.data | {"kind": r.kind} for r in load_records(_data_files(recipe, data.knowledge + data.exemptions))]
    return records


def pretrain_data(recipe: Recipe, as_of: date | None = None) -> tuple[list[dict], list[Record]]:
    """Stage 1's records and stage 2's case records, every data file read and checked (errors name
    file:line): what ``ecmiip train pretrain`` checks before any model loads."""
    records = stage1_records(recipe, as_of)
    if not records:
        raise InputError(f"{recipe.source}: stage 1 has no records: data.statutes, data.knowledge and "
                         "data.exemptions give none")
    cases = [r for r in load_records(_data_files(recipe, recipe.data.cases)) if r.kind == "case"]
    if not cases:
        raise InputError(f"{recipe.source}: stage 2 needs case records: list MIPLD files of kind case under "
                         "data.cases")
    return records, cases
