"""One step's candidates: every live beam's log-softmax over the full vocabulary, and the best
(beam, token) continuations by summed log-probability, as transformers ranks them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.perplexity.scoring import row_normalizers


@dataclass(frozen=True)
class Candidate:
    beam: int                  # the live beam it continues (its row)
    token: int
    sum_logprob: float         # the beam's summed log-probability plus this token's


def best_candidates(logits: np.ndarray, beam_sums: np.ndarray, count: int) -> list[Candidate]:
    """The `count` best continuations over all beams, best first: row i of `logits` (float32,
    n × vocab) is beam i's next-token logits, `beam_sums[i]` its summed log-probability so far.

    The log-probabilities are exact over the whole vocabulary (perplexity's `row_normalizers`:
    llama.cpp's log-softmax, the sum of exponentials in float64). The overall best `count` lie
    among each row's best `count` by logit, so only those are turned into scores. Ties go to
    the lower beam, then the lower token id.
    """
    n_rows, n_vocab = logits.shape
    k = min(count, n_vocab)
    norm = row_normalizers(logits)
    ids = np.argpartition(logits, n_vocab - k, axis=1)[:, n_vocab - k:]
    chosen = np.take_along_axis(logits, ids, axis=1).astype(np.float64)
    offset = norm.max_logit.astype(np.float64) + norm.log_sum_exp - beam_sums
    totals = (chosen - offset[:, None]).ravel()
    flat = (ids + (np.arange(n_rows) * n_vocab)[:, None]).ravel()
    order = np.lexsort((flat, -totals))[:count]
    return [Candidate(int(flat[i] // n_vocab), int(flat[i] % n_vocab), float(totals[i]))
            for i in order]
