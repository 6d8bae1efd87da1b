"""Validated value objects: sampling parameters, model config, stats, streaming text."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.common.errors import InvalidSettingError
from inference.engine.config import ModelConfig
from inference.engine.metrics import StatsClock
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.engine.streaming import ReplyStream


@pytest.mark.parametrize(("field", "value", "message"), [
    ("temperature", -0.1, "temperature must be between 0 and 5, got -0.1"),
    ("top_p", 1.5, "top-p must be between 0 and 1"),
    ("min_p", -1, "min-p must be between 0 and 1"),
    ("top_k", 2.5, "top-k must be a whole number"),
    ("max_tokens", 0, "max-tokens must be between 1"),
    ("repeat_penalty", "high", "repeat-penalty must be a number"),
    ("seed", True, "seed must be a number"),
])
def test_sampling_values_out_of_range_are_refused(field, value, message):
    with pytest.raises(InvalidSettingError, match=message):
        SamplingParams(**{field: value})


def test_sampling_round_trips_through_a_dict():
    params = SamplingParams(temperature=0, top_k=5, stop=("END",))
    assert params.greedy
    assert SamplingParams.from_dict(params.to_dict()) == params


def test_model_config_validates():
    with pytest.raises(InvalidSettingError, match="context size must be between 16"):
        ModelConfig(Path("m.gguf"), n_ctx=8)
    with pytest.raises(InvalidSettingError, match="flash attention"):
        ModelConfig(Path("m.gguf"), flash_attn="maybe")
    config = ModelConfig("~/m.gguf")
    assert config.path == Path.home() / "m.gguf" and config.threads >= 1
    assert config.needs_reload(config.with_changes(n_ctx=8192))
    assert not config.needs_reload(config.with_changes())


def test_request_round_trips_through_a_dict():
    request = GenerationRequest(Mode.INSTRUCT, (Message("user", "x"),), "do it", "sys",
                                SamplingParams(seed=3))
    assert GenerationRequest.from_dict(request.to_dict()) == request


def test_stats_clock_follows_the_definitions():
    clock = StatsClock(prompt_tokens=10, cached_tokens=4, n_ctx=100, t0=0.0)
    clock.token_times.extend([0.5, 0.6, 0.8, 0.9])
    s = clock.snapshot(context_tokens=13)
    assert s.ttft_s == 0.5
    assert s.tpot_s == pytest.approx((0.9 - 0.5) / 3)
    assert s.gen_tps == pytest.approx(3 / 0.4)
    assert s.prefill_tps == pytest.approx(6 / 0.5)
    assert s.itl_p50_s == pytest.approx(0.1)
    assert s.context_used == pytest.approx(0.13)


def _texts(pieces) -> str:
    assert all(not p.reasoning for p in pieces)        # no reasoning format: all answer
    return "".join(p.text for p in pieces)


def test_the_reply_stream_never_splits_a_character():
    stream = ReplyStream()
    data = "日本🐱".encode()
    pieces = [_texts(stream.feed(data[i:i + 1])) for i in range(len(data))]
    assert "".join(pieces) + _texts(stream.flush()) == "日本🐱"
    assert all("\ufffd" not in p for p in pieces)


def test_the_reply_stream_holds_back_a_possible_stop_string():
    stream = ReplyStream(stop=("</end>",))
    assert _texts(stream.feed(b"hello </e")) == "hello "
    assert _texts(stream.feed(b"nough")) == "</enough"
    assert _texts(stream.feed(b" bye</end> hidden")) == " bye"
    assert stream.stopped and stream.answer == "hello </enough bye"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("repeat_penalty", 0, "repeat-penalty must be greater than 0 and at most 5, got 0"),
    ("repeat_penalty", 0.0, "repeat-penalty must be greater than 0 and at most 5, got 0"),
    ("seed", 2**32 - 1, "seed must be between -1 and 4294967294, got 4294967295"),
    ("max_tokens", 10**7, "max-tokens must be between 1 and 1000000, got 10000000"),
    ("temperature", 5.5, "temperature must be between 0 and 5, got 5.5"),
])
def test_range_messages_write_whole_numbers_in_full(field, value, message):
    with pytest.raises(InvalidSettingError) as err:
        SamplingParams(**{field: value})
    assert str(err.value) == message


def test_a_tiny_positive_repeat_penalty_is_allowed():
    assert SamplingParams(repeat_penalty=0.01).repeat_penalty == 0.01


def test_kv_cache_types_are_checked():
    config = ModelConfig(Path("m.gguf"), cache_type_k="q8_0", cache_type_v="q4_0")
    assert (config.cache_type_k, config.cache_type_v) == ("q8_0", "q4_0")
    assert ModelConfig(**{**config.to_dict()}) == config        # crosses to the engine process
    with pytest.raises(InvalidSettingError, match="K cache type must be one of f32, f16"):
        ModelConfig(Path("m.gguf"), cache_type_k="q4_k")
    with pytest.raises(InvalidSettingError, match="V cache type .* got 'Q8_0'"):
        ModelConfig(Path("m.gguf"), cache_type_v="Q8_0")
