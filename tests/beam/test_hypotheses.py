"""The finished-beam list and its stopping rules, as transformers' `BeamHypotheses` defines
them, and the validation of a beam request's settings."""

from __future__ import annotations

import pytest

from inference.beam.hypotheses import BeamEnd, BeamHypotheses, BeamSettings, penalised
from inference.common.errors import InvalidSettingError
from inference.engine.sampling import SamplingParams


def hyps(width: int, length_penalty: float = 1.0, early_stopping: bool | str = False,
         max_new: int = 10) -> BeamHypotheses:
    return BeamHypotheses(BeamSettings(width, length_penalty, early_stopping), max_new)


def test_the_score_is_the_sum_over_length_to_the_penalty():
    assert penalised(-6.0, 3, 1.0) == -2.0
    assert penalised(-6.0, 4, 0.5) == -3.0
    assert penalised(-6.0, 3, 0.0) == -6.0
    assert penalised(-6.0, 2, -1.0) == -12.0         # below 0: longer beams lose


def test_only_the_best_width_beams_are_kept_best_first():
    h = hyps(2)
    h.add((1,), -2.0, 2, BeamEnd.EOG)                 # score -1
    h.add((2,), -1.0, 2, BeamEnd.EOG)                 # score -0.5
    h.add((3,), -3.0, 1, BeamEnd.STOP)                # score -3: worse than both, dropped
    h.add((4,), -0.4, 1, BeamEnd.LENGTH)              # score -0.4: pushes (1,) out
    assert [b.tokens for b in h.ranked()] == [(4,), (2,)]
    assert h.worst_score == -0.5


def test_is_done_waits_for_width_finished_beams():
    h = hyps(2, early_stopping=True)
    h.add((1,), -1.0, 1, BeamEnd.EOG)
    assert not h.is_done(0.0, 2)
    h.add((2,), -1.0, 1, BeamEnd.EOG)
    assert h.is_done(0.0, 2)                          # True: done once width beams finished


def test_the_heuristic_compares_with_the_best_live_beam_at_its_length():
    h = hyps(1)                                       # early_stopping False
    h.add((1,), -2.0, 2, BeamEnd.EOG)                 # score -1
    assert h.is_done(-3.0, 3)                         # best live could reach -3/3 = -1: done
    assert not h.is_done(-2.9, 3)                     # -0.967 > -1: go on


def test_never_uses_max_length_when_the_penalty_is_positive():
    h = hyps(1, early_stopping="never", max_new=10)
    h.add((1,), -2.0, 2, BeamEnd.EOG)                 # score -1
    assert not h.is_done(-3.0, 3)                     # -3/10 > -1: a longer beam could win
    assert h.is_done(-10.0, 3)                        # -10/10 = -1: it cannot
    neg = hyps(1, length_penalty=-1.0, early_stopping="never")
    neg.add((1,), -2.0, 2, BeamEnd.EOG)               # score -4
    assert neg.is_done(-1.0, 4)                       # -1 × 4 = -4 at cur_len: done


@pytest.mark.parametrize("settings, message", [
    ({"beams": 65}, "beams must be between 0 and 64"),
    ({"beams": 1.5}, "beams must be a whole number"),
    ({"beams": 2, "length_penalty": 11.0}, "length-penalty must be between -10 and 10"),
    ({"beams": 2, "early_stopping": "sometimes"}, "early-stopping must be true, false or"),
    ({"beams": 2, "grammar": "root ::= \"a\""}, "beam search cannot follow a grammar"),
])
def test_bad_beam_settings_get_one_clear_line(settings, message):
    with pytest.raises(InvalidSettingError, match=message):
        SamplingParams(**settings)


def test_beam_settings_travel_in_the_request_dict():
    params = SamplingParams(beams=4, length_penalty=0.5, early_stopping="never")
    assert SamplingParams.from_dict(params.to_dict()) == params
    assert params.beam_search and not SamplingParams().beam_search
