"""How figures are written for people: time left (downloads, comparisons)."""

from __future__ import annotations


def eta_text(seconds: float | None) -> str:
    """"1:05 left", "2 h 03 min left"; "" while unknown."""
    if seconds is None:
        return ""
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s // 60 % 60:02d} min left"
    return f"{s // 60}:{s % 60:02d} left"
