"""Where each part of a transcript row goes: the bubble, the Thinking block, the text, the
footer, the action links and a reply's ◀ 2/3 ▶ (plain arithmetic on the sizes the delegate
measured)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QFont, QFontMetrics

from app.chat.footer import footer_height
from app.chat.message_actions import MessageAction
from app.chat.render import thinking
from app.chat.render.chips import SWITCH, action_label
from app.chat.transcript import TranscriptMessage

MARGIN_X = 20
PAD = 12
ROLE_H = 20
GAP = 6
FOLD_H = 24          # the "Show more" / "Show less" line under a long message


@dataclass(frozen=True)
class Geometry:
    bubble: QRectF
    text: QRectF
    footer: QRectF
    actions: list[tuple[MessageAction, QRectF]]
    thinking: QRectF | None = None        # the folded Thinking line (None: it did not think)
    reasoning: QRectF | None = None       # the unfolded thinking (None: folded)
    fold: QRectF | None = None            # "Show more" / "Show less" (None: a short message)
    counter: QRectF | None = None         # "2/3" between ◀ and ▶ (None: no alternatives)


def text_width(total: int, role: str) -> float:
    """The width a message's text is laid out at in a row `total` pixels wide."""
    usable = max(total - 2 * MARGIN_X - 2 * PAD, 80)
    return usable * 0.85 if role == "user" else usable


def row_height(text_height: float, think_height: float, msg: TranscriptMessage,
               foldable: bool = False) -> int:
    """The whole row: label line, bubble (Thinking block, text shown, fold line), footer,
    gaps."""
    return int(GAP + ROLE_H + think_height + text_height + (FOLD_H if foldable else 0)
               + 2 * PAD - 4 + 2 + footer_height(msg) + GAP + 6)


def fold_label(msg: TranscriptMessage) -> str:
    return "Show less" if msg.unfolded else "Show more"


def row_geometry(rect: QRect, msg: TranscriptMessage, size: tuple[float, float],
                 think_height: float, actions: list[MessageAction], small: QFont,
                 foldable: bool = False) -> Geometry:
    """The parts of row `rect` for `msg`, whose text shows `size` (height, ideal width);
    a `foldable` (long) message has a Show more / Show less line under its text."""
    role = msg.role or "assistant"
    height, ideal = size
    max_w = text_width(rect.width(), role)
    text_w = min(max(ideal, 40), max_w) if role == "user" else max_w
    bubble_w = text_w + 2 * PAD
    left = rect.right() - MARGIN_X - bubble_w if role == "user" else rect.left() + MARGIN_X
    top = rect.top() + GAP + ROLE_H
    fold_h = FOLD_H if foldable else 0
    bubble = QRectF(left, top, bubble_w, think_height + height + fold_h + 2 * PAD - 4)
    text = QRectF(left + PAD, top + PAD - 2 + think_height, text_w, height)
    fold = None
    if foldable:
        fold_w = QFontMetrics(small).horizontalAdvance(fold_label(msg)) + 20
        fold = QRectF(left + PAD - 4, text.bottom() + 2, fold_w, FOLD_H - 4)
    line = reasoning = None
    if think_height:
        line = thinking.line_rect(msg, left + PAD - 4, top + PAD - 4, small)
        if msg.thinking_open:
            below = line.bottom() + thinking.GAP_OPEN
            reasoning = QRectF(left + PAD + thinking.INDENT, below, text_w - thinking.INDENT,
                               text.top() - thinking.GAP_BELOW - below)
    footer = QRectF(left + 2, bubble.bottom() + 2, max(bubble_w, 360), footer_height(msg))
    metrics = QFontMetrics(small)
    widths = [metrics.horizontalAdvance(action_label(n)) + (10 if n in SWITCH else 16)
              for n in actions]
    counter_w = metrics.horizontalAdvance(msg.alternatives.label) + 8 \
        if MessageAction.PREVIOUS in actions else 0
    # on the label line: after "Assistant", or before "You" (right-aligned user bubbles)
    x = left + 90 if role != "user" else \
        bubble.right() - 48 - sum(w + 4 for w in widths) - counter_w
    placed, counter = [], None
    for name, w in zip(actions, widths, strict=True):
        placed.append((name, QRectF(x, rect.top() + GAP + 1, w, ROLE_H - 2)))
        x += w + 4
        if name is MessageAction.PREVIOUS:                # ◀ 2/3 ▶
            counter = QRectF(x - 2, rect.top() + GAP + 1, counter_w, ROLE_H - 2)
            x += counter_w
        elif name is MessageAction.NEXT:                  # a gap before Copy
            x += 8
    return Geometry(bubble, text, footer, placed, line, reasoning, fold, counter)
