"""`parley bench MODEL`: llama-bench's pp / tg tests on Parley's decode path, plus a chat turn;
`--parallel 1,2,4,8`: llama-batched-bench's figures for B sequences at once (BatchEngine)."""

from __future__ import annotations

import argparse
import sys

from inference.bench.memory import MIB
from inference.bench.parallel import ParallelSettings, format_parallel, run_parallel
from inference.bench.throughput import BenchResult, BenchSettings, chat_config, run_bench
from inference.cli.common import (
    add_model_argument,
    add_rpc_argument,
    add_speculative_arguments,
    check_limits,
    model_path,
    print_json,
    speculative_settings,
    warn_about_threads,
)
from inference.common.limits import MAX_SEQ

HELP = ("Benchmark prefill (pp) and generation (tg) speed the way llama-bench does, "
        "and a real chat turn's TTFT / TPOT.")


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("-t", "--threads", type=int, default=0, metavar="N",
                        help="CPU threads (0 = physical cores, as llama-bench)")
    parser.add_argument("-p", "--n-prompt", type=int, default=512, metavar="N",
                        help="prompt tokens for the pp test (default 512)")
    parser.add_argument("-n", "--n-gen", type=int, default=128, metavar="N",
                        help="tokens for the tg test and the chat turn (default 128)")
    parser.add_argument("-r", "--repetitions", type=int, default=5, metavar="N",
                        help="repetitions of each test (default 5)")
    parser.add_argument("-b", "--batch-size", type=int, default=2048, metavar="N")
    parser.add_argument("-ub", "--ubatch-size", type=int, default=512, metavar="N")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="layers to offload to the GPU (-1 = all)")
    parser.add_argument("--ctx", type=int, default=4096, metavar="N",
                        help="context size for the chat turn (default 4096, as the app)")
    add_rpc_argument(parser)
    parser.add_argument("--no-chat", action="store_true", help="skip the chat turn")
    parser.add_argument("--in-process", action="store_true",
                        help="run the chat turn in this process instead of the engine host")
    parser.add_argument("--parallel", type=batch_list, default=None, metavar="B,B,…",
                        help="aggregate speed with B sequences at once through the batch "
                             "engine, as llama-batched-bench (e.g. 1,2,4,8); -p / -n per "
                             "sequence")
    add_speculative_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def batch_list(value: str) -> tuple[int, ...]:
    """`--parallel 1,2,4,8` → (1, 2, 4, 8); argparse turns a ValueError into one line."""
    try:
        counts = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, like 1,2,4,8; got {value!r}") from None
    bad = [b for b in counts if not 1 <= b <= MAX_SEQ]
    if bad:
        raise argparse.ArgumentTypeError(
            f"each number of sequences must be between 1 and {MAX_SEQ}, got {bad[0]}")
    return counts


def settings_from(args: argparse.Namespace) -> BenchSettings:
    """The settings, every number checked against inference.common.limits first."""
    check_limits(n_threads=args.threads, n_prompt=args.n_prompt, n_gen=args.n_gen,
                 repetitions=args.repetitions, n_batch=args.batch_size,
                 n_ubatch=args.ubatch_size, n_gpu_layers=args.gpu_layers, n_ctx=args.ctx)
    settings = BenchSettings(
        model=model_path(args), threads=args.threads, n_prompt=args.n_prompt,
        n_gen=args.n_gen, reps=args.repetitions, n_batch=args.batch_size,
        n_ubatch=args.ubatch_size, gpu_layers=args.gpu_layers, chat_ctx=args.ctx,
        chat=not args.no_chat, prefer_host=not args.in_process, rpc_servers=args.rpc,
        **speculative_settings(args))
    if settings.chat:
        chat_config(settings)        # its context (ctx, or -p + -n + 64) within the limits too
    return settings


def parallel_settings_from(args: argparse.Namespace) -> ParallelSettings:
    check_limits(n_threads=args.threads, n_prompt=args.n_prompt, n_gen=args.n_gen,
                 n_batch=args.batch_size, n_ubatch=args.ubatch_size,
                 n_gpu_layers=args.gpu_layers)
    settings = ParallelSettings(
        model=model_path(args), batches=args.parallel, threads=args.threads,
        n_prompt=args.n_prompt, n_gen=args.n_gen, n_batch=args.batch_size,
        n_ubatch=args.ubatch_size, gpu_layers=args.gpu_layers, rpc_servers=args.rpc)
    check_limits(n_ctx=settings.n_ctx)      # max(B) × (-p + -n), rounded up
    return settings


def run(args: argparse.Namespace) -> int:
    quiet = args.json

    def progress(message: str) -> None:
        if not quiet:
            print(f"bench: {message}", file=sys.stderr, flush=True)

    if args.parallel is not None:
        parallel = parallel_settings_from(args)
        warn_about_threads("bench", args.threads)
        outcome = run_parallel(parallel, progress)
        if args.json:
            print_json(outcome.to_dict())
        else:
            print(format_parallel(outcome))
        return 0
    settings = settings_from(args)
    warn_about_threads("bench", args.threads)
    result = run_bench(settings, progress)
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_table(result))
    return 0


def format_table(r: BenchResult) -> str:
    """Markdown like llama-bench's, then the chat turn and memory."""
    backend = r.build.get("backend", "CPU")
    head = ["model", "backend", "threads", "test", "t/s"]
    rows = [[r.model, backend, str(r.threads), f"pp{r.n_prompt}",
             f"{r.pp_tps:.2f} ± {r.pp_std:.2f}"],
            [r.model, backend, str(r.threads), f"tg{r.n_gen}",
             f"{r.tg_tps:.2f} ± {r.tg_std:.2f}"]]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
             "| " + " | ".join("-" * w for w in widths) + " |"]
    lines += ["| " + " | ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                                for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"
              for row in rows]
    lines.append(f"\nrepetitions: {r.runs}, build: llama-cpp-python "
                 f"{r.build.get('llama_cpp_python')}")
    if r.chat:
        c = r.chat
        lines.append(f"\nchat turn via {c.path}:")
        lines.append(f"  prompt {c.prompt_tokens} tok, output {list(c.output_tokens)} tok, "
                     f"cached {list(c.cached_tokens)} tok")
        if r.ttft_s is not None:
            lines.append(f"  TTFT median {r.ttft_s * 1000:.1f} ms "
                         f"(min {min(c.ttft_s) * 1000:.1f}, max {max(c.ttft_s) * 1000:.1f})")
        if r.tpot_s is not None:
            lines.append(f"  TPOT median {r.tpot_s * 1000:.2f} ms = {1 / r.tpot_s:.1f} tok/s "
                         f"(min {min(c.tpot_s) * 1000:.2f}, max {max(c.tpot_s) * 1000:.2f})")
        if c.acceptance_rate:
            lines.append("  speculative: drafts kept "
                         + ", ".join(f"{a:.0%}" for a in c.acceptance_rate))
    if r.memory:
        m = r.memory
        lines.append(f"\nmemory (engine process, n_ctx={m.n_ctx}): RSS {m.rss_bytes / MIB:.0f} MiB"
                     f"; before load {m.rss_before_load_bytes / MIB:.0f} MiB")
        if m.model_mapped_rss_bytes is not None:
            lines.append(f"  model file mapping resident {m.model_mapped_rss_bytes / MIB:.0f} MiB")
        for kind, size in m.by_kind().items():
            lines.append(f"  llama.cpp {kind}: {size / MIB:.1f} MiB")
        if m.grown_bytes is not None:
            lines.append(f"  grown since load beyond the mapping (buffers as touched + Python): "
                         f"{m.grown_bytes / MIB:.0f} MiB")
        if m.peak_rss_bytes is not None:
            lines.append(f"  peak RSS after the pp/tg tests: {m.peak_rss_bytes / MIB:.0f} MiB")
    return "\n".join(lines)
