"""The settings side of the window on a scripted fake engine: the GPU-layers slider (a CPU-only
build, and a GPU build faked at the build-probe boundary, before and after the first load),
context size and GPU layers applied only on Apply, reset to defaults, presets, and the Library's
fit verdicts following the model panel."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from app.data.prefs import DEFAULT_SYSTEM_PROMPT
from app.engine.worker import STARTER
from app.library.page import LibraryPage
from app.settings.gpu_layers import NO_OFFLOAD
from inference.engine.sampling import SamplingParams
from inference.gguf.file import read_gguf
from inference.memory.fit import padded_ctx
from tests.gui.test_library import home as isolated_home  # noqa: F401  (autouse fixture)
from tests.support.fake_engine import FakeEngine
from tests.support.gguf_factory import write_tiny_model
from tests.support.gui_window import (
    MakeWindow,
    gpu_build,
    load_fake,
    send_and_wait,
    wait_build_known,
)

pytestmark = pytest.mark.gui
GIB = 1 << 30


@pytest.fixture
def starter_in_models(starter_model_path: Path) -> Path:
    """The real starter model where the app keeps it (a link: no 253 MB copy)."""
    from inference.common.paths import parley_paths

    target = parley_paths().ensure().models / starter_model_path.name
    target.symlink_to(starter_model_path)
    return target


def test_cpu_only_build_disables_gpu_layers_with_the_reason(
        qtbot, make_window: MakeWindow, starter_in_models: Path) -> None:
    window = make_window()                     # this machine's real llama.cpp build
    wait_build_known(qtbot, window)
    report = window.build_probe.report
    assert report is not None
    if report.offloads:
        pytest.skip("this llama.cpp build offloads (the fake-GPU tests cover that side)")
    panel = window.model_panel
    assert panel.choice() == STARTER and panel.selected_file() == starter_in_models
    assert not panel.gpu.isEnabled() and not panel.gpu.slider.isEnabled()
    note = panel.gpu_note.text()
    assert note.startswith(NO_OFFLOAD)
    assert "of RAM" in note and "VRAM" in note            # the estimate, from the header
    load_fake(qtbot, window, STARTER)
    assert not panel.gpu.isEnabled() and panel.gpu_note.text().startswith(NO_OFFLOAD)


def test_gpu_layers_can_be_set_before_the_first_load(
        qtbot, make_window: MakeWindow, starter_in_models: Path) -> None:
    engine = FakeEngine(gpu_offload=True)
    window = make_window(engine, build=gpu_build(free_vram=8 * GIB))
    panel = window.model_panel
    assert not panel.gpu.isEnabled()                       # not known yet: not offered
    wait_build_known(qtbot, window)
    assert window.ctx.client.loaded is None
    assert panel.gpu.isEnabled() and panel.gpu.slider.isEnabled()
    layers = read_gguf(starter_in_models).layers
    assert layers and panel.gpu.spin.maximum() == layers + 1   # the header's layer count
    note = panel.gpu_note.text()
    assert f"0 of {layers + 1} layers on the GPU" in note and "VRAM" in note
    assert "fit in the 8.0 GiB free" in note
    panel.gpu.slider.setFocus()
    for _ in range(6):
        qtbot.keyClick(panel.gpu.slider, Qt.Key.Key_Right)
    assert panel.gpu.value() == 6
    assert f"6 of {layers + 1} layers on the GPU" in panel.gpu_note.text()
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=5000)
    assert engine.configs[-1].n_gpu_layers == 6            # the first load already offloads
    assert panel.gpu.isEnabled()


def test_a_file_that_cannot_be_read_still_offers_gpu_layers(
        qtbot, make_window: MakeWindow, tmp_path: Path) -> None:
    window = make_window(build=gpu_build())
    wait_build_known(qtbot, window)
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"nope")
    window.model_panel.select(str(bad))
    assert window.model_panel.gpu.isEnabled()
    assert "Select a GGUF model" in window.model_panel.gpu_note.text()
    tiny = write_tiny_model(tmp_path / "tiny.gguf")
    window.model_panel.select(str(tiny))
    assert "layers on the GPU" in window.model_panel.gpu_note.text()


def test_context_and_gpu_layers_apply_only_on_apply(qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine(gpu_offload=True)
    window = make_window(engine, build=gpu_build())
    wait_build_known(qtbot, window)
    load_fake(qtbot, window)
    panel = window.model_panel
    assert len(engine.configs) == 1 and engine.configs[0].n_ctx == 4096
    assert not panel.apply_button.isEnabled()
    panel.ctx.slider.setFocus()
    qtbot.keyClick(panel.ctx.slider, Qt.Key.Key_Right)     # 4096 → 8192
    panel.gpu.spin.setValue(9)
    assert panel.ctx.value() == 8192
    qtbot.wait(300)
    assert len(engine.configs) == 1                        # nothing reloaded by itself
    assert window.ctx.client.loaded.n_ctx == 4096
    assert panel.apply_button.isEnabled()
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.configs) == 2 and window.ctx.client.state == "idle",
                    timeout=5000)
    config = engine.configs[-1]
    assert (config.n_ctx, config.n_gpu_layers) == (8192, 9)
    assert config.path == engine.configs[0].path           # the same model, reloaded
    assert window.ctx.client.loaded.n_ctx == 8192
    assert not panel.apply_button.isEnabled()


def test_reset_restores_every_slider(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    panel = window.settings_panel
    defaults = SamplingParams()
    changed = {"temperature": 1.5, "top_k": 5, "top_p": 0.5, "min_p": 0.3,
               "repeat_penalty": 1.7, "presence_penalty": 0.5, "frequency_penalty": -0.4,
               "max_tokens": 77, "seed": 1234}
    assert set(changed) == set(panel.fields)               # every sampling slider
    for key, value in changed.items():
        panel.fields[key].spin.setValue(value)
        assert panel.fields[key].value() != getattr(defaults, key)
    panel.system_prompt.setPlainText("Talk like a pirate.")
    with qtbot.waitSignal(panel.samplingChanged) as emitted:
        qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    for key, field in panel.fields.items():
        assert field.value() == getattr(defaults, key), key
        assert field.slider.value() == field._to_position(getattr(defaults, key)), key
    assert emitted.args[0] == defaults and panel.sampling() == defaults
    assert panel.system_prompt_text() == DEFAULT_SYSTEM_PROMPT


def test_every_slider_end_is_a_value_the_engine_accepts(qtbot, make_window: MakeWindow) -> None:
    """The slider limits come from inference/engine/sampling.py: both ends of each one give valid
    SamplingParams (a repeat penalty of 0 used to be offered, then silently dropped)."""
    window = make_window()
    panel = window.settings_panel
    for key, field in panel.fields.items():
        for end in (field.spin.minimum(), field.spin.maximum()):
            if field.spin.value() == end:
                field.spin.setValue(end + (1 if end == field.spin.minimum() else -1))
            with qtbot.waitSignal(panel.samplingChanged, timeout=1000) as emitted:
                field.spin.setValue(end)
            assert getattr(emitted.args[0], key) == pytest.approx(end), key
        field.spin.setValue(getattr(SamplingParams(), key))
    assert panel.fields["repeat_penalty"].spin.minimum() > 0


def test_save_and_load_a_preset(qtbot, make_window: MakeWindow,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    window = make_window(engine)
    load_fake(qtbot, window)
    panel = window.settings_panel
    panel.fields["temperature"].spin.setValue(0.3)
    panel.fields["top_k"].spin.setValue(12)
    panel.fields["max_tokens"].spin.setValue(3)
    panel.system_prompt.setPlainText("Be brief.")
    monkeypatch.setattr(QInputDialog, "getText", lambda *_a, **_k: ("Brief", True))
    qtbot.mouseClick(panel.save_preset_button, Qt.MouseButton.LeftButton)
    saved = window.ctx.prefs_store.presets()["Brief"]
    assert saved["sampling"]["top_k"] == 12 and saved["system_prompt"] == "Be brief."
    panel.reset_defaults()
    assert panel.fields["top_k"].value() == SamplingParams().top_k
    combo = panel.presets
    combo.setFocus()
    index = combo.findData("Brief")
    combo.setCurrentIndex(index)
    combo.activated.emit(index)                            # as choosing it from the list does
    assert panel.fields["temperature"].value() == 0.3
    assert panel.fields["top_k"].value() == 12 and panel.fields["top_k"].slider.value() == 12
    assert panel.system_prompt_text() == "Be brief."
    send_and_wait(qtbot, window, "Hello")
    request = engine.requests[-1]
    expected = dataclasses.replace(SamplingParams(), temperature=0.3, top_k=12, max_tokens=3)
    assert request.sampling == expected
    assert request.system == "Be brief."
    assert window.transcript.message_at(1).content == "Hello there,"   # 3 tokens


def test_library_fit_follows_the_model_panel(qtbot, make_window: MakeWindow) -> None:
    from inference.common.paths import parley_paths

    write_tiny_model(parley_paths().ensure().models / "tiny-F32.gguf")
    window = make_window()
    window.switcher.show("library")
    library = window.switcher.page("library")
    assert isinstance(library, LibraryPage)

    def judged_ctx() -> int | None:
        entries = [e for e in library.entries() if e.file_name == "tiny-F32.gguf"]
        return entries[0].fit.estimate.n_ctx if entries and entries[0].fit else None

    qtbot.waitUntil(lambda: judged_ctx() == padded_ctx(4096), timeout=10_000)
    panel = window.model_panel
    with qtbot.waitSignal(library.modelsChanged, timeout=5000):
        panel.ctx.spin.setValue(1024)                      # no Library refresh pressed
    assert judged_ctx() == padded_ctx(1024)
    with qtbot.waitSignal(library.modelsChanged, timeout=5000):
        panel.ctx.spin.setValue(2048)
    assert judged_ctx() == padded_ctx(2048)


def test_hub_fit_follows_the_model_panel(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    window.switcher.show("hub")
    hub = window.switcher.page("hub")
    window.model_panel.ctx.spin.setValue(1024)
    qtbot.waitUntil(lambda: hub._fit_settings().n_ctx == 1024, timeout=5000)
