"""Encoding: turn one wire-neutral fragment into the text of one Datastar SSE event.

The kernel speaks in fragments (`parlour.core.fragments`); the browser speaks Datastar 1.0
over Server-Sent Events. This module is the translation. It frames the events itself, with
the rules of datastar-py's `ServerSentEventGenerator` (the reference SDK), because the SDK's
per-call runtime Protocol checks were a tenth of a click's framing cost; a property test
keeps every event byte-identical to what datastar-py emits for the same arguments, and the
SDK conformance suite still passes (docs/decisions/0011-click-path-by-hand.md):

    Elements(html, selector, mode)  ->  event: datastar-patch-elements
                                        data: mode inner            (omitted when "outer")
                                        data: selector #feed        (omitted when None)
                                        data: elements <li>…</li>   (one line per line of HTML)
    Elements(mode="remove", ...)    ->  datastar-patch-elements with `mode remove` + `selector`
    Signals(data, only_if_missing)  ->  event: datastar-patch-signals
                                        data: onlyIfMissing true    (omitted when False)
                                        data: signals {"count":1}   (compact, strict JSON)
    Script(js)                      ->  a <script data-effect="el.remove()"> appended to body
    History(depth, url, mode)       ->  a Script that pushes or replaces a session history
                                        entry (see `parlour.wire.actions.history_script`)
    Redirect(url)                   ->  a Script that navigates, the URL escaped for JS and HTML
    Close()                         ->  "" (nothing: the stream owner ends the response)

`event_id` and `retry` become the SSE `id:` and `retry:` fields; like every Datastar SDK we
omit them when they are absent, and `retry` also when it is the protocol default (1000 ms).

Values that would break the SSE framing (a line break in a selector or an event id) or that
the Datastar client is known to reject (a mode other than outer/replace without a selector)
raise `ValueError` here, at the point where the programming error can still be traced,
instead of surfacing as a silently ignored patch in somebody's browser.

What this module does not do: write to a socket, queue, coalesce or time anything (the
runtime owns the stream and its heartbeats; it only calls `comment()` for them), or read
requests (see `parlour.wire.signals`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from datastar_py import SSE_HEADERS as _DATASTAR_SSE_HEADERS
from datastar_py.consts import DEFAULT_SSE_RETRY_DURATION as _DEFAULT_RETRY
from datastar_py.consts import ElementPatchMode

from parlour.core.fragments import (
    Close,
    Elements,
    Fragment,
    History,
    Redirect,
    Script,
    Signals,
    single_line,
)
from parlour.wire.actions import history_script
from parlour.wire.js import js_literal

__all__ = ["SSE_HEADERS", "comment", "encode", "event_text"]

SSE_HEADERS: Mapping[str, str] = MappingProxyType(dict(_DATASTAR_SSE_HEADERS))
"""The response headers of a Datastar SSE stream (datastar-py's own set).

`Content-Type: text/event-stream`, `Cache-Control: no-cache` and `X-Accel-Buffering: no`
(stops nginx from buffering the stream). Read-only, so no caller can change the headers of
every other stream in the process by mutating a shared dict; copy it to add your own.
"""

_MODES: frozenset[str] = frozenset(m.value for m in ElementPatchMode)
_MODES_WITHOUT_SELECTOR = frozenset({"outer", "replace"})
"""The only modes the Datastar client accepts without a selector (it matches by id)."""

_NONCE = re.compile(r"[A-Za-z0-9+/_=-]{1,128}")

_SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data"})
"""URL schemes that run code or smuggle a document instead of navigating to a page."""

_URL_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")


def encode(
    fragment: Fragment,
    *,
    event_id: str | None = None,
    retry: int | None = None,
    nonce: str | None = None,
) -> str:
    """Return `fragment` as the text of one SSE event, ending with its blank line.

    `event_id` becomes the event's `id:` (the client sends it back as `Last-Event-ID` when it
    retries); `retry` (milliseconds) resets the client's reconnect delay. `nonce` goes on the
    `<script>` of a Script, History or Redirect, so that a page whose Content-Security-Policy
    allows only scripts with that nonce runs it (`parlour.web.security`). `Close` encodes to
    the empty string: ending a stream is something the stream owner does, not an event, and
    an empty string keeps `"".join(encode(f) for f in fragments)` correct.
    """
    if event_id is not None and ("\n" in event_id or "\r" in event_id or "\x00" in event_id):
        single_line("event_id", event_id)  # raises, naming it
    if nonce is not None and nonce not in _CHECKED_NONCES:
        if not _NONCE.fullmatch(nonce):
            raise ValueError(
                f"nonce must be base64 text (letters, digits, '+', '/', '-', '_', '='), got "
                f"{nonce!r}; it is pasted into a script tag's attribute and the CSP header"
            )
        _remember(_CHECKED_NONCES, nonce)
    if retry is not None and retry < 0:
        raise ValueError(
            f"retry must be a number of milliseconds >= 0, got {retry}; "
            "pass None to keep the client's current reconnect delay"
        )
    kind = type(fragment)
    if kind is Elements:
        return _encode_elements(cast(Elements, fragment), event_id, retry)
    if kind is History:
        script = history_script(cast(History, fragment))
    elif kind is Script:
        script = cast(Script, fragment).js
    elif kind is Signals:
        signals = cast(Signals, fragment)
        lines = ["onlyIfMissing true"] if signals.only_if_missing else []
        lines.extend("signals " + line for line in _signals_json(signals.data).splitlines())
        return _event("datastar-patch-signals", lines, event_id, retry)
    elif kind is Redirect:
        script = _navigation_script(cast(Redirect, fragment).url)
    elif kind is Close:
        return ""
    else:
        raise TypeError(  # reachable only from untyped code
            f"encode() takes a fragment (Elements, Signals, Script, History, Redirect or "
            f"Close), got {type(fragment).__name__}: {fragment!r}"
        )
    # datastar-py's execute_script: an auto-removing <script> appended to <body>.
    attributes = f' nonce="{nonce}"' if nonce else ""  # the nonce needs no escaping (_NONCE)
    tag = f'<script data-effect="el.remove()"{attributes}>{script}</script>'
    return (
        _head(_PATCH_ELEMENTS, event_id, retry)
        + _SCRIPT_FIELDS
        + _ELEMENTS_LINE.join(tag.splitlines())
        + "\n\n"
    )


_PATCH_ELEMENTS = "event: datastar-patch-elements"
_ELEMENTS_LINE = "\ndata: elements "
"""Between two lines of HTML (and before the first): each is a `data: elements` field."""
_SCRIPT_FIELDS = "\ndata: mode append\ndata: selector body" + _ELEMENTS_LINE
"""How a script is patched in: appended to <body>, then its lines."""


def _head(event: str, event_id: str | None, retry: int | None) -> str:
    """`event` (the `event:` line) with the `id:` and `retry:` lines `_event` gives it."""
    if event_id:
        event += "\nid: " + event_id
    if retry and retry != _DEFAULT_RETRY:
        event += f"\nretry: {retry}"
    return event


_CHECKED = 4096
"""How many nonces already found valid are remembered (a stream's nonce comes back with
every script it sends)."""
_CHECKED_NONCES: dict[str, None] = {}


def _remember(seen: dict[str, None], value: str) -> None:
    if len(seen) >= _CHECKED:
        seen.clear()
    seen[value] = None


def _event(kind: str, lines: list[str], event_id: str | None, retry: int | None) -> str:
    """One event as datastar-py's `_send` frames it: `event:`, `id:` (when given), `retry:`
    (unless 0 or the protocol's default), one `data:` per line, then the blank line."""
    head = "event: " + kind
    if event_id:
        head += "\nid: " + event_id
    if retry and retry != _DEFAULT_RETRY:
        head += f"\nretry: {retry}"
    if len(lines) == 1:
        return f"{head}\ndata: {lines[0]}\n\n"
    return head + "".join(["\ndata: " + line for line in lines]) + "\n\n"


def event_text(event: str, data: str, *, event_id: str | None = None) -> str:
    """Any other server-sent event (a JSON feed's, not Datastar's): `event:`, `id:`, then one
    `data:` line per line of `data`, and the blank line that ends it.

    `event` and `event_id` are single fields, so a line break (or NUL) in either raises
    ValueError naming it instead of letting a value write fields of its own.
    """
    single_line("the SSE event type", event)
    head = f"event: {event}\n"
    if event_id is not None:
        head += f"id: {single_line('the SSE event id', event_id)}\n"
    lines = data.splitlines() or [""]
    return head + "".join(f"data: {line}\n" for line in lines) + "\n"


def comment(text: str = "ping") -> str:
    """Return an SSE comment, e.g. `: ping\\n\\n`: a heartbeat that every SSE client ignores.

    A stream that stays silent for minutes gets closed by proxies, and the server only learns
    that a tab went away when a write fails; a comment every ~15 s solves both without the
    browser noticing. Multi-line text becomes one comment line per line, so a comment can
    never turn into an event.
    """
    lines = text.splitlines() or [""]
    return "".join(f": {line}\n" if line else ":\n" for line in lines) + "\n"


def _encode_elements(fragment: Elements, event_id: str | None, retry: int | None) -> str:
    selector = fragment.selector
    mode = fragment.mode
    if mode == "outer" and selector is None:
        # A morph by id, what a click's re-render sends: the fields written out at once.
        html = fragment.html
        if not html:
            return _head(_PATCH_ELEMENTS, event_id, retry) + "\n\n"
        if type(html) is not str:
            html = str(html)  # Markup: its `+` would escape the field names
        return (
            _head(_PATCH_ELEMENTS, event_id, retry)
            + _ELEMENTS_LINE
            + _ELEMENTS_LINE.join(html.splitlines())
            + "\n\n"
        )
    if selector is not None:
        single_line("Elements.selector", selector)
    if mode not in _MODES:
        allowed = ", ".join(repr(m.value) for m in ElementPatchMode)
        raise ValueError(f"Elements.mode must be one of {allowed}, got {mode!r}") from None
    if not selector and mode not in _MODES_WITHOUT_SELECTOR:
        raise ValueError(
            f"Elements with mode {mode!r} needs a selector, got none; the Datastar "
            "client only matches elements by id in modes 'outer' and 'replace', so pass "
            "selector='#some-id' (or use one of those modes)"
        )
    lines = [] if mode == "outer" else ["mode " + mode]
    if selector:
        lines.append("selector " + selector)
    # `html` is meaningless for mode remove: the client removes what the selector matches.
    html = fragment.html
    if html and mode != "remove":
        if type(html) is not str:
            html = str(html)  # Markup: its `+` would escape the field names
        lines.extend(["elements " + line for line in html.splitlines()])
    return _event("datastar-patch-elements", lines, event_id, retry)


def _signals_json(data: Mapping[str, Any]) -> str:
    """Compact, strict JSON for a signals patch.

    datastar-py would serialise a dict itself, but with `allow_nan` left on: `NaN` is not
    JSON, and the client then falls back to evaluating the payload as JavaScript (which a
    strict CSP forbids). Serialising here, with the same compact separators and ASCII
    escaping, lets that case fail on the server with a message instead.
    """
    try:
        return json.dumps(dict(data), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Signals.data must hold only JSON values (str, int, finite float, bool, None, "
            f"lists, dicts with str keys), but encoding it failed: {exc}; convert the value "
            "first (e.g. a datetime to an ISO string)"
        ) from exc


def _navigation_script(url: str) -> str:
    """JavaScript that sends the tab to `url`, safe for any URL string.

    The URL is a JSON string literal (valid JavaScript, with every non-ASCII character
    escaped, so U+2028 cannot end the statement) whose `<`, `>` and `&` are escaped as well,
    so `</script>` inside the URL cannot close the surrounding script element. datastar-py's
    own `redirect()` pastes the URL between single quotes unescaped, which is why it is not
    used. URLs with a scheme that runs code (`javascript:` …) are refused: a redirect target
    often comes from a `?next=` parameter, and navigating there would run the attacker's code.
    """
    _check_navigable(url)
    return f"setTimeout(() => window.location.assign({js_literal(url)}))"


def _check_navigable(url: str) -> None:
    # Browsers strip leading/trailing C0 controls and spaces and drop tabs and newlines
    # anywhere before they read the scheme, so "java\tscript:" is javascript: too.
    normalised = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    match = _URL_SCHEME.match(normalised)
    if match and match.group(1).lower() in _SCRIPT_SCHEMES:
        raise ValueError(
            f"Redirect.url must be a page to navigate to, got a {match.group(1).lower()}: URL "
            f"({url[:60]!r}); use a relative path or an http(s) URL, and never redirect to a "
            "URL taken from a request without checking it"
        )
