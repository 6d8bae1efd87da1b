"""Chi-squared tests without SciPy: goodness of fit and two-sample homogeneity."""

from __future__ import annotations

import numpy as np

Z = {0.01: 2.3263, 0.001: 3.0902}      # one-sided normal quantiles


def critical_value(df: int, alpha: float = 0.01) -> float:
    """The chi-squared quantile 1 − alpha with `df` degrees of freedom (Wilson–Hilferty, within
    about 1 % of the exact value from df = 1 up)."""
    k = 2.0 / (9.0 * df)
    return df * (1.0 - k + Z[alpha] * np.sqrt(k)) ** 3


def fits(observed: np.ndarray, expected_p: np.ndarray, alpha: float = 0.01) -> bool:
    """Whether counts `observed` are consistent with probabilities `expected_p` (all > 0)."""
    expected = expected_p / expected_p.sum() * observed.sum()
    stat = float(((observed - expected) ** 2 / expected).sum())
    return stat < critical_value(len(observed) - 1, alpha)


def same_distribution(a: np.ndarray, b: np.ndarray, alpha: float = 0.01) -> tuple[bool, float]:
    """Whether two count vectors over the same categories could come from one distribution
    (a 2 × k contingency table); returns (verdict, statistic). Categories empty in both are
    dropped."""
    keep = (a + b) > 0
    table = np.vstack([a[keep], b[keep]]).astype(np.float64)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    df = max(1, int(keep.sum()) - 1)
    return stat < critical_value(df, alpha), stat
