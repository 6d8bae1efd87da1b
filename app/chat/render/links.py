"""The one rule for links in message text: they open only when clicked, only http(s), and the
URL is shown before you click (the transcript's and Instruct mode's response alike)."""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

OPENABLE_SCHEMES = ("http", "https")


def openable_url(href: str | QUrl) -> QUrl | None:
    """The URL a link may open, or None: only an absolute http(s) URL with a host (no file:,
    javascript:, data:, qrc:, and no relative link)."""
    url = href if isinstance(href, QUrl) else QUrl(href.strip(), QUrl.ParsingMode.StrictMode)
    if not url.isValid() or url.scheme().lower() not in OPENABLE_SCHEMES or not url.host():
        return None
    return url


def link_tooltip(href: str | QUrl) -> str:
    """What hovering a link shows: its URL (escaped: a tooltip would render markup), and
    whether a click opens it."""
    text = href.toString() if isinstance(href, QUrl) else href.strip()
    note = "Click to open in your browser" if openable_url(href) is not None else \
        "Not opened: Parley opens only http and https links"
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}<br><i>{note}</i></p>"


def open_link(href: str | QUrl) -> bool:
    """Open a clicked link in the browser when the rule allows it; False when it does not."""
    url = openable_url(href)
    if url is None:
        return False
    return QDesktopServices.openUrl(url)
