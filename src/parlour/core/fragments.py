"""Fragments: wire-neutral descriptions of one browser update.

The kernel returns fragments; only `parlour.wire` turns them into Datastar SSE text. Keeping
them plain frozen values means the kernel never knows about SSE framing, and the delivery
pipeline can reason about them (coalesce by `key`, drop superseded patches) without parsing.

    Elements  HTML to patch into the page (morph by id, or with a selector and mode)
    Signals   a JSON merge patch for the client's signal store
    Script    JavaScript to run once in the page
    History   add or change an entry of the browser's session history (no navigation)
    Redirect  navigate the tab to another URL
    Close     end the SSE stream (the conversation ended)

What this module does not do: render HTML (see `component`), or encode anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .values import fast_init

__all__ = [
    "OVERLAY_ID",
    "OVERLAY_SELECTOR",
    "ROOT_ID",
    "ROOT_SELECTOR",
    "Close",
    "Elements",
    "Fragment",
    "History",
    "PatchMode",
    "Redirect",
    "Script",
    "Signals",
    "single_line",
]

ROOT_ID = "root"
"""The id of the page element that holds the top frame (the shell writes `<div id="root">`)."""

ROOT_SELECTOR = "#" + ROOT_ID
"""The selector of that element: a full render is `Elements(html, ROOT_SELECTOR, "inner")`,
keyed by it too, so a full render supersedes every queued patch."""

OVERLAY_ID = "parlour-overlay"
"""The id of the page element beside `#root` that holds what shows over the page (toasts).
A full render replaces `#root` only, so it does not supersede a queued patch of the overlay."""

OVERLAY_SELECTOR = "#" + OVERLAY_ID

_BREAKS = ("\r", "\n", "\x00")


def single_line(what: str, value: str) -> str:
    """`value` if it can be one field of a server-sent event, else ValueError naming it.

    Selectors, element ids and event ids travel as SSE fields (`data: selector #x`, `id:`);
    a line break would end the field early and let the rest of the value be read as fields
    of the attacker's choosing (NUL is refused too: a client drops ids that hold one). Called
    where such a value is made from data (a selector, a shared view's item id), so the error
    points at the code that made it.
    """
    if "\n" in value or "\r" in value or "\x00" in value:  # _BREAKS, unrolled: hot
        raise ValueError(
            f"{what} must be a single line without NUL, got {value!r}; it is sent as one field "
            "of a server-sent event, where a line break would start another field. Build ids "
            "and selectors from sanitised names (letters, digits, '-', '_')"
        )
    return value


PatchMode = Literal["outer", "inner", "replace", "prepend", "append", "before", "after", "remove"]


@fast_init
@dataclass(frozen=True, slots=True)
class Elements:
    """Patch `html` into the page.

    With no `selector` the top-level elements are matched to the page by id (mode `outer`
    morphs them). `key` names what the patch updates (usually an instance id) so that a
    delivery queue may keep only the newest patch per key; `None` means "never coalesce".
    """

    html: str
    selector: str | None = None
    mode: PatchMode = "outer"
    key: str | None = None
    error: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class Signals:
    """A JSON merge patch (RFC 7386) applied to the client's signals; `None` removes one."""

    data: Mapping[str, Any] = field(default_factory=lambda: {})
    only_if_missing: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class Script:
    """JavaScript the browser runs once (appended to `body`, then removed)."""

    js: str


@fast_init
@dataclass(frozen=True, slots=True)
class History:
    """Change the browser's session history without navigating.

    `mode="push"` adds an entry for conversation history depth `depth` (the entry being left
    is marked `depth - 1`, the depth it was left at), showing `url`, or the current URL when
    None; the browser's Back then posts that depth back. `mode="replace"` changes the current
    entry's URL to `url` and keeps its depth. The kernel decides this; `parlour.wire` writes
    the script.
    """

    depth: int
    url: str | None = None
    mode: Literal["push", "replace"] = "push"


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the tab to `url` (a full navigation, not a patch)."""

    url: str


@dataclass(frozen=True, slots=True)
class Close:
    """The conversation is over: the stream should end after what precedes this."""


Fragment = Elements | Signals | Script | History | Redirect | Close
