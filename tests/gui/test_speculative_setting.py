"""Model settings → speculative decoding reaches the engine's ModelConfig on Apply, and the
metrics panel shows a reply's acceptance figures (on the scripted fake engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.data.prefs import Preferences
from app.settings.metrics_panel import FIGURE_DEFINITIONS
from inference.engine.metrics import GenerationStats
from inference.speculative.settings import SpeculativeMode
from tests.gui.test_library import home as isolated_home  # noqa: F401  (autouse fixture)
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, gpu_build, load_fake, wait_build_known

pytestmark = pytest.mark.gui


def test_speculative_decoding_applies_with_a_reload(qtbot, make_window: MakeWindow,
                                                    tmp_path: Path) -> None:
    engine = FakeEngine(gpu_offload=True)
    window = make_window(engine, build=gpu_build())
    wait_build_known(qtbot, window)
    load_fake(qtbot, window)
    panel, field = window.model_panel, window.model_panel.speculative
    assert engine.configs[0].speculative is SpeculativeMode.OFF
    assert not field.length.isEnabled() and not field.choose.isVisible()
    field.mode.setCurrentIndex(field.mode.findText("Prompt lookup"))
    field.length.setValue(4)
    assert panel.apply_button.isEnabled() and len(engine.configs) == 1
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.configs) == 2 and window.ctx.client.state == "idle",
                    timeout=5000)
    config = engine.configs[-1]
    assert (config.speculative, config.draft_max, config.draft_model) == (
        SpeculativeMode.LOOKUP, 4, None)
    assert not panel.apply_button.isEnabled()
    # the draft model mode without a file is not applied; with one it is
    field.mode.setCurrentIndex(field.mode.findText("Draft model"))
    assert field.choose.isVisibleTo(panel) and field.value().mode is SpeculativeMode.OFF
    draft = tmp_path / "small-draft.gguf"
    draft.write_bytes(b"GGUF")
    field.set_draft_model(draft)
    assert field.file_label.text() == "draft: small-draft.gguf"
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.configs) == 3 and window.ctx.client.state == "idle",
                    timeout=5000)
    config = engine.configs[-1]
    assert (config.speculative, config.draft_model) == (SpeculativeMode.DRAFT, draft)


def test_the_choice_is_remembered_across_a_restart(qtbot, make_window: MakeWindow) -> None:
    """Applied speculative settings are saved with the model settings and come back in the
    next window; a bad saved value falls back to off for that field only."""
    window = make_window(FakeEngine(gpu_offload=True), build=gpu_build())
    wait_build_known(qtbot, window)
    load_fake(qtbot, window)
    panel, field = window.model_panel, window.model_panel.speculative
    field.mode.setCurrentIndex(field.mode.findText("Prompt lookup"))
    field.length.setValue(3)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.state == "idle", timeout=5000)
    assert window.ctx.prefs.speculative == {"mode": "lookup", "draft_max": 3,
                                            "draft_model": ""}
    window.close()
    again = make_window(FakeEngine(gpu_offload=True), build=gpu_build())
    choice = again.model_panel.speculative.value()
    assert (choice.mode, choice.draft_max) == (SpeculativeMode.LOOKUP, 3)
    assert Preferences.from_dict({"speculative": {"mode": "fast", "draft_max": 2}}
                                 ).speculative == {"mode": "off", "draft_max": 2,
                                                   "draft_model": ""}


def test_the_metrics_panel_shows_acceptance_only_for_speculative_replies(
        qtbot, make_window: MakeWindow) -> None:
    metrics = make_window().metrics
    metrics.show_final(GenerationStats(output_tokens=40))
    assert not metrics.speculation.isVisibleTo(metrics)
    metrics.show_final(GenerationStats(output_tokens=40, draft_tokens=50, accepted_tokens=46,
                                       acceptance_rate=0.92, mean_accepted=5.75))
    assert metrics.speculation.isVisibleTo(metrics)
    assert metrics.speculation.text() == "Speculative: 92% of drafts kept · 5.8 per draft"
    assert FIGURE_DEFINITIONS["acceptance_rate"] in metrics.speculation.toolTip()
