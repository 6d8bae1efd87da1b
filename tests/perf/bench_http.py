"""`parley serve --parallel 8` against llama.cpp's `llama-server -np 8`, over HTTP, side by side.

Both servers run at once on 127.0.0.1 with the same model, threads, context (8 slots of
PP + N tokens, rounded up to 256 cells as llama.cpp does), batch sizes and flash attention; one
load generator — C client threads, each streaming one `/v1/completions` request (a fresh prompt
of PP tokens drawn from the model's own words, greedy, N tokens) — drives each in turn, A B in
odd rounds and B A in even ones. For C = 1, 2, 4, 8 clients:

* **aggregate tokens/s** = every request's output tokens (the server's `usage`) ÷ the wall time
  from the first request sent to the last stream ended;
* **TTFT** p50 / p95 over the round's requests: from sending the request to its first content
  chunk, as a client sees it.

Goal (the [server] issue): Parley ÷ llama-server aggregate tokens/s ≥ 0.95 at every C.

    .venv/bin/python tests/perf/bench_http.py [--model starter] [-t 2] [-p 128] [-n 128]
        [--clients 1,2,4,8] [--rounds 2] [--section docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_parallel import build_tools, put_section  # noqa: E402

from inference.library.starter import resolve_model  # noqa: E402

BEGIN, END = "<!-- bench_http -->", "<!-- /bench_http -->"
SLOTS = 8
CELL = 256
START_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 600.0
WORDS = ("time", "river", "green", "music", "table", "light", "stone", "paper", "north",
         "window", "garden", "silver", "market", "winter", "letter", "number", "animal")


@dataclass
class Reply:
    """One streamed request as the client saw it."""

    sent: float = 0.0
    first: float | None = None
    ended: float = 0.0
    tokens: int = 0
    error: str = ""


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    model: str = ""                  # the id its /v1/models lists


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: Server) -> None:
    """Until /v1/models answers 200 (a bounded wait); the log's tail if the process died."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited ({server.process.returncode}):\n"
                             + server.log.read_text(errors="replace")[-3000:])
        try:
            answer = httpx2.get(server.base + "/v1/models", timeout=2.0)
            if answer.status_code == 200:
                server.model = answer.json()["data"][0]["id"]
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{server.name} did not answer within {START_TIMEOUT_S:.0f} s")


def start(name: str, cmd: list[str], port: int, logs: Path) -> Server:
    log = logs / f"{name}.log"
    print("$", " ".join(cmd), flush=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, proc, f"http://127.0.0.1:{port}", log)
    wait_ready(server)
    return server


def prompts(rng: random.Random, count: int, n_words: int) -> list[str]:
    """Fresh prompts (so no slot reuses another round's cache); about one token a word."""
    return [" ".join(rng.choice(WORDS) for _ in range(n_words)) for _ in range(count)]


def stream(base: str, model: str, prompt: str, n_gen: int, reply: Reply) -> None:
    body = {"model": model, "prompt": prompt, "max_tokens": n_gen, "temperature": 0.0,
            "stream": True, "stream_options": {"include_usage": True}}
    chunks = 0
    try:
        with httpx2.stream("POST", base + "/v1/completions", json=body,
                           timeout=REQUEST_TIMEOUT_S) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                data = json.loads(line[6:])
                usage = data.get("usage")
                if usage:
                    reply.tokens = int(usage.get("completion_tokens") or 0)
                for choice in data.get("choices") or ():
                    if choice.get("text"):
                        chunks += 1
                        if reply.first is None:
                            reply.first = time.perf_counter()
    except (httpx2.HTTPError, ValueError) as exc:
        reply.error = f"{type(exc).__name__}: {exc}"
    reply.ended = time.perf_counter()
    reply.tokens = reply.tokens or chunks


def load(server: Server, texts: list[str], n_gen: int) -> dict[str, float]:
    replies = [Reply() for _ in texts]
    threads = [threading.Thread(target=stream, args=(server.base, server.model, t, n_gen, r))
               for t, r in zip(texts, replies, strict=True)]
    began = time.perf_counter()
    for thread, reply in zip(threads, replies, strict=True):
        reply.sent = time.perf_counter()
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S)
    errors = [r.error for r in replies if r.error]
    if errors:
        raise SystemExit(f"{server.name}: {len(errors)} request(s) failed: {errors[0]}")
    wall = max(r.ended for r in replies) - began
    ttfts = sorted((r.first - r.sent) * 1000 for r in replies if r.first is not None)
    tokens = sum(r.tokens for r in replies)
    return {"tps": tokens / wall, "tokens": tokens, "wall": wall,
            "ttft_p50": statistics.median(ttfts),
            "ttft_p95": ttfts[min(len(ttfts) - 1, round(0.95 * (len(ttfts) - 1)))]}


def render(args: argparse.Namespace, rounds: list[dict[int, dict[str, dict[str, float]]]]
           ) -> str:
    lines = [BEGIN, "## Several clients over HTTP: `parley serve` vs `llama-server`", "",
             f"`tests/perf/bench_http.py` — both servers up at once on 127.0.0.1, {SLOTS} slots, "
             f"{args.threads} threads, prompts of ~{args.n_prompt} tokens, {args.n_gen} greedy "
             f"tokens each, {args.rounds} rounds alternating A B / B A; medians over rounds. "
             "Aggregate tokens/s = output tokens ÷ wall time of the round; TTFT as a client "
             "sees it. Goal: ratio ≥ 0.95 at every C.", "",
             "| clients | llama-server tok/s | Parley tok/s | ratio | TTFT p50 / p95 llama-server"
             " (ms) | TTFT p50 / p95 Parley (ms) |", "|---|---|---|---|---|---|"]
    for c in args.clients:
        def med(side: str, key: str, c: int = c) -> float:
            return statistics.median(r[c][side][key] for r in rounds)
        ratios = [r[c]["parley"]["tps"] / r[c]["llama"]["tps"] for r in rounds]
        lines.append(f"| {c} | {med('llama', 'tps'):.1f} | {med('parley', 'tps'):.1f} | "
                     f"{statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f}) | "
                     f"{med('llama', 'ttft_p50'):.0f} / {med('llama', 'ttft_p95'):.0f} | "
                     f"{med('parley', 'ttft_p50'):.0f} / {med('parley', 'ttft_p95'):.0f} |")
    lines += ["", END, ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starter", help="a .gguf file or 'starter'")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("-p", "--n-prompt", type=int, default=128)
    parser.add_argument("-n", "--n-gen", type=int, default=128)
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--section", type=Path, default=None,
                        help="also put the table into this Markdown file's own section")
    args = parser.parse_args()
    args.model = resolve_model(args.model)
    args.clients = tuple(int(c) for c in args.clients.split(","))
    n_ctx = -(-(args.n_prompt + args.n_gen + 16) // CELL) * CELL * SLOTS
    logs = ROOT / "tests" / "perf" / "_build"
    bin_dir = build_tools()
    common = ["-c", str(n_ctx), "-t", str(args.threads)]
    lp, pp = free_port(), free_port()
    llama = start("llama-server", [str(bin_dir / "llama-server"), "-m", str(args.model),
                                   "--host", "127.0.0.1", "--port", str(lp), "-np", str(SLOTS),
                                   "--no-kv-unified", "-b", "2048", "-ub", "512", "-fa", "auto",
                                   "--cache-ram", "0", *common], lp, logs)
    parley = start("parley", [sys.executable, "-m", "inference.cli", "serve", str(args.model),
                              "--port", str(pp), "--parallel", str(SLOTS), "--ctx", str(n_ctx),
                              "--threads", str(args.threads)], pp, logs)
    rng = random.Random(7)
    rounds: list[dict[int, dict[str, dict[str, float]]]] = []
    try:
        for i in range(args.rounds):
            row: dict[int, dict[str, dict[str, float]]] = {}
            for c in args.clients:
                texts = prompts(rng, c, args.n_prompt)
                order = [("llama", llama), ("parley", parley)]
                if i % 2:
                    order.reverse()
                row[c] = {side: load(server, texts, args.n_gen)
                          for side, server in order}
                print(f"round {i + 1} C={c}: " + ", ".join(
                    f"{side} {row[c][side]['tps']:.1f} tok/s ({row[c][side]['tokens']} tokens)"
                    for side in ("llama", "parley")), flush=True)
            rounds.append(row)
    finally:
        for server in (llama, parley):
            server.process.terminate()
            try:
                server.process.wait(30)
            except subprocess.TimeoutExpired:
                server.process.kill()
    section = render(args, rounds)
    print(section)
    if args.section:
        put_section(args.section, section, BEGIN, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
