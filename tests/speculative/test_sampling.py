"""With sampling, speculative decoding keeps the main model's distribution: over a fixed list of
seeds on a fixed prompt, the first tokens' distribution with and without speculation agree by a
chi-squared test; with the same seed the text is the same, draw for draw."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inference.engine.engine import Engine
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from tests.speculative.conftest import finish, open_engine
from tests.support.chi_squared import same_distribution

# a pattern the lookup drafts from, with a choice at each step the model is unsure of
PROMPT = GenerationRequest(Mode.TEXT, text="red, green, blue, red, green, blue, red, blue, "
                           "green, red, blue, green, red,", sampling=SamplingParams(
                               temperature=1.0, top_k=40, top_p=0.95, max_tokens=6))
SEEDS = range(1, 121)
SAME_SEEDS = range(1, 21)
MIN_EXPECTED = 5           # rarer first words are pooled into one category


@pytest.fixture(scope="module")
def lookup(starter_model_path: Path) -> Iterator[Engine]:
    engine = open_engine(starter_model_path, speculative="lookup")
    yield engine
    engine.close()


def _replies(engine: Engine, seeds: range) -> list[tuple[str, int]]:
    out = []
    for seed in seeds:
        final = finish(engine, replace(PROMPT, sampling=replace(PROMPT.sampling, seed=seed)))
        out.append((final.text, final.stats.accepted_tokens))
    return out


def _first_words(texts: list[str]) -> Counter[str]:
    return Counter(" ".join(t.replace(",", " , ").split()[:3]) for t in texts)


def test_same_seed_same_text(plain: Engine, lookup: Engine) -> None:
    want = [t for t, _ in _replies(plain, SAME_SEEDS)]
    got = _replies(lookup, SAME_SEEDS)
    assert [t for t, _ in got] == want
    assert sum(kept for _, kept in got) > 0          # drafts were kept along the way


def test_first_tokens_have_the_same_distribution(plain: Engine, lookup: Engine) -> None:
    # disjoint seed lists: two independent samples, not the same draws twice
    a = _first_words([t for t, _ in _replies(plain, SEEDS)])
    b = _first_words([t for t, _ in _replies(lookup, range(1001, 1001 + len(SEEDS)))])
    names = sorted(set(a) | set(b))
    common = [n for n in names if a[n] + b[n] >= 2 * MIN_EXPECTED]
    assert len(common) >= 2, (a, b)                  # the prompt leaves a real choice
    rare_a = sum(a[n] for n in names if n not in common)
    rare_b = sum(b[n] for n in names if n not in common)
    counts_a = np.array([a[n] for n in common] + [rare_a])
    counts_b = np.array([b[n] for n in common] + [rare_b])
    same, stat = same_distribution(counts_a, counts_b, alpha=0.01)
    assert same, (stat, dict(a), dict(b))
