"""OpenAI request bodies → GenerationRequest (and the options beside it), and the 400s for wrong
or not-yet parameters (no model: inference/server/params.py is plain checking)."""

from __future__ import annotations

from typing import Any

import pytest

from inference.engine.requests import Message, Mode
from inference.server.errors import ApiError
from inference.server.params import COMPLETIONS_MAX_TOKENS, Endpoint, parse


def chat(**body: Any):
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return parse(body, Endpoint.CHAT, max_messages=8)


def refused(endpoint: Endpoint = Endpoint.CHAT, **body: Any) -> ApiError:
    if endpoint is Endpoint.CHAT:
        body.setdefault("messages", [{"role": "user", "content": "hi"}])
    with pytest.raises(ApiError) as caught:
        parse(body, endpoint, max_messages=8)
    assert caught.value.status == 400
    return caught.value


def test_messages_map_to_the_engines_request() -> None:
    parsed = chat(messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use "},
                                          {"type": "text", "text": "English."}]},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "reasoning_content": "greet back"},
        {"role": "user", "content": "Again"}],
        max_completion_tokens=7, temperature=0, top_p=0.5, top_k=3, min_p=0.1,
        repeat_penalty=1.2, seed=5, stop="\n", stream=True,
        stream_options={"include_usage": True}, user="ignored", some_future_field=1)
    request = parsed.generation
    assert request.mode is Mode.CHAT and request.system == "Be brief.\n\nUse English."
    assert request.messages == (Message("user", "Hi"),
                                Message("assistant", "Hello", "greet back"),
                                Message("user", "Again"))
    s = request.sampling
    assert (s.max_tokens, s.temperature, s.top_p, s.top_k, s.min_p, s.repeat_penalty,
            s.seed, s.stop) == (7, 0, 0.5, 3, 0.1, 1.2, 5, ("\n",))
    assert parsed.stream and parsed.include_usage


def test_completions_take_a_prompt_with_openais_default_length() -> None:
    parsed = parse({"prompt": ["Once"], "stop": ["a", "b"]}, Endpoint.COMPLETION, 8)
    assert parsed.generation.mode is Mode.TEXT and parsed.generation.text == "Once"
    assert parsed.generation.sampling.max_tokens == COMPLETIONS_MAX_TOKENS
    assert parsed.generation.sampling.stop == ("a", "b") and not parsed.include_usage


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"n": 3}, "n", "n must be 1"),
    ({"temperature": "hot"}, "temperature", "temperature must be a number"),
    ({"top_p": 1.5}, "top_p", "top_p must be between 0 and 1, got 1.5"),
    ({"max_tokens": 0}, "max_tokens", "max_tokens must be between 1 and 1000000"),
    ({"max_completion_tokens": 2.5}, "max_completion_tokens", "must be a whole number"),
    ({"seed": 2**40}, "seed", "seed must be between -1 and 4294967294"),
    ({"stop": ""}, "stop", "stop strings must not be empty"),
    ({"stop": [1]}, "stop", "stop must be a string or a list of strings"),
    ({"stream": "yes"}, "stream", "stream must be true or false"),
    ({"messages": []}, "messages", "messages must be a non-empty list"),
    ({"messages": [{"role": "user", "content": "x"}] * 9}, "messages", "at most 8 entries"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "must be one of"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "must be a string"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages", "at least one user"),
])
def test_wrong_parameters_are_400_naming_the_parameter(body: dict, param: str,
                                                       words: str) -> None:
    error = refused(**body)
    assert error.param == param and words in error.message


@pytest.mark.parametrize(("body", "param"), [
    ({"tools": [{"type": "function"}]}, "tools"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
     "messages[0].content[0]"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
])
def test_not_yet_supported_parameters_are_a_clear_400(body: dict, param: str) -> None:
    error = refused(**body)
    assert error.code == "not_supported" and error.param == param
    assert error.message.endswith("is not supported yet by Parley's server")


def test_the_api_has_no_repeat_penalty_unless_asked() -> None:
    assert chat().generation.sampling.repeat_penalty == 1.0
    assert chat(repeat_penalty=1.3).generation.sampling.repeat_penalty == 1.3


def test_echo_is_for_completions_and_not_with_logprobs() -> None:
    assert parse({"prompt": "Hi", "echo": True}, Endpoint.COMPLETION, 8).echo
    assert not parse({"prompt": "Hi"}, Endpoint.COMPLETION, 8).echo
    assert not chat(echo=True).echo                      # chat has no echo: ignored
    error = refused(Endpoint.COMPLETION, prompt="Hi", echo=True, logprobs=1)
    assert error.code == "not_supported" and error.param == "echo"
    assert refused(Endpoint.COMPLETION, prompt="Hi", echo="yes").param == "echo"


def test_default_values_of_not_yet_parameters_are_accepted() -> None:
    chat(tools=[], n=1)
    assert refused(Endpoint.COMPLETION, prompt=[1, 2]).code == "not_supported"
    assert refused(Endpoint.COMPLETION).code == "missing"


def test_penalties_logprobs_and_formats_reach_the_engine() -> None:
    parsed = chat(presence_penalty=1.5, frequency_penalty=-0.5, logprobs=True, top_logprobs=3,
                  response_format={"type": "json_schema", "json_schema": {
                      "name": "a", "schema": {"type": "object"}}})
    s = parsed.generation.sampling
    assert (s.presence_penalty, s.frequency_penalty) == (1.5, -0.5)
    assert parsed.options() == {"top_logprobs": 3, "response_format": {
        "type": "json_schema", "schema": {"type": "object"}}}
    assert chat(logprobs=True).top_logprobs == 0                 # the chosen token only
    plain = chat(logprobs=False, top_logprobs=0, presence_penalty=0,
                 response_format={"type": "text"})
    assert plain.options() == {"top_logprobs": None, "response_format": None}
    assert plain.generation.sampling.presence_penalty == 0
    assert chat(response_format={"type": "json_object"}).options()["response_format"] == {
        "type": "json_object", "schema": None}
    legacy = parse({"prompt": "x", "logprobs": 2, "response_format": {"type": "json_object"}},
                   Endpoint.COMPLETION, 8)
    assert legacy.top_logprobs == 2 and legacy.response_format is not None
    assert parse({"prompt": "x"}, Endpoint.COMPLETION, 8).top_logprobs is None


@pytest.mark.parametrize(("endpoint", "body", "param", "words"), [
    (Endpoint.CHAT, {"presence_penalty": 2.5}, "presence_penalty",
     "presence_penalty must be between -2 and 2, got 2.5"),
    (Endpoint.CHAT, {"frequency_penalty": -3}, "frequency_penalty",
     "frequency_penalty must be between -2 and 2, got -3"),
    (Endpoint.CHAT, {"frequency_penalty": "lots"}, "frequency_penalty", "must be a number"),
    (Endpoint.CHAT, {"logprobs": 1}, "logprobs", "logprobs must be true or false"),
    (Endpoint.CHAT, {"logprobs": True, "top_logprobs": 21}, "top_logprobs",
     "top_logprobs must be between 0 and 20, got 21"),
    (Endpoint.CHAT, {"top_logprobs": 2}, "top_logprobs", "needs logprobs set to true"),
    (Endpoint.COMPLETION, {"logprobs": 6}, "logprobs", "logprobs must be between 0 and 5"),
    (Endpoint.COMPLETION, {"logprobs": True}, "logprobs", "must be a whole number"),
    (Endpoint.CHAT, {"response_format": "json"}, "response_format", "must be an object"),
    (Endpoint.CHAT, {"response_format": {"type": "yaml"}}, "response_format.type",
     "must be text, json_object or json_schema, got 'yaml'"),
    (Endpoint.CHAT, {"response_format": {"type": "json_schema"}},
     "response_format.json_schema", "must be an object"),
    (Endpoint.CHAT, {"response_format": {"type": "json_schema", "json_schema": {
        "schema": ["type", "object"]}}}, "response_format.json_schema.schema",
     "must be a JSON Schema object"),
])
def test_wrong_penalties_logprobs_and_formats_are_400s(endpoint: Endpoint, body: dict,
                                                       param: str, words: str) -> None:
    if endpoint is Endpoint.COMPLETION:
        body = {"prompt": "x", **body}
    error = refused(endpoint, **body)
    assert error.param == param and words in error.message
