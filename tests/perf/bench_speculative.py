"""Speculative decoding: Parley plain vs Parley speculative vs `llama-server` with its n-gram
modes, on the same prompts, side by side in one run.

Tasks (repeat penalty off on both sides, Text mode = the raw prompt on both sides):
  copy     a 1,500-character passage of the bundled sample, then a 256-token continuation that
           repeats it (greedy)
  rewrite  the bundled sample's opening with an instruction to rewrite it, quoting it (greedy)
  story    a one-line prompt with nothing to copy (greedy: the starter model soon loops, and
           the timed run replays the warm-up's reply from the n-gram caches, so it copies)
  sampled  the story prompt sampled (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05), the
           warm-up and the timed run with different seeds: a reply with nothing to copy from
           the prompt or the cache, where speculation must cost ≤ 3 %

Sides: Parley in this process (`Engine`, plain, `--speculative lookup`), and llama-server from
tests/perf/_build (plain, `--spec-type ngram-simple`, `--spec-type ngram-mod`), each request
sent twice per round so ngram-mod's cache is warm for the timed one. Speed = generated tokens ÷
generation time (Parley: 1 ÷ TPOT; llama-server: its `predicted_per_second`). The order of sides
alternates per round; the table gives medians.

    .venv/bin/python tests/perf/bench_speculative.py [--rounds 2] [-t 2] [--section FILE]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_parallel import put_section  # noqa: E402

from inference.engine.config import ModelConfig  # noqa: E402
from inference.engine.engine import Engine  # noqa: E402
from inference.engine.events import Finished  # noqa: E402
from inference.engine.requests import GenerationRequest, Mode  # noqa: E402
from inference.engine.sampling import SamplingParams  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402

BEGIN, END = "<!-- bench_speculative -->", "<!-- /bench_speculative -->"
SAMPLE = (ROOT / "resources" / "samples" / "perplexity_sample.txt").read_text(encoding="utf-8")
N_GEN = 256
SETTINGS: dict[str, Any] = {"n_gen": N_GEN, "tasks": None}   # -n, --tasks: a shorter run
N_CTX = 4096
SERVER_MODES = {"llama-server plain": [],
                "llama-server ngram-simple": ["--spec-type", "ngram-simple"],
                "llama-server ngram-mod": ["--spec-type", "ngram-mod"]}


def tasks() -> dict[str, str]:
    chosen = SETTINGS["tasks"]
    return {k: v for k, v in all_tasks().items() if not chosen or k in chosen}


def all_tasks() -> dict[str, str]:
    passage = SAMPLE[SAMPLE.index("On the northern edge"):][:1500]
    return {
        "copy": f"A passage, and then the same passage copied word for word.\n\n{passage}\n\n"
                f"The same passage, copied word for word:\n\n{passage[:30]}",
        "rewrite": f"Text:\n\n{SAMPLE[:1500]}\n\nThe same text rewritten for a newspaper, "
                   f"quoting its best sentences:\n\n",
        "story": STORY,
        "sampled": STORY,
    }


STORY = "Write a story about a fox who learns to sail.\n\n"
# tasks sampled rather than greedy: Parley's default chain, stated in full for llama-server
SAMPLED = {"sampled": {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05}}
WARM_SEED, TIMED_SEED = 1, 2


def server_binary() -> Path:
    found = sorted((ROOT / "tests" / "perf" / "_build").glob("llama.cpp-*/cmake/bin/llama-server"))
    if not found:
        raise SystemExit("llama-server is not built: run tests/perf/build_llama_tools.sh")
    return found[-1]


# -- Parley ---------------------------------------------------------------------------------
def parley_speed(engine: Engine, prompt: str, task: str, seed: int) -> dict[str, float]:
    shaping = SAMPLED.get(task, {"temperature": 0.0})
    request = GenerationRequest(Mode.TEXT, text=prompt, sampling=SamplingParams(
        repeat_penalty=1.0, max_tokens=SETTINGS["n_gen"], seed=seed, **shaping))
    final = [e for e in engine.generate(request) if isinstance(e, Finished)][0]
    s = final.stats
    return {"tps": s.gen_tps or 0.0, "n": s.output_tokens,
            "accept": s.acceptance_rate if s.acceptance_rate is not None else float("nan"),
            "text": final.text}   # type: ignore[dict-item]


# -- llama-server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, model: Path, threads: int, extra: list[str]) -> None:
        self.port = free_port()
        cmd = [str(server_binary()), "-m", str(model), "-t", str(threads), "-tb", str(threads),
               "-c", str(N_CTX), "-np", "1", "--port", str(self.port), "--host", "127.0.0.1",
               *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"llama-server exited: {self.proc.stderr.read()[-2000:]!r}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.close()
        raise SystemExit("llama-server did not become healthy in 120 s")

    def speed(self, prompt: str, task: str, seed: int) -> dict[str, float]:
        shaping = SAMPLED.get(task, {"temperature": 0.0})
        body = json.dumps({"prompt": prompt, "n_predict": SETTINGS["n_gen"], "seed": seed,
                           "repeat_penalty": 1.0, "cache_prompt": False, **shaping}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/completion", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as resp:
            data = json.loads(resp.read())
        t = data.get("timings", {})
        drafted, kept = t.get("draft_n", 0), t.get("draft_n_accepted", 0)
        return {"tps": float(t.get("predicted_per_second", 0.0)),
                "n": int(t.get("predicted_n", 0)),
                "accept": kept / drafted if drafted else float("nan"), "text": data["content"]}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# -- the run --------------------------------------------------------------------------------
def one_round(model: Path, threads: int, reverse: bool) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    sides: list[tuple[str, Any]] = [
        ("Parley plain", {}), ("Parley lookup", {"speculative": "lookup"}),
        ("Parley lookup k16", {"speculative": "lookup", "draft_max": 16}),
        *((name, extra) for name, extra in SERVER_MODES.items())]
    if reverse:
        sides.reverse()
    for name, extra in sides:
        print(f"  {name}", flush=True)
        if name.startswith("Parley"):
            engine = Engine()
            engine.load(ModelConfig(model, n_ctx=N_CTX, n_threads=threads, **extra))
            try:
                out[name] = {task: _twice(lambda *a, e=engine: parley_speed(e, *a), task,
                                          prompt) for task, prompt in tasks().items()}
            finally:
                engine.close()
        else:
            server = Server(model, threads, extra)
            try:
                out[name] = {task: _twice(server.speed, task, prompt)
                             for task, prompt in tasks().items()}
            finally:
                server.close()
    return out


def _twice(measure: Any, task: str, prompt: str) -> dict[str, float]:
    measure(prompt, task, WARM_SEED)       # warm: caches (ngram-mod's pool, the page cache)
    result = measure(prompt, task, TIMED_SEED if task in SAMPLED else WARM_SEED)
    print(f"    {result['tps']:.1f} tok/s, {result['n']} tokens, kept {result['accept']:.0%}",
          flush=True)
    return result


def render(rounds: list[dict[str, dict[str, dict]]], threads: int, load: tuple) -> str:
    names = list(rounds[0])
    order = ["Parley plain", "Parley lookup", "Parley lookup k16", *SERVER_MODES]
    names = [n for n in order if n in names]
    lines = [BEGIN, "## Speculative decoding", "",
             f"`tests/perf/bench_speculative.py`: starter model, {threads} threads, greedy "
             f"(the sampled task: Parley's default chain, other seed than the warm-up), "
             f"{SETTINGS['n_gen']} tokens, n_ctx {N_CTX}, {len(rounds)} rounds (median; each "
             f"request run twice, the second timed), load average before {load[0]:.1f}. "
             f"Generation tok/s (drafts kept). Parley lookup drafts at most 6 tokens (the "
             f"default), k16 at most 16. Ratios: Parley's better lookup ÷ Parley plain, and "
             f"÷ llama-server's better n-gram mode.", "",
             "| task | " + " | ".join(names) + " | lookup ÷ plain | lookup ÷ best server n-gram |",
             "|---" * (len(names) + 3) + "|"]
    for task in tasks():
        med = {n: statistics.median(r[n][task]["tps"] for r in rounds) for n in names}
        acc = {n: statistics.median(r[n][task]["accept"] for r in rounds) for n in names}
        cells = [f"{med[n]:.1f}" + (f" ({acc[n]:.0%})" if acc[n] == acc[n] else "")
                 for n in names]
        best = max(med.get("llama-server ngram-simple", 0), med.get("llama-server ngram-mod", 0))
        plain = med["Parley plain"] or float("nan")
        ours = max(med["Parley lookup"], med.get("Parley lookup k16", 0))
        vs_best = f"{ours / best:.2f}" if best else "—"
        lines.append(f"| {task} | " + " | ".join(cells)
                     + f" | {ours / plain:.2f} | {vs_best} |")
    same = {n: all(r["Parley plain"][t]["text"] == r[n][t]["text"] for r in rounds
                   for t in tasks() if t not in SAMPLED) for n in ("Parley lookup",
                                                                   "Parley lookup k16")}
    lines += ["", "Lookup text equal to Parley's plain text on every greedy task: "
              + ", ".join(f"{n}: {v}" for n, v in same.items()) + ".", END]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="starter")
    parser.add_argument("-t", "--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-n", "--n-gen", type=int, default=N_GEN, help="tokens per reply")
    parser.add_argument("--tasks", default="", help="comma-separated subset of "
                        "copy,rewrite,story,sampled")
    parser.add_argument("--section", type=Path, default=None,
                        help="also put the table into this Markdown file's own section")
    args = parser.parse_args()
    import os

    load = os.getloadavg()
    SETTINGS["n_gen"] = args.n_gen
    SETTINGS["tasks"] = [t for t in args.tasks.split(",") if t] or None
    model = resolve_model(args.model)
    rounds = []
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds}", flush=True)
        rounds.append(one_round(model, args.threads, reverse=bool(i % 2)))
    table = render(rounds, args.threads, load)
    print(table)
    if args.section:
        put_section(args.section, table, BEGIN, END)
        print(f"updated {args.section}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
