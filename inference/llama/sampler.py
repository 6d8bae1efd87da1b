"""Sampling settings → llama.cpp's native sampler chain (no 262k-entry logits copied to Python)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Protocol

import llama_cpp

from inference.llama.native import NativeContext, NativeModel


class SamplerSettings(Protocol):
    """What the chain reads from a sampling configuration (inference.engine's SamplingParams)."""

    @property
    def temperature(self) -> float: ...
    @property
    def top_k(self) -> int: ...
    @property
    def top_p(self) -> float: ...
    @property
    def min_p(self) -> float: ...
    @property
    def repeat_penalty(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def greedy(self) -> bool: ...


def exact_prefilter(params: SamplerSettings, repeat_last_n: int) -> int:
    """How many top tokens the chain may keep before the repeat penalty without changing what it
    samples (0: keep all).

    The penalty looks every candidate up in its token-count table: over Gemma's 262k-entry
    vocabulary that is most of the sampler's time (~0.8 ms a token here, tests/perf). A penalty
    above 1 only lowers the logits of the at most `repeat_last_n` tokens it has seen, so after it
    the top k are always among the top k + repeat_last_n before it: keeping those first gives the
    same top k, in the same order, and so the same draw. A penalty below 1 raises logits and
    without a top-k (or greedy) nothing narrows the candidates, so those keep the whole vocabulary.
    """
    if params.repeat_penalty <= 1.0:
        return 0
    k = 1 if params.greedy else params.top_k
    return k + repeat_last_n if k > 0 else 0


class SamplerChain:
    """(top k + n →) penalties → (greedy | top-k → top-p → min-p → temperature → seeded draw).

    The order is llama.cpp's own (llama-cli: penalties before top-k); the optional first step is
    `exact_prefilter`, which `prefilter=False` turns off (tests compare the two). The repeat
    penalty looks at the last `repeat_last_n` tokens.
    """

    def __init__(self, model: NativeModel, params: SamplerSettings, *, repeat_last_n: int,
                 prefilter: bool = True) -> None:
        if repeat_last_n <= 0:
            raise ValueError(f"repeat_last_n must be positive, got {repeat_last_n}")
        self.seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        self.repeat_last_n = repeat_last_n
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self.ptr = chain
        add = llama_cpp.llama_sampler_chain_add
        keep = exact_prefilter(params, repeat_last_n) if prefilter else 0
        if keep:
            add(chain, llama_cpp.llama_sampler_init_top_k(keep))
        if params.repeat_penalty != 1.0:
            add(chain, llama_cpp.llama_sampler_init_penalties(
                model.n_vocab, repeat_last_n, params.repeat_penalty, 0.0, 0.0))
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
        for token in tokens[-self.repeat_last_n:]:
            llama_cpp.llama_sampler_accept(self.ptr, token)

    def sample(self, ctx: NativeContext, index: int = -1) -> int:
        """Sample from the logits of the last batch's token `index` (−1: its last output);
        the chain accepts the token."""
        return int(llama_cpp.llama_sampler_sample(self.ptr, ctx.ptr, index))

    def close(self) -> None:
        if self.ptr:
            llama_cpp.llama_sampler_free(self.ptr)
            self.ptr = None
