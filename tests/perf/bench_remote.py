"""The cost of Parley's remote path: `parley generate --remote` against llama-server, vs the same
llama-server measured by a bare streaming client, side by side in one run.

Starts llama-server (tests/perf/build_llama_tools.sh builds it from the llama.cpp sources vendored
in llama-cpp-python) on 127.0.0.1 with the model and two slots, then in each round runs at once:

    A: a bare client: httpx2 streams POST /v1/completions, stamps each SSE chunk, nothing else
    B: parley generate --remote URL --mode text --prompt P --max-tokens N --temperature 0 --json

B is started first; A the moment the server has taken B's request. The two replies are decoded in
the same llama.cpp batches, so the tokens come at the same pace to both and what differs is the
client (on a busy machine a sequential A-then-B run measures the machine's mood, not Parley).
Each side has a few tokens alone — B at its start, A at its end — which balance. Generation speed
is measured on the client the same way for both (docs/ARCHITECTURE.md § Figures: (output tokens
− 1) ÷ (last token − first token)). The ratio is B ÷ A per round; the table shows the median and
the spread. Goal: ≥ 0.97.

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
from tests.support.llama_server import start_llama_server  # noqa: E402

BEGIN, END = "<!-- bench_remote -->", "<!-- /bench_remote -->"
PROMPT = "Here is a long story about a lighthouse keeper and the ships she saw:"


def bare_client(base: str, n_gen: int) -> dict[str, float]:
    """llama-server's streaming speed as a minimal client sees it (side A)."""
    body = {"model": "starter", "prompt": PROMPT, "max_tokens": n_gen, "temperature": 0.0,
            "repeat_penalty": 1.0, "stream": True, "stream_options": {"include_usage": True}}
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


def both_at_once(base: str, n_gen: int) -> dict[str, dict[str, float]]:
    """B (`parley generate --remote`, a process of its own) and, once the server has taken
    its request, A in this process: the same request twice, decoded side by side."""
    cmd = [sys.executable, "-m", "inference.cli", "generate", "--remote", base, "--model",
           "starter", "--mode", "text", "--prompt", PROMPT, "--max-tokens", str(n_gen),
           "--temperature", "0", "--repeat-penalty", "1", "--json"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not any(slot.get("is_processing") for slot in
                  httpx2.get(f"{base}/slots", timeout=30).json()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"parley generate --remote did not start:\n"
                             f"{proc.communicate()[1][-3000:]}")
        time.sleep(0.01)
    bare = bare_client(base, n_gen)
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"parley generate --remote failed:\n{err[-3000:]}")
    stats = json.loads(out)["stats"]
    return {"bare": bare, "parley": {"gen_tps": stats["gen_tps"], "ttft_s": stats["ttft_s"],
                                     "tokens": stats["output_tokens"]}}


def render(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> str:
    ratios = [r["parley"]["gen_tps"] / r["bare"]["gen_tps"] for r in rounds]

    def med(side: str, key: str) -> float:
        return statistics.median(r[side][key] for r in rounds)

    return "\n".join([
        BEGIN,
        "## A remote engine's overhead (`parley generate --remote`)",
        "",
        f"llama-server on {args.model.name} on 127.0.0.1 ({args.threads} threads, two "
        f"slots), the same greedy text-mode request of {args.n_gen} tokens from both sides at "
        f"once (decoded in the same batches), {args.rounds} rounds. A: a bare httpx2 client "
        "streaming /v1/completions; B: `parley generate --remote` (its own process; "
        "RemoteEngine: SSE, text stream, figures). Generation speed measured on each client, "
        "median over rounds; ratio = B ÷ A, median (min – max). "
        f"Goal: ≥ 0.97. Load average when it began: {args.load:.1f} (on "
        f"{os.cpu_count()} cores). TTFT is not comparable here: A starts once B's prompt is "
        "being evaluated.",
        "",
        "| | A: bare client | B: parley --remote | llama-server's own (A) |",
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
                                threads=args.threads, slots=2)
    rounds = []
    try:
        bare_client(server.base, 8)                       # warm up the server once
        for i in range(args.rounds):
            result = both_at_once(server.base, args.n_gen)
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
