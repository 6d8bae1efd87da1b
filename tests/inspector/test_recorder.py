"""The token inspector on the real starter model: what it records of each token, that recording
changes no draw, and that "what if" with the reply's own settings gives its distribution back."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine.engine import Engine
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.inspector.choice import Inspection, Stage
from inference.inspector.recorder import ChoiceRecorder
from inference.inspector.whatif import Shaping, reshape

PROMPT = "Once upon a time"
SETTINGS = {                         # each builds a different chain
    "default": {},
    "greedy": {"temperature": 0.0},
    "no penalty, small top-k": {"repeat_penalty": 1.0, "top_k": 8},
    "no top-k": {"top_k": 0},
    "raising penalty": {"repeat_penalty": 0.9, "top_p": 0.8},
}


def _finished(engine: Engine, inspect_top: int | None, **sampling: object) -> Finished:
    request = GenerationRequest(Mode.TEXT, text=PROMPT, inspect_top=inspect_top,
                                sampling=SamplingParams(seed=7, max_tokens=24, **sampling))
    return next(e for e in engine.generate(request) if isinstance(e, Finished))


@pytest.fixture(scope="module")
def replies(engine: Engine) -> dict[str, tuple[Finished, Finished]]:
    """Each setting's reply with the inspector off, then on (N = 20)."""
    return {name: (_finished(engine, None, **s), _finished(engine, 20, **s))
            for name, s in SETTINGS.items()}


@pytest.mark.parametrize("name", SETTINGS)
def test_recording_changes_no_token_and_off_records_nothing(replies, name: str) -> None:
    off, on = replies[name]
    assert off.inspection is None
    assert on.text == off.text and on.text
    inspection = on.inspection
    assert isinstance(inspection, Inspection)
    assert b"".join(inspection.pieces).decode() == on.text
    assert len(inspection.choices) == on.stats.output_tokens      # 24, or fewer at an end


@pytest.mark.parametrize("name", SETTINGS)
def test_each_choice_holds_its_stages_in_the_chains_order(replies, name: str) -> None:
    inspection = replies[name][1].inspection
    for choice in inspection.choices:
        stages = choice.stages
        assert set(stages) <= set(vars(Stage).values())
        assert stages[-1] in (Stage.TEMPERATURE, Stage.GREEDY)
        order = [Stage.PREFILTER, Stage.PENALTIES, Stage.TOP_K, Stage.TOP_P, Stage.MIN_P,
                 Stage.TEMPERATURE, Stage.GREEDY]
        assert list(stages) == sorted(stages, key=order.index)
        survivors = choice.survivors.tolist()
        assert survivors == sorted(survivors, reverse=True) and survivors[-1] >= 1
        # the drawn token is always among the stage-final candidates
        assert choice.final_probs[choice.drawn_index] > 0
        for row, left in zip(choice.stage_probs, survivors, strict=True):
            assert row.sum() <= 1 + 1e-5 and np.count_nonzero(row) <= left
        raw = np.exp(choice.raw_logprob.astype(np.float64))
        assert raw.sum() <= 1 + 1e-5 and choice.entropy > 0
        top = choice.top_raw(20)
        assert [t for t, _ in top] == choice.ids[:20].tolist()      # raw order first
        assert len(choice.ids) <= 41                                # 2N + 1 at most


def test_greedy_draws_the_top_token_after_the_penalties(replies) -> None:
    for choice in replies["greedy"][1].inspection.choices:
        assert choice.stages[-1] == Stage.GREEDY and choice.survivors[-1] == 1
        before = choice.stage_probs[-2]
        assert choice.drawn_index == int(np.argmax(before))


@pytest.mark.parametrize("name", SETTINGS)
def test_what_if_with_the_replys_own_settings_gives_its_distribution_back(
        replies, name: str) -> None:
    inspection = replies[name][1].inspection
    shaping = Shaping.from_sampling(inspection.sampling)
    exact = 0
    for choice in inspection.choices:
        what_if = reshape(choice, shaping)
        if what_if.exact:
            exact += 1
            assert np.array_equal(what_if.probs, choice.final_probs)
            assert what_if.survivors == choice.survivors[-1]
    # a top-k chain keeps its whole cut: exact at every position; without one, the pool is
    # the top 256 of the vocabulary and "what if" says it is approximate
    assert exact == (0 if name == "no top-k" else len(inspection.choices))


def test_what_if_narrows_and_flattens_as_its_settings_say(replies) -> None:
    choice = replies["default"][1].inspection.choices[0]
    own = Shaping.from_sampling(replies["default"][1].inspection.sampling)
    greedy = reshape(choice, Shaping(0.0, own.top_k, own.top_p, own.min_p))
    assert greedy.survivors == 1 and greedy.probs.max() == 1.0
    top2 = reshape(choice, Shaping(1.0, 2, 1.0, 0.0))
    assert top2.survivors == 2 and np.count_nonzero(top2.probs) == 2
    assert top2.probs.sum() == pytest.approx(1.0, abs=1e-6)
    hot, cold = (reshape(choice, Shaping(t, 40, 1.0, 0.0)) for t in (2.0, 0.5))
    assert hot.probs.max() < cold.probs.max()


def test_the_recorder_refuses_a_bad_size() -> None:
    for wrong in (-1, 101, True, 2.5):
        with pytest.raises(ValueError, match="between 0 and 100"):
            ChoiceRecorder(wrong)  # type: ignore[arg-type]
