"""The conversations rendered both ways at every export: run-time parity data, not test fixtures.

Export and ``ecmiip verify`` render each of them with the model's HF chat template, with the
Modelfile TEMPLATE (Go) and with the template embedded in the GGUF, and require identical text. They
cover the branches of the supported templates: system or not, think on/off/unset, history with and
without reasoning, a tool response after the last query, a system turn mid-conversation, quotes,
braces and whitespace at the edges. ``Conversation`` gives each as Ollama's chat handler and as
the HF chat template sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT


@dataclass
class Conversation:
    """A chat as a client sends it; turns are (role, content, thinking or None), ``think`` is the
    request's think flag (HF ``enable_thinking``), None when unset."""

    system: str | None
    turns: list[tuple[str, str, str | None]]
    think: bool | None = None
    label: str = field(default="", compare=False)

    def _messages(self, modelfile_system: str) -> list[tuple[str, str, str | None]]:
        msgs = ([("system", self.system, None)] if self.system is not None else []) + list(self.turns)
        # Ollama's chat handler: the Modelfile SYSTEM goes first unless the request starts with a system message.
        if modelfile_system and (not msgs or msgs[0][0] != "system"):
            msgs.insert(0, ("system", modelfile_system, None))
        return msgs

    def to_ollama(self, modelfile_system: str = "") -> dict[str, Any]:
        """The data Ollama gives the TEMPLATE (template.Values after collate).

        Ollama merges consecutive turns of one role with a blank line and HF templates do not, so
        conversations meant to compare the two alternate roles.
        """
        messages: list[dict[str, str]] = []
        for role, content, thinking in self._messages(modelfile_system):
            if messages and messages[-1]["Role"] == role and role != "tool":
                messages[-1]["Content"] += "\n\n" + content  # collate merges consecutive same-role turns
            else:
                messages.append({"Role": role, "Content": content, "Thinking": thinking or ""})
        system = "\n\n".join(m["Content"] for m in messages if m["Role"] == "system")
        return {
            "System": system,
            "Messages": messages,
            "Think": bool(self.think),
            "IsThinkSet": self.think is not None,
        }

    def to_hf(self, modelfile_system: str = "") -> tuple[list[dict[str, str]], dict[str, Any]]:
        """Messages and template kwargs for rendering the HF chat template (``ChatTemplate.render``).

        Assistant turns always carry ``reasoning_content`` (empty when there is none), as Ollama's
        messages always carry ``Thinking``; so the Qwen3 template never re-splits content at ``</think>``.
        """
        messages = []
        for role, content, thinking in self._messages(modelfile_system):
            msg = {"role": role, "content": content}
            if role == "assistant":
                msg["reasoning_content"] = thinking or ""
            messages.append(msg)
        return messages, ({} if self.think is None else {"enable_thinking": self.think})


_CASE = "某公司未经许可，在其网站上提供他人享有著作权的电影《流浪地球》的在线播放服务。权利人能主张哪些权利？"
_STATUTE = "《中华人民共和国著作权法》第十条第一款第（十二）项规定了信息网络传播权：以有线或者无线方式向公众提供，使公众可以在其选定的时间和地点获得作品的权利。"

PARITY_CONVERSATIONS: list[Conversation] = [
    Conversation(None, [("user", "什么是专利的新颖性？", None)], label="single-user"),
    Conversation(
        "你是一名知识产权律师。",
        [("user", "商标注册需要哪些材料？", None)],
        think=False,
        label="system-think-off",
    ),
    Conversation("你是一名知识产权律师。", [("user", _CASE, None)], think=True, label="system-think-on"),
    Conversation(
        None,
        [
            ("user", _CASE, None),
            ("assistant", _STATUTE, None),
            ("user", "赔偿数额怎么计算？请引用法条。", None),
        ],
        label="multi-turn",
    ),
    Conversation(
        LEGAL_SYSTEM_PROMPT,
        [
            ("user", _CASE, None),
            (
                "assistant",
                "权利人可以主张信息网络传播权受到侵害。",
                "用户问的是在线播放电影……\n应适用著作权法第十条。",
            ),
            ("user", "如果对方主张合理使用呢？", None),
        ],
        think=True,
        label="history-thinking-on",
    ),
    Conversation(
        None,
        [
            ("user", "发明专利的保护期限是多久？", None),
            ("assistant", "\n\n二十年，自申请日起计算。\n", "\n《专利法》第四十二条。\n\n"),
            ("user", "实用新型呢？", None),
            ("assistant", "十年。", "第四十二条第一款。"),
            ("user", "外观设计呢？", None),
        ],
        think=False,
        label="history-thinking-off",
    ),
    Conversation(
        'Answer in "plain" text; never say """.',
        [
            (
                "user",
                '  he wrote "{{ .System }}" and {% raw %}{{ x }}{% endraw %} }}\n\n""" done """  \n',
                None,
            )
        ],
        label="quotes-braces",
    ),
    Conversation(
        "\n  leading and trailing whitespace  \n",
        [
            ("user", "\n\t第一行\n\n第二行 \n", None),
            ("assistant", "  好的。  ", None),
            ("user", "  ？  ", None),
        ],
        think=True,
        label="whitespace",
    ),
    Conversation(
        "",
        [("user", "商业秘密的构成要件：秘密性、价值性、保密措施；对吗？", None)],
        label="empty-system",
    ),
    Conversation(
        "你是一名知识产权律师。",
        [
            ("user", "请核对法条。", None),
            ("assistant", "\n我将查询法条库。", "\n\n需要查询第十条。\n"),
            ("user", "<tool_response>\n" + _STATUTE + "\n</tool_response>", None),
        ],
        think=True,
        label="after-last-query",
    ),
    Conversation(
        "你是一名知识产权律师。",
        [
            ("user", "什么是驰名商标？", None),
            ("assistant", "驰名商标是在中国为相关公众所熟知的商标。", None),
            ("system", "以下回答请更简短。", None),
            ("user", "举一个例子。", None),
        ],
        think=False,
        label="mid-system",
    ),
    Conversation(
        None,
        [
            ("user", "“反不正当竞争法”第九条——商业秘密（含技术信息、经营信息）……", None),
            ("assistant", "", None),
            ("user", "继续。", None),
        ],
        label="fullwidth-empty-assistant",
    ),
]
