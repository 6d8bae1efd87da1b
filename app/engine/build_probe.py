"""BuildProbe: asks once, in the background, what this llama.cpp build is (for the GPU-layers
slider before the first load, and for the About dialog)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.engine.build_read import BuildReader, BuildReport
from app.engine.jobs import JobPool


class BuildProbe(QObject):
    ready = Signal(object)              # BuildReport
    failed = Signal(str)

    def __init__(self, reader: BuildReader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._reader = reader
        self._jobs = JobPool(1, self)
        self._report: BuildReport | None = None
        self._error = ""
        self._started = False

    @property
    def report(self) -> BuildReport | None:
        return self._report

    @property
    def error(self) -> str:
        return self._error

    def start(self) -> None:
        """Read the build (once; later calls do nothing)."""
        if self._started:
            return
        self._started = True
        reader = self._reader
        self._jobs.start(lambda ctx: reader(ctx.token), returned=self._done,
                         errored=self._failed)

    def _done(self, report: BuildReport) -> None:
        self._report = report
        self.ready.emit(report)

    def _failed(self, error: object) -> None:
        self._error = f"Could not read the llama.cpp build: {error}"
        self.failed.emit(self._error)

    def shutdown(self) -> None:
        self._jobs.shutdown()
