"""The drafter a model's settings ask for."""

from __future__ import annotations

from pathlib import Path

from inference.llama.native import NativeContext, NativeModel
from inference.speculative.draft_model import DraftModel
from inference.speculative.drafter import Drafter
from inference.speculative.lookup import NgramLookup
from inference.speculative.settings import SpeculativeMode


def open_drafter(mode: SpeculativeMode, draft_max: int, draft_model: Path | None,
                 main: NativeModel, ctx: NativeContext, *, n_threads: int,
                 n_gpu_layers: int = 0) -> Drafter | None:
    """None when speculation is off; a draft model is loaded here (and its vocabulary checked
    against `main`'s, raising IncompatibleDraftError)."""
    if mode is SpeculativeMode.LOOKUP:
        return NgramLookup(draft_max)
    if mode is SpeculativeMode.DRAFT and draft_model is not None:
        return DraftModel(draft_model, main, draft_max=draft_max, n_ctx=ctx.n_ctx,
                          n_batch=ctx.n_batch, n_ubatch=min(512, ctx.n_batch),
                          n_threads=n_threads, n_gpu_layers=n_gpu_layers)
    return None
