"""The in-process engine on the real starter model (llama-cpp-python, no mocks)."""

from __future__ import annotations

import time

import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import ModelLoadError, NoModelLoadedError, PromptTooLongError
from inference.engine import engine as engine_module
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason, PromptRendered, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams

pytestmark = pytest.mark.model

GREEDY = SamplingParams(temperature=0, max_tokens=24)


def run(engine, request: GenerationRequest, cancel: CancelToken | None = None,
        cancel_after: int | None = None) -> tuple[list[TokenEvent], Finished]:
    tokens: list[TokenEvent] = []
    for event in engine.generate(request, cancel):
        if isinstance(event, TokenEvent):
            tokens.append(event)
            if cancel_after is not None and len(tokens) == cancel_after:
                cancel.cancel()
        elif isinstance(event, Finished):
            return tokens, event
    raise AssertionError("no Finished event")


def chat(text: str, sampling: SamplingParams = GREEDY, system: str = "") -> GenerationRequest:
    return GenerationRequest(Mode.CHAT, (Message("user", text),), system=system,
                             sampling=sampling)


def test_loaded_model_reports_its_facts(engine):
    loaded = engine.loaded
    assert loaded.info["architecture"] == "gemma3"
    assert loaded.n_ctx == 1024 and loaded.n_ctx_train == 32768
    assert loaded.template == "gemma (llama.cpp built-in)"
    assert loaded.backend == "CPU" and loaded.gpu_offload is False


def test_greedy_generation_is_deterministic(engine):
    _, first = run(engine, chat("Name three colours."))
    _, second = run(engine, chat("Name three colours."))
    assert first.text and first.text == second.text
    assert first.reason in (FinishReason.STOP, FinishReason.LENGTH)


def test_same_seed_same_text_other_seed_differs(engine):
    def sampled(seed: int) -> str:
        params = SamplingParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=seed,
                                max_tokens=24)
        return run(engine, GenerationRequest(Mode.TEXT, text="Once upon a time",
                                             sampling=params))[1].text

    assert sampled(7) == sampled(7)
    others = {sampled(seed) for seed in (8, 9, 10)}
    assert others - {sampled(7)}, "three other seeds all gave seed 7's text"


def test_each_mode_renders_the_prompt_it_should(engine):
    history = (Message("user", "Hi"), Message("assistant", "Hello!"), Message("user", "Bye"))
    chat_prompt = engine.render(GenerationRequest(Mode.CHAT, history, system="Be kind."))
    assert chat_prompt.text == (
        "<start_of_turn>user\nBe kind.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n")
    assert chat_prompt.template == "gemma (llama.cpp built-in)"

    text_prompt = engine.render(GenerationRequest(Mode.TEXT, history, text="The sky is"))
    assert text_prompt.text == "The sky is" and text_prompt.template.startswith("none")

    instruct = engine.render(GenerationRequest(Mode.INSTRUCT, history, text="List 3 fruits",
                                               system="Answer tersely."))
    assert instruct.text == ("<start_of_turn>user\nAnswer tersely.\n\nList 3 fruits"
                             "<end_of_turn>\n<start_of_turn>model\n")
    assert "Hello!" not in instruct.text


def test_template_control_tokens_are_single_tokens(engine):
    # <start_of_turn> must be parsed as the special token, not spelled out as text
    tokens = engine.tokenize("<start_of_turn>")
    prompt = engine.render(chat("Hi"))
    assert len(tokens) > 2           # plain tokenize spells it (special tokens not parsed)
    assert prompt.prompt_tokens < 15


def test_stats_obey_their_definitions(engine):
    tokens, done = run(engine, GenerationRequest(
        Mode.TEXT, text="Count: one, two, three,", sampling=SamplingParams(
            temperature=0, max_tokens=16, stop=())))
    s = done.stats
    assert s.output_tokens == 16 and done.reason is FinishReason.LENGTH
    assert s.prompt_tokens == len(engine.tokenize("Count: one, two, three,"))
    assert 0 < s.ttft_s < s.total_s
    # TPOT × (n − 1) = last − first = total − TTFT
    assert s.tpot_s * (s.output_tokens - 1) == pytest.approx(s.total_s - s.ttft_s, rel=1e-6)
    assert s.gen_tps == pytest.approx(1 / s.tpot_s)
    prefill = s.prompt_tokens - s.cached_tokens
    assert s.prefill_tps == pytest.approx(prefill / s.ttft_s)
    assert s.itl_p50_s <= s.itl_p95_s
    assert s.context_tokens == s.prompt_tokens + s.output_tokens - 1
    assert "".join(t.text for t in tokens) == done.text


def test_prompt_cache_reuses_the_shared_prefix(engine):
    first = chat("Tell me about the sea.")
    run(engine, first)
    follow = GenerationRequest(Mode.CHAT, (Message("user", "Tell me about the sea."),
                                           Message("assistant", "It is big."),
                                           Message("user", "And rivers?")), sampling=GREEDY)
    _, done = run(engine, follow)
    assert done.stats.cached_tokens > 5
    assert done.stats.cached_tokens < done.stats.prompt_tokens


def test_cancel_stops_within_one_token(engine):
    cancel = CancelToken()
    params = SamplingParams(temperature=0, max_tokens=200)
    tokens, done = run(engine, GenerationRequest(Mode.TEXT, text="A long story:",
                                                 sampling=params), cancel, cancel_after=3)
    assert done.reason is FinishReason.CANCELLED
    assert done.stats.output_tokens == 3
    assert done.text == "".join(t.text for t in tokens)


def test_prompt_larger_than_context_is_a_clear_error(engine):
    with pytest.raises(PromptTooLongError, match="context holds 1,024"):
        run(engine, GenerationRequest(Mode.TEXT, text="word " * 3000, sampling=GREEDY))


def test_long_chat_drops_old_turns_and_says_so(engine):
    turns = []
    for i in range(40):
        turns += [Message("user", f"Question {i}: " + "tell me more " * 10),
                  Message("assistant", "Here is more. " * 10)]
    turns.append(Message("user", "Last question?"))
    request = GenerationRequest(Mode.CHAT, tuple(turns), system="SYSTEM-PROMPT",
                                sampling=SamplingParams(temperature=0, max_tokens=8))
    rendered = engine.render(request)
    assert rendered.dropped_turns > 0
    assert rendered.text.startswith("<start_of_turn>user\nSYSTEM-PROMPT")   # system kept
    assert "Last question?" in rendered.text and "Question 0:" not in rendered.text
    assert rendered.prompt_tokens + 8 <= 1024
    _, done = run(engine, request)
    assert done.dropped_turns == rendered.dropped_turns


def test_the_first_event_is_the_prompt_rendered_once(engine, monkeypatch):
    request = chat("Name three colours.")
    expected = engine.render(request)
    builds = []
    real_build = engine_module.build_prompt

    def counted_build(*args, **kwargs):
        builds.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(engine_module, "build_prompt", counted_build)
    events = list(engine.generate(request))
    assert events[0] == PromptRendered(expected) and len(builds) == 1
    assert all(isinstance(e, TokenEvent) for e in events[1:-1])
    assert isinstance(events[-1], Finished) and events[-1].prompt == expected.text


def test_max_tokens_is_capped_to_what_the_context_has_left(engine):
    request = GenerationRequest(Mode.TEXT, text="word " * 700,
                                sampling=SamplingParams(temperature=0, max_tokens=100000))
    rendered = engine.render(request)
    assert rendered.max_tokens == 1024 - rendered.prompt_tokens


def test_non_ascii_streams_intact(engine):
    text = "Emoji 🐱🚀 and CJK 日本語の文章 and accents: café, naïve."
    request = GenerationRequest(Mode.TEXT, text=text + "\n" + text + "\n",
                                sampling=SamplingParams(temperature=0, max_tokens=40))
    tokens, done = run(engine, request)
    assert "\ufffd" not in done.text
    assert "".join(t.text for t in tokens) == done.text
    assert any(ord(ch) > 0x2E80 for ch in done.text), done.text   # it produced CJK or emoji


def test_stop_strings_end_the_reply_without_showing_the_stop(engine):
    request = GenerationRequest(Mode.TEXT, text="1, 2, 3, 4, 5,",
                                sampling=SamplingParams(temperature=0, max_tokens=30,
                                                        stop=("8",)))
    tokens, done = run(engine, request)
    assert done.reason is FinishReason.STOP
    assert "8" not in done.text and "7" in done.text


def test_generate_without_a_model_says_so():
    with pytest.raises(NoModelLoadedError, match="No model is loaded"):
        next(Engine().generate(chat("hi")))


def test_ttft_starts_before_the_prompt_is_built(engine, monkeypatch):
    # docs/ARCHITECTURE.md § Figures: TTFT runs from the moment the engine starts on the request,
    # so rendering
    # and tokenizing count. A slowed (real) prompt builder makes that part measurable.
    delay = 1.0
    real_build = engine_module.build_prompt

    def slow_build(*args, **kwargs):
        time.sleep(delay)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(engine_module, "build_prompt", slow_build)
    _, done = run(engine, chat("Hi", SamplingParams(temperature=0, max_tokens=2)))
    assert done.stats.ttft_s >= delay and done.stats.total_s >= done.stats.ttft_s


def test_quantized_v_cache_without_flash_attention_says_why(starter_model_path):
    # llama.cpp 0.3.36 (llama_init_from_model): a quantized V cache needs flash attention;
    # "off" is refused with that reason, "auto" switches flash attention on for it.
    eng = Engine()
    try:
        with pytest.raises(ModelLoadError) as err:
            eng.load(ModelConfig(starter_model_path, n_ctx=256, n_threads=1,
                                 cache_type_v="q8_0", flash_attn="off"))
        assert str(err.value) == ("Failed to create the llama.cpp context (n_ctx=256): "
                                  "quantized V cache requires flash_attn to be enabled")
        assert eng.loaded is None
        eng.load(ModelConfig(starter_model_path, n_ctx=256, n_threads=1,
                             cache_type_k="q8_0", cache_type_v="q8_0"))
        tokens, done = run(eng, GenerationRequest(
            Mode.TEXT, text="The capital of France is",
            sampling=SamplingParams(temperature=0, max_tokens=4)))
        assert tokens and done.reason is FinishReason.LENGTH
    finally:
        eng.close()
