"""A question–answer pair for QLoRA SFT, as the templates make it and ``ecmiip.train.sft`` reads it.

One JSON object per line::

    {"id": "statute/中华人民共和国专利法（2020修正）/第十一条/meaning",
     "source": {"kind": "statute", "law": "中华人民共和国专利法", "version": "2020修正", "article": "第十一条",
                "effective": "2021-06-01", "status": "in_force", "role": "substantive",
                "template": "statute-meaning"},
     "messages": [{"role": "system", "content": LEGAL_SYSTEM_PROMPT},
                  {"role": "user", "content": "《中华人民共和国专利法》第十一条规定了什么？"},
                  {"role": "assistant", "content": "…"}],
     "cot": false}

``source`` of other kinds is ``{"kind": "case" | "knowledge" | "exemption", "id": record id, "template": …}``
(a record without ``id`` is named ``file:line``). ``template`` names the template that made the pair, so a bad
pair can be traced and filtered; a statute pair's ``role`` says what kind of article it comes from
(``substantive``, or ``effective_date``, ``self_referential``, ``transitional``, ``purpose``,
``organisational``, which get recitation pairs only) and ``reason`` why, for the latter. When ``cot`` is true the assistant content is
``<think>\\n{reasoning steps}\\n</think>\\n\\n{answer}``; otherwise it is the answer alone, with no think block
(Qwen3's chat template renders such a final turn with an empty ``<think>\\n\\n</think>``, its non-thinking form).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecmiip.core.prompts import system_user
from ecmiip.train.mipld import Record

# The share of reasoning pairs (case, knowledge, exemption) the build keeps against statute pairs, by
# sampling statute pairs (seeded; ``ecmiip.train.qa.balance``, recipe ``data.reasoning_share``). 0.3: stage 1
# (HKRE) already trains the statutes' text, so SFT's statute pairs teach the answering form; at three
# reasoning pairs in ten the paper's reasoning data is no longer drowned (2.4 % with every statute pair kept)
# while statute questions, the most frequent in use, stay the majority.
DEFAULT_REASONING_SHARE = 0.3
REASONING_KINDS = ("case", "knowledge", "exemption")

# Parties of template scenarios; the seed picks one per record.
PARTIES = ("甲公司", "乙公司", "丙某", "丁研究所", "某科技有限公司", "某文化传媒有限公司")


@dataclass
class QAPair:
    """One training pair; ``answer`` and ``reasoning`` are kept apart until written."""

    id: str
    source: dict[str, str]
    template: str  # which template made it: CoT is spread over templates
    question: str
    answer: str
    reasoning: list[str]
    source_text: str = ""  # what a teacher is shown
    cot: bool = False
    polished: bool = False

    @property
    def kind(self) -> str:
        return self.source["kind"]

    def assistant_content(self) -> str:
        if self.cot:
            return "<think>\n" + "\n".join(self.reasoning) + "\n</think>\n\n" + self.answer
        return self.answer

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": {**self.source, "template": self.template},
            "messages": [*system_user(self.question), {"role": "assistant", "content": self.assistant_content()}],
            "cot": self.cot,
        }


def seeded_rng(seed: int, *key: str) -> random.Random:
    """A generator that depends on the seed and the record only (str seeds are stable across runs)."""
    return random.Random("\x1f".join((str(seed), *key)))


def structured(facts: str, law: str, conclusion: str) -> str:
    """An answer in the shape the legal system prompt asks for: 【事实】【适用法律】【结论】."""
    return f"【事实】{facts}\n【适用法律】{law}\n【结论】{conclusion}"


def record_ref(record: Record) -> str:
    """A record's id, or ``file:line`` when it has none."""
    rid = record.data.get("id")
    return rid if isinstance(rid, str) and rid.strip() else f"{Path(record.path).name}:{record.line}"
