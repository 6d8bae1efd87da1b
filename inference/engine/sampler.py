"""SamplingParams → llama.cpp's native sampler chain (no 262k-entry logits copied into Python)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import llama_cpp

from inference.engine.sampling import REPEAT_LAST_N, SamplingParams
from inference.llama.native import NativeContext, NativeModel


def exact_prefilter(params: SamplingParams) -> int:
    """How many top tokens the chain may keep before the repeat penalty without changing what it
    samples (0: keep all).

    The penalty looks every candidate up in its token-count table: over Gemma's 262k-entry
    vocabulary that is most of the sampler's time (~0.8 ms a token here, tests/perf). A penalty
    above 1 only lowers the logits of the at most REPEAT_LAST_N tokens it has seen, so after it
    the top k are always among the top k + REPEAT_LAST_N before it: keeping those first gives the
    same top k, in the same order, and so the same draw. A penalty below 1 raises logits and
    without a top-k (or greedy) nothing narrows the candidates, so those keep the whole vocabulary.
    """
    if params.repeat_penalty <= 1.0:
        return 0
    k = 1 if params.greedy else params.top_k
    return k + REPEAT_LAST_N if k > 0 else 0


class SamplerChain:
    """(top k + 64 →) penalties → (greedy | top-k → top-p → min-p → temperature → seeded draw).

    The order is llama.cpp's own (llama-cli: penalties before top-k); the optional first step is
    `exact_prefilter`, which `prefilter=False` turns off (tests compare the two).
    """

    def __init__(self, model: NativeModel, params: SamplingParams, *,
                 prefilter: bool = True) -> None:
        self.seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self.ptr = chain
        add = llama_cpp.llama_sampler_chain_add
        keep = exact_prefilter(params) if prefilter else 0
        if keep:
            add(chain, llama_cpp.llama_sampler_init_top_k(keep))
        if params.repeat_penalty != 1.0:
            add(chain, llama_cpp.llama_sampler_init_penalties(
                model.n_vocab, REPEAT_LAST_N, params.repeat_penalty, 0.0, 0.0))
        if params.greedy:
            add(chain, llama_cpp.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add(chain, llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(self.seed))

    def accept_prompt(self, tokens: Sequence[int]) -> None:
        """Let the repeat penalty see the end of the prompt, as llama.cpp's tools do."""
        for token in tokens[-REPEAT_LAST_N:]:
            llama_cpp.llama_sampler_accept(self.ptr, token)

    def sample(self, ctx: NativeContext) -> int:
        """Sample from the last evaluated position's logits (the chain accepts the token)."""
        return int(llama_cpp.llama_sampler_sample(self.ptr, ctx.ptr, -1))

    def close(self) -> None:
        if self.ptr:
            llama_cpp.llama_sampler_free(self.ptr)
            self.ptr = None
