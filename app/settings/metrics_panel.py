"""Live metrics: TTFT, TPOT, speeds, tokens, context used, VRAM, RAM and a one-minute chart.

Figures arrive with each streamed update (at most every 30 ms); the panel repaints on its own timer,
4× a second while a reply streams, once a second otherwise. Memory is read, and the chart gets a
point, once a second either way (each costs CPU that a streaming reply competes for). Every
figure's tooltip is its exact definition: `FIGURE_DEFINITIONS` (docs/ARCHITECTURE.md § Figures,
`inference.engine.metrics.DEFINITIONS`) is the one source; README's "What the numbers mean" repeats
it
word for word (a test keeps them equal).
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.settings.sparkline import Sparkline
from app.shell.formatting import RateEta, prefill_text
from app.shell.theme import Palette
from inference.engine.metrics import DEFINITIONS, GenerationStats
from inference.memory.fit import human_bytes
from inference.memory.probes import MemoryProbe, MemorySnapshot

log = logging.getLogger(__name__)

LIVE_MS = 250
IDLE_MS = 1000
MEMORY_EVERY_S = 1.0      # memory readings and chart points; the figures refresh faster
VRAM_DEF = ("Video memory: with a GPU build and NVML, the device memory the engine's process "
            "holds, out of the device total. With no GPU in use, it says so.")
RAM_DEF = "Resident memory (RSS) of the engine's process, as psutil measures it."
FIGURE_DEFINITIONS: dict[str, str] = {**DEFINITIONS, "vram": VRAM_DEF, "ram": RAM_DEF}
FIGURES = (
    ("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("gen_tps", "Generation"),
    ("prefill_tps", "Prefill"), ("prompt_tokens", "Prompt tokens"),
    ("output_tokens", "Output tokens"),
)


def speculation_text(stats: GenerationStats | None) -> str | None:
    """"Speculative: 92 % of drafts kept · 5.8 per draft", or None for a reply with no drafts."""
    if stats is None or stats.acceptance_rate is None:
        return None
    per = f" · {stats.mean_accepted:.1f} per draft" if stats.mean_accepted is not None else ""
    return f"Speculative: {stats.acceptance_rate:.0%} of drafts kept{per}"


def format_figure(key: str, stats: GenerationStats | None) -> str:
    if stats is None:
        return "—"
    value = getattr(stats, key)
    if key == "prefill_tps" and stats.prompt_tokens > 0:
        return prefill_text(stats)            # "cached" even when no speed was measured
    if value is None:
        return "—"
    if key == "ttft_s":
        return f"{value * 1000:.0f} ms"
    if key == "tpot_s":
        return f"{value * 1000:.1f} ms"
    if key == "gen_tps":
        return f"{value:.1f} tok/s"
    if key == "prompt_tokens" and stats.cached_tokens:
        return f"{value} ({stats.cached_tokens} cached)"
    return str(value)


class MetricsPanel(QWidget):
    refreshed = Signal()                  # the figures were repainted
    memorySampled = Signal(object)        # MemorySnapshot of the engine's process

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricsPanel")
        self._stats: GenerationStats | None = None
        self._n_ctx = 0
        self._generating = False
        self._probe: MemoryProbe | None = None
        self._snapshot: MemorySnapshot | None = None
        self._sampled_at: float | None = None      # monotonic time of the last memory reading
        self._prefill: tuple[int, int] | None = None   # prompt tokens evaluated, to evaluate
        self._prefill_eta: RateEta | None = None
        self._started = 0.0                        # monotonic time the reply was asked for
        self._remote = ""                          # the remote engine's name, when one answers
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.setSpacing(6)
        self.caption = QLabel("Metrics · no reply yet")
        self.caption.setObjectName("sectionHeading")
        layout.addWidget(self.caption)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        self.values: dict[str, QLabel] = {}
        for i, (key, title) in enumerate(FIGURES):
            tile = QWidget()
            tile.setObjectName("metricTile")
            tile.setToolTip(FIGURE_DEFINITIONS[key])
            tile.setMinimumHeight(50)
            box = QVBoxLayout(tile)
            box.setContentsMargins(8, 5, 8, 5)
            box.setSpacing(0)
            name = QLabel(title)
            name.setObjectName("metricName")
            value = QLabel("—")
            value.setObjectName("metricValue")
            value.setAccessibleName(title)
            value.setAccessibleDescription(FIGURE_DEFINITIONS[key])
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)       # "1,234 (1,000 cached)" takes two lines, not "1,23"
            box.addWidget(name)
            box.addWidget(value)
            self.values[key] = value
            grid.addWidget(tile, i // 2, i % 2)
        layout.addLayout(grid)
        self.context_label = QLabel("Context used")
        self.context_label.setObjectName("metricName")
        self.context_label.setToolTip(FIGURE_DEFINITIONS["context_used"])
        self.context_bar = QProgressBar()
        self.context_bar.setObjectName("contextBar")
        self.context_bar.setAccessibleName("Context used")
        self.context_bar.setToolTip(FIGURE_DEFINITIONS["context_used"])
        self.context_bar.setRange(0, 1)
        self.context_bar.setValue(0)
        self.context_bar.setFormat("no context yet")
        self.vram = QLabel("VRAM: —")
        self.vram.setToolTip(FIGURE_DEFINITIONS["vram"])
        self.vram.setAccessibleName("VRAM")
        self.ram = QLabel("RAM: —")
        self.ram.setToolTip(FIGURE_DEFINITIONS["ram"])
        self.ram.setAccessibleName("RAM")
        for label in (self.vram, self.ram):
            label.setObjectName("memoryLabel")
            label.setWordWrap(True)
        self.prefill_bar = QProgressBar()
        self.prefill_bar.setObjectName("prefillBar")
        self.prefill_bar.setAccessibleName("Prompt processing")
        self.prefill_bar.setToolTip("The prompt is evaluated before the first token can come: "
                                    "tokens evaluated so far, of those to evaluate (tokens "
                                    "reused from the cache are not counted), and time left")
        self.prefill_bar.hide()
        self.speculation = QLabel("")
        self.speculation.setObjectName("memoryLabel")
        self.speculation.setAccessibleName("Speculative decoding")
        self.speculation.setToolTip(FIGURE_DEFINITIONS["acceptance_rate"] + "\n"
                                    + FIGURE_DEFINITIONS["mean_accepted"])
        self.speculation.hide()
        self.chart = Sparkline()
        for widget in (self.prefill_bar, self.context_label, self.context_bar, self.speculation,
                       self.vram, self.ram, self.chart):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.timer = QTimer(self)
        self.timer.setInterval(IDLE_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- inputs ------------------------------------------------------------------------------
    def set_palette(self, palette: Palette) -> None:
        self.chart.set_palette(palette)

    def set_probe(self, probe: MemoryProbe | None, n_ctx: int = 0, remote: str = "") -> None:
        """Measure the engine's process with `probe`; `remote`: a remote engine of that name
        answers (its memory is on another computer, not measured)."""
        if self._probe is not None and self._probe is not probe:
            self._probe.close()
        self._probe = probe
        self._n_ctx = n_ctx
        self._remote = remote
        self._sampled_at = None
        self._stats = None                # figures of another model (or none) are not shown
        self._end_prefill()
        self.refresh()

    def set_generating(self, generating: bool) -> None:
        if generating == self._generating:
            return
        self._generating = generating
        if generating:
            self._stats = None
            self._started = time.monotonic()
        self._end_prefill()
        self.timer.setInterval(LIVE_MS if generating else IDLE_MS)
        self.refresh()

    def update_stats(self, stats: GenerationStats) -> None:
        """Cheap: remember the newest figures; the timer paints them."""
        self._stats = stats
        if stats.output_tokens:
            self._end_prefill()

    def show_prefill(self, done: int, total: int) -> None:
        """The prompt is being evaluated: `done` of `total` tokens so far."""
        now = time.monotonic()
        if self._prefill_eta is None or self._prefill is None or done < self._prefill[0]:
            self._prefill_eta = RateEta(self._started or now)
        self._prefill = (done, total)
        self._prefill_eta.update(done / total if total else 1.0, now)
        self._show_prefill(now)

    @property
    def prefill(self) -> tuple[int, int] | None:
        return self._prefill

    def show_final(self, stats: GenerationStats) -> None:
        self._stats = stats
        self.refresh()

    @property
    def stats(self) -> GenerationStats | None:
        return self._stats

    @property
    def snapshot(self) -> MemorySnapshot | None:
        return self._snapshot

    # -- painting ----------------------------------------------------------------------------
    def refresh(self) -> None:
        stats = self._stats
        where = f" · remote: {self._remote}" if self._remote else ""
        self.caption.setText(("Metrics · live" if self._generating else
                              "Metrics · last reply" if stats else "Metrics · no reply yet")
                             + where)
        for key, label in self.values.items():
            label.setText(format_figure(key, stats))
        self._show_context(stats)
        speculation = speculation_text(stats)
        self.speculation.setText(speculation or "")
        self.speculation.setVisible(speculation is not None)
        now = time.monotonic()
        self._show_prefill(now)
        # 0.95: the fourth 250 ms tick counts even when the timer fires a little early
        if self._sampled_at is None or now - self._sampled_at >= MEMORY_EVERY_S * 0.95:
            self._sampled_at = now
            self._sample_memory()
            self._add_chart_point(stats, now)
        self.refreshed.emit()

    def _add_chart_point(self, stats: GenerationStats | None, now: float) -> None:
        tps = (stats.gen_tps or 0.0) if stats and self._generating else 0.0
        snap = self._snapshot
        memory = 0.0
        if snap is not None:
            memory = float(snap.rss_bytes or 0)
            if snap.gpu and snap.gpu.used_by_process_bytes:
                memory += snap.gpu.used_by_process_bytes
        if self._probe is not None or self._generating:
            self.chart.add(tps, memory, now)

    def _show_prefill(self, now: float) -> None:
        if self._prefill is None or self._prefill_eta is None:
            self.prefill_bar.hide()
            return
        done, total = self._prefill
        left = self._prefill_eta.text(now)
        self.prefill_bar.setRange(0, max(total, 1))
        self.prefill_bar.setValue(min(done, total))
        self.prefill_bar.setFormat(f"Prompt {done:,} / {total:,} tokens"
                                   + (f" · {left}" if left else ""))
        self.prefill_bar.show()

    def _end_prefill(self) -> None:
        self._prefill = None
        self._prefill_eta = None
        self.prefill_bar.hide()

    def _show_context(self, stats: GenerationStats | None) -> None:
        n_ctx = (stats.n_ctx if stats and stats.n_ctx else 0) or self._n_ctx
        used = stats.context_tokens if stats else 0
        if not n_ctx:
            self.context_bar.setRange(0, 1)
            self.context_bar.setValue(0)
            self.context_bar.setFormat("context size not reported by the server"
                                       if self._remote else "no model loaded")
            return
        self.context_bar.setRange(0, n_ctx)
        self.context_bar.setValue(min(used, n_ctx))
        self.context_bar.setFormat(f"{used} / {n_ctx} tokens ({used / n_ctx:.0%})")

    def _sample_memory(self) -> None:
        if self._remote:
            self.vram.setText(f"VRAM: not measured (remote: {self._remote})")
            self.ram.setText("RAM: not measured (the engine runs on another computer)")
            return
        if self._probe is None:
            self.vram.setText("VRAM: no model loaded")
            self.ram.setText("RAM: no model loaded")
            return
        try:
            snap = self._probe.snapshot()
        except Exception:               # a probe must never break the window
            log.debug("memory probe failed", exc_info=True)
            return
        self._snapshot = snap
        self.memorySampled.emit(snap)
        if snap.gpu is None:
            self.vram.setText(f"VRAM: {snap.gpu_note or 'no GPU in use'}")
        else:
            gpu = snap.gpu
            ours = (human_bytes(gpu.used_by_process_bytes)
                    if gpu.used_by_process_bytes is not None else "unknown")
            self.vram.setText(f"VRAM: {ours} used by the engine · {human_bytes(gpu.used_bytes)}"
                              f" / {human_bytes(gpu.total_bytes)} on {gpu.name}")
            if snap.gpu_note:
                self.vram.setToolTip(f"{VRAM_DEF}\n{snap.gpu_note}")
        rss = human_bytes(snap.rss_bytes) if snap.rss_bytes is not None else "engine not running"
        self.ram.setText(f"RAM: {rss} (engine) · {human_bytes(snap.system_available)} free of "
                         f"{human_bytes(snap.system_total)}")
