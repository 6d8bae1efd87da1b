"""The inspector's stored form: a real reply's record survives encode → decode exactly, is
compact, and damaged bytes give one clear error."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine.engine import Engine
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.inspector.codec import CodecError, decode, encode
from inference.inspector.whatif import Shaping, reshape

BYTES_PER_TOKEN = 1200               # stored, at N = 20 and the default chain (measured ~0.85 KB)


@pytest.fixture(scope="module")
def inspection(engine: Engine):
    request = GenerationRequest(Mode.TEXT, text="Here is a short story:", inspect_top=20,
                                sampling=SamplingParams(seed=5, max_tokens=32))
    finished = next(e for e in engine.generate(request) if isinstance(e, Finished))
    return finished.inspection


def test_a_reply_survives_encoding_exactly(inspection) -> None:
    back = decode(encode(inspection))
    assert (back.n_top, back.sampling, back.pieces, back.texts) == (
        inspection.n_top, inspection.sampling, inspection.pieces, inspection.texts)
    assert len(back.choices) == len(inspection.choices) == 32
    for a, b in zip(inspection.choices, back.choices, strict=True):
        assert (a.token, a.stages, a.entropy, a.pool_complete, a.pool_cut) == (
            b.token, b.stages, b.entropy, b.pool_complete, b.pool_cut)
        for name in ("ids", "raw_logprob", "stage_probs", "survivors", "pool_ids",
                     "pool_logits"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
    shaping = Shaping.from_sampling(back.sampling)              # what-if stays exact
    for choice in back.choices:
        assert np.array_equal(reshape(choice, shaping).probs, choice.final_probs)


def test_the_stored_form_is_compact(inspection) -> None:
    size = len(encode(inspection))
    assert size < BYTES_PER_TOKEN * len(inspection.choices), size


def test_damaged_bytes_are_one_clear_error(inspection) -> None:
    data = encode(inspection)
    for bad in (b"", data[:20], data[:8] + b"\x00" * 40, b"\x02\x00\x00\x00" + data[4:]):
        with pytest.raises(CodecError, match="inspector data"):
            decode(bad)
