"""Prompt building, chat formats and the Jinja sandbox, without a model."""

from __future__ import annotations

import pytest

from inference.common.errors import PromptError, PromptTooLongError
from inference.engine.chat_formats import JinjaFormat, TemplateError, builtin_format
from inference.engine.prompts import build_prompt, choose_template
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams


def words(text: str, _special: bool) -> list[int]:
    """A stand-in tokenizer: one token per whitespace-separated word, plus BOS."""
    return [1] + [hash(w) % 1000 for w in text.split()]


GEMMA = choose_template("gemma3", None, "<bos>", "<eos>", set())


def test_builtin_format_follows_the_template_then_the_vocab_then_the_architecture():
    assert builtin_format("gemma3").name == "gemma"
    assert builtin_format("qwen2").name == "chatml"             # llama.cpp's own default
    assert builtin_format("llama").name == "llama2"
    llama3_vocab = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}
    assert builtin_format("llama", llama3_vocab).name == "llama3"
    assert builtin_format("llama", {"<|im_start|>", "<|im_end|>"}).name == "chatml"
    assert builtin_format("llama", {"[INST]", "</s>"}).name == "llama2"
    assert builtin_format("llama", {"[INST]", "[SYSTEM_PROMPT]"}).name == "mistral-v7"
    assert builtin_format("phi3", {"<|user|>", "<|assistant|>", "<|end|>"}).name == "phi3"
    assert builtin_format("deepseek2", {"<｜User｜>", "<｜Assistant｜>",
                                        "<｜end▁of▁sentence｜>"}).name == "deepseek3"
    assert builtin_format("glm4", {"[gMASK]", "<sop>", "<|user|>"}).name == "chatglm4"
    # a template's own text decides first, as llama_chat_apply_template detects it
    gemma_like = "{% for m in messages %}<start_of_turn>{{ m.role }}{% endfor %}"
    assert builtin_format("qwen2", {"<|im_start|>"}, gemma_like).name == "gemma"
    assert builtin_format("llama", llama3_vocab, "{{ nothing known }}").name == "llama3"


def test_gguf_template_is_used_when_it_renders():
    source = ("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}"
              "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}")
    choice = choose_template("llama", source, "<s>", "</s>", set())
    assert choice.label == "the model's own template (tokenizer.chat_template)"
    assert choice.warning is None and not choice.merges_system
    built = build_prompt(GenerationRequest(Mode.CHAT, (Message("user", "hi"),)), choice,
                         words, 100, bos_text="<s>")
    assert built.text == "<user>hi<assistant>"           # BOS left to the tokenizer


@pytest.mark.parametrize("escape", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('echo pwned') }}",
    "{% set x = messages.append(1) %}{{ x }}",
])
def test_template_that_escapes_the_sandbox_falls_back_and_says_so(escape):
    choice = choose_template("gemma3", escape, "<bos>", "<eos>", set())
    assert choice.label == "gemma (llama.cpp built-in)"
    assert choice.warning and "built-in gemma" in choice.warning


def test_jinja_sandbox_blocks_attribute_escape_directly():
    with pytest.raises(TemplateError, match="unsafe|failed"):
        JinjaFormat("{{ ''.__class__.__mro__ }}").render([Message("user", "x")])


def test_template_raise_exception_is_reported():
    choice = choose_template("gemma3", "{{ raise_exception('roles must alternate') }}",
                             "", "", set())
    assert "roles must alternate" in choice.warning


def test_empty_inputs_get_specific_messages():
    with pytest.raises(PromptError, match="message is empty"):
        build_prompt(GenerationRequest(Mode.CHAT, (Message("user", "  "),)), GEMMA, words, 100)
    with pytest.raises(PromptError, match="no text to continue"):
        build_prompt(GenerationRequest(Mode.TEXT, text=""), GEMMA, words, 100)
    with pytest.raises(PromptError, match="instruction is empty"):
        build_prompt(GenerationRequest(Mode.INSTRUCT, text="\n"), GEMMA, words, 100)
    with pytest.raises(PromptError, match="end with a message from you"):
        build_prompt(GenerationRequest(Mode.CHAT, (Message("assistant", "hi"),)), GEMMA,
                     words, 100)


def test_old_turns_are_dropped_system_kept_and_counted():
    turns: list[Message] = []
    for i in range(10):
        turns += [Message("user", f"q{i} " + "w " * 10), Message("assistant", "a " * 10)]
    turns.append(Message("user", "final"))
    request = GenerationRequest(Mode.CHAT, tuple(turns), system="SYS",
                                sampling=SamplingParams(max_tokens=10))
    built = build_prompt(request, GEMMA, words, 100)
    assert built.dropped_turns > 0 and built.dropped_turns % 2 == 0
    assert "SYS" in built.text and "final" in built.text and "q0 " not in built.text
    assert len(built.tokens) + 10 <= 100
    assert built.max_tokens == 10


def test_a_single_message_too_long_for_the_context_is_refused_clearly():
    request = GenerationRequest(Mode.CHAT, (Message("user", "w " * 500),),
                                sampling=SamplingParams(max_tokens=50))
    with pytest.raises(PromptTooLongError, match=r"holds 100 and 25 must stay free"):
        build_prompt(request, GEMMA, words, 100)


def test_huge_text_prompt_is_refused_not_crashed():
    request = GenerationRequest(Mode.TEXT, text="x " * 500_000)   # ~1 MB
    with pytest.raises(PromptTooLongError, match="1,024"):
        build_prompt(request, GEMMA, words, 1024)


def test_max_tokens_capped_by_the_context_is_marked_so():
    asked_more = GenerationRequest(Mode.TEXT, text="w " * 50,
                                   sampling=SamplingParams(max_tokens=1000))
    built = build_prompt(asked_more, GEMMA, words, 100)
    assert built.max_tokens == 100 - len(built.tokens) and built.context_capped
    for own in (10, 100 - len(built.tokens)):            # the user's limit, even when it is
        request = GenerationRequest(Mode.TEXT, text="w " * 50,   # exactly the room left
                                    sampling=SamplingParams(max_tokens=own))
        built = build_prompt(request, GEMMA, words, 100)
        assert built.max_tokens == own and not built.context_capped
