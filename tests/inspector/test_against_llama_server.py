"""The inspector's probabilities against llama.cpp's own: a real `llama-server` (built from the
vendored sources by tests/perf/build_llama_tools.sh) on 127.0.0.1, on the starter model.

- Raw: a greedy reply's tokens and their top-20 probabilities equal `/completion` with
  `n_probs` (the softmax over the whole vocabulary, tools/server `get_token_probabilities`),
  to 1e-4. llama-server sums the 262k exponentials one by one in float32, which moves every
  log-probability of a step by the same ~2e-4 (its normalizer's rounding): the probabilities
  agree to 1e-4, and the log-probabilities relative to the step's top one to 1e-5.
- Post-sampling: at each position of a sampled reply, the distribution the draw was made from
  equals `/completion` with `post_sampling_probs` (the candidates' `p` after the whole chain,
  `common_sampler_get_candidates`), asked one position at a time (n_predict 1, the prompt plus
  the tokens drawn so far) with the server's chain set to ours: penalties (last 64, every
  prompt token seen), top-k, top-p, min-p, temperature, then the draw. The server keeps the
  prompt evaluated so far (`cache_prompt`) and so evaluates each drawn token alone, as Parley's
  reply did: a token evaluated inside a longer batch rounds differently (up to ~0.01 in a
  probability on an AVX-512 CPU).

The server runs with `--swa-full`: Parley's context keeps a full-size cache for Gemma 3's
sliding-window layers, and the cache's size changes the attention kernel's blocking, so the
logits differ by up to ~0.1 without it.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inference.engine.engine import Engine
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import REPEAT_LAST_N, SamplingParams
from inference.inspector.choice import Inspection
from tests.support.llama_server import start_llama_server

PROMPT = "The history of the city of Rome"
CHAIN = ["penalties", "top_k", "top_p", "min_p", "temperature"]
REQUEST_S = 60


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=REQUEST_S) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    running = start_llama_server(starter_model_path, log, "--swa-full")
    try:
        yield running.base
    finally:
        running.stop()


def _inspected(engine: Engine, sampling: SamplingParams) -> Inspection:
    request = GenerationRequest(Mode.TEXT, text=PROMPT, sampling=sampling, inspect_top=20)
    finished = next(e for e in engine.generate(request) if isinstance(e, Finished))
    assert finished.inspection is not None
    return finished.inspection


def _server_settings(s: SamplingParams) -> dict[str, Any]:
    return {"samplers": CHAIN, "temperature": s.temperature, "top_k": s.top_k,
            "top_p": s.top_p, "min_p": s.min_p, "repeat_penalty": s.repeat_penalty,
            "repeat_last_n": REPEAT_LAST_N, "presence_penalty": s.presence_penalty,
            "frequency_penalty": s.frequency_penalty, "min_keep": 1, "typical_p": 1.0,
            "dry_multiplier": 0.0, "xtc_probability": 0.0, "top_n_sigma": -1.0,
            "cache_prompt": False}


def test_raw_probabilities_of_a_greedy_reply_equal_llama_servers(
        engine: Engine, server: str) -> None:
    sampling = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=8)
    inspection = _inspected(engine, sampling)
    prompt = engine.tokenize(PROMPT)
    reply = _post(f"{server}/completion", {"prompt": prompt, "n_predict": 8, "n_probs": 20,
                                          **_server_settings(sampling)})
    theirs = reply["completion_probabilities"]
    assert [t["id"] for t in theirs] == [c.token for c in inspection.choices]
    for choice, their in zip(inspection.choices, theirs, strict=True):
        ours = dict(zip(choice.ids.tolist(), choice.raw_logprob.tolist(), strict=True))
        assert math.exp(their["logprob"]) == pytest.approx(math.exp(choice.logprob), abs=1e-4)
        top = their["top_logprobs"]
        assert len(top) == 20 and {t["id"] for t in top} <= set(ours)
        first = top[0]["logprob"] - ours[top[0]["id"]]
        for alt in top:
            assert math.exp(alt["logprob"]) == pytest.approx(math.exp(ours[alt["id"]]), abs=1e-4)
            assert alt["logprob"] - ours[alt["id"]] == pytest.approx(first, abs=1e-5)


def test_post_sampling_probabilities_equal_llama_servers(engine: Engine, server: str) -> None:
    sampling = SamplingParams(seed=11, max_tokens=6)          # the default chain, penalties on
    inspection = _inspected(engine, sampling)
    prompt = engine.tokenize(PROMPT)
    drawn = [c.token for c in inspection.choices]
    for i, choice in enumerate(inspection.choices):
        reply = _post(f"{server}/completion", {
            "prompt": prompt + drawn[:i], "n_predict": 1, "n_probs": 20,
            "post_sampling_probs": True, "seed": 1, **_server_settings(sampling),
            "cache_prompt": i > 0})         # the prompt in one batch, then a token at a time
        assert reply["timings"]["prompt_n"] == (len(prompt) if i == 0 else 1)
        top = reply["completion_probabilities"][0]["top_probs"]
        ours = dict(zip(choice.ids.tolist(), choice.final_probs.tolist(), strict=True))
        assert top and {t["id"] for t in top} <= set(ours)
        for alt in top:
            assert alt["prob"] == pytest.approx(ours[alt["id"]], abs=1e-4)
        survivors = int(choice.survivors[-1])
        assert len(top) == min(20, survivors)
        assert ours[choice.token] > 0                          # drawn among the survivors
