"""The decode loop with speculative decoding: a drafter proposes tokens, the model evaluates the
current token and the draft in one batch, and each drafted position is kept while the model's
own sampler, drawing from that position's logits, picks the drafted token.

Lossless: every token of the reply is drawn by the reply's own sampler chain from the logits
of the very prefix it follows, in order, once — exactly as without speculation — so greedy
text is the same token for token and sampled text has the same distribution (the rejection rule
for a deterministic draft, inference/speculative/rejection.py). Tokens go through
`ReplyRun.take` one by one, so stop strings, max tokens, the context limit, cancel and the
per-token clock behave as in the plain loop; cache cells of rejected drafts are removed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from inference.engine.events import FinishReason, GenerationEvent
from inference.llama.native import NativeContext
from inference.speculative.drafter import Drafter

if TYPE_CHECKING:
    from inference.engine.engine import ReplyRun

DecodeFailed = Callable[[int, int], FinishReason]   # (llama_decode's code, position) → reason


def speculative_decode(ctx: NativeContext, kv_tokens: list[int], run: ReplyRun,
                       drafter: Drafter, failed: DecodeFailed
                       ) -> Generator[GenerationEvent, None, FinishReason]:
    """Generate the reply after the prompt's prefill; `kv_tokens` (the cache's tokens) is kept
    exact. Returns the reason it stopped."""
    sequence = list(run.built.tokens)            # what the drafter sees: prompt, reply so far
    drafter.begin(sequence)
    token = run.sampler.sample(ctx)
    while True:
        events, reason = run.take(token, len(kv_tokens))
        yield from events
        if reason is not None:
            return reason
        start = len(kv_tokens)                   # `token`'s position
        sequence.append(token)
        room = min(ctx.n_ctx - start - 1, ctx.n_batch - 1,
                   run.built.max_tokens - len(run.clock.token_times) - 1)
        draft = drafter.draft(sequence, room)[:room] if room > 0 else []
        code = ctx.decode([token, *draft], start, logits="all" if draft else "last")
        if code != 0:
            return failed(code, start)
        kv_tokens.append(token)
        if not draft:
            token = run.sampler.sample(ctx)
            continue
        kept, reason = 0, None
        token = run.sampler.sample(ctx, 0)
        while kept < len(draft) and token == draft[kept]:
            kept += 1
            events, reason = run.take(token, start + kept)
            yield from events
            if reason is not None:
                break                            # the stopping token is not kept in the cache
            kv_tokens.append(token)
            sequence.append(token)
            token = run.sampler.sample(ctx, kept)
        run.clock.verified(len(draft), kept)
        drafter.verified(len(draft), kept)
        ctx.keep_prefix(len(kv_tokens))          # drop the cells of what was not kept
        if reason is not None:
            return reason
