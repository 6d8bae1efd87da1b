"""The small lines under a message: its stats and how it ended.

The footer is painted in a box no narrower than `FOOTER_WIDTH` (the chat is never narrower than
the window's `panel_layout.CENTER_MIN`), so its figures are packed into lines that fit that
width at the footer's font, a figure never cut in two: on a small window "max tokens reached"
is a line of its own, not "max tol"."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication

from app.chat.transcript import TranscriptMessage
from inference.engine.metrics import GenerationStats

FOOT_H = 18                 # the first line and its margins
FOOTER_WIDTH = 400          # the narrowest footer box, at the chat's minimum width, less margins
SEP = " · "

REASONS = {"cancelled": "stopped", "length": "max tokens reached",
           "context_full": "context full", "error": "interrupted by an error",
           "interrupted": "cut off: the connection dropped"}


def footer_text(stats: dict | None, reason: str | None, streaming: bool,
                thought: bool = False) -> str:
    """The stats and how it ended, in lines that fit `FOOTER_WIDTH`; for a reply that
    `thought`, the time to its first answer token beside its TTFT."""
    if streaming:
        return "generating…"
    parts = []
    if stats:
        parts.append(_summary(GenerationStats.from_dict(stats), thought))
    if reason in REASONS:
        parts.append(REASONS[reason])
    figures = SEP.join(parts).split(SEP)
    counts = [f for f in figures if f.startswith(("prompt ", "output "))]
    # the metrics panel's order: times and speeds, then token counts, then how it ended
    return _wrap([f for f in figures if f not in counts and f not in REASONS.values()]
                 + counts + [f for f in figures if f in REASONS.values()])


def footer_font() -> QFont:
    """The footer's font: the application's, 1.5 pt smaller (as the transcript paints it)."""
    font = QFont(QApplication.font())
    font.setPointSizeF(max(font.pointSizeF() - 1.5, 7))
    return font


def _wrap(parts: list[str]) -> str:
    """`parts` joined by " · ", a new line wherever the next one would pass `FOOTER_WIDTH`;
    a line never starts with a figure's companion (TTFT's "first answer")."""
    metrics = QFontMetrics(footer_font())
    lines: list[str] = []
    for part in parts:
        if lines and (part.startswith("first answer")
                      or metrics.horizontalAdvance(lines[-1] + SEP + part) <= FOOTER_WIDTH):
            lines[-1] += SEP + part
        else:
            lines.append(part)
    return "\n".join(lines)


def _summary(stats: GenerationStats, thought: bool) -> str:
    parts = replace(stats, ttfa_s=None).summary().split(" · ")
    if thought and stats.ttfa_s is not None:
        answer = f"first answer {stats.ttfa_s * 1000:.0f} ms"
        after = next((i + 1 for i, part in enumerate(parts) if part.startswith("TTFT")),
                     len(parts))
        parts.insert(after, answer)
    return " · ".join(parts)


def footer_height(msg: TranscriptMessage) -> int:
    """Height of the footer lines of a transcript row: 0 when there is nothing to say."""
    if not (msg.streaming or msg.stats or msg.finish_reason):
        return 0
    lines = footer_text(msg.stats, msg.finish_reason, msg.streaming,
                        thought=bool(msg.reasoning)).count("\n") + 1
    return FOOT_H + (lines - 1) * QFontMetrics(footer_font()).lineSpacing()
