"""The quant workbench page, offscreen: progress per file, cancel, sortable table, chart,
exports, ladder, same-prompt columns (a scripted backend), and one real comparison."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.compare_page import ComparePage
from app.compare_table import SORT_ROLE
from app.compare_worker import CompareJob, LadderJob, PromptJob
from inference.cancel import CancelToken
from inference.compare import CompareProgress
from inference.compare_export import to_csv, to_json, to_markdown
from inference.compare_prompt import PromptPiece, PromptReply, PromptSettings
from inference.compare_result import CompareResult, FileRow
from inference.errors import Cancelled, ParleyError
from inference.quantize import QuantizeProgress, QuantizeResult
from tests.quant_ladder import N_CTX, sample_text, session_ladder

pytestmark = pytest.mark.gui
WAIT_MS = 10_000


def _row(name: str, quant: str, bpw: float, kld: float, same: float, ref: bool = False
         ) -> FileRow:
    return FileRow(file=name, path=f"/m/{name}", quant=quant, bits_per_weight=bpw,
                   file_size=int(bpw * 30e6), requantized_from="Q4_K_M", is_reference=ref,
                   load_seconds=0.5, eval_seconds=2.0, peak_rss=700 << 20, vram_bytes=None,
                   ppl=20 + 40 * kld, ppl_se=1.0, kld_mean=kld, kld_se=kld / 20,
                   kld_median=kld, kld_p99=3 * kld, kld_max=4 * kld, same_top=same,
                   same_top_se=1.0, dp_mean=-kld, dp_se=0.1, dp_rms=kld, ppl_ratio=1 + kld,
                   pp_tps=100.0, pp_std=1.0, tg_tps=20.0, tg_std=0.5)


RESULT = CompareResult(
    reference="m-Q8_0.gguf", n_ctx=128, tokens=300, chunks=2, tokens_scored=126, seconds=3.0,
    settings={}, rows=(_row("m-Q4_0.gguf", "Q4_0", 7.0, 0.3, 68.0),
                       _row("m-Q8_0.gguf", "Q8_0", 8.5, 0.0, 100.0, ref=True),
                       _row("m-Q2_K.gguf", "Q2_K", 6.9, 0.9, 50.0)))


class ScriptedBackend:
    """Progress for each file, then RESULT; `hold` makes a run wait until it is cancelled."""

    def __init__(self) -> None:
        self.hold = False
        self.fail = ""
        self.jobs: list[object] = []
        self.started = threading.Event()

    def _wait(self, cancel: CancelToken) -> None:
        self.started.set()
        while self.hold:
            if cancel.cancelled:
                raise Cancelled("cancelled")
            threading.Event().wait(0.01)

    def compare(self, job: CompareJob, progress: Callable[[Any], None],
                cancel: CancelToken) -> CompareResult:
        self.jobs.append(job)
        for i, path in enumerate(job.paths):
            progress(CompareProgress(i, len(job.paths), path.name, "eval", 0.5))
        self._wait(cancel)
        if self.fail:
            raise ParleyError(self.fail)
        return RESULT

    def ladder(self, job: LadderJob, progress: Callable[[Any], None],
               cancel: CancelToken) -> tuple[QuantizeResult, ...]:
        self.jobs.append(job)
        out = []
        for i, t in enumerate(job.types, 1):
            progress(QuantizeProgress(t, i, len(job.types), 236, 236, "x"))
            path = Path(job.out_dir or ".") / f"m-{t}.gguf"
            out.append(QuantizeResult(job.source, path, t, "F16", False, False, 1, 4.0, 0.1, ()))
        return tuple(out)

    def same_prompt(self, job: PromptJob, on_piece: Callable[[PromptPiece], None],
                    cancel: CancelToken) -> tuple[PromptReply, ...]:
        self.jobs.append(job)
        for i, path in enumerate(job.paths):
            for word in ("Red,", " green", " and blue."):
                on_piece(PromptPiece(i, path.name, word))
        return tuple(PromptReply(p.name, "Red, green and blue.", "stop", 5, 0.05, 0.02, 50.0)
                     for p in job.paths)


@pytest.fixture()
def page(qtbot):
    backend = ScriptedBackend()
    widget = ComparePage(backend)
    qtbot.addWidget(widget)
    widget.backend = backend
    yield widget
    backend.hold = False
    widget.shutdown()


def test_compare_fills_table_chart_and_exports(page: ComparePage, qtbot, tmp_path: Path
                                               ) -> None:
    page.add_files([Path("/m/m-Q4_0.gguf"), Path("/m/m-Q8_0.gguf"), Path("/m/m-Q2_K.gguf")])
    page.add_files([Path("/m/m-Q4_0.gguf")])                     # no duplicates
    assert page.files.count() == 3 and page.reference.count() == 4
    page.use_sample()
    assert len(page.text.toPlainText()) > 1000
    with qtbot.waitSignal(page.resultReady, timeout=WAIT_MS):
        page.start_compare()
    job = page.backend.jobs[0]
    assert job.reference is None and job.settings.n_ctx == 512 and job.settings.speed
    assert [page.status.item(i).text() for i in range(3)] == [
        "m-Q4_0.gguf: eval 50 %", "m-Q8_0.gguf: eval 50 %", "m-Q2_K.gguf: eval 50 %"]
    assert page.tabs.currentIndex() == 1 and page.run_button.isEnabled()
    table = page.results
    assert table.proxy.rowCount() == 3
    kld_col = [c.key for c in table.model.columns].index("kld_mean")
    table.table.sortByColumn(kld_col, Qt.SortOrder.DescendingOrder)
    order = [table.proxy.index(r, 0).data() for r in range(3)]
    assert order == ["m-Q2_K.gguf", "m-Q4_0.gguf", "m-Q8_0.gguf  (reference)"]
    assert table.proxy.index(0, kld_col).data(SORT_ROLE) == 0.9
    quant_col = [c.key for c in table.model.columns].index("quant")
    assert "Requantized from Q4_K_M" in table.proxy.index(0, quant_col).data(
        Qt.ItemDataRole.ToolTipRole)
    assert {p.label for p in table.chart.points()} == {"Q8_0", "Q4_0", "Q2_K"}
    table.y_axis.setCurrentIndex(1)                               # KLD
    table.x_axis.setCurrentIndex(1)                               # bits per weight
    assert sorted((p.x, p.y) for p in table.chart.points())[0] == (6.9, 0.9)
    table.chart.grab()                                            # paints without error
    for suffix, render in ((".json", to_json), (".csv", to_csv), (".md", to_markdown)):
        written = table.export_to(tmp_path / f"r{suffix}")
        assert written is not None and written.read_text() == render(RESULT)
    assert json.loads((tmp_path / "r.json").read_text())["reference"] == "m-Q8_0.gguf"


def test_cancel_and_failure_are_reported(page: ComparePage, qtbot) -> None:
    page.add_files([Path("/m/a.gguf")])
    page.backend.hold = True
    page.start_compare()
    assert page.cancel_button.isEnabled() and not page.run_button.isEnabled()
    assert page.backend.started.wait(5)
    page.cancel_button.click()
    qtbot.waitUntil(page.run_button.isEnabled, timeout=WAIT_MS)
    assert page.status.item(page.status.count() - 1).text() == "Cancelled."
    page.backend.hold, page.backend.fail = False, "a.gguf is not the same model as b.gguf"
    with qtbot.waitSignal(page.errorOccurred, timeout=WAIT_MS) as blocker:
        page.start_compare()
    assert blocker.args == ["a.gguf is not the same model as b.gguf"]


def test_ladder_adds_its_files(page: ComparePage, qtbot, tmp_path: Path) -> None:
    page.add_files([tmp_path / "m-Q4_K_M.gguf"])
    page.ladder_types.setText("Q8_0, Q4_0")
    page.allow_requantize.setChecked(True)
    page.start_ladder()
    qtbot.waitUntil(lambda: page.files.count() == 3, timeout=WAIT_MS)
    job = page.backend.jobs[0]
    assert job.types == ("Q8_0", "Q4_0") and job.allow_requantize
    assert [page.files.item(i).text() for i in range(3)] == [
        "m-Q4_K_M.gguf", "m-Q8_0.gguf", "m-Q4_0.gguf"]
    assert page.status.item(1).text() == "Q4_0: 236/236 tensors"


def test_same_prompt_columns(page: ComparePage, qtbot) -> None:
    page.add_files([Path("/m/a.gguf"), Path("/m/b.gguf")])
    view = page.prompt_view
    view.prompt.setPlainText("Name three colours.")
    view.seed.setValue(7)
    view.run_button.click()
    qtbot.waitUntil(view.run_button.isEnabled, timeout=WAIT_MS)
    job = page.backend.jobs[0]
    assert job.settings == PromptSettings("Name three colours.", seed=7, max_tokens=128)
    assert [c.text.toPlainText() for c in view.columns] == ["Red, green and blue."] * 2
    assert view.columns[0].timing.text().startswith("TTFT 50 ms · TPOT 20.0 ms")
    assert view.run_button.isEnabled()


@pytest.mark.model
def test_real_comparison_through_the_page(qtbot, tmp_path_factory, starter_model_path) -> None:
    ladder, _ = session_ladder(tmp_path_factory, starter_model_path)
    page = ComparePage()
    qtbot.addWidget(page)
    try:
        page.add_files([ladder["Q8_0"], ladder["Q2_K"]])
        page.text.setPlainText(sample_text())
        page.ctx.setValue(N_CTX)
        page.measure_speed.setChecked(False)
        with qtbot.waitSignal(page.resultReady, timeout=180_000) as blocker:
            page.start_compare()
        result: CompareResult = blocker.args[0]
        assert result.reference == ladder["Q8_0"].name
        q2 = result.rows[1]
        assert q2.kld_mean > 0.05 and q2.same_top < 100 and q2.pp_tps is None
        assert page.results.proxy.rowCount() == 2
    finally:
        page.shutdown()
