"""What the GUI asks of a perplexity run through EngineClient, and how it hears the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _ignore(*_: Any) -> None:
    return None


@dataclass(frozen=True)
class PerplexityOptions:
    """How to measure perplexity (Engine.perplexity's keyword arguments)."""

    n_ctx: int = 512
    n_batch: int = 2048
    mode: str = "auto"              # auto | chunked | full
    per_token: bool = True          # per-token scores, for the heatmap


@dataclass
class PerplexityHandlers:
    """How one perplexity run ends, called on the GUI thread (a crash → on_failed). Progress
    comes as EngineClient.perplexityProgress."""

    on_finished: Callable[[Any], None] = _ignore          # PerplexityResult
    on_cancelled: Callable[[], None] = _ignore
    on_failed: Callable[[str], None] = _ignore
