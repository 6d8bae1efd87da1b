"""Model settings → Prompt template: the model file's own, llama.cpp's built-in for the model,
or a custom one written in the editor (with a live preview). The choice is kept per model in
the preferences and applied, as the context size is, with a reload (Apply)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.data.prefs import TemplatePref
from app.settings.template_editor import STARTER_TEMPLATE, TemplateEditor
from app.settings.template_preview import PreviewContext
from inference.engine.template_source import TemplateKind, TemplateSource

KIND_LABELS = {
    TemplateKind.FILE: "From the model file",
    TemplateKind.BUILTIN: "Built-in (llama.cpp's for this model)",
    TemplateKind.CUSTOM: "Custom…",
}
TEMPLATE_HELP = ("Prompt template: how a conversation becomes the text the model reads. From "
                 "the model file: the GGUF's own chat template (llama.cpp's built-in when it "
                 "has none or it fails). Built-in: llama.cpp's format for this model. Custom: "
                 "your own Jinja template, with a live preview. Applied when you press Apply "
                 "(reloads).")

class TemplatePanel(QWidget):
    changed = Signal()                    # the user changed the choice or the custom text

    def __init__(self, context: Callable[[], PreviewContext | None],
                 own_template: Callable[[], str] = lambda: "",
                 parent: QWidget | None = None) -> None:
        """`context`: what the editor previews with; `own_template`: the selected model's own
        template text, where a new custom template starts ("" when it has none)."""
        super().__init__(parent)
        self._context = context
        self._own_template = own_template
        self._pref = TemplatePref()
        self.editor: TemplateEditor | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        title = QLabel("Prompt template")
        self.kind = QComboBox()
        self.kind.setObjectName("templateKind")
        self.kind.setAccessibleName("Prompt template")
        self.kind.setToolTip(TEMPLATE_HELP)
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind.value)
        title.setBuddy(self.kind)
        self.kind.activated.connect(self._kind_chosen)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setAccessibleName("Edit the custom prompt template")
        self.edit_button.clicked.connect(self.open_editor)
        row = QHBoxLayout()
        row.addWidget(self.kind, 1)
        row.addWidget(self.edit_button)
        self.note = QLabel("")
        self.note.setObjectName("mutedLabel")
        self.note.setWordWrap(True)
        layout.addWidget(title)
        layout.addLayout(row)
        layout.addWidget(self.note)
        self.show_pref(TemplatePref())

    # -- the setting -------------------------------------------------------------------------
    def pref(self) -> TemplatePref:
        return self._pref

    def source(self) -> TemplateSource:
        return self._pref.source()

    def shown_kind(self) -> TemplateKind:
        """The choice the combo box shows (the setting's, except while the editor is open)."""
        return TemplateKind(self.kind.currentData())

    def show_pref(self, pref: TemplatePref) -> None:
        """Show the setting saved for the selected model (no `changed`)."""
        self._pref = pref
        self.kind.setCurrentIndex(self.kind.findData(pref.kind.value))
        self._refresh()

    def set_in_use(self, label: str) -> None:
        """The template the loaded model uses, in the engine's words."""
        self.note.setText(f"In use: {label}" if label else "")

    # -- the user ----------------------------------------------------------------------------
    def _kind_chosen(self, index: int) -> None:
        kind = TemplateKind(self.kind.itemData(index))
        if kind is TemplateKind.CUSTOM and not self._pref.text.strip():
            self.open_editor()                  # nothing written yet: write it first
            return
        self._set(TemplatePref(kind, self._pref.text))

    def open_editor(self) -> None:
        """The editor, on the custom text (or where a new one starts); non-modal."""
        if self.editor is not None:
            self.editor.raise_()
            self.editor.activateWindow()
            return
        text = self._pref.text or self._own_template() or STARTER_TEMPLATE
        editor = self.editor = TemplateEditor(text, self._context, parent=self.window())
        editor.finished.connect(self._editor_closed)
        editor.show()

    def _editor_closed(self, result: int) -> None:
        editor, self.editor = self.editor, None
        if editor is None:
            return
        editor.deleteLater()
        if result == QDialog.DialogCode.Accepted:
            self._set(TemplatePref(TemplateKind.CUSTOM, editor.text()))
        else:                                   # a cancel leaves the choice as it was
            self.kind.setCurrentIndex(self.kind.findData(self._pref.kind.value))

    def _set(self, pref: TemplatePref) -> None:
        if pref != self._pref:
            self._pref = pref
            self.changed.emit()
        self._refresh()

    def _refresh(self) -> None:
        self.edit_button.setEnabled(self._pref.kind is TemplateKind.CUSTOM)
