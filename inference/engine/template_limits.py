"""Limits on rendering a model's chat template: its size, its output, ranges, repetition, time.

Each check raises `TemplateError` with one sentence that names the limit; the sandbox
(`template_sandbox`) calls them from its hooks before an operation can allocate or loop.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inference.common.errors import ParleyError

_MESSAGE_CHARS = 240            # a template's own error text is cut to this, on one line
_WIDE_NUMBER = re.compile(r"\d{7,}")    # a format width or precision worth checking
_MAX_INT_BITS = 1 << 16         # about 20,000 digits: far beyond any template's arithmetic
_MAX_JSON_INDENT = 16
# Filters that pick, count or reorder items without turning the value into text: their input is
# not weighed (templates call `messages|length` once per message).
_SHAPE_FILTERS = frozenset({
    "length", "count", "first", "last", "list", "reverse", "sort", "unique", "select",
    "reject", "selectattr", "rejectattr", "map", "items", "dictsort", "groupby", "min", "max",
    "default", "d", "attr", "batch", "slice", "random", "abs", "int", "float", "round", "bool",
})


SUBJECT = "the model's chat template"   # how every message names the template


class TemplateError(ParleyError):
    """A chat template could not render: an error, a sandbox violation or a limit."""

    def about(self, subject: str) -> TemplateError:
        """The same error naming `subject` (say "the custom chat template") as the template."""
        text = str(self)
        if subject == SUBJECT or not text.startswith(SUBJECT):
            return self
        clone = copy.copy(self)
        clone.args = (subject + text[len(SUBJECT):],)
        return clone


class TemplateRefusal(TemplateError):
    """The template itself refused the conversation (its `raise_exception`); `reason` holds the
    template's own words."""

    def __init__(self, reason: str) -> None:
        self.reason = one_line(reason)
        super().__init__(f"{SUBJECT} refused the conversation: {self.reason}")

    def __reduce__(self) -> tuple[object, ...]:     # crosses to the GUI process intact
        return (_refusal, (self.reason, str(self)))


def _refusal(reason: str, text: str) -> TemplateRefusal:
    error = TemplateRefusal(reason)
    error.args = (text,)
    return error


@dataclass(frozen=True)
class TemplateLimits:
    """What one render of a model's chat template may use."""

    max_source_chars: int = 128 << 10  # llama.cpp's largest bundled ones are about 20 KB, and
    #                                    compiling is one uninterruptible step of ~1 s per 100 KB
    max_output_chars: int = 1 << 20    # plus twice the conversation's own text
    max_items: int = 100_000           # a range, a repeated or joined list
    max_work_chars: int = 64 << 20     # all text built while rendering, kept or not
    max_seconds: float = 2.0

    def output_limit(self, input_chars: int) -> int:
        return self.max_output_chars + 2 * input_chars


DEFAULT_LIMITS = TemplateLimits()


def one_line(text: object) -> str:
    """A template's own message, on one line and cut short."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MESSAGE_CHARS else flat[:_MESSAGE_CHARS - 1] + "…"


def check_source(source: str, limits: TemplateLimits) -> None:
    check_source_length(len(source), limits)


def check_source_length(chars: int, limits: TemplateLimits) -> None:
    if chars > limits.max_source_chars:
        raise TemplateError(
            f"the model's chat template is {chars:,} characters long, over the "
            f"{limits.max_source_chars:,}-character limit for templates")


class RenderBudget:
    """One render's allowance: a deadline, an output size, and a count of the text it built."""

    def __init__(self, limits: TemplateLimits, input_chars: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.output_limit = limits.output_limit(input_chars)
        self._clock = clock
        self._deadline = clock() + limits.max_seconds
        self._work = 0

    def tick(self) -> None:
        """Stop the render once it has run past its time."""
        if self._clock() > self._deadline:
            raise TemplateError(
                f"the model's chat template ran past the {self.limits.max_seconds:g}-second "
                f"limit and was stopped")

    def output(self, chars: int) -> None:
        if chars > self.output_limit:
            raise TemplateError(
                f"the model's chat template's output passed {self.output_limit:,} characters "
                f"(the output limit)")

    def string(self, chars: int) -> None:
        """Refuse a string longer than the output may be, before it is built."""
        if chars > self.output_limit:
            raise TemplateError(
                f"the model's chat template tried to build a string of {chars:,} characters, "
                f"over the {self.output_limit:,}-character limit")

    def items(self, count: int, what: str = "a list") -> None:
        if count > self.limits.max_items:
            raise TemplateError(
                f"the model's chat template asked for {what} of {count:,} items, over the "
                f"{self.limits.max_items:,}-item limit")

    def value(self, value: object, where: str) -> None:
        """Refuse a value whose text would pass the output limit (nested lists count each
        time they appear, as their text would)."""
        size = weigh(value, self.output_limit, self.limits.max_items)
        if size > self.output_limit:
            raise TemplateError(
                f"the model's chat template passed a value of more than "
                f"{self.output_limit:,} characters or {self.limits.max_items:,} items to "
                f"{where} (the output limit)")

    def number(self, value: object, where: str) -> None:
        """Refuse a count or width bigger than any output could use."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        if abs(value) > self.output_limit:
            raise TemplateError(
                f"the model's chat template passed {value:,.0f} to {where}, over the "
                f"{self.output_limit:,} limit")

    def format_string(self, text: str, where: str) -> None:
        """Refuse a printf or str.format string asking for a huge width or precision."""
        for match in _WIDE_NUMBER.finditer(text):
            self.number(int(match.group()), where)

    def built(self, result: object) -> object:
        """Count what an operation returned against the output and work limits."""
        if isinstance(result, str):
            self.output(len(result))
            self._work += len(result)
            if self._work > self.limits.max_work_chars:
                raise TemplateError(
                    f"the model's chat template built more than "
                    f"{self.limits.max_work_chars:,} characters of text while rendering "
                    f"(the work limit)")
        elif isinstance(result, list | tuple):
            self.items(len(result))
        return result

    def arguments(self, where: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
        for arg in (*args, *kwargs.values()):
            self.number(arg, where)
            if isinstance(arg, list | tuple | dict | set):
                self.value(arg, where)


def weigh(value: object, limit: int, max_nodes: int | None = None) -> int:
    """About how many characters `str(value)` takes; stops counting once past `limit`, or
    once more than `max_nodes` items were visited (then it returns more than `limit`)."""
    total = 0
    nodes = 0
    stack = [value]
    while stack:
        item = stack.pop()
        nodes += 1
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        else:
            total += 8
        if total > limit or (max_nodes is not None and nodes > max_nodes):
            return max(total, limit + 1)
    return total


def check_binop(budget: RenderBudget, operator: str, left: Any, right: Any) -> None:
    """Refuse `*`, `+`, `%` and `**` whose result would pass a limit, before computing it."""
    if operator == "*":
        _check_repeat(budget, left, right)
        _check_repeat(budget, right, left)
        if _is_int(left) and _is_int(right) and \
                left.bit_length() + right.bit_length() > _MAX_INT_BITS:
            _too_big_number(left.bit_length() + right.bit_length())
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            budget.string(len(left) + len(right))
        elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
            budget.items(len(left) + len(right))
    elif operator == "%" and isinstance(left, str):
        budget.format_string(left, "a % format")
        budget.value(right, "a % format")
        if isinstance(right, tuple):
            budget.arguments("a % format", right, {})
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0 \
            and abs(left) > 1 and left.bit_length() * right > _MAX_INT_BITS:
        _too_big_number(left.bit_length() * right)


def _check_repeat(budget: RenderBudget, sequence: Any, times: Any) -> None:
    if not _is_int(times):
        return
    if isinstance(sequence, str):
        budget.string(len(sequence) * max(times, 0))
    elif isinstance(sequence, list | tuple):
        budget.items(len(sequence) * max(times, 0), "a repeated list")


def check_string_method(budget: RenderBudget, text: str, name: str, args: tuple[Any, ...],
                        kwargs: Mapping[str, Any]) -> None:
    """Checks for the string operations whose result can be far larger than their inputs."""
    where = f"the {name} operation"
    budget.arguments(where, args, kwargs)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) \
            and isinstance(args[1], str):
        count = args[2] if len(args) > 2 and _is_int(args[2]) and args[2] >= 0 else None
        budget.string(replace_size(text, args[0], args[1], count))
    elif name == "join" and args:
        parts = args[0]
        budget.value(parts, where)
        if isinstance(parts, list | tuple):
            budget.string(weigh(parts, budget.output_limit) + len(text) * len(parts))
    elif name in ("format", "format_map"):
        budget.format_string(text, where)
        for arg in (*args, *kwargs.values()):
            budget.value(arg, where)


def replace_size(text: str, old: str, new: str, count: int | None = None) -> int:
    """The most characters `text.replace(old, new, count)` can produce."""
    hits = len(text) + 1 if not old else len(text) // len(old)
    if count is not None:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _too_big_number(bits: int) -> None:
    raise TemplateError(
        f"the model's chat template tried to compute a number of about {bits * 3 // 10:,} "
        f"digits, over the {_MAX_INT_BITS * 3 // 10:,}-digit limit")


def check_filter(budget: RenderBudget, name: str, value: Any, args: tuple[Any, ...],
                 kwargs: Mapping[str, Any]) -> None:
    """Checks before a filter runs: its input, its numbers, and the filters that multiply."""
    where = f"the {name} filter"
    if name not in _SHAPE_FILTERS:
        budget.value(value, where)
    budget.arguments(where, args, kwargs)
    text = value if isinstance(value, str) else None
    if name == "replace" and text is not None and len(args) >= 2:
        count = args[2] if len(args) > 2 and _is_int(args[2]) and args[2] >= 0 else None
        budget.string(replace_size(text, str(args[0]), str(args[1]), count))
    elif name == "join":
        glue = args[0] if args else kwargs.get("d", "")
        if isinstance(glue, str) and isinstance(value, list | tuple):
            budget.string(weigh(value, budget.output_limit) + len(glue) * len(value))
    elif name == "indent" and text is not None:
        width = args[0] if args else kwargs.get("width", 4)
        per_line = len(width) if isinstance(width, str) else width if _is_int(width) else 0
        budget.string(len(text) + (text.count("\n") + 1) * max(per_line, 0))
    elif name == "wordwrap" and text is not None:
        width = args[0] if args else kwargs.get("width", 79)
        wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring") or "\n"
        lines = len(text) // max(width, 1) + 1 if _is_int(width) else len(text) + 1
        budget.string(len(text) + lines * len(str(wrap)))
    elif name == "tojson":
        indent = args[0] if args else kwargs.get("indent")
        if _is_int(indent) and indent > _MAX_JSON_INDENT:   # each level indents again
            raise TemplateError(
                f"the model's chat template asked tojson for an indent of {indent:,}, over "
                f"the limit of {_MAX_JSON_INDENT}")
        if _is_int(indent) and indent > 0:
            budget.string(weigh(value, budget.output_limit) * (indent + 1))
    elif name == "format" and text is not None:
        budget.format_string(text, where)
