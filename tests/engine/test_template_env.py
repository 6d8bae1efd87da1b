"""Parley's Jinja environment is transformers' `apply_chat_template` environment: each feature a
real template uses renders the same text in both (transformers' own renderer, no mocks)."""

from __future__ import annotations

import pickle

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from inference.common.errors import ParleyError
from inference.engine.chat_formats import JinjaFormat, template_messages
from inference.engine.requests import Message
from inference.engine.template_limits import TemplateError, TemplateRefusal

CHAT = (Message("system", "Be brief."), Message("user", "Café <b>ü</b> & \"q\""),
        Message("assistant", "Fine.", reasoning="They greet me."), Message("user", "Bye"))


def transformers_render(source: str, messages: tuple[Message, ...] = CHAT) -> str:
    chat = [{"role": m.role, "content": m.content,
             **({"reasoning_content": m.reasoning} if m.reasoning else {})} for m in messages]
    rendered, _ = render_jinja_template([chat], chat_template=source, add_generation_prompt=True,
                                        bos_token="<s>", eos_token="</s>")
    return rendered[0]


def parley_render(source: str, messages: tuple[Message, ...] = CHAT) -> str:
    return JinjaFormat(source, "<s>", "</s>").render(messages)


@pytest.mark.parametrize("source", [
    # loopcontrols (Command-R7B, Command-A, Reka)
    "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}"
    "{{ m.content }};{% if m.role == 'assistant' %}{% break %}{% endif %}{% endfor %}",
    # the generation tag renders its body (LFM2.5)
    "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}[{{ m.content }}]"
    "{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}",
    # transformers' tojson: not HTML-escaped, non-ASCII kept, keys in order, a plain str
    "{{ '<|tool|>' + messages|tojson }}",
    "{{ messages[1]|tojson(ensure_ascii=True) }}|{{ messages[0]|tojson(indent=2) }}",
    "{{ messages[1]|tojson(separators=(',', ':'), sort_keys=true) }}",
    # tools and documents are passed as None, so `is defined` answers as in transformers
    "{{ tools is defined }} {{ tools is none }} {{ documents is defined }} {{ documents }}",
    # reasoning reaches the template as reasoning_content, and as thinking (gpt-oss)
    "{% for m in messages %}{{ m.role }}:{{ m.reasoning_content }}/{{ m.thinking }}|"
    "{% for k in m %}{{ k }},{% endfor %}{% endfor %}",
    "{{ bos_token }}{{ messages|length }}{{ eos_token }}{% if add_generation_prompt %}GO"
    "{% endif %}",
    "{% set d = dict(a=1, b=messages[0].role) %}{{ d|tojson }}{{ dict.fromkeys(['x'], 0) }}",
    "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}"
    "{{ ns.n }}",
    "{{ strftime_now('%Y') }}",
])
def test_each_feature_renders_as_transformers_renders_it(source):
    assert parley_render(source) == transformers_render(source)


def test_tojson_returns_text_that_plus_can_join():
    text = parley_render("{{ '<|tool|>' + messages[1].content|tojson }}")
    assert text == '<|tool|>"Café <b>ü</b> & \\"q\\""'


def test_messages_are_handed_over_as_transformers_aliases_them():
    assert template_messages(CHAT[2:3]) == [{"thinking": "They greet me.", "role": "assistant",
                                             "content": "Fine.",
                                             "reasoning_content": "They greet me."}]
    assert template_messages(CHAT[:1]) == [{"role": "system", "content": "Be brief."}]


def test_raise_exception_is_a_refusal_in_the_templates_own_words():
    source = "{{ raise_exception('Conversation roles must alternate\\nuser/assistant') }}"
    with pytest.raises(Exception, match="Conversation roles must alternate"):
        transformers_render(source)
    with pytest.raises(TemplateRefusal) as caught:
        parley_render(source)
    assert caught.value.reason == "Conversation roles must alternate user/assistant"
    assert str(caught.value) == ("the model's chat template refused the conversation: "
                                 "Conversation roles must alternate user/assistant")
    assert isinstance(caught.value, ParleyError)
    again = pickle.loads(pickle.dumps(caught.value))        # as it crosses from the engine
    assert type(again) is TemplateRefusal and str(again) == str(caught.value)
    assert again.reason == caught.value.reason


def test_a_namespace_refuses_underscore_names_in_both():
    source = "{% set ns = namespace(_x=1) %}{{ ns._x }}"
    with pytest.raises(Exception, match="underscore"):
        transformers_render(source)
    with pytest.raises(TemplateError, match="unsafe.*underscore"):
        parley_render(source)


def test_the_custom_subject_names_the_users_template():
    with pytest.raises(TemplateError, match="^the custom chat template does not parse"):
        JinjaFormat("{% for %}", subject="the custom chat template")
    fmt = JinjaFormat("{{ raise_exception('no') }}", subject="the custom chat template")
    with pytest.raises(TemplateRefusal, match="^the custom chat template refused the "
                                              "conversation: no$"):
        fmt.render(CHAT)
