"""The quant workbench's own background work: comparisons, ladders and same-prompt runs.

`CompareRunner` runs each as a job (app.engine.jobs) on a thread of its own (separate from the
chat engine's) and re-emits what comes back as its signals, on the GUI thread. The heavy work
itself runs in child processes (`inference.compare.comparison`, `inference.quantize.quantize`),
so Cancel is immediate: the GUI sets the job's CancelToken, the wait loop notices and kills the
child.

What runs is pluggable (`CompareBackend`), so GUI tests can drive the page without a model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, SignalInstance

from app.engine.jobs import JobContext, JobPool, Work, failure_message
from inference.common.cancel import CancelToken
from inference.compare.comparison import (
    CompareResult,
    CompareSettings,
    ComparisonCancelled,
    compare_files,
)
from inference.compare.prompt import PromptPiece, PromptReply, PromptSettings, run_same_prompt
from inference.quantize.quantize import QuantizeResult, quantize_ladder

PIECE_EVERY_S = 0.03          # coalesce streamed reply text to at most ~30 updates a second


@dataclass(frozen=True)
class CompareJob:
    paths: tuple[Path, ...]
    text: str
    reference: Path | None
    settings: CompareSettings


@dataclass(frozen=True)
class LadderJob:
    source: Path
    types: tuple[str, ...]
    out_dir: Path | None
    allow_requantize: bool


@dataclass(frozen=True)
class PromptJob:
    paths: tuple[Path, ...]
    settings: PromptSettings


class CompareBackend(Protocol):
    def compare(self, job: CompareJob, progress: Callable[[Any], None],
                cancel: CancelToken) -> CompareResult: ...

    def ladder(self, job: LadderJob, progress: Callable[[Any], None],
               cancel: CancelToken) -> tuple[QuantizeResult, ...]: ...

    def same_prompt(self, job: PromptJob, on_piece: Callable[[PromptPiece], None],
                    cancel: CancelToken) -> tuple[PromptReply, ...]: ...


class InferenceBackend:
    """The real thing: `inference.compare.comparison`, `inference.quantize.quantize`,
    `inference.compare.prompt`.
    """

    def compare(self, job: CompareJob, progress: Callable[[Any], None],
                cancel: CancelToken) -> CompareResult:
        """The comparison; cancelled after the reference, the files measured so far (a
        partial result) rather than nothing."""
        try:
            return compare_files(job.paths, job.text, reference=job.reference,
                                 settings=job.settings, progress=progress, cancel=cancel)
        except ComparisonCancelled as exc:
            if exc.partial is None:
                raise
            return exc.partial

    def ladder(self, job: LadderJob, progress: Callable[[Any], None],
               cancel: CancelToken) -> tuple[QuantizeResult, ...]:
        return quantize_ladder(job.source, job.types, out_dir=job.out_dir,
                               allow_requantize=job.allow_requantize, reuse_existing=True,
                               progress=progress, cancel=cancel)

    def same_prompt(self, job: PromptJob, on_piece: Callable[[PromptPiece], None],
                    cancel: CancelToken) -> tuple[PromptReply, ...]:
        return run_same_prompt(job.paths, job.settings, on_piece=on_piece, cancel=cancel)


def _same_prompt(backend: CompareBackend, job: PromptJob,
                 ctx: JobContext) -> tuple[PromptReply, ...]:
    """The replies; the streamed pieces go out coalesced, one file's at a time, at most every
    PIECE_EVERY_S."""
    pending: list[PromptPiece] = []
    last = [0.0]

    def flush() -> None:
        if pending:
            first = pending[0]
            ctx.report(PromptPiece(first.index, first.file, "".join(p.text for p in pending)))
            pending.clear()
        last[0] = time.monotonic()

    def on_piece(piece: PromptPiece) -> None:
        if pending and pending[0].index != piece.index:
            flush()
        pending.append(piece)
        if time.monotonic() - last[0] >= PIECE_EVERY_S:
            flush()

    try:
        return backend.same_prompt(job, on_piece, ctx.token)
    finally:
        flush()


class CompareRunner(QObject):
    """Runs the page's work, one job at a time; what comes back arrives as these signals."""

    progressed = Signal(object)                   # CompareProgress | QuantizeProgress
    compared = Signal(object)                     # CompareResult
    laddered = Signal(object)                     # tuple[QuantizeResult, ...]
    pieceReceived = Signal(object)                # PromptPiece (coalesced)
    replied = Signal(object)                      # tuple[PromptReply, ...]
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, backend: CompareBackend | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend: CompareBackend = backend or InferenceBackend()
        self.jobs = JobPool(1, self, name="parley-compare")
        self.cancel_token: CancelToken | None = None

    @property
    def busy(self) -> bool:
        return self.cancel_token is not None

    def compare(self, paths: Sequence[Path], text: str, reference: Path | None,
                settings: CompareSettings) -> CancelToken:
        job, backend = CompareJob(tuple(paths), text, reference, settings), self.backend
        return self._submit(lambda ctx: backend.compare(job, ctx.report, ctx.token),
                            self.compared, self.progressed)

    def ladder(self, job: LadderJob) -> CancelToken:
        backend = self.backend
        return self._submit(lambda ctx: backend.ladder(job, ctx.report, ctx.token),
                            self.laddered, self.progressed)

    def same_prompt(self, paths: Sequence[Path], settings: PromptSettings) -> CancelToken:
        job, backend = PromptJob(tuple(paths), settings), self.backend
        return self._submit(lambda ctx: _same_prompt(backend, job, ctx), self.replied,
                            self.pieceReceived)

    def cancel(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()

    def shutdown(self) -> None:
        """Cancel what runs and wait for it (call before the page goes away)."""
        self.jobs.shutdown(-1)
        self.cancel_token = None

    def _submit(self, work: Work, done: SignalInstance, progress: SignalInstance) -> CancelToken:
        def returned(result: object) -> None:
            self.cancel_token = None               # not busy by the time the page hears it
            done.emit(result)

        job = self.jobs.start(work, yielded=progress.emit, returned=returned,
                              errored=self._failed, aborted=self._cancelled)
        self.cancel_token = job.token
        return job.token

    def _failed(self, error: BaseException) -> None:
        self.cancel_token = None
        self.failed.emit(failure_message(error, f"Unexpected error: {type(error).__name__}"))

    def _cancelled(self) -> None:
        self.cancel_token = None
        self.cancelled.emit()
