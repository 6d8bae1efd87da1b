"""The Jinja environment of transformers' `apply_chat_template` (`chat_template_utils.py`), with
limits: Jinja's immutable sandbox, trim_blocks and lstrip_blocks, `loopcontrols`, the
`{% generation %}` tag, transformers' `tojson`, `raise_exception`, `strftime_now`, `dict` and
`namespace`; every loop, call, filter, operator and output piece checks the render's
`RenderBudget`, so a hostile template ends with a `TemplateError`."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from inference.engine.template_limits import (
    RenderBudget,
    TemplateError,
    TemplateLimits,
    TemplateRefusal,
    check_binop,
    check_filter,
    check_source,
    check_string_method,
    one_line,
)

_REMOVED_GLOBALS = ("lipsum",)       # its loop runs in one call; no chat template uses it


class GenerationTag(jinja2.ext.Extension):
    """`{% generation %}…{% endgeneration %}`, transformers' marker of the assistant's own text
    (for training masks): rendering shows its body as it is."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller: Callable[[], str]) -> str:
        return caller()


class TemplateDict:
    """The `dict` global: builds plain dicts, offers `fromkeys`, exposes nothing else."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args, **kwargs)


class TemplateNamespace(jinja2.utils.Namespace):
    """The `namespace` global, refusing underscore-prefixed names (as transformers does)."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 - Jinja's own signature trick
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _check_namespace_name(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _check_namespace_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)


def _check_namespace_name(name: object) -> None:
    if isinstance(name, str) and name.startswith("_"):
        raise jinja2.exceptions.SecurityError(
            f"chat templates cannot store underscore-prefixed attributes on a namespace, "
            f"but got {name!r}")


def tojson(value: Any, ensure_ascii: bool = False, indent: int | str | None = None,
           separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    """transformers' `tojson`: json.dumps as asked, neither HTML-escaped nor Markup."""
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox a chat template renders in; one render at a time."""

    intercepted_binops = frozenset({"*", "+", "%", "**"})

    def __init__(self, limits: TemplateLimits) -> None:
        super().__init__(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.Undefined,
                         extensions=[GenerationTag, jinja2.ext.loopcontrols])
        self.limits = limits
        self.budget = RenderBudget(limits)          # replaced by each render's own
        self.concat = self._concat                  # joins every block's output pieces
        self.finalize = self._finalize              # sees each {{ value }} before str()
        for name in _REMOVED_GLOBALS:
            self.globals.pop(name, None)
        self.globals.update(range=self._range, raise_exception=_raise_exception,
                            strftime_now=_strftime_now, dict=TemplateDict(),
                            namespace=TemplateNamespace)
        self.filters["tojson"] = tojson
        self.filters = {name: self._guarded(name, fn) for name, fn in self.filters.items()}

    # -- compiling ----------------------------------------------------------------------------
    def compile_template(self, source: str) -> jinja2.Template:
        check_source(source, self.limits)
        try:
            tree = self.parse(source)
            tree = _Guards(self).visit(tree)
            return self.from_string(tree)
        except TemplateError:
            raise
        except RecursionError:
            raise TemplateError("the model's chat template nests too deeply to parse") from None
        except Exception as exc:  # jinja2.TemplateSyntaxError, or Python refusing the code
            raise TemplateError(
                f"the model's chat template does not parse: {one_line(exc)}") from None

    def render(self, template: jinja2.Template, input_chars: int, **variables: Any) -> str:
        """Render under a fresh budget; every failure is a TemplateError."""
        self.budget = RenderBudget(self.limits, input_chars)
        try:
            return template.render(**variables)
        except TemplateError:
            raise
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"the model's chat template tried something unsafe and was "
                                f"stopped by the sandbox ({one_line(exc)})") from None
        except RecursionError:
            raise TemplateError("the model's chat template recursed too deeply") from None
        except MemoryError:
            raise TemplateError("the model's chat template ran out of memory") from None
        except Exception as exc:  # any error inside a third-party template
            raise TemplateError(
                f"the model's chat template failed: {one_line(exc)}") from None

    # -- the sandbox's hooks ------------------------------------------------------------------
    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        self.budget.tick()
        check_binop(self.budget, operator, left, right)
        return self.budget.built(super().call_binop(context, operator, left, right))

    def call(__self, __context: jinja2.runtime.Context, __obj: Any,  # noqa: N805
             *args: Any, **kwargs: Any) -> Any:
        __self.budget.tick()
        method = getattr(__obj, "__wrapped__", __obj)       # str.format comes wrapped
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):
            check_string_method(__self.budget, owner, getattr(method, "__name__", "?"),
                                args, kwargs)
        return __self.budget.built(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.tick()
        return super().getitem(obj, argument)

    def _concat(self, pieces: Iterable[str]) -> str:
        budget = self.budget
        kept: list[str] = []
        total = 0
        for piece in pieces:
            budget.tick()
            total += len(piece)
            budget.output(total)
            kept.append(piece)
        return str(budget.built("".join(kept)))

    def _finalize(self, value: Any) -> Any:
        self.budget.tick()
        self.budget.value(value, "the output")
        return value

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        try:
            count = len(numbers)
        except OverflowError:           # more than sys.maxsize numbers
            count = abs(numbers.stop - numbers.start)
        self.budget.items(count, "a range")
        return numbers

    def _guarded(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        injected = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.budget.tick()
            rest = args[injected:]
            if rest:
                check_filter(self.budget, name, rest[0], tuple(rest[1:]), kwargs)
            return self.budget.built(fn(*args, **kwargs))

        return guarded

    # -- what the guards insert into the template ---------------------------------------------
    def parley_loop(self, iterable: Any) -> Iterator[Any]:
        """Each for loop's items, with a time check between them."""
        budget = self.budget
        for item in iterable:
            budget.tick()
            yield item

    def parley_weighed(self, value: Any) -> Any:
        """A value about to be compared, whose size is checked first."""
        self.budget.value(value, "a comparison")
        return value

    def parley_join(self, values: list[Any]) -> str:
        """The `~` operator: the values' text joined, checked before it is built."""
        for value in values:
            self.budget.value(value, "the ~ operator")
        return "".join(str(v) for v in values)


class _Guards(NodeTransformer):
    """Routes every for loop's items and every `~` through the environment's checks."""

    def __init__(self, env: LimitedSandbox) -> None:
        self.env = env

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._call("parley_loop", [node.iter], node.lineno)
        return node

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)        # comparing nested lists walks them in one native call
        node.expr = self._call("parley_weighed", [node.expr], node.lineno)
        for operand in node.ops:
            operand.expr = self._call("parley_weighed", [operand.expr], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._call("parley_join", [nodes.List(node.nodes, lineno=node.lineno)],
                          node.lineno)

    def _call(self, attribute: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
        call = nodes.Call(nodes.EnvironmentAttribute(attribute), args, [], None, None,
                          lineno=lineno)
        call.set_ctx("load").set_lineno(lineno).set_environment(self.env)
        return call


def _raise_exception(message: str) -> None:
    raise TemplateRefusal(str(message))


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(str(fmt)[:200])
