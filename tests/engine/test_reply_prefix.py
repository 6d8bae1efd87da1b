"""A reply that goes on from its own beginning (`GenerationRequest.reply_prefix`: the inspector's
"Continue from here", an API's final assistant message): the prompt is the template's with the
prefix's own tokens after it, and a greedy reply continued from its first tokens goes on exactly
as it did."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inference.common.errors import PromptError
from inference.engine.engine import Engine, build_for
from inference.engine.events import Finished, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=16)
CHAT = GenerationRequest(Mode.CHAT, (Message("user", "Name three rivers of Europe."),),
                         sampling=GREEDY)
INSTRUCT = GenerationRequest(Mode.INSTRUCT, text="Describe a lighthouse in two sentences.",
                             sampling=GREEDY)


def run(engine: Engine, request: GenerationRequest) -> tuple[str, Finished]:
    events = list(engine.generate(request))
    final = events[-1]
    assert isinstance(final, Finished)
    return "".join(e.text for e in events if isinstance(e, TokenEvent)), final


@pytest.mark.parametrize("request_", [CHAT, INSTRUCT], ids=["chat", "instruct"])
def test_the_prompt_is_the_templates_then_the_prefix(engine: Engine,
                                                     request_: GenerationRequest) -> None:
    session = engine._require()
    plain = build_for(session, request_, session.ctx.n_ctx, None)
    prefix = "Sure: <start_of_turn> the first"          # special-looking text stays literal
    continued = build_for(session, replace(request_, reply_prefix=prefix), session.ctx.n_ctx,
                          None)
    assert continued.text == plain.text + prefix
    own = engine.tokenize(prefix, add_bos=False)
    assert continued.tokens == plain.tokens + own
    (turn,) = session.model.tokenize("<start_of_turn>", add_special=False, parse_special=True)
    assert turn not in own and turn in plain.tokens
    assert engine.render(replace(request_, reply_prefix=prefix)).text == continued.text


@pytest.mark.parametrize("request_", [CHAT, INSTRUCT], ids=["chat", "instruct"])
def test_a_greedy_reply_continued_from_its_first_tokens_goes_on_as_it_did(
        engine: Engine, request_: GenerationRequest) -> None:
    recorded = replace(request_, inspect_top=1)
    streamed, whole = run(engine, recorded)
    assert whole.inspection is not None and streamed == whole.text
    pieces = whole.inspection.pieces
    head = b"".join(pieces[:4]).decode()
    rest_streamed, rest = run(engine, replace(request_, reply_prefix=head,
                                              sampling=replace(GREEDY, max_tokens=12)))
    assert rest.text == rest_streamed                   # only what came after the prefix
    assert whole.text == head + rest.text
    assert rest.stats.output_tokens == 12


def test_text_mode_has_no_reply_prefix_to_go_on_from(engine: Engine) -> None:
    """Text mode continues the document itself: the prefix plays no part there."""
    request = GenerationRequest(Mode.TEXT, text="The lighthouse", sampling=GREEDY)
    assert engine.render(replace(request, reply_prefix=" keeper")).text == \
        engine.render(request).text
    with pytest.raises(PromptError):
        engine.render(GenerationRequest(Mode.CHAT, (), reply_prefix="x", sampling=GREEDY))
