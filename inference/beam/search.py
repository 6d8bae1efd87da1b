"""The search itself: the prompt once in sequence 0, then one `llama_decode` per step holding the
next token of every live beam, each beam in a sequence of its own over shared KV cells.

The context has 2 × width sequences in two banks, plus one that keeps every cell. A step's new
beams are made in the bank not in use by copying their parent's sequence there (`copy_seq`: in a
unified cache the cells gain a sequence id, no keys or values move), then the old bank is
cleared, so a parent with two children and a beam that dies both cost nothing. No cell is freed
during a search: with several sequences in one unified cache, this llama.cpp build gave logits
off by more than 1 for a token written into a cell that `seq_rm` had freed (found while testing
this room), so the old bank's cells go to the keeping sequence first, and the context is sized
for prompt + width × steps. A beam ends at an end-of-generation token, a stop string (its
`BeamText` says), max tokens or a cancel; the finished beams are ranked as transformers'
`BeamHypotheses` ranks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from inference.beam.candidates import Candidate, best_candidates
from inference.beam.hypotheses import BeamEnd, BeamHypotheses, BeamSettings, FinishedBeam
from inference.common.cancel import CancelToken
from inference.common.errors import GenerationError
from inference.llama.native import NativeContext, NativeModel
from inference.llama.native_log import NATIVE_LOG


class BeamText(Protocol):
    """One beam's text so far, told where a stop string ends it."""

    def feed(self, token: int) -> bool:
        """Add a token; True once a stop string has ended the text."""
        ...

    def copy(self) -> BeamText:
        ...


class SearchEnd(str, Enum):
    """Why the search as a whole ended."""

    FINISHED = "finished"          # every beam ended, or none could beat the finished ones
    LENGTH = "length"              # max tokens reached
    CANCELLED = "cancelled"
    CONTEXT_FULL = "context_full"  # llama.cpp found no KV cells for a step


@dataclass(frozen=True)
class SearchOutcome:
    beams: list[FinishedBeam]      # best first, at most `width`
    end: SearchEnd
    steps: int                     # search steps taken (each chose one token per live beam)
    tokens_decoded: int            # beam tokens evaluated by the steps' decodes, all beams


@dataclass
class _Live:
    tokens: tuple[int, ...]
    sum_logprob: float
    text: BeamText
    seq: int                       # the sequence holding its cells (the parent's, until moved)


def open_beam_context(model: NativeModel, *, width: int, cells: int, n_batch: int,
                      n_ubatch: int, n_threads: int, flash_attn: str = "auto",
                      type_k: str = "f16", type_v: str = "f16") -> NativeContext:
    """A context for one search: 2 × width + 1 sequences over one unified cache of `cells`
    (rounded up to a multiple of 256), so beams share the prompt's cells."""
    n_ctx = -(-cells // 256) * 256
    n_batch = max(n_batch, 2 * width + 1)    # llama.cpp reserves an output per sequence
    return NativeContext(model, n_ctx=n_ctx, n_batch=n_batch, n_ubatch=n_ubatch,
                         n_threads=n_threads, flash_attn=flash_attn, n_seq_max=2 * width + 1,
                         type_k=type_k, type_v=type_v, kv_unified=True)


class BeamSearch:
    """One search over a fresh `ctx` (from `open_beam_context`); `on_step` is called when each
    step has chosen its tokens (the figures' clock)."""

    def __init__(self, ctx: NativeContext, settings: BeamSettings, max_new_tokens: int,
                 new_text: Callable[[], BeamText], cancel: CancelToken,
                 on_step: Callable[[], None] = lambda: None) -> None:
        if ctx.n_seq_max < 2 * settings.width + 1:
            raise ValueError(f"a width-{settings.width} search needs {2 * settings.width + 1} "
                             f"sequences, the context has {ctx.n_seq_max}")
        self._ctx = ctx
        self._model = ctx.model
        self._settings = settings
        self._max_new = max_new_tokens
        self._new_text = new_text
        self._cancel = cancel
        self._on_step = on_step
        self._hyps = BeamHypotheses(settings, max_new_tokens)

    def run(self, prompt: list[int]) -> SearchOutcome:
        ctx, width = self._ctx, self._settings.width
        self._ctx.set_abort(self._cancel)
        try:
            code = self._prefill(prompt)
            if code != 0:
                return self._outcome(self._failed(code, len(prompt)), 0, 0)
            live = [_Live((), 0.0, self._new_text(), 0)]
            logits = ctx.logits_rows(-1, 1)
            decoded = 0
            for step in range(self._max_new):
                assert logits is not None, "every beam row has logits"
                if self._cancel.cancelled:
                    self._add_live(live, BeamEnd.CANCELLED)
                    return self._outcome(SearchEnd.CANCELLED, step, decoded)
                cur_len = step + 1
                best, chosen = self._choose(live, logits, cur_len)
                self._on_step()
                if self._hyps.is_done(best, cur_len) or not chosen:
                    return self._outcome(SearchEnd.FINISHED, cur_len, decoded)
                if cur_len == self._max_new:
                    self._add_live(chosen, BeamEnd.LENGTH)
                    return self._outcome(SearchEnd.LENGTH, cur_len, decoded)
                bank = width * ((step + 1) % 2)          # this step's beams go to this bank
                code = self._advance(chosen, bank, len(prompt) + step)
                if code != 0:
                    end = self._failed(code, len(prompt) + step)
                    self._add_live(chosen, BeamEnd.CANCELLED if end is SearchEnd.CANCELLED
                                   else BeamEnd.LENGTH)
                    return self._outcome(end, cur_len, decoded)
                decoded += len(chosen)
                live = chosen
                logits = ctx.logits_rows(0, len(live))
            return self._outcome(SearchEnd.LENGTH, self._max_new, decoded)
        finally:
            self._ctx.set_abort(None)

    # -- one step ---------------------------------------------------------------------------
    def _choose(self, live: list[_Live], logits: np.ndarray, cur_len: int
                ) -> tuple[float, list[_Live]]:
        """Rank every continuation; finished ones go to the hypotheses, the best `width` others
        become the next beams. Returns the best candidate's summed log-probability too."""
        width = self._settings.width
        sums = np.array([b.sum_logprob for b in live])
        count = 2 * width                     # transformers keeps 2 × width candidates
        while True:
            candidates = best_candidates(logits, sums, count)
            finished, chosen = self._split(live, candidates, cur_len)
            if len(chosen) == width or count >= logits.size:
                break
            count *= 2                        # many candidates ended: look further down
        for tokens, total, end in finished:
            self._hyps.add(tokens, total, cur_len, end)
        return candidates[0].sum_logprob, chosen

    def _split(self, live: list[_Live], candidates: list[Candidate], cur_len: int
               ) -> tuple[list[tuple[tuple[int, ...], float, BeamEnd]], list[_Live]]:
        width = self._settings.width
        finished: list[tuple[tuple[int, ...], float, BeamEnd]] = []
        chosen: list[_Live] = []
        for rank, cand in enumerate(candidates):
            parent = live[cand.beam]
            if self._model.is_eog(cand.token):
                if rank < width:        # an ending ranked below the width is not kept
                    finished.append((parent.tokens, cand.sum_logprob, BeamEnd.EOG))
                continue
            text = parent.text.copy()
            tokens = (*parent.tokens, cand.token)
            if text.feed(cand.token):
                if rank < width:
                    finished.append((tokens, cand.sum_logprob, BeamEnd.STOP))
                continue
            chosen.append(_Live(tokens, cand.sum_logprob, text, parent.seq))
            if len(chosen) == width:
                break
        return finished, chosen

    def _advance(self, chosen: list[_Live], bank: int, position: int) -> int:
        """Move the new beams into `bank` (sharing their parents' cells), drop the old bank,
        and evaluate each beam's newest token in one batch."""
        ctx, width = self._ctx, self._settings.width
        for i, beam in enumerate(chosen):
            ctx.copy_seq(beam.seq, bank + i)
        keeper = 2 * width                                     # holds every cell: none freed
        for seq in range(width - bank, 2 * width - bank):     # the other bank: the parents
            ctx.copy_seq(seq, keeper)
            ctx.clear_seq(seq)
        for i, beam in enumerate(chosen):
            beam.seq = bank + i
        n = len(chosen)
        return ctx.decode_mixed([b.tokens[-1] for b in chosen], [position] * n,
                                [b.seq for b in chosen], [True] * n)

    # -- beginning and end ------------------------------------------------------------------
    def _prefill(self, prompt: list[int]) -> int:
        step = self._ctx.n_batch
        for begin in range(0, len(prompt), step):
            chunk = prompt[begin:begin + step]
            last = begin + step >= len(prompt)
            code = self._ctx.decode(chunk, begin, seq_id=0, logits="last" if last else "none")
            if code != 0:
                return code
        return 0

    def _failed(self, code: int, position: int) -> SearchEnd:
        if code == 2 or self._cancel.cancelled:
            return SearchEnd.CANCELLED
        if code == 1:
            return SearchEnd.CONTEXT_FULL
        detail = NATIVE_LOG.last_error() or f"llama_decode returned {code}"
        raise GenerationError(f"The model failed to evaluate at position {position}: {detail}")

    def _add_live(self, live: list[_Live], end: BeamEnd) -> None:
        for beam in live:
            if beam.tokens:
                self._hyps.add(beam.tokens, beam.sum_logprob, len(beam.tokens), end)

    def _outcome(self, end: SearchEnd, steps: int, decoded: int) -> SearchOutcome:
        return SearchOutcome(self._hyps.ranked(), end, steps, decoded)
