"""The quant workbench page on real files (a quantized ladder of the starter model): a whole
comparison (progress, ETA, reopened after a restart) and one cancelled midway."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Slot

from app.compare.page import ComparePage
from inference.compare.comparison import CompareProgress
from inference.compare.export import table_cells
from inference.compare.history import CompareHistory
from inference.compare.result import CompareResult
from inference.library.library import Library
from tests.support.quant_ladder import N_CTX, sample_text, session_ladder

pytestmark = [pytest.mark.gui, pytest.mark.model]


class _Recorder(QObject):
    """On the GUI thread: what the page shows right after each progress report."""

    def __init__(self, page: ComparePage, seen: list[tuple[str, str, int]]) -> None:
        super().__init__(page)
        self.page, self.seen = page, seen

    @Slot(object)
    def on_progress(self, p: CompareProgress) -> None:
        self.seen.append((p.stage, self.page.eta.text(), self.page.progress.value()))


def test_real_comparison_through_the_page(qtbot, tmp_path_factory, starter_model_path) -> None:
    ladder, _ = session_ladder(tmp_path_factory, starter_model_path)
    page = ComparePage(library=Library(sources=[]))
    qtbot.addWidget(page)
    seen: list[tuple[str, str, int]] = []
    try:
        page.add_files([ladder["Q8_0"], ladder["Q2_K"]])
        page.text.setPlainText(sample_text())
        page.ctx.setValue(N_CTX)
        page.measure_speed.setChecked(False)
        recorder = _Recorder(page, seen)                 # called after the page's own slot
        page.runner.progressed.connect(recorder.on_progress)
        with qtbot.waitSignal(page.resultReady, timeout=600_000) as blocker:
            page.start_compare()
        result: CompareResult = blocker.args[0]
        assert result.reference == ladder["Q8_0"].name
        ref, q2 = result.rows
        assert abs(ref.kld_mean or 1) < 1e-4 and ref.same_top == 100       # measured
        assert q2.kld_mean > 0.05 and q2.same_top < 100 and q2.pp_tps is None
        assert page.results.proxy.rowCount() == 2
        assert [page.status.item(i).text() for i in range(2)] == [
            f"{ladder['Q8_0'].name}: done 100 %", f"{ladder['Q2_K'].name}: done 100 %"]
        assert [s for s, _, _ in seen].count("done") == 2
        running = [eta for stage, eta, _ in seen if stage == "eval"]
        assert running and running[-1].endswith(" left")                   # an ETA while running
        values = [v for _, _, v in seen]
        assert values == sorted(values) and values[-1] == 1000             # never goes back
        assert page.eta.text() == ""
    finally:
        page.shutdown()
    reopened = ComparePage(library=Library(sources=[]))                    # a restart
    qtbot.addWidget(reopened)
    try:
        (saved,) = CompareHistory().list()
        assert saved.files == (ladder["Q8_0"].name, ladder["Q2_K"].name)
        reopened.history.open_path(saved.path)
        assert reopened.result == result
        cells = reopened.results.model
        assert [cells.index(1, c).data() for c in range(cells.columnCount())] == \
            [list(row) for row in table_cells(result)][1]
    finally:
        reopened.shutdown()


def test_a_real_comparison_cancelled_midway_keeps_the_files_measured(
        qtbot, tmp_path_factory, starter_model_path) -> None:
    """Cancel while the second file runs: the reference's row is shown and saved, and the
    page says how many files it kept."""
    ladder, _ = session_ladder(tmp_path_factory, starter_model_path)
    page = ComparePage(library=Library(sources=[]))
    qtbot.addWidget(page)
    try:
        page.add_files([ladder["Q8_0"], ladder["Q2_K"]])
        page.text.setPlainText(sample_text())
        page.ctx.setValue(N_CTX)
        page.measure_speed.setChecked(False)
        page.runner.progressed.connect(
            lambda p: page.runner.cancel() if getattr(p, "index", 0) == 1 else None)
        with qtbot.waitSignal(page.resultReady, timeout=600_000) as blocker:
            page.start_compare()
        result: CompareResult = blocker.args[0]
        assert result.partial and [r.file for r in result.rows] == [ladder["Q8_0"].name]
        assert page.results.proxy.rowCount() == 1
        texts = [page.status.item(i).text() for i in range(page.status.count())]
        assert "Cancelled: kept the 1 of 2 files measured before it." in texts
        (saved,) = CompareHistory().list()
        assert saved.files == (ladder["Q8_0"].name,)
    finally:
        page.shutdown()
