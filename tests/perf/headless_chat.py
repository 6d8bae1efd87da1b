"""Headless chat turns through EngineHost (as `parley bench`'s chat turn), printed as JSON.

The "A" side of run_bench.py's paired GUI runs: the same messages, sampling and seed that
gui_stream_bench.py sends through the window, without the window.

    .venv/bin/python tests/perf/headless_chat.py MODEL -t 2 -p 512 -n 128 -r 3 [--chars N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from inference.bench.chat import run_chat_turns
    from inference.engine.config import ModelConfig, default_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("-t", "--threads", type=int, default=0)
    parser.add_argument("-p", "--n-prompt", type=int, default=512)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("-r", "--turns", type=int, default=3)
    args = parser.parse_args()
    threads = args.threads or default_threads()
    config = ModelConfig(path=args.model, n_ctx=max(4096, args.n_prompt + args.n_gen + 64),
                         n_threads=threads)
    bench = run_chat_turns(config, args.n_prompt, args.n_gen, args.turns)
    json.dump({"tpot_s": bench.tpot_median, "ttft_s": bench.ttft_median,
               "message_chars": bench.message_chars, "threads": threads,
               "turns": list(bench.tpot_s)}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
