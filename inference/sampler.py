"""SamplingParams → llama.cpp's native sampler chain (no 262k-entry logits copied into Python)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import llama_cpp

from .native import NativeContext, NativeModel
from .sampling import REPEAT_LAST_N, SamplingParams


class SamplerChain:
    """Penalties → (greedy | top-k → top-p → min-p → temperature → seeded draw)."""

    def __init__(self, model: NativeModel, params: SamplingParams) -> None:
        self.seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self.ptr = chain
        add = llama_cpp.llama_sampler_chain_add
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
