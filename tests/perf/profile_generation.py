"""Where one generated token's time goes in Parley's generation loop, beyond llama_decode.

Runs the in-process Engine (the code the engine process runs) on a chat turn and times each step
of `Engine._decode_loop` by wrapping the functions it calls: llama_decode (inside
NativeContext.decode), the native sampler chain, token → bytes, the stop-string stream, the stats
clock. "loop rest" is the loop's own Python (the generator, event objects, checks).

    .venv/bin/python tests/perf/profile_generation.py [--model starter] [-n 256] [-t 2] [--turns 3]

For a sampling profile of the same run: py-spy record --native -r 2000 -f raw -o out.txt --
.venv/bin/python tests/perf/profile_generation.py
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402

from inference.engine import engine as engine_mod  # noqa: E402
from inference.engine import metrics, streaming  # noqa: E402
from inference.engine.config import ModelConfig  # noqa: E402
from inference.engine.events import Finished, TokenEvent  # noqa: E402
from inference.engine.requests import GenerationRequest, Message  # noqa: E402
from inference.engine.sampling import SamplingParams  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402
from inference.llama import native, sampler  # noqa: E402

TOTALS: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return fn(*args, **kwargs)
        finally:
            TOTALS[name] += time.perf_counter_ns() - start
            COUNTS[name] += 1
    return wrapper


def instrument() -> None:
    """Wrap what the decode loop calls (the module attributes, so every caller sees them)."""
    llama_cpp.llama_decode = timed("llama_decode (native)", llama_cpp.llama_decode)
    native.NativeContext.decode = timed("NativeContext.decode (total)",
                                        native.NativeContext.decode)
    llama_cpp.llama_sampler_sample = timed("llama_sampler_sample (native)",
                                           llama_cpp.llama_sampler_sample)
    native.NativeModel.piece = timed("NativeModel.piece", native.NativeModel.piece)
    native.NativeModel.is_eog = timed("NativeModel.is_eog", native.NativeModel.is_eog)
    streaming.ReplyStream.feed = timed("ReplyStream.feed", streaming.ReplyStream.feed)
    metrics.StatsClock.token = timed("StatsClock.token", metrics.StatsClock.token)
    metrics.StatsClock.snapshot = timed("StatsClock.snapshot", metrics.StatsClock.snapshot)
    sampler.SamplerChain.sample = timed("SamplerChain.sample (total)", sampler.SamplerChain.sample)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter")
    parser.add_argument("-n", "--n-gen", type=int, default=256)
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--no-instrument", action="store_true", help="for py-spy runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    if not args.no_instrument:
        instrument()
    eng = engine_mod.Engine()
    eng.load(ModelConfig(resolve_model(args.model), n_ctx=4096, n_threads=args.threads))
    loop_ns = 0
    tokens = 0
    for turn in range(args.turns + 1):
        request = GenerationRequest(
            messages=(Message("user", f"Story {turn}: write a very long story about a "
                                      "lighthouse keeper and a storm, in many chapters."),),
            sampling=SamplingParams(seed=turn, max_tokens=args.n_gen))
        if turn == 1:                      # turn 0 warms up
            TOTALS.clear()
            COUNTS.clear()
        first = last = 0
        for event in eng.generate(request):
            now = time.perf_counter_ns()
            if isinstance(event, Finished):
                if turn:
                    loop_ns += last - first
                    tokens += event.stats.output_tokens - 1
                if not args.json:
                    print(f"turn {turn}: {event.stats.summary()}", flush=True)
            elif isinstance(event, TokenEvent):
                first = first or now
                last = now
    eng.close()
    if args.no_instrument or not tokens:
        return 0
    per = loop_ns / tokens / 1000
    if args.json:
        steps = {name: TOTALS[name] / tokens / 1000 for name in TOTALS}
        print(json.dumps({"threads": args.threads, "tokens": tokens, "us_per_token": per,
                          "steps_us_per_token": steps}))
        return 0
    print(f"\n{tokens} tokens after the first; {per:.1f} µs per token between events\n")
    print(f"{'step':34}{'calls':>8}{'µs/token':>11}{'share':>8}")
    for name in sorted(TOTALS, key=TOTALS.get, reverse=True):
        us = TOTALS[name] / tokens / 1000
        print(f"{name:34}{COUNTS[name]:8d}{us:11.1f}{us / per:8.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
