"""Figures that must not lie, on the real window (offscreen, FakeEngine): the metrics panel
after a reload, Load → Cancel and a double-clicked Load, prefill progress and "cached", one
rate-based ETA, negative zero, the Compare chart's colours and the native style per platform."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QApplication

from app.compare.quality_chart import GRID_ALPHA, QualityChart, chart_colors
from app.settings.metrics_panel import format_figure
from app.shell.formatting import RateEta, eta_text, prefill_text
from app.shell.theme import DARK, style_for_platform
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.engine.config import ModelConfig
from inference.engine.metrics import GenerationStats
from tests.gui.test_compare import RESULT
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import FAKE_MODEL, MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui


@dataclass
class SlowLoadEngine(FakeEngine):
    """A FakeEngine whose load takes `load_s` seconds and honours Cancel, as the real one."""

    load_s: float = 1.5

    def load(self, config: ModelConfig, progress=None, cancel: CancelToken | None = None):
        self._loaded = None                    # EngineAPI.load replaces the model first
        end = time.monotonic() + self.load_s
        while time.monotonic() < end:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("load cancelled")
            time.sleep(0.01)
        return super().load(config, progress, cancel)


def test_metrics_reset_when_a_model_is_reloaded(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    window.model_panel.set_model_settings(4096, 0)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "hello")
    metrics = window.metrics
    assert "/ 4096 tokens" in metrics.context_bar.format()
    assert metrics.values["output_tokens"].text() == "5"
    window.model_panel.set_model_settings(2048, 0)
    window.wiring.load_choice(FAKE_MODEL)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None
                    and window.ctx.client.loaded.n_ctx == 2048, timeout=5000)
    metrics.refresh()
    assert metrics.context_bar.format() == "0 / 2048 tokens (0%)"
    assert all(label.text() == "—" for label in metrics.values.values())
    assert metrics.caption.text() == "Metrics · no reply yet"


def test_load_then_cancel_leaves_no_loading_status(qtbot, make_window: MakeWindow) -> None:
    window = make_window(SlowLoadEngine(load_s=0.2))
    load_fake(qtbot, window)                               # a working model first
    window.ctx.client._worker._engine.load_s = 30.0        # the next load takes long
    panel = window.model_panel
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.state == "loading", timeout=3000)
    assert panel.status.text().startswith("Loading ")
    qtbot.wait(QApplication.doubleClickInterval() + 50)
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)          # Cancel
    qtbot.waitUntil(lambda: window.ctx.client.state == "unloaded", timeout=5000)
    assert panel.status.text() == "No model loaded"         # the load replaced the old model
    assert panel.load_button.text() == "Load" and not panel.progress.isVisible()
    assert window.welcome.status.text() == ""
    assert window.ctx.client.loaded is None
    assert window.metrics.context_bar.format() == "no model loaded"


def test_a_double_clicked_load_loads_once_and_says_so(qtbot, make_window: MakeWindow) -> None:
    engine = SlowLoadEngine(load_s=0.5)
    window = make_window(engine)
    panel = window.model_panel
    panel.select(FAKE_MODEL)
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)      # the double-click
    window.wiring.load_choice(FAKE_MODEL)                                # and a second Load
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=5000)
    assert len(engine.configs) == 1
    assert panel.status.text().startswith("Loaded fake.gguf")
    assert window.banner.text() == ""                       # no stale "busy" message


def test_prefill_progress_shows_tokens_and_time_left(qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(prefill_steps=5, delay=0.35))
    load_fake(qtbot, window)
    bar = window.metrics.prefill_bar
    window.composer.set_text("a long prompt")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(bar.isVisible, timeout=3000)
    assert bar.format().startswith("Prompt 512 / 2,560 tokens")
    qtbot.waitUntil(lambda: " left" in bar.format(), timeout=3000)     # rate known after ~1 s
    assert bar.maximum() == 2560 and bar.value() >= 1024
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=10_000)
    assert not bar.isVisible() and window.metrics.prefill is None


def test_prefill_of_one_token_says_cached(make_window: MakeWindow) -> None:
    window = make_window()
    cached = GenerationStats(prompt_tokens=98, cached_tokens=97, prefill_tps=6.6,
                             output_tokens=3, n_ctx=4096, context_tokens=101)
    window.metrics.show_final(cached)
    assert window.metrics.values["prefill_tps"].text() == "cached"
    assert window.metrics.values["prompt_tokens"].text() == "98 (97 cached)"
    fresh = GenerationStats(prompt_tokens=98, prefill_tps=812.44)
    assert prefill_text(fresh) == format_figure("prefill_tps", fresh) == "812.4 tok/s"
    assert prefill_text(GenerationStats()) == "—"


def test_rate_eta_counts_down_and_never_goes_up() -> None:
    eta = RateEta(started=0.0)
    assert eta.seconds(0.5) is None                            # too early to say
    eta.update(0.25, 60.0)                                    # a quarter in a minute
    assert eta.text(60.0) == "3:00 left"
    assert eta.text(90.0) == "2:30 left"                       # counts down between reports
    eta.update(0.3, 120.0)                                    # slower: 280 s at this rate
    assert eta.seconds(120.0) == 150.0                        # held, not raised
    eta.update(1.0, 200.0)
    assert eta.text(200.0) == "0:00 left"
    assert eta_text(None) == ""


def test_compare_reference_row_shows_kld_zero(qtbot) -> None:
    from dataclasses import replace

    from app.compare.table import CompareTableModel

    rows = tuple(replace(r, kld_mean=-0.0, kld_se=0.0, kld_p99=-1e-9, kld_max=0.0)
                 if r.is_reference else r for r in RESULT.rows)
    model = CompareTableModel()
    model.set_result(replace(RESULT, rows=rows))
    ref = next(i for i, r in enumerate(rows) if r.is_reference)
    keys = [c.key for c in model.columns]
    for key in ("kld_mean", "kld_p99", "kld_max"):
        assert model.data(model.index(ref, keys.index(key))) in ("0.000000 ± 0.000000",
                                                                  "0.000000")
        assert not model.data(model.index(ref, keys.index(key))).startswith("-")
    assert model.data(model.index(0, keys.index("kld_mean"))) == "0.300000 ± 0.015000"


def test_compare_chart_takes_its_colours_from_the_palette(qtbot) -> None:
    chart = QualityChart()
    qtbot.addWidget(chart)
    chart.resize(360, 240)
    chart.set_palette(DARK)
    assert chart.colors == chart_colors(DARK)
    assert chart.colors["text"].name() == DARK.text                    # light on dark grey
    assert chart.colors["grid"].alpha() == GRID_ALPHA                  # soft gridlines
    chart.set_result(RESULT)
    chart.set_axes("bits_per_weight", "kld_mean")
    chart.grab()
    plot = chart.plot_rect()
    assert set(chart.labels) == {"Q8_0", "Q4_0", "Q2_K"}
    for rect in chart.labels.values():                                 # Q8_0 is rightmost
        assert plot.contains(rect), (rect, plot)
    assert isinstance(chart.labels["Q8_0"], QRectF)


@pytest.mark.parametrize(("platform", "style"), [
    ("linux", "Fusion"), ("win32", None), ("darwin", None), ("freebsd14", "Fusion")])
def test_native_look_where_the_platform_has_one(platform: str, style: str | None) -> None:
    assert style_for_platform(platform, ["Windows", "Fusion"]) == style
    assert style_for_platform("linux", ["Windows"]) is None            # no Fusion: leave it
