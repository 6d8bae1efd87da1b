"""Check Parley's perplexity against llama.cpp's own `llama-perplexity` on the same text.

Builds llama-perplexity (and llama-bench) from the llama.cpp sources vendored in the installed
llama-cpp-python version (tests/perf/build_llama_tools.sh, cached in tests/perf/_build/), runs it
and `inference.perplexity.measure.compute_perplexity` with the same n_ctx, batch and threads, and
prints
both PPLs, the per-chunk running values and the times. Exit status 0 when the final PPLs agree to
4 significant digits (relative difference < 5e-5), 1 otherwise.

    .venv/bin/python tests/perf/perplexity_reference.py [--model M] [--file F] [--ctx 512] ...
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.common.logs import configure_logging  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402
from inference.llama.native import NativeModel  # noqa: E402
from inference.perplexity.measure import compute_perplexity  # noqa: E402

DEFAULT_FILE = ROOT / "resources" / "samples" / "perplexity_sample.txt"
TOLERANCE = 5e-5
FINAL = re.compile(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)")
RUNNING = re.compile(r"\[(\d+)\]([0-9.]+),")
STAMP = r"^(\d+)\.(\d+)\.(\d+)\.(\d+) . "   # llama.cpp log time: min.s.ms.us
EVAL_START = re.compile(STAMP + "perplexity: tokenizing the input", re.M)
EVAL_END = re.compile(STAMP + "Final estimate", re.M)


@dataclass(frozen=True)
class Measured:
    ppl: float
    se: float
    running: tuple[float, ...]
    eval_seconds: float      # tokenizing + evaluating + scoring (model already loaded)
    wall_seconds: float      # the whole run, model load included


def build_tools() -> Path:
    script = ROOT / "tests" / "perf" / "build_llama_tools.sh"
    out = subprocess.run(["bash", str(script), sys.executable], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def run_llama(binary: Path, args: argparse.Namespace) -> Measured:
    cmd = [str(binary), "-m", str(args.model), "-f", str(args.file), "-c", str(args.ctx),
           "-b", str(args.batch), "-t", str(args.threads), "-ngl", "0"]
    print("$", " ".join(cmd), flush=True)
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - started
    log = proc.stdout
    final = FINAL.search(log)
    if proc.returncode != 0 or final is None:
        sys.stdout.write(log[-4000:])
        raise SystemExit(f"llama-perplexity failed (exit {proc.returncode})")
    running = tuple(float(v) for _, v in RUNNING.findall(log))
    return Measured(float(final.group(1)), float(final.group(2)), running,
                    _stamp(EVAL_END.search(log)) - _stamp(EVAL_START.search(log)), wall)


def _stamp(match: re.Match[str] | None) -> float:
    """Seconds since start from a llama.cpp log timestamp (NaN when the line is missing)."""
    if match is None:
        return float("nan")
    minutes, seconds, ms, us = (int(g) for g in match.groups())
    return minutes * 60 + seconds + ms / 1e3 + us / 1e6


def run_parley(args: argparse.Namespace) -> Measured:
    started = time.perf_counter()
    text = args.file.read_text(encoding="utf-8")
    if text.endswith("\n"):              # llama-perplexity -f drops one trailing newline
        text = text[:-1]
    model = NativeModel(args.model)
    try:
        result = compute_perplexity(model, text, n_ctx=args.ctx, n_batch=args.batch,
                                    mode="chunked", n_threads=args.threads)
    finally:
        model.close()
    wall = time.perf_counter() - started
    print(f"parley: {result.summary()}")
    return Measured(result.ppl, result.ppl_se, result.chunk_ppl, result.seconds, wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter",
                        help="the GGUF to measure ('starter', the default: the starter model)")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_logging()                  # llama.cpp's log to Parley's log file, not the terminal
    args.model = resolve_model(args.model)
    llama = run_llama(build_tools() / "llama-perplexity", args)
    parley = run_parley(args)
    rel = abs(parley.ppl - llama.ppl) / llama.ppl
    print(f"\n{'':10}{'PPL':>12}{'± SE':>12}{'eval s':>10}{'wall s':>10}")
    for name, m in (("llama.cpp", llama), ("parley", parley)):
        print(f"{name:10}{m.ppl:12.4f}{m.se:12.5f}{m.eval_seconds:10.2f}{m.wall_seconds:10.2f}")
    print("running llama.cpp:", ",".join(f"{v:.4f}" for v in llama.running))
    print("running parley:   ", ",".join(f"{v:.4f}" for v in parley.running))
    agree = rel < TOLERANCE and len(llama.running) == len(parley.running)
    print(f"relative difference {rel:.2e}: {'AGREE' if agree else 'DISAGREE'} "
          f"to 4 significant digits ({llama.ppl:.4g} vs {parley.ppl:.4g})")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
