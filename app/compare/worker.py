"""The quant workbench's own worker: comparisons, ladders and same-prompt runs off the GUI thread.

`CompareWorker` lives on its own QThread (separate from the chat engine's worker); requests come
in as queued `*Requested` signals, results go back as queued signals. The heavy work itself runs
in child processes (`inference.compare.comparison`, `inference.quantize.quantize`), so Cancel is
immediate: the GUI
sets the request's CancelToken, the worker's wait loop notices and kills the child.

What runs is pluggable (`CompareBackend`), so GUI tests can drive the page without a model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.compare.comparison import CompareResult, CompareSettings, compare_files
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
        return compare_files(job.paths, job.text, reference=job.reference,
                             settings=job.settings, progress=progress, cancel=cancel)

    def ladder(self, job: LadderJob, progress: Callable[[Any], None],
               cancel: CancelToken) -> tuple[QuantizeResult, ...]:
        return quantize_ladder(job.source, job.types, out_dir=job.out_dir,
                               allow_requantize=job.allow_requantize, reuse_existing=True,
                               progress=progress, cancel=cancel)

    def same_prompt(self, job: PromptJob, on_piece: Callable[[PromptPiece], None],
                    cancel: CancelToken) -> tuple[PromptReply, ...]:
        return run_same_prompt(job.paths, job.settings, on_piece=on_piece, cancel=cancel)


class CompareWorker(QObject):
    compareRequested = Signal(object, object)     # CompareJob, CancelToken
    ladderRequested = Signal(object, object)      # LadderJob, CancelToken
    promptRequested = Signal(object, object)      # PromptJob, CancelToken

    progressed = Signal(object)                   # CompareProgress | QuantizeProgress
    compared = Signal(object)                     # CompareResult
    laddered = Signal(object)                     # tuple[QuantizeResult, ...]
    pieceReceived = Signal(object)                # PromptPiece (coalesced)
    replied = Signal(object)                      # tuple[PromptReply, ...]
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, backend: CompareBackend) -> None:
        super().__init__()
        self.backend = backend
        queued = Qt.ConnectionType.QueuedConnection
        self.compareRequested.connect(self.on_compare, queued)
        self.ladderRequested.connect(self.on_ladder, queued)
        self.promptRequested.connect(self.on_prompt, queued)

    @Slot(object, object)
    def on_compare(self, job: CompareJob, cancel: CancelToken) -> None:
        self._run(lambda: self.backend.compare(job, self.progressed.emit, cancel),
                  self.compared)

    @Slot(object, object)
    def on_ladder(self, job: LadderJob, cancel: CancelToken) -> None:
        self._run(lambda: self.backend.ladder(job, self.progressed.emit, cancel), self.laddered)

    @Slot(object, object)
    def on_prompt(self, job: PromptJob, cancel: CancelToken) -> None:
        pending: list[PromptPiece] = []
        last = [0.0]

        def flush() -> None:
            if pending:
                first = pending[0]
                self.pieceReceived.emit(PromptPiece(first.index, first.file,
                                                    "".join(p.text for p in pending)))
                pending.clear()
            last[0] = time.monotonic()

        def on_piece(piece: PromptPiece) -> None:
            if pending and pending[0].index != piece.index:
                flush()
            pending.append(piece)
            if time.monotonic() - last[0] >= PIECE_EVERY_S:
                flush()

        def job_then_flush() -> tuple[PromptReply, ...]:
            try:
                return self.backend.same_prompt(job, on_piece, cancel)
            finally:
                flush()

        self._run(job_then_flush, self.replied)

    def _run(self, work: Callable[[], Any], done: Any) -> None:
        try:
            result = work()
        except Cancelled:
            self.cancelled.emit()
        except ParleyError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the worker thread
            self.failed.emit(f"Unexpected error: {type(exc).__name__}: {exc}")
        else:
            done.emit(result)


class CompareRunner(QObject):
    """Owns the worker's thread; the page talks to the worker through it."""

    def __init__(self, backend: CompareBackend | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("parley-compare")
        self.worker = CompareWorker(backend or InferenceBackend())
        self.worker.moveToThread(self.thread)
        self.thread.start()
        self.cancel_token: CancelToken | None = None
        for signal in (self.worker.compared, self.worker.laddered, self.worker.replied,
                       self.worker.failed, self.worker.cancelled):
            signal.connect(self._ended)

    @property
    def busy(self) -> bool:
        return self.cancel_token is not None

    def submit(self, signal: Any, job: object) -> CancelToken:
        token = CancelToken()
        self.cancel_token = token
        signal.emit(job, token)
        return token

    def compare(self, paths: Sequence[Path], text: str, reference: Path | None,
                settings: CompareSettings) -> CancelToken:
        return self.submit(self.worker.compareRequested,
                           CompareJob(tuple(paths), text, reference, settings))

    def ladder(self, job: LadderJob) -> CancelToken:
        return self.submit(self.worker.ladderRequested, job)

    def same_prompt(self, paths: Sequence[Path], settings: PromptSettings) -> CancelToken:
        return self.submit(self.worker.promptRequested, PromptJob(tuple(paths), settings))

    def cancel(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()

    def _ended(self, *_args: object) -> None:
        self.cancel_token = None

    def shutdown(self) -> None:
        """Cancel what runs and wait for the thread (call before the page goes away)."""
        self.cancel()
        self.thread.quit()
        self.thread.wait()
