"""The GUI on the real engine (EngineHost: a child process) and the real starter model.

One window per module (the model loads once, from the GUI); each test drives it like a person:
clicks, key presses, sliders. Replies are short and greedy so the module runs in well under a
minute on two cores.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer

from app.settings.gpu_layers import NO_OFFLOAD
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from inference.engine.requests import GenerationRequest, Mode
from inference.gguf.file import read_gguf
from inference.host.host import EngineHost

pytestmark = pytest.mark.gui
MAX_TOKENS = 16


@dataclass
class Recorder:
    """Wraps the engine; remembers every GenerationRequest the worker hands it."""

    requests: list[GenerationRequest] = field(default_factory=list)
    engines: list[object] = field(default_factory=list)

    def factory(self) -> RecordingEngine:
        engine = RecordingEngine(EngineHost(), self.requests)
        self.engines.append(engine)
        return engine


class RecordingEngine:
    def __init__(self, inner: EngineHost, requests: list[GenerationRequest]) -> None:
        self._inner = inner
        self._requests = requests

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def generate(self, request, cancel=None):
        self._requests.append(request)
        return self._inner.generate(request, cancel)


@pytest.fixture(scope="module")
def gui(qapp, tmp_path_factory, starter_model_path: Path):
    mp = pytest.MonkeyPatch()
    mp.setenv("PARLEY_HOME", str(tmp_path_factory.mktemp("gui-model-home")))
    recorder = Recorder()
    ctx = AppContext.create(recorder.factory)
    window = MainWindow(ctx, ThemeManager(qapp, "light"))
    window.settings_panel.fields["temperature"].set_value(0)
    window.settings_panel.fields["max_tokens"].set_value(MAX_TOKENS)
    window.model_panel.set_model_settings(1024, 0, n_threads=1)
    window.show()
    yield window, recorder, starter_model_path
    window.close()
    ctx.store.close()
    mp.undo()


def _idle(window: MainWindow) -> bool:
    return not window.controller.busy and window.ctx.client.state == "idle"


def _ensure_loaded(qtbot, window: MainWindow, model: Path) -> None:
    if window.ctx.client.loaded is None:
        window.wiring.load_choice(str(model))
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=60_000)


def _send(qtbot, window: MainWindow, text: str) -> None:
    window.composer.input.setFocus()
    window.composer.set_text(text)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)


def test_load_send_stream_and_metrics(qtbot, gui) -> None:
    window, recorder, model = gui
    assert window.pages.currentWidget() is window.welcome
    window.model_panel.select(str(model))
    qtbot.mouseClick(window.model_panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=60_000)
    assert window.model_info.values["architecture"].text() == "gemma3"
    assert window.pages.currentWidget() is window.chat_page
    gaps: list[float] = []
    last = [time.perf_counter()]

    streamed: list[str] = []                       # partial replies seen while streaming
    intervals: set[int] = set()                    # the metrics panel's refresh interval

    def probe() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now
        if window.transcript.rowCount() == 2 and window.transcript.message_at(1).streaming:
            streamed.append(window.transcript.message_at(1).content)
            intervals.add(window.metrics.timer.interval())

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(probe)
    timer.start()
    _send(qtbot, window, "Name three colours.")
    assert window.composer.text() == ""               # accepted, so the box is cleared
    qtbot.waitUntil(lambda: window.transcript.rowCount() == 2, timeout=30_000)
    qtbot.waitUntil(lambda: _idle(window), timeout=60_000)
    timer.stop()
    reply = window.transcript.message_at(1)
    partial = [text for text in streamed if text and text != reply.content]
    assert partial and all(reply.content.startswith(text) for text in partial)
    assert intervals == {250}                     # live refresh: 4 times a second
    assert reply.content.strip() and not reply.streaming
    assert reply.stats and reply.stats["output_tokens"] > 0
    assert reply.stats["ttft_s"] > 0 and reply.stats["tpot_s"] > 0
    assert window.metrics.values["ttft_s"].text().endswith("ms")
    assert window.metrics.values["tpot_s"].text().endswith("ms")
    assert window.metrics.stats is not None and window.metrics.stats.ttft_s > 0
    assert "/ 1024 tokens" in window.metrics.context_bar.format()
    assert window.metrics.ram.text().startswith("RAM: ") and "MiB" in window.metrics.ram.text()
    assert max(gaps) < 0.25, f"the GUI thread stalled for {max(gaps):.3f} s"
    req = recorder.requests[-1]
    assert req.mode is Mode.CHAT and req.sampling.temperature == 0
    assert req.sampling.max_tokens == MAX_TOKENS
    assert [m.content for m in req.messages] == ["Name three colours."]
    stored = window.ctx.store.messages(window.controller.conversation_id)
    assert stored[1].complete and stored[1].stats["output_tokens"] == reply.stats["output_tokens"]


def test_stop_keeps_partial_reply(qtbot, gui) -> None:
    window, _recorder, model = gui
    _ensure_loaded(qtbot, window, model)
    window.settings_panel.fields["max_tokens"].spin.setValue(400)
    _send(qtbot, window, "Write a long story about a dragon.")
    row = window.transcript.rowCount() - 1
    qtbot.waitUntil(lambda: len(window.transcript.message_at(row).content) > 10, timeout=30_000)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: _idle(window), timeout=30_000)
    window.settings_panel.fields["max_tokens"].spin.setValue(MAX_TOKENS)
    reply = window.transcript.message_at(row)
    assert reply.finish_reason == "cancelled"
    assert len(reply.content) > 10 and reply.stats["output_tokens"] < 400
    stored = window.ctx.store.messages(window.controller.conversation_id)[-1]
    assert stored.finish_reason == "cancelled" and stored.content == reply.content


def test_regenerate_and_edit_and_resend(qtbot, gui) -> None:
    window, recorder, model = gui
    _ensure_loaded(qtbot, window, model)
    window.wiring.new_conversation()
    _send(qtbot, window, "Say hello.")
    qtbot.waitUntil(lambda: window.transcript.rowCount() == 2 and _idle(window), timeout=60_000)
    first_id = window.transcript.message_at(1).message_id
    window.chat_view.actionTriggered.emit("regenerate", 1)
    qtbot.waitUntil(lambda: window.transcript.rowCount() == 2 and _idle(window)
                    and window.transcript.message_at(1).message_id != first_id, timeout=60_000)
    assert window.transcript.message_at(1).content.strip()
    assert [m.content for m in recorder.requests[-1].messages] == ["Say hello."]
    window.chat_view.actionTriggered.emit("edit", 0)
    assert window.composer.editing_row == 0 and window.composer.text() == "Say hello."
    window.composer.set_text("Say goodbye.")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _idle(window) and window.transcript.rowCount() == 2
                    and not window.transcript.message_at(1).streaming, timeout=60_000)
    assert window.transcript.message_at(0).content == "Say goodbye."
    assert [m.content for m in recorder.requests[-1].messages] == ["Say goodbye."]
    stored = window.ctx.store.messages(window.controller.conversation_id)
    assert [m.content for m in stored][0] == "Say goodbye." and len(stored) == 2


def test_text_and_instruct_modes_build_their_requests(qtbot, gui) -> None:
    window, recorder, model = gui
    _ensure_loaded(qtbot, window, model)
    qtbot.mouseClick(window.mode_buttons[Mode.TEXT], Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.text_page
    assert "none" in window.template_label.text()
    window.text_page.editor.setPlainText("The capital of France is")
    qtbot.mouseClick(window.text_page.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.text_run.busy and window.ctx.client.state == "idle",
                    timeout=60_000)
    req = recorder.requests[-1]
    assert req.mode is Mode.TEXT and req.text == "The capital of France is" and not req.system
    document = window.text_page.editor.toPlainText()
    assert document.startswith("The capital of France is") and len(document) > 24
    qtbot.mouseClick(window.mode_buttons[Mode.INSTRUCT], Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.instruct_page
    assert "gemma" in window.template_label.text().lower()
    window.instruct_page.system.setPlainText("Answer in one word.")
    window.instruct_page.instruction.setPlainText("What colour is the sky?")
    qtbot.mouseClick(window.instruct_page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.instruct_run.busy and window.ctx.client.state == "idle",
                    timeout=60_000)
    req = recorder.requests[-1]
    assert req.mode is Mode.INSTRUCT and req.messages == ()
    assert req.text == "What colour is the sky?" and req.system == "Answer in one word."
    assert window.instruct_page.response.toPlainText().strip()
    window.wiring.show_prompt()
    qtbot.waitUntil(lambda: "tokens" in window.wiring.prompt_dialog.summary.text(),
                    timeout=10_000)
    assert "What colour is the sky?" in window.wiring.prompt_dialog.text.toPlainText()
    window.wiring.prompt_dialog.close()
    qtbot.mouseClick(window.mode_buttons[Mode.CHAT], Qt.MouseButton.LeftButton)


def test_slider_changes_what_the_engine_receives(qtbot, gui) -> None:
    window, recorder, model = gui
    _ensure_loaded(qtbot, window, model)
    field = window.settings_panel.fields["top_k"]
    field.slider.setFocus()
    field.slider.setValue(7)                       # as a drag would
    assert field.value() == 7
    temperature = window.settings_panel.fields["temperature"]
    qtbot.keyClick(temperature.slider, Qt.Key.Key_Right)   # 0 → 0.05, by keyboard
    window.wiring.new_conversation()
    _send(qtbot, window, "Hi")
    qtbot.waitUntil(lambda: _idle(window) and window.transcript.rowCount() == 2, timeout=60_000)
    sampling = recorder.requests[-1].sampling
    assert sampling.top_k == 7 and sampling.temperature == pytest.approx(0.05)
    temperature.set_value(0)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGABRT], ids=["SIGKILL", "SIGABRT"])
def test_engine_crash_keeps_conversation_and_offers_reload(qtbot, gui, sig: int) -> None:
    window, recorder, model = gui
    _ensure_loaded(qtbot, window, model)
    window.settings_panel.fields["max_tokens"].spin.setValue(400)
    _send(qtbot, window, "Count from one to one hundred in words.")
    row = window.transcript.rowCount() - 1
    qtbot.waitUntil(lambda: len(window.transcript.message_at(row).content) > 5, timeout=30_000)
    os.kill(window.ctx.client.pid, sig)        # SIGABRT: what a failed GGML_ASSERT raises
    qtbot.waitUntil(lambda: window.banner.kind == "crash" and window.banner.isVisible(),
                    timeout=30_000)
    window.settings_panel.fields["max_tokens"].spin.setValue(MAX_TOKENS)
    assert "engine stopped" in window.banner.text()
    partial = window.transcript.message_at(row)
    assert partial.content and not partial.streaming
    stored = window.ctx.store.messages(window.controller.conversation_id)[-1]
    assert stored.content == partial.content
    assert window.banner.action.text() == "Reload model"
    qtbot.mouseClick(window.banner.action, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None and _idle(window),
                    timeout=60_000)
    asked = len(recorder.requests)
    _send(qtbot, window, "Say hello.")                     # the fresh engine answers
    qtbot.waitUntil(lambda: _idle(window) and window.transcript.rowCount() == row + 3
                    and not window.transcript.message_at(row + 2).streaming, timeout=60_000)
    reply = window.transcript.message_at(row + 2)
    assert reply.content.strip() and reply.finish_reason in ("stop", "length")
    assert len(recorder.requests) == asked + 1
    assert [m.content for m in recorder.requests[-1].messages][-1] == "Say hello."
    assert window.transcript.message_at(row).content == partial.content   # still there


def test_model_info_shows_every_field_of_the_starter(qtbot, gui) -> None:
    window, _recorder, model = gui
    _ensure_loaded(qtbot, window, model)
    window.tabs.setCurrentWidget(window.model_info)
    info = read_gguf(model)                                   # the file's own header
    shown = {key: label.text() for key, label in window.model_info.values.items()}
    assert all(window.model_info.values[k].isVisible() for k in shown)
    assert shown["architecture"] == info.architecture == "gemma3"
    assert shown["parameters"] == f"{info.parameters / 1e6:.1f}M" == "268.1M"
    assert shown["quant"] == info.quant and "Q4_K" in shown["quant"]
    assert shown["bits_per_weight"] == f"{info.bits_per_weight:.2f}"
    assert float(shown["bits_per_weight"]) > 4
    assert shown["file_size"] == f"{info.file_size / (1 << 20):.1f} MiB"
    assert shown["context_length"] == f"{info.context_length:,} tokens" == "32,768 tokens"
    assert shown["n_ctx"] == "1,024 tokens"
    assert shown["layers"] == str(info.layers) == "18"
    assert shown["experts"] == "none (dense model)" and not info.is_moe
    loaded = window.ctx.client.loaded
    assert shown["template"] == loaded.template and "gemma" in shown["template"].lower()
    assert "Gemma" in shown["name"] or "gemma" in shown["name"]
    panel = window.model_panel                                 # this machine: a CPU build
    if not loaded.gpu_offload:
        assert not panel.gpu.isEnabled() and panel.gpu_note.text().startswith(NO_OFFLOAD)
    else:
        assert panel.gpu.isEnabled() and "layers on the GPU" in panel.gpu_note.text()
    window.tabs.setCurrentIndex(0)


def test_broken_gguf_shows_the_specific_error(qtbot, gui, tmp_path: Path) -> None:
    window, _recorder, _model = gui
    qtbot.waitUntil(lambda: not window.ctx.client.busy, timeout=30_000)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"NOPE" + bytes(200))
    draft = "my unsent words"
    window.composer.set_text(draft)
    window.wiring.load_choice(str(broken))
    qtbot.waitUntil(lambda: window.banner.kind == "error" and window.banner.isVisible(),
                    timeout=30_000)
    text = window.banner.text().lower()
    assert "gguf" in text and "traceback" not in text
    assert window.composer.text() == draft
    assert window.ctx.client.state != "loading"
