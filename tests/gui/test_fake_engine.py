"""FakeEngine (the GUI tests' engine) has every EngineAPI member, with the same signature, as the
real Engine and EngineHost do; compared on the live classes, so a change to EngineAPI or to any
implementation that breaks the match fails here.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from inference.engine.api import EngineAPI
from inference.engine.engine import Engine
from inference.host.host import EngineHost
from tests.support.fake_engine import FakeEngine

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
IMPLEMENTATIONS = [FakeEngine, Engine, EngineHost]


def api_members(protocol: type = EngineAPI) -> list[str]:
    """The public names the protocol declares (methods and properties), in declaration order."""
    return [name for name, value in vars(protocol).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))]


def _parameters(function: Any) -> list[inspect.Parameter]:
    return list(inspect.signature(function).parameters.values())[1:]      # without self


def signature_problems(impl: type, name: str, protocol: type = EngineAPI) -> list[str]:
    """How `impl.name` differs from `protocol.name`: presence, property or method, and each
    parameter's name, kind and whether it may be left out. The protocol's `**options` may be
    spelled out as keyword-only parameters with defaults (as Engine.perplexity does)."""
    wanted = inspect.getattr_static(protocol, name)
    if not hasattr(impl, name):
        return [f"{impl.__name__} has no {name}"]
    got = inspect.getattr_static(impl, name)
    if isinstance(wanted, property) or isinstance(got, property):
        same = isinstance(wanted, property) == isinstance(got, property)
        return [] if same else [f"{impl.__name__}.{name}: property in only one of the two"]
    want, have = _parameters(wanted), _parameters(getattr(impl, name))
    problems: list[str] = []
    where = f"{impl.__name__}.{name}"

    def shape(params: list[inspect.Parameter]) -> list[tuple[str, inspect._ParameterKind]]:
        return [(p.name, p.kind) for p in params if p.kind in POSITIONAL]

    if shape(want) != shape(have):
        problems.append(f"{where}: positional parameters {shape(have)}, not {shape(want)}")
    have_by_name = {p.name: p for p in have}
    for p in want:
        other = have_by_name.get(p.name)
        if other is None or other.kind != p.kind:
            if p.kind is inspect.Parameter.VAR_KEYWORD and _spelled_out(want, have):
                continue
            problems.append(f"{where}: no {p.kind.description} parameter {p.name!r}")
        elif p.default is not p.empty and other.default is other.empty:
            problems.append(f"{where}: {p.name!r} has no default (the API's callers omit it)")
    wanted_names = {p.name for p in want}
    takes_options = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in want)
    for p in have:
        if p.name in wanted_names or p.kind in (inspect.Parameter.VAR_POSITIONAL,
                                                inspect.Parameter.VAR_KEYWORD):
            continue
        if not (takes_options and p.kind is inspect.Parameter.KEYWORD_ONLY
                and p.default is not p.empty):
            problems.append(f"{where}: extra parameter {p.name!r} the API does not have")
    extra_var = {p.kind for p in have} - {p.kind for p in want}
    for kind in extra_var & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}:
        problems.append(f"{where}: takes {kind.description} parameters the API does not")
    return problems


def _spelled_out(want: list[inspect.Parameter], have: list[inspect.Parameter]) -> bool:
    """`**options` of the API given as keyword-only parameters with defaults."""
    names = {p.name for p in want}
    return any(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not p.empty
               and p.name not in names for p in have)


def test_the_api_declares_what_the_app_uses() -> None:
    assert set(api_members()) >= {"loaded", "load", "unload", "render", "generate", "tokenize",
                                  "perplexity", "close"}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", api_members())
def test_each_engine_matches_the_api(impl: type, name: str) -> None:
    assert signature_problems(impl, name) == []


class _Drifted:
    """An engine that drifted from the API in every way the check knows."""

    def load(self, config: Any, on_progress: Any = None, cancel: Any = None) -> None: ...

    def generate(self, request: Any, cancel: Any) -> None: ...

    def tokenize(self, text: str, *, add_bos: bool = True) -> list[int]: ...

    def render(self, request: Any, extra: int = 0) -> None: ...

    def perplexity(self, text: str, *, progress: Any = None, cancel: Any = None,
                   n_ctx: int) -> None: ...

    def close(self, *args: Any) -> None: ...

    def loaded(self) -> None: ...


@pytest.mark.parametrize(("name", "expected"), [
    ("load", "no positional or keyword parameter 'progress'"),
    ("generate", "'cancel' has no default"),
    ("tokenize", "positional parameters"),
    ("render", "extra parameter 'extra'"),
    ("perplexity", "no variadic keyword parameter 'options'"),
    ("close", "takes variadic positional parameters"),
    ("loaded", "property in only one"),
    ("unload", "has no unload"),
])
def test_a_drift_is_caught(name: str, expected: str) -> None:
    problems = signature_problems(_Drifted, name)
    assert any(expected in p for p in problems), problems
