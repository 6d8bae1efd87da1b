"""Conformance: every chat template llama.cpp keeps in `models/templates/` (from the llama.cpp
vendored in the llama-cpp-python sdist) renders in Parley exactly as Hugging Face transformers'
own renderer renders it, on the same conversations; where transformers refuses, Parley refuses
too, in the template's own words. Run with `-s` to see the tally."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from inference.engine.chat_formats import BuiltinFormat, JinjaFormat
from inference.engine.prompts import TRIAL_CONVERSATION, build_prompt, choose_template
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.template_limits import TemplateError, TemplateRefusal, one_line
from tests.support.llama_templates import template_files

BOS, EOS = "<s>", "</s>"
CONVERSATIONS: dict[str, tuple[Message, ...]] = {
    "system + user": (Message("system", "You are a terse assistant."),
                      Message("user", "Hello, who are you?")),
    "multi-turn": (Message("user", "Hi!"), Message("assistant", "Hello! How can I help?"),
                   Message("user", "What is 2 + 2?"), Message("assistant", "4."),
                   Message("user", "And 3 + 3?")),
    "odd text": (Message("system", "Reply in \"plain\" text."),
                 Message("user", "Café — ünïcode, 日本語, \"double\" and 'single' quotes, "
                                 "<b>tags</b> & {braces}, a \\ backslash.")),
    "reasoning": (Message("user", "What is 17 × 3?"),
                  Message("assistant", "It is 51.", reasoning="17 × 3 = 51."),
                  Message("user", "And 17 × 4?")),
    "think in the text": (Message("user", "What is 2 + 2?"),
                          Message("assistant", "<think>\nAdd them.\n</think>\n\nIt is 4."),
                          Message("user", "Thanks!")),
}


@pytest.fixture(scope="module")
def templates() -> list[Path]:
    return template_files()


def openai_messages(messages: tuple[Message, ...]) -> list[dict[str, str]]:
    """The conversation as an OpenAI-style client sends it (reasoning as reasoning_content)."""
    return [{"role": m.role, "content": m.content,
             **({"reasoning_content": m.reasoning} if m.reasoning else {})} for m in messages]


def transformers_render(source: str, messages: tuple[Message, ...]) -> str:
    rendered, _ = render_jinja_template([openai_messages(messages)], chat_template=source,
                                        add_generation_prompt=True, bos_token=BOS,
                                        eos_token=EOS)
    return rendered[0]


def parley_format(source: str) -> JinjaFormat | TemplateError:
    """The template compiled once, or why it does not compile."""
    try:
        return JinjaFormat(source, BOS, EOS)
    except TemplateError as exc:
        return exc


def compare(path: Path, fmt: JinjaFormat | TemplateError, name: str,
            messages: tuple[Message, ...]) -> str:
    """One template on one conversation: "equal", "both refuse", or what went wrong."""
    try:
        expected: str | None = transformers_render(path.read_text(encoding="utf-8"), messages)
        refusal: Exception | None = None
    except Exception as exc:  # whatever the template raises in transformers
        expected, refusal = None, exc
    try:
        if isinstance(fmt, TemplateError):
            raise fmt
        got: str | None = fmt.render(messages)
        error: TemplateError | None = None
    except TemplateError as exc:
        got, error = None, exc
    where = f"{path.name} / {name}"
    if expected is not None:
        if got == expected:
            return "equal"
        return (f"{where}: Parley refused: {error}" if got is None
                else f"{where}: the texts differ at {_first_difference(got, expected)}")
    if error is None:
        return f"{where}: transformers refused ({refusal!r}) but Parley rendered"
    words = one_line(refusal)[:200]
    if words not in str(error) or "\n" in str(error):
        return f"{where}: Parley's message {str(error)!r} lacks the template's {words!r}"
    return "both refuse"


def _first_difference(got: str, expected: str) -> str:
    i = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
             min(len(got), len(expected)))
    return f"{i}: Parley {got[i - 30:i + 40]!r}, transformers {expected[i - 30:i + 40]!r}"


def test_every_template_renders_as_transformers_renders_it(templates):
    assert len(templates) >= 70                     # the sdist's whole folder, not a subset
    outcomes = Counter()
    problems: list[str] = []
    refusing: set[str] = set()
    for path in templates:
        fmt = parley_format(path.read_text(encoding="utf-8"))
        for name, messages in CONVERSATIONS.items():
            outcome = compare(path, fmt, name, messages)
            if outcome == "both refuse":
                refusing.add(path.name)
            elif outcome != "equal":
                problems.append(outcome)
                outcome = "differ"
            outcomes[outcome] += 1
    print(f"\n{len(templates)} templates × {len(CONVERSATIONS)} conversations: "
          f"{outcomes['equal']} equal, {outcomes['both refuse']} both refuse, "
          f"{outcomes['differ']} differ; refusing: {', '.join(sorted(refusing)) or 'none'}")
    assert not problems, "\n".join(problems)
    assert outcomes["equal"] >= 0.9 * len(templates) * len(CONVERSATIONS)


def test_no_template_transformers_renders_falls_back(templates):
    """Each template is used by Parley's load-time choice whenever transformers renders the trial
    conversation (as it is, or with the system prompt in the first message); a fallback is only
    ever for a template transformers cannot render either, and it says why."""
    tally = Counter()
    for path in templates:
        source = path.read_text(encoding="utf-8")
        choice = choose_template("llama", source, BOS, EOS, set())
        renders = any(_renders(source, c) for c in (TRIAL_CONVERSATION, _merged_trial()))
        if choice.problem is None:
            assert renders, f"{path.name}: used although transformers cannot render it"
            tally["merges the system prompt" if choice.merges_system else "own template"] += 1
        else:
            assert not renders, f"{path.name}: fell back although transformers renders it"
            assert choice.warning and choice.problem in choice.warning
            tally["built-in, with the reason"] += 1
    print(f"\n{len(templates)} templates at load: " +
          ", ".join(f"{n} {what}" for what, n in sorted(tally.items())))
    assert tally["own template"] >= 0.9 * len(templates)


def test_gemma2_takes_the_system_prompt_in_the_first_message(templates):
    source = next(p for p in templates if p.name == "google-gemma-2-2b-it.jinja").read_text()
    system, question = "You are a pirate.", "Where is the treasure?"
    with pytest.raises(TemplateRefusal) as refused:      # the template's own refusal
        JinjaFormat(source, BOS, EOS).render((Message("system", system),
                                              Message("user", question)))
    assert refused.value.reason == "System role not supported"
    choice = choose_template("gemma2", source, BOS, EOS, set())
    assert choice.merges_system and "does not accept a system prompt" in choice.warning
    built = build_prompt(GenerationRequest(Mode.CHAT, (Message("user", question),),
                                           system=system), choice, _words, 512, BOS)
    expected = transformers_render(source, (Message("user", f"{system}\n\n{question}"),))
    assert BOS + built.text == expected           # BOS is left to the tokenizer
    assert built.warnings == (choice.warning,)


CHAT = (Message("system", "Be brief."), Message("user", "Hi"), Message("assistant", "Hello."),
        Message("user", "Bye"))


def test_the_gemma_fallback_is_llama_cpps_documented_gemma_format():
    # llama.cpp's gemma: no system turn (its text opens the first user turn), "model" for the
    # assistant, contents trimmed
    assert BuiltinFormat("gemma").render(CHAT) == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n")
    assert choose_template("gemma3", None, BOS, EOS, set()).format == BuiltinFormat("gemma")


def test_the_chatml_and_llama3_fallbacks_are_their_documented_formats():
    assert BuiltinFormat("chatml").render(CHAT) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert BuiltinFormat("llama3").render(CHAT[:2]) == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")
    # a file without a template: its vocabulary's markers pick the built-in
    assert choose_template("qwen2", None, BOS, EOS, {"<|im_start|>"}).format == \
        BuiltinFormat("chatml")


def _renders(source: str, messages: tuple[Message, ...]) -> bool:
    try:
        transformers_render(source, messages)
    except Exception:  # the template refuses, or fails, in transformers too
        return False
    return True


def _merged_trial() -> tuple[Message, ...]:
    system, first, *rest = TRIAL_CONVERSATION
    return (Message("user", f"{system.content}\n\n{first.content}"), *rest)


def _words(text: str, _special: bool) -> list[int]:
    return [1] + [hash(w) % 1000 for w in text.split()]
