"""Model settings → Prompt template: the custom template editor's live preview (rendered in a
child process from the real starter model's vocabulary), a failing template's one-line error
with the text kept, the choice applied with a reload and kept per model across a restart, and
on the real engine the preview equal to Show prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase

from app.data.prefs import PrefsStore, TemplatePref
from app.engine.worker import STARTER
from app.settings.template_editor import STARTER_TEMPLATE, TemplateEditor
from app.settings.template_preview import trial_request
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from inference.engine.prompt_preview import preview_prompt
from inference.engine.requests import Mode
from inference.engine.template_source import TemplateKind, TemplateSource
from inference.host.host import EngineHost
from tests.gui.test_base_model import HeaderEngine, header_window_fixture, load  # noqa: F401
from tests.support.gui_window import send_and_wait, this_build

pytestmark = pytest.mark.gui
PREVIEW_S = 60_000          # a preview spawns a process and loads a vocabulary
ROLE_LINES = ("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
              "{% if add_generation_prompt %}[assistant]{% endif %}")


def open_custom(qtbot, window: MainWindow) -> TemplateEditor:
    """Choose "Custom…" as a person does; the editor opens (nothing written yet)."""
    combo = window.model_panel.template.kind
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_End)                  # the last item: Custom…
    editor = window.model_panel.template.editor
    assert editor is not None and editor.isVisible()
    return editor


def wait_preview(qtbot, editor: TemplateEditor) -> None:
    qtbot.waitUntil(lambda: not editor.previewer.busy and not editor._timer.isActive()
                    and editor.summary.text() != "Rendering…", timeout=PREVIEW_S)


def test_custom_text_updates_the_preview(qtbot, header_window, starter_model_path):
    window = header_window()
    window.set_mode(Mode.CHAT)
    load(qtbot, window, STARTER)
    editor = open_custom(qtbot, window)
    assert editor.text() == STARTER_TEMPLATE                  # the starter has none of its own
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()
    assert editor.editor.font().family() == editor.preview.font().family() == fixed
    wait_preview(qtbot, editor)
    expected = preview_prompt(starter_model_path, trial_request(),
                              TemplateSource(TemplateKind.CUSTOM, STARTER_TEMPLATE, "settings"),
                              n_ctx=window.ctx.client.loaded.n_ctx)
    assert editor.preview.toPlainText() == expected.text     # the trial conversation
    assert expected.text.startswith("System: You are a helpful assistant.")
    assert editor.summary.text().startswith(
        f"Template: custom template (settings) · {expected.prompt_tokens} tokens")
    editor.editor.setPlainText(ROLE_LINES)
    wait_preview(qtbot, editor)
    assert editor.preview.toPlainText().startswith("[system] You are a helpful assistant.")
    assert editor.preview.toPlainText().endswith("[assistant]")
    assert editor.error.isHidden()


def test_the_preview_shows_the_current_chat(qtbot, header_window):
    window = header_window()
    window.set_mode(Mode.CHAT)
    load(qtbot, window, STARTER)
    send_and_wait(qtbot, window, "What is a GGUF file?")
    editor = open_custom(qtbot, window)
    editor.editor.setPlainText(ROLE_LINES)
    wait_preview(qtbot, editor)                 # after a reply: the prompt that reply came from
    assert editor.preview.toPlainText() == (
        "[system] You are a helpful assistant.\n[user] What is a GGUF file?\n[assistant]")
    assert editor.summary.text().endswith("on this conversation")
    editor.reject()
    window.composer.set_text("And a tokenizer?")            # typed, not sent: Show prompt has it
    editor = open_custom(qtbot, window)
    editor.editor.setPlainText(ROLE_LINES)
    wait_preview(qtbot, editor)
    assert editor.preview.toPlainText() == (
        "[system] You are a helpful assistant.\n[user] What is a GGUF file?\n"
        "[assistant] Hello there, friend.\n[user] And a tokenizer?\n[assistant]")
    assert editor.summary.text().endswith("on this conversation")


def test_the_preview_shows_the_current_instruction(qtbot, header_window):
    window = header_window()
    load(qtbot, window, STARTER)
    window.set_mode(Mode.INSTRUCT)
    window.instruct_page.system.setPlainText("Be exact.")
    window.instruct_page.instruction.setPlainText("Sort: pear, apple.")
    editor = open_custom(qtbot, window)
    editor.editor.setPlainText(ROLE_LINES)
    wait_preview(qtbot, editor)
    assert editor.preview.toPlainText() == (
        "[system] Be exact.\n[user] Sort: pear, apple.\n[assistant]")


def test_a_bad_template_shows_its_error_and_keeps_the_text(qtbot, header_window):
    window = header_window()
    load(qtbot, window, STARTER)
    editor = open_custom(qtbot, window)
    broken = "{% for m in messages %}{{ m['content'] }"
    editor.editor.setPlainText(broken)
    wait_preview(qtbot, editor)
    assert not editor.error.isHidden()
    assert editor.error.text().startswith("the custom chat template does not parse")
    assert "\n" not in editor.error.text()
    assert editor.text() == broken and editor.preview.toPlainText() == ""
    assert not editor.use_button.isEnabled()
    qtbot.mouseClick(editor.use_button, Qt.MouseButton.LeftButton)
    assert editor.isVisible()                                 # refused: still open
    looping = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    editor.editor.setPlainText(looping)
    wait_preview(qtbot, editor)
    assert "ran past the 2-second limit" in editor.error.text() and editor.text() == looping
    editor.editor.setPlainText("")
    qtbot.waitUntil(lambda: editor.error.text() == "the custom chat template is empty",
                    timeout=5000)
    editor.reject()
    panel = window.model_panel.template
    assert panel.pref() == TemplatePref() and panel.shown_kind() is TemplateKind.FILE


def test_the_choice_is_applied_with_a_reload_and_survives_a_restart(qtbot, header_window):
    engine = HeaderEngine()
    window = header_window(engine)
    load(qtbot, window, STARTER)
    panel = window.model_panel
    assert engine.configs[-1].template == TemplateSource()
    editor = open_custom(qtbot, window)
    editor.editor.setPlainText(ROLE_LINES)
    qtbot.mouseClick(editor.use_button, Qt.MouseButton.LeftButton)   # checked, then used
    qtbot.waitUntil(lambda: panel.template.editor is None, timeout=PREVIEW_S)
    assert panel.template.shown_kind() is TemplateKind.CUSTOM
    custom = TemplateSource(TemplateKind.CUSTOM, ROLE_LINES, "settings")
    assert panel.template.source() == custom
    assert len(engine.configs) == 1 and panel.apply_button.isEnabled()   # only on Apply
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.configs) == 2
                    and window.ctx.client.state == "idle", timeout=10_000)
    assert engine.configs[-1].template == custom and not panel.apply_button.isEnabled()
    window.close()
    again = header_window(engine)
    template = again.model_panel.template
    assert again.model_panel.choice() == STARTER
    assert template.shown_kind() is TemplateKind.CUSTOM
    assert template.pref() == TemplatePref(TemplateKind.CUSTOM, ROLE_LINES)
    load(qtbot, again, STARTER)
    assert engine.configs[-1].template == custom


def test_built_in_is_chosen_per_model_and_the_custom_text_is_kept(qtbot, header_window,
                                                                  tmp_path):
    from tests.support.gguf_factory import write_tiny_model

    other = str(write_tiny_model(tmp_path / "other.gguf"))
    store = PrefsStore()                                      # saved by an earlier session
    prefs = store.load()
    prefs.set_template_pref(STARTER, TemplatePref(TemplateKind.CUSTOM, ROLE_LINES))
    store.save(prefs)
    engine = HeaderEngine()
    window = header_window(engine)
    panel = window.model_panel
    assert panel.template.shown_kind() is TemplateKind.CUSTOM
    load(qtbot, window, STARTER)
    assert engine.configs[-1].template.kind is TemplateKind.CUSTOM
    combo = panel.template.kind
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Up)                      # Custom… → Built-in
    assert panel.template.shown_kind() is TemplateKind.BUILTIN and panel.apply_button.isEnabled()
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.configs) == 2
                    and window.ctx.client.state == "idle", timeout=10_000)
    assert engine.configs[-1].template == TemplateSource(TemplateKind.BUILTIN)
    assert window.ctx.prefs.template_pref(STARTER) == TemplatePref(TemplateKind.BUILTIN,
                                                                   ROLE_LINES)
    panel.select(other)                                       # another model: its own setting
    assert panel.template.shown_kind() is TemplateKind.FILE
    load(qtbot, window, other)
    assert engine.configs[-1].template == TemplateSource()
    panel.select(STARTER)
    assert panel.template.shown_kind() is TemplateKind.BUILTIN
    qtbot.keyClick(combo, Qt.Key.Key_Down)                    # back to Custom: the text is there
    assert panel.template.editor is None and panel.template.source().text == ROLE_LINES


def test_on_the_real_engine_the_preview_is_what_show_prompt_shows(qtbot, qapp,
                                                                 starter_model_path: Path):
    from inference.common.paths import parley_paths

    models = parley_paths().ensure().models                    # the app's own starter copy
    (models / starter_model_path.name).symlink_to(starter_model_path)
    ctx = AppContext.create(EngineHost, build_reader=this_build)
    window = MainWindow(ctx, ThemeManager(qapp, "light"))
    qtbot.addWidget(window)
    window.model_panel.set_model_settings(512, 0, n_threads=1)
    window.settings_panel.fields["max_tokens"].set_value(8)
    window.show()
    try:
        window.wiring.load_choice(STARTER)
        qtbot.waitUntil(lambda: ctx.client.state == "idle" and ctx.client.loaded is not None,
                        timeout=120_000)
        window.set_mode(Mode.INSTRUCT)
        window.instruct_page.instruction.setPlainText("Tell me about templates.")
        editor = open_custom(qtbot, window)
        editor.editor.setPlainText(ROLE_LINES)
        wait_preview(qtbot, editor)
        preview = editor.preview.toPlainText()
        qtbot.mouseClick(editor.use_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(window.model_panel.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctx.client.state == "idle" and ctx.client.loaded is not None
                        and ctx.client.loaded.config.template.kind is TemplateKind.CUSTOM,
                        timeout=120_000)
        assert ctx.client.loaded.template == "custom template (settings)"
        window.show_prompt()
        dialog = window.wiring.prompt_dialog
        qtbot.waitUntil(lambda: dialog.summary.text() != "Rendering…", timeout=30_000)
        assert dialog.text.toPlainText() == preview
        assert preview.endswith("[user] Tell me about templates.\n[assistant]")
        assert preview.startswith("[system] You are a helpful assistant.\n")
        assert dialog.summary.text().startswith("Template: custom template (settings)")
    finally:
        window.close()
        ctx.store.close()


def test_bad_template_preferences_fall_back_one_model_at_a_time(tmp_path):
    path = tmp_path / "preferences.json"
    path.write_text(json.dumps({"mode_chosen": "yes", "templates": {
        "/m/good.gguf": {"kind": "custom", "text": ROLE_LINES},
        "/m/builtin.gguf": {"kind": "builtin", "text": ""},
        "/m/empty.gguf": {"kind": "custom", "text": "  "},
        "/m/odd.gguf": {"kind": "poetry", "text": ""},
        "/m/huge.gguf": {"kind": "custom", "text": "x" * ((1 << 20) + 1)},
        "/m/list.gguf": ["custom"],
    }}), encoding="utf-8")
    prefs = PrefsStore(path).load()
    assert prefs.mode_chosen is False
    assert prefs.templates == {"/m/good.gguf": {"kind": "custom", "text": ROLE_LINES},
                               "/m/builtin.gguf": {"kind": "builtin", "text": ""}}
    assert prefs.template_pref("/m/good.gguf").source() == TemplateSource(
        TemplateKind.CUSTOM, ROLE_LINES, "settings")
    assert prefs.template_pref("/m/empty.gguf") == TemplatePref()     # the file's own
