"""Syntax colours for a fenced code block, by its language, with Pygments.

A block names its language after the fence (```python). No language, or one Pygments does not
know, stays plain: nothing is guessed, so nothing is mis-coloured. Colours come from the theme's
palette (light or dark), so code reads on either; only the characters' formats change, never
the text, so Copy copies exactly what was written.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Keyword, Name, Number, String, Token, _TokenType
from pygments.util import ClassNotFound

from app.shell.theme import Palette


@dataclass(frozen=True)
class TokenStyle:
    """How one kind of token looks: a palette colour's name, and bold or italic."""

    color: str
    bold: bool = False
    italic: bool = False


STYLES: tuple[tuple[_TokenType, TokenStyle], ...] = (   # the most specific kind first
    (Comment, TokenStyle("muted", italic=True)),
    (String, TokenStyle("chart_b")),
    (Number, TokenStyle("danger")),
    (Keyword, TokenStyle("accent", bold=True)),
    (Name.Builtin, TokenStyle("accent")),
    (Name.Function, TokenStyle("chart_a")),
    (Name.Class, TokenStyle("chart_a", bold=True)),
    (Name.Decorator, TokenStyle("muted")),
)


@dataclass(frozen=True)
class Span:
    """`length` characters from `start` (in the block's text) drawn in `style`."""

    start: int
    length: int
    style: TokenStyle


SPANS_KEPT = 256           # code blocks whose colours are remembered


def language_name(language: str) -> str:
    """The fence's language as Pygments looks it up: its first word, lower case."""
    words = language.split()
    return words[0].lower() if words else ""


def lexer_for(language: str) -> Lexer | None:
    """Pygments' lexer for a fence's language name, or None: plain."""
    name = language_name(language)
    if not name:
        return None
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


class Highlighter:
    """`spans` with what it found remembered: a block already coloured (a reply re-rendered
    as it streams, or at another width) is not lexed again."""

    def __init__(self, size: int = SPANS_KEPT) -> None:
        self._size = size
        self._lexers: dict[str, Lexer | None] = {}
        self._spans: OrderedDict[tuple[str, str], tuple[Span, ...]] = OrderedDict()

    def spans(self, code: str, language: str) -> tuple[Span, ...]:
        name = language_name(language)
        if not name:
            return ()
        key = (name, code)
        found = self._spans.get(key)
        if found is None:
            if name not in self._lexers:
                self._lexers[name] = lexer_for(name)
            lexer = self._lexers[name]
            found = tuple(lexed(code, lexer)) if lexer is not None else ()
            self._spans[key] = found
            while len(self._spans) > self._size:
                self._spans.popitem(last=False)
        self._spans.move_to_end(key)
        return found


def style_of(kind: _TokenType) -> TokenStyle | None:
    """The style for a token kind (None: the text colour)."""
    while kind is not Token:
        for parent, style in STYLES:
            if kind is parent:
                return style
        kind = kind.parent
    return None


def spans(code: str, language: str) -> Iterator[Span]:
    """The coloured runs of `code` (neighbouring tokens of one style joined); none when plain."""
    lexer = lexer_for(language)
    if lexer is not None:
        yield from lexed(code, lexer)


def lexed(code: str, lexer: Lexer) -> Iterator[Span]:
    """The coloured runs `lexer` finds in `code`."""
    run: Span | None = None
    for start, kind, value in lexer.get_tokens_unprocessed(code):
        style = style_of(kind)
        if run is not None and style is run.style and start == run.start + run.length:
            run = Span(run.start, run.length + len(value), style)
            continue
        if run is not None:
            yield run
        run = Span(start, len(value), style) if style is not None and value.strip() else None
    if run is not None:
        yield run


def color(palette: Palette, style: TokenStyle) -> str:
    """The colour of `style` in `palette`."""
    return str(getattr(palette, style.color))
