"""Client-side widgets: an element whose inside belongs to code in the browser, fed by the server.

    widget("line-chart", id="prices", data={"points": [...]})   the host element (htpy)
    widget_push("prices", {"points": [[t, v]]})                 an effect: one message to it

Some things are drawn by JavaScript in the browser: a chart, a map, an editor. Datastar morphs
every patch into the page, which would wipe what that code drew, so a widget's inside carries
`data-ignore-morph` (Datastar leaves a subtree alone when the old and the new element both
carry it), and a *behaviour*, registered by name in a static file the page loads, draws there:

    <div id="prices" class="parlour-widget" data-parlour-widget="line-chart"
         data-parlour-data="{…}">                                 the host: morphed as usual
      <div class="parlour-widget-view" data-ignore-morph></div>   the behaviour's: never morphed
    </div>

The page's loader (`parlour-widgets.js`, served by parlour and loaded by every shell) watches
the page and calls the behaviour registered under that name:

    mount(view, data)      the host appeared (or its behaviour was registered after it did)
    update(view, data)     a render gave the host different data
    push(view, message)    `widget_push` sent one message (appended to the host as a
                           `<template data-parlour-message='…'>`, read once and removed)
    unmount(view)          the host left the page (not when a morph only moved it)

Data and messages travel as JSON in attributes: no JavaScript is ever written into a patch,
so behaviours live in files the page's Content-Security-Policy allows. A push is a small
`append` patch of the host, never coalesced with another (each message counts); a render of
the host still carries the whole data, so a reloaded page draws everything again.

What this module does not do: load behaviour scripts (`App(scripts=...)` and the shell do),
or know what a behaviour does with its data.
"""

from __future__ import annotations

import json
import re
from typing import Any

from htpy import Element, div
from markupsafe import Markup

from .effects import Patch, patch

__all__ = [
    "DATA_ATTR",
    "MESSAGE_ATTR",
    "VIEW_CLASS",
    "WIDGET_ATTR",
    "widget",
    "widget_attrs",
    "widget_push",
]

WIDGET_ATTR = "data-parlour-widget"
"""The attribute naming a host's behaviour (what the loader looks for)."""
DATA_ATTR = "data-parlour-data"
"""The host's data, as JSON: given to `mount`, and to `update` when a render changes it."""
MESSAGE_ATTR = "data-parlour-message"
"""The attribute of a pushed message's `<template>`, as JSON: given to `push`."""
VIEW_CLASS = "parlour-widget-view"
"""The class of the element the behaviour draws in (the one carrying `data-ignore-morph`)."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _json(what: str, value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be JSON data (dicts, lists, str, int, finite floats, bool, None), "
            f"got {type(value).__name__}: {exc}. Convert it first, e.g. a datetime to "
            "`.timestamp()` or a tuple of floats to a list."
        ) from None


def _checked_id(id: str) -> str:
    if not isinstance(id, str) or not _ID.fullmatch(id):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(
            f"a widget id must start with a letter and hold only letters, digits, '-' and '_' "
            f"(it becomes an element id and a CSS selector), got {id!r}; e.g. "
            'f"{self.iid}-chart"'
        )
    return id


def widget(
    behaviour: str,
    *,
    id: str,
    data: Any = None,
    class_: str | None = None,
    **attrs: str | bool,
) -> Element:
    """The host element of a client-side widget drawn by the behaviour named `behaviour`.

    `id` must be unique on the page and stable across renders (derive it from the instance:
    `f"{self.iid}-chart"`), so a morph finds the same host and leaves its inside alone.
    `data` (JSON) is what the behaviour's `mount` receives, and its `update` when a later
    render changes it. Other keyword arguments become attributes of the host (htpy style:
    `style="height: 240px"`).
    """
    classes = "parlour-widget" if class_ is None else f"parlour-widget {class_}"
    host = {"id": _checked_id(id), "class": classes, **widget_attrs(behaviour, data)}
    return div(host, **attrs)[div({"class": VIEW_CLASS, "data-ignore-morph": True})]


def widget_attrs(behaviour: str, data: Any = None) -> dict[str, str]:
    """The attributes that make any element a host of `behaviour` with `data`, for an element
    the behaviour works on directly, without a view it draws in (the stock toast)."""
    if not isinstance(behaviour, str) or not _NAME.fullmatch(behaviour):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(
            "a widget's behaviour is the name it was registered under in JavaScript "
            f"(`parlour.behaviour(NAME, {{...}})`): a letter, then letters, digits, "
            f"'_', '.', ':' or '-'; got {behaviour!r}"
        )
    return {WIDGET_ATTR: behaviour, DATA_ATTR: _json("widget data", data)}


def widget_push(widget_id: str, message: Any) -> Patch:
    """An effect: send `message` (JSON) to the widget `widget_id`'s behaviour, as `push`.

    Only the message travels (an `append` of a `<template>` to the host, some 150 bytes on
    the wire for a point of a chart), so a handler that returns it draws nothing else: the
    host is not re-rendered. Keep the instance's state in step too (append the point to a
    field), so that a later render, or a reload, draws what the pushes drew.
    """
    text = _json("a widget message", message).replace("&", "&amp;").replace("'", "&#39;")
    html = Markup(f"<template {MESSAGE_ATTR}='{text}'></template>")
    return patch(html, selector=f"#{_checked_id(widget_id)}", mode="append")
