"""The token inspector's cost: generation tokens/s with it off and on (N = 20), in one run.

    .venv/bin/python tests/perf/bench_inspector.py [--model starter] [-t 2] [-n 128]
        [--rounds 4] [--memory-tokens 1000] [--section docs/PERFORMANCE.md]

One in-process `Engine` generates the same Text-mode reply (fixed seed, so the same tokens both
ways: recording changes no draw) with the inspector off and on, alternately — off on, then on
off — so drift in the machine's load hits both alike, once with the default sampler chain
(penalties, top-k 40, top-p, min-p, temperature) and once greedy. The figure is each round's
on ÷ off generation tokens/s (`gen_tps`, docs/ARCHITECTURE.md § Figures); the table shows the
median and the spread over rounds, and the cost per token in milliseconds. Goal: on ≥ 0.97 of
off (≤ 3 %) at N = 20. A last reply of `--memory-tokens` tokens measures what the records hold
(`Inspection.nbytes`) and their stored size (inference.inspector.codec).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parallel import put_section  # noqa: E402
from perf_report import machine_description  # noqa: E402

from inference.engine.config import ModelConfig  # noqa: E402
from inference.engine.engine import Engine  # noqa: E402
from inference.engine.events import Finished  # noqa: E402
from inference.engine.requests import GenerationRequest, Mode  # noqa: E402
from inference.engine.sampling import REPEAT_LAST_N, SamplingParams  # noqa: E402
from inference.inspector.codec import encode  # noqa: E402
from inference.inspector.recorder import ChoiceRecorder  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402
from inference.llama.native import NativeContext, NativeModel  # noqa: E402
from inference.llama.sampler import SamplerChain  # noqa: E402

BEGIN, END = "<!-- bench_inspector -->", "<!-- /bench_inspector -->"
PROMPT = "Chapter One\n\nThe morning the letter came, "
CHAINS = {"default chain": {}, "greedy": {"temperature": 0.0}}
GOAL = 0.97


def generate(engine: Engine, n: int, top: int | None, **sampling: object) -> Finished:
    request = GenerationRequest(Mode.TEXT, text=PROMPT, inspect_top=top, sampling=SamplingParams(
        seed=1234, max_tokens=n, **sampling))
    return next(e for e in engine.generate(request) if isinstance(e, Finished))


def sampler_ms(model_path: Path, threads: int, top: int, samples: int,
               sampling: dict[str, object]) -> tuple[float, float]:
    """Milliseconds one sample takes off and on, on the same logits row (the sampler alone,
    so the machine's other load moves it less); the best of 3 runs each."""
    import time

    model = NativeModel(model_path)
    ctx = NativeContext(model, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=threads)
    try:
        tokens = model.tokenize(PROMPT, add_special=True)
        assert ctx.decode(tokens, 0) == 0
        params = SamplingParams(seed=1, **sampling)  # type: ignore[arg-type]
        best = {False: float("inf"), True: float("inf")}
        for _ in range(3):
            for on in (False, True):
                chain = SamplerChain(model, params, repeat_last_n=REPEAT_LAST_N)
                chain.accept_prompt(tokens)
                recorder = ChoiceRecorder(top)
                started = time.perf_counter()
                for _ in range(samples):
                    if on:
                        chain.sample_observed(ctx, recorder)
                    else:
                        chain.sample(ctx)
                best[on] = min(best[on], (time.perf_counter() - started) / samples * 1000)
                chain.close()
        return best[False], best[True]
    finally:
        ctx.close()
        model.close()


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _machine() -> str:
    m = machine_description()
    return f"{m['cpu']} ({m['cores']}), {m['ram']}, Python {m['python']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("--top", type=int, default=20, help="candidates kept per token")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--memory-tokens", type=int, default=1000)
    parser.add_argument("--section", type=Path, default=None,
                        help="put the table into this Markdown file's own section")
    args = parser.parse_args()
    model_path = resolve_model(args.model)
    alone = {name: sampler_ms(model_path, args.threads, args.top, 200, sampling)
             for name, sampling in CHAINS.items()}
    engine = Engine()
    engine.load(ModelConfig(model_path, n_ctx=2048, n_threads=args.threads))
    ratios: dict[str, list[float]] = {name: [] for name in CHAINS}
    speeds: dict[str, list[tuple[float, float]]] = {name: [] for name in CHAINS}
    generate(engine, 16, None)                                    # warm up
    for i in range(args.rounds):
        for name, sampling in CHAINS.items():
            order = (None, args.top) if i % 2 == 0 else (args.top, None)
            tps = {top: generate(engine, args.n_gen, top, **sampling).stats.gen_tps
                   for top in order}
            off, on = tps[None], tps[args.top]
            ratios[name].append(on / off)
            speeds[name].append((off, on))
            print(f"round {i + 1} {name}: off {off:.1f} tok/s, on {on:.1f} tok/s, "
                  f"ratio {on / off:.3f}", flush=True)
    long = generate(engine, args.memory_tokens, args.top)
    inspection = long.inspection
    assert inspection is not None
    n = len(inspection.choices)
    held, stored = inspection.nbytes(), len(encode(inspection))
    engine.close()
    lines = [BEGIN, "## Token inspector (`tests/perf/bench_inspector.py`)", "",
             f"{_machine()}; {args.threads} threads, {args.n_gen} tokens a reply, "
             f"N = {args.top} candidates, {args.rounds} rounds (off/on alternated). Goal: on "
             f"÷ off ≥ {GOAL} (≤ 3 % of tokens/s). Load average at the end: {_load()} on "
             f"{os.cpu_count()} logical cores.", "",
             "| chain | off tok/s | on tok/s | on ÷ off (median) | spread | sampler off / on "
             "(ms a token) | on ÷ off from the sampler's cost |",
             "|---|---|---|---|---|---|---|"]
    for name in CHAINS:
        med = statistics.median(ratios[name])
        off_ms, on_ms = alone[name]
        best_token_ms = 1000 / max(s[0] for s in speeds[name])
        derived = best_token_ms / (best_token_ms + on_ms - off_ms)
        lines.append(
            f"| {name} | {statistics.median(s[0] for s in speeds[name]):.1f} | "
            f"{statistics.median(s[1] for s in speeds[name]):.1f} | {med:.3f} "
            f"{'✓' if med >= GOAL else '✗'} | {min(ratios[name]):.3f}–{max(ratios[name]):.3f} | "
            f"{off_ms:.2f} / {on_ms:.2f} | {derived:.3f} {'✓' if derived >= GOAL else '✗'} |")
    lines += ["", "The last column adds the sampler's extra time per token (measured alone, "
              "200 samples on one logits row, best of 3) to the fastest token time of the "
              "off runs: the figure the machine's other load moves least."]
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        lines += ["", "**Measured on a loaded machine** (load average above the number of "
                  "cores): every figure here is slowed by other work and the ✓ / ✗ marks are "
                  "not evidence either way; run `make bench` again on a quiet machine."]
    lines += ["", f"Memory: a reply of {n} tokens at N = {args.top} holds {held / 1e6:.2f} MB of "
              f"records ({held / n:.0f} B a token) and stores {stored / 1e6:.2f} MB "
              f"({stored / n:.0f} B a token).", END, ""]
    table = "\n".join(lines)
    print(table)
    if args.section:
        put_section(args.section, table, BEGIN, END)
        print(f"updated {args.section}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
