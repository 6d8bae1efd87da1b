"""The native sampler chain: the repeat-penalty prefilter never changes what is sampled."""

from __future__ import annotations

from dataclasses import replace

import pytest

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
], ids=["default", "greedy", "strong-penalty"])
def test_prefiltered_chain_samples_exactly_what_llama_cpp_order_samples(native, params):
    model, ctx = native
    fast = SamplerChain(model, params, repeat_last_n=N)
    plain = SamplerChain(model, params, repeat_last_n=N, prefilter=False)
    unpenalised = SamplerChain(model, replace(params, repeat_penalty=1.0), repeat_last_n=N)
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
