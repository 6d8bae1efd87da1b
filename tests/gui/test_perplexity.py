"""The Perplexity page end to end, offscreen, on the real engine (EngineHost, a child process) and
the real starter model: token count and method, a run equal to Engine.perplexity, the heatmap's
per-token tooltips, cancel, bad input, and past runs that survive a restart."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from app.engine.throttle import Throttle
from app.perplexity.heatmap_view import align, token_tooltip
from app.perplexity.page import PerplexityPage
from app.perplexity.store import fingerprint
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from inference.host.host import EngineHost
from inference.perplexity.measure import TokenScore
from tests.support.fake_engine import FakeEngine

pytestmark = [pytest.mark.model, pytest.mark.gui]
SAMPLE = Path(__file__).parents[2] / "resources" / "samples" / "perplexity_sample.txt"
N_CTX = 64
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gui-ppl-home")


@pytest.fixture(scope="module")
def gui(qapp, home: Path, starter_model_path: Path):
    mp = pytest.MonkeyPatch()
    mp.setenv("PARLEY_HOME", str(home))
    ctx = AppContext.create(EngineHost)
    window = MainWindow(ctx, ThemeManager(qapp, "light"))
    window.model_panel.set_model_settings(512, 0, n_threads=1)
    window.show()
    window.wiring.load_choice(str(starter_model_path))
    yield window
    window.close()
    ctx.store.close()
    mp.undo()


@pytest.fixture
def page(qtbot, gui: MainWindow, starter_model_path: Path) -> PerplexityPage:
    if not gui.ctx.client.state.busy and gui.ctx.client.loaded is None:
        gui.wiring.load_choice(str(starter_model_path))   # a test before ended the engine
    qtbot.waitUntil(lambda: gui.ctx.client.loaded is not None, timeout=WAIT_MS)
    gui.switcher.show("perplexity")
    page = gui.page_stack.currentWidget()
    assert isinstance(page, PerplexityPage)
    page.input.set_n_ctx(N_CTX)
    return page


def _text(chars: int) -> str:
    return SAMPLE.read_text(encoding="utf-8")[:chars]


def _counted(qtbot, page: PerplexityPage, text: str) -> int:
    page.input.set_text(text)
    qtbot.waitUntil(lambda: page.input.tokens is not None, timeout=WAIT_MS)
    return page.input.tokens or 0


def _measure(qtbot, page: PerplexityPage) -> None:
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.running
    qtbot.waitUntil(lambda: not page.running, timeout=WAIT_MS)


def test_token_count_and_method(qtbot, page: PerplexityPage, engine) -> None:
    short = _text(120)
    tokens = _counted(qtbot, page, short)
    assert tokens == len(engine.tokenize(short))
    label = page.input.token_label
    assert label.text().startswith(f"{tokens} tokens") and "full text" in label.text()
    assert "not comparable" in label.toolTip()
    long = _text(1200)
    tokens = _counted(qtbot, page, long)
    assert tokens >= 2 * N_CTX
    assert f"chunked ({tokens // N_CTX} chunks of {N_CTX})" in label.text()
    page.input.set_n_ctx(4096)                            # too big for chunks: full text again
    assert "full text" in label.text()
    page.input.set_n_ctx(N_CTX)


@pytest.mark.parametrize("chars, method", [(1200, "chunked"), (200, "full")])
def test_run_equals_engine_and_heatmap_has_tooltips(qtbot, page: PerplexityPage, engine,
                                                    chars: int, method: str) -> None:
    text = _text(chars)
    _counted(qtbot, page, text)
    _measure(qtbot, page)
    result = page.result
    assert result is not None and result.method == method
    expected = engine.perplexity(text, n_ctx=N_CTX)
    assert result.ppl == pytest.approx(expected.ppl, rel=1e-5)
    assert result.tokens_scored == expected.tokens_scored
    assert page.ppl_value.text().startswith(f"PPL {expected.ppl:.3f} ± ")
    assert f"{result.tokens_scored:,} of {result.tokens_total:,} tokens scored" in \
        page.details.text()
    assert "tokens/s" in page.details.text()
    heat = page.heatmap
    assert len(heat.spans) == sum(1 for s in result.per_token or () if s.text)
    if method == "full":                                  # every token after BOS is coloured
        assert heat.toPlainText() == text
    span = heat.spans[len(heat.spans) // 2]
    rect = heat.char_rect(span.start)
    tip = heat.tooltip_at(rect.center())
    assert tip == token_tooltip(span.score)
    assert "probability" in tip and "Top choices" in tip
    assert heat.tooltip_at(QPoint(-50, -50)) == ""
    cursor = heat.textCursor()
    cursor.setPosition(span.start)
    heat.setTextCursor(cursor)                            # keyboard: details of the token
    assert "probability" in page.token_info.text()


def test_cancel_is_a_normal_ending(qtbot, page: PerplexityPage) -> None:
    page.input.set_n_ctx(512)
    _counted(qtbot, page, SAMPLE.read_text(encoding="utf-8"))
    before = page.history.table.rowCount()
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.running and page.cancel_button.isEnabled()
    qtbot.wait(300)
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.running, timeout=WAIT_MS)
    assert page.message.text().startswith("Cancelled")
    assert page.message.property("kind") == "info"
    assert page.client.state == "idle" and page.history.table.rowCount() == before
    page.input.set_n_ctx(N_CTX)
    _counted(qtbot, page, _text(200))                     # the engine still works
    _measure(qtbot, page)
    assert page.result is not None and page.result.method == "full"


def test_bad_input_shows_its_message(qtbot, page: PerplexityPage, tmp_path: Path) -> None:
    page.input.set_text("   \n")
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert not page.running
    assert "empty" in page.message.text() and page.message.property("kind") == "error"
    page.input.set_text("kept")
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"GGUF\x00\x01\x02" * 100)
    assert not page.input.open_file(binary)
    assert "binary" in page.message.text() and page.message.property("kind") == "error"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème".encode("latin-1"))
    assert not page.input.open_file(latin)
    assert "not valid UTF-8" in page.message.text()
    assert not page.input.open_file(tmp_path / "missing.txt")
    assert "no such file" in page.message.text()
    assert page.input.text() == "kept"
    good = tmp_path / "good.md"
    good.write_text("# Title\n\nSome text.", encoding="utf-8")
    assert page.input.open_file(good) and page.input.text() == "# Title\n\nSome text."


def test_an_opened_file_counts_as_compare_and_the_cli_count_it(qtbot, page: PerplexityPage,
                                                                engine, tmp_path: Path) -> None:
    """A file ending in a newline: the page drops one trailing newline, as llama-perplexity
    -f, `parley perplexity` and Compare do, so all say the same token count."""
    text = _text(300) + " The end of a file.\n"
    path = tmp_path / "sample.txt"
    path.write_text(text, encoding="utf-8")
    assert page.input.open_file(path)
    assert page.input.text() == text[:-1]
    qtbot.waitUntil(lambda: page.input.tokens is not None, timeout=WAIT_MS)
    cli = len(engine.tokenize(text[:-1], True))              # what the CLI measures
    assert page.input.tokens == cli
    assert len(engine.tokenize(text, True)) != cli           # the newline is a token of its own


# The module's window closes here: tests after this one must not use `page`.
def test_past_runs_persist_across_a_restart(qtbot, qapp, gui: MainWindow, page: PerplexityPage,
                                            home: Path, monkeypatch) -> None:
    text = _text(200)
    _counted(qtbot, page, text)
    _measure(qtbot, page)
    runs = page.history.runs()
    assert runs and runs[0].text_sha256 == fingerprint(text)
    assert runs[0].model_file == gui.ctx.client.loaded.config.path.name
    assert runs[0].quant == "Q4_K_M" and runs[0].n_ctx == N_CTX and runs[0].method == "full"
    assert runs[0].ppl == pytest.approx(page.result.ppl)
    count = page.history.table.rowCount()
    page.input.set_n_ctx(512)                      # close mid-measurement: cancelled, not saved
    _counted(qtbot, page, SAMPLE.read_text(encoding="utf-8"))
    assert page.run()
    qtbot.wait(200)
    started = time.monotonic()
    gui.close()
    assert time.monotonic() - started < 10
    gui.ctx.store.close()
    monkeypatch.setenv("PARLEY_HOME", str(home))             # the same profile again
    ctx = AppContext.create(FakeEngine, resolver=Path)        # (no model needed)
    again = MainWindow(ctx, ThemeManager(qapp, "light"))
    qtbot.addWidget(again)
    again.show()
    again.activateWindow()
    qtbot.waitUntil(lambda: qapp.activeWindow() is again, timeout=5000)
    try:
        qtbot.keyClick(again, Qt.Key.Key_4, Qt.KeyboardModifier.AltModifier)
        restored = again.page_stack.currentWidget()
        assert isinstance(restored, PerplexityPage)
        assert restored.history.table.rowCount() == count
        assert restored.history.runs()[0] == runs[0]
        restored.history.table.selectRow(0)
        qtbot.mouseClick(restored.history.use_button, Qt.MouseButton.LeftButton)
        assert restored.input.text() == text                  # the same text, to measure again
        same = sum(r.text_sha256 == fingerprint(text) for r in runs)
        qtbot.waitUntil(lambda: f"{same} runs on this text" in restored.history.note.text(),
                        timeout=5000)
    finally:
        again.close()
        ctx.store.close()


def test_throttle_passes_at_most_one_call_per_interval() -> None:
    calls: list[tuple] = []
    throttle = Throttle(lambda *a: calls.append(a), every_s=0.1)
    for i in range(1000):
        throttle(i, 1000, None)
    assert calls == [(0, 1000, None)]
    throttle.flush()
    assert calls[-1] == (999, 1000, None)


def test_align_keeps_unscored_text_between_chunks() -> None:
    def score(index: int, text: str) -> TokenScore:
        return TokenScore(index, 0, text, 1.0, math.exp(-1.0), 1, ())

    text = "alpha beta gamma delta epsilon"
    pieces = align(text, [score(2, " beta"), score(3, " gamma"), score(7, " epsilon")])
    assert "".join(p for p, _s in pieces) == text
    assert [p for p, s in pieces if s is not None] == [" beta", " gamma", " epsilon"]
