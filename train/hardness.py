"""Rule-based hardness labels for MIPLD records, for HKRE's hardness-weighted training.

Legal knowledge is not equally rigid. A statute article must be reproduced verbatim; a doctrinal
comment may be paraphrased freely. Each record gets one of four levels and the weight α_hard that
training puts on holding it exactly:

* **L1** absolute hard: articles of laws and administrative regulations (rights, penalties, time
  limits), to be memorised verbatim. α = 1.0.
* **L2** judicial interpretations and normative documents (最高人民法院关于…解释/规定/批复, 意见, 通知…):
  binding in practice, but rules about applying the law rather than the law. α = 0.7.
* **L3** structured holdings and consistent adjudication patterns: cases, exemption rules drawn from
  effective cases. α = 0.4 by default.
* **L4** soft: doctrine, value balancing, commentary. α = 0.1 by default.

The L3/L4 defaults continue L1 → L2's step of 0.3, so the levels are evenly spaced, and keep L4
above zero: soft knowledge still anchors terminology and citations, but the model is left free to
phrase it. Both are in :class:`HardnessConfig` and can be set from YAML.

Statute records are levelled by the law's title (the text of a law is hard whatever it says), and by
its validity: a text that is no longer in force (superseded or repealed, known from the statute store
by the record's law and version, or from a ``status`` field the record carries) gets
``superseded_level``, L4 by default. History is worth knowing, but training must not hold an old text
as tightly as the law in force; the reason names the text and since when it is not in force.
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
from typing import Any

from ecmiip.core.citations import LOOSE_ARTICLE_RE, parse_citation
from ecmiip.core.errors import InputError
from ecmiip.core.numerals import ITEM_NUMERAL, NUMERAL
from ecmiip.core.statutes import IN_FORCE, REPEALED, SUPERSEDED, UNVERIFIED, Article, Document, store
from ecmiip.core.typed_yaml import FieldError, build, check_fields, load_yaml
from ecmiip.train.mipld import Record, citations_of, load_records, record_kind
from ecmiip.train.recipe import Recipe, resolve

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
    #: Phrases that state a time limit (regular expressions).
    time_limit_patterns: tuple[str, ...] = (
        rf"{NUMERAL}个?(年|月|日|天|工作日)(内|以内|之内|届满)",
        rf"(期限|保护期|期间|时效)为?[^。；，\n]{{0,12}}?{NUMERAL}个?(年|月|日|天|工作日)",
        r"自[^。；\n]{1,20}之日起",
    )
    #: Phrases that state an amount or a multiple (regular expressions).
    amount_patterns: tuple[str, ...] = (rf"{NUMERAL}万?元(以上|以下)?", rf"{NUMERAL}倍(以上|以下)")
    #: Words of sanctions.
    penalty_terms: tuple[str, ...] = ("罚款", "没收", "拘留", "刑事责任", "吊销", "惩罚性赔偿", "销毁", "罚金")
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
    #: an old text is not memorised as if it were the law. "" levels it by its title like any text.
    superseded_level: str = "L4"

    def __post_init__(self) -> None:
        check_fields(self, [
            *[(f"alpha_{level.lower()}", lambda v: 0 <= v <= 1, "between 0 and 1") for level in LEVELS],
            *[(f.name, lambda v: all(isinstance(t, str) and t for t in v), "a list of non-empty strings")
              for f in fields(self) if isinstance(getattr(self, f.name), tuple)],
            ("superseded_level", lambda v: v in ("", *LEVELS), f"one of {', '.join(LEVELS)} or \"\" (level by title)"),
        ])  # fmt: skip
        for name in ("interpretation_titles", "normative_titles", "time_limit_patterns", "amount_patterns"):
            for pattern in getattr(self, name):
                try:
                    re.compile(pattern)
                except re.error as e:
                    raise FieldError(name, pattern, f"a regular expression ({e})") from None

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


def _first_matches(patterns: tuple[str, ...], text: str) -> list[str]:
    found = []
    for p in patterns:
        m = re.search(p, text)
        if m:
            found.append(m.group(0))
    return found


def _hard_signals(text: str, record: Mapping[str, Any], config: HardnessConfig) -> list[tuple[int, str]]:
    """(points, reason) for each sign of rigid content."""
    signals = []
    cited = {c.key for c in citations_of(record)}
    for m in LOOSE_ARTICLE_RE.finditer(text):
        c = parse_citation(m.group(0))
        cited.add(c.key if c else m.group(0))
    if cited:
        signals.append((min(len(cited), config.citation_points), f"cites {len(cited)} article(s)"))
    times = _first_matches(config.time_limit_patterns, text)
    if times:
        signals.append((1, f"time limit: {times[0]}"))
    penalties = [t for t in config.penalty_terms if t in text]
    if penalties:
        signals.append((1, f"penalty: {', '.join(penalties)}"))
    amounts = _first_matches(config.amount_patterns, text)
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


def _statute_level(law: str, config: HardnessConfig) -> tuple[str, str]:
    if any(re.search(p, law) for p in config.interpretation_titles):
        return "L2", f"judicial interpretation: 《{law}》"
    if any(re.search(p, law) for p in config.normative_titles):
        return "L2", f"normative document: 《{law}》"
    return "L1", f"article of a law or regulation: 《{law}》, verbatim"


def label(record: Record | Mapping[str, Any], config: HardnessConfig | None = None,
          as_of: date | None = None) -> Hardness:
    """The hardness level, α_hard and the reasons for one valid record (statute validity on ``as_of``, today)."""
    config = config or HardnessConfig()
    data = record.data if isinstance(record, Record) else record
    kind = record.kind if isinstance(record, Record) else record_kind(data)
    if kind not in _JUDGED_FIELDS:
        raise ValueError(f"not a MIPLD record kind: {kind!r}")
    text = "\n".join(data[f] for f in _JUDGED_FIELDS[kind] if isinstance(data.get(f), str))
    hard = _hard_signals(text, data, config)

    if kind == "statute":
        level, why = _statute_level(data["law"], config)
        reasons = [why] + [r for _, r in hard if not r.startswith(("cites", "legal-term"))]
        status = statute_status(data, as_of)
        if status in NOT_IN_FORCE and config.superseded_level:
            doc = statute_document(data["law"], data.get("version", ""))
            since = f" since {doc.superseded_on.isoformat()}" if doc and doc.superseded_on else ""
            level = config.superseded_level
            reasons.append(f"{status} text: 《{data['law']}》（{data.get('version', '')}） not in force{since}, "
                           f"{level} (superseded_level) so it is not memorised as current law")
        return Hardness(level, config.alpha(level), tuple(reasons))

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
    return [resolve(recipe, n) for n in names]


def _statute_record(a: Article, status: str) -> dict:
    return {"kind": "statute", "law": a.law, "version": a.version, "chapter": a.chapter, "section": a.section,
            "article": a.article, "text": a.text, "status": status}


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
        s = store()
        articles = s.articles if data.include_superseded else s.current_articles(day)
        records = [_statute_record(a, document_status(a.doc, day)) for a in articles]
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
