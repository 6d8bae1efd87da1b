"""A reply as plain text: its thinking between llama-cli's `[Start thinking]` and
`[End thinking]` lines, then the answer (the CLI's output and the compare page's columns)."""

from __future__ import annotations

START, END = "[Start thinking]\n", "[End thinking]\n\n"


class PlainReply:
    """Turns streamed pieces (text, is-thinking) into plain text, marking where thinking starts
    and ends; `show_reasoning=False` leaves the thinking out."""

    def __init__(self, show_reasoning: bool = True) -> None:
        self._show = show_reasoning
        self._thinking = False          # inside the thinking block
        self._last = "\n"               # the last character given out

    def piece(self, text: str, reasoning: bool) -> str:
        if reasoning:
            if not self._show:
                return ""
            out = "" if self._thinking else START
            self._thinking = True
        else:
            out = self.end()
        return self._given(out + text)

    def end(self) -> str:
        """Close the thinking block, if one is open."""
        if not self._thinking:
            return ""
        self._thinking = False
        return self._given(("" if self._last == "\n" else "\n") + END)

    def _given(self, text: str) -> str:
        if text:
            self._last = text[-1]
        return text


def plain_reply(reasoning: str, answer: str) -> str:
    """A finished reply's whole plain text (the answer alone when it did not think)."""
    reply = PlainReply()
    return reply.piece(reasoning, True) + reply.piece(answer, False) if reasoning else answer
