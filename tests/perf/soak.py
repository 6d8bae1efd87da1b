"""Soak test: many short replies through the real EngineHost, watching for leaks (`make soak`).

Replies are short (8-16 tokens), greedy and sampled in turn. Every `--cancel-every` reply is
cancelled mid-stream, every `--reload-every` the model is unloaded and loaded again, and every
`--kill-every` the engine process is SIGKILLed: the next call must raise EngineCrashedError and a
fresh load must work. Parent RSS, engine RSS and the parent's open file descriptors are sampled
after the warm-up and at the end; after `close` no child process may be left. Uses only
EngineHost's public API (load, unload, generate, close, pid).

    .venv/bin/python tests/perf/soak.py [--replies 1000] [--model starter] [--max-seconds 1800]

Exits 1 when a goal is missed (RSS growth >= 5 %, more fds, a child left, a failed step).
"""

from __future__ import annotations

import argparse
import enum
import gc
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.common.cancel import CancelToken  # noqa: E402
from inference.common.errors import EngineCrashedError  # noqa: E402
from inference.engine.config import ModelConfig  # noqa: E402
from inference.engine.events import Finished, FinishReason, TokenEvent  # noqa: E402
from inference.engine.requests import GenerationRequest, Message  # noqa: E402
from inference.engine.sampling import SamplingParams  # noqa: E402
from inference.host.host import EngineHost  # noqa: E402
from inference.library.starter import resolve_model  # noqa: E402

RSS_GOAL_PCT = 5.0
PROMPTS = ("Tell me a long story about a lighthouse keeper.",
           "List ten fruits and say something about each one.",
           "Explain how a bicycle works, step by step.",
           "Write a poem about the sea in many verses.")
ZOMBIE_WAIT_S = 10.0


class Step(enum.Enum):
    REPLY = "reply"
    CANCEL = "cancel"
    RELOAD = "reload"
    KILL = "kill"


@dataclass(frozen=True)
class Sample:
    """One reading of the figures the soak watches."""

    reply: int
    parent_rss: int
    engine_rss: int
    parent_fds: int


@dataclass
class Tally:
    """What happened during the run."""

    replies: int = 0
    tokens: int = 0
    cancels: int = 0
    reloads: int = 0
    kills: int = 0
    failures: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000, metavar="N")
    parser.add_argument("--model", default="starter", help="'starter' or a GGUF path")
    parser.add_argument("--cancel-every", type=int, default=10, metavar="N")
    parser.add_argument("--reload-every", type=int, default=50, metavar="N")
    parser.add_argument("--kill-every", type=int, default=100, metavar="N")
    parser.add_argument("--warmup", type=int, default=110, metavar="N",
                        help="replies before the first sample (clipped to half the run)")
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="stop after this long, whatever --replies says")
    parser.add_argument("--threads", type=int, default=1,
                        help="engine threads (1: short replies on a busy machine run best)")
    parser.add_argument("--ctx", type=int, default=512)
    return parser.parse_args(argv)


def step_for(n: int, args: argparse.Namespace) -> Step:
    """What reply number n (1-based) does besides replying."""
    if args.kill_every and n % args.kill_every == 0:
        return Step.KILL
    if args.reload_every and n % args.reload_every == 0:
        return Step.RELOAD
    if args.cancel_every and n % args.cancel_every == 0:
        return Step.CANCEL
    return Step.REPLY


def request_for(n: int, cancel: bool) -> GenerationRequest:
    """A short chat request: greedy on even numbers, sampled (seeded) on odd ones."""
    greedy = n % 2 == 0
    sampling = SamplingParams(temperature=0.0 if greedy else 0.8, seed=n,
                              max_tokens=16 if cancel else 8 + n % 9)
    return GenerationRequest(messages=(Message("user", PROMPTS[n % len(PROMPTS)]),),
                             sampling=sampling)


def reply(host: EngineHost, n: int, tally: Tally, cancel_after: int | None = None) -> None:
    """One generation to its Finished; with `cancel_after`, cancel after that many tokens."""
    token = CancelToken()
    finished: Finished | None = None
    count = 0
    for event in host.generate(request_for(n, cancel_after is not None), token):
        if isinstance(event, TokenEvent):
            count += 1
            if cancel_after is not None and count == cancel_after:
                token.cancel()
        elif isinstance(event, Finished):
            finished = event
    tally.replies += 1
    tally.tokens += count
    if finished is None:
        tally.failures.append(f"reply {n}: no Finished event")
    elif cancel_after is not None:
        if finished.reason is FinishReason.CANCELLED:
            tally.cancels += 1
        elif count >= cancel_after:
            tally.failures.append(f"reply {n}: cancelled but ended {finished.reason.value}")


def kill_engine(host: EngineHost, config: ModelConfig, n: int, tally: Tally) -> None:
    """SIGKILL the engine; the next call must raise EngineCrashedError; a fresh load works."""
    pid = host.pid
    if pid is None:
        tally.failures.append(f"reply {n}: no engine pid to kill")
        return
    os.kill(pid, signal.SIGKILL)
    wait_until_dead(pid)
    try:
        reply(host, n, tally)
    except EngineCrashedError:
        tally.kills += 1
    else:
        tally.failures.append(f"reply {n}: the call after SIGKILL did not raise EngineCrashed")
    host.load(config)
    if host.pid in (None, pid):
        tally.failures.append(f"reply {n}: no fresh engine after the kill")
    reply(host, n, tally)


def wait_until_dead(pid: int) -> None:
    """Until the killed child is a zombie or gone (not reaped here: that is the host's job)."""
    deadline = time.monotonic() + ZOMBIE_WAIT_S
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)


def sample(host: EngineHost, n: int) -> Sample:
    gc.collect()
    engine_rss = 0
    if host.pid is not None:
        try:
            engine_rss = psutil.Process(host.pid).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return Sample(n, psutil.Process().memory_info().rss, engine_rss, fd_count())


def fd_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:                        # no /proc (macOS): psutil's count
        return psutil.Process().num_fds()


def left_children() -> list[str]:
    """Child processes of this one after close, except multiprocessing's resource tracker."""
    left = []
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = " ".join(proc.cmdline())
            status = proc.status()
        except psutil.NoSuchProcess:
            continue
        if "resource_tracker" in cmdline and status != psutil.STATUS_ZOMBIE:
            continue
        left.append(f"{proc.pid} ({status}): {cmdline[:80]}")
    return left


def run(args: argparse.Namespace, model: Path) -> tuple[Tally, list[str], float]:
    config = ModelConfig(model, n_ctx=args.ctx, n_threads=args.threads)
    warmup = max(1, min(args.warmup, args.replies // 2))
    period = args.kill_every or 100        # samples at the same point of each engine's life
    n = 0
    tally = Tally()
    start = time.monotonic()
    host = EngineHost()
    try:
        host.load(config)
        for n in range(1, args.replies + 1):
            if time.monotonic() - start > args.max_seconds:
                tally.failures.append(f"time limit: stopped after {n - 1} replies")
                break
            step = step_for(n, args)
            try:
                if step is Step.KILL:
                    kill_engine(host, config, n, tally)
                elif step is Step.RELOAD:
                    host.unload()
                    host.load(config)
                    tally.reloads += 1
                    reply(host, n, tally)
                else:
                    reply(host, n, tally, cancel_after=2 if step is Step.CANCEL else None)
            except Exception as exc:       # noqa: BLE001 - every failure is counted and shown
                tally.failures.append(f"reply {n} ({step.value}): {type(exc).__name__}: {exc}")
                host.load(config)
            if n >= warmup and ((n - warmup) % period == 0 or (n + 1) % period == 0):
                tally.samples.append(sample(host, n))
            if n % 100 == 0:
                print(f"  {n} replies, {time.monotonic() - start:.0f} s", flush=True)
        if tally.samples and tally.samples[-1].reply != n:
            tally.samples.append(sample(host, n))
    finally:
        host.close()
    return tally, left_children(), time.monotonic() - start


def growth(first: int, last: int) -> float:
    return 100.0 * (last - first) / first if first else 0.0


def report(tally: Tally, left: list[str], seconds: float, period: int) -> bool:
    """Print the table; True when every goal is met."""
    print(f"\nsoak: {tally.replies} replies ({tally.tokens} tokens) in {seconds:.0f} s; "
          f"{tally.cancels} cancelled mid-stream, {tally.reloads} reloads, "
          f"{tally.kills} engines killed and replaced")
    ok = not tally.failures and not left
    if len(tally.samples) < 2:
        print("too few replies to compare samples")
        return False
    first, last = tally.samples[0], tally.samples[-1]
    # the engine is replaced at each kill: compare it at the same point of its life
    same_phase = [s for s in tally.samples if (s.reply - first.reply) % period == 0]
    engine_last = same_phase[-1] if len(same_phase) > 1 else last
    print(f"\n{'first':>28}{'last':>10}{'growth':>10}  goal")
    # and at its end (the reply before its kill), after a reload in the same process
    ends = [s for s in tally.samples if (s.reply + 1) % period == 0] or [last]
    worst_end = max(ends, key=lambda s: s.engine_rss)
    rows = ((f"parent RSS (MiB), replies {first.reply}-{last.reply}", first.parent_rss,
             last.parent_rss),
            (f"engine RSS (MiB), replies {first.reply}-{engine_last.reply}", first.engine_rss,
             engine_last.engine_rss),
            (f"engine RSS (MiB), reply {first.reply} vs its fullest life's end "
             f"({worst_end.reply})", first.engine_rss, worst_end.engine_rss))
    for label, a, b in rows:
        pct = growth(a, b)
        met = pct < RSS_GOAL_PCT
        ok = ok and met
        print(f"{a / 2**20:>28.1f}{b / 2**20:>10.1f}{pct:>9.1f}%  < {RSS_GOAL_PCT:g} %: "
              f"{'met' if met else 'MISSED'}   {label}")
    met = last.parent_fds <= first.parent_fds
    ok = ok and met
    print(f"{first.parent_fds:>28}{last.parent_fds:>10}{last.parent_fds - first.parent_fds:>+10}"
          f"  no growth: {'met' if met else 'MISSED'}   parent open fds, replies "
          f"{first.reply}-{last.reply}")
    print("engine RSS at each sample (MiB): "
          + ", ".join(f"{s.reply}: {s.engine_rss / 2**20:.1f}" for s in tally.samples))
    print("parent fds at each sample: "
          + ", ".join(f"{s.reply}: {s.parent_fds}" for s in tally.samples))
    print(f"children left after close: {len(left)}" + "".join(f"\n  {c}" for c in left))
    for failure in tally.failures:
        print(f"FAILED: {failure}")
    print("soak: every goal met" if ok else "soak: a goal was missed")
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model = resolve_model(args.model)      # the starter from the usual home, assembled once
    home = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    os.environ["PARLEY_HOME"] = str(home)  # the engines' logs and state, not the user's
    print(f"soak: {args.replies} replies through EngineHost on {args.model} "
          f"(cancel every {args.cancel_every}, reload every {args.reload_every}, "
          f"kill every {args.kill_every}, at most {args.max_seconds:.0f} s)", flush=True)
    tally, left, seconds = run(args, model)
    ok = report(tally, left, seconds, args.kill_every or 100)
    if ok:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"the engines' logs are in {home}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
