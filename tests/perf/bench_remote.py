"""The cost of Parley's remote path: `parley generate --remote` against llama-server, vs the same
llama-server measured by a bare streaming client, side by side in one run.

Starts llama-server (tests/perf/build_llama_tools.sh builds it from the llama.cpp sources vendored
in llama-cpp-python) on 127.0.0.1 with the model, then, alternating A B / B A by round:

    A: a bare client: httpx2 streams POST /v1/completions, stamps each SSE chunk, nothing else
    B: parley generate --remote URL --mode text --prompt P --max-tokens N --temperature 0 --json

Both send the same greedy request; generation speed is measured on the client the same way
(docs/ARCHITECTURE.md § Figures: (output tokens − 1) ÷ (last token − first token)). The ratio is
B ÷ A per round; the table shows the median and the spread. Goal: ≥ 0.97. llama-server's own
`timings.predicted_per_second` is shown beside them.

    .venv/bin/python tests/perf/bench_remote.py [--model starter] [-t 2] [-n 128] [--rounds 6]
        [--out FILE] [--section docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.library.starter import resolve_model  # noqa: E402
from tests.perf.bench_parallel import put_section as put_marked  # noqa: E402
from tests.remote.llama_server import start_llama_server  # noqa: E402

BEGIN, END = "<!-- bench_remote -->", "<!-- /bench_remote -->"
PROMPT = "Here is a long story about a lighthouse keeper and the ships she saw:"


def bare_client(base: str, n_gen: int) -> dict[str, float]:
    """llama-server's streaming speed as a minimal client sees it (side A)."""
    body = {"model": "starter", "prompt": PROMPT, "max_tokens": n_gen, "temperature": 0.0,
            "stream": True, "stream_options": {"include_usage": True}}
    stamps: list[float] = []
    server_tps = 0.0
    t0 = time.perf_counter()
    with httpx2.Client(timeout=120) as client, client.stream(
            "POST", f"{base}/v1/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            choices = event.get("choices") or []
            if choices and choices[0].get("text"):
                stamps.append(time.perf_counter())
            timings = event.get("timings")
            if isinstance(timings, dict):
                server_tps = float(timings.get("predicted_per_second") or server_tps)
    n = len(stamps)
    return {"gen_tps": (n - 1) / (stamps[-1] - stamps[0]), "ttft_s": stamps[0] - t0,
            "tokens": n, "server_tps": server_tps}


def parley_side(base: str, n_gen: int) -> dict[str, float]:
    """The same request through `parley generate --remote` (side B)."""
    cmd = [sys.executable, "-m", "inference.cli", "generate", "--remote", base, "--model",
           "starter", "--mode", "text", "--prompt", PROMPT, "--max-tokens", str(n_gen),
           "--temperature", "0", "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"parley generate --remote failed:\n{proc.stderr[-3000:]}")
    stats = json.loads(proc.stdout)["stats"]
    return {"gen_tps": stats["gen_tps"], "ttft_s": stats["ttft_s"],
            "tokens": stats["output_tokens"]}


def render(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> str:
    ratios = [r["parley"]["gen_tps"] / r["bare"]["gen_tps"] for r in rounds]

    def med(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    return "\n".join([
        BEGIN,
        "## A remote engine's overhead (`parley generate --remote`)",
        "",
        f"llama-server on {args.model.name} on 127.0.0.1 ({args.threads} threads, one slot), "
        f"the same greedy text-mode request of {args.n_gen} tokens, {args.rounds} rounds "
        "alternating A B / B A. A: a bare httpx2 client streaming /v1/completions; B: `parley "
        "generate --remote` (RemoteEngine: SSE, text stream, figures). Generation speed "
        "measured on the client, median over rounds; ratio = B ÷ A, median (min – max). "
        f"Goal: ≥ 0.97. Load average when it began: {args.load:.1f} (on "
        f"{os.cpu_count()} cores); TTFT is the server's prefill above all, and moves with "
        "that load.",
        "",
        "| | A: bare client | B: parley --remote | llama-server's own |",
        "|---|---|---|---|",
        f"| generation, tok/s | {med('bare', 'gen_tps'):.1f} | {med('parley', 'gen_tps'):.1f}"
        f" | {med('bare', 'server_tps'):.1f} |",
        f"| TTFT, ms | {med('bare', 'ttft_s') * 1000:.0f} | {med('parley', 'ttft_s') * 1000:.0f}"
        " | — |",
        f"| tokens | {med('bare', 'tokens'):.0f} | {med('parley', 'tokens'):.0f} | — |",
        "",
        f"Generation speed ratio B ÷ A: **{statistics.median(ratios):.3f}** "
        f"({min(ratios):.3f} – {max(ratios):.3f}).",
        END,
    ]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "perf" / "_build" /
                        "bench_remote.md", help="the table (Markdown)")
    parser.add_argument("--section", type=Path, default=None,
                        help="also put the table into this Markdown file's own section")
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    args.load = os.getloadavg()[0]
    log = Path(tempfile.mkdtemp(prefix="bench-remote-")) / "llama-server.log"
    server = start_llama_server(args.model, log, "--alias", "starter",
                                threads=args.threads)
    rounds = []
    try:
        bare_client(server.base, 8)                       # warm up the server once
        for i in range(args.rounds):
            sides = ("bare", "parley") if i % 2 == 0 else ("parley", "bare")
            result: dict[str, dict[str, float]] = {}
            for side in sides:
                result[side] = (bare_client if side == "bare" else parley_side)(
                    server.base, args.n_gen)
            rounds.append(result)
            print(f"-- round {i + 1}/{args.rounds}: parley {result['parley']['gen_tps']:.1f} "
                  f"/ bare {result['bare']['gen_tps']:.1f} tok/s = "
                  f"{result['parley']['gen_tps'] / result['bare']['gen_tps']:.3f}", flush=True)
    finally:
        server.stop()
    table = render(args, rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    print(table)
    if args.section:
        put_marked(args.section, table, BEGIN, END)
        print(f"updated {args.section}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
