"""The native sampler chain: the penalties' prefilter never changes what is sampled; presence and
frequency penalties steer it; a grammar holds even a greedy chain to it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inference.common.errors import InvalidSettingError
from inference.engine.sampling import REPEAT_LAST_N, SamplingParams
from inference.llama.native import NativeContext, NativeModel
from inference.llama.sampler import SamplerChain, exact_prefilter

DEFAULT = SamplingParams(seed=7)
N = REPEAT_LAST_N


def test_prefilter_only_where_it_is_exact():
    assert exact_prefilter(DEFAULT, N) == DEFAULT.top_k + N
    assert exact_prefilter(replace(DEFAULT, temperature=0.0), N) == 1 + N
    assert exact_prefilter(replace(DEFAULT, top_k=0), N) == 0          # top-p alone: whole vocab
    assert exact_prefilter(replace(DEFAULT, repeat_penalty=1.0), N) == 0
    assert exact_prefilter(replace(DEFAULT, repeat_penalty=0.8), N) == 0  # raises logits
    assert exact_prefilter(DEFAULT, 16) == DEFAULT.top_k + 16       # the chain's window
    off = replace(DEFAULT, repeat_penalty=1.0)
    assert exact_prefilter(replace(off, presence_penalty=0.5), N) == DEFAULT.top_k + N
    assert exact_prefilter(replace(off, frequency_penalty=0.5), N) == DEFAULT.top_k + N
    assert exact_prefilter(replace(DEFAULT, presence_penalty=-0.5), N) == 0   # raises logits
    assert exact_prefilter(replace(DEFAULT, frequency_penalty=-0.1), N) == 0
    with pytest.raises(ValueError):
        SamplerChain(None, DEFAULT, repeat_last_n=0)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def native(starter_model_path):
    model = NativeModel(starter_model_path)
    ctx = NativeContext(model, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2)
    yield model, ctx
    ctx.close()
    model.close()


@pytest.mark.model
@pytest.mark.parametrize("params", [
    DEFAULT,                                                     # the app's defaults
    replace(DEFAULT, temperature=0.0),                           # greedy + penalty
    replace(DEFAULT, repeat_penalty=1.8, temperature=1.5, top_k=5, top_p=1.0, min_p=0.0),
    replace(DEFAULT, temperature=0.0, repeat_penalty=1.0, presence_penalty=1.5,
            frequency_penalty=0.5),
], ids=["default", "greedy", "strong-penalty", "greedy-presence-frequency"])
def test_prefiltered_chain_samples_exactly_what_llama_cpp_order_samples(native, params):
    model, ctx = native
    fast = SamplerChain(model, params, repeat_last_n=N)
    plain = SamplerChain(model, params, repeat_last_n=N, prefilter=False)
    unpenalised = SamplerChain(model, replace(params, repeat_penalty=1.0, presence_penalty=0.0,
                                              frequency_penalty=0.0), repeat_last_n=N)
    assert fast.seed == plain.seed == 7
    prompt = model.tokenize("The the the the lighthouse keeper said the sea the sea the")
    ctx.clear()
    assert ctx.decode(prompt, 0) == 0
    for chain in (fast, plain):
        chain.accept_prompt(prompt)
    penalty_mattered = 0
    try:
        for pos in range(len(prompt), len(prompt) + 160):
            a, b = fast.sample(ctx), plain.sample(ctx)
            assert a == b, f"differs at position {pos}"
            penalty_mattered += a != unpenalised.sample(ctx)
            assert ctx.decode([a], pos) == 0
    finally:
        for chain in (fast, plain, unpenalised):
            chain.close()
    assert penalty_mattered > 0          # the penalty really steered the text


@pytest.mark.model
def test_plain_greedy_by_argmax_picks_what_llama_cpps_greedy_sampler_picks(native):
    model, ctx = native
    greedy = replace(DEFAULT, temperature=0.0, repeat_penalty=1.0)
    fast = SamplerChain(model, greedy, repeat_last_n=N)
    chain = SamplerChain(model, greedy, repeat_last_n=N, argmax=False)
    assert fast._argmax and not chain._argmax
    prompt = model.tokenize("Once upon a time, in a small village by the sea,")
    ctx.clear()
    assert ctx.decode(prompt, 0) == 0
    try:
        for pos in range(len(prompt), len(prompt) + 160):
            a, b = fast.sample(ctx), chain.sample(ctx)
            assert a == b, f"differs at position {pos}"
            assert ctx.decode([a], pos) == 0
    finally:
        fast.close()
        chain.close()


def test_presence_and_frequency_penalties_are_checked_in_openais_range():
    assert SamplingParams(presence_penalty=-2, frequency_penalty=2).frequency_penalty == 2
    for name, value in (("presence_penalty", 2.5), ("frequency_penalty", -2.01)):
        with pytest.raises(InvalidSettingError, match=f"{name.replace('_', '-')} must be "
                           f"between -2 and 2, got {value:g}"):
            SamplingParams(**{name: value})
    back = SamplingParams.from_dict(SamplingParams(presence_penalty=0.5, grammar="x").to_dict())
    assert (back.presence_penalty, back.grammar) == (0.5, "x")


YES_NO = 'root ::= ("yes" | "no") "."'


def _greedy_text(model: NativeModel, ctx: NativeContext, chain: SamplerChain, prompt: str,
                 limit: int) -> tuple[str, bool]:
    """(the text a chain picks after `prompt`, whether it ended with an end-of-generation)."""
    tokens = model.tokenize(prompt)
    ctx.clear()
    assert ctx.decode(tokens, 0) == 0
    chain.accept_prompt(tokens)                   # the penalties see it; the grammar must not
    out = b""
    for pos in range(len(tokens), len(tokens) + limit):
        token = chain.sample(ctx)
        if model.is_eog(token):
            return out.decode(), True
        out += model.piece(token)
        assert ctx.decode([token], pos) == 0
    return out.decode(), False


@pytest.mark.model
def test_a_grammar_holds_a_greedy_chain_and_ends_it(native):
    """Without the grammar the model goes on in prose; with it the greedy pick is an allowed
    token each step, and once the grammar is complete only the end of generation is left."""
    model, ctx = native
    prompt = "Question: is the sea made of water? Answer:"
    greedy = replace(DEFAULT, temperature=0.0)
    free = SamplerChain(model, greedy, repeat_last_n=N)
    held = SamplerChain(model, replace(greedy, grammar=YES_NO), repeat_last_n=N)
    try:
        free_text, _ = _greedy_text(model, ctx, free, prompt, 12)
        held_text, ended = _greedy_text(model, ctx, held, prompt, 12)
    finally:
        free.close()
        held.close()
    assert free_text not in ("yes.", "no.")
    assert held_text in ("yes.", "no.") and ended


@pytest.mark.model
def test_a_grammar_llama_cpp_cannot_parse_is_a_clear_error(native):
    model, _ctx = native
    for bad in ('root ::= "unclosed', "item ::= [a-z]+", "root ::= root \"x\""):
        with pytest.raises(InvalidSettingError, match="llama.cpp cannot parse the grammar"):
            SamplerChain(model, replace(DEFAULT, grammar=bad), repeat_last_n=N)
