"""Thinking and answer through the real engine on the real starter model.

The starter model does not think on its own, but it copies a pattern greedily: shown four
replies that think in `<think>` first, it writes a fifth the same way, with the markers split
over several tokens (`<`, `think`, `>`). A copy of its weights with a chat template whose
generation prompt opens `<think>` (as R1 distills, GLM-4.7 or Qwen3.5 do) gives a reply that
starts inside the thinking.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.engine.config import ModelConfig
from inference.engine.engine import Engine, marker_tokens
from inference.engine.events import FinishReason, TokenEvent
from inference.engine.reasoning import ReasoningFormat
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.llama.native import NativeModel
from tests.engine.test_engine import chat, run
from tests.support.templated_model import templated_copy

pytestmark = pytest.mark.model

WORDS = [(2, "two"), (3, "three"), (4, "four"), (5, "five")]
DEMO = "".join(f"Q: Spell {n}.\nA: <think>The number {n} is spelled {w}.</think>\n{w}\n\n"
               for n, w in WORDS) + "Q: Spell 6.\nA:"
# The thinking it copies. After "The number " the digit and the word are a near tie for the
# 270M model, and which one wins greedily moves with the CPU's float sums (llama.cpp built for
# this machine's instruction set): both are the same thinking, parted from the same answer.
THOUGHTS = ("The number 6 is spelled six.", "The number six is spelled six.")
# A chat template that opens the thinking in its generation prompt and writes an earlier
# reply's thinking back from `reasoning_content` (written without newlines after the tags, so
# trim_blocks changes nothing).
OPENING_TEMPLATE = (
    "{% for m in messages %}"
    "{{ '<start_of_turn>' + ('model' if m.role == 'assistant' else 'user') + '\\n' }}"
    "{% if m.role == 'assistant' %}"
    "{{ '<think>\\n' + (m.reasoning_content | default('')) + '\\n</think>\\n\\n' }}"
    "{% endif %}{{ m.content + '<end_of_turn>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n<think>\\n' }}{% endif %}")


def instruct(text: str, **sampling: object) -> GenerationRequest:
    params = SamplingParams(**{"temperature": 0, "max_tokens": 24, **sampling})
    return GenerationRequest(Mode.INSTRUCT, text=text, sampling=params)


def split(events: list[TokenEvent]) -> tuple[list[TokenEvent], list[TokenEvent]]:
    return [e for e in events if e.reasoning], [e for e in events if not e.reasoning]


def test_a_reply_that_thinks_first_streams_its_thinking_then_its_answer(engine):
    events, finished = run(engine, instruct(DEMO, stop=("\n\n",)))
    assert finished.reasoning in THOUGHTS and finished.text == "six"  # "\n" after </think> gone
    assert finished.reason is FinishReason.STOP
    thinking, answer = split(events)
    assert events == thinking + answer                                # thinking first
    assert "".join(e.text for e in thinking) == finished.reasoning
    assert "".join(e.text for e in answer) == finished.text
    assert thinking[0].index >= 2          # `<think>` took tokens of its own and is not shown
    assert answer[0].index > thinking[-1].index + 1                   # nor is `</think>`
    stats = finished.stats
    assert stats.ttft_s is not None and stats.ttfa_s is not None
    assert stats.ttft_s < stats.ttfa_s <= stats.total_s
    assert stats.output_tokens > answer[0].index        # every token counts, markers too
    assert "TTFA" in stats.summary() and stats.to_dict()["ttfa_s"] == stats.ttfa_s


def test_stop_strings_apply_to_the_answer_alone(engine):
    _, finished = run(engine, instruct(DEMO, stop=("spelled", "\n")))   # both in the thinking
    assert finished.reasoning in THOUGHTS and finished.text == "six"
    assert finished.reason is FinishReason.STOP


def test_thinking_cut_off_by_max_tokens_leaves_no_answer(engine):
    events, finished = run(engine, instruct(DEMO, max_tokens=6))
    assert finished.reason is FinishReason.LENGTH
    assert finished.reasoning and any(t.startswith(finished.reasoning) for t in THOUGHTS)
    assert finished.text == "" and all(e.reasoning for e in events)
    assert finished.stats.ttft_s is not None and finished.stats.ttfa_s is None
    assert "TTFA" not in finished.stats.summary()


def test_text_mode_keeps_the_markers_as_the_users_text(engine):
    request = GenerationRequest(Mode.TEXT, text=DEMO,
                                sampling=SamplingParams(temperature=0, max_tokens=24,
                                                        stop=("\n\n",)))
    events, finished = run(engine, request)
    assert finished.text in [f" <think>{t}</think>\nsix" for t in THOUGHTS]
    assert finished.reasoning == ""
    assert not any(e.reasoning for e in events)
    assert finished.stats.ttfa_s == finished.stats.ttft_s


def test_a_reply_without_thinking_is_all_answer(engine):
    events, finished = run(engine, chat("Name three colours."))
    assert finished.text and finished.reasoning == ""
    assert events and not any(e.reasoning for e in events)
    assert "".join(e.text for e in events) == finished.text
    assert finished.stats.ttfa_s == finished.stats.ttft_s      # the answer began at once
    assert "TTFA" not in finished.stats.summary()


@pytest.fixture(scope="module")
def opening_engine(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """The starter weights with OPENING_TEMPLATE as the file's own chat template."""
    template = tmp_path_factory.mktemp("template") / "think-open.jinja"
    template.write_text(OPENING_TEMPLATE, encoding="utf-8")
    eng = Engine()
    eng.load(ModelConfig(templated_copy(starter_model_path, template), n_ctx=1024,
                         n_threads=2))
    yield eng
    eng.close()


def test_a_prompt_that_opened_the_thinking_gets_its_answer_shown(opening_engine):
    history: list[Message] = []
    for n, w in WORDS:          # earlier replies: the answer, and the thinking kept apart
        history += [Message("user", f"Spell {n}."),
                    Message("assistant", w, reasoning=f"The number {n} is spelled {w}.")]
    request = GenerationRequest(
        Mode.CHAT, (*history, Message("user", "Spell 6.")),
        sampling=SamplingParams(temperature=0, max_tokens=24, stop=(" ",)))
    prompt = opening_engine.render(request)
    assert prompt.template.startswith("the model's own template")
    assert prompt.text.endswith("<start_of_turn>model\n<think>\n")
    assert "<think>\nThe number 5 is spelled five.\n</think>\n\nfive" in prompt.text
    events, finished = run(opening_engine, request)
    assert finished.reasoning in THOUGHTS and finished.text == "six"   # " " stops the answer
    thinking, answer = split(events)
    assert events == thinking + answer and thinking[0].index == 0      # it began thinking
    assert finished.stats.ttft_s < finished.stats.ttfa_s


def test_marker_tokens_render_even_as_control_tokens(starter_model_path):
    model = NativeModel(starter_model_path, vocab_only=True)
    try:
        fmt = ReasoningFormat("test", "<start_of_turn>", "<end_of_turn>")
        ids = marker_tokens(model, fmt)
        assert len(ids) == 2
        for token in ids:            # llama.cpp renders a control token as nothing …
            assert model.piece(token) == b""
        assert {model.piece(t, special=True) for t in ids} == {b"<start_of_turn>",
                                                               b"<end_of_turn>"}
        assert marker_tokens(model, None) == frozenset()
    finally:
        model.close()
