"""The part of Datastar's expression language that parlour's pages use, evaluated in Python.

A test page cannot run JavaScript, but clicking a button must do what the button's
`data-on:click` says. parlour's expressions are small: an action call with a literal URL,
`@post('/_parlour/event/CID/IID/inc', {requestCancellation: 'disabled'})`; a signal set to a
literal, `$launch_target = "src"`; the back button's
`history.state && history.state.parlour ? history.back() : @post('…')`; a URL built from
signals, `@post($_answer + '?p=' + encodeURIComponent(JSON.stringify({id: "q1", answer:
$a})))`. This module evaluates exactly that subset:

    literals (strings, numbers, true/false/null, objects, arrays), `$signal.path` reads,
    `$signal = expr` writes, `+`, `!`, `&&`, `||`, `a ? b : c`, `( )`, `;`-separated statements,
    `encodeURIComponent`, `JSON.stringify`, `String`, `history.state` (always null: the test
    page keeps no session history), `evt` (null: no DOM event object), and the actions
    `@get/@post/@put/@patch/@delete(url, options)`, which are recorded, not performed.

Anything else raises `ExpressionError` naming the construct, so a test never silently skips
what a browser would do.

What this module does not do: send requests (`parlour.testing.page` performs the recorded
actions) or know the DOM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast
from urllib.parse import quote

from .signals import get_path, set_path

__all__ = ["Action", "ExpressionError", "evaluate", "js_string", "value_of"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<signal>\$[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)
      | (?P<action>@[A-Za-z]+)
      | (?P<name>[A-Za-z_][\w]*)
      | (?P<op>===|!==|&&|\|\||[-+!?:;,.(){}\[\]=])
    )""",
    re.VERBOSE,
)
_METHODS = frozenset({"get", "post", "put", "patch", "delete"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


class ExpressionError(ValueError):
    """The expression uses JavaScript that the test page does not evaluate."""


@dataclass(frozen=True, slots=True)
class Action:
    """A Datastar action the expression called: `@post(url, options)`, with the signals as
    they were at the call (Datastar builds the request body then)."""

    method: str
    url: str
    options: dict[str, Any] = field(default_factory=dict[str, Any])
    signals: dict[str, Any] = field(default_factory=dict[str, Any])


class _History:
    """`history`: the test page keeps no session history, so `history.state` is null."""

    state = None


def js_string(value: Any) -> str:
    """JavaScript's `String(value)` for JSON values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return "[object Object]" if isinstance(value, dict) else ",".join(map(js_string, value))  # pyright: ignore[reportUnknownArgumentType]
    return str(value)


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, float) and value != value)


def _unquote(literal: str) -> str:
    if literal[0] == '"':
        return json.loads(literal)
    out: list[str] = []
    chars = iter(literal[1:-1])
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        if nxt == "u":
            out.append(chr(int("".join(next(chars, "") for _ in range(4)), 16)))
        else:
            out.append(_ESCAPES.get(nxt, nxt))
    return "".join(out)


Thunk = Callable[[], Any]


class _Parser:
    def __init__(self, source: str, signals: MutableMapping[str, Any]) -> None:
        self.source = source
        self.signals = signals
        self.actions: list[Action] = []
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while source[pos:].strip():
            match = _TOKEN.match(source, pos)
            kind = None if match is None else match.lastgroup
            if match is None or kind is None:
                self.fail(f"unexpected {source[pos : pos + 20].strip()!r}")
                break
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0

    def fail(self, what: str) -> NoReturn:
        raise ExpressionError(
            f"cannot evaluate the Datastar expression {self.source!r}: {what}. The test page "
            "evaluates literals, $signals, +, !, &&, ||, ?:, encodeURIComponent, "
            "JSON.stringify, `$signal = value` and @get/@post/... actions; perform anything "
            "else yourself (e.g. `await page.post(url)`)"
        )

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.at >= len(self.tokens):
            return False
        tkind, tvalue = self.tokens[self.at]
        return (value is None or tvalue == value) and (kind is None or tkind == kind)

    def take(self, value: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            return self.fail(f"it ends where {value or 'more'!r} was expected")
        token = self.tokens[self.at]
        if value is not None and token[1] != value:
            self.fail(f"expected {value!r}, found {token[1]!r}")
        self.at += 1
        return token

    # -- grammar ---------------------------------------------------------------------------

    def statements(self) -> list[Thunk]:
        out: list[Thunk] = []
        while self.at < len(self.tokens):
            if self.peek(";"):
                self.take()
                continue
            out.append(self.statement())
            if self.at < len(self.tokens):
                self.take(";")
        return out

    def statement(self) -> Thunk:
        ahead = self.tokens[self.at + 1][1] if self.at + 1 < len(self.tokens) else ""
        if self.peek(kind="signal") and ahead == "=":
            path = self.take()[1][1:]
            self.take("=")
            value = self.expression()
            return lambda: set_path(self.signals, path, value())
        return self.expression()

    def expression(self) -> Thunk:
        test = self.either()
        if not self.peek("?"):
            return test
        self.take()
        yes = self.expression()
        self.take(":")
        no = self.expression()
        return lambda: yes() if _truthy(test()) else no()

    def either(self) -> Thunk:
        left = self.both()
        while self.peek("||"):
            self.take()
            left = _either(left, self.both())
        return left

    def both(self) -> Thunk:
        left = self.sum()
        while self.peek("&&"):
            self.take()
            left = _both(left, self.sum())
        return left

    def sum(self) -> Thunk:
        left = self.unary()
        while self.peek("+"):
            self.take()
            left = _sum(left, self.unary())
        return left

    def unary(self) -> Thunk:
        if self.peek("!"):
            self.take()
            inner = self.unary()
            return lambda: not _truthy(inner())
        return self.postfix()

    def postfix(self) -> Thunk:
        kind, value = self.take()
        if kind == "name" and (
            value in ("encodeURIComponent", "String") or (value == "JSON" and self.peek("."))
        ):
            return self.function(value)
        thunk = self.primary(kind, value)
        while self.peek("."):
            self.take()
            name = self.take()[1]
            if self.peek("("):
                self.arguments()
                thunk = self.unsupported(f"a call of .{name}()")
            else:
                thunk = self.member(thunk, name)
        return thunk

    def unsupported(self, what: str) -> Thunk:
        """A construct that fails only if evaluated (e.g. in a branch not taken)."""

        def run() -> Any:
            self.fail(what)

        return run

    def member(self, obj: Thunk, key: str) -> Thunk:
        def read() -> Any:
            value = obj()
            if isinstance(value, _History) and key == "state":
                return None
            if isinstance(value, dict):
                return value.get(key)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            return self.fail(f"reading .{key} of {js_string(value)}")

        return read

    def function(self, name: str) -> Thunk:
        if name == "JSON":
            self.take(".")
            if self.take()[1] != "stringify":
                self.fail("a JSON function other than JSON.stringify")
            name = "JSON.stringify"
        args = self.arguments()
        if len(args) != 1:
            self.fail(f"{name} with {len(args)} arguments")
        (arg,) = args
        if name == "encodeURIComponent":
            return lambda: quote(js_string(arg()), safe="-_.!~*'()")
        if name == "String":
            return lambda: js_string(arg())
        return lambda: json.dumps(arg(), separators=(",", ":"), ensure_ascii=False)

    def arguments(self) -> list[Thunk]:
        self.take("(")
        args: list[Thunk] = []
        while not self.peek(")"):
            args.append(self.expression())
            if not self.peek(")"):
                self.take(",")
        self.take(")")
        return args

    def primary(self, kind: str, value: str) -> Thunk:
        if kind == "number":
            number = float(value)
            result: Any = int(number) if number.is_integer() and "." not in value else number
            return lambda: result
        if kind == "string":
            text = _unquote(value)
            return lambda: text
        if kind == "signal":
            path = value[1:]
            return lambda: get_path(self.signals, path)
        if kind == "action":
            return self.action(value[1:])
        if kind == "name":
            constants: dict[str, Any] = {
                "true": True,
                "false": False,
                "null": None,
                "undefined": None,
                "history": _History(),
                "evt": None,
            }
            if value not in constants:
                self.fail(f"the name {value!r}")
            constant = constants[value]
            return lambda: constant
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if value == "{":
            return self.object()
        if value == "[":
            items: list[Thunk] = []
            while not self.peek("]"):
                items.append(self.expression())
                if not self.peek("]"):
                    self.take(",")
            self.take("]")
            return lambda: [item() for item in items]
        return self.fail(f"unexpected {value!r}")

    def object(self) -> Thunk:
        pairs: list[tuple[str, Thunk]] = []
        while not self.peek("}"):
            kind, key = self.take()
            if kind not in ("name", "string"):
                self.fail(f"an object key {key!r}")
            self.take(":")
            pairs.append((_unquote(key) if kind == "string" else key, self.expression()))
            if not self.peek("}"):
                self.take(",")
        self.take("}")
        return lambda: {key: thunk() for key, thunk in pairs}

    def action(self, name: str) -> Thunk:
        method = name.lower()
        if method not in _METHODS:
            self.fail(f"the action @{name}")
        args = self.arguments()
        if not 1 <= len(args) <= 2:
            self.fail(f"@{name} with {len(args)} arguments")

        def call() -> None:
            url = args[0]()
            if not isinstance(url, str):
                self.fail(f"@{name} with a URL that is not a string ({url!r})")
            options: Any = args[1]() if len(args) > 1 else {}
            if not isinstance(options, dict):
                self.fail(f"@{name} options that are not an object ({options!r})")
            snapshot: dict[str, Any] = json.loads(json.dumps(dict(self.signals)))
            self.actions.append(
                Action(method.upper(), url, cast(dict[str, Any], options), snapshot)
            )

        return call


def _either(left: Thunk, right: Thunk) -> Thunk:
    """JavaScript's `a || b`: `a` when truthy, else `b` (evaluated only then)."""

    def run() -> Any:
        value = left()
        return value if _truthy(value) else right()

    return run


def _both(left: Thunk, right: Thunk) -> Thunk:
    """JavaScript's `a && b`: `a` when falsy, else `b` (evaluated only then)."""

    def run() -> Any:
        value = left()
        return right() if _truthy(value) else value

    return run


def _sum(left: Thunk, right: Thunk) -> Thunk:
    """JavaScript's `a + b` on JSON values: concatenation when either is a string."""

    def run() -> Any:
        a, b = left(), right()
        numbers = (int, float)
        if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, str):
            return a + b
        return js_string(a) + js_string(b)

    return run


def evaluate(expression: str, signals: MutableMapping[str, Any]) -> list[Action]:
    """Run `expression` as Datastar would: signal writes happen in `signals` at once, and the
    actions it calls are returned in order (each with the signals as they were then)."""
    parser = _Parser(expression, signals)
    for statement in parser.statements():
        statement()
    return parser.actions


def value_of(expression: str, signals: MutableMapping[str, Any]) -> Any:
    """The value of one expression, e.g. a `data-signals` attribute's `{count: 0}`."""
    parser = _Parser(expression, signals)
    value = parser.expression()
    if parser.at != len(parser.tokens):
        parser.fail(f"unexpected {parser.tokens[parser.at][1]!r} after the value")
    return value()
