"""The quant workbench page, offscreen: progress per file, cancel, sortable table, chart,
exports, ladder, same-prompt columns (a scripted backend), the library picker on a real library,
and saved comparisons (the real comparisons: test_compare_real.py)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.compare.page import AUTO_REFERENCE, ComparePage
from app.compare.table import SORT_ROLE
from app.compare.worker import CompareJob, LadderJob, PromptJob
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.common.paths import parley_paths
from inference.compare.comparison import CompareProgress
from inference.compare.export import table_cells, to_csv, to_json, to_markdown
from inference.compare.prompt import PromptPiece, PromptReply, PromptSettings
from inference.compare.result import CompareResult, FileRow
from inference.library.library import Library
from inference.quantize.quantize import QuantizeProgress, QuantizeResult
from tests.support.gguf_factory import write_tiny_model
from tests.support.quant_ladder import session_ladder

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
    """Progress for each file (half-way, with an ETA), then RESULT with every file done; `hold`
    makes a run wait after the half-way reports until it is released or cancelled."""

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
        n = len(job.paths)
        for i, path in enumerate(job.paths):
            progress(CompareProgress(i, n, path.name, "eval", 0.5, eta_s=95.0 - i))
        self._wait(cancel)
        if self.fail:
            raise ParleyError(self.fail)
        for i, path in enumerate(job.paths):
            progress(CompareProgress(i, n, path.name, "done", 1.0, eta_s=0.0))
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
    widget = ComparePage(backend, library=Library(sources=[]))
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
        "m-Q4_0.gguf: done 100 %", "m-Q8_0.gguf: done 100 %", "m-Q2_K.gguf: done 100 %"]
    assert page.progress.value() == 1000 and page.eta.text() == ""
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


def test_progress_per_file_and_eta_while_running(page: ComparePage, qtbot) -> None:
    page.add_files([Path("/m/a-Q8_0.gguf"), Path("/m/a-Q4_0.gguf")])
    page.backend.hold = True
    page.start_compare()
    qtbot.waitUntil(lambda: page.status.item(1).text() == "a-Q4_0.gguf: eval 50 %",
                    timeout=WAIT_MS)
    assert page.status.item(0).text() == "a-Q8_0.gguf: eval 50 %"
    assert page.eta.text() == ""              # under a second in: too early for a rate
    assert 0 < page.progress.value() < 1000
    with qtbot.waitSignal(page.resultReady, timeout=WAIT_MS):
        page.backend.hold = False
    assert [page.status.item(i).text() for i in range(2)] == [
        "a-Q8_0.gguf: done 100 %", "a-Q4_0.gguf: done 100 %"]
    assert page.progress.value() == 1000 and page.eta.text() == ""


def test_reference_label_says_what_is_picked(page: ComparePage) -> None:
    assert page.reference.itemText(0) == AUTO_REFERENCE == "Most precise (automatic)"
    tip = page.reference.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert "requantized" in tip and "Q4_K_M" in tip and tip == page.reference.toolTip()


def test_text_files_that_are_not_text_are_refused(page: ComparePage, qtbot, tmp_path: Path
                                                  ) -> None:
    page.text.setPlainText("my own text")
    binary, latin1 = tmp_path / "model.bin", tmp_path / "latin1.txt"
    binary.write_bytes(b"GGUF\x00\x01\x02" * 50)
    latin1.write_bytes("café".encode("latin-1"))
    for path, why in ((binary, "looks like a binary file"), (latin1, "not valid UTF-8")):
        with qtbot.waitSignal(page.errorOccurred, timeout=WAIT_MS) as blocker:
            assert page.set_text_from(path) is False
        assert why in blocker.args[0] and str(path) in blocker.args[0]
        assert page.text.toPlainText() == "my own text"           # nothing lost
    good = tmp_path / "good.txt"
    good.write_text("Bonjour, café.\n", encoding="utf-8")
    assert page.set_text_from(good) and page.text.toPlainText() == "Bonjour, café."


def test_finished_comparisons_are_saved_and_reopen(qtbot, parley_home: Path) -> None:
    first = ComparePage(ScriptedBackend())
    qtbot.addWidget(first)
    try:
        first.add_files([Path("/m/m-Q4_0.gguf"), Path("/m/m-Q8_0.gguf")])
        first.text.setPlainText("some text")
        with qtbot.waitSignal(first.resultReady, timeout=WAIT_MS):
            first.start_compare()
    finally:
        first.shutdown()
    folder = parley_paths().data / "comparisons"
    (saved,) = folder.glob("*.json")
    assert CompareResult.load_json(saved) == RESULT
    second = ComparePage(ScriptedBackend())                       # "after a restart"
    qtbot.addWidget(second)
    try:
        history = second.history
        assert history.paths() == [saved] and "reference m-Q8_0.gguf" in history.list.item(
            0).text()
        assert second.results.proxy.rowCount() == 0
        history.list.setCurrentRow(0)
        history.open_button.click()
        assert second.tabs.currentIndex() == 1 and second.result == RESULT
        model = second.results.model
        shown = [[model.index(r, c).data() for c in range(model.columnCount())]
                 for r in range(model.rowCount())]
        assert shown == [list(row) for row in table_cells(RESULT)]    # the export's text
        assert all(b.isEnabled() for b in second.results.export_buttons)
        saved.write_text("{broken")
        with qtbot.waitSignal(second.errorOccurred, timeout=WAIT_MS) as blocker:
            history.open_path(saved)
        assert "Could not open the comparison" in blocker.args[0]
    finally:
        second.shutdown()


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
    assert page.status.item(1).text() == "Q4_0: m-Q4_0.gguf, made in 0 s (4.00 bpw)"


def test_real_ladder_keeps_files_it_already_made(qtbot, tmp_path: Path) -> None:
    """The real quantizer: a second ladder into the same folder keeps the files, and says so."""
    source = write_tiny_model(tmp_path / "tiny-f16.gguf", f16=True)
    page = ComparePage(library=Library(sources=[]))
    qtbot.addWidget(page)
    try:
        page.add_files([source])
        page.ladder_types.setText("Q8_0")
        for how in ("made in", "kept the existing file"):
            page.files.setCurrentRow(0)
            page.files.item(0).setSelected(True)
            page.start_ladder()
            qtbot.waitUntil(page.run_button.isEnabled, timeout=60_000)
            assert page.status.item(0).text().startswith(f"Q8_0: tiny-Q8_0.gguf, {how}")
        made = tmp_path / "quants" / "tiny-Q8_0.gguf"
        assert made.exists() and page.paths() == [source, made]
        made.write_bytes(b"not a model any more")
        with qtbot.waitSignal(page.errorOccurred, timeout=60_000) as blocker:
            page.files.setCurrentRow(0)
            page.files.item(0).setSelected(True)
            page.start_ladder()
        assert "already exists but cannot be read" in blocker.args[0]
        assert made.read_bytes() == b"not a model any more"
    finally:
        page.shutdown()


@pytest.mark.model
def test_add_from_library_lists_the_library_gguf_files(qtbot, tmp_path_factory, tmp_path,
                                                       starter_model_path) -> None:
    ladder, _ = session_ladder(tmp_path_factory, starter_model_path)
    models = parley_paths().ensure().models                        # the real library folder
    for t in ("Q8_0", "Q4_0"):
        _link(ladder[t], models / ladder[t].name)
    write_tiny_model(models / "tiny-llama-f16.gguf", f16=True)      # another architecture
    (models / "broken.gguf").write_bytes(b"GGUF but not really")
    own = Library()
    library = Library(own.paths, sources=own.sources()[:1])       # only Parley's own folder
    page = ComparePage(ScriptedBackend(), library=library)
    qtbot.addWidget(page)
    try:
        page.add_files([ladder["Q2_K"]])                           # a gemma3 file chosen already
        picker = page.open_library_picker()
        qtbot.waitUntil(lambda: picker.listed, timeout=WAIT_MS)
        assert picker.architecture.currentData() == "gemma3"      # same architecture first
        assert sorted(e.file_name for e in picker.entries()) == [
            "gemma-3-270m-Q4_0.gguf", "gemma-3-270m-Q8_0.gguf"]
        assert "1 unreadable or incomplete left out" in picker.status.text()
        picker.architecture.setCurrentIndex(0)                    # any architecture
        assert len(picker.entries()) == 3
        assert not picker.add_button.isEnabled()
        assert picker.select_paths([models / "gemma-3-270m-Q8_0.gguf",
                                    models / "gemma-3-270m-Q4_0.gguf"]) == 2
        picker.add_button.click()
        assert [p.name for p in page.paths()] == [
            "gemma-3-270m-Q2_K.gguf", "gemma-3-270m-Q4_0.gguf", "gemma-3-270m-Q8_0.gguf"]
        assert page.paths()[1].parent == models and page.reference.count() == 4
    finally:
        page.shutdown()


def _link(target: Path, link: Path) -> None:
    try:
        os.link(target, link)
    except OSError:
        link.symlink_to(target)


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


@pytest.mark.parametrize("low, high", [(25.33, 35.96), (0.0, 1.0), (230.2, 278.0), (7.01, 8.5),
                                       (0.005788, 0.319956), (-3.2, 4.7), (5.0, 5.0)])
def test_chart_ticks_cover_every_point(low, high):
    """The axes span the lowest and highest value (a point above the top tick was drawn
    outside the chart: a PPL of 35.96 with ticks ending at 35)."""
    from app.compare.quality_chart import nice_ticks

    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 8
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1                                 # evenly spaced


def test_compare_eta_is_rate_based_and_counts_down(page: ComparePage, qtbot) -> None:
    page.add_files([Path("/m/a-Q8_0.gguf"), Path("/m/a-Q4_0.gguf")])
    page.backend.hold = True
    page.start_compare()
    qtbot.waitUntil(lambda: page.status.item(1).text() == "a-Q4_0.gguf: eval 50 %",
                    timeout=WAIT_MS)
    assert page._eta is not None
    started = page._eta.started
    page._eta.started = started - 60.0          # as if the run had taken a minute so far
    page._on_progress(CompareProgress(1, 2, "a-Q4_0.gguf", "eval", 0.5, eta_s=173.0))
    first = page.eta.text()
    minutes, seconds = first.removesuffix(" left").split(":")
    assert 15 <= int(minutes) * 60 + int(seconds) <= 25    # 60 s × (1 − 0.75) / 0.75 = 20 s
    qtbot.waitUntil(lambda: page.eta.text() != first, timeout=3000)   # it counts down
    page._on_progress(CompareProgress(1, 2, "a-Q4_0.gguf", "eval", 0.5, eta_s=500.0))
    assert page.eta.text() <= first                          # a new report never raises it
    page.backend.hold = False
    qtbot.waitSignal(page.resultReady, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.eta.text() == "", timeout=WAIT_MS)


def test_requantize_refusal_names_no_cli_flag_and_clears_on_success(page: ComparePage,
                                                                    qtbot) -> None:
    message = ("m.gguf is already quantized (Q4_K_M); quantizing it again to Q4_0 loses "
               "quality twice. Start from an F16/BF16/F32 file, or allow requantizing "
               "(--allow-requantize) to do it anyway.")
    with qtbot.waitSignal(page.errorOccurred, timeout=WAIT_MS) as blocker:
        page.runner.failed.emit(message)
    assert "--" not in blocker.args[0] and "“Allow requantizing”" in blocker.args[0]
    page.add_files([Path("/m/m-Q4_K_M.gguf")])
    page.ladder_types.setText("Q4_0")
    page.allow_requantize.setChecked(True)
    with qtbot.waitSignal(page.errorResolved, timeout=WAIT_MS):
        page.start_ladder()
