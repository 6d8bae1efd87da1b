"""Thinking told from answer: the splitter on every format, streamed in pieces that split each
marker at every position, and detection on llama.cpp's real chat templates."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.utils.chat_template_utils import render_jinja_template

from inference.engine.metrics import DEFINITIONS, GenerationStats, StatsClock
from inference.engine.reasoning import (
    FORMATS,
    THINK,
    Part,
    Phase,
    ReasoningFormat,
    ReasoningSplitter,
    Segment,
    detect_reasoning,
    format_named,
)
from inference.engine.streaming import Piece, ReplyStream
from tests.support.llama_templates import template_files


def opened(name: str) -> ReasoningFormat:
    """The format as a prompt that already opened the thinking leaves it."""
    return replace(format_named(name), starts_open=True)


# (case, format, reply text, thinking, answer)
CASES: list[tuple[str, ReasoningFormat | None, str, str, str]] = [
    ("closed think", THINK, "<think>\nLet me see: 2 + 2.\n</think>\n\nIt is 4.",
     "Let me see: 2 + 2.", "It is 4."),
    ("think after whitespace", THINK, "\n <think>R</think>A", "R", "A"),
    ("open-prompt think (R1, GLM-4.7, Qwen3.5 …)", opened("think"),
     "The user says hi.\n</think>\n\nHello! How can I help?", "The user says hi.",
     "Hello! How can I help?"),
    ("no thinking keeps its whitespace", THINK, "  An answer that mentions <think> tags.",
     "", "  An answer that mentions <think> tags."),
    ("thinking cut off", THINK, "<think>\nStill thinking about", "Still thinking about", ""),
    ("empty thinking", THINK, "<think>\n\n</think>\n\nJust the answer.", "",
     "Just the answer."),
    ("a second <think> is answer", THINK, "<think>a</think>b <think>c</think>", "a",
     "b <think>c</think>"),
    ("whitespace only", THINK, " \n ", "", " \n "),
    ("a partial marker at the end", THINK, "<thi", "", "<thi"),
    ("harmony", format_named("harmony"),
     "<|channel|>analysis<|message|>User greets.<|end|><|start|>assistant<|channel|>final"
     "<|message|>Hello!", "User greets.", "Hello!"),
    ("harmony, two analyses", format_named("harmony"),
     "<|channel|>analysis<|message|>One.<|end|><|start|>assistant<|channel|>analysis"
     "<|message|>Two.<|end|><|start|>assistant<|channel|>final<|message|>Done", "One.Two.",
     "Done"),
    ("harmony, final only", format_named("harmony"), "<|channel|>final<|message|>Hi", "",
     "Hi"),
    ("seed", format_named("seed"), "<seed:think>R r</seed:think>A a", "R r", "A a"),
    ("mistral", format_named("mistral"), "[THINK]Draft.[/THINK]Final.", "Draft.", "Final."),
    ("command-r7b", format_named("command-r7b"),
     "<|START_THINKING|>Plan.<|END_THINKING|><|START_RESPONSE|>Reply.<|END_RESPONSE|>",
     "Plan.", "Reply."),
    ("command-a, opened", opened("command-a"),
     "Plan.<|END_THINKING|><|START_TEXT|>Reply.<|END_TEXT|>", "Plan.", "Reply."),
    ("gemma4", format_named("gemma4"), "<|channel>thought\nHmm.<channel|>Answer.", "Hmm.",
     "Answer."),
    ("kimi-k3, opened", opened("kimi-k3"),
     "Hmm.<|close|>think<|sep|><|open|>response<|sep|>Answer.<|close|>response<|sep|>"
     "<|close|>message<|sep|>", "Hmm.", "Answer."),
    ("kimi-k3 skips the closer", opened("kimi-k3"),
     "Hmm.<|open|>response<|sep|>Answer.", "Hmm.", "Answer."),
    ("solar-open", format_named("solar-open"),
     "<|think|>Hmm.<|end|><|begin|>assistant<|content|>Answer.<|end|>", "Hmm.", "Answer."),
    ("apriel, opened", opened("apriel"), "Step 1.\n[BEGIN FINAL RESPONSE]\nAnswer.",
     "Step 1.", "Answer."),
    ("apertus", format_named("apertus"), "<|inner_prefix|>Hmm.<|inner_suffix|>Answer.",
     "Hmm.", "Answer."),
    ("granite", format_named("granite"), "<think>Hmm.</think>\n<response>Answer.</response>",
     "Hmm.", "Answer."),
    ("hunyuan", format_named("hunyuan"), "<think:opensource>Hmm.</think:opensource>Answer.",
     "Hmm.", "Answer."),
    ("minimax-m3", format_named("minimax-m3"), "<mm:think>Hmm.</mm:think>\n\nAnswer.", "Hmm.",
     "Answer."),
    ("no format (Text mode): all answer", None, "<think>R</think>A", "",
     "<think>R</think>A"),
    ("non-ASCII", THINK, "<think>日本🐱?</think>\n\ncafé ✓", "日本🐱?", "café ✓"),
]
IDS = [case[0] for case in CASES]


def split(fmt: ReasoningFormat | None, pieces: list[str]) -> tuple[list[Segment],
                                                                    ReasoningSplitter]:
    splitter = ReasoningSplitter(fmt)
    segments: list[Segment] = []
    for piece in pieces:
        segments += splitter.feed(piece)
    return segments + splitter.flush(), splitter


def check(fmt: ReasoningFormat | None, pieces: list[str], thinking: str, answer: str) -> None:
    segments, splitter = split(fmt, pieces)
    text = "".join(pieces)
    assert "".join(s.text for s in segments) == text          # nothing lost, nothing added
    assert "".join(s.text for s in segments if s.part is Part.REASONING) == thinking
    assert "".join(s.text for s in segments if s.part is Part.ANSWER) == answer
    assert (splitter.reasoning, splitter.answer) == (thinking, answer)
    parts = [s.part for s in segments if s.part is not Part.MARKUP]
    assert parts == sorted(parts, key=lambda p: p is Part.ANSWER)   # thinking, then answer


@pytest.mark.parametrize(("fmt", "text", "thinking", "answer"),
                         [case[1:] for case in CASES], ids=IDS)
def test_each_format_whole_and_one_character_at_a_time(fmt, text, thinking, answer):
    check(fmt, [text], thinking, answer)
    check(fmt, list(text), thinking, answer)


@pytest.mark.parametrize(("fmt", "text", "thinking", "answer"),
                         [case[1:] for case in CASES], ids=IDS)
def test_every_marker_split_at_every_position(fmt, text, thinking, answer):
    for i in range(len(text) + 1):                 # two pieces, cut everywhere
        check(fmt, [text[:i], text[i:]], thinking, answer)
    for i in range(len(text) + 1):                 # three pieces: a short middle everywhere
        for width in (1, 2, 3):
            check(fmt, [text[:i], text[i:i + width], text[i + width:]], thinking, answer)


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(CASES), cuts=st.lists(st.integers(0, 400), max_size=12))
def test_any_pieces_give_the_same_split(case, cuts):
    _, fmt, text, thinking, answer = case
    bounds = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    check(fmt, [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)], thinking, answer)


@settings(max_examples=300, deadline=None)
@given(reply=st.text(alphabet="<>/thinkTHINK|[] \nab", max_size=40),
       fmt=st.sampled_from([*FORMATS, opened("think"), None]),
       cut=st.integers(0, 40))
def test_arbitrary_text_is_never_lost(reply, fmt, cut):
    at = cut % (len(reply) + 1)
    whole, _ = split(fmt, [reply])
    pieces, _ = split(fmt, [reply[:at], reply[at:]])
    assert "".join(s.text for s in pieces) == reply
    assert _joined(whole) == _joined(pieces)


def _joined(segments: list[Segment]) -> dict[Part, str]:
    return {part: "".join(s.text for s in segments if s.part is part) for part in Part}


def test_thinking_streams_before_its_end_is_seen():
    splitter = ReasoningSplitter(THINK)
    assert splitter.feed("<think>\nFirst") == [Segment(Part.MARKUP, "<think>\n"),
                                               Segment(Part.REASONING, "First")]
    assert splitter.phase is Phase.REASONING and splitter.thought
    assert splitter.feed(" idea.\n</th") == [Segment(Part.REASONING, " idea.")]   # "\n</th" held
    assert splitter.feed("ink>\n\nYes") == [Segment(Part.MARKUP, "\n</think>\n\n"),
                                            Segment(Part.ANSWER, "Yes")]
    assert splitter.flush() == []


def test_reply_stream_applies_stop_strings_to_the_answer_only():
    stream = ReplyStream(stop=("spelled", "\n\n"), fmt=THINK)
    pieces = [p for chunk in (b"<think>6 is spelled", b" six.</think>\nsix\n\nQ: 7")
              for p in stream.feed(chunk)] + stream.flush()
    assert pieces == [Piece("6 is spelled", True), Piece(" six.", True), Piece("six", False)]
    assert (stream.reasoning, stream.answer, stream.stopped) == ("6 is spelled six.", "six",
                                                                 True)


def test_reply_stream_never_splits_a_character():
    stream = ReplyStream(fmt=THINK)
    data = "<think>日本</think>🐱".encode()
    pieces = [p for i in range(len(data)) for p in stream.feed(data[i:i + 1])] + stream.flush()
    assert all("\ufffd" not in p.text for p in pieces)
    assert (stream.reasoning, stream.answer) == ("日本", "🐱")


def test_markers_name_every_marker_once():
    harmony = format_named("harmony")
    assert harmony.markers == ("<|channel|>analysis<|message|>", "<|end|>",
                               "<|channel|>final<|message|>", "<|start|>assistant")
    assert format_named("solar-open").markers == ("<|think|>", "<|end|>", "<|content|>",
                                                  "<|begin|>assistant")


# -- detection on llama.cpp's own templates ---------------------------------------------------
# What each of the 70 templates (every .jinja there) shows (the files' markers, read one by one).
EXPECTED: dict[str, str | None] = {
    "Apertus-8B-Instruct": "apertus", "Apriel-1.6-15b-Thinker-fixed": "apriel",
    "Bielik-11B-v3.0-Instruct": "think", "ByteDance-Seed-OSS": "seed",
    "Cohere2MoE": "command-a", "CohereForAI-c4ai-command-r-plus-tool_use": None,
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use": "command-r7b", "GLM-4.6": "think",
    "GLM-4.7-Flash": "think", "GigaChat3-10B-A1.8B": None, "GigaChat3.1-10B-A1.8B": None,
    "HuggingFaceTB-SmolLM3-3B": "think", "Kimi-K2-Instruct": None, "Kimi-K2-Thinking": "think",
    "Kimi-K3": "kimi-k3", "LFM2-8B-A1B": None, "LFM2.5-8B-A1B": "think",
    "LFM2.5-Instruct": "think", "MiMo-VL": None, "MiniMax-M1": None, "MiniMax-M2": "think",
    "MiniMax-M3": "minimax-m3", "Mistral-Small-3.2-24B-Instruct-2506": None,
    "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": "think", "NVIDIA-Nemotron-Nano-v2": "think",
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use": None,
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": None, "Qwen-QwQ-32B": "think",
    "Qwen-Qwen2.5-7B-Instruct": None, "Qwen-Qwen3-0.6B": "think", "Qwen3-Coder": None,
    "Qwen3.5-4B": "think", "Reka-Edge": "think", "Spark2.5": "think",
    "StepFun3.5-Flash": "think", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": "think",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": "think", "deepseek-ai-DeepSeek-V3.1": "think",
    "deepseek-ai-DeepSeek-V3.2": "think", "deepseek-ai-DeepSeek-V4-Flash-0731": "think",
    "deepseek-ai-DeepSeek-V4": "think", "fireworks-ai-llama-3-firefunction-v2": None,
    "google-gemma-2-2b-it": None, "google-gemma-4-31B-it-interleaved": "gemma4",
    "google-gemma-4-31B-it": "gemma4", "ibm-granite-granite-3.3-2B-Instruct": "granite",
    "ibm-granite-granite-4.0": None, "ibm-granite-granite-4.1": None,
    "inclusionai-ling-3.0-flash": "think", "llama-cpp-deepseek-r1": "think",
    "llama-cpp-rwkv-world": "think", "meetkai-functionary-medium-v3.1": None,
    "meetkai-functionary-medium-v3.2": None, "meta-llama-Llama-3.1-8B-Instruct": None,
    "meta-llama-Llama-3.2-3B-Instruct": None, "meta-llama-Llama-3.3-70B-Instruct": None,
    "microsoft-Phi-3.5-mini-instruct": None, "mistralai-Ministral-3-14B-Reasoning-2512":
    "mistral", "mistralai-Mistral-Nemo-Instruct-2407": None, "moonshotai-Kimi-K2": None,
    "muse-glimmer": None, "openai-gpt-oss-120b": "harmony", "openbmb-MiniCPM5-1B": "think",
    "poolside-Laguna-S-2.1": "think", "poolside-Laguna-XS-2.1": "think",
    "poolside-Laguna-XS.2": "think", "tencent-Hy3": "hunyuan", "unsloth-Apriel-1.5": None,
    "unsloth-mistral-Devstral-Small-2507": None, "upstage-Solar-Open-100B": "solar-open",
}
# The 11 whose generation prompt already opens <think> (the reply begins inside the thinking)…
OPEN_THINK = {
    "GLM-4.7-Flash", "MiniMax-M2", "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
    "NVIDIA-Nemotron-Nano-v2", "Qwen3.5-4B", "Spark2.5", "StepFun3.5-Flash",
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B", "inclusionai-ling-3.0-flash",
    "llama-cpp-deepseek-r1", "poolside-Laguna-S-2.1",
}
# … and those that open their own marker.
OPEN_OTHER = {"Apriel-1.6-15b-Thinker-fixed", "Cohere2MoE", "Kimi-K3"}
CONVERSATION = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is 2 + 2?"}]


def rendered_prompt(source: str) -> str:
    """The generation prompt as transformers renders it (system + user, or the user alone
    for a template that refuses a system prompt); "" for one that needs tools."""
    for conversation in (CONVERSATION, CONVERSATION[1:]):
        try:
            texts, _ = render_jinja_template(
                conversations=[conversation], chat_template=source,
                add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
        except Exception:        # noqa: BLE001 - the template's own refusal; try the next
            continue
        return texts[0]
    return ""


def test_detection_on_each_real_template():
    files = template_files()
    assert {f.stem for f in files} == set(EXPECTED)           # all 70, no more, no fewer
    opened_names = set()
    for path in files:
        source = path.read_text(encoding="utf-8")
        prompt = rendered_prompt(source)
        fmt = detect_reasoning(source, prompt)
        assert (fmt.name if fmt else None) == EXPECTED[path.stem], path.stem
        if fmt is not None and fmt.starts_open:
            opened_names.add(path.stem)
            assert prompt.rstrip().endswith(fmt.open.rstrip()), path.stem
    assert opened_names == OPEN_THINK | OPEN_OTHER
    assert len(OPEN_THINK) == 11 and all(EXPECTED[n] == "think" for n in OPEN_THINK)


def test_a_prompt_that_opens_thinking_is_enough_without_a_template():
    fmt = detect_reasoning(None, "<|im_start|>assistant\n<think>\n")
    assert fmt == opened("think")
    assert detect_reasoning("", "<start_of_turn>model\n[THINK]") == opened("mistral")
    assert detect_reasoning(None, "<|im_start|>assistant\n<think>\n\n</think>\n\n") is None
    assert detect_reasoning(None, "<start_of_turn>model\n") is None


def test_a_closed_think_in_the_prompt_is_not_open():
    source = "{{ '<|im_start|>assistant\\n<think></think>' }}"
    fmt = detect_reasoning(source, "<|im_start|>assistant\n<think></think>")
    assert fmt == THINK and not fmt.starts_open


def test_time_to_first_answer_token_follows_its_definition():
    thought = StatsClock(t0=0.0)
    thought.token_times.extend([0.5, 0.6])
    assert thought.snapshot().ttfa_s is None                  # still thinking: no answer yet
    thought.token_times.append(0.9)
    thought.answer_began(after_thinking=True)                 # the answer's text at token 3
    thought.token_times.append(1.0)
    thought.answer_began(after_thinking=True)                 # later calls change nothing
    stats = thought.snapshot()
    assert (stats.ttft_s, stats.ttfa_s) == (0.5, 0.9)
    assert "TTFT 500 ms · TTFA 900 ms" in stats.summary()
    assert GenerationStats.from_dict(stats.to_dict()) == stats
    plain = StatsClock(t0=0.0)
    plain.token_times.extend([0.5, 0.7])                      # the answer's text held a token
    plain.answer_began(after_thinking=False)
    stats = plain.snapshot()
    assert stats.ttfa_s == stats.ttft_s == 0.5 and "TTFA" not in stats.summary()
    assert DEFINITIONS["ttfa_s"].startswith("Time to first answer token: ")
