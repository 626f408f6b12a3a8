"""An optional teacher model that rewrites template answers of QA pairs into natural prose.

Any OpenAI-compatible ``/chat/completions`` endpoint (network only when the user gives a URL) or a
local GGUF through llama-cpp-python. A teacher's answer is kept only if it is non-empty, cites no
article outside the corpus or the source, and passes the per-pair checks of ``ecmiip data qa-audit``
(``ecmiip.train.qa_checks``: no clause cut off, brackets matched, no filler, citations that verify);
otherwise the template answer stays and the failure is counted with its reason (and the audit's codes).
Chain-of-thought steps are never rewritten.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ecmiip.core.chat_template import ChatTemplate, from_llama
from ecmiip.core.errors import InputError
from ecmiip.core.llama import close_llama, open_llama
from ecmiip.core.prompts import DEFAULT_NUM_CTX, system_user
from ecmiip.core.thinking import cut_off_in_thinking, strip_thinking
from ecmiip.train.qa import DEFAULT_SEED
from ecmiip.train.qa_checks import answer_findings
from ecmiip.train.qa_citations import unknown_citations
from ecmiip.train.qa_pairs import QAPair

TEACHER_PROMPT = """你是中国知识产权法律训练数据的审校专家。你会收到来源材料、一个问题和一份由模板生成的参考答案。请把参考答案改写成自然、准确、条理清楚的回答，并遵守：
1. 不改变参考答案的法律结论，不添加来源材料中没有的事实；
2. 只引用来源材料或参考答案中出现的法条，引用格式为《法律名》第X条，不得编造条号或条文内容；
3. 参考答案有【事实】【适用法律】【结论】等结构的，保留这一结构；
4. 只输出改写后的答案，不要输出说明或思考过程。"""

MAX_CONSECUTIVE_FAILURES = 8


class TeacherError(Exception):
    """One item the teacher could not polish; the template answer is kept."""


class AuditFailure(TeacherError):
    """A teacher's answer that fails the QA audit's per-pair checks; ``codes`` says which."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(f"failed the QA audit ({', '.join(codes)})")
        self.codes = codes


class Teacher(Protocol):
    """Anything that answers chat messages with text."""

    name: str

    def complete(self, messages: list[dict[str, str]]) -> str: ...


class HttpTeacher:
    """An OpenAI-compatible ``/chat/completions`` endpoint, over stdlib HTTP (no extra dependency)."""

    def __init__(self, url: str, model: str = "default", *, timeout: float = 120.0, max_tokens: int = 2048,
                 temperature: float = 0.3, api_key: str | None = None) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
        self.model, self.timeout, self.max_tokens, self.temperature = model, timeout, max_tokens, temperature
        self.api_key = api_key
        self.name = f"{self.model} @ {self.url}"

    def complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                           "temperature": self.temperature, "stream": False}, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            raise TeacherError(f"HTTP {e.code}") from e
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise TeacherError(f"unreachable ({getattr(e, 'reason', e)})") from e
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TeacherError("reply is not JSON") from e
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise TeacherError("reply has no choices[0].message.content") from e
        if not isinstance(content, str):
            raise TeacherError("reply content is not text")
        return content


class LlamaCppTeacher:
    """A local GGUF run in-process by llama-cpp-python; loaded on first use, its prompt rendered by the
    one chat-template renderer (as the chat engines render theirs)."""

    def __init__(self, path: Path, *, n_ctx: int = DEFAULT_NUM_CTX, max_tokens: int = 1024,
                 temperature: float = 0.3, seed: int = DEFAULT_SEED) -> None:
        self.path, self.n_ctx, self.max_tokens, self.temperature, self.seed = path, n_ctx, max_tokens, temperature, seed
        self.name = path.name
        self._llm = None
        self._template: ChatTemplate | None = None

    def _load(self) -> tuple[Any, ChatTemplate]:
        if self._llm is None:
            llm = open_llama(self.path, n_ctx=self.n_ctx, seed=self.seed)
            template = from_llama(llm, source=str(self.path))
            if not template.text:
                close_llama(llm)
                raise InputError(f"teacher GGUF {self.path}: no chat template (tokenizer.chat_template); "
                                 "use a chat model's GGUF")
            template.check()
            self._llm, self._template = llm, template
        return self._llm, self._template

    def complete(self, messages: list[dict[str, str]]) -> str:
        llm, template = self._load()
        prompt = template.render(messages)
        try:
            reply = llm.create_completion(prompt, max_tokens=self.max_tokens, temperature=self.temperature,
                                          seed=self.seed, stop=[template.eos_token] if template.eos_token else None)
        except Exception as e:  # e.g. the prompt exceeds the context: this item only
            raise TeacherError(str(e).splitlines()[0][:120] if str(e) else type(e).__name__) from e
        return reply["choices"][0]["text"] or ""


def make_teacher(spec: str, model: str | None = None) -> Teacher:
    """``http(s)://…`` → HttpTeacher (key from ECMIIP_TEACHER_API_KEY if set); a ``.gguf`` file → LlamaCppTeacher."""
    if re.match(r"https?://", spec):
        return HttpTeacher(spec, model or "default", api_key=os.environ.get("ECMIIP_TEACHER_API_KEY"))
    if model:
        raise InputError("--teacher-model names the model of a teacher URL; a GGUF teacher is its own model")
    path = Path(spec)
    if not path.is_file():
        raise InputError(f"--teacher: neither an http(s):// URL nor an existing GGUF file: {spec}")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise InputError(f"--teacher: {spec} is not a GGUF file")
    teacher = LlamaCppTeacher(path)
    teacher._load()  # fail before any work, not once per item
    return teacher


def teacher_messages(pair: QAPair) -> list[dict[str, str]]:
    user = f"【来源材料】\n{pair.source_text}\n\n【问题】\n{pair.question}\n\n【参考答案】\n{pair.answer}"
    return system_user(user, TEACHER_PROMPT)


def polish_answer(pair: QAPair, teacher: Teacher) -> str:
    """The teacher's version of the answer; TeacherError when it is unusable."""
    reply = teacher.complete(teacher_messages(pair))
    if cut_off_in_thinking(reply):
        raise TeacherError("reply cut off inside its thinking")
    text = strip_thinking(reply).strip()
    if not text:
        raise TeacherError("empty answer")
    bad = unknown_citations(text, pair.source_text + "\n" + pair.answer)
    if bad:
        raise TeacherError("cites articles not in the source or the corpus")
    failed = [f.code for f in answer_findings(text) if f.is_error]
    if failed:
        raise AuditFailure(list(dict.fromkeys(failed)))
    return text


@dataclass
class TeacherStats:
    """How many answers the teacher rewrote, how many were dropped (template kept) and why."""

    polished: int = 0
    failed: int = 0
    reasons: Counter = field(default_factory=Counter)  # why each dropped answer was dropped
    audit: Counter = field(default_factory=Counter)  # QA-audit code → dropped answers that failed it


def polish(pairs: Sequence[QAPair], teacher: Teacher, on_pair: Callable[[QAPair], None] | None = None) -> TeacherStats:
    """Replace each answer by the teacher's when usable; stop asking after repeated failures in a row."""
    stats = TeacherStats()
    streak = 0
    for p in pairs:
        if streak >= MAX_CONSECUTIVE_FAILURES:
            stats.failed += 1
            stats.reasons[f"not asked after {MAX_CONSECUTIVE_FAILURES} failures in a row"] += 1
        else:
            try:
                p.answer, p.polished = polish_answer(p, teacher), True
                stats.polished += 1
                streak = 0
            except TeacherError as e:
                stats.failed += 1
                stats.reasons[str(e)] += 1
                stats.audit.update(getattr(e, "codes", ()))
                streak += 1
        if on_pair:
            on_pair(p)
    return stats
