"""Presence / frequency penalties, logprobs and response_format through the official `openai`
client, against the real `parley serve` of tests/server/conftest.py (starter model)."""

from __future__ import annotations

import json
import math

import openai
import pytest

NO_PENALTY = {"repeat_penalty": 1.0}        # the API's default too, said here for the reader
REPETITIVE = "the cat and the cat and the cat and the cat and the"
ANSWER_SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}},
                 "required": ["answer"]}
QUESTION = [{"role": "user", "content": "How many legs has a cat? Reply in JSON."}]
FEW_SHOT = ('Animal: cat\nJSON: {"animal": "cat", "legs": 4}\nAnimal: bird\n'
            'JSON: {"animal": "bird", "legs": 2}\nAnimal: dog\nJSON:')


def test_penalties_change_greedy_text_reproducibly(client: openai.OpenAI, model_id: str) -> None:
    def complete(**penalties: float) -> str:
        return client.completions.create(model=model_id, prompt=REPETITIVE, max_tokens=16,
                                          temperature=0, extra_body=NO_PENALTY,
                                          **penalties).choices[0].text

    plain = complete()
    steered = complete(presence_penalty=1.5, frequency_penalty=1.0)
    assert steered != plain
    assert complete(presence_penalty=1.5, frequency_penalty=1.0) == steered
    assert complete(presence_penalty=-2.0) != steered
    with pytest.raises(openai.BadRequestError,
                       match="presence_penalty must be between -2 and 2, got 2.5") as high:
        complete(presence_penalty=2.5)
    assert high.value.param == "presence_penalty"
    with pytest.raises(openai.BadRequestError, match="frequency_penalty must be between -2 and "
                       "2, got -3"):
        client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=1,
                                       frequency_penalty=-3)


def test_no_repeat_penalty_unless_asked_and_echo(client: openai.OpenAI, model_id: str) -> None:
    """A request that names no repeat_penalty gets none (as from OpenAI and llama-server, not
    the GUI's 1.1); `echo` opens the text with the prompt, whole and streamed."""
    ask = {"model": model_id, "prompt": REPETITIVE, "max_tokens": 12, "temperature": 0}
    plain = client.completions.create(**ask).choices[0].text
    assert plain == client.completions.create(**ask, extra_body=NO_PENALTY).choices[0].text
    assert plain != client.completions.create(
        **ask, extra_body={"repeat_penalty": 1.5}).choices[0].text
    assert client.completions.create(**ask, echo=True).choices[0].text == REPETITIVE + plain
    chunks = list(client.completions.create(**ask, echo=True, stream=True))
    assert chunks[0].choices[0].text == REPETITIVE
    assert "".join(c.choices[0].text for c in chunks if c.choices) == REPETITIVE + plain
    with pytest.raises(openai.BadRequestError, match="echo together with logprobs") as caught:
        client.completions.create(**ask, echo=True, logprobs=2)
    assert caught.value.param == "echo"


def test_chat_logprobs_whole_and_streamed(client: openai.OpenAI, model_id: str) -> None:
    """Greedy without penalties: the chosen token is the most likely of its top_logprobs, which
    are sorted, as many as asked, at most 0 and together at most probability 1; the stream's
    chunks carry the same tokens as the whole response."""
    ask = {"model": model_id, "messages": QUESTION, "max_tokens": 8, "temperature": 0,
           "logprobs": True, "top_logprobs": 4, "extra_body": NO_PENALTY}
    whole = client.chat.completions.create(**ask)
    content = whole.choices[0].logprobs.content
    assert len(content) == whole.usage.completion_tokens == 8
    assert bytes(b for t in content for b in t.bytes).decode() == whole.choices[0].message.content
    for token in content:
        values = [alt.logprob for alt in token.top_logprobs]
        assert len(values) == 4 and values == sorted(values, reverse=True)
        assert token.logprob == max(values) and token.token == token.top_logprobs[0].token
        assert token.logprob <= 0 and sum(math.exp(v) for v in values) <= 1 + 1e-9
    chunks = list(client.chat.completions.create(**ask, stream=True))
    streamed = [t for c in chunks if c.choices and c.choices[0].logprobs
                for t in c.choices[0].logprobs.content]
    assert [t.token for t in streamed] == [t.token for t in content]
    assert [t.logprob for t in streamed] == pytest.approx([t.logprob for t in content],
                                                          abs=1e-3)
    for chunk in chunks:                        # a text chunk carries its own tokens' entries
        if chunk.choices and chunk.choices[0].delta.content:
            entries = chunk.choices[0].logprobs.content
            assert "".join(t.token for t in entries) == chunk.choices[0].delta.content
    plain = client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=2)
    assert plain.choices[0].logprobs is None


def test_completions_logprobs_have_the_legacy_shape(client: openai.OpenAI,
                                                    model_id: str) -> None:
    prompt = "1, 2, 3, 4,"
    whole = client.completions.create(model=model_id, prompt=prompt, max_tokens=5,
                                      temperature=0, logprobs=3, extra_body=NO_PENALTY)
    choice = whole.choices[0]
    lp = choice.logprobs
    assert "".join(lp.tokens) == choice.text and len(lp.token_logprobs) == 5
    assert lp.text_offset[0] == len(prompt)
    assert lp.text_offset == [len(prompt) + len("".join(lp.tokens[:i])) for i in range(5)]
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        assert 1 <= len(top) <= 4 and top[token] == logprob == max(top.values()) <= 0
    streamed = list(client.completions.create(model=model_id, prompt=prompt, max_tokens=5,
                                              temperature=0, logprobs=3, stream=True,
                                              extra_body=NO_PENALTY))
    tokens = [t for c in streamed if c.choices and c.choices[0].logprobs
              for t in c.choices[0].logprobs.tokens]
    assert tokens == lp.tokens
    with pytest.raises(openai.BadRequestError, match="logprobs must be between 0 and 5"):
        client.completions.create(model=model_id, prompt=prompt, max_tokens=1, logprobs=6)


def test_json_object_replies_parse(client: openai.OpenAI, model_id: str) -> None:
    """After the object the JSON grammar allows a little whitespace, then only the end of
    generation: a reply that stops is one whole object. Strings and nesting are unbounded, so
    the base model gets a few-shot prompt (its replies here take 7 to 45 tokens) and room."""
    for ask in ({"temperature": 0}, {"temperature": 1.0, "seed": 2},
                {"temperature": 1.0, "seed": 3}):
        reply = client.completions.create(model=model_id, prompt=FEW_SHOT, max_tokens=120,
                                          extra_body={"response_format": {"type": "json_object"}},
                                          **ask)
        choice = reply.choices[0]
        assert choice.finish_reason == "stop", choice.text
        assert isinstance(json.loads(choice.text), dict)
    free = client.completions.create(model=model_id, prompt=FEW_SHOT, max_tokens=40,
                                     temperature=0).choices[0].text
    assert "\n" in free.strip()                 # unconstrained, it goes on to the next animal


def test_json_schema_replies_match_the_schema(client: openai.OpenAI, model_id: str) -> None:
    """Integers are at most 16 digits and whitespace is bounded in the converter's grammar, so
    this schema's replies always end well within the tokens given."""
    fmt = {"type": "json_schema", "json_schema": {"name": "legs", "schema": ANSWER_SCHEMA}}
    for ask in ({"temperature": 0}, {"temperature": 1.0, "seed": 5}):
        reply = client.chat.completions.create(model=model_id, messages=QUESTION,
                                               max_tokens=60, response_format=fmt, **ask)
        assert reply.choices[0].finish_reason == "stop"
        data = json.loads(reply.choices[0].message.content)
        assert set(data) == {"answer"} and type(data["answer"]) is int
    streamed = client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=60,
                                              response_format=fmt, temperature=0, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert json.loads(text) == json.loads(client.chat.completions.create(
        model=model_id, messages=QUESTION, max_tokens=60, response_format=fmt,
        temperature=0).choices[0].message.content)


@pytest.mark.parametrize(("response_format", "words"), [
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "no-such"}}},
     "the JSON schema cannot be used"),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "http://x/y"}}},
     "the JSON schema cannot be used"),
    ({"type": "json_schema"}, "response_format.json_schema must be an object"),
    ({"type": "xml"}, "must be text, json_object or json_schema"),
])
def test_a_bad_response_format_is_a_400(client: openai.OpenAI, model_id: str,
                                        response_format: dict, words: str) -> None:
    with pytest.raises(openai.BadRequestError, match=words) as refused:
        client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=4,
                                       response_format=response_format, stream=True)
    assert refused.value.param.startswith("response_format")
    assert "\n" not in refused.value.body["message"]


def test_a_final_assistant_message_is_continued(client: openai.OpenAI, model_id: str) -> None:
    """As llama-server: messages that end with the assistant's are a reply begun, which the
    model goes on from; the answer holds only what it added (streamed or not)."""
    question = [{"role": "user", "content": "Name three rivers of Europe."}]
    whole = client.chat.completions.create(model=model_id, messages=question, temperature=0,
                                           max_tokens=12, logprobs=True, top_logprobs=0)
    tokens = [t.token for t in whole.choices[0].logprobs.content]
    head = "".join(tokens[:3])
    begun = [*question, {"role": "assistant", "content": head}]
    rest = client.chat.completions.create(model=model_id, messages=begun, temperature=0,
                                          max_tokens=9)
    assert head + rest.choices[0].message.content == whole.choices[0].message.content
    assert rest.usage.prompt_tokens == whole.usage.prompt_tokens + 3
    stream = client.chat.completions.create(model=model_id, messages=begun, temperature=0,
                                            max_tokens=9, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed == rest.choices[0].message.content
