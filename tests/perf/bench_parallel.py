"""Parley's `BatchEngine` against llama.cpp's `llama-batched-bench`, side by side in one run.

Builds (or reuses) llama-batched-bench from the llama.cpp sources vendored in the installed
llama-cpp-python (tests/perf/build_llama_tools.sh), then runs

    A: llama-batched-bench -m MODEL -c N_CTX -b 2048 -ub 512 -npp P -ntg N -npl 1,2,4,8 -t T
    B: parley bench MODEL --parallel 1,2,4,8 -p P -n N -t T --json

alternately, A B in odd rounds and B A in even ones, with the same model, threads, context
(max(B) sequences of P + N tokens, as `parley bench --parallel` sizes it), batch sizes and number
of sequences (llama-batched-bench makes n_seq_max = max(npl), so does Parley). The ratio of each
figure is Parley ÷ llama.cpp per round; the table shows the median ratio and the spread over rounds.
Goal: S_TG ratio ≥ 0.95 at every B.

    .venv/bin/python tests/perf/bench_parallel.py [--model starter] [-t 2] [-p 512] [-n 128]
        [--npl 1,2,4,8] [--rounds 2] [--out FILE] [--section docs/PERFORMANCE.md]

`--section FILE` replaces (or appends) the section between the markers below in FILE, so
`make bench` can put the table into docs/PERFORMANCE.md after run_bench.py has written it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.bench.parallel import ParallelSettings  # noqa: E402
from inference.engine.config import default_threads  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402

BEGIN, END = "<!-- bench_parallel -->", "<!-- /bench_parallel -->"
FIGURES = ("s_pp", "s_tg", "s")


def build_tools() -> Path:
    script = ROOT / "tests" / "perf" / "build_llama_tools.sh"
    out = subprocess.run(["bash", str(script), sys.executable], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def run(cmd: list[str]) -> str:
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{Path(cmd[0]).name} failed (exit {proc.returncode})")
    return proc.stdout


def llama_side(binary: Path, args: argparse.Namespace, n_ctx: int) -> dict[int, dict[str, float]]:
    out = run([str(binary), "-m", str(args.model), "-c", str(n_ctx), "-b", "2048", "-ub", "512",
               "-npp", str(args.n_prompt), "-ntg", str(args.n_gen), "-npl", args.npl,
               "-t", str(args.threads), "-ngl", "0", "--output-format", "jsonl"])
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return {r["pl"]: {"s_pp": r["speed_pp"], "s_tg": r["speed_tg"], "s": r["speed"]}
            for r in rows}


def parley_side(args: argparse.Namespace) -> dict[int, dict[str, float]]:
    out = run([sys.executable, "-m", "inference.cli", "bench", str(args.model),
               "--parallel", args.npl, "-p", str(args.n_prompt), "-n", str(args.n_gen),
               "-t", str(args.threads), "--json"])
    data = json.loads(out)
    return {r["b"]: {f: r[f] for f in FIGURES} for r in data["rows"]}


def render(args: argparse.Namespace, rounds: list[dict[str, Any]], n_ctx: int) -> str:
    lines = [BEGIN, "## Several sequences at once (`parley bench --parallel`)", "",
             f"llama-batched-bench (A) and `parley bench --parallel` (B), {len(rounds)} rounds "
             f"alternating A B / B A; {args.threads} threads, PP {args.n_prompt}, "
             f"TG {args.n_gen}, n_ctx {n_ctx}, n_batch 2048, n_ubatch 512, one context of "
             f"max(B) sequences. Figures in tokens/s (median over rounds); ratio = Parley ÷ "
             f"llama.cpp, median (min – max). Goal: S_TG ratio ≥ 0.95 at every B.", "",
             "| B | llama S_PP | Parley S_PP | llama S_TG | Parley S_TG | S_TG ratio | "
             "S ratio |", "|---|---|---|---|---|---|---|"]
    for b in sorted(rounds[0]["llama"]):
        def med(side: str, fig: str, b: int = b) -> float:
            return statistics.median(r[side][b][fig] for r in rounds)

        def ratios(fig: str, b: int = b) -> list[float]:
            return [r["parley"][b][fig] / r["llama"][b][fig] for r in rounds]

        tg, s = ratios("s_tg"), ratios("s")
        lines.append(
            f"| {b} | {med('llama', 's_pp'):.1f} | {med('parley', 's_pp'):.1f} | "
            f"{med('llama', 's_tg'):.1f} | {med('parley', 's_tg'):.1f} | "
            f"{statistics.median(tg):.3f} ({min(tg):.3f} – {max(tg):.3f}) | "
            f"{statistics.median(s):.3f} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def put_section(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the part of `path` between the markers `begin` and `end` by `section` (which
    holds them), or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-p", "--n-prompt", type=int, default=512)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("--npl", default="1,2,4,8", help="numbers of sequences, as -npl")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "perf" / "_build" /
                        "bench_parallel.md", help="the ratio table (Markdown)")
    parser.add_argument("--section", type=Path, default=None,
                        help="also put the table into this Markdown file's own section")
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    args.threads = args.threads or default_threads()
    batches = tuple(int(b) for b in args.npl.split(","))
    n_ctx = ParallelSettings(args.model, batches=batches, n_prompt=args.n_prompt,
                             n_gen=args.n_gen).n_ctx
    binary = build_tools() / "llama-batched-bench"
    rounds = []
    for i in range(args.rounds):
        print(f"-- round {i + 1}/{args.rounds}", flush=True)
        if i % 2 == 0:
            llama = llama_side(binary, args, n_ctx)
            parley = parley_side(args)
        else:
            parley = parley_side(args)
            llama = llama_side(binary, args, n_ctx)
        rounds.append({"llama": llama, "parley": parley})
        for b in sorted(llama):
            print(f"   B={b}: S_TG {parley[b]['s_tg']:.1f} / {llama[b]['s_tg']:.1f} = "
                  f"{parley[b]['s_tg'] / llama[b]['s_tg']:.3f}", flush=True)
    table = render(args, rounds, n_ctx)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {args.out}")
    if args.section:
        put_section(args.section, table)
        print(f"updated {args.section}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
