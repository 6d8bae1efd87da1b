"""`parley compare A.gguf B.gguf … --text FILE`: quality, size, memory and speed side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.cli.common import (
    cancel_on_signals,
    check_limits,
    read_text_file,
    warn_about_threads,
)
from inference.common.cancel import CancelToken
from inference.compare.comparison import (
    CompareProgress,
    CompareSettings,
    SpeedSettings,
    compare_files,
)
from inference.compare.export import to_csv, to_json, to_markdown, to_text, write
from inference.library.starter import resolve_model

HELP = ("Compare quantizations of one model: PPL, KL divergence against the most precise file "
        "(as llama-perplexity --kl-divergence), same top token, Δp, size, memory, pp/tg speed.")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", metavar="MODEL",
                        help=".gguf files of the same model ('starter' allowed)")
    parser.add_argument("--text", required=True, metavar="FILE",
                        help="a UTF-8 text file ('-' for standard input); needs ≥ 2·ctx tokens")
    parser.add_argument("--ctx", type=int, default=512, metavar="N",
                        help="tokens per chunk (n_ctx, default 512 as llama-perplexity)")
    parser.add_argument("--batch", type=int, default=2048, metavar="N", help="logical batch")
    parser.add_argument("--reference", metavar="MODEL",
                        help="the file to measure KLD against (default: the most precise "
                             "file; a requantized file counts no more precise than its source)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads (0 = physical cores)")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="layers to offload to the GPU (-1 = all)")
    parser.add_argument("--pp", type=int, default=512, metavar="N", help="prompt tokens (pp N)")
    parser.add_argument("--tg", type=int, default=128, metavar="N",
                        help="generated tokens (tg N)")
    parser.add_argument("--reps", type=int, default=3, metavar="N", help="speed repetitions")
    parser.add_argument("--no-speed", action="store_true", help="skip the pp/tg measurement")
    parser.add_argument("--save", action="append", default=[], metavar="FILE",
                        help="also write the result to FILE (.json, .csv or .md; repeatable)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_const", dest="format", const="json",
                     help='print {"reference": …, "rows": [...]} as JSON')
    fmt.add_argument("--csv", action="store_const", dest="format", const="csv",
                     help="print CSV, one line per file")
    fmt.add_argument("--md", action="store_const", dest="format", const="md",
                     help="print a Markdown table")


def run(args: argparse.Namespace) -> int:
    text = read_text_file(args.text)
    if text.endswith("\n"):         # as llama-perplexity -f: drop one trailing newline
        text = text[:-1]
    check_limits(n_ctx=args.ctx, n_batch=args.batch, n_threads=args.threads,
                 n_gpu_layers=args.gpu_layers, n_prompt=args.pp, n_gen=args.tg,
                 repetitions=args.reps)
    warn_about_threads("compare", args.threads)
    paths = [resolve_model(m) for m in args.models]
    reference = resolve_model(args.reference) if args.reference else None
    settings = CompareSettings(
        n_ctx=args.ctx, n_batch=args.batch, threads=args.threads, gpu_layers=args.gpu_layers,
        speed=None if args.no_speed else SpeedSettings(args.pp, args.tg, args.reps))
    with cancel_on_signals(CancelToken()) as cancel:
        result = compare_files(paths, text, reference=reference, settings=settings,
                               progress=_progress if sys.stderr.isatty() else None,
                               cancel=cancel)
    for target in args.save:
        write(result, Path(target))
    render = {"json": to_json, "csv": to_csv, "md": to_markdown}.get(args.format or "", to_text)
    sys.stdout.write(render(result))
    if not args.format:
        print(f"\nreference: {result.reference}; n_ctx {result.n_ctx}, {result.tokens:,} "
              f"tokens, {result.chunks} chunks, {result.tokens_scored:,} positions scored; "
              f"{result.seconds:.1f} s")
    return 0


def _progress(p: CompareProgress) -> None:
    detail = f" {p.detail}" if p.detail else ""
    eta = f", ETA {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d}" if p.eta_s is not None else ""
    sys.stderr.write(f"\r[{p.index + 1}/{p.total}] {p.file}: {p.stage}{detail} "
                     f"{100 * p.fraction:3.0f}%  (overall {100 * p.overall:3.0f}%{eta})      ")
    if p.stage == "done" and p.index + 1 == p.total:
        sys.stderr.write("\n")
    sys.stderr.flush()
