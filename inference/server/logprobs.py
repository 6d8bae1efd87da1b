"""Log-probabilities in OpenAI's two shapes, each token's handed out with the text it became.

The engine sends a token's log-probabilities just before the token's text, but a token's text
may be held back (a possible stop string, half a character) and come out with a later token's,
or never (a stop string is cut off). `ReplyLogprobs` therefore keeps them pending and releases
them with the next text the reply shows: a streamed chunk carries exactly the tokens whose text
it is the first to show, and the whole response carries the same tokens in the same order.
Tokens that never show text (the stop string itself) are left out, and so are the tokens of
thinking (`reasoning_content`): OpenAI's logprobs describe the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inference.inspector.openai_shape import chat_entry


@dataclass(frozen=True)
class LogprobEntry:
    """One reply token as the engine sent it: bytes, log-probability, and the most likely
    tokens of its step as (bytes, log-probability), most likely first."""

    token: bytes
    logprob: float
    top: tuple[tuple[bytes, float], ...] = ()


@dataclass(frozen=True)
class Shown:
    entry: LogprobEntry
    text_offset: int                   # characters before the token, the prompt's included


def _text(token: bytes) -> str:
    return token.decode("utf-8", errors="replace")


@dataclass
class ReplyLogprobs:
    """One reply's tokens: pending until text shows them, then in `shown` (in order)."""

    chat: bool                         # choices[].logprobs.content, or the completions shape
    prompt_chars: int = 0              # completions: text_offset counts from the prompt's start
    shown: list[Shown] = field(default_factory=list)
    _pending: list[LogprobEntry] = field(default_factory=list)
    _text_bytes: bytearray = field(default_factory=bytearray)

    def add(self, entry: LogprobEntry) -> None:
        self._pending.append(entry)

    def release(self, reasoning: bool) -> list[Shown]:
        """The pending tokens, for a piece of text now shown (dropped for thinking)."""
        pending, self._pending = self._pending, []
        if reasoning:
            return []
        released = []
        for entry in pending:
            offset = self.prompt_chars + len(self._text_bytes.decode("utf-8", errors="ignore"))
            released.append(Shown(entry, offset))
            self._text_bytes += entry.token
        self.shown += released
        return released

    def shape(self, tokens: list[Shown]) -> dict[str, Any]:
        """`tokens` as a choice's "logprobs" value."""
        if self.chat:
            return {"content": [_chat_token(s.entry) for s in tokens], "refusal": None}
        top_logprobs = []
        for s in tokens:
            alternatives: dict[str, float] = {}
            for token, logprob in (*s.entry.top, (s.entry.token, s.entry.logprob)):
                alternatives.setdefault(_text(token), logprob)   # the chosen one too, as OpenAI
            top_logprobs.append(alternatives)
        return {"tokens": [_text(s.entry.token) for s in tokens],
                "token_logprobs": [s.entry.logprob for s in tokens],
                "top_logprobs": top_logprobs,
                "text_offset": [s.text_offset for s in tokens]}


def _chat_token(entry: LogprobEntry) -> dict[str, Any]:
    return chat_entry(entry.token, entry.logprob, entry.top)
