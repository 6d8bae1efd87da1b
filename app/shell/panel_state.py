"""What the Chat page's side-panel layout is made of and what is remembered of it between runs:
which side, where a panel is, and `PanelLayoutState` (the panels' widths, the settings / metrics
split, the panels the person closed), saved as JSON in the preferences' `splitter_state`; an
older window's saved `QSplitter` state is still read for its widths."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from PySide6.QtCore import QByteArray, QDataStream

SIDEBAR_WIDTH = 250  # first-run widths; after that the person's own
PANEL_WIDTH = 380
STATE_VERSION = 2


class Side(Enum):
    SIDEBAR = "sidebar"        # the conversations, left of the chat
    PANEL = "panel"            # the settings, model info and metrics, right of it


class Place(Enum):
    DOCKED = "docked"          # beside the chat, in the splitter
    FOLDED = "folded"          # hidden; its toggle shows it
    OVERLAY = "overlay"        # over the chat until it is closed


@dataclass
class PanelLayoutState:
    """What is remembered of the layout between runs."""

    sidebar_width: int = SIDEBAR_WIDTH
    panel_width: int = PANEL_WIDTH
    right_sizes: list[int] = field(default_factory=list)    # settings tabs, metrics
    closed: set[Side] = field(default_factory=set)           # panels the person closed

    def to_text(self) -> str:
        return json.dumps({"version": STATE_VERSION, "sidebar": self.sidebar_width,
                           "panel": self.panel_width, "right": self.right_sizes,
                           "closed": sorted(s.value for s in self.closed)})

    @classmethod
    def from_text(cls, text: str) -> PanelLayoutState | None:
        """The state saved by `to_text`, or None (empty, an older format, or damaged)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        state = cls()
        for name, value in (("sidebar_width", data.get("sidebar")),
                            ("panel_width", data.get("panel"))):
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10_000:
                setattr(state, name, value)
        right = data.get("right")
        if isinstance(right, list) and len(right) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in right):
            state.right_sizes = list(right)
        closed = data.get("closed")
        if isinstance(closed, list):
            state.closed = {s for s in Side if s.value in closed}
        return state


def splitter_state_widths(text: str) -> tuple[int, int] | None:
    """The sidebar's and the settings panel's widths in an older window's saved splitter state
    (base64 of `QSplitter.saveState`: marker, version, then the sizes), or None."""
    stream = QDataStream(QByteArray.fromBase64(text.encode()))
    stream.setVersion(QDataStream.Version.Qt_5_0)
    marker, _version, count = stream.readInt32(), stream.readInt32(), stream.readUInt32()
    if marker != 0xFF or count != 3 or stream.status() != QDataStream.Status.Ok:
        return None
    sizes = [stream.readInt32() for _ in range(3)]
    if stream.status() != QDataStream.Status.Ok or not all(0 < s < 10_000 for s in sizes):
        return None
    return sizes[0], sizes[2]
