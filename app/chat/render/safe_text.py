"""Message text made safe and faithful for Markdown: shown as typed, never as HTML.

Anyone's text (yours or a model's) goes through `safe_markdown` before Qt parses it: outside
code, `<`, `>` and `&` are backslash-escaped so `<b>tags</b>` and `&amp;` show as typed (an
autolink `<https://…>` and a quote's leading `>` stay Markdown), and every single newline
inside a paragraph becomes a hard line break (two trailing spaces), so "10\\n14\\n15" keeps its
three lines. Fenced and indented code blocks and code spans are left exactly as written (they
already show literally, and a Copy chip copies them). `MARKDOWN_FEATURES` also turns Qt's
HTML parsing off, so whatever this misses still cannot become markup.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QTextDocument

_F = QTextDocument.MarkdownFeature
MARKDOWN_FEATURES = _F(_F.MarkdownDialectGitHub.value | _F.MarkdownNoHTML.value)

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^([ \t]*)([-*+]|\d{1,9}[.)])([ \t]+|$)")
_BLOCK_PREFIX = re.compile(r"^(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])))*")
_LINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*>|<[\w.+-]+@[\w-]+(?:\.[\w-]+)+>"
                   r"|(?:https?://|www\.)[^\s<>]+")      # autolinks, and bare URLs (GFM)
_ESCAPES = str.maketrans({"<": "\\<", ">": "\\>", "&": "\\&"})
HARD_BREAK = "  "


def safe_markdown(text: str) -> str:
    """`text` as Markdown that shows what was typed: no HTML, line breaks kept, code as is."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    fence: tuple[str, int] | None = None          # the open fence's character and length
    list_indent = 0                               # content column of the list we are in
    after_break = True                            # the previous line was blank (or code)
    for line in lines:
        if fence is not None:
            out.append(line)
            if _closes(line, fence):
                fence = None
            continue
        indent = _indent(line)
        blank = not line.strip()
        if not blank and after_break and not paragraph and indent >= list_indent + 4:
            out.append(line)                      # an indented code block
            continue
        opening = _FENCE.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            out.extend(_paragraph(paragraph))
            paragraph = []
            out.append(line)
            fence = (opening.group(1)[0], len(opening.group(1)))
            after_break = True
            continue
        if blank:
            out.extend(_paragraph(paragraph))
            paragraph = []
            out.append(line)
            after_break = True
            continue
        item = _LIST_ITEM.match(line)
        if item:
            spaces = len(item.group(3).expandtabs(4))
            list_indent = _indent(item.group(1)) + len(item.group(2)) + \
                (spaces if 0 < spaces <= 4 else 1)
        elif after_break and indent < list_indent:
            list_indent = 0                       # the list ended
        paragraph.append(line)
        after_break = False
    out.extend(_paragraph(paragraph))
    return "\n".join(out)


def _indent(line: str) -> int:
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))


def _closes(line: str, fence: tuple[str, int]) -> bool:
    char, length = fence
    body = line.strip()
    return len(body) >= length and body == char * len(body)


def _paragraph(lines: list[str]) -> list[str]:
    """Lines of running text (no blank line, no code block among them), made safe."""
    if not lines:
        return []
    text = "\n".join(lines)
    spans = code_spans(text)
    out: list[str] = []
    start = 0
    for begin, end in spans:
        out.append(_escape_text(text[start:begin], start == 0 or text[start - 1] == "\n"))
        out.append(text[begin:end])
        start = end
    out.append(_escape_text(text[start:], start == 0 or text[start - 1] == "\n"))
    return "".join(out).split("\n")


def _escape_text(text: str, at_line_start: bool) -> str:
    """Escape `<`, `>`, `&` (not an autolink's brackets, not a quote's leading `>`) and end
    every line but the last with a hard break."""
    lines = text.split("\n")
    done = []
    for i, line in enumerate(lines):
        prefix = _BLOCK_PREFIX.match(line).group(0) if (i > 0 or at_line_start) else ""
        body = _escape_line(line[len(prefix):])
        if i < len(lines) - 1 and body.strip() and not body.endswith(HARD_BREAK):
            body += HARD_BREAK
        done.append(prefix + body)
    return "\n".join(done)


def _escape_line(line: str) -> str:
    out: list[str] = []
    start = 0
    for link in _LINK.finditer(line):
        out.append(_escape_chars(line[start:link.start()]))
        out.append(link.group(0))
        start = link.end()
    out.append(_escape_chars(line[start:]))
    return "".join(out)


def _escape_chars(text: str) -> str:
    return text.translate(_ESCAPES)


def code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each inline code span in `text`, as CommonMark finds them: a run of
    backticks closed by the next run of the same length (no closing run: literal backticks)."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c != "`":
            i += 1
            continue
        j = i
        while j < n and text[j] == "`":
            j += 1
        run = j - i
        close = _closing_run(text, j, run)
        if close < 0:
            i = j
            continue
        spans.append((i, close + run))
        i = close + run
    return spans


def _closing_run(text: str, start: int, run: int) -> int:
    k = start
    while True:
        k = text.find("`" * run, k)
        if k < 0:
            return -1
        e = k
        while e < len(text) and text[e] == "`":
            e += 1
        if e - k == run:
            return k
        k = e
