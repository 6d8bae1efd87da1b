"""Property tests of the chat template renderer: random templates built from loops, ranges,
filters, string and list arithmetic and nested blocks either render within the limits or fail
with a ParleyError — never another exception, never a hang."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.common.errors import ParleyError
from inference.engine.chat_formats import JinjaFormat
from inference.engine.prompts import TRIAL_CONVERSATION
from inference.engine.template_limits import TemplateLimits

FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
LIMITS = TemplateLimits(max_seconds=0.2)
HANG_S = 10             # far past the render's own limit: only a renderer that ignores it hangs
INPUT_CHARS = sum(len(m.content) for m in TRIAL_CONVERSATION)

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"),
                                reason="the hang guard needs POSIX interval timers")

_NUMBERS = st.sampled_from([0, 1, 2, 3, 7, 10, 100, 1000, 65_536, 100_000, 100_001, 10**6,
                            10**7, 2**31, 3 * 10**9, 10**18, -1])
_STRINGS = st.sampled_from(["''", "'a'", "'ab c'", "'<start_of_turn>'", "'x\\ny'", "'%s'",
                            "'{}'", "'{:>9}'", "'%9999999d'"])
_NAMES = st.sampled_from(["x", "y", "messages", "m", "loop.index", "ns.s", "bos_token"])
_FILTERS = st.sampled_from([
    "upper", "trim", "list", "length", "string", "reverse", "sort", "join", "tojson",
    "first", "last", "unique", "sum", "center({n})", "indent({n})", "wordwrap({n})",
    "batch({n})", "slice({n})", "replace('', {s})", "replace('a', {s})", "join({s})",
    "truncate({n})", "format({s})", "tojson(indent={n})", "default({s})", "map('string')",
])


def _atom() -> st.SearchStrategy[str]:
    return st.one_of(_NUMBERS.map(str), _STRINGS, _NAMES,
                     _NUMBERS.map(lambda n: f"range({n})"),
                     st.just("[1, 'two', [3]]"), st.just("namespace(s='q')"))


def _expression(depth: int = 2) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(["*", "+", "~", "%", "**", "==", "in"]),
                           inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        filtered = st.tuples(inner, _FILTERS, _NUMBERS, _STRINGS).map(
            lambda t: f"({t[0]}|{t[1].format(n=t[2], s=t[3])})")
        method = st.tuples(inner, st.sampled_from(["center", "ljust", "zfill", "join",
                                                   "replace", "format", "split"]),
                           st.one_of(_NUMBERS.map(str), _STRINGS)).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})")
        indexed = st.tuples(inner, _NUMBERS).map(lambda t: f"{t[0]}[{t[1]}]")
        return st.one_of(binary, filtered, method, indexed)

    return st.recursive(_atom(), extend, max_leaves=4)


def _block() -> st.SearchStrategy[str]:
    expr = _expression()
    leaf = st.one_of(
        st.just("text "),
        expr.map(lambda e: f"{{{{ {e} }}}}"),
        expr.map(lambda e: f"{{% set x = {e} %}}"),
        expr.map(lambda e: f"{{% set ns.s = ns.s ~ {e} %}}"),
        st.just("{{ raise_exception('no') }}"),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        body = st.lists(inner, min_size=1, max_size=3).map("".join)
        source = st.one_of(expr, _NUMBERS.map(lambda n: f"range({n})"),
                           st.sampled_from(["messages", "'ab' * 1000", "ns.s"]))
        loop = st.tuples(st.sampled_from(["x", "y", "m"]), source, body).map(
            lambda t: f"{{% for {t[0]} in {t[1]} %}}{t[2]}{{% endfor %}}")
        branch = st.tuples(expr, body, body).map(
            lambda t: f"{{% if {t[0]} %}}{t[1]}{{% else %}}{t[2]}{{% endif %}}")
        captured = body.map(lambda b: f"{{% set y %}}{b}{{% endset %}}{{{{ y }}}}")
        macro = body.map(lambda b: f"{{% macro f(x) %}}{b}{{% endmacro %}}{{{{ f(1) ~ f(2) }}}}")
        filtered = st.tuples(st.sampled_from(["upper", "trim", "indent(8)"]), body).map(
            lambda t: f"{{% filter {t[0]} %}}{t[1]}{{% endfilter %}}")
        return st.one_of(loop, loop, branch, captured, macro, filtered)

    return st.recursive(leaf, extend, max_leaves=8)


TEMPLATES = _block().map(lambda b: "{% set ns = namespace(s='') %}" + b)


class _Hung(BaseException):
    """Raised by the guard's alarm; a BaseException, so no `except Exception` can hide it."""


@contextmanager
def _hang_guard(seconds: float) -> Iterator[None]:
    def fire(_signum: int, _frame: object) -> None:
        raise _Hung(f"the render was still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@FUZZ_SETTINGS
@given(source=TEMPLATES)
def test_a_random_template_renders_within_limits_or_fails_with_a_parley_error(source):
    with _hang_guard(HANG_S):
        try:
            text = JinjaFormat(source, "<bos>", "<eos>", LIMITS).render(TRIAL_CONVERSATION)
        except ParleyError as exc:
            message = str(exc)
            assert message and "\n" not in message and len(message) < 400, message
            return
    assert isinstance(text, str)
    assert len(text) <= LIMITS.output_limit(INPUT_CHARS)


@FUZZ_SETTINGS
@given(source=st.text(alphabet="{}%#()[]|~*+'\"xnmsrange 019.\n", max_size=80))
def test_random_template_text_never_escapes_as_another_exception(source):
    with _hang_guard(HANG_S):
        try:
            JinjaFormat(source, limits=LIMITS).render(TRIAL_CONVERSATION)
        except ParleyError:
            pass
