"""The scheduler thread: one `llama_decode` per step for every slot's next token plus chunks of
prompts still being evaluated, as llama-server's `update_slots` does.

Each step, in round-robin order over the slots: a slot that was cancelled (or whose caller closed
its iterator) is finished and freed; every generating slot puts its one sampled token into the
batch first; what is left of n_batch goes to prompt chunks, so a long prompt is evaluated across
steps and never holds back the others' tokens by more than one batch. After the decode each slot
with an output row samples from that row with its own chain. Only this thread touches the
context; callers only see their job's queue.

With speculative decoding (prompt lookup; `drafter` makes each slot's own), a generating slot
puts its token and then a draft of what may follow into the batch, with logits for every row,
and keeps each drafted token its own sampler draws from the row before it — the rule of the
single-sequence loop (inference/engine/speculation.py), per slot; the cells of what it did not
keep are dropped from its sequence.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from inference.batching.jobs import Job, Slot, SlotState, choose_slot
from inference.batching.logprobs import logprobs_of
from inference.common.cancel import CancelToken
from inference.common.errors import GenerationError, NoModelLoadedError
from inference.engine.engine import ReplyRun, Session, decode_failure, reuse_prefix
from inference.engine.events import FinishReason
from inference.speculative.drafter import Drafter

IDLE_WAIT_S = 0.1        # how long an idle scheduler sleeps before looking again


class Scheduler:
    """Owns the session's context from a thread of its own and serves `Job`s in its slots."""

    def __init__(self, session: Session, n_slots: int,
                 drafter: Callable[[], Drafter] | None = None) -> None:
        self._s = session
        self._slots = [Slot(i, drafter=drafter() if drafter else None) for i in range(n_slots)]
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._abort = CancelToken()           # interrupts a running decode when stopping
        self._turn = 0                        # the slot the next step starts its round at
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="BatchScheduler", daemon=True)
        self._thread.start()

    # -- the callers' side ------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        with self._cond:
            if self._stopping or not self._thread.is_alive():
                raise NoModelLoadedError()
            self._queue.append(job)
            self._cond.notify()

    def wake(self) -> None:
        """Look again now (a job was cancelled)."""
        with self._cond:
            self._cond.notify()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def queue_length(self) -> int:
        with self._cond:
            return len(self._queue)

    def active_slots(self) -> int:
        with self._cond:
            return sum(1 for slot in self._slots if slot.job is not None)

    def stop(self, timeout_s: float = 30.0) -> None:
        """End every job (reason cancelled) and the thread; the context is then free."""
        with self._cond:
            self._stopping = True
            self._abort.cancel()
            self._cond.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise GenerationError(f"the batch scheduler did not stop within {timeout_s:.0f} s")

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        self._s.ctx.set_abort(self._abort)
        try:
            while self._next_round():
                self._step()
        except BaseException as exc:  # a bug or a native failure: no caller may hang on it
            self.failure = exc
            for slot in self._slots:
                if slot.job is not None:
                    slot.job.send(exc)
                    slot.job.send(None)
                    slot.release()
        finally:
            self._s.ctx.set_abort(None)
            for slot in self._slots:
                if slot.drafter is not None:
                    slot.drafter.close()
            with self._cond:
                self._stopping = True
                pending, self._queue = list(self._queue), deque()
            for slot in self._slots:
                if slot.job is not None:
                    self._finish(slot, FinishReason.CANCELLED)
            for job in pending:
                job.cancelled_while_queued()

    def _next_round(self) -> bool:
        """Admit queued jobs into free slots; wait while there is nothing to do. False: stop."""
        while True:
            with self._cond:
                if self._stopping:
                    return False
                admitted = self._take_queued()
                busy = any(slot.job is not None for slot in self._slots)
                if not admitted and not busy:
                    self._cond.wait(IDLE_WAIT_S)
                    continue
            for slot, job in admitted:
                self._start(slot, job)
            return True

    def _take_queued(self) -> list[tuple[Slot, Job]]:
        """Under the lock: cancelled queued jobs end; the oldest others get free slots."""
        for job in [j for j in self._queue if j.cancel.cancelled]:
            self._queue.remove(job)
            job.cancelled_while_queued()
        taken: list[tuple[Slot, Job]] = []
        while self._queue:
            free = [s for s in self._slots if s.job is None]
            if not free:
                break
            job = self._queue.popleft()
            slot = choose_slot(free, job.built.tokens)
            slot.job = job                     # counted as active from here on
            taken.append((slot, job))
        return taken

    def _start(self, slot: Slot, job: Job) -> None:
        """Keep the slot's longest cached prefix of the prompt and make the reply's run."""
        s = self._s
        try:
            reuse = reuse_prefix(s.ctx, s.model.n_swa, slot.kv_tokens, job.built.tokens,
                                 slot.seq_id)
            run = ReplyRun(s, job.request, job.built, job.cancel, started=job.started,
                           cached=reuse, n_ctx=job.n_ctx, logprobs_top=job.top_logprobs)
        except Exception as exc:  # e.g. a sampler chain llama.cpp refused
            job.send(exc)
            job.send(None)
            slot.release()
            return
        slot.assign(job, run)
        if slot.drafter is not None:
            slot.drafter.begin(job.built.tokens)

    def _step(self) -> None:
        n = len(self._slots)
        order = [self._slots[(self._turn + i) % n] for i in range(n)]
        self._turn = (self._turn + 1) % n
        for slot in order:
            if slot.job is not None and slot.job.cancel.cancelled:
                self._finish(slot, FinishReason.CANCELLED)
        generating = [s for s in order if s.state is SlotState.GENERATING]
        budget = self._s.ctx.n_batch - len(generating)     # every slot's token comes first
        parts: list[tuple[Slot, list[int]]] = []           # each slot's tokens for this step
        for slot in generating:
            slot.draft = self._draft(slot, budget)
            budget -= len(slot.draft)
            parts.append((slot, [slot.next_token, *slot.draft]))
        chunks: list[tuple[Slot, list[int]]] = []
        for slot in (s for s in order if s.state is SlotState.PREFILL):
            if budget <= 0:
                break
            assert slot.run is not None
            begin = len(slot.kv_tokens)
            chunk = slot.run.built.tokens[begin:begin + budget]
            chunks.append((slot, chunk))
            budget -= len(chunk)
        # The round-robin order shares out the budget; the batch itself goes in sequence order:
        # llama.cpp splits a batch whose sequences are not in ascending order into several
        # ubatches of a whole pass each (measured: 8 sequences rotated cost 1.6× a step).
        tokens: list[int] = []
        positions: list[int] = []
        seqs: list[int] = []
        outputs: list[bool] = []
        rows: list[tuple[Slot, int]] = []            # a slot and its output's batch index
        for slot, part in sorted([*parts, *chunks], key=lambda p: p[0].seq_id):
            begin, first = len(slot.kv_tokens), len(tokens)
            tokens += part
            positions += range(begin, begin + len(part))
            seqs += [slot.seq_id] * len(part)
            if slot.state is SlotState.GENERATING:      # logits for the token and each draft
                outputs += [True] * len(part)
                rows.append((slot, first))
            else:
                assert slot.run is not None
                done = begin + len(part) == len(slot.run.built.tokens)
                outputs += [False] * (len(part) - 1) + [done]
                if done:
                    rows.append((slot, len(tokens) - 1))
        if not tokens:
            return
        code = self._s.ctx.decode_mixed(tokens, positions, seqs, outputs)
        if code != 0:
            self._decode_failed(code, [*generating, *(slot for slot, _ in chunks)])
            return
        for slot in generating:
            slot.kv_tokens.append(slot.next_token)
        for slot, chunk in chunks:
            slot.kv_tokens.extend(chunk)
        for slot, index in rows:
            token = self._draw(slot, index)
            if slot.draft:
                token = self._verify(slot, index, token)
            if token is None:
                continue
            reason = self._send(slot, token)
            if reason is not None:
                self._finish(slot, reason)
            else:
                slot.state, slot.next_token = SlotState.GENERATING, token

    def _draft(self, slot: Slot, budget: int) -> list[int]:
        """What the slot's drafter guesses follows its next token, within the batch's `budget`,
        its sequence's cells and the reply's max tokens; [] without a drafter."""
        run = slot.run
        if slot.drafter is None or run is None:
            return []
        room = min(budget, run.n_ctx - len(slot.kv_tokens) - 1,
                   run.built.max_tokens - len(run.clock.token_times) - 1)
        if room <= 0:
            return []
        return slot.drafter.draft([*slot.kv_tokens, slot.next_token], room)[:room]

    def _verify(self, slot: Slot, index: int, token: int) -> int | None:
        """Keep the drafted tokens the slot's sampler draws in turn (`token` came from the row
        at `index`); the token drawn past them, or None when the reply ended among them."""
        run, drafter, draft = slot.run, slot.drafter, slot.draft
        assert run is not None and drafter is not None
        kept, reason = 0, None
        while kept < len(draft) and token == draft[kept]:
            kept += 1
            reason = self._send(slot, token)
            if reason is not None:
                break                          # the stopping token is not kept in the cache
            slot.kv_tokens.append(token)       # evaluated in this step's batch already
            token = self._draw(slot, index + kept)
        run.clock.verified(len(draft), kept)
        drafter.verified(len(draft), kept)
        self._s.ctx.keep_prefix(len(slot.kv_tokens), seq_id=slot.seq_id)
        slot.draft = []
        if reason is not None:
            self._finish(slot, reason)
            return None
        return token

    def _draw(self, slot: Slot, index: int) -> int:
        """The slot's next token from batch row `index`, its log-probabilities sent if asked."""
        run, job = slot.run, slot.job
        assert run is not None and job is not None
        token = run.sample(self._s.ctx, index)
        if job.top_logprobs is not None and not run.model.is_eog(token):
            assert run.recorder is not None and run.recorder.last is not None
            job.send(logprobs_of(run.recorder.last, job.top_logprobs, run.token_bytes(token),
                                 lambda t: run.model.piece(t, special=True)))
        return token

    def _send(self, slot: Slot, token: int) -> FinishReason | None:
        """Send the events of the slot's sampled `token`; the reason its reply ends, if it does."""
        run, job = slot.run, slot.job
        assert run is not None and job is not None
        events, reason = run.take(token, len(slot.kv_tokens))
        for event in events:
            job.send(event)
        return reason

    def _finish(self, slot: Slot, reason: FinishReason) -> None:
        run, job = slot.run, slot.job
        assert run is not None and job is not None
        for event in run.finish(reason, len(slot.kv_tokens)):
            job.send(event)
        job.send(None)
        with self._cond:
            slot.release()

    def _decode_failed(self, code: int, involved: list[Slot]) -> None:
        """Each slot of a failed batch keeps the prefix complete before it and ends."""
        ctx = self._s.ctx
        for slot in involved:
            if code < 0 or not ctx.keep_prefix(len(slot.kv_tokens), seq_id=slot.seq_id):
                ctx.clear_seq(slot.seq_id)
                slot.kv_tokens.clear()
            job = slot.job
            assert job is not None
            cancel = self._abort if self._abort.cancelled else job.cancel
            try:
                reason = decode_failure(code, cancel, len(slot.kv_tokens))
            except GenerationError as exc:
                job.send(exc)
                job.send(None)
                with self._cond:
                    slot.release()
                continue
            self._finish(slot, reason)
