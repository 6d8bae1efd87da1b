"""Light and dark themes: a palette, a Qt style sheet, following the system's colour scheme."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QApplication

STYLE_FILE = Path(__file__).with_name("style.qss")


@dataclass(frozen=True)
class Palette:
    name: str
    window: str
    surface: str
    sidebar: str
    border: str
    text: str
    muted: str
    accent: str
    accent_text: str
    accent_soft: str
    user_bubble: str
    assistant_bubble: str
    code_bg: str
    danger: str
    danger_bg: str
    info_bg: str
    chart_a: str
    chart_b: str

    def color(self, name: str) -> QColor:
        return QColor(getattr(self, name))

    @property
    def dark(self) -> bool:
        return self.name == "dark"


LIGHT = Palette(
    name="light", window="#f5f6f8", surface="#ffffff", sidebar="#eceef2", border="#d5d9e0",
    text="#1d2127", muted="#5f6873", accent="#2f6feb", accent_text="#ffffff",
    accent_soft="#dde8fd", user_bubble="#e6eefc", assistant_bubble="#ffffff",
    code_bg="#f1f3f6", danger="#c62a2a", danger_bg="#fdeaea", info_bg="#eaf2fe",
    chart_a="#2f6feb", chart_b="#d9822b")

DARK = Palette(
    name="dark", window="#1b1d21", surface="#24272c", sidebar="#202227", border="#363a41",
    text="#e5e7eb", muted="#9aa3ad", accent="#5b93ff", accent_text="#0d1117",
    accent_soft="#233455", user_bubble="#253247", assistant_bubble="#24272c",
    code_bg="#16181c", danger="#ff7b72", danger_bg="#3a1f1f", info_bg="#1d2a3f",
    chart_a="#5b93ff", chart_b="#f0a45d")


NATIVE_PLATFORMS = frozenset({"windows", "darwin"})   # Qt picks their own native style


def style_for_platform(platform: str, available: list[str] | tuple[str, ...]) -> str | None:
    """The Qt style to set for `sys.platform`-style `platform`: None keeps the platform's own
    native style (Windows, macOS); Fusion on Linux and the rest, where it is the best one."""
    name = "windows" if platform.startswith("win") else platform
    if name in NATIVE_PLATFORMS:
        return None
    return "Fusion" if "fusion" in (a.lower() for a in available) else None


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark


def style_sheet(palette: Palette) -> str:
    values = {**asdict(palette), "arrow": _arrow_path(palette).as_posix(),
              "check": _check_path(palette).as_posix()}
    return Template(STYLE_FILE.read_text(encoding="utf-8")).safe_substitute(values)


def _cached_icon(name: str, size: int, draw: Callable[[QPainter], None]) -> Path:
    """A small PNG drawn once by `draw` and kept in the cache folder (named by its colour)."""
    from PySide6.QtGui import QImage

    from inference.common.paths import parley_paths

    path = parley_paths().cache / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        draw(painter)
        painter.end()
        image.save(str(path))
    return path


def _arrow_path(palette: Palette) -> Path:
    """A small down-arrow PNG in the muted colour (drawn once per theme)."""
    def draw(painter: QPainter) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(palette.muted))
        painter.drawPolygon(QPolygonF([QPointF(3, 6), QPointF(17, 6), QPointF(10, 14)]))

    return _cached_icon(f"arrow-{palette.muted.lstrip('#')}.png", 20, draw)


def _check_path(palette: Palette) -> Path:
    """A small tick PNG in the accent's text colour, for checked check boxes."""
    def draw(painter: QPainter) -> None:
        painter.setPen(QPen(QColor(palette.accent_text), 4))
        painter.drawPolyline([QPointF(6, 14), QPointF(12, 20), QPointF(22, 8)])

    return _cached_icon(f"check-{palette.accent_text.lstrip('#')}.png", 28, draw)


def qt_palette(p: Palette) -> QPalette:
    pal = QPalette()
    roles = QPalette.ColorRole
    pal.setColor(roles.Window, QColor(p.window))
    pal.setColor(roles.WindowText, QColor(p.text))
    pal.setColor(roles.Base, QColor(p.surface))
    pal.setColor(roles.AlternateBase, QColor(p.sidebar))
    pal.setColor(roles.Text, QColor(p.text))
    pal.setColor(roles.Button, QColor(p.surface))
    pal.setColor(roles.ButtonText, QColor(p.text))
    pal.setColor(roles.Highlight, QColor(p.accent))
    pal.setColor(roles.HighlightedText, QColor(p.accent_text))
    pal.setColor(roles.ToolTipBase, QColor(p.surface))
    pal.setColor(roles.ToolTipText, QColor(p.text))
    pal.setColor(roles.PlaceholderText, QColor(p.muted))
    pal.setColor(roles.Link, QColor(p.accent))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(p.muted))
    return pal


class ThemeManager(QObject):
    """Applies the chosen theme ("system", "light", "dark") and re-applies on system changes."""

    themeChanged = Signal(object)          # Palette

    def __init__(self, app: QApplication, choice: str = "system",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._app = app
        self._choice = choice
        self._palette = LIGHT
        hints = QGuiApplication.styleHints()
        if hints is not None:           # a bound slot: the connection ends with this object
            hints.colorSchemeChanged.connect(self._system_scheme_changed)
        self.apply()

    @property
    def palette(self) -> Palette:
        return self._palette

    @property
    def choice(self) -> str:
        return self._choice

    def set_choice(self, choice: str) -> None:
        self._choice = choice if choice in ("system", "light", "dark") else "system"
        self.apply()

    def _system_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._choice == "system":
            self.apply()

    def apply(self) -> None:
        dark = self._choice == "dark" or (self._choice == "system" and system_is_dark())
        self._palette = DARK if dark else LIGHT
        self._app.setPalette(qt_palette(self._palette))
        self._app.setStyleSheet(style_sheet(self._palette))
        self.themeChanged.emit(self._palette)
