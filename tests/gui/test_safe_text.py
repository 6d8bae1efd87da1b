"""Message text shows what was typed: no HTML from anyone (yours or the model's), single line
breaks kept, Markdown's lists, tables, headings and code unharmed, and links that open only on
click, only http(s), with the URL shown first — in the transcript and in Instruct mode alike.
Link openings are caught with QDesktopServices.setUrlHandler: no browser is started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QHelpEvent, QTextCursor, QTextDocument, QTextTable
from PySide6.QtWidgets import QStyleOptionViewItem, QToolTip

from app.chat.render.links import link_tooltip, openable_url
from app.chat.render.markdown import set_message_text
from app.chat.render.safe_text import code_spans, safe_markdown
from app.shell.window import MainWindow
from inference.engine.requests import Mode
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui
SCHEMES = ("http", "https", "file", "javascript", "data", "qrc", "ftp")


class Opened(QObject):
    """Catches every URL Qt is asked to open, by scheme (instead of a browser)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def opened() -> Iterator[Opened]:
    catcher = Opened()
    for scheme in SCHEMES:
        QDesktopServices.setUrlHandler(scheme, catcher, "open")
    yield catcher
    for scheme in SCHEMES:
        QDesktopServices.unsetUrlHandler(scheme)


def _doc(text: str) -> QTextDocument:
    doc = QTextDocument()
    set_message_text(doc, text)
    return doc


def _fragments(doc: QTextDocument) -> list[tuple[str, int, bool]]:
    """(text, font weight, is a link) of every fragment."""
    out = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            fmt = frag.charFormat()
            out.append((frag.text(), fmt.fontWeight(), fmt.isAnchor()))
            it += 1
        block = block.next()
    return out


def _blocks(doc: QTextDocument) -> list[str]:
    out, block = [], doc.begin()
    while block.isValid():
        out.append(block.text())
        block = block.next()
    return out


def _rendered(window: MainWindow, row: int):
    view = window.chat_view
    index = view.model().index(row, 0)
    return view.delegate.rendered(index, view.visualRect(index).width())


# -- no HTML ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "<b>tags</b>", "a <i>b</i> &amp; c &lt;d&gt; &copy;", "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "<div>\n*x*\n</div>", '<a href="https://evil">x</a>',
    "x < y > z & w"])
def test_markup_anyone_types_shows_as_typed(typed: str) -> None:
    doc = _doc(typed)
    plain = doc.toPlainText()
    for tag in ("<b>", "<i>", "<script>", "<img", "<div>", "<a href", "&amp;", "&lt;", "&copy;",
                "&"):
        assert (tag in typed) == (tag in plain), (tag, plain)
    assert all(weight <= 400 for text, weight, _link in _fragments(doc)
               if "tags" in text or text.strip() == "b")
    assert not any(link for _text, _weight, link in _fragments(doc))


def test_your_message_and_the_models_reply_show_tags_literally(qtbot,
                                                              make_window: MakeWindow) -> None:
    """The real window: your `<b>tags</b>` and a model's injected markup are text, not bold."""
    engine = FakeEngine(words=["Sure: ", "<b>", "bold?", "</b>", " and ", "<img src=x>",
                               " &amp;"], delay=0.001)
    window = make_window(engine)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Please write <b>tags</b> & keep them")
    mine, reply = _rendered(window, 0).doc, _rendered(window, 1).doc
    assert mine.toPlainText() == "Please write <b>tags</b> & keep them"
    assert reply.toPlainText() == "Sure: <b>bold?</b> and <img src=x> &amp;"
    for doc in (mine, reply):
        assert all(weight <= 400 for _text, weight, _link in _fragments(doc))
    assert engine.requests[-1].messages[0].content == "Please write <b>tags</b> & keep them"


def test_code_shows_literally_and_is_copied_exactly(qtbot, make_window: MakeWindow) -> None:
    code = "if a < b && c > d:\n    print('<b>&amp;</b>')"
    reply = (f"Use `<b>` or `a && b`:\n\n```python\n{code}\n```\n\nand\n\n"
             "    indented <i>x</i> &amp;\n")
    window = make_window(FakeEngine(words=[reply], delay=0.001))
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Code please")
    doc = _rendered(window, 1).doc
    blocks = _blocks(doc)
    assert blocks[0] == "Use <b> or a && b:"
    assert blocks[1:3] == code.split("\n")
    assert "indented <i>x</i> &amp;" in blocks                     # no backslashes shown
    assert window.chat_view.code_blocks(1) == [code, "indented <i>x</i> &amp;"]


def test_code_spans_are_found_as_commonmark_does() -> None:
    text = "a `x` b ``y ` z`` c \\`not` d `e ``` open"
    found = [text[s:e] for s, e in code_spans(text)]
    assert found == ["`x`", "``y ` z``", "` d `"]


# -- line breaks -----------------------------------------------------------------------------

def test_single_newlines_are_kept_as_line_breaks(qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=["10\n", "14\n", "15"], delay=0.001))
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "roses are red\nviolets are blue")
    assert _blocks(_rendered(window, 0).doc) == ["roses are red", "violets are blue"]
    reply = _rendered(window, 1).doc
    assert _blocks(reply) == ["10", "14", "15"]
    assert reply.toPlainText() == "10\n14\n15"


def test_line_breaks_leave_lists_tables_headings_quotes_and_fences_intact() -> None:
    text = ("# Title\nsub line\n\n- one\n- two\n  more of two\n\n1. first\n2. second\n\n"
            "| a | b |\n|---|---|\n| <1> | 2 |\n| 3 | 4 |\n\n> quoted\n> still\n\n"
            "```\nx = 1\ny = 2\n```\nafter")
    doc = _doc(text)
    block = doc.begin()
    kinds: dict[str, str] = {}
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.headingLevel():
            kinds[block.text()] = f"h{fmt.headingLevel()}"
        elif block.textList() is not None:
            kinds[block.text()] = "list"
        elif fmt.intProperty(fmt.Property.BlockQuoteLevel):
            kinds[block.text()] = "quote"
        elif fmt.hasProperty(fmt.Property.BlockCodeFence):
            kinds[block.text()] = "code"
        block = block.next()
    assert kinds == {"Title": "h1", "one": "list", "two": "list", "more of two": "list",
                     "first": "list", "second": "list", "quoted": "quote", "still": "quote",
                     "x = 1": "code", "y = 2": "code"}
    tables = [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]
    assert len(tables) == 1 and (tables[0].rows(), tables[0].columns()) == (3, 2)
    assert tables[0].cellAt(1, 0).firstCursorPosition().block().text() == "<1>"
    assert "  " not in safe_markdown(text).split("```")[1]           # code untouched
    assert _blocks(doc)[-1] == "after"


# -- links -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("href", "opens"), [
    ("https://example.org/a?b=1&c=2", True), ("http://example.org", True),
    ("HTTPS://EXAMPLE.ORG", True), ("javascript:alert(1)", False),
    ("file:///etc/passwd", False), ("data:text/html,<b>x</b>", False),
    ("qrc:/icons/x.png", False), ("ftp://example.org", False), ("/relative/path", False),
    ("https://", False), ("", False)])
def test_the_link_rule(href: str, opens: bool) -> None:
    assert (openable_url(href) is not None) == opens


def test_a_links_tooltip_shows_its_url_escaped() -> None:
    tip = link_tooltip("javascript:<b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in tip and "<b>x</b>" not in tip and "only http" in tip
    assert "https://example.org" in link_tooltip("https://example.org")


def _anchor_point(doc: QTextDocument, label: str) -> QPointF:
    """The middle of the link text `label` in document coordinates."""
    start = doc.toPlainText().index(label) + len(label) // 2
    block = doc.findBlock(start)
    line = block.layout().lineForTextPosition(start - block.position())
    top = doc.documentLayout().blockBoundingRect(block).top()
    x = line.cursorToX(start - block.position())
    x = x[0] if isinstance(x, tuple) else x
    return QPointF(x, top + line.y() + line.height() / 2)


def test_transcript_links_open_on_click_only_http_and_show_their_url(
        qtbot, make_window: MakeWindow, opened: Opened) -> None:
    reply = ("See [the docs](https://example.org/docs), [run me](javascript:alert(1)), "
             "[secrets](file:///etc/passwd) and https://example.com/x")
    window = make_window(FakeEngine(words=[reply], delay=0.001))
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Links?")
    assert opened.urls == []                               # nothing opens by itself
    view = window.chat_view
    index = view.model().index(1, 0)
    rect = view.visualRect(index)
    geo = view.delegate.geometry(index, rect)
    doc = _rendered(window, 1).doc
    for label, href in (("the docs", "https://example.org/docs"),
                        ("run me", "javascript:alert(1)"), ("secrets", "file:///etc/passwd"),
                        ("example.com/x", "https://example.com/x")):
        point = geo.text.topLeft() + _anchor_point(doc, label)
        assert view.delegate.link_at(index, rect, point) == href
        assert view.delegate.over_clickable(index, rect, point)
        option = QStyleOptionViewItem()
        option.rect = rect
        hover = QHelpEvent(QEvent.Type.ToolTip, point.toPoint(),
                           view.viewport().mapToGlobal(point.toPoint()))
        assert view.delegate.helpEvent(hover, view, option, index)
        assert QToolTip.isVisible() and QToolTip.text() == link_tooltip(href)
        QToolTip.hideText()
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point.toPoint())
    assert opened.urls == ["https://example.org/docs", "https://example.com/x"]
    assert "not opened" in window.banner.text() and "http" in window.banner.text()
    plain = geo.text.topLeft() + QPointF(2, 2)
    assert view.delegate.link_at(index, rect, plain) == ""


def test_instruct_mode_follows_the_same_rules(qtbot, make_window: MakeWindow,
                                             opened: Opened) -> None:
    window = make_window()
    page = window.instruct_page
    browser = page.response
    assert not browser.openExternalLinks() and not browser.openLinks()
    page.load_conversation("", "Links", "<b>tags</b>\n10\n14\n[ok](https://example.org) "
                           "[bad](javascript:alert(1))")
    doc = browser.document()
    assert _blocks(doc)[:3] == ["<b>tags</b>", "10", "14"]
    assert all(weight <= 400 for _text, weight, _link in _fragments(doc))
    window.pages.setCurrentWidget(window.chat_page)
    window.set_mode(Mode.INSTRUCT)
    qtbot.waitUntil(browser.isVisible)
    for label in ("ok", "bad"):
        cursor = QTextCursor(doc)
        cursor.setPosition(doc.toPlainText().index(label) + 1)
        point = browser.cursorRect(cursor).center()
        assert browser.anchorAt(point)
        qtbot.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert opened.urls == ["https://example.org"]
    assert "not opened" in window.banner.text()
    browser.highlighted.emit(QUrl("https://example.org"))
    assert browser.toolTip() == link_tooltip(QUrl("https://example.org"))
    browser.highlighted.emit(QUrl())
    assert browser.toolTip() == ""
