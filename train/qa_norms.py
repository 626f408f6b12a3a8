"""What an article says, read sentence by sentence: its paragraphs (款) with their enumerated items, the
norm each sentence states (definition, condition → consequence, prohibition, duty, permission) and its
terms of art. The statute templates (``qa_statute_templates``) build their answers and scenarios from these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ecmiip.core.numerals import int_to_chinese
from ecmiip.core.statutes import ITEM_MARK
from ecmiip.train.hardness import HardnessConfig

_ITEM = re.compile(rf"^{ITEM_MARK}\s*")
_INLINE_ITEMS = re.compile(ITEM_MARK)
_CONNECTORS = re.compile(r"^(?:但是|但|并且|并|同时|此外|另外)[，,]?")

# ---------------------------------------------------------------- sentences


def flat(text: str) -> str:
    """The text on one line."""
    return text.strip().replace("\n", " ")


def sentences(text: str) -> list[str]:
    """Sentences split at 。 and ；, without their ending punctuation."""
    return [s.strip().rstrip("：:，") for s in re.split(r"[。；;]", text) if s.strip().rstrip("：:，")]


def first_sentences(text: str, n: int = 1, limit: int = 160) -> str:
    """The first ``n`` sentences (split at 。 only), shortened to ``limit`` characters."""
    parts = [s for s in re.split(r"(?<=。)", text.strip()) if s.strip()]
    out = "".join(parts[:n]).strip() or text.strip()
    return out if len(out) <= limit else out[:limit].rstrip("，；、") + "……"


def full_stop(text: str) -> str:
    """Text ending with one 。 (or its own ？！)."""
    text = text.strip().rstrip("，；、：")
    return text if text.endswith(("。", "？", "！", "”", "）")) else text + "。"


# ---------------------------------------------------------------- paragraphs and items


@dataclass
class Unit:
    """A paragraph of an article: a lead sentence and, for an enumeration, its items."""

    lead: str
    items: list[str] = field(default_factory=list)


def article_units(text: str) -> list[Unit]:
    """Paragraphs (款) of an article, with enumerated items（一）（二）… attached to their lead."""
    units: list[Unit] = []
    for para in (p.strip() for p in text.split("\n")):
        if not para:
            continue
        if _ITEM.match(para):
            item = _ITEM.sub("", para).rstrip("；;。，")
            if units and (units[-1].items or units[-1].lead.endswith(("：", ":"))):
                units[-1].items.append(item)
            else:
                units.append(Unit("", [item]))
            continue
        inline = _INLINE_ITEMS.split(para)
        if len(inline) > 2 and inline[0].rstrip().endswith(("：", ":")):
            units.append(Unit(inline[0].strip(), [i.strip().rstrip("；;。，") for i in inline[1:] if i.strip()]))
        else:
            units.append(Unit(para))
    return units


# ---------------------------------------------------------------- norms in a sentence

_DEFINITION = re.compile(r"^(?:本(?:法|条例|细则|规定|解释|办法)所称的?)?(?P<a>[^，。；：“”]{1,40}?)，?是指(?P<b>.+)$")
_CONDITIONAL = re.compile(r"^(?P<a>.{4,}?)的，(?P<b>.+)$")
MODALS = {"prohibition": "不得", "obligation": "应当", "permission": "可以"}
NORM_PRIORITY = ("conditional", "enumeration", "prohibition", "definition", "obligation", "permission")


@dataclass(frozen=True)
class Norm:
    """What one sentence of an article does. ``a``/``b``: term/meaning, condition/consequence or who/act."""

    kind: str  # definition, conditional, prohibition, obligation, permission, enumeration, plain
    sentence: str
    a: str = ""
    b: str = ""
    items: tuple[str, ...] = ()
    context: str = ""  # the sentence before it in the same paragraph, which it may depend on


def _modal_norm(sentence: str) -> Norm | None:
    for kind, word in MODALS.items():
        for m in re.finditer(word, sentence):
            before, after = sentence[: m.start()], sentence[m.end():]
            if before.endswith("不") or after.startswith(("知道", "认为")):  # 不应当 / 应当知道: not a duty
                continue
            who = _CONNECTORS.sub("", before.strip("，, "))
            act = re.split(r"[，,：]", after, maxsplit=1)[0].strip()
            if len(who) >= 2 and len(act) >= 2:
                return Norm(kind, sentence, who, act)
    return None


def sentence_norm(sentence: str) -> Norm:
    """Classify a sentence: definition, condition → consequence, prohibition, duty, permission or plain."""
    if m := _DEFINITION.match(sentence):
        return Norm("definition", sentence, m["a"].strip(), m["b"].strip())
    if (m := _CONDITIONAL.match(sentence)) and "下列" not in m["a"]:
        return Norm("conditional", sentence, m["a"].strip(), m["b"].strip())
    return _modal_norm(sentence) or Norm("plain", sentence)


def unit_norms(unit: Unit) -> list[Norm]:
    """The norms of one paragraph: its enumeration as one norm, else one per sentence."""
    if unit.items:
        lead = unit.lead.rstrip("：:")
        return [Norm("enumeration", lead, lead, "", tuple(unit.items))]
    parts = sentences(unit.lead)
    return [replace(sentence_norm(s), context=parts[i - 1] if i else "") for i, s in enumerate(parts)]


def article_norms(text: str) -> list[Norm]:
    """Every norm of an article in order; an enumeration is one norm with its lead and items."""
    return [n for unit in article_units(text) for n in unit_norms(unit)]


def describe_norm(n: Norm) -> str:
    """One line of the meaning answer: what kind of rule it is and its parts."""
    if n.kind == "definition":
        return f"界定了“{n.a}”的含义：{full_stop(n.b)}"
    if n.kind == "conditional":
        return f"适用条件是“{n.a}”，法律后果是：{full_stop(n.b)}"
    if n.kind == "prohibition":
        return f"禁止性规定：{n.a}不得{full_stop(n.b)}"
    if n.kind == "obligation":
        return f"义务性规定：{n.a}应当{full_stop(n.b)}"
    if n.kind == "permission":
        return f"授权性规定：{n.a}可以{full_stop(n.b)}"
    if n.kind == "enumeration":
        items = "；".join(f"（{int_to_chinese(i)}）{t}" for i, t in enumerate(n.items, 1))
        head = f"“{n.a}”，" if n.a else ""
        return f"{head}列举了{len(n.items)}项：{full_stop(items)}"
    return full_stop(n.sentence)


# Terms of art looked for in an article when it has no norm to build a scenario from.
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
