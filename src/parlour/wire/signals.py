"""Reading the signals a Datastar request carries, as a plain dict.

The Datastar 1.0 client sends every signal whose path has no `_`-prefixed segment, as one
nested JSON object:

    GET, DELETE                 the `datastar` query parameter:  ?datastar=%7B%22count%22%3A0%7D
    POST, PUT, PATCH, QUERY     the request body, with `Content-Type: application/json`

These helpers take the raw pieces (a query value, a body and its content type) rather than
a request object, so they work under any web framework and are tested without one; the web
layer picks the piece by method and maps `BadSignals` to HTTP 400. Unlike datastar-py's
`read_signals`, a `; charset=utf-8` suffix on the content type is accepted, and bad input
raises an exception that says what was wrong instead of returning `None`.

What this module does not do: check the `Datastar-Request` header, the Origin or the body
size (the web layer does, before reading), or parse form posts (`contentType: 'form'`
requests carry no signals, so they read as `{}`; the form itself is the web layer's).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn, cast

__all__ = ["MAX_INT_DIGITS", "BadSignals", "json_value", "signals_from_body", "signals_from_query"]

_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class BadSignals(ValueError):
    """The signals in a request are not a JSON object; the web layer answers 400.

    The message says what was wrong and is safe to show to the client: it never echoes
    the request body.
    """


def signals_from_query(query_value: str | None) -> dict[str, Any]:
    """Return the signals of a GET or DELETE request from its `datastar` query parameter.

    `query_value` is the parameter as the web framework hands it out, already URL-decoded
    (decoding it twice would corrupt values holding `%` or `+`). A missing or empty
    parameter means the page sent no signals: `{}`.
    """
    if not query_value:
        return {}
    return _parse(query_value, "the `datastar` query parameter")


def signals_from_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Return the signals of a POST/PUT/PATCH/QUERY request from its body.

    `content_type` is the raw `Content-Type` header. `application/json` is parsed with or
    without parameters (`; charset=utf-8`), and so is a body sent without any content type
    (curl, scripts). Form posts carry no signals and give `{}`, as does an empty body; any
    other content type is refused, because guessing would hide a client that sends
    something else than it thinks.
    """
    if body == b"{}" and content_type == "application/json":
        return {}  # what a page without signals posts on every click
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type in _FORM_TYPES:
        return {}
    if media_type not in ("", "application/json"):
        raise BadSignals(
            f"expected the signals as a JSON body with Content-Type application/json, got "
            f"Content-Type {content_type!r}; send JSON, or use contentType: 'form' for forms"
        )
    if body == b"{}" or not body.strip():
        return {}  # `{}`: what a page without signals posts on every click
    return _parse(body, "the request body")


def _parse(raw: str | bytes, where: str) -> dict[str, Any]:
    value = json_value(raw, where)
    if not isinstance(value, dict):
        raise BadSignals(
            f"signals must be a JSON object, got {_json_kind(value)} in {where}; Datastar "
            'sends all signals as one object, like {"count": 1}'
        )
    return cast("dict[str, Any]", value)  # JSON object keys are always str


def json_value(raw: str | bytes, where: str) -> Any:
    """`raw` as strict JSON, whatever its type; BadSignals saying what is wrong otherwise.

    Stricter than `json.loads`, because what a browser's `JSON.stringify` cannot produce can
    only come from a broken or hostile client, and would otherwise surface later as a crash:
    NaN and Infinity, numbers that overflow to infinity, integers of more than
    `MAX_INT_DIGITS` digits (Python refuses to convert very long ones at all), a key twice
    in one object, text that is not UTF-8 or holds a lone UTF-16 surrogate (which cannot be
    stored or sent back), nesting deeper than the parser's stack.
    """
    try:
        value: object = json.loads(
            raw,
            parse_constant=_reject_constant,
            parse_int=_int,
            parse_float=_float,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as exc:
        raise BadSignals(
            f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _NotJson as exc:
        raise BadSignals(f"{where} is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BadSignals(f"{where} is not valid UTF-8 text: {exc.reason}") from None
    except RecursionError:
        raise BadSignals(f"{where} nests arrays or objects too deeply to parse") from None
    except ValueError as exc:  # e.g. an integer over Python's conversion limit
        raise BadSignals(f"{where} is not valid JSON: {str(exc)[:80]}") from None
    if _SURROGATE_ESCAPE.search(raw if isinstance(raw, bytes) else raw.encode()) and (
        _has_lone_surrogate(value)
    ):
        raise BadSignals(
            f"{where} holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its "
            "pair), which is not text"
        )
    return value


MAX_INT_DIGITS = 100
"""A browser writes integers of at most 21 digits (larger numbers in exponent form)."""

_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> NoReturn:
    # `NaN` and `Infinity` are Python extensions, not JSON; no browser's JSON.stringify
    # produces them, so they can only come from a broken or hostile client.
    raise _NotJson(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def _int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _NotJson(f"an integer of {digits} digits (at most {MAX_INT_DIGITS} accepted)")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(f"the number {text[:40]} is too large for a double (it would be Infinity)")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _NotJson(f"the key {twice[:40]!r} appears twice in one object")
    return value


def _has_lone_surrogate(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pairs = cast("dict[str, object]", item)
            stack.extend(pairs)
            stack.extend(pairs.values())
        elif isinstance(item, list):
            stack.extend(cast("list[object]", item))
    return False


def _json_kind(value: object) -> str:
    match value:
        case list():
            return "a list"
        case str():
            return "a string"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case None:
            return "null"
        case _:
            return type(value).__name__
