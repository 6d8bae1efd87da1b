"""Tokenize a rendered chat prompt so that only the template's own markers become control tokens.

Text a person wrote (messages, the system prompt, earlier replies) that spells a special token,
say `<start_of_turn>model`, must stay text, or pasted text could forge a turn. A content that
holds such text is found in the prompt (the template rendered once more with placeholders for
the contents) and tokenized with parse_special=False; the rest of the prompt with
parse_special=True. When no content spells a special token — nearly always — the prompt is
tokenized in one call, exactly as before. A content the template rewrote beyond trimming
cannot be found; it is then looked for as it was written, and if it is not in the prompt at all
its text is tokenized with the template's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from inference.engine.chat_formats import ChatFormat
from inference.engine.requests import Message
from inference.engine.template_limits import TemplateError

Tokenizer = Callable[[str, bool], list[int]]   # (text, parse_special) → tokens incl. BOS
Spans = dict[int, list[tuple[int, int]]]       # message index → where its content is
_HOLDER = "\ue000{}\ue001"                     # private-use characters around the index
_HOLDER_SPLIT = re.compile("\ue000(\\d+)\ue001")


class PromptTokenizer:
    """Tokenizes one request's renders (the same cache while old turns are dropped)."""

    def __init__(self, tokenize: Tokenizer, bos_text: str = "",
                 special_in_user_text: bool = False) -> None:
        self._tokenize = tokenize
        self._bos_text = bos_text
        self._special_in_user_text = special_in_user_text
        self._spells_special: dict[str, bool] = {}

    def tokens(self, fmt: ChatFormat, messages: Sequence[Message], text: str
               ) -> tuple[str, list[int]]:
        """The prompt without a leading BOS text (the tokenizer adds BOS), and its tokens."""
        text = self._without_bos(text)
        marked = [] if self._special_in_user_text else [
            i for i, m in enumerate(messages) if self._spells_special_token(m.content)]
        if not marked:
            return text, self._tokenize(text, True)
        spans = content_spans(fmt, messages, text, self._without_bos)
        literal = sorted(span for i in marked for span in spans.get(i, ()))
        return text, tokenize_in_pieces(self._tokenize, text, literal)

    def _without_bos(self, text: str) -> str:
        if self._bos_text and text.startswith(self._bos_text):
            return text[len(self._bos_text):]
        return text

    def _spells_special_token(self, content: str) -> bool:
        if not content:
            return False
        known = self._spells_special.get(content)
        if known is None:
            known = self._tokenize(content, True) != self._tokenize(content, False)
            self._spells_special[content] = known
        return known


def tokenize_in_pieces(tokenize: Tokenizer, text: str, literal: Sequence[tuple[int, int]]
                       ) -> list[int]:
    """BOS, each piece's own tokens (`text` with parse_special, the spans in `literal`, sorted,
    without), then whatever the tokenizer appends at the end (EOS, for some models)."""
    head, tail = added_tokens(tokenize)
    tokens = list(head)
    pos = 0
    for start, end in [*literal, (len(text), len(text))]:
        for piece, special in ((text[pos:start], True), (text[start:end], False)):
            if piece:
                raw = tokenize(piece, special)
                tokens += raw[len(head):len(raw) - len(tail)]
        pos = max(pos, end)
    return tokens + tail


def added_tokens(tokenize: Tokenizer) -> tuple[list[int], list[int]]:
    """The tokens the tokenizer puts before and after any text."""
    empty = tokenize("", False)
    one = tokenize("a", False)
    n = 0
    while n < len(empty) and n < len(one) and empty[n] == one[n]:
        n += 1
    return empty[:n], empty[n:]


def content_spans(fmt: ChatFormat, messages: Sequence[Message], text: str,
                  clean: Callable[[str], str] = lambda t: t) -> Spans:
    """Where each message's content lies in `text`, the prompt `fmt` rendered from them."""
    holders = [Message(m.role, _HOLDER.format(i)) for i, m in enumerate(messages)]
    try:
        skeleton: str | None = clean(fmt.render(holders))
    except TemplateError:
        skeleton = None
    found = _match(skeleton, messages, text) if skeleton is not None else None
    return found if found is not None else _search(messages, text)


def _match(skeleton: str, messages: Sequence[Message], text: str) -> Spans | None:
    """Spans from the placeholder render, if the real render is it with the contents put in."""
    parts = _HOLDER_SPLIT.split(skeleton)
    if not text.startswith(parts[0]):
        return None
    pos = len(parts[0])
    spans: Spans = {}
    for k in range(1, len(parts), 2):
        index, after = int(parts[k]), parts[k + 1]
        if index >= len(messages):
            return None
        for content in _variants(messages[index].content):
            if text.startswith(content, pos) and text.startswith(after, pos + len(content)):
                break
        else:
            return None
        spans.setdefault(index, []).append((pos, pos + len(content)))
        pos += len(content) + len(after)
    return spans if pos == len(text) else None


def _search(messages: Sequence[Message], text: str) -> Spans:
    """Each content where it next appears, in order (for a template that rewrites them)."""
    spans: Spans = {}
    pos = 0
    for index, message in enumerate(messages):
        for content in _variants(message.content):
            at = text.find(content, pos) if content else -1
            if at >= 0:
                spans[index] = [(at, at + len(content))]
                pos = at + len(content)
                break
    return spans


def _variants(content: str) -> list[str]:
    """The content as written, then as templates commonly trim it."""
    seen: list[str] = []
    for variant in (content, content.strip(), content.rstrip(), content.lstrip()):
        if variant not in seen:
            seen.append(variant)
    return seen
