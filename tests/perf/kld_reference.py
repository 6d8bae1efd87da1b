"""Check Parley's KL divergence against `llama-perplexity --kl-divergence` on the same text.

For one pair of files (by default a Q8_0 reference and a Q4_0 file, both requantized from the
starter model — `--source`, default `starter` — by tests/support/quant_ladder.py's `make_ladder`
into
tests/perf/_build/kld-ladder/, kept for the next run) it runs

1. `llama-perplexity -m BASE --kl-divergence-base base.kld` then
   `llama-perplexity -m MODEL --kl-divergence-base base.kld --kl-divergence`;
2. `inference.compare.comparison.compare_files([BASE, MODEL])` with the same text, n_ctx and batch;
3. Parley's scorer on llama.cpp's own base.kld file (the file formats are the same),

and prints the figures side by side. Exit status 0 when mean KLD, KLD p99, KLD max, same-top %
and mean Δp agree to 3 significant digits, 1 otherwise. llama-perplexity comes from
tests/perf/build_llama_tools.sh (the llama.cpp vendored in the installed llama-cpp-python).

    .venv/bin/python tests/perf/kld_reference.py [--base B.gguf --model M.gguf] [--ctx 128] ...

It also prints the reference's own row as Parley measures it (its logits against the log-probs
it stored: KLD ≈ 0, same top 100 %).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.common.logs import configure_logging  # noqa: E402
from inference.compare.comparison import CompareSettings, compare_files  # noqa: E402
from inference.compare.evaluate import FileJob, measure_file  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402
from tests.support.quant_ladder import make_ladder  # noqa: E402

DEFAULT_FILE = ROOT / "resources" / "samples" / "perplexity_sample.txt"
LADDER_DIR = ROOT / "tests" / "perf" / "_build" / "kld-ladder"
FIGURES = ("kld_mean", "kld_se", "kld_p99", "kld_max", "same_top", "dp_mean")
PATTERNS = {
    "kld_mean": r"Mean    KLD:\s+(-?[0-9.]+) ±\s+([0-9.]+)",
    "kld_p99": r"99\.0%   KLD:\s+(-?[0-9.]+)",
    "kld_max": r"Maximum KLD:\s+(-?[0-9.]+)",
    "same_top": r"Same top p:\s+(-?[0-9.]+) ±",
    "dp_mean": r"Mean    Δp:\s+(-?[0-9.]+) ±",
    "ppl": r"Mean PPL\(Q\)\s+:\s+([0-9.]+)",
    "ppl_base": r"Mean PPL\(base\)\s+:\s+([0-9.]+)",
}


def find_llama_perplexity() -> Path:
    script = ROOT / "tests" / "perf" / "build_llama_tools.sh"
    try:
        out = subprocess.run(["nice", "-n", "19", "bash", str(script), sys.executable],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        candidate = Path(out.strip().splitlines()[-1]) / "llama-perplexity"
        if candidate.exists():
            return candidate
    except (subprocess.CalledProcessError, IndexError):
        pass
    found = sorted((ROOT / "tests" / "perf" / "_build").glob("**/bin/llama-perplexity"))
    if not found:
        raise SystemExit("llama-perplexity is not built; run tests/perf/build_llama_tools.sh")
    return found[0]


def run_llama(binary: Path, args: argparse.Namespace, base_file: Path) -> dict[str, float]:
    common = ["-f", str(args.file), "-c", str(args.ctx), "-b", str(args.batch),
              "-t", str(args.threads), "-ngl", "0", "--kl-divergence-base", str(base_file)]
    for model, extra in ((args.base, []), (args.model, ["--kl-divergence"])):
        cmd = [str(binary), "-m", str(model), *common, *extra]
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            sys.stdout.write(proc.stdout[-4000:])
            raise SystemExit(f"llama-perplexity failed (exit {proc.returncode})")
    block = proc.stdout[proc.stdout.find("====== Perplexity statistics"):]
    print("llama-perplexity's own summary:\n" + "\n".join(
        line for line in block.splitlines() if ":" in line and "llama_" not in line
        and "common_" not in line and not line.startswith(("load", "print_info"))), flush=True)
    figures = {}
    for key, pattern in PATTERNS.items():
        match = re.search(pattern, proc.stdout)
        if match is None:
            sys.stdout.write(proc.stdout[-4000:])
            raise SystemExit(f"no {key} in llama-perplexity's output (fewer than 100 positions?)")
        figures[key] = float(match.group(1))
        if key == "kld_mean":
            figures["kld_se"] = float(match.group(2))
    return figures


def run_parley(args: argparse.Namespace) -> dict[str, float]:
    text = args.file.read_text(encoding="utf-8")
    if text.endswith("\n"):               # llama-perplexity -f drops one trailing newline
        text = text[:-1]
    result = compare_files([args.base, args.model], text, reference=args.base,
                           settings=CompareSettings(n_ctx=args.ctx, n_batch=args.batch,
                                                    threads=args.threads, speed=None))
    ref, row = result.rows
    print(f"parley: {result.tokens} tokens, {result.chunks} chunks, {result.tokens_scored} "
          f"positions scored, {result.seconds:.1f} s")
    print(f"parley, the reference against itself: KLD {ref.kld_mean:.6f} ± {ref.kld_se:.6f}, "
          f"max {ref.kld_max:.6f}, same top {ref.same_top:.3f} %, Δp {ref.dp_mean:.4f} %")
    return {k: getattr(row, k) for k in FIGURES} | {"ppl": row.ppl, "ppl_base": ref.ppl}


def run_parley_on_llama_file(args: argparse.Namespace, base_file: Path) -> dict[str, float]:
    m = measure_file(FileJob(str(args.model), str(base_file), None, args.ctx, args.batch,
                             args.threads), lambda _msg: None)
    k = m.kld
    assert k is not None
    return {"kld_mean": k.kld_mean, "kld_se": k.kld_se, "kld_p99": k.kld_p99,
            "kld_max": k.kld_max,
            "same_top": 100 * k.same_top, "dp_mean": 100 * k.dp_mean, "ppl": m.ppl,
            "ppl_base": k.ppl_base}


def agree(a: float, b: float) -> bool:
    return f"{a:.3g}" == f"{b:.3g}" or abs(a - b) <= 5e-4 * max(abs(a), abs(b))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="the reference GGUF")
    parser.add_argument("--model", type=Path, help="the GGUF compared with it")
    parser.add_argument("--source", default="starter",
                        help="without --base/--model: make Q8_0 and Q4_0 from this GGUF "
                             "('starter', the default, is the starter model)")
    parser.add_argument("--ladder-dir", type=Path, default=LADDER_DIR,
                        help="where the Q8_0 / Q4_0 files are made (and kept for next time)")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--chars", type=int, default=6000,
                        help="use the first N characters of --file (0 = all)")
    parser.add_argument("--ctx", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_logging()                  # llama.cpp's log to Parley's log file, not the terminal
    with tempfile.TemporaryDirectory(prefix="parley-kldref-") as tmp:
        folder = Path(tmp)
        args.source_text = args.file
        if args.chars:
            cut = folder / "text.txt"
            cut.write_text(args.file.read_text(encoding="utf-8")[:args.chars] + "\n",
                           encoding="utf-8")
            args.file = cut
        if args.base is None or args.model is None:
            source = resolve_model(args.source)
            if not source.is_file():
                raise SystemExit(f"no such GGUF file: {source}")
            ladder = make_ladder(source, args.ladder_dir, ("Q8_0", "Q4_0"), args.threads)
            for made in ladder:
                print(f"{'kept' if made.reused else 'made'} {made.output}", flush=True)
            args.base, args.model = ladder[0].output, ladder[1].output
        llama = run_llama(find_llama_perplexity(), args, folder / "base.kld")
        parley = run_parley(args)
        cross = run_parley_on_llama_file(args, folder / "base.kld")
    print(f"\n{args.model.name} against {args.base.name}, n_ctx {args.ctx}, text "
          f"{args.chars or 'all'} characters of {Path(args.source_text).name}")
    print(f"{'':10}{'llama.cpp':>14}{'parley':>14}{'parley/llama file':>20}  3 s.f.")
    ok = True
    for key in (*FIGURES, "ppl", "ppl_base"):
        same = agree(llama[key], parley[key]) and agree(llama[key], cross[key])
        ok &= same or key.startswith("ppl")
        print(f"{key:10}{llama[key]:14.6f}{parley[key]:14.6f}{cross[key]:20.6f}  "
              f"{'agree' if same else 'DIFFER'}")
    print("AGREE to 3 significant digits" if ok else "DISAGREE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
