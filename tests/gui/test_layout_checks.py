"""What "laid out" means, checked on real widgets: no visible widget overlaps a sibling, and no
label, button, tab, header, field, box or bar shows less of its text than it has.

`layout_problems(root)` walks every visible widget under `root` and compares each one's geometry
with its text's width in its own font (`fontMetrics`), using the style's own rectangles where
the text goes (a button's contents, a combo box's field). A text cut short on purpose is allowed
only when the whole text is in the widget's tooltip (`ElidedLabel`). The tests here show that
each check catches what it is meant to catch, so a clean result elsewhere means something.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QStyleOptionComboBox,
    QTabBar,
    QTableWidget,
    QToolButton,
    QWidget,
)

from app.shell.widgets import ElidedLabel

pytestmark = pytest.mark.gui

SLACK = 1                 # px of rounding allowed between a text's width and its room
OVERLAP_SLACK = 2         # px two siblings may share (a tab bar over its pane's frame)


@dataclass
class Report:
    problems: list[str]
    checked: int          # texts measured (a sweep that measures nothing proves nothing)


def layout_problems(root: QWidget) -> Report:
    """Every overlap and cut text among the visible widgets under `root` (itself included)."""
    report = Report([], 0)
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible() or (widget.isWindow() and widget is not root):
            continue
        _overlaps(widget, report)
        _clipped(widget, report)
    return report


def name(widget: QWidget) -> str:
    """A widget as a person finds it: its class, object name and text, and where it is."""
    text = _text(widget)
    label = widget.objectName() or widget.accessibleName()
    path = []
    parent = widget.parentWidget()
    while parent is not None and len(path) < 3:
        if parent.objectName():
            path.append(parent.objectName())
        parent = parent.parentWidget()
    where = "/".join(reversed(path))
    return (f"{type(widget).__name__}({label!r}{', ' + repr(text[:40]) if text else ''})"
            f" in {where or 'the window'}")


# -- overlaps ------------------------------------------------------------------------------------
def _overlaps(parent: QWidget, report: Report) -> None:
    """Visible children of `parent` whose rectangles cross (a panel opened over the chat on
    purpose carries the "overlay" property and may)."""
    children = [c for c in parent.findChildren(QWidget, options=Qt.FindChildOption.
                                                FindDirectChildrenOnly)
                if c.isVisible() and not c.isWindow() and not c.property("overlay")
                and c.width() > 0 and c.height() > 0]
    for i, a in enumerate(children):
        for b in children[i + 1:]:
            common = a.geometry().intersected(b.geometry())
            if common.width() > OVERLAP_SLACK and common.height() > OVERLAP_SLACK:
                report.problems.append(f"{name(a)} overlaps {name(b)} by "
                                       f"{common.width()}×{common.height()} px")


# -- clipped text --------------------------------------------------------------------------------
def _text(widget: QWidget) -> str:
    if isinstance(widget, QLabel):
        return widget.text()
    if isinstance(widget, QAbstractButton):
        return widget.text()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if isinstance(widget, QLineEdit):
        return widget.text() or widget.placeholderText()
    return ""


def _mnemonic_free(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _elided_with_tip(shown: str, full: str, widget: QWidget) -> bool:
    """A text cut on purpose: what shows ends in "…" and the tooltip holds the whole text."""
    return "…" in shown and full in widget.toolTip()


def _cut(report: Report, widget: QWidget, need: float, room: float, what: str = "") -> None:
    report.checked += 1
    if need > room + SLACK:
        report.problems.append(f"{name(widget)}: {what or 'text'} needs {need:.0f} px, "
                               f"has {room:.0f}")


def _clipped(widget: QWidget, report: Report) -> None:
    if isinstance(widget, QLabel):
        _label(widget, report)
    elif isinstance(widget, QPushButton | QCheckBox | QRadioButton):
        _button(widget, report)
    elif isinstance(widget, QToolButton):
        if widget.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly and widget.text():
            _cut(report, widget, widget.sizeHint().width(), widget.width(), "tool button")
    elif isinstance(widget, QTabBar):
        _tabs(widget, report)
    elif isinstance(widget, QComboBox):
        _combo(widget, report)
    elif isinstance(widget, QLineEdit):
        _line_edit(widget, report)
    elif isinstance(widget, QHeaderView):
        _header(widget, report)
    elif isinstance(widget, QProgressBar) and widget.isTextVisible() and widget.text():
        _cut(report, widget, widget.fontMetrics().horizontalAdvance(widget.text()),
             widget.width() - 4, "bar text")


def _label(label: QLabel, report: Report) -> None:
    full = label.text()
    if not full or label.pixmap() is not None and not label.pixmap().isNull():
        return
    shown = label.shown_text() if isinstance(label, ElidedLabel) else full
    if shown != full:
        report.checked += 1
        if not _elided_with_tip(shown, full, label):
            report.problems.append(f"{name(label)}: cut to {shown!r} without the whole text "
                                   "in its tooltip")
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(shown))
    if rich:
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setHtml(shown)
        shown = doc.toPlainText()
    metrics = label.fontMetrics()
    room = label.contentsRect().adjusted(label.margin(), label.margin(), -label.margin(),
                                         -label.margin())
    if label.wordWrap():
        longest = max((metrics.horizontalAdvance(w) for w in shown.split()), default=0)
        _cut(report, label, longest, room.width(), "its longest word")
        need = label.heightForWidth(label.width())
        _cut(report, label, need, label.height(), "height for its wrapped lines")
        return
    lines = shown.split("\n")
    _cut(report, label, max(metrics.horizontalAdvance(line) for line in lines), room.width())
    _cut(report, label, metrics.height() * len(lines), room.height() + 2, "height")


def _button(button: QAbstractButton, report: Report) -> None:
    text = _mnemonic_free(button.text())
    if not text:
        return
    option = QStyleOptionButton()
    button.initStyleOption(option)
    style = button.style()
    element = (QStyle.SubElement.SE_PushButtonContents if isinstance(button, QPushButton)
               else QStyle.SubElement.SE_CheckBoxContents if isinstance(button, QCheckBox)
               else QStyle.SubElement.SE_RadioButtonContents)
    room = style.subElementRect(element, option, button)
    icon = button.iconSize().width() + 4 if not button.icon().isNull() else 0
    menu = 14 if isinstance(button, QPushButton) and button.menu() is not None else 0
    need = button.fontMetrics().horizontalAdvance(text) + icon + menu
    if _elided_with_tip(text, text, button):
        return
    _cut(report, button, need, room.width())
    _cut(report, button, button.fontMetrics().height(), room.height() + 4, "height")


def _tabs(bar: QTabBar, report: Report) -> None:
    for i in range(bar.count()):
        if not bar.isTabVisible(i) or not bar.tabText(i):
            continue
        rect = bar.tabRect(i)
        _cut(report, bar, bar.tabSizeHint(i).width() - 8, rect.width(),
             f"tab {bar.tabText(i)!r}")
        if rect.right() > bar.width() + SLACK or rect.left() < -SLACK:
            report.problems.append(f"{name(bar)}: tab {bar.tabText(i)!r} is off the bar")


def _combo(combo: QComboBox, report: Report) -> None:
    text = combo.currentText()
    if not text or combo.isEditable():
        return
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    icon = combo.iconSize().width() + 4 if not combo.itemIcon(combo.currentIndex()).isNull() \
        else 0
    if text in combo.toolTip():
        return                                   # the style elides it; the tooltip has it all
    _cut(report, combo, combo.fontMetrics().horizontalAdvance(text) + icon, field.width())


def _line_edit(edit: QLineEdit, report: Report) -> None:
    """An empty field's placeholder, and a spin box's value (what a person reads there)."""
    in_spin = isinstance(edit.parentWidget(), QAbstractSpinBox)
    text = edit.text() if in_spin else ("" if edit.text() else edit.placeholderText())
    if not text:
        return
    metrics = edit.fontMetrics()
    chrome = edit.sizeHint().width() - 17 * metrics.horizontalAdvance("x")
    _cut(report, edit, metrics.horizontalAdvance(text), edit.width() - chrome,
         "value" if in_spin else "placeholder")


def _header(header: QHeaderView, report: Report) -> None:
    model = header.model()
    if model is None or header.orientation() != Qt.Orientation.Horizontal:
        return
    style = header.style()
    margin = 2 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    mark = style.pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header)
    for section in range(header.count()):
        if header.isSectionHidden(section) or header.sectionSize(section) == 0:
            continue
        x = header.sectionViewportPosition(section)
        if x >= header.viewport().width():
            continue                             # scrolled out of sight, not cut
        title = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
        sorted_here = header.isSortIndicatorShown() and header.sortIndicatorSection() == section
        need = header.fontMetrics().horizontalAdvance(title) + margin + (mark if sorted_here
                                                                         else 0)
        _cut(report, header, need, header.sectionSize(section), f"column {title!r}")


# -- the checks catch what they should ------------------------------------------------------------
def _host(qtbot, *widgets: QWidget, width: int = 400) -> QWidget:
    host = QWidget()
    row = QHBoxLayout(host)
    for widget in widgets:
        row.addWidget(widget)
    qtbot.addWidget(host)
    host.resize(width, 60)
    host.show()
    qtbot.waitExposed(host)
    return host


def test_a_label_too_narrow_for_its_text_is_reported(qtbot) -> None:
    label = QLabel("Context size in tokens")
    host = _host(qtbot, label)
    assert layout_problems(host).problems == []
    label.setFixedWidth(label.fontMetrics().horizontalAdvance("Context") + 2)
    qtbot.waitUntil(lambda: label.width() < 80)
    problems = layout_problems(host).problems
    assert len(problems) == 1 and "Context size in tokens" in problems[0]


def test_an_elided_label_passes_only_with_its_whole_text_in_the_tooltip(qtbot) -> None:
    full = "Template: a long template name that cannot fit in a narrow bar at all"
    label = ElidedLabel(full)
    host = _host(qtbot, label, width=200)
    assert label.shown_text().endswith("…") and full in label.toolTip()
    assert layout_problems(host).problems == []
    label.setToolTip("")                         # no way left to read the rest
    assert any("without the whole text" in p for p in layout_problems(host).problems)


def test_a_squeezed_button_and_a_cut_placeholder_are_reported(qtbot) -> None:
    button = QPushButton("Show prompt")
    search = QLineEdit(placeholderText="Search titles and messages")
    host = _host(qtbot, button, search, width=600)
    assert layout_problems(host).problems == []
    button.setFixedWidth(40)
    search.setFixedWidth(60)
    qtbot.waitUntil(lambda: button.width() == 40 and search.width() == 60)
    problems = layout_problems(host).problems
    assert any("Show prompt" in p for p in problems)
    assert any("placeholder" in p for p in problems)


def test_overlapping_siblings_and_a_cut_column_title_are_reported(qtbot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    host.resize(400, 200)
    first, second = QLabel("one", host), QLabel("two", host)
    first.setGeometry(QRect(0, 0, 100, 30))
    second.setGeometry(QRect(50, 10, 100, 30))
    table = QTableWidget(0, 2, host)
    table.setHorizontalHeaderLabels(["Repository", "Likes"])
    table.setGeometry(QRect(0, 80, 300, 100))
    table.setColumnWidth(0, 30)
    host.show()
    qtbot.waitExposed(host)
    problems = layout_problems(host).problems
    assert any("overlaps" in p and "'one'" in p and "'two'" in p for p in problems)
    assert any("'Repository'" in p for p in problems)
    second.move(200, 0)
    table.setColumnWidth(0, 160)
    assert layout_problems(host).problems == []

