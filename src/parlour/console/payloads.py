"""Reading event payloads leniently: anyone may publish anything, so nothing here raises.

An event's payload is whatever JSON its publisher sent. The fold reads fields through these
helpers, which turn a field of the wrong type into text or into "absent" instead of an
exception, so one malformed event cannot stop the console from folding the next.
"""

from __future__ import annotations

import math
from typing import Any, cast

import msgspec

__all__ = ["as_dict", "field", "number", "options", "text"]

_json = msgspec.json.Encoder()


def as_dict(value: Any) -> dict[str, Any] | None:
    """`value` if it is a JSON object, else None."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def text(value: Any) -> str:
    """A payload value as display text ("" for None; numbers and lists as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return _json.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        return repr(value)


def field(payload: dict[str, Any], key: str, default: str) -> str:
    """`payload[key]` as text if the key is present (even if empty), else `default`."""
    return text(payload[key]) if key in payload else default


def number(value: Any) -> float | None:
    """A finite number from a number or numeric text; None otherwise (bools refused)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def options(value: Any) -> tuple[str, ...] | None:
    """A question's options as text, or None for a free-text question (or no list)."""
    if not isinstance(value, list | tuple):
        return None
    items: list[Any] | tuple[Any, ...] = value  # pyright: ignore[reportUnknownVariableType]
    return tuple(text(item) for item in items) or None
