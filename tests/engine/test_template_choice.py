"""Which template a model's prompts use: the file's own (its named templates listed), llama.cpp's
built-in, or the user's own; a template that refuses the system role takes it in the first
message (crafted GGUFs through the real vocabulary loader, the real sandbox)."""

from __future__ import annotations

import pytest

from inference.engine.chat_formats import GEMMA, BuiltinFormat, JinjaFormat
from inference.engine.prompts import build_prompt, choose_template
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.template_check import (
    file_template_choice,
    file_template_problem,
    template_for,
)
from inference.engine.template_limits import TemplateError, TemplateRefusal
from inference.engine.template_source import TemplateKind, TemplateSource
from inference.gguf.file import read_gguf
from inference.llama.chat_builtin import model_chat_template
from inference.llama.native import NativeModel
from tests.support.gguf_factory import write_tiny_model

LOOP = ("{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}")
NO_SYSTEM = ("{% if messages[0].role == 'system' %}{{ raise_exception('System role not "
             "supported') }}{% endif %}" + LOOP)
MERGED_NOTE = ("This model's chat template does not accept a system prompt; it is added to your "
               "first message.")


def words(text: str, _special: bool) -> list[int]:
    return [1] + [hash(w) % 1000 for w in text.split()]


def chat(*turns: str, system: str = "") -> GenerationRequest:
    roles = ("user", "assistant")
    messages = tuple(Message(roles[i % 2], t) for i, t in enumerate(turns))
    return GenerationRequest(Mode.CHAT, messages, system=system)


def test_a_template_refusing_the_system_role_takes_it_in_the_first_message():
    choice = choose_template("gemma2", NO_SYSTEM, "", "", set())
    assert choice.problem is None and choice.merges_system
    assert choice.label == "the model's own template (tokenizer.chat_template)"
    assert choice.warning == MERGED_NOTE
    first = build_prompt(chat("Hi", system="Be kind."), choice, words, 200)
    assert first.text == "<user>Be kind.\n\nHi<assistant>"
    assert first.warnings == (MERGED_NOTE,)                 # said on the first message
    later = build_prompt(chat("Hi", "Hello", "Bye", system="Be kind."), choice, words, 200)
    assert later.text == "<user>Be kind.\n\nHi<assistant>Hello<user>Bye<assistant>"
    assert later.warnings == ()                             # and not again
    plain = build_prompt(chat("Hi"), choice, words, 200)
    assert plain.text == "<user>Hi<assistant>" and plain.warnings == ()


def test_a_system_refusal_at_reply_time_merges_for_that_reply():
    # renders the trial conversation, refuses a system prompt that mentions "secret"
    source = ("{% if messages[0].role == 'system' and 'secret' in messages[0].content %}"
              "{{ raise_exception('no secrets in the system prompt') }}{% endif %}" + LOOP)
    choice = choose_template("llama", source, "", "", set())
    assert not choice.merges_system and choice.warning is None
    built = build_prompt(chat("Hi", system="a secret"), choice, words, 200)
    assert built.text == "<user>a secret\n\nHi<assistant>"
    assert built.warnings == (MERGED_NOTE,) and built.template == choice.label


def test_a_template_that_fails_for_another_reason_falls_back_naming_its_words():
    choice = choose_template("gemma3", "{{ raise_exception('no way') }}", "", "", set())
    assert choice.label == "gemma (llama.cpp built-in)" and not choice.merges_system
    assert choice.warning == ("Using the built-in gemma format: the model's chat template "
                              "refused the conversation: no way.")


def test_builtin_source_uses_llama_cpps_format_even_with_a_good_template():
    choice = choose_template("gemma3", LOOP, "", "", set(), source=TemplateSource("builtin"))
    assert choice.format == GEMMA and choice.label == "gemma (llama.cpp built-in)"
    assert choice.warning is None


def test_custom_source_is_used_and_labelled_with_its_origin():
    source = TemplateSource(TemplateKind.CUSTOM, "[{% for m in messages %}{{ m.content }}"
                            "{% endfor %}]", "/tmp/mine.jinja")
    choice = choose_template("gemma3", LOOP, "", "", set(), source=source)
    assert choice.label == "custom template (/tmp/mine.jinja)" and choice.fallback is None
    built = build_prompt(chat("Hi"), choice, words, 200)
    assert built.text == "[Hi]" and built.template == choice.label


def test_custom_source_that_fails_raises_never_falls_back():
    broken = TemplateSource(TemplateKind.CUSTOM, "{% for m in messages %}", "x.jinja")
    with pytest.raises(TemplateError, match="^the custom chat template does not parse"):
        choose_template("gemma3", LOOP, "", "", set(), source=broken)
    refusing = TemplateSource(TemplateKind.CUSTOM, "{{ raise_exception('nope') }}", "y.jinja")
    with pytest.raises(TemplateRefusal, match="custom chat template refused .*: nope$"):
        choose_template("gemma3", LOOP, "", "", set(), source=refusing)
    boom = TemplateSource(TemplateKind.CUSTOM, "{% if 'boom' in messages[-1].content %}"
                          "{{ raise_exception('no boom') }}{% endif %}" + LOOP, "z.jinja")
    choice = choose_template("gemma3", LOOP, "", "", set(), source=boom)
    with pytest.raises(TemplateRefusal, match="^the custom chat template refused the "
                                              "conversation: no boom$"):
        build_prompt(chat("boom"), choice, words, 200)


def test_custom_source_that_refuses_the_system_role_merges_and_says_whose():
    source = TemplateSource(TemplateKind.CUSTOM, NO_SYSTEM, "settings")
    choice = choose_template("gemma3", None, "", "", set(), source=source)
    assert choice.merges_system and choice.warning == (
        "The custom chat template does not accept a system prompt; it is added to your first "
        "message.")


def test_a_builtin_name_as_the_template_is_llama_cpps_builtin():
    # llama.cpp answers "mistral-v7-tekken" for Mistral-Small-2503 files without a template
    choice = choose_template("llama", "mistral-v7-tekken", "", "", set())
    assert choice.format == BuiltinFormat("mistral-v7-tekken") and choice.problem is None
    custom = TemplateSource(TemplateKind.CUSTOM, "chatml\n", "settings")
    assert choose_template("gemma3", None, "", "", set(), source=custom).label == \
        "chatml (llama.cpp built-in)"


def test_named_templates_are_listed_and_the_default_is_used(tmp_path):
    tool_use = "{% for m in messages %}TOOLS {{ m.content }}{% endfor %}"
    path = write_tiny_model(tmp_path / "named.gguf", chat_template=LOOP,
                            extra_kv={"tokenizer.chat_template.tool_use": tool_use})
    choice = _choice_for(path)
    assert choice.templates == ("tokenizer.chat_template", "tokenizer.chat_template.tool_use")
    assert choice.label == "the model's own template (tokenizer.chat_template)"
    assert build_prompt(chat("Hi"), choice, words, 200).text == "<user>Hi<assistant>"


def test_without_a_default_the_tool_use_template_is_used_as_llama_cpp_does(tmp_path):
    tool_use = "{% for m in messages %}TOOLS {{ m.content }}{% endfor %}"
    path = write_tiny_model(tmp_path / "tool.gguf",
                            extra_kv={"tokenizer.chat_template.tool_use": tool_use})
    choice = _choice_for(path)
    assert choice.templates == ("tokenizer.chat_template.tool_use",)
    assert choice.label == "the model's own template (tokenizer.chat_template.tool_use)"
    assert build_prompt(chat("Hi"), choice, words, 200).text == "TOOLS Hi"


def test_a_long_template_is_read_whole(tmp_path):
    source = "{# " + "x" * 20_000 + " #}" + LOOP        # past llama.cpp's 4 KiB meta buffer
    path = write_tiny_model(tmp_path / "long.gguf", chat_template=source)
    model = NativeModel(path, vocab_only=True)
    try:
        assert model_chat_template(model) == source
    finally:
        model.close()
    assert _choice_for(path).problem is None


def test_the_choice_is_a_jinja_format_with_the_files_bos_and_eos(tmp_path):
    path = write_tiny_model(tmp_path / "bos.gguf", chat_template="{{ bos_token }}|{{ eos_token }}"
                            "{% for m in messages %}{{ m.content }}{% endfor %}")
    choice = _choice_for(path)
    assert isinstance(choice.format, JinjaFormat)
    assert choice.format.render([Message("user", "x")]) == "<s>|</s>x"


def _choice_for(path):
    model = NativeModel(path, vocab_only=True)
    try:
        return template_for(read_gguf(path), model)
    finally:
        model.close()


def test_info_sees_the_merge_a_load_makes(tmp_path):
    path = write_tiny_model(tmp_path / "nosys.gguf", chat_template=NO_SYSTEM)
    choice = file_template_choice(read_gguf(path))
    assert choice is not None and choice.merges_system and choice.notes == (MERGED_NOTE,)
    assert file_template_problem(read_gguf(path)) is None       # a merge is not a problem


def test_the_starter_vocabulary_picks_llama_cpps_gemma(starter_model_path):
    choice = _choice_for(starter_model_path)            # a base model: no template at all
    assert choice.format == GEMMA and choice.label == "gemma (llama.cpp built-in)"
    assert choice.problem is None and choice.templates == ()


def test_template_for_follows_the_source_it_is_given(tmp_path):
    path = write_tiny_model(tmp_path / "src.gguf", chat_template=LOOP)
    model = NativeModel(path, vocab_only=True)
    try:
        builtin = template_for(read_gguf(path), model, TemplateSource(TemplateKind.BUILTIN))
        custom = template_for(read_gguf(path), model,
                              TemplateSource(TemplateKind.CUSTOM, "{{ messages[-1].content }}",
                                             "/x/mine.jinja"))
    finally:
        model.close()
    assert builtin.label == "llama2 (llama.cpp built-in)"      # the file's vocab: no markers
    assert custom.label == "custom template (/x/mine.jinja)"
    assert custom.templates == ("tokenizer.chat_template",)
