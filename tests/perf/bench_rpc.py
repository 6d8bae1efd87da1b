"""What llama.cpp RPC costs on one machine: `parley bench` all-local against the same model with
its layers on two `rpc-server` processes on 127.0.0.1, side by side in one run.

    A: parley bench MODEL -p P -n N -r R -t T --no-chat --json
    B: parley bench MODEL -p P -n N -r R -t T --no-chat --json --gpu-layers -1 --rpc S1,S2

alternately, A B in odd rounds and B A in even ones. The rpc-servers (tests/perf/
build_llama_tools.sh builds them from the llama.cpp in llama-cpp-python) run on the same CPU with
T threads each, so B pays the serialisation and the loopback network and nothing is gained: this
is the network cost, reported, not a target. On real machines the point of RPC is memory: a
model that fits on no single one.

    .venv/bin/python tests/perf/bench_rpc.py [--model starter] [-t 2] [-p 128] [-n 32]
        [-r 2] [--rounds 2] [--out FILE] [--section docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parallel import build_tools, put_section, run  # noqa: E402

from inference.engine.config import default_threads  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402
from tests.support.rpc_servers import running_rpc_servers  # noqa: E402

BEGIN, END = "<!-- bench_rpc -->", "<!-- /bench_rpc -->"


def parley_bench(args: argparse.Namespace, rpc: list[str]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "inference.cli", "bench", str(args.model), "-p",
           str(args.n_prompt), "-n", str(args.n_gen), "-r", str(args.reps), "-t",
           str(args.threads), "--no-chat", "--json"]
    if rpc:
        cmd += ["--gpu-layers", "-1", "--rpc", ",".join(rpc)]
    data = json.loads(run(cmd))
    return {"pp": data["pp_tps"], "tg": data["tg_tps"]}


def render(args: argparse.Namespace, rounds: list[dict[str, Any]], load: tuple[float, float]
           ) -> str:
    def med(side: str, fig: str) -> float:
        return statistics.median(r[side][fig] for r in rounds)

    def ratio(fig: str) -> str:
        values = [r["rpc"][fig] / r["local"][fig] for r in rounds]
        return f"{statistics.median(values):.3f} ({min(values):.3f} – {max(values):.3f})"

    return "\n".join([
        BEGIN, "## Several machines on one (`--rpc`, llama.cpp RPC)", "",
        f"`parley bench` all-local (A) and with every layer on two `rpc-server` processes on "
        f"127.0.0.1 (B: `--gpu-layers -1 --rpc …`), {len(rounds)} rounds alternating A B / B A; "
        f"{args.threads} threads here and {args.threads} in each rpc-server, PP {args.n_prompt}, "
        f"TG {args.n_gen}, {args.reps} repetitions. Figures in tokens/s (median over rounds); "
        f"ratio = RPC ÷ local, median (min – max). This is the cost of the RPC path on one "
        f"machine (serialisation, loopback, the servers sharing the CPU), reported, not a "
        f"target: on several machines RPC is for a model that fits on none of them alone. "
        f"1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end, on "
        f"{os.cpu_count()} CPUs (above that count the figures are mostly other work's).", "",
        "| test | local | RPC (2 servers) | ratio |", "|---|---|---|---|",
        f"| pp{args.n_prompt} | {med('local', 'pp'):.1f} | {med('rpc', 'pp'):.1f} | "
        f"{ratio('pp')} |",
        f"| tg{args.n_gen} | {med('local', 'tg'):.1f} | {med('rpc', 'tg'):.1f} | "
        f"{ratio('tg')} |",
        END]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-p", "--n-prompt", type=int, default=128)
    parser.add_argument("-n", "--n-gen", type=int, default=32)
    parser.add_argument("-r", "--reps", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "perf" / "_build" /
                        "bench_rpc.md", help="the table (Markdown)")
    parser.add_argument("--section", type=Path, default=None,
                        help="also put the table into this Markdown file's own section")
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    args.threads = args.threads or default_threads()
    build_tools()                                   # rpc-server, built once and cached
    rounds = []
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as logs, \
            running_rpc_servers(2, Path(logs), threads=args.threads) as servers:
        endpoints = [s.endpoint for s in servers]
        for i in range(args.rounds):
            print(f"-- round {i + 1}/{args.rounds}", flush=True)
            if i % 2 == 0:
                local, rpc = parley_bench(args, []), parley_bench(args, endpoints)
            else:
                rpc, local = parley_bench(args, endpoints), parley_bench(args, [])
            rounds.append({"local": local, "rpc": rpc})
            print(f"   tg: {rpc['tg']:.1f} / {local['tg']:.1f} tok/s", flush=True)
    table = render(args, rounds, (load_start, os.getloadavg()[0]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    print(table)
    if args.section:
        put_section(args.section, table, BEGIN, END)
        print(f"updated {args.section}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
