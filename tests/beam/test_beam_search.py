"""Beam search on the real starter model: width 1 is greedy, a width that covers every path of a
short horizon finds the brute-force best, a wider search never scores below width 1, stop
strings and a cancel end it normally."""

from __future__ import annotations

import numpy as np
import pytest

from inference.beam.hypotheses import BeamEnd, BeamSettings
from inference.beam.search import BeamSearch, SearchEnd, open_beam_context
from inference.common.cancel import CancelToken
from inference.engine.events import Finished, FinishReason
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.llama.native import NativeContext, NativeModel

pytestmark = pytest.mark.model

NUMERIC_NOISE = 1e-6        # summed log-probabilities, a batch of beams vs one at a time
# The same sums from batches of other rows (36 beams vs the brute force's 6 and 36 others):
# llama.cpp's CPU kernels round a row by what shares its batch: within 1e-6 on the AVX2 machine
# this test was written on, 0.017 apart on an AVX-512 one (an AMD EPYC), for a gap of 0.28
# between the best two paths.
BATCH_NOISE = 0.05
GREEDY = {"temperature": 0.0, "repeat_penalty": 1.0}
PROMPTS = [
    "The capital of France is", "Once upon a time", "def fibonacci(n):", "The quick brown fox",
    "Water boils at", "My favourite food is", "In 1492, Columbus", "The sun rises in the",
    "import numpy as", "Dear Sir or Madam,", "The best way to learn", "Two plus two equals",
    "Cats and dogs are", "The weather today is", "Shakespeare wrote", "A list of fruits:",
    "The moon is", "To make tea, first", "Berlin is the capital of", "Hello, my name is",
]


def finished(engine, text: str, mode: Mode = Mode.TEXT, **sampling: object) -> Finished:
    request = GenerationRequest(mode, text=text, sampling=SamplingParams(**sampling))
    events = list(engine.generate(request))
    assert isinstance(events[-1], Finished)
    return events[-1]


def model_of(engine) -> NativeModel:
    return engine._session.model                     # noqa: SLF001 - the test's own look


@pytest.mark.parametrize("mode, text", [(Mode.TEXT, "The capital of France is"),
                                        (Mode.TEXT, "def fibonacci(n):"),
                                        (Mode.INSTRUCT, "Name three colours.")])
def test_width_one_is_the_greedy_reply_token_for_token(engine, mode, text):
    greedy = finished(engine, text, mode, max_tokens=16, **GREEDY)
    beam = finished(engine, text, mode, max_tokens=16, beams=1)
    assert beam.text == greedy.text and beam.reason is greedy.reason
    assert beam.beams[0].tokens == greedy.stats.output_tokens
    assert len(beam.beams) == 1 and beam.beams[0].text == beam.text


def log_softmax(row: np.ndarray) -> np.ndarray:
    x = row.astype(np.float64)
    return x - np.logaddexp.reduce(x)


def test_a_width_covering_every_path_finds_the_brute_force_best(engine):
    """3 tokens over the top 6 of each step: 216 paths, each scored by evaluating the real model.
    The search's width 36 = 6² holds every two-token prefix, and with no length penalty a path
    that leaves the tree is already below the tree's best where it leaves (each later term is
    a log-probability, ≤ 0): so the tree's best is the best of all, and the search must find it.

    The tree is evaluated a level per batch (6 rows, then 36), each node in a sequence of its
    own over shared cells: llama.cpp's CPU kernels for a batch of 4 rows or more round a row's
    logits differently from a one-row batch (by up to ~0.3), so a one-token-at-a-time brute
    force would differ from the search by ~1e-3 for that reason alone; and the search's own
    batches hold other rows than these (see BATCH_NOISE)."""
    model, prompt_text, top, horizon = model_of(engine), "The capital of France is", 6, 3
    prompt = model.tokenize(prompt_text)
    n_nodes = sum(top ** d for d in range(horizon))               # 1 + 6 + 36 sequences
    ctx = NativeContext(model, n_ctx=256, n_batch=64, n_ubatch=64, n_threads=2,
                        n_seq_max=n_nodes, kv_unified=True)
    level = [((), 0.0, 0)]                        # (path, summed log-probability, sequence)
    paths: dict[tuple[int, ...], float] = {}
    bound_gaps: list[float] = []                  # prefix + its 7th best token: a way out
    try:
        assert ctx.decode(prompt, 0, seq_id=0) == 0
        rows = [log_softmax(ctx.logits_rows(-1, 1)[0])]
        next_seq = 1
        for depth in range(1, horizon + 1):
            children = []
            for (path, score, seq), logp in zip(level, rows, strict=True):
                order = np.argsort(-logp, kind="stable")
                assert not any(model.is_eog(int(t)) for t in order[:top]), "a path ends early"
                bound_gaps.append(score + float(logp[order[top]]))
                for t in order[:top]:
                    children.append(((*path, int(t)), score + float(logp[t]), seq))
            if depth == horizon:
                paths = {path: score for path, score, _ in children}
                break
            level = []
            for path, score, parent in children:
                ctx.copy_seq(parent, next_seq)
                level.append((path, score, next_seq))
                next_seq += 1
            n = len(level)
            assert ctx.decode_mixed([p[-1] for p, _, _ in level], [len(prompt) + depth - 1] * n,
                                    [seq for _, _, seq in level], [True] * n) == 0
            rows = [log_softmax(row) for row in ctx.logits_rows(0, n)]
    finally:
        ctx.close()
    assert len(paths) == top ** horizon
    best_path, best_score = max(paths.items(), key=lambda kv: kv[1])
    assert max(bound_gaps) < best_score, "a path outside the top-6 tree could be better"
    result = finished(engine, prompt_text, max_tokens=horizon, beams=top ** (horizon - 1),
                      length_penalty=0.0)
    best = result.beams[0]
    text = b"".join(model.piece(t) for t in best_path).decode("utf-8", "replace")
    assert (best.text, best.tokens) == (text, horizon)
    assert best.sum_logprob == pytest.approx(best_score, abs=BATCH_NOISE)
    assert best.score == best.sum_logprob                     # length penalty 0
    ranked = [b.score for b in result.beams]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) == top ** (horizon - 1)
    brute = sorted(paths.values(), reverse=True)
    assert brute[0] - brute[1] > 2 * BATCH_NOISE, "the best two paths too close to tell apart"
    assert ranked[:5] == pytest.approx(brute[:5], abs=BATCH_NOISE)


def test_every_beam_scores_what_the_model_gives_its_tokens_alone(engine):
    """Beams sharing and dropping cells must each see exactly their own tokens: every finished
    beam's summed log-probability equals its tokens evaluated one at a time in a context of
    their own (a width below 4, so the batch uses the one-row kernels)."""
    model = model_of(engine)
    prompt = model.tokenize("The quick brown fox")
    ctx = open_beam_context(model, width=3, cells=len(prompt) + 3 * 8 + 1, n_batch=64,
                            n_ubatch=64, n_threads=2)
    try:
        outcome = BeamSearch(ctx, BeamSettings(3, 0.0, "never"), 8, Text,
                             CancelToken()).run(prompt)
    finally:
        ctx.close()
    alone = NativeContext(model, n_ctx=256, n_batch=64, n_ubatch=64, n_threads=2)
    try:
        for beam in outcome.beams:
            alone.clear()
            assert alone.decode(prompt, 0) == 0
            total = 0.0
            for i, token in enumerate(beam.tokens):
                total += float(log_softmax(alone.logits_rows(-1, 1)[0])[token])
                assert alone.decode([token], len(prompt) + i) == 0
            assert beam.sum_logprob == pytest.approx(total, abs=NUMERIC_NOISE), beam.tokens
    finally:
        alone.close()
    assert len(outcome.beams) == 3 and all(len(b.tokens) == 8 for b in outcome.beams)


def test_a_wider_search_never_scores_below_width_one(engine):
    for text in PROMPTS:
        one = finished(engine, text, max_tokens=3, beams=1).beams[0]
        wide = finished(engine, text, max_tokens=3, beams=2).beams[0]
        assert wide.score >= one.score - 1e-9, text


def test_a_stop_string_ends_a_beam_as_in_plain_generation(engine):
    result = finished(engine, "The capital of France is", max_tokens=16, beams=3, stop=("."))
    assert result.beams and all("." not in b.text for b in result.beams)
    assert FinishReason.STOP in {b.finish_reason for b in result.beams}
    plain = finished(engine, "The capital of France is", max_tokens=16, stop=(".",), **GREEDY)
    one = finished(engine, "The capital of France is", max_tokens=16, stop=(".",), beams=1)
    assert (one.text, one.reason) == (plain.text, plain.reason)


def test_a_cancel_ends_the_search_with_the_beams_so_far(engine):
    model, cancel, steps = model_of(engine), CancelToken(), []
    prompt = model.tokenize("Once upon a time")
    ctx = open_beam_context(model, width=2, cells=len(prompt) + 2 * 10 + 1, n_batch=64,
                            n_ubatch=64, n_threads=2)

    def on_step() -> None:
        steps.append(1)
        if len(steps) == 3:
            cancel.cancel()

    try:
        outcome = BeamSearch(ctx, BeamSettings(2), 10, Text, cancel, on_step).run(prompt)
    finally:
        ctx.close()
    assert outcome.end is SearchEnd.CANCELLED and len(outcome.beams) == 2
    assert all(b.end is BeamEnd.CANCELLED and len(b.tokens) == 3 for b in outcome.beams)


class Text:
    """A beam text with no stop strings (the search's `BeamText`)."""

    def feed(self, token: int) -> bool:
        return False

    def copy(self) -> Text:
        return self
