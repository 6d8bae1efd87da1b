"""Memory the inspector holds: 1,000 tokens at N = 20 stay under the bound docs/ARCHITECTURE.md
states (5 MB), measured with tracemalloc over 1,000 real samples of the real chain (the same
logits row each time, so no decode is needed between them; the penalties see every draw)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from inference.engine.sampling import REPEAT_LAST_N, SamplingParams
from inference.inspector.choice import Inspection
from inference.inspector.recorder import ChoiceRecorder
from inference.llama.native import NativeContext, NativeModel
from inference.llama.sampler import SamplerChain

BOUND = 5_000_000                    # bytes for 1,000 tokens at N = 20
TOKENS = 1000


def test_a_thousand_tokens_at_n20_stay_under_the_bound(starter_model_path: Path) -> None:
    model = NativeModel(starter_model_path)
    ctx = NativeContext(model, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2)
    chain = SamplerChain(model, SamplingParams(seed=1), repeat_last_n=REPEAT_LAST_N)
    try:
        tokens = model.tokenize("It was a dark and stormy night;", add_special=True)
        assert ctx.decode(tokens, 0) == 0
        chain.accept_prompt(tokens)
        recorder = ChoiceRecorder(20)
        inspection = Inspection(20, SamplingParams(seed=1).to_dict())
        chain.sample_observed(ctx, recorder)              # buffers allocated before measuring
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(TOKENS):
            token = chain.sample_observed(ctx, recorder)
            assert recorder.last is not None and recorder.last.token == token
            inspection.add(recorder.last, b"x")
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert len(inspection.choices) == TOKENS
        assert inspection.nbytes() < held < BOUND, (inspection.nbytes(), held)
        print(f"1,000 tokens at N = 20: {held / 1e6:.2f} MB held "
              f"({inspection.nbytes() / 1e6:.2f} MB in arrays)")
    finally:
        chain.close()
        ctx.close()
        model.close()
