"""The one chat-template renderer: what transformers renders, BOS/EOS from one place, and one error
naming the template's source for whatever a template does wrong."""

from __future__ import annotations

import pytest

from ecmiip.core.chat_template import ChatTemplate, ChatTemplateError, from_tokenizer, render_chat_template
from ecmiip.core.errors import InputError
from ecmiip.quantize.parity_conversations import PARITY_CONVERSATIONS, Conversation

CHATML = (
    "{{ bos_token }}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
USER = [{"role": "user", "content": "问"}]
TRAILING_ASSISTANT = [
    Conversation(None, [("user", "问题", None), ("assistant", "\n\n回答\n", "\n\n推理\n\n")]),
    Conversation("S", [("user", "问题", None), ("assistant", "回答", None)], think=False),
]


def test_renders_with_tokens_and_generation_prompt():
    assert render_chat_template(CHATML, USER, bos_token="<s>") == "<s><|im_start|>user\n问<|im_end|>\n<|im_start|>assistant\n"
    assert render_chat_template(CHATML, USER, add_generation_prompt=False) == "<|im_start|>user\n问<|im_end|>\n"
    template = "{{ messages[0].content | tojson }}|{{ enable_thinking }}|{{ bos_token is defined }}"
    assert render_chat_template(template, USER, enable_thinking=False) == '"问"|False|False'


def test_messages_are_prepared_as_transformers_prepares_them():
    template = "{% for m in messages %}{{ m.reasoning_content }}/{{ m.thinking }}/{{ m.name is defined }}{% endfor %}"
    messages = [{"role": "assistant", "content": "a", "thinking": "t", "name": None}]
    assert render_chat_template(template, messages) == "t/t/False"
    assert messages == [{"role": "assistant", "content": "a", "thinking": "t", "name": None}]  # caller's untouched


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "SecurityError"),
        ("{{ raise_exception('no chat for you') }}", "no chat for you"),
        ("{% if %}", "does not compile"),
        ("{{ 1/0 }}", "ZeroDivisionError"),
        ("{{ messages[5].content }}", "UndefinedError"),
        ("{% set ns = namespace(_x=1) %}", "SecurityError"),
        ("", "no chat template"),
    ],
)
def test_whatever_a_template_does_wrong_is_one_error_naming_its_source(template, why):
    with pytest.raises(ChatTemplateError) as err:
        ChatTemplate(template, source="/models/m.gguf").render(USER)
    message = str(err.value)
    assert isinstance(err.value, InputError) and "\n" not in message
    assert message.startswith("/models/m.gguf: ") and "chat template" in message and why in message


def test_check_refuses_a_template_that_does_not_compile():
    ChatTemplate(CHATML).check()
    with pytest.raises(ChatTemplateError, match="m.gguf: its chat template does not compile"):
        ChatTemplate("{% for %}", source="m.gguf").check()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny_qwen3_dir", "smollm2_dir"])
def test_renders_exactly_what_apply_chat_template_renders(model, request):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(request.getfixturevalue(model))
    template = from_tokenizer(tokenizer)
    assert (template.bos_token, template.eos_token) == (tokenizer.bos_token, tokenizer.eos_token)
    for conversation in PARITY_CONVERSATIONS + TRAILING_ASSISTANT:
        for system in ("", "SYSTEM"):
            messages, kwargs = conversation.to_hf(system)
            for generation_prompt in (True, False):
                want = tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=generation_prompt, **kwargs
                )
                assert template.render(messages, add_generation_prompt=generation_prompt, **kwargs) == want


def test_a_gguf_gives_the_template_and_tokens_its_metadata_names(tiny_qwen3_gguf, tiny_qwen3_dir):
    from transformers import AutoTokenizer

    from ecmiip.core.chat_template import from_llama
    from ecmiip.core.llama import loaded_llama

    with loaded_llama(tiny_qwen3_gguf, vocab_only=True) as llm:
        embedded = from_llama(llm, tiny_qwen3_gguf)
        bos_id = llm.metadata.get("tokenizer.ggml.bos_token_id")
        bos = None if bos_id is None else llm.detokenize([int(bos_id)], special=True).decode()
    hf = from_tokenizer(AutoTokenizer.from_pretrained(tiny_qwen3_dir))
    assert embedded.text == hf.text and embedded.source == str(tiny_qwen3_gguf)
    assert embedded.eos_token == hf.eos_token == "<|im_end|>"
    assert embedded.bos_token == bos  # the token the metadata names, not llama.cpp's fallback id


def test_verify_compares_the_gguf_template_with_the_tokenizer_one(tiny_qwen3_gguf, tiny_qwen3_dir):
    from transformers import AutoTokenizer

    from ecmiip.quantize.verify import check_chat_template

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3_dir)
    assert check_chat_template(tiny_qwen3_gguf, tokenizer, PARITY_CONVERSATIONS).passed
    tokenizer.chat_template = tokenizer.chat_template.replace("</think>\\n\\n", "</think>\\n")
    check = check_chat_template(tiny_qwen3_gguf, tokenizer, PARITY_CONVERSATIONS)
    assert not check.passed and check.details["mismatches"]
