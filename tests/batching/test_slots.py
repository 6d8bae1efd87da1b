"""Slots one at a time: cancel, closing the iterator, the FIFO queue, stop strings, max tokens,
the context limit and the cached prefix per slot, and errors raised to their own caller."""

from __future__ import annotations

import pytest

from inference.batching.engine import BatchEngine
from inference.common.cancel import CancelToken
from inference.common.errors import NoModelLoadedError, PromptTooLongError
from inference.engine.events import Finished, FinishReason, PromptRendered, TokenEvent
from tests.batching.conftest import SEQ_CTX, Streamed, text_request, wait_until

LONG = 200                 # tokens a "busy" request asks for (it is cancelled well before)


def test_a_queued_request_waits_then_runs(batch2: BatchEngine) -> None:
    busy = [Streamed(batch2, text_request(f"Story number {i}:", LONG)) for i in range(2)]
    wait_until(lambda: batch2.active_slots() == 2)
    queued = Streamed(batch2, text_request("The queued one says", 4))
    wait_until(lambda: batch2.queue_length() == 1)
    assert queued.tokens_seen == 0
    busy[0].cancel.cancel()
    done = queued.result()
    assert done.reason is FinishReason.LENGTH and done.stats.output_tokens == 4
    assert busy[0].result().reason is FinishReason.CANCELLED
    busy[1].cancel.cancel()
    assert busy[1].result().reason is FinishReason.CANCELLED
    assert batch2.queue_length() == 0 and batch2.active_slots() == 0


def test_a_cancel_frees_its_slot_at_once_and_the_queued_request_starts(
        batch2: BatchEngine) -> None:
    cancel = CancelToken()
    victim = batch2.submit(text_request("A very long tale begins", LONG), cancel)
    assert isinstance(next(victim), PromptRendered)
    first = next(victim)                       # running now
    assert isinstance(first, TokenEvent)
    other = Streamed(batch2, text_request("Another long tale", LONG))
    wait_until(lambda: batch2.active_slots() == 2)
    queued = Streamed(batch2, text_request("Waiting in line", 3))
    wait_until(lambda: batch2.queue_length() == 1)
    cancel.cancel()
    rest = list(victim)
    assert isinstance(rest[-1], Finished) and rest[-1].reason is FinishReason.CANCELLED
    assert rest[-1].stats.output_tokens < LONG
    done = queued.result()                     # got the freed slot while `other` still runs
    assert done.reason is FinishReason.LENGTH
    assert other.finished is None
    other.cancel.cancel()
    assert other.result().reason is FinishReason.CANCELLED


def test_closing_the_iterator_frees_the_slot(batch2: BatchEngine) -> None:
    stream = batch2.submit(text_request("Closing early, the reader", LONG))
    for event in stream:
        if isinstance(event, TokenEvent):
            break
    assert batch2.active_slots() == 1
    stream.close()
    wait_until(lambda: batch2.active_slots() == 0, timeout=10)
    after = Streamed(batch2, text_request("Next in the slot", 3)).result()
    assert after.reason is FinishReason.LENGTH and after.stats.output_tokens == 3


def test_stop_strings_and_max_tokens_apply_per_slot(batch2: BatchEngine) -> None:
    alone = Streamed(batch2, text_request("The capital of France is", 12)).result().text
    stop = alone.split()[2]                    # a word from the middle of its own reply
    stopped = Streamed(batch2, text_request("The capital of France is", 12, stop=(stop,)))
    capped = Streamed(batch2, text_request("Once upon a time", 3))
    s, c = stopped.result(), capped.result()
    assert s.reason is FinishReason.STOP and stop not in s.text
    assert alone.startswith(s.text) and len(s.text) < len(alone)
    assert c.reason is FinishReason.LENGTH and c.stats.output_tokens == 3


def test_the_context_limit_is_per_sequence(batch2: BatchEngine) -> None:
    assert batch2.n_ctx_seq == SEQ_CTX
    text = " ".join(["river"] * 150)
    n_prompt = len(batch2.tokenize(text))
    full = Streamed(batch2, text_request(text, 500, repeat_penalty=1.0))
    short = Streamed(batch2, text_request("A short one", 4))
    f = full.result()
    assert f.reason is FinishReason.CONTEXT_FULL
    assert f.stats.n_ctx == SEQ_CTX and f.stats.context_tokens <= SEQ_CTX
    assert f.stats.output_tokens == SEQ_CTX - n_prompt
    assert short.result().reason is FinishReason.LENGTH


def test_each_slot_reuses_its_own_cached_prefix(batch2: BatchEngine) -> None:
    prompts = ["Slot one remembers the green river", "Slot two remembers the silver stone"]
    first = [Streamed(batch2, text_request(p, 3)) for p in prompts]
    for f in first:
        assert f.result().stats.cached_tokens <= 1      # at most a BOS already there
    again = [Streamed(batch2, text_request(p, 3)) for p in reversed(prompts)]
    for p, a in zip(reversed(prompts), again, strict=True):
        stats = a.result().stats
        assert stats.cached_tokens == len(batch2.tokenize(p)) - 1   # all but the last token


def test_a_prompt_too_long_is_raised_to_its_caller_only(batch2: BatchEngine) -> None:
    good = Streamed(batch2, text_request("A fine request", 6))
    too_long = batch2.submit(text_request(" ".join(["stone"] * 400), 4))
    with pytest.raises(PromptTooLongError, match="context holds 256"):
        next(too_long)
    assert good.result().reason is FinishReason.LENGTH


def test_no_model_is_raised_on_first_next() -> None:
    engine = BatchEngine(2)
    stream = engine.submit(text_request("nothing loaded"))
    with pytest.raises(NoModelLoadedError):
        next(stream)
    assert engine.queue_length() == 0 and engine.active_slots() == 0


def test_every_batch_goes_in_sequence_order(starter_model_path, monkeypatch) -> None:
    """Three replies at once, the scheduler's round robin turning: each step's batch still
    lists its sequences in ascending order (out of order, llama.cpp splits the batch into
    several ubatches, each a whole pass through the model)."""
    from tests.batching.conftest import load_batch

    engine = load_batch(starter_model_path, 3)
    try:
        ctx = engine._require()[0].ctx
        batches: list[list[int]] = []
        decode = ctx.decode_mixed

        def recorded(tokens, positions, seqs, outputs):   # type: ignore[no-untyped-def]
            batches.append(list(seqs))
            return decode(tokens, positions, seqs, outputs)

        monkeypatch.setattr(ctx, "decode_mixed", recorded)
        replies = [Streamed(engine, text_request(p, 6)) for p in
                   ("The first of three", "A second one, a little longer", "Third")]
        for reply in replies:
            assert reply.result().stats.output_tokens == 6
    finally:
        engine.close()
    several = [b for b in batches if len(set(b)) > 1]
    assert len(several) >= 4                       # the three generated side by side
    assert all(b == sorted(b) for b in batches), [b for b in batches if b != sorted(b)][:3]


def test_a_fresh_prompt_takes_the_lowest_free_slot_and_a_cached_one_its_own() -> None:
    """Slot choice keeps the busy sequences together (llama.cpp computes only consecutive
    sequence ids in one ubatch): a prompt that shares no worthwhile prefix takes the lowest
    free slot, even where others cached more of it than the BOS; a long shared prefix, or the
    whole prompt, takes the slot that has it."""
    from inference.batching.jobs import REUSE_MIN_TOKENS, Slot, choose_slot

    slots = [Slot(i) for i in range(6)]
    slots[3].kv_tokens = [1, 5, 6]                       # a BOS and two tokens in common
    slots[4].kv_tokens = [1, *range(100, 100 + REUSE_MIN_TOKENS + 4)]
    fresh = [1, 5, 6, 7, 8]
    assert choose_slot([slots[2], slots[3], slots[5]], fresh) is slots[2]
    assert choose_slot([slots[5], slots[3]], fresh) is slots[3]       # the lowest free one
    long = [1, *range(100, 100 + REUSE_MIN_TOKENS), 9]
    assert choose_slot(slots, long) is slots[4]
    again = [1, 5, 6, 9]                                  # all of it but the last token cached
    assert choose_slot([slots[0], slots[3]], again) is slots[3]
