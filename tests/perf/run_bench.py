"""`make bench`: Parley against llama.cpp's own tools, in the same run, on the same model.

Builds (or reuses) llama-bench / llama-perplexity from the llama.cpp sources vendored in the
installed llama-cpp-python (tests/perf/build_llama_tools.sh), then runs llama-bench (A) and
`parley bench` (B) alternately, A B A B …, with the same threads and sizes, so slow drift in the
machine's load hits both sides alike; when the GUI exists, each round also streams the same chat
turns into the real window offscreen (C, tests/perf/gui_stream_bench.py). Each round gives one
ratio per test; the report shows the median ratio and the spread over rounds. Writes
docs/PERFORMANCE.md.

    .venv/bin/python tests/perf/run_bench.py [--model starter] [-t N] [-p 512] [-n 128] [-r 5]
                                             [--rounds 4] [--out docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_report import Report, machine_description, render_markdown  # noqa: E402

from inference.engine.config import default_threads  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402


@dataclass(frozen=True)
class Measured:
    data: Any                  # parsed JSON output
    peak_rss_bytes: int        # ru_maxrss of the process (wait4)
    wall_s: float


def run_measured(cmd: list[str]) -> Measured:
    """Run `cmd`, parse its stdout as JSON, and read the child's own peak RSS with wait4."""
    print("$", " ".join(cmd), flush=True)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{Path(cmd[0]).name} failed (exit {proc.returncode})")
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return Measured(json.loads(stdout), peak, wall)


def build_tools() -> Path:
    script = ROOT / "tests" / "perf" / "build_llama_tools.sh"
    out = subprocess.run(["bash", str(script), sys.executable], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return Path(out.strip().splitlines()[-1])


def llama_bench(binary: Path, args: argparse.Namespace, reps: int | None = None) -> Measured:
    return run_measured([str(binary), "-m", str(args.model), "-t", str(args.threads),
                         "-p", str(args.n_prompt), "-n", str(args.n_gen),
                         "-r", str(reps or args.reps), "-ngl", "0", "-o", "json"])


def llama_bench_at_depth(binary: Path, args: argparse.Namespace) -> dict[str, Any]:
    """tg n_gen after a prompt of n_prompt tokens (`-d`): the chat turn's situation."""
    out = run_measured([str(binary), "-m", str(args.model), "-t", str(args.threads),
                        "-p", "0", "-n", str(args.n_gen), "-d", str(args.n_prompt),
                        "-r", str(args.reps), "-ngl", "0", "-o", "json"])
    return out.data[0]


def parley_bench(args: argparse.Namespace, reps: int | None = None,
                 chat: bool = True) -> Measured:
    return run_measured([sys.executable, "-m", "inference.cli", "bench", str(args.model),
                         "-t", str(args.threads), "-p", str(args.n_prompt),
                         "-n", str(args.n_gen), "-r", str(reps or args.reps), "--json",
                         *([] if chat else ["--no-chat"])])


def paired_throughput(bin_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Many short llama-bench / `parley bench --no-chat` pairs, in A B, B A, … order.

    On a shared machine the speed drifts by ±10 % within seconds; a ratio of two runs made
    seconds apart, taken over many pairs, sees through that better than a few long rounds."""
    pairs = []
    for i in range(args.pairs):
        def ours() -> dict[str, Any]:
            return parley_bench(args, args.pair_reps, chat=False).data

        def theirs() -> dict[str, dict[str, Any]]:
            return split_llama(llama_bench(bin_dir / "llama-bench", args, args.pair_reps).data)

        if i % 2 == 0:
            llama, parley = theirs(), ours()
        else:
            parley, llama = ours(), theirs()
        pairs.append({"llama_pp": llama["pp"]["avg_ts"], "llama_tg": llama["tg"]["avg_ts"],
                      "parley_pp": parley["pp_tps"], "parley_tg": parley["tg_tps"]})
        last = pairs[-1]
        print(f"   pair {i + 1}/{args.pairs}: pp {last['parley_pp'] / last['llama_pp']:.3f}  "
              f"tg {last['parley_tg'] / last['llama_tg']:.3f}", flush=True)
    return {"pairs": pairs, "reps": args.pair_reps}


def spare_core(args: argparse.Namespace) -> dict[str, Any] | None:
    """The GUI's cost when the engine leaves one core for it (threads − 1), headless then GUI."""
    if args.skip_gui or args.threads < 2:
        return None
    spare = argparse.Namespace(**{**vars(args), "threads": args.threads - 1})
    headless = parley_bench(spare).data
    gui = gui_bench(spare, (headless.get("chat") or {}).get("message_chars"))
    if gui is None or not headless.get("tpot_s") or not gui.data.get("tpot_s"):
        return None
    return {"threads": spare.threads, "headless_tpot_s": headless["tpot_s"],
            "gui_tpot_s": gui.data["tpot_s"]}


def gui_pairs(args: argparse.Namespace) -> dict[str, Any] | None:
    """Short pairs of headless chat turns and the same turns through the window, in A B, B A, …
    order: the GUI's cost as the ratio within each pair (the machine's speed drifts between
    rounds by more than the cost being measured)."""
    if args.skip_gui or args.gui_pairs <= 0:
        return None
    script = str(ROOT / "tests" / "perf" / "headless_chat.py")
    sizes = ["-t", str(args.threads), "-p", str(args.n_prompt), "-n", str(args.n_gen),
             "-r", str(args.gui_pair_turns)]

    def headless() -> dict[str, Any]:
        return run_measured([sys.executable, script, str(args.model), *sizes]).data

    first = headless()                    # also calibrates the message to n_prompt tokens
    chars = first["message_chars"]
    short = argparse.Namespace(**{**vars(args), "reps": args.gui_pair_turns})
    pairs = []
    for i in range(args.gui_pairs):
        if i % 2 == 0:
            a = first if i == 0 else headless()
            g = gui_bench(short, chars, extra=["--probe-turns", "0", "--no-long"])
        else:
            g = gui_bench(short, chars, extra=["--probe-turns", "0", "--no-long"])
            a = headless()
        assert g is not None
        pairs.append({"headless_tpot_s": a["tpot_s"], "gui_tpot_s": g.data["tpot_s"],
                      "gui_cpu_share": g.data.get("gui_cpu_share_streaming"),
                      "view_updates_per_s": g.data.get("view_updates_per_s")})
        ratio = a["tpot_s"] / g.data["tpot_s"]
        print(f"   pair {i + 1}/{args.gui_pairs}: GUI ÷ headless {ratio:.3f}", flush=True)
    return {"pairs": pairs, "turns": args.gui_pair_turns}


def gui_bench(args: argparse.Namespace, chars: int | None,
              extra: list[str] | None = None) -> Measured | None:
    if args.skip_gui:
        return None
    cmd = [sys.executable, str(ROOT / "tests" / "perf" / "gui_stream_bench.py"), str(args.model),
           "-t", str(args.threads), "-p", str(args.n_prompt), "-n", str(args.n_gen),
           "-r", str(args.reps), *(extra or [])]
    if chars is not None:
        cmd += ["--chars", str(chars)]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return run_measured(cmd)


def split_llama(data: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """llama-bench's JSON list → {"pp": entry, "tg": entry}."""
    tests = {}
    for entry in data:
        if entry.get("n_prompt", 0) > 0 and entry.get("n_gen", 0) == 0:
            tests["pp"] = entry
        elif entry.get("n_gen", 0) > 0 and entry.get("n_prompt", 0) == 0:
            tests["tg"] = entry
    if set(tests) != {"pp", "tg"}:
        raise SystemExit(f"unexpected llama-bench output: {data!r}"[:2000])
    return tests


def perplexity_section(bin_dir: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """Both perplexities and eval times (llama-perplexity beside `parley perplexity`)."""
    binary = bin_dir / "llama-perplexity"
    if args.skip_perplexity:
        return None
    if not binary.exists():       # build_llama_tools.sh builds it: missing is a broken build
        raise SystemExit(f"{binary} is missing: run tests/perf/build_llama_tools.sh again")
    try:
        import perplexity_reference as ref
    except ImportError as exc:
        return {"error": f"perplexity_reference unavailable: {exc}"}
    ns = argparse.Namespace(model=args.model, file=ref.DEFAULT_FILE, ctx=512, batch=2048,
                            threads=args.threads)
    rows = []
    for _ in range(args.ppl_rounds):
        rows.append(("llama", ref.run_llama(binary, ns)))
        rows.append(("parley", ref.run_parley(ns)))
    llama = [m for who, m in rows if who == "llama"]
    parley = [m for who, m in rows if who == "parley"]
    return {
        "file": str(ns.file.relative_to(ROOT)), "ctx": ns.ctx, "rounds": args.ppl_rounds,
        "llama_ppl": llama[-1].ppl, "llama_se": llama[-1].se,
        "parley_ppl": parley[-1].ppl, "parley_se": parley[-1].se,
        "llama_eval_s": [m.eval_seconds for m in llama],
        "parley_eval_s": [m.eval_seconds for m in parley],
        "time_ratios": [p.eval_seconds / a.eval_seconds
                        for a, p in zip(llama, parley, strict=True)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=0, help="0 = physical cores")
    parser.add_argument("-p", "--n-prompt", type=int, default=512)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("-r", "--reps", type=int, default=5, help="repetitions per round")
    parser.add_argument("--rounds", type=int, default=4,
                        help="rounds, A B and B A in turn (default 4)")
    parser.add_argument("--pairs", type=int, default=16,
                        help="short llama-bench / parley bench pairs for the throughput ratios")
    parser.add_argument("--pair-reps", type=int, default=2, help="repetitions within a pair")
    parser.add_argument("--gui-pairs", type=int, default=8,
                        help="pairs of headless / GUI chat runs for the GUI's cost")
    parser.add_argument("--gui-pair-turns", type=int, default=3, help="chat turns per run")
    parser.add_argument("--ppl-rounds", type=int, default=1)
    parser.add_argument("--skip-perplexity", action="store_true")
    parser.add_argument("--skip-gui", action="store_true", help="skip the GUI streaming run")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument("--json-out", type=Path, default=None, help="also save raw results")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="only re-render --out from a --json-out file of an earlier run")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(args.from_json.read_text())
        data.setdefault("profile", None)
        data.setdefault("paired", None)
        data.setdefault("spare", None)
        data.setdefault("gui_paired", None)
        report = Report(**{**data, "rounds": tuple(data["rounds"])})
        args.out.write_text(render_markdown(report), encoding="utf-8")
        print(f"wrote {args.out}")
        return 0
    args.model = resolve_model(args.model)
    args.threads = args.threads or default_threads()

    bin_dir = build_tools()
    load_before = os.getloadavg()
    rounds = []
    got: dict[str, Any] = {"chars": None}   # the chat message's size, once parley bench sized it

    def reference() -> None:
        got["llama"] = llama_bench(bin_dir / "llama-bench", args)
        got["llama_depth"] = llama_bench_at_depth(bin_dir / "llama-bench", args)

    def parley() -> None:
        got["parley"] = parley_bench(args)
        got["chars"] = (got["parley"].data.get("chat") or {}).get("message_chars")

    def window() -> None:
        got["gui"] = gui_bench(args, got["chars"])

    for i in range(args.rounds):
        print(f"-- round {i + 1}/{args.rounds}", flush=True)
        # llama-bench, parley bench, the GUI; the other way round in every second round, so
        # neither side of a ratio always runs second
        for step in (reference, parley, window) if i % 2 == 0 else (window, parley, reference):
            step()
        ref, ours, gui = got["llama"], got["parley"], got["gui"]
        rounds.append({"llama": split_llama(ref.data) | {"tg_depth": got["llama_depth"]},
                       "llama_peak_rss": ref.peak_rss_bytes,
                       "parley": ours.data, "parley_process_peak_rss": ours.peak_rss_bytes,
                       "gui": gui.data if gui else None})
        _print_round(rounds[-1])
    print("-- paired short runs", flush=True)
    paired = paired_throughput(bin_dir, args)
    print("-- paired headless / GUI chat runs", flush=True)
    gui_paired = gui_pairs(args)
    print("-- the GUI with a core to spare", flush=True)
    spare = spare_core(args)
    ppl = perplexity_section(bin_dir, args)
    profile = run_measured([sys.executable, str(ROOT / "tests" / "perf" / "profile_generation.py"),
                            "--model", str(args.model), "-t", str(args.threads), "-n",
                            str(args.n_gen * 2), "--turns", "3", "--json"]).data
    report = Report(
        machine=machine_description(),
        settings=vars(args) | {"model": args.model.name,
                               "command": " ".join(["tests/perf/run_bench.py", *sys.argv[1:]])},
        rounds=tuple(rounds), perplexity=ppl, profile=profile, paired=paired, spare=spare,
        gui_paired=gui_paired,
        load_before=load_before,
        load_after=os.getloadavg())
    text = render_markdown(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    if args.json_out:
        args.json_out.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    print("\n" + text)
    print(f"wrote {args.out}")
    return 0


def _print_round(r: dict[str, Any]) -> None:
    ll, pa = r["llama"], r["parley"]
    print(f"   pp: llama {ll['pp']['avg_ts']:.1f}  parley {pa['pp_tps']:.1f}  "
          f"ratio {pa['pp_tps'] / ll['pp']['avg_ts']:.3f}")
    print(f"   tg: llama {ll['tg']['avg_ts']:.1f}  parley {pa['tg_tps']:.1f}  "
          f"ratio {pa['tg_tps'] / ll['tg']['avg_ts']:.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
