"""The small line under a message: its stats and how it ended."""

from __future__ import annotations

from dataclasses import replace

from app.chat.transcript import TranscriptMessage
from inference.engine.metrics import GenerationStats

FOOT_H = 18

REASONS = {"cancelled": "stopped", "length": "max tokens reached",
           "context_full": "context full", "error": "interrupted by an error"}


def footer_text(stats: dict | None, reason: str | None, streaming: bool,
                thought: bool = False) -> str:
    """The stats summary and how it ended; for a reply that `thought`, the time to its first
    answer token beside its TTFT."""
    if streaming:
        return "generating…"
    parts = []
    if stats:
        parts.append(_summary(GenerationStats.from_dict(stats), thought))
    if reason in REASONS:
        parts.append(REASONS[reason])
    return " · ".join(parts)


def _summary(stats: GenerationStats, thought: bool) -> str:
    parts = replace(stats, ttfa_s=None).summary().split(" · ")
    if thought and stats.ttfa_s is not None:
        answer = f"first answer {stats.ttfa_s * 1000:.0f} ms"
        after = next((i + 1 for i, part in enumerate(parts) if part.startswith("TTFT")),
                     len(parts))
        parts.insert(after, answer)
    return " · ".join(parts)


def footer_height(msg: TranscriptMessage) -> int:
    """Height of the footer line of a transcript row: 0 when there is nothing to say."""
    return FOOT_H if msg.streaming or msg.stats or msg.finish_reason else 0
