"""N-gram (prompt lookup) drafting: copy what followed the longest recent match of the last few
tokens, in the prompt and the reply so far, else what a conversation's n-gram cache predicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from inference.speculative.length import DraftLength

MATCH_SIZES = (5, 4, 3, 2)   # n-gram sizes tried for a match, longest first
CACHE_SIZES = (4, 3, 2)      # n-gram sizes the conversation cache counts continuations for
CACHE_MIN_COUNT = 2          # a cached continuation is drafted once it was seen this often


class NgramLookup:
    """Drafts without a second model (implements `Drafter`).

    The index maps each n-gram of the current sequence to the position after its latest
    occurrence, so a lookup is a few dict probes however long the prompt is. The cache counts,
    per n-gram, the tokens that followed it in every reply of this conversation (kept across
    replies, so a regenerated reply can reuse the one it replaces; a prompt that does not begin
    with the previous one starts a new conversation and a new cache), and drafts a chain of
    confident continuations when the sequence itself has no match.
    """

    def __init__(self, draft_max: int) -> None:
        self.length = DraftLength(draft_max)
        self._tokens: list[int] = []
        self._index: dict[tuple[int, ...], int] = {}
        self._cache: dict[tuple[int, ...], Counter[int]] = {}
        self._conversation: list[int] = []      # the last reply's prompt
        self._reply_from = 0                    # where the reply begins in the sequence

    # -- Drafter ----------------------------------------------------------------------------
    def begin(self, prompt: Sequence[int]) -> None:
        previous = self._conversation
        if list(prompt[:len(previous)]) != previous or not previous:
            self._cache.clear()                 # another conversation
        self._conversation = list(prompt)
        self._tokens, self._index = [], {}
        self._reply_from = len(prompt)

    def draft(self, tokens: Sequence[int], limit: int) -> list[int]:
        self._catch_up(tokens)
        limit = min(limit, self.length.allowed())
        if limit <= 0:
            return []
        return self._from_sequence(limit) or self._from_cache(limit)

    def verified(self, drafted: int, accepted: int) -> None:
        self.length.update(drafted, accepted)

    def close(self) -> None:
        self._index.clear()
        self._cache.clear()

    # -- inside -----------------------------------------------------------------------------
    def _catch_up(self, tokens: Sequence[int]) -> None:
        """Index the tokens added since the last call (all of them if `tokens` changed)."""
        known = self._tokens
        if len(tokens) < len(known) or (known and tokens[len(known) - 1] != known[-1]):
            self._tokens = known = []
            self._index = {}
        # The n-grams ending at the last token are indexed only after the next one arrives, so
        # a lookup of the current suffix finds an earlier occurrence, never itself.
        for end in range(len(known), len(tokens)):
            known.append(tokens[end])
            self._learn(end)

    def _learn(self, end: int) -> None:
        """Record the n-grams that end just before position `end` as followed by its token."""
        seq, token = self._tokens, self._tokens[end]
        for n in MATCH_SIZES:
            if end >= n:
                self._index[tuple(seq[end - n:end])] = end
        if end < self._reply_from:
            return
        for n in CACHE_SIZES:
            if end >= n:
                self._cache.setdefault(tuple(seq[end - n:end]), Counter())[token] += 1

    def _from_sequence(self, limit: int) -> list[int]:
        seq = self._tokens
        for n in MATCH_SIZES:
            if len(seq) <= n:
                continue
            start = self._index.get(tuple(seq[-n:]))
            if start is not None:
                return seq[start:start + limit]
        return []

    def _from_cache(self, limit: int) -> list[int]:
        context = list(self._tokens[-max(CACHE_SIZES):])
        drafted: list[int] = []
        while len(drafted) < limit:
            token = self._cached_next(context)
            if token is None:
                break
            drafted.append(token)
            context = [*context[1:], token]
        return drafted

    def _cached_next(self, context: list[int]) -> int | None:
        for n in CACHE_SIZES:
            if len(context) < n:
                continue
            seen = self._cache.get(tuple(context[-n:]))
            if seen:
                token, count = seen.most_common(1)[0]
                if count >= CACHE_MIN_COUNT and count * 2 > sum(seen.values()):
                    return token
        return None
