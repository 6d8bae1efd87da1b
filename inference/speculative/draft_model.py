"""Draft-model drafting: a smaller GGUF of the same vocabulary proposes its greedy continuation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inference.common.errors import ModelLoadError
from inference.llama.native import NativeContext, NativeModel
from inference.speculative.length import DraftLength
from inference.speculative.vocab import check_same_vocabulary


class DraftModel:
    """Implements `Drafter` with a second model in a context of its own. Its cache keeps the
    sequence it last saw, so each draft only evaluates the tokens added since (the accepted
    draft and the main model's own token) before drafting greedily, one token at a time."""

    def __init__(self, path: Path, main: NativeModel, *, draft_max: int, n_ctx: int,
                 n_batch: int, n_ubatch: int, n_threads: int, n_gpu_layers: int = 0) -> None:
        self.length = DraftLength(draft_max)
        self.model = NativeModel(path, n_gpu_layers=n_gpu_layers)
        try:
            check_same_vocabulary(main, self.model)
            self.ctx = NativeContext(self.model, n_ctx=n_ctx, n_batch=n_batch,
                                     n_ubatch=n_ubatch, n_threads=n_threads)
        except ModelLoadError:
            self.model.close()
            raise
        self._cached: list[int] = []        # the tokens in the draft context's cache

    # -- Drafter ----------------------------------------------------------------------------
    def begin(self, prompt: Sequence[int]) -> None:
        pass                                 # the cache is matched against each sequence

    def draft(self, tokens: Sequence[int], limit: int) -> list[int]:
        limit = min(limit, self.length.allowed(), self.ctx.n_ctx - len(tokens))
        if limit <= 0 or not self._evaluate(tokens):
            return []
        drafted: list[int] = []
        while True:
            rows = self.ctx.logits_rows(-1, 1)
            if rows is None:
                break
            token = int(rows[0].argmax())
            if self.model.is_eog(token):
                break
            drafted.append(token)
            if len(drafted) >= limit:
                break
            if self.ctx.decode([token], len(self._cached)) != 0:
                break
            self._cached.append(token)
        return drafted

    def verified(self, drafted: int, accepted: int) -> None:
        self.length.update(drafted, accepted)

    def close(self) -> None:
        self.ctx.close()
        self.model.close()

    # -- inside -----------------------------------------------------------------------------
    def _evaluate(self, tokens: Sequence[int]) -> bool:
        """Bring the draft cache to `tokens` (keeping the common prefix), logits at the end."""
        cached = self._cached
        n = 0
        limit = min(len(cached), len(tokens) - 1)
        while n < limit and cached[n] == tokens[n]:
            n += 1
        if not self.ctx.keep_prefix(n):
            self.ctx.clear()
            n = 0
        del cached[n:]
        step = self.ctx.n_batch
        for begin in range(n, len(tokens), step):
            chunk = list(tokens[begin:begin + step])
            if self.ctx.decode(chunk, begin) != 0:
                self.ctx.clear()
                cached.clear()
                return False
            cached.extend(chunk)
        return True
