"""The rejection rule of speculative sampling on hand-made distributions, exactly and sampled."""

from __future__ import annotations

import numpy as np
import pytest

from inference.speculative.rejection import (
    acceptance_probability,
    one_hot,
    output_distribution,
    residual,
    sample_and_compare,
    speculative_step,
)
from tests.support.chi_squared import fits

P = np.array([0.5, 0.25, 0.15, 0.1, 0.0])         # the main model, after its sampler chain
Q = np.array([0.1, 0.6, 0.1, 0.1, 0.1])           # a draft that is often wrong
DRAWS = 20_000


def test_acceptance_is_min_one_p_over_q() -> None:
    assert acceptance_probability(P, Q, 0) == 1.0              # p > q: always kept
    assert acceptance_probability(P, Q, 1) == pytest.approx(0.25 / 0.6)
    assert acceptance_probability(P, Q, 4) == 0.0              # the model never picks it
    with pytest.raises(ValueError, match="probability 0"):
        acceptance_probability(P, one_hot(5, 2), 0)


def test_residual_is_the_positive_part_renormalised() -> None:
    np.testing.assert_allclose(residual(P, Q), [0.4 / 0.45, 0.0, 0.05 / 0.45, 0.0, 0.0])
    np.testing.assert_allclose(residual(P, P), P)              # nothing to reject
    np.testing.assert_allclose(residual(P, one_hot(5, 0)), [0, 0.5, 0.3, 0.2, 0])


@pytest.mark.parametrize("q", [Q, P, one_hot(5, 0), one_hot(5, 3), one_hot(5, 4),
                               np.full(5, 0.2)], ids=["skewed", "same", "x0", "x3", "x4",
                                                      "uniform"])
def test_the_output_is_distributed_exactly_as_the_main_model(q: np.ndarray) -> None:
    np.testing.assert_allclose(output_distribution(P, q), P, atol=1e-12)


def test_a_deterministic_draft_is_kept_with_the_models_probability_of_it() -> None:
    rng = np.random.default_rng(7)
    for x in range(5):
        kept = sum(speculative_step(P, one_hot(5, x), x, rng)[1] for _ in range(4000))
        assert abs(kept / 4000 - P[x]) < 0.03, x


def _counts(draw) -> np.ndarray:
    counts = np.zeros(5)
    for _ in range(DRAWS):
        counts[draw()] += 1
    return counts


@pytest.mark.parametrize("x", [0, 2, 4])
def test_sample_and_compare_is_the_rule_for_a_deterministic_draft(x: int) -> None:
    """The engine's form (draw from p, keep the draft when it matches) against the rule: the
    same acceptance and the same output distribution, by chi-squared on fixed seeds."""
    rule_rng, engine_rng = np.random.default_rng(1), np.random.default_rng(2)
    rule = _counts(lambda: speculative_step(P, one_hot(5, x), x, rule_rng)[0])
    engine = _counts(lambda: sample_and_compare(P, x, engine_rng)[0])
    support = P > 0
    for counts in (rule, engine):
        assert counts[~support].sum() == 0
        assert fits(counts[support], P[support])
    rng = np.random.default_rng(3)
    kept = sum(sample_and_compare(P, x, rng)[1] for _ in range(4000))
    assert abs(kept / 4000 - P[x]) < 0.03


def test_a_sampled_draft_gives_the_main_models_distribution() -> None:
    rng = np.random.default_rng(11)

    def step() -> int:
        x = int(rng.choice(5, p=Q))
        return speculative_step(P, Q, x, rng)[0]

    counts = _counts(step)
    assert counts[4] == 0
    assert fits(counts[:4], P[:4])
