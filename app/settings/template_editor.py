"""The custom chat template editor: Jinja text on the left, a live preview of what Show prompt
would show on the right (the current conversation, or the load's trial one when there is none).

The preview is rendered off the GUI thread (`TemplatePreviewer`) 400 ms after the last key
press. A template that fails shows its one-line error under the editor and the text stays as
typed; "Use this template" is refused while the template itself fails.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.settings.template_preview import (
    PreviewContext,
    PreviewFailure,
    PreviewResult,
    TemplatePreviewer,
)
from inference.common.errors import InvalidSettingError
from inference.engine.template_source import TemplateKind, TemplateSource

PREVIEW_DELAY_MS = 400
NO_MODEL = "Select or load a model to see the preview (it needs the model's vocabulary)."
# Where a new custom template starts when the model has none of its own: a plain transcript,
# the shape base models continue best.
STARTER_TEMPLATE = (
    "{%- for message in messages %}\n"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt %}Assistant:{% endif -%}\n")


class TemplateEditor(QDialog):
    def __init__(self, text: str, context: Callable[[], PreviewContext | None],
                 previewer: TemplatePreviewer | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("templateEditor")
        self.setWindowTitle("Custom prompt template")
        self.resize(980, 600)
        self._context = context
        self._template_fails = False
        self._asked = ""                 # the text of the preview in flight
        self._conversation = ""          # … and which conversation it renders
        self._checked: str | None = None  # the text the shown result is for
        self._accept_when_checked = False
        self.previewer = previewer or TemplatePreviewer(parent=self)
        self.previewer.ready.connect(self._show_result)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("templateText")
        self.editor.setAccessibleName("Custom chat template (Jinja)")
        self.editor.setFont(fixed)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setPlainText(text)
        self.error = QLabel("")
        self.error.setObjectName("templateError")
        self.error.setAccessibleName("Template error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.summary = QLabel("")
        self.summary.setObjectName("mutedLabel")
        self.summary.setWordWrap(True)
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("templatePreview")
        self.preview.setAccessibleName("Prompt preview")
        self.preview.setReadOnly(True)
        self.preview.setFont(fixed)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(_column("Template (Jinja, as in a GGUF's tokenizer.chat_template)",
                                self.editor, self.error))
        split.addWidget(_column("Preview: what Show prompt would show", self.summary,
                                self.preview))
        split.setChildrenCollapsible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.use_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.use_button.setText("Use this template")
        self.use_button.setAccessibleName("Use this template")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.editor.textChanged.connect(self._edited)
        self.finished.connect(lambda _result: self.previewer.shutdown())
        self.refresh()

    def text(self) -> str:
        return self.editor.toPlainText()

    def source(self) -> TemplateSource:
        """The template as typed (InvalidSettingError when it is empty)."""
        return TemplateSource(TemplateKind.CUSTOM, self.text(), "settings")

    def refresh(self) -> None:
        """Render the preview now (normally 400 ms after the last key press)."""
        self._timer.stop()
        try:
            source = self.source()
        except InvalidSettingError as exc:
            self._show_result(PreviewFailure(str(exc), True))
            return
        context = self._context()
        if context is None:
            self._template_fails = False
            self._checked = None
            self._set_error("")
            self.summary.setText(NO_MODEL)
            self.preview.setPlainText("")
        else:
            self.summary.setText("Rendering…")
            self._asked, self._conversation = source.text, context.conversation
            self.previewer.request(context, source)
        self._update_buttons()

    def _edited(self) -> None:
        self._timer.start()

    def _show_result(self, result: PreviewResult) -> None:
        self._checked = self._asked
        if isinstance(result, PreviewFailure):
            self._template_fails = result.template_fault
            self._set_error(result.message)
            self.summary.setText("The preview could not be rendered.")
            self.preview.setPlainText("")
        else:
            self._template_fails = False
            self._set_error("")
            parts = [f"Template: {result.template}", f"{result.prompt_tokens} tokens",
                     f"on {self._conversation}"]
            if result.dropped_turns:
                parts.append(f"{result.dropped_turns} oldest turn(s) left out to fit the "
                             "context")
            self.summary.setText(" · ".join(parts + list(result.warnings)))
            self.preview.setPlainText(result.text)
        self._update_buttons()
        if self._accept_when_checked:
            self._accept_when_checked = False
            self.accept()

    def _set_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _update_buttons(self) -> None:
        self.use_button.setEnabled(bool(self.text().strip()) and not self._template_fails)

    def accept(self) -> None:
        """Use the text once it is known to work (checked first when the preview is behind)."""
        if not self.use_button.isEnabled():
            return
        if self._checked != self.text() and self._context() is not None:
            self._accept_when_checked = True
            self.refresh()
            return
        super().accept()


def _column(title: str, *widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    heading = QLabel(title)
    heading.setObjectName("sectionHeading")
    layout.addWidget(heading)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QPlainTextEdit) else 0)
    return box
