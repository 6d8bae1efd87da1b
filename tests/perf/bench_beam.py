"""Beam search tokens/s at W = 1, 2, 4, 8 (every live beam's token counted) against
single-sequence greedy, with llama.cpp's `llama-batched-bench` at the same number of sequences
beside it (W sequences, one token each per decode: the ceiling of a W-beam step).

Per round, in one process on one loaded model (alternating the order each round):

    greedy: Engine.generate, text mode, temperature 0, P prompt tokens, N new tokens:
            1 ÷ TPOT (docs/ARCHITECTURE.md § Figures)
    beam W: BeamSearch (inference/beam) over the same prompt, N steps, no early end:
            beam tokens decoded ÷ (last step − first step)
    llama-batched-bench -npp P -ntg N -npl 1,2,4,8: S_TG

    .venv/bin/python tests/perf/bench_beam.py [--model starter] [-t 2] [-p 64] [-n 48]
        [--widths 1,2,4,8] [--rounds 2] [--section docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_parallel import build_tools, llama_side, put_section  # noqa: E402

from inference.beam.hypotheses import BeamSettings  # noqa: E402
from inference.beam.search import BeamSearch, open_beam_context  # noqa: E402
from inference.common.cancel import CancelToken  # noqa: E402
from inference.engine.config import ModelConfig, default_threads  # noqa: E402
from inference.engine.engine import Engine, open_session  # noqa: E402
from inference.engine.events import Finished  # noqa: E402
from inference.engine.requests import GenerationRequest, Mode  # noqa: E402
from inference.engine.sampling import SamplingParams  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402

BEGIN, END = "<!-- bench_beam -->", "<!-- /bench_beam -->"
TEXT = ("The history of the printing press begins in the fifteenth century, when movable type "
        "changed how books were made, sold and read across Europe. ")


class NoStops:
    """A beam text with no stop strings: the bench's beams run to N tokens."""

    def feed(self, token: int) -> bool:
        return False

    def copy(self) -> NoStops:
        return self


def prompt_text(engine: Engine, n_tokens: int) -> str:
    """Words of TEXT, repeated, until they make about `n_tokens` tokens."""
    words, text = (TEXT * (n_tokens // 8 + 1)).split(" "), ""
    for word in words:
        if len(engine.tokenize(text + word)) > n_tokens:
            break
        text += word + " "
    return text.rstrip()


def greedy_tps(engine: Engine, text: str, n_gen: int) -> float:
    request = GenerationRequest(Mode.TEXT, text=text, sampling=SamplingParams(
        temperature=0.0, repeat_penalty=1.0, max_tokens=n_gen))
    fin = [e for e in engine.generate(request) if isinstance(e, Finished)][-1]
    assert fin.stats.gen_tps, "greedy made fewer than 2 tokens"
    return fin.stats.gen_tps


def beam_tps(session, prompt: list[int], width: int, n_gen: int, threads: int) -> float:
    ctx = open_beam_context(session.model, width=width, cells=len(prompt) + width * n_gen + 1,
                            n_batch=2048, n_ubatch=512, n_threads=threads)
    stamps: list[float] = []
    try:
        # early_stopping "never" with no length penalty: no beam search ends before N steps
        # unless every beam met an end-of-text token
        settings = BeamSettings(width, 0.0, "never")
        outcome = BeamSearch(ctx, settings, n_gen, NoStops, CancelToken(),
                             lambda: stamps.append(time.perf_counter())).run(prompt)
    finally:
        ctx.close()
    return outcome.tokens_decoded / (stamps[-1] - stamps[0])


def render(args: argparse.Namespace, rounds: list[dict], widths: list[int]) -> str:
    med = statistics.median
    greedy = med(r["greedy"] for r in rounds)
    lines = [BEGIN, "## Beam search (`parley generate --beams W`)", "",
             f"Beam search tokens/s (every live beam's token counted) against single-sequence "
             f"greedy and llama-batched-bench's S_TG with W sequences; {len(rounds)} rounds, "
             f"medians; {args.threads} threads, prompt {args.n_prompt} tokens, {args.n_gen} "
             f"new tokens, starter model, CPU. Greedy: {greedy:.1f} tok/s.", "",
             "| W | beam tok/s | ÷ greedy | llama-batched-bench S_TG | beam ÷ S_TG |",
             "|---|---|---|---|---|"]
    for w in widths:
        beam = med(r["beam"][w] for r in rounds)
        tg = med(r["llama"][w]["s_tg"] for r in rounds)
        lines.append(f"| {w} | {beam:.1f} | {beam / greedy:.2f} | {tg:.1f} | {beam / tg:.2f} |")
    lines += ["", "A step costs one decode of W tokens plus the log-softmax of W rows over the "
              "whole vocabulary (262,144 entries for the starter) and the choice of 2W "
              "candidates in numpy; W = 1 against greedy shows that bookkeeping alone.", END]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-p", "--n-prompt", type=int, default=64)
    parser.add_argument("-n", "--n-gen", type=int, default=48)
    parser.add_argument("--widths", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--section", type=Path, default=None,
                        help="put the table into this Markdown file's own section")
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    args.threads = args.threads or default_threads()
    widths = [int(w) for w in args.widths.split(",")]
    config = ModelConfig(args.model, n_ctx=2048, n_threads=args.threads)
    engine = Engine()
    engine.load(config)
    session = open_session(config)
    text = prompt_text(engine, args.n_prompt)
    prompt = session.model.tokenize(text)            # the greedy run's prompt too
    args.n_prompt = len(prompt)
    binary = build_tools() / "llama-batched-bench"
    args.npl = args.widths
    llama_ctx = max(widths) * (args.n_prompt + args.n_gen)   # W prompts of its own each
    rounds = []
    try:
        for i in range(args.rounds):
            print(f"-- round {i + 1}/{args.rounds}", flush=True)
            llama = llama_side(binary, args, llama_ctx) if i % 2 else None
            greedy = greedy_tps(engine, text, args.n_gen)
            beam = {w: beam_tps(session, prompt, w, args.n_gen, args.threads) for w in widths}
            if llama is None:
                llama = llama_side(binary, args, llama_ctx)
            rounds.append({"greedy": greedy, "beam": beam, "llama": llama})
            print(f"   greedy {greedy:.1f} tok/s; beams " + ", ".join(
                f"W={w} {beam[w]:.1f}" for w in widths), flush=True)
    finally:
        session.close()
        engine.close()
    table = render(args, rounds, widths)
    print(table)
    if args.section:
        put_section(args.section, table, BEGIN, END)
        print(f"updated {args.section}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
