"""GenerationStats and the clock that measures them, exactly as docs/ARCHITECTURE.md § Figures
defines them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

# Tooltips / docs: one definition per figure, shown wherever the figure is.
DEFINITIONS: dict[str, str] = {
    "ttft_s": "Time to first token: from the moment the engine starts on the request until the "
              "first token's text is ready (tokenizing + prefill + first sample).",
    "ttfa_s": "Time to first answer token: from the moment the engine starts on the request "
              "until the answer's first text is ready, after any thinking; the same as TTFT "
              "when the model does not think.",
    "tpot_s": "Time per output token: (last token − first token) ÷ (output tokens − 1).",
    "gen_tps": "Generation speed: 1 ÷ TPOT, tokens per second after the first.",
    "prefill_tps": "Prefill speed: prompt tokens evaluated ÷ (first token − start); tokens "
                   "reused from the cache are not counted.",
    "prompt_tokens": "Tokens in the prompt, including those reused from the cache.",
    "cached_tokens": "Prompt tokens reused from the previous request's KV cache (not recomputed).",
    "output_tokens": "Tokens the model generated for this reply.",
    "itl_p50_s": "Median inter-token latency (time between consecutive tokens).",
    "itl_p95_s": "95th percentile inter-token latency.",
    "context_used": "Tokens in the KV cache ÷ context size (n_ctx).",
    "acceptance_rate": "Speculative decoding: drafted tokens the model kept ÷ tokens drafted.",
    "mean_accepted": "Speculative decoding: drafted tokens kept per verified draft (each "
                     "verification also yields one token of the model's own).",
}


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    ttft_s: float | None = None
    ttfa_s: float | None = None      # time to first answer token (after any thinking)
    prefill_tps: float | None = None
    tpot_s: float | None = None
    gen_tps: float | None = None
    itl_p50_s: float | None = None
    itl_p95_s: float | None = None
    total_s: float = 0.0
    n_ctx: int = 0
    context_tokens: int = 0          # tokens in the KV cache when the reply ended
    draft_tokens: int = 0            # speculative decoding: tokens drafted …
    accepted_tokens: int = 0         # … of which the model kept these
    acceptance_rate: float | None = None
    mean_accepted: float | None = None

    @property
    def context_used(self) -> float:
        return self.context_tokens / self.n_ctx if self.n_ctx else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationStats:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def summary(self) -> str:
        """One line for the CLI and the message footer."""
        parts = [f"prompt {self.prompt_tokens} tok"]
        if self.cached_tokens:
            parts[-1] += f" ({self.cached_tokens} cached)"
        parts.append(f"output {self.output_tokens} tok")
        if self.ttft_s is not None:
            parts.append(f"TTFT {self.ttft_s * 1000:.0f} ms")
        if self.ttfa_s is not None and self.ttfa_s != self.ttft_s:   # it thought first
            parts.append(f"TTFA {self.ttfa_s * 1000:.0f} ms")
        if self.tpot_s is not None:
            parts.append(f"TPOT {self.tpot_s * 1000:.1f} ms")
        if self.gen_tps is not None:
            parts.append(f"{self.gen_tps:.1f} tok/s")
        if self.prefill_tps is not None:
            parts.append(f"prefill {self.prefill_tps:.0f} tok/s")
        if self.acceptance_rate is not None:
            parts.append(f"drafts {self.acceptance_rate:.0%} kept")
        return " · ".join(parts)


@dataclass
class StatsClock:
    """Collects timestamps during one generation and turns them into GenerationStats."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    n_ctx: int = 0
    t0: float = field(default_factory=time.perf_counter)
    token_times: list[float] = field(default_factory=list)
    answer_time: float | None = None     # when the answer's first text was ready
    drafts: int = 0                      # speculative decoding: drafts verified,
    drafted: int = 0                     # the tokens they held,
    accepted: int = 0                    # and those the model kept

    def verified(self, drafted: int, accepted: int) -> None:
        """One draft of `drafted` tokens was verified and its first `accepted` kept."""
        self.drafts += 1
        self.drafted += drafted
        self.accepted += accepted

    def token(self) -> float:
        now = time.perf_counter()
        self.token_times.append(now)
        return now

    def answer_began(self, after_thinking: bool) -> None:
        """The answer's first text is out: with thinking before it, at the latest token; with
        none, the answer began with the reply (its first token). Later calls change nothing."""
        if self.answer_time is None and self.token_times:
            self.answer_time = self.token_times[-1] if after_thinking else self.token_times[0]

    def snapshot(self, context_tokens: int = 0) -> GenerationStats:
        times = self.token_times
        n = len(times)
        prefill = self.prompt_tokens - self.cached_tokens
        ttft = times[0] - self.t0 if n else None
        tpot = (times[-1] - times[0]) / (n - 1) if n > 1 else None
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        return GenerationStats(
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            output_tokens=n,
            ttft_s=ttft,
            ttfa_s=self.answer_time - self.t0 if self.answer_time is not None else None,
            prefill_tps=(prefill / ttft) if ttft and prefill > 0 else None,
            tpot_s=tpot,
            gen_tps=(1.0 / tpot) if tpot else None,
            itl_p50_s=statistics.median(gaps) if gaps else None,
            itl_p95_s=_percentile(gaps, 95) if gaps else None,
            total_s=(times[-1] if n else time.perf_counter()) - self.t0,
            n_ctx=self.n_ctx,
            context_tokens=context_tokens,
            draft_tokens=self.drafted,
            accepted_tokens=self.accepted,
            acceptance_rate=self.accepted / self.drafted if self.drafted else None,
            mean_accepted=self.accepted / self.drafts if self.drafts else None,
        )


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
