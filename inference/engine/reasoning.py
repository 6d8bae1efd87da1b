"""A reply's thinking and its answer, told apart while the reply streams.

The markers are those the chat templates in llama.cpp's `models/templates/` write (each one
checked against the template files); llama.cpp's server recognises the same ones per format
(`common/chat.cpp`, `common/parsers/`). A format is recognised only where a template would put
it: the thinking at the very start of the reply (or already opened by the prompt), then the
answer. Whitespace around the thinking and between it and the answer is dropped, as llama.cpp's
server drops it between `reasoning_content` and `content`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum


@dataclass(frozen=True)
class ReasoningFormat:
    """The markers of one model family's thinking."""

    name: str
    open: str                     # begins the thinking
    close: str                    # ends it
    answer_start: str = ""        # begins the answer after the thinking (dropped)
    message_start: str = ""       # begins each further message (harmony); thinking may repeat
    drop: tuple[str, ...] = ()    # markers removed from the answer wherever they appear
    starts_open: bool = False     # the rendered prompt already opened the thinking

    @property
    def markers(self) -> tuple[str, ...]:
        """Every marker of the format (the engine renders these tokens' text)."""
        found = (self.open, self.close, self.answer_start, self.message_start, *self.drop)
        return tuple(dict.fromkeys(m for m in found if m))

    def opened_by(self, prompt_text: str) -> bool:
        """Whether the prompt ends (but for whitespace) with this format's opening marker."""
        return prompt_text.rstrip().endswith(self.open.rstrip())


THINK = ReasoningFormat("think", "<think>", "</think>")
FORMATS: tuple[ReasoningFormat, ...] = (
    ReasoningFormat("harmony", "<|channel|>analysis<|message|>", "<|end|>",
                    answer_start="<|channel|>final<|message|>", message_start="<|start|>assistant"),
    ReasoningFormat("seed", "<seed:think>", "</seed:think>"),
    ReasoningFormat("minimax-m3", "<mm:think>", "</mm:think>"),
    ReasoningFormat("hunyuan", "<think:opensource>", "</think:opensource>"),
    ReasoningFormat("mistral", "[THINK]", "[/THINK]"),
    ReasoningFormat("command-r7b", "<|START_THINKING|>", "<|END_THINKING|>",
                    answer_start="<|START_RESPONSE|>", drop=("<|END_RESPONSE|>",)),
    ReasoningFormat("command-a", "<|START_THINKING|>", "<|END_THINKING|>",
                    answer_start="<|START_TEXT|>", drop=("<|END_TEXT|>",)),
    ReasoningFormat("gemma4", "<|channel>thought", "<channel|>"),
    ReasoningFormat("kimi-k3", "<|open|>think<|sep|>", "<|close|>think<|sep|>",
                    answer_start="<|open|>response<|sep|>",
                    drop=("<|close|>response<|sep|>", "<|close|>message<|sep|>",
                          "<|end_of_msg|>")),
    ReasoningFormat("solar-open", "<|think|>", "<|end|>", answer_start="<|content|>",
                    message_start="<|begin|>assistant", drop=("<|end|>",)),
    ReasoningFormat("apriel", "Here are my reasoning steps:\n", "[BEGIN FINAL RESPONSE]"),
    ReasoningFormat("apertus", "<|inner_prefix|>", "<|inner_suffix|>"),
    ReasoningFormat("granite", "<think>", "</think>", answer_start="<response>",
                    drop=("</response>",)),
    THINK,
)
_BY_NAME = {f.name: f for f in FORMATS}

# What in a template's source names its format, most specific first (each seen in the files).
_SIGNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("harmony", ("<|channel|>", "<|message|>")),
    ("seed", ("<seed:think>",)),
    ("minimax-m3", ("<mm:think>",)),
    ("hunyuan", ("'<think{}>'.format(HYTK)", ":opensource")),
    ("mistral", ("[THINK]", "[/THINK]")),
    ("command-r7b", ("<|START_THINKING|>", "<|START_RESPONSE|>")),
    ("command-a", ("<|START_THINKING|>", "<|START_TEXT|>")),
    ("gemma4", ("<|channel>thought",)),
    ("kimi-k3", ("<|open|>", "<|close|>", "<|end_of_msg|>")),
    ("solar-open", ("<|begin|>assistant<|think|>",)),
    ("apriel", ("Here are my reasoning steps:", "[BEGIN FINAL RESPONSE]")),
    ("apertus", ("<|inner_prefix|>", "<|inner_suffix|>")),
    ("granite", ("<think></think>", "<response></response>")),
    ("think", ("</think>",)),
)


def format_named(name: str) -> ReasoningFormat:
    return _BY_NAME[name]


def detect_reasoning(template_source: str | None, prompt_text: str) -> ReasoningFormat | None:
    """The thinking format a model uses, from its chat template's source and the rendered
    prompt's tail (which tells whether the prompt already opened the thinking); None when
    neither shows one."""
    fmt = _format_of_template(template_source or "")
    if fmt is None:           # a template that names no format may still open one
        opened = [f for f in FORMATS if f.open.strip() and f.opened_by(prompt_text)]
        if not opened:
            return None
        # the longest marker; of two alike (think, granite), the one that asks for no more
        fmt = max(opened, key=lambda f: (len(f.open.strip()), not f.answer_start))
    return replace(fmt, starts_open=fmt.opened_by(prompt_text))


def _format_of_template(source: str) -> ReasoningFormat | None:
    for name, signs in _SIGNS:
        if all(sign in source for sign in signs):
            return _BY_NAME[name]
    return None


class Part(str, Enum):
    REASONING = "reasoning"
    ANSWER = "answer"
    MARKUP = "markup"             # markers and the whitespace around them: not shown


@dataclass(frozen=True)
class Segment:
    part: Part
    text: str


class Phase(Enum):
    START = "start"               # the reply's beginning: thinking or answer may come
    REASONING = "reasoning"
    BETWEEN = "between"           # after the thinking, before the answer
    ANSWER = "answer"


class ReasoningSplitter:
    """Feed the reply's text in pieces of any size; get its thinking, answer and markup back
    in order (all three together are exactly the text fed). `fmt` None: everything is answer."""

    def __init__(self, fmt: ReasoningFormat | None) -> None:
        self._fmt = fmt
        self._buf = ""            # text not yet decided
        self._trim = False        # drop whitespace at the front of the buffer
        self.thought = False      # any thinking seen
        self.reasoning = ""
        self.answer = ""
        self.phase = Phase.START if fmt else Phase.ANSWER
        if fmt is not None and fmt.starts_open:
            self._enter(Phase.REASONING)

    def feed(self, text: str) -> list[Segment]:
        self._buf += text
        return self._run(final=False)

    def flush(self) -> list[Segment]:
        """At the end of the reply: decide what is still held."""
        return self._run(final=True)

    # -- the state machine ----------------------------------------------------------------
    def _run(self, final: bool) -> list[Segment]:
        out: list[Segment] = []
        while self._buf and self._step(out, final):
            pass
        merged: list[Segment] = []
        for seg in out:
            if not seg.text:
                continue
            if merged and merged[-1].part is seg.part:
                merged[-1] = Segment(seg.part, merged[-1].text + seg.text)
            else:
                merged.append(seg)
        for seg in merged:
            if seg.part is Part.REASONING:
                self.reasoning += seg.text
            elif seg.part is Part.ANSWER:
                self.answer += seg.text
        return merged

    def _step(self, out: list[Segment], final: bool) -> bool:
        """Handle the front of the buffer; False when it must wait for more text."""
        if self._trim:
            body = self._buf.lstrip()
            out.append(Segment(Part.MARKUP, self._buf[:len(self._buf) - len(body)]))
            self._buf = body
            if not body:
                return False
            self._trim = False
        if self.phase is Phase.REASONING:
            return self._in_reasoning(out, final)
        if self.phase is Phase.ANSWER:
            return self._in_answer(out, final)
        return self._at_boundary(out, final)

    def _at_boundary(self, out: list[Segment], final: bool) -> bool:
        """START or BETWEEN: a marker may come after whitespace; else the answer begins."""
        fmt = self._fmt
        assert fmt is not None
        body = self._buf.lstrip()
        space = self._buf[:len(self._buf) - len(body)]
        choices = [(fmt.message_start, self.phase), (fmt.answer_start, Phase.ANSWER)]
        if self.phase is Phase.START or fmt.message_start:
            choices.append((fmt.open, Phase.REASONING))
        for marker, then in choices:
            if marker and body.startswith(marker):
                out += [Segment(Part.MARKUP, space + marker)]
                self._buf = body[len(marker):]
                self._enter(then)
                return True
        waiting = not body or any(m.startswith(body) for m, _ in choices if m)
        if waiting and not final:
            return False
        if self.phase is Phase.BETWEEN or (not body and final):
            out.append(Segment(Part.MARKUP if self.phase is Phase.BETWEEN else Part.ANSWER,
                               space))
            self._buf = body
        self.phase = Phase.ANSWER    # at the start, leading whitespace stays the answer's
        return True

    def _in_reasoning(self, out: list[Segment], final: bool) -> bool:
        fmt = self._fmt
        assert fmt is not None
        ends = [(fmt.close, Phase.BETWEEN), (fmt.answer_start, Phase.ANSWER)]
        hit = _earliest(self._buf, [m for m, _ in ends if m])
        if hit is not None:
            at, marker = hit
            thought = self._buf[:at]
            kept = thought.rstrip()
            out += [Segment(Part.REASONING, kept),
                    Segment(Part.MARKUP, thought[len(kept):] + marker)]
            self._buf = self._buf[at + len(marker):]
            self._enter(next(then for m, then in ends if m == marker))
            return True
        if final:
            kept = self._buf.rstrip()
            out += [Segment(Part.REASONING, kept), Segment(Part.MARKUP, self._buf[len(kept):])]
            self._buf = ""
            return False
        safe = len(self._buf) - _partial_suffix(self._buf, [m for m, _ in ends if m])
        kept = self._buf[:safe].rstrip()       # trailing whitespace waits: it may end the thought
        out.append(Segment(Part.REASONING, kept))
        self._buf = self._buf[len(kept):]
        return False

    def _in_answer(self, out: list[Segment], final: bool) -> bool:
        drops = list(self._fmt.drop) if self._fmt else []
        hit = _earliest(self._buf, drops)
        if hit is not None:
            at, marker = hit
            out += [Segment(Part.ANSWER, self._buf[:at]), Segment(Part.MARKUP, marker)]
            self._buf = self._buf[at + len(marker):]
            return True
        safe = len(self._buf) if final else len(self._buf) - _partial_suffix(self._buf, drops)
        out.append(Segment(Part.ANSWER, self._buf[:safe]))
        self._buf = self._buf[safe:]
        return False

    def _enter(self, phase: Phase) -> None:
        self.phase = phase
        self._trim = phase is not Phase.START
        if phase is Phase.REASONING:
            self.thought = True


def _earliest(text: str, markers: list[str]) -> tuple[int, str] | None:
    """The first marker found in `text` and where (the longest at a tie)."""
    hits = [(text.find(m), -len(m), m) for m in markers if m in text]
    if not hits:
        return None
    at, _, marker = min(hits)
    return at, marker


def _partial_suffix(text: str, markers: list[str]) -> int:
    """Length of the longest end of `text` that is a proper beginning of a marker."""
    best = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best
