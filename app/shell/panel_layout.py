"""SidePanelLayout: the Chat page's two side panels, the conversations on the left and the
settings and metrics on the right, docked beside the chat while the page has room for them and
the chat's `CENTER_MIN`, folded into their toggle buttons when it has not (the settings panel
first, then the conversations), as chat apps do. A folded panel's toggle opens it over the chat
(an overlay with a shadow, closed by the toggle, Esc, a click on the chat beside it, or
choosing a conversation); when the window grows
again, every panel the person has not closed docks again at the width it had.

Sizes change only when the person drags a splitter: a docked panel's width is read back from the
splitter before each change of layout and given back after it, so modes, edits and window
resizes never move it. The widths, the right-hand split and the panels the person closed are
`panel_state.PanelLayoutState`, saved with the window's preferences.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QObject,
    QPointF,
    QRect,
    QRectF,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsDropShadowEffect,
    QSplitter,
    QToolButton,
    QWidget,
)

from app.shell.panel_state import PanelLayoutState, Place, Side, splitter_state_widths
from app.shell.theme import Palette

__all__ = ["CENTER_MIN", "PanelLayoutState", "Place", "Side", "SidePanelLayout", "panel_icon"]

CENTER_MIN = 480     # the chat's least width; more where its mode bar (two toggles, three
#                      mode buttons, Show prompt) needs more in the font and style in use


class SidePanelLayout(QObject):
    """Docks, folds and overlays the Chat page's side panels; owns their toggles' state."""

    changed = Signal()          # the person showed, hid or dragged a panel (save the prefs)
    placesChanged = Signal()    # a panel docked, folded, opened or closed (by anyone)

    def __init__(self, page: QSplitter, center: QWidget, bar: QWidget, right: QSplitter,
                 toggles: dict[Side, QToolButton], parent: QObject | None = None) -> None:
        """`page` is the splitter sidebar | `center` | `right`; `bar` is the top of `center`
        (overlays open below it, so their toggles stay in reach)."""
        super().__init__(parent)
        self.page = page
        self.center = center
        self.bar = bar
        self.right = right
        self.toggles = toggles
        self.widgets = {Side.SIDEBAR: page.widget(0), Side.PANEL: right}
        self.state = PanelLayoutState()
        self.places = {side: Place.DOCKED for side in Side}
        self.center_min = CENTER_MIN
        self._measure()
        page.splitterMoved.connect(self._dragged)
        right.splitterMoved.connect(self._dragged)
        center.installEventFilter(self)
        page.installEventFilter(self)
        right.installEventFilter(self)
        for side, button in toggles.items():
            button.clicked.connect(lambda _=False, s=side: self.toggle(s))
        self._update_toggles()

    # -- what the person does ----------------------------------------------------------------
    def toggle(self, side: Side) -> None:
        """The toggle or its View action: hide a panel that shows, show one that does not
        (docked when there is room, over the chat when there is not)."""
        place = self.places[side]
        if place is Place.DOCKED:
            self._sync_widths()
            self.state.closed.add(side)
            self._fold(side)
            self._apply_sizes()
        elif place is Place.OVERLAY:
            self._close_overlay(side)
        else:
            self.state.closed.discard(side)
            self.relayout()
            if self.places[side] is Place.FOLDED:
                for other in Side:
                    if other is not side:
                        self._close_overlay(other)
                self._open_overlay(side)
        self._update_toggles()
        self.changed.emit()

    def shown(self, side: Side) -> bool:
        return self.places[side] is not Place.FOLDED

    def close_overlays(self) -> bool:
        """Close any panel open over the chat (Esc); whether one was open."""
        opened = [s for s in Side if self.places[s] is Place.OVERLAY]
        for side in opened:
            self._close_overlay(side)
        if opened:
            self._update_toggles()
            self.changed.emit()
        return bool(opened)

    def close_overlay(self, side: Side) -> None:
        if self.places[side] is Place.OVERLAY:
            self._close_overlay(side)
            self._update_toggles()
            self.changed.emit()

    def _dragged(self, _pos: int, _index: int) -> None:
        self._sync_widths()
        self.changed.emit()

    # -- layout ------------------------------------------------------------------------------
    def _measure(self) -> None:
        """The chat's minimum width: what its contents need once styled (the same in every
        mode: the mode pages are one stack), never less than `CENTER_MIN`."""
        need = max(CENTER_MIN, self.center.minimumSizeHint().width())
        if need != self.center.minimumWidth():
            self.center_min = need
            self.center.setMinimumWidth(need)
            self.page.setMinimumWidth(need)       # narrower than that, the panels fold

    def relayout(self, width: int | None = None) -> None:
        """Dock the panels that fit beside the chat in `width` (the page's), fold the rest."""
        if width is None:
            width = self.page.width()
        self._sync_widths()
        self._measure()
        handle = self.page.handleWidth()
        room = width - self.center_min
        sidebar_fits = (Side.SIDEBAR not in self.state.closed
                        and room >= self.state.sidebar_width + handle)
        used = self.state.sidebar_width + handle if sidebar_fits else 0
        panel_fits = (Side.PANEL not in self.state.closed
                      and room >= used + self.state.panel_width + handle)
        moved = False
        for side, fits in ((Side.SIDEBAR, sidebar_fits), (Side.PANEL, panel_fits)):
            place = self.places[side]
            if fits and place is not Place.DOCKED:
                if place is Place.OVERLAY:
                    self._close_overlay(side)
                self._dock(side)
                moved = True
            elif not fits and place is Place.DOCKED:
                self._fold(side)
                moved = True
        if moved:
            self._apply_sizes(width)
            self._update_toggles()

    def _first_split(self) -> None:
        """On a first run, give the metrics (below the settings) the height they ask for,
        up to 60 % of the panel; from then on, the split is the person's."""
        total = self.right.height() - self.right.handleWidth()
        if self.state.right_sizes or not self.right.isVisible() or self.right.count() != 2 \
                or total < 200:
            return
        below = self.right.widget(1)
        content = getattr(below, "widget", lambda: None)() or below
        content.ensurePolished()                  # its size with the style sheet's fonts
        want = max(content.sizeHint().height(), content.heightForWidth(self.right.width()))
        metrics = min(want + 4, int(total * 0.6))
        self.state.right_sizes = [total - metrics, metrics]
        self.right.setSizes(self.state.right_sizes)

    def _sync_widths(self) -> None:
        """Remember the docked panels' widths, unless the splitter is not laid out yet (or is
        squeezed), when its sizes say nothing about what the person chose."""
        if not self.page.isVisible():
            return
        sizes = self.page.sizes()
        if len(sizes) != 3 or sizes[1] < self.center_min - 1:
            return
        if self.places[Side.SIDEBAR] is Place.DOCKED and sizes[0] > 0:
            self.state.sidebar_width = sizes[0]
        if self.places[Side.PANEL] is Place.DOCKED and sizes[2] > 0:
            self.state.panel_width = sizes[2]
        right = self.right.sizes()
        if self.places[Side.PANEL] is Place.DOCKED and len(right) == 2 and min(right) > 0:
            self.state.right_sizes = right

    def _apply_sizes(self, width: int | None = None) -> None:
        width = self.page.width() if width is None else width
        sidebar = self.state.sidebar_width if self.places[Side.SIDEBAR] is Place.DOCKED else 0
        panel = self.state.panel_width if self.places[Side.PANEL] is Place.DOCKED else 0
        handles = self.page.handleWidth() * ((sidebar > 0) + (panel > 0))
        self.page.setSizes([sidebar, max(width - sidebar - panel - handles, self.center_min),
                            panel])

    def _dock(self, side: Side) -> None:
        self.widgets[side].show()
        self.places[side] = Place.DOCKED

    def _fold(self, side: Side) -> None:
        self.widgets[side].hide()
        self.places[side] = Place.FOLDED

    def _open_overlay(self, side: Side) -> None:
        widget = self.widgets[side]
        widget.hide()
        widget.setParent(self.center)             # out of the splitter, over the chat
        widget.setProperty("overlay", True)
        widget.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        shadow = QGraphicsDropShadowEffect(widget)     # lifts the panel off the chat under it
        shadow.setBlurRadius(24)
        shadow.setOffset(0, 2)
        shadow.setColor(QColor(0, 0, 0, 90))
        widget.setGraphicsEffect(shadow)
        self.places[side] = Place.OVERLAY
        self._place_overlay(side)
        app = QApplication.instance()
        if app is not None:                            # a click beside it closes it
            app.installEventFilter(self)
        widget.show()
        widget.raise_()
        widget.setFocus(Qt.FocusReason.OtherFocusReason)

    def _close_overlay(self, side: Side) -> None:
        if self.places[side] is not Place.OVERLAY:
            return
        widget = self.widgets[side]
        widget.hide()
        widget.setGraphicsEffect(None)
        widget.setProperty("overlay", False)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        self.page.insertWidget(0 if side is Side.SIDEBAR else self.page.count(), widget)
        self.places[side] = Place.FOLDED
        self._apply_sizes()
        app = QApplication.instance()
        if app is not None and Place.OVERLAY not in self.places.values():
            app.removeEventFilter(self)

    def _clicked_beside(self, event: QMouseEvent) -> bool:
        """A press on the chat outside the open overlay (its toggle handles itself)."""
        at = event.globalPosition().toPoint()
        if not self.center.rect().contains(self.center.mapFromGlobal(at)):
            return False
        for side, widget in self.widgets.items():
            if self.places[side] is Place.OVERLAY and widget.rect().contains(
                    widget.mapFromGlobal(at)):
                return False
        return not any(b.rect().contains(b.mapFromGlobal(at)) for b in self.toggles.values())

    def _place_overlay(self, side: Side) -> None:
        widget = self.widgets[side]
        top = self.bar.geometry().bottom() + 1
        room = max(self.center.width() - 48, widget.minimumSizeHint().width())
        wanted = self.state.sidebar_width if side is Side.SIDEBAR else self.state.panel_width
        width = min(max(wanted, widget.minimumSizeHint().width()), room)
        x = 0 if side is Side.SIDEBAR else self.center.width() - width
        widget.setGeometry(QRect(x, top, width, max(self.center.height() - top, 0)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            if isinstance(watched, QWidget) and (watched is self.center or self.center
                                                 .isAncestorOf(watched)) \
                    and self._clicked_beside(event):
                self.close_overlays()                  # the click goes on to the chat too
        elif event.type() == QEvent.Type.Show and watched is self.right:
            self._first_split()
        elif event.type() == QEvent.Type.Resize:
            if watched is self.page:
                self.relayout(self.page.width())
            elif watched is self.right:
                self._first_split()
            elif watched is self.center:
                for side in Side:
                    if self.places[side] is Place.OVERLAY:
                        self._place_overlay(side)
        return super().eventFilter(watched, event)

    def _update_toggles(self) -> None:
        for side, button in self.toggles.items():
            button.setChecked(self.shown(side))
        self.placesChanged.emit()

    # -- saved state -------------------------------------------------------------------------
    def save(self) -> str:
        self._sync_widths()
        return self.state.to_text()

    def restore(self, text: str) -> None:
        """Put back a saved layout (`save`'s text; an older window's splitter state is read
        for its widths)."""
        state = PanelLayoutState.from_text(text) if text else None
        if state is None and text:
            widths = splitter_state_widths(text)
            state = PanelLayoutState(*widths) if widths else None
        self.state = state = state or PanelLayoutState()
        if len(state.right_sizes) == 2:
            self.right.setSizes(state.right_sizes)
        for side in Side:
            if side in state.closed and self.places[side] is Place.DOCKED:
                self._fold(side)
        self.relayout()
        self._apply_sizes()
        self._update_toggles()

    # -- looks -------------------------------------------------------------------------------
    def set_palette(self, palette: Palette) -> None:
        for side, button in self.toggles.items():
            button.setIcon(panel_icon(side, palette))


def panel_icon(side: Side, palette: Palette, size: int = 18) -> QIcon:
    """A window outline with the panel's column filled: left for the conversations, right for
    the settings (drawn, so it follows the palette and needs no icon font)."""
    pixmap = QPixmap(size * 2, size * 2)            # drawn at twice the size: sharp at 200 %
    pixmap.setDevicePixelRatio(2.0)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(palette.text)
    painter.setPen(QPen(colour, 1.4))
    frame = QRectF(2, 3.5, size - 4, size - 7)
    painter.drawRoundedRect(frame, 2.5, 2.5)
    column = 5.0
    x = frame.left() + column if side is Side.SIDEBAR else frame.right() - column
    painter.drawLine(QPointF(x, frame.top()), QPointF(x, frame.bottom()))
    fill = QRectF(frame.left(), frame.top(), column, frame.height()) if side is Side.SIDEBAR \
        else QRectF(x, frame.top(), column, frame.height())
    colour.setAlphaF(0.35)
    painter.fillRect(fill.adjusted(0.7, 0.7, -0.7, -0.7), colour)
    painter.end()
    return QIcon(pixmap)
