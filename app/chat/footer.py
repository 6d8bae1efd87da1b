"""The small line under a message: its stats and how it ended."""

from __future__ import annotations

from app.chat.transcript import TranscriptMessage
from inference.engine.metrics import GenerationStats

FOOT_H = 18

REASONS = {"cancelled": "stopped", "length": "max tokens reached",
           "context_full": "context full", "error": "interrupted by an error"}


def footer_text(stats: dict | None, reason: str | None, streaming: bool) -> str:
    if streaming:
        return "generating…"
    parts = []
    if stats:
        parts.append(GenerationStats.from_dict(stats).summary())
    if reason in REASONS:
        parts.append(REASONS[reason])
    return " · ".join(parts)


def footer_height(msg: TranscriptMessage) -> int:
    """Height of the footer line of a transcript row: 0 when there is nothing to say."""
    return FOOT_H if msg.streaming or msg.stats or msg.finish_reason else 0
