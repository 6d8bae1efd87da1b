"""Sampling settings → llama.cpp's native sampler chain (no 262k-entry logits copied to Python)."""

from __future__ import annotations

import ctypes
import math
import secrets
from collections.abc import Sequence
from typing import Protocol

import llama_cpp
import numpy as np

from inference.llama.grammar import grammar_sampler
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
    def presence_penalty(self) -> float: ...
    @property
    def frequency_penalty(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def grammar(self) -> str: ...
    @property
    def greedy(self) -> bool: ...


def penalties_active(params: SamplerSettings) -> bool:
    """Whether llama.cpp's penalties sampler would change anything."""
    return (params.repeat_penalty != 1.0 or params.presence_penalty != 0.0
            or params.frequency_penalty != 0.0)


def exact_prefilter(params: SamplerSettings, repeat_last_n: int) -> int:
    """How many top tokens the chain may keep before the penalties without changing what it
    samples (0: keep all).

    The penalties look every candidate up in their token-count table: over Gemma's 262k-entry
    vocabulary that is most of the sampler's time (~0.8 ms a token here, tests/perf). Penalties
    that only lower logits (repeat above 1, presence and frequency above 0) change only the at
    most `repeat_last_n` tokens they have seen, so after them the top k are always among the top
    k + repeat_last_n before them: keeping those first gives the same top k, in the same order,
    and so the same draw. A penalty that raises logits (repeat below 1, presence or frequency
    below 0) and a chain without a top-k (or greedy) keep the whole vocabulary.
    """
    lowering = (params.repeat_penalty >= 1.0 and params.presence_penalty >= 0.0
                and params.frequency_penalty >= 0.0)
    if not penalties_active(params) or not lowering:
        return 0
    k = 1 if params.greedy else params.top_k
    return k + repeat_last_n if k > 0 else 0


class ChainObserver(Protocol):
    """Watches one sample stage by stage (inference.inspector's ChoiceRecorder): the raw
    logits row, then the candidates as each stage leaves them (views into llama.cpp's buffer,
    valid only during the call), then the drawn token."""

    def raw(self, logits: np.ndarray) -> None: ...
    def restart(self) -> None: ...
    def stage(self, name: str, ids: np.ndarray, logits: np.ndarray, ordered: bool) -> None: ...
    def drawn(self, token: int, greedy: bool) -> object: ...


class SamplerChain:
    """(top k + n →) penalties → (greedy | top-k → top-p → min-p → temperature → seeded draw),
    and a grammar beside it.

    The order is llama.cpp's own (llama-cli: penalties before top-k); the optional first step is
    `exact_prefilter`, which `prefilter=False` turns off (tests compare the two). The penalties
    (repeat, presence, frequency) look at the last `repeat_last_n` tokens.

    A grammar is applied as llama.cpp's own tools apply it (common_sampler_sample): the chain
    picks a token; if the grammar allows it, it stands; if not, the grammar first sets every
    token it forbids to −inf and the chain picks again among the rest, so every token — greedy
    included — is one the grammar allows (a greedy pick is exactly the best allowed token).
    Putting the grammar first in the chain gives the same greedy tokens but tests all 262k of
    Gemma's vocabulary every step: ~100 ms a sample here, against ~3.5 ms checking first (~1 ms
    with no grammar; measured on the starter model's JSON replies).
    """

    def __init__(self, model: NativeModel, params: SamplerSettings, *, repeat_last_n: int,
                 prefilter: bool = True, argmax: bool = True) -> None:
        """`argmax=False` samples plain greedy through llama.cpp's chain too (tests compare)."""
        if repeat_last_n <= 0:
            raise ValueError(f"repeat_last_n must be positive, got {repeat_last_n}")
        self.seed = params.seed if params.seed >= 0 else secrets.randbelow(2**32 - 1)
        self.repeat_last_n = repeat_last_n
        self._grammar = grammar_sampler(model, params.grammar) if params.grammar else None
        self._candidates = _Candidates(model.n_vocab) if self._grammar else None
        # Plain greedy is one argmax over the logits row. llama_sampler_sample first copies the
        # whole vocabulary into a candidates array (262k entries for Gemma: ~1 ms a token here,
        # against ~0.05 ms for numpy's argmax) — at 8 sequences a step that is 10 % of the
        # step. Exact: llama.cpp's greedy keeps the first of equal logits, as np.argmax does.
        self._argmax = (argmax and params.greedy and self._grammar is None
                        and not penalties_active(params))
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        self.ptr = chain
        self.greedy = params.greedy
        self.stages: list[str] = []       # each sampler's stage name (inference.inspector)

        def add(name: str, sampler: llama_cpp.llama_sampler_p) -> None:
            llama_cpp.llama_sampler_chain_add(chain, sampler)
            self.stages.append(name)

        keep = exact_prefilter(params, repeat_last_n) if prefilter else 0
        if keep:
            add("prefilter", llama_cpp.llama_sampler_init_top_k(keep))
        self._penalties = None
        if penalties_active(params):
            self._penalties = llama_cpp.llama_sampler_init_penalties(
                model.n_vocab, repeat_last_n, params.repeat_penalty, params.frequency_penalty,
                params.presence_penalty)
            add("penalties", self._penalties)
        if params.greedy:
            add("greedy", llama_cpp.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            add("top-k", llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            add("top-p", llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add("min-p", llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add("temperature", llama_cpp.llama_sampler_init_temp(params.temperature))
        add("dist", llama_cpp.llama_sampler_init_dist(self.seed))

    def accept_prompt(self, tokens: Sequence[int]) -> None:
        """Let the penalties see the end of the prompt, as llama.cpp's tools do (only them: the
        grammar constrains the reply, not the prompt)."""
        if self._penalties is None:
            return
        for token in tokens[-self.repeat_last_n:]:
            llama_cpp.llama_sampler_accept(self._penalties, token)

    def sample(self, ctx: NativeContext, index: int = -1) -> int:
        """Sample from the logits of the last batch's token `index` (−1: its last output);
        the chain (and the grammar) accept the token."""
        if self._argmax:
            rows = ctx.logits_rows(index, 1)
            if rows is None:
                raise ValueError(f"batch row {index} has no logits to sample from")
            return int(np.argmax(rows[0]))
        if self._grammar is None:
            return int(llama_cpp.llama_sampler_sample(self.ptr, ctx.ptr, index))
        rows = ctx.logits_rows(index, 1)
        if rows is None or self._candidates is None:
            raise ValueError(f"batch row {index} has no logits to sample from")
        candidates = self._candidates
        llama_cpp.llama_sampler_apply(self.ptr, candidates.fill(rows[0]))
        token = candidates.selected()
        if not self._allowed(token):               # resample among what the grammar allows
            array = candidates.fill(rows[0])
            llama_cpp.llama_sampler_apply(self._grammar, array)
            llama_cpp.llama_sampler_apply(self.ptr, array)
            token = candidates.selected()
        llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self.ptr, token)
        return token

    def sample_observed(self, ctx: NativeContext, observer: ChainObserver,
                        index: int = -1) -> int:
        """As `sample`, applying the chain's samplers one by one and showing `observer` the
        candidates after each (llama_sampler_sample does the same: fill, apply each, take the
        selected, accept). Only the inspector and log-probabilities take this path."""
        rows = ctx.logits_rows(index, 1)
        if rows is None:
            raise ValueError(f"batch row {index} has no logits to sample from")
        row = rows[0]
        if self._candidates is None:
            self._candidates = _Candidates(len(row))
        candidates = self._candidates
        observer.raw(row)
        token = self._staged(candidates.fill(row), observer)
        if self._grammar is not None and not self._allowed(token):
            observer.restart()
            array = candidates.fill(row)
            llama_cpp.llama_sampler_apply(self._grammar, array)
            observer.stage("grammar", *candidates.current())
            token = self._staged(array, observer)
        if self._grammar is not None:
            llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self.ptr, token)
        observer.drawn(token, self.greedy)
        return token

    def _staged(self, array: ctypes._CArgObject, observer: ChainObserver) -> int:
        candidates = self._candidates
        assert candidates is not None
        last = len(self.stages) - 1
        for i, name in enumerate(self.stages):
            llama_cpp.llama_sampler_apply(llama_cpp.llama_sampler_chain_get(self.ptr, i), array)
            if i < last:                   # the last (dist or greedy) only selects
                observer.stage(name, *candidates.current())
        return candidates.selected()

    def _allowed(self, token: int) -> bool:
        one = llama_cpp.llama_token_data(token, 1.0, 0.0)
        array = llama_cpp.llama_token_data_array(ctypes.pointer(one), 1, -1, False)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))
        return one.logit != -math.inf

    def close(self) -> None:
        if self.ptr:
            llama_cpp.llama_sampler_free(self.ptr)
            self.ptr = None
        if self._grammar:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None


TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class _Candidates:
    """Every token of the vocabulary as one llama_token_data_array over a row of logits, in a
    buffer kept from step to step (the samplers sort and cut it in place)."""

    def __init__(self, n_vocab: int) -> None:
        self._data = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.frombuffer(self._data, dtype=TOKEN_DATA)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._array = llama_cpp.llama_token_data_array(
            ctypes.cast(self._data, llama_cpp.llama_token_data_p), n_vocab, -1, False)

    def fill(self, logits: np.ndarray) -> ctypes._CArgObject:
        """The array over `logits`, unsorted and nothing selected, for llama_sampler_apply."""
        self._view["id"] = self._ids
        self._view["logit"] = logits
        # `p` is left as it was: every llama.cpp sampler that reads it (top-p, dist) writes it
        # first (llama_sampler_softmax_impl), and resetting 262k floats costs ~0.1 ms a token
        self._array.size, self._array.selected, self._array.sorted = len(self._ids), -1, False
        return ctypes.byref(self._array)

    def current(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """Views of what the stages left: ids, logits, and whether sorted most likely first."""
        view = self._view[:self._array.size]
        return view["id"], view["logit"], bool(self._array.sorted)

    def selected(self) -> int:
        index = self._array.selected
        if not 0 <= index < self._array.size:
            raise ValueError(f"the sampler chain selected no token (index {index})")
        return int(self._view["id"][index])
