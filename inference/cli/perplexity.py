"""`parley perplexity MODEL FILE`: a model's perplexity on a text file, as llama-perplexity."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from inference.cli.common import (
    add_model_argument,
    add_rpc_argument,
    cancel_on_signals,
    check_limits,
    model_path,
    print_json,
    read_text_file,
    warn_about_threads,
)
from inference.common.cancel import CancelToken
from inference.common.errors import ModelLoadError, UnsupportedArchitectureError
from inference.engine.config import default_threads
from inference.engine.load_checks import explain_load_failure
from inference.gguf.file import read_gguf
from inference.llama.native import NativeModel
from inference.llama.native_log import NATIVE_LOG
from inference.perplexity.measure import METHODS, PerplexityResult, compute_perplexity

HELP = ("Measure a model's perplexity on a text file (chunked like llama.cpp's "
        "llama-perplexity, or full-text for short texts).")
BAR_WIDTH = 30


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("file", metavar="FILE", help="a UTF-8 text file ('-' for standard input)")
    parser.add_argument("--ctx", type=int, default=512, metavar="N",
                        help="tokens per chunk / window (n_ctx, default 512 as llama.cpp)")
    parser.add_argument("--batch", type=int, default=2048, metavar="N",
                        help="logical batch size; n_batch/n_ctx chunks run side by side")
    parser.add_argument("--mode", choices=METHODS, default="auto",
                        help="chunked (llama.cpp's method, needs ≥ 2·ctx tokens), full "
                             "(every token, for short texts) or auto (default)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads (0 = physical cores)")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="layers to offload to the GPU (-1 = all)")
    add_rpc_argument(parser)
    parser.add_argument("--per-token", action="store_true",
                        help="with --json: include per-token scores (NLL, rank, top 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


def run(args: argparse.Namespace) -> int:
    check_limits(n_ctx=args.ctx, n_batch=args.batch, n_threads=args.threads,
                 n_gpu_layers=args.gpu_layers)
    text = read_text_file(args.file)
    if text.endswith("\n"):     # as llama-perplexity -f: drop one trailing newline
        text = text[:-1]
    threads = args.threads or default_threads()
    path = model_path(args)
    warn_about_threads("perplexity", args.threads)
    cancel = CancelToken()
    with cancel_on_signals(cancel):
        started = time.perf_counter()
        model = _load(path, args.gpu_layers, cancel, args.rpc)
        load_seconds = time.perf_counter() - started
        try:
            result = compute_perplexity(
                model, text, n_ctx=args.ctx, n_batch=args.batch, mode=args.mode,
                n_threads=threads, per_token=args.per_token and args.json,
                progress=_ProgressBar() if sys.stderr.isatty() else None, cancel=cancel)
        finally:
            model.close()
    if args.json:
        print_json({**result.to_dict(), "model": str(path), "file": args.file,
                    "threads": threads, "load_seconds": load_seconds})
    else:
        _print_report(result, threads)
    return 0


def _load(path: Path, gpu_layers: int, cancel: CancelToken,
          rpc: tuple[str, ...] = ()) -> NativeModel:
    info = read_gguf(path)                   # specific errors before native code runs
    mark = NATIVE_LOG.mark()
    try:
        return NativeModel(path, n_gpu_layers=gpu_layers, cancel=cancel, rpc_servers=rpc)
    except UnsupportedArchitectureError:
        raise
    except ModelLoadError as exc:
        raise explain_load_failure(info, exc, NATIVE_LOG.lines(since=mark)) from exc


def _print_report(result: PerplexityResult, threads: int) -> None:
    running = ",".join(f"[{i}]{p:.4f}" for i, p in enumerate(result.chunk_ppl, start=1))
    print(running)
    print(result.summary())
    unit = "chunks" if result.method == "chunked" else "windows"
    print(f"method {result.method}, n_ctx {result.n_ctx}, batch {result.n_batch} "
          f"({result.n_seq} {unit} per batch), {threads} thread{'s' * (threads != 1)}; "
          f"{result.tokens_total:,} tokens in the text, {result.tokens_scored:,} scored, "
          f"{result.tokens_evaluated:,} evaluated")


class _ProgressBar:
    """A one-line progress bar on stderr (only used when stderr is a terminal)."""

    def __call__(self, done: int, total: int, eta: float | None) -> None:
        fraction = done / total if total else 1.0
        filled = int(BAR_WIDTH * fraction)
        eta_text = f"ETA {eta:5.1f} s" if eta is not None else ""
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
                         f"{done:,}/{total:,} tokens {eta_text}  ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
