"""The small clickable chips painted on a transcript row: its action links (Copy, Edit,
Regenerate, Stop), a regenerated reply's "◀ 2/3 ▶" between its alternatives, and each code
block's Copy chip. Which a message has, what they say and how they are painted; where they go is
layout.py's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter

from app.chat.message_actions import MessageAction
from app.chat.transcript import TranscriptMessage
from app.shell.theme import Palette

if TYPE_CHECKING:
    from app.chat.render.layout import Geometry
    from app.chat.render.markdown import RenderedMessage

PREVIOUS_KEYS = "Alt+Left"
NEXT_KEYS = "Alt+Right"
SWITCH = (MessageAction.PREVIOUS, MessageAction.NEXT)     # the arrows around "2/3"
_LABELS = {MessageAction.PREVIOUS: "◀", MessageAction.NEXT: "▶"}
_STEPS = {MessageAction.PREVIOUS: -1, MessageAction.NEXT: 1}


def actions_for(msg: TranscriptMessage, last: bool) -> list[MessageAction]:
    """The chips of a message (`last`: the transcript's last row): Stop while it streams; else
    ◀ ▶ when it is a reply with alternatives, Copy, and Edit (yours) or Regenerate (the last
    reply)."""
    if msg.streaming:
        return [MessageAction.STOP]
    actions = list(SWITCH) if msg.role == "assistant" and msg.alternatives.several else []
    actions.append(MessageAction.COPY)
    if msg.role == "user":
        actions.append(MessageAction.EDIT)
    elif msg.role == "assistant" and last:
        actions.append(MessageAction.REGENERATE)
    return actions


def action_label(action: MessageAction) -> str:
    return _LABELS.get(action, action.capitalize())


def can_switch(msg: TranscriptMessage, action: MessageAction) -> bool:
    """Whether ◀ (or ▶) has an alternative to go to (not at the first, or the last)."""
    return action in _STEPS and msg.alternatives.step(_STEPS[action]) is not None


def switch_tooltip(msg: TranscriptMessage, action: MessageAction) -> str:
    """What hovering ◀ or ▶ says: where it goes, and its keys."""
    previous = action is MessageAction.PREVIOUS
    if not can_switch(msg, action):
        return f"Reply {msg.alternatives.label}: the {'first' if previous else 'newest'} one"
    if previous:
        return f"Show the previous reply ({PREVIOUS_KEYS})"
    return f"Show the next reply ({NEXT_KEYS})"


def paint_actions(painter: QPainter, geo: Geometry, msg: TranscriptMessage, palette: Palette,
                  hovered: bool) -> None:
    """The action links (only while the row is hovered or focused, or a reply streams) and the
    ◀ 2/3 ▶ of a reply with alternatives (always; an arrow with nowhere to go is dimmed)."""
    for name, rect in geo.actions:
        if name in SWITCH:
            enabled = can_switch(msg, name)
            painter.setPen(QColor(palette.accent if enabled else palette.muted))
            if enabled:
                painter.setBrush(QColor(palette.accent_soft))
            else:
                painter.setBrush(Qt.BrushStyle.NoBrush)
        elif hovered or msg.streaming:
            painter.setPen(QColor(palette.accent))
            painter.setBrush(QColor(palette.accent_soft))
        else:
            continue
        painter.drawRoundedRect(rect, 5, 5)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, action_label(name))
    if geo.counter is not None:
        painter.setPen(QColor(palette.muted))
        painter.drawText(geo.counter, Qt.AlignmentFlag.AlignCenter, msg.alternatives.label)


def code_chip_rects(geo: Geometry, item: RenderedMessage) -> list[QRectF]:
    """The Copy chip of each code block shown (a folded message hides the later ones)."""
    chips = []
    for block in item.code_blocks:
        r = block.rect.translated(geo.text.topLeft())
        chip = QRectF(r.right() - 54, r.top() + 5, 48, 20)
        if chip.bottom() <= geo.text.bottom() + 1:
            chips.append(chip)
    return chips


def paint_code_chips(painter: QPainter, geo: Geometry, item: RenderedMessage,
                     palette: Palette, font: QFont) -> None:
    painter.setFont(font)
    for rect in code_chip_rects(geo, item):
        painter.setPen(QColor(palette.muted))
        painter.setBrush(QColor(palette.surface))
        painter.drawRoundedRect(rect, 4, 4)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Copy")
