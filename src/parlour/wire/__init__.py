"""The Datastar boundary: fragments out as SSE text, signals in as dicts.

This package is the only place in parlour that imports `datastar_py`, so a change in the
SDK or the protocol is absorbed here and nowhere else.

    encode(fragment, event_id=, retry=)   one fragment -> the text of one SSE event
    comment(text)                          an SSE comment (heartbeat)
    event_text(event, data, event_id=)     any other SSE event (a JSON feed's), checked
    SSE_HEADERS                            the response headers of an SSE stream
    signals_from_query(value)              GET/DELETE signals -> dict
    signals_from_body(body, content_type)  POST/PUT/PATCH signals -> dict
    json_value(raw, where)                 any other JSON a request carries, as strictly
    BadSignals                             malformed signals (the web layer answers 400)

Importing this package also plugs Datastar's action expressions into core
(`parlour.core.actions.plug(DATASTAR_ACTIONS)`), so components rendered after it can write
`data-on:*` attributes; see docs/decisions/0006-no-javascript-in-core.md.

`parlour.wire.conformance` (an ASGI app for the Datastar SDK test suite) is deliberately not
imported here: it needs Starlette, and importing `parlour.wire` must not.
"""

from __future__ import annotations

from parlour.core.actions import plug
from parlour.wire.actions import DATASTAR_ACTIONS
from parlour.wire.signals import BadSignals, json_value, signals_from_body, signals_from_query
from parlour.wire.sse import SSE_HEADERS, comment, encode, event_text

plug(DATASTAR_ACTIONS)

__all__ = [
    "SSE_HEADERS",
    "BadSignals",
    "comment",
    "encode",
    "event_text",
    "json_value",
    "signals_from_body",
    "signals_from_query",
]
