"""Tokenizing a long text in pieces, with a cancel check between them and the same tokens.

One `llama_tokenize` call over a 16 MiB prompt or a 50 MB text runs for minutes and cannot be
interrupted. `tokenize_chunked` cuts the text into pieces of about CHUNK_CHARS characters, each
cut just before a run of whitespace that follows other text (where every llama.cpp tokenizer
starts a new word), and only the first piece gets BOS. Each cut is checked first: the text around
it (CHECK_CHARS on each side) must tokenize to the same tokens cut as whole; a cut that fails the
check (a tokenizer that merges across it) is not used, and the piece grows to the next good cut;
where none is found in a few tries, the rest of the text is tokenized in one call.
"""

from __future__ import annotations

import re

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.llama.native import NativeModel

CHUNK_CHARS = 64 * 1024
CHECK_CHARS = 256          # text each side of a cut that must tokenize the same either way
TRIES_PER_CUT = 8          # candidate cuts looked at before a piece is allowed to grow
_RUN_START = re.compile(r"(?<=\S)\s")   # the first whitespace character after other text


def tokenize_chunked(model: NativeModel, text: str, *, add_special: bool = True,
                     parse_special: bool = False, cancel: CancelToken | None = None,
                     chunk_chars: int = CHUNK_CHARS) -> list[int]:
    """The tokens `model.tokenize(text, …)` gives, computed piece by piece; raises `Cancelled`
    when `cancel` fires between pieces."""
    if len(text) <= chunk_chars:
        _check(cancel)
        return model.tokenize(text, add_special=add_special, parse_special=parse_special)
    cutter = _Cutter(model, text, parse_special)
    tokens: list[int] = []
    start, first = 0, True
    while start < len(text):
        _check(cancel)
        end = cutter.next_cut(start, start + chunk_chars)
        tokens += model.tokenize(text[start:end], add_special=add_special and first,
                                 parse_special=parse_special)
        start, first = end, False
    return tokens


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("tokenizing cancelled")


class _Cutter:
    """Finds where a piece may end: a checked cut at or before `target`, or the next one after."""

    def __init__(self, model: NativeModel, text: str, parse_special: bool) -> None:
        self._model = model
        self._text = text
        self._special = parse_special

    def next_cut(self, start: int, target: int) -> int:
        text = self._text
        if target >= len(text):
            return len(text)
        for cut in self._before(start, target):
            if self._same_tokens(cut):
                return cut
        for tries, match in enumerate(_RUN_START.finditer(text, target)):   # grow the piece
            if tries >= TRIES_PER_CUT:
                break
            if self._same_tokens(match.start()):
                return match.start()
        return len(text)          # no cut this tokenizer keeps: the rest in one call

    def _before(self, start: int, target: int) -> list[int]:
        """Up to TRIES_PER_CUT candidate cuts in (start, target], the nearest to target first."""
        found: list[int] = []
        text, pos = self._text, target
        while len(found) < TRIES_PER_CUT:
            space = _rfind_space(text, start + 1, pos)
            if space < 0:
                break
            run = space
            while run > start + 1 and text[run - 1].isspace():
                run -= 1
            if not text[run - 1].isspace():
                found.append(run)
            pos = run - 1
        return found

    def _same_tokens(self, cut: int) -> bool:
        text, model, special = self._text, self._model, self._special
        left = text[max(0, cut - CHECK_CHARS):cut]
        right = text[cut:cut + CHECK_CHARS]
        whole = model.tokenize(left + right, add_special=False, parse_special=special)
        parts = (model.tokenize(left, add_special=False, parse_special=special)
                 + model.tokenize(right, add_special=False, parse_special=special))
        return whole == parts


def _rfind_space(text: str, low: int, high: int) -> int:
    """The index of the last ASCII whitespace character in text[low:high], or -1."""
    return max(text.rfind(c, low, high) for c in " \t\n\r")
