"""``/draft`` templates and the chat presets: each template asks for what its document needs, the
draft prompt carries every answer and only articles that exist, and the presets are what they say."""

from __future__ import annotations

from datetime import date

import pytest

from ecmiip.chat.drafts import TEMPLATES, Template, draft_prompt, missing_fields
from ecmiip.core.citations import verify_citations
from ecmiip.core.errors import InputError
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT, MODES, SAMPLING_DEFAULTS, TASKS, system_prompt

REQUIRED = ("律师函", "侵权警告函", "著作权许可合同", "商标许可合同", "保密协议")
ALL = list(TEMPLATES.values())


def _examples(t: Template) -> dict[str, str]:
    return {f.name: f.example for f in t.fields}


def test_the_required_templates_exist():
    assert set(REQUIRED) <= set(TEMPLATES)
    assert all(name == t.name for name, t in TEMPLATES.items())


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.name)
def test_fields_are_complete(template):
    assert len(template.fields) >= 5 and template.instruction and template.articles
    names = [f.name for f in template.fields]
    assert len(set(names)) == len(names)
    for f in template.fields:
        assert f.name.isidentifier() and f.label and f.example.strip()
        assert "？" in f.prompt, f.prompt  # a question put to the user


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.name)
def test_missing_fields(template):
    assert missing_fields(template, {}) == list(template.fields)
    values = _examples(template)
    assert missing_fields(template, values) == []
    first, *rest = template.fields
    values[first.name] = "   "  # blank counts as missing
    del values[rest[-1].name]
    assert missing_fields(template, values) == [first, rest[-1]]


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.name)
def test_draft_prompt_mentions_every_value_and_the_instruction(template):
    values = {f.name: f"{f.example}（{i}号）" for i, f in enumerate(template.fields)}
    values["附加说明"] = "请使用简体中文"
    prompt = draft_prompt(template, values)
    for f in template.fields:
        assert f"{f.label}：{values[f.name]}" in prompt
    assert "请使用简体中文" in prompt and template.name in prompt and template.instruction in prompt
    assert "【待填写】" in prompt
    for _, about in template.articles:
        assert f"（{about}）" in prompt or f"- {about}：" in prompt  # an article, or a note on a revised law


def test_a_blank_field_is_marked_never_filled_with_the_example():
    template = TEMPLATES["律师函"]
    client = template.fields[0]
    prompt = draft_prompt(template, {**_examples(template), "client": ""})
    assert f"{client.label}：【待填写】" in prompt and client.example not in prompt


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.name)
def test_every_article_a_template_cites_exists_and_none_superseded_reaches_the_prompt(template):
    for citation, _ in template.articles:
        [check] = verify_citations(citation)
        assert check.status in ("ok", "superseded") and check.text == citation, (citation, check.reason)
        if check.status == "superseded":  # written with the version it was checked against
            assert check.citation.version, citation
    checks = verify_citations(draft_prompt(template, _examples(template)))
    assert checks and all(c.ok for c in checks), [(c.text, c.reason) for c in checks if not c.ok]


def test_the_2019_unfair_competition_articles_become_notes_without_numbers():
    prompt = draft_prompt(TEMPLATES["保密协议"], _examples(TEMPLATES["保密协议"]))
    assert "反不正当竞争法》第九条" not in prompt and "（2019修正）第九条" not in prompt
    assert "2025修订" in prompt and "【待核对】" in prompt
    # the same template as it was drafted before the 2025 revision took effect cites the 2019 text
    before = draft_prompt(TEMPLATES["保密协议"], _examples(TEMPLATES["保密协议"]), as_of=date(2024, 1, 1))
    assert "《中华人民共和国反不正当竞争法》（2019修正）第九条" in before and "【待核对】" not in before


def test_modes_rigorous_is_cooler_than_drafting():
    assert set(MODES) == {"rigorous", "drafting"}
    assert MODES["rigorous"] == SAMPLING_DEFAULTS  # the Modelfile's defaults are the rigorous preset
    assert MODES["rigorous"]["temperature"] < MODES["drafting"]["temperature"]
    assert all(set(m) == set(SAMPLING_DEFAULTS) for m in MODES.values())


def test_system_prompt_appends_the_task_and_the_store_note():
    assert set(TASKS) == {"学理问答", "行为性质分析", "案例解析", "文书撰写", "合同条款审查", "专利权利要求比对"}
    assert system_prompt(None, store=False) == LEGAL_SYSTEM_PROMPT == system_prompt(store=False)
    for name, text in TASKS.items():
        prompt = system_prompt(name, store=False)
        assert prompt.startswith(LEGAL_SYSTEM_PROMPT) and prompt.endswith(text) and name in text
    with pytest.raises(InputError, match="学理问答"):
        system_prompt("写诗")


def test_the_store_note_says_how_current_the_store_is_and_what_it_lacks():
    today = system_prompt()
    assert today.startswith(LEGAL_SYSTEM_PROMPT) and "效力信息核对至2026-11-29" in today
    assert "《中华人民共和国反不正当竞争法》（2019修正）已被" in today and "2025-10-15" in today
    assert all(c.ok for c in verify_citations(today)), "the note itself cites only current articles"
    before = system_prompt(as_of=date(2024, 1, 1))  # a 2024 case: the 2019 text was the law then
    assert "反不正当竞争法》（2019修正）已被" not in before and "2024-01-01" in before
