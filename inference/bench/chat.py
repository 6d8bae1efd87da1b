"""A real chat turn, timed as the app times it: TTFT and TPOT from the engine's own stats.

The turn goes through `EngineHost` (the engine in a child process, as the GUI uses it) when that
module exists, else through the in-process `Engine`; `ChatBench.path` says which.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from inference.bench.memory import process_rss
from inference.engine.api import EngineAPI
from inference.engine.config import ModelConfig
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Message
from inference.engine.sampling import SamplingParams

_ASK = "Summarise these meeting notes in detail:\n"
_FILLER = ("The team agreed to move the release to the second week of the month, after the "
           "translation review. Storage costs grew again, so the archive will be compressed and "
           "old snapshots pruned. Support asked for clearer error messages when a download fails "
           "halfway, and for a way to resume it. ")
HOST_PATH = "EngineHost (engine in a child process, as the GUI)"
BENCH_ADVICE = "Nothing else was affected; run the benchmark again to retry."
ENGINE_PATH = "Engine (in-process; inference/host/host.py not available)"


@dataclass(frozen=True)
class ChatBench:
    path: str                        # which engine ran the turns
    message_chars: int               # characters of notes in each message (chat_message)
    prompt_tokens: int
    output_tokens: tuple[int, ...]   # per timed turn
    cached_tokens: tuple[int, ...]
    ttft_s: tuple[float, ...]
    tpot_s: tuple[float, ...]        # turns with ≥ 2 output tokens only
    finish_reasons: tuple[str, ...]
    engine_rss_bytes: int | None = None   # the engine process after the turns (host child)
    acceptance_rate: tuple[float, ...] = ()   # speculative decoding: per turn that drafted

    @property
    def ttft_median(self) -> float | None:
        return statistics.median(self.ttft_s) if self.ttft_s else None

    @property
    def tpot_median(self) -> float | None:
        return statistics.median(self.tpot_s) if self.tpot_s else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ttft_median_s=self.ttft_median, tpot_median_s=self.tpot_median)
        return data


def open_bench_engine(prefer_host: bool = True) -> tuple[EngineAPI, str]:
    """The engine the GUI uses (EngineHost) when available, else the in-process Engine."""
    if prefer_host:
        try:
            from inference.host.host import EngineHost
        except ImportError:
            pass
        else:
            return EngineHost(crash_advice=BENCH_ADVICE), HOST_PATH
    from inference.engine.engine import Engine

    return Engine(), ENGINE_PATH


def chat_message(run: int, chars: int) -> str:
    """The user message of chat turn `run` with `chars` characters of meeting notes.

    `run` goes first so no turn reuses the previous one's KV cache beyond the template's opening
    tokens (the bench measures prefill, not the cache).
    """
    body = (_FILLER * (chars // len(_FILLER) + 1))[:chars]
    return f"Meeting {run}. {_ASK}{body}"


def chat_request(message: str, n_gen: int, seed: int = 1234) -> GenerationRequest:
    return GenerationRequest(messages=(Message("user", message),),
                             sampling=SamplingParams(seed=seed, max_tokens=n_gen))


def calibrate_chars(engine: EngineAPI, n_prompt: int) -> int:
    """How many characters of notes make the rendered chat prompt about `n_prompt` tokens."""
    chars = max(0, n_prompt * 4)
    for _ in range(4):
        have = engine.render(chat_request(chat_message(0, chars), 1)).prompt_tokens
        if abs(have - n_prompt) <= 2:
            break
        chars = max(0, int(chars + (n_prompt - have) * max(chars, 1) / max(have, 1)))
    return chars


def run_chat_turns(config: ModelConfig, n_prompt: int, n_gen: int, reps: int, *,
                   prefer_host: bool = True,
                   progress: Callable[[str], None] | None = None) -> ChatBench:
    """Load `config`, run one untimed warm-up turn, then `reps` timed turns."""
    engine, path = open_bench_engine(prefer_host)
    finished: list[Finished] = []
    try:
        engine.load(config)
        chars = calibrate_chars(engine, n_prompt)
        _finish(engine, chat_request(chat_message(-1, chars), 2))      # warm-up, untimed
        prompt_tokens = 0
        for run in range(reps):
            if progress:
                progress(f"chat turn {run + 1}/{reps}")
            request = chat_request(chat_message(run, chars), n_gen)
            prompt_tokens = engine.render(request).prompt_tokens
            finished.append(_finish(engine, request))
        engine_rss = _engine_rss(engine)
    finally:
        engine.close()
    stats = [f.stats for f in finished]
    return ChatBench(
        path=path, message_chars=chars, prompt_tokens=prompt_tokens,
        output_tokens=tuple(s.output_tokens for s in stats),
        cached_tokens=tuple(s.cached_tokens for s in stats),
        ttft_s=tuple(s.ttft_s for s in stats if s.ttft_s is not None),
        tpot_s=tuple(s.tpot_s for s in stats if s.tpot_s is not None),
        finish_reasons=tuple(f.reason.value for f in finished), engine_rss_bytes=engine_rss,
        acceptance_rate=tuple(s.acceptance_rate for s in stats
                              if s.acceptance_rate is not None))


def _engine_rss(engine: EngineAPI) -> int | None:
    pid = getattr(engine, "pid", None)
    if pid is None:
        return None
    try:
        return process_rss(pid)
    except psutil.Error:
        return None


def _finish(engine: EngineAPI, request: GenerationRequest) -> Finished:
    for event in engine.generate(request):
        if isinstance(event, Finished):
            return event
    raise RuntimeError("the engine ended without a Finished event")
