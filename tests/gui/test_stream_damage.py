"""first_changed_y: from which line a streamed update changes a message's rendering.

Real Markdown renderings (render_markdown, the delegate's own), compared before and after a
piece of text is appended, as the transcript does while a reply streams.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont

from app.chat.render.damage import first_changed_y
from app.chat.render.markdown import RenderedMessage, render_markdown
from app.shell.theme import LIGHT

WIDTH = 260


@pytest.fixture
def render(qapp):  # noqa: ANN001, ANN201
    font = QFont()
    font.setPointSize(10)
    return lambda text: render_markdown(text, WIDTH, LIGHT, font)


def line_tops(item: RenderedMessage) -> list[float]:
    """The top of every line of the document, in order."""
    tops = []
    block = item.doc.begin()
    while block.isValid():
        top = item.layout.blockBoundingRect(block).top()
        layout = block.layout()
        tops += [top + layout.lineAt(i).y() for i in range(layout.lineCount())]
        block = block.next()
    return tops


def line_of(item: RenderedMessage, needle: str) -> float:
    """The top of the line where `needle` starts (first block that holds it)."""
    block = item.doc.begin()
    while block.isValid():
        at = block.text().find(needle)
        if at >= 0:
            top = item.layout.blockBoundingRect(block).top()
            return top + block.layout().lineForTextPosition(at).y()
        block = block.next()
    raise AssertionError(f"{needle!r} is not in the document")


PARAGRAPH = ("The meeting went over the budget, the plan for the next quarter and who "
             "will write the notes for the team next week")


def test_no_old_rendering_means_all_of_it_and_no_change_means_none_of_it(render) -> None:
    item = render(PARAGRAPH)
    assert first_changed_y(None, item) == 0
    assert first_changed_y(item, render(PARAGRAPH)) == pytest.approx(item.height)


def test_a_word_added_to_the_last_line_changes_that_line_only(render) -> None:
    old = render(PARAGRAPH)
    new = next(item for item in map(render, (PARAGRAPH + " ok", PARAGRAPH[:-5] + " ok"))
               if len(line_tops(item)) == len(line_tops(old)))     # one that does not wrap
    tops = line_tops(new)
    assert len(tops) >= 3
    assert first_changed_y(old, new) == pytest.approx(tops[-1])


def test_a_new_paragraph_changes_nothing_above_it(render) -> None:
    old = render(PARAGRAPH)
    new = render(PARAGRAPH + "\n\nA second thought")
    changed = first_changed_y(old, new)
    assert changed >= line_tops(old)[-1]               # not above the old last line
    assert changed <= line_of(new, "A second")


def test_closing_bold_restyles_the_text_where_it_began(render) -> None:
    old = render(PARAGRAPH + " and **this part, which matters a great deal to every one of")
    new = render(PARAGRAPH + " and **this part, which matters a great deal to every one of us**")
    assert first_changed_y(old, new) <= line_of(old, "**this") + 0.5
    assert first_changed_y(old, new) <= line_of(new, "this part") + 0.5


def test_a_word_that_grows_onto_the_next_line_changes_the_line_it_left(render) -> None:
    base = "Words of some length fill this line until it wraps around, then "
    old = render(base + "ab")
    grown = render(base + "abcdefghijklmnopqrstuv")
    assert line_of(grown, "abcdef") > line_of(old, "ab")    # it did move down a line
    assert first_changed_y(old, grown) <= line_of(old, "ab") + 0.5


def test_a_list_item_and_a_code_block_opening_below_keep_the_lines_above(render) -> None:
    text = PARAGRAPH + "\n\n1. first step"
    old = render(text)
    assert first_changed_y(old, render(text + "\n2. second step")) >= line_of(old, "first")
    with_code = render(text + "\n\n```python\nprint('hi')")
    assert first_changed_y(old, with_code) >= line_of(old, "first")
