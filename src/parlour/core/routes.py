"""Routes: the shapes of parlour's own URLs under an app's base (`/_parlour` by default).

    event_path(base, cid, iid, name)   BASE/event/CID/IID/NAME    one browser event (POST)
    back_path(base, cid)               BASE/back/CID              step back in history (POST)
    stream_path(base, cid)             BASE/sse/CID               the conversation's stream (GET)
    static_path(base, name)            BASE/static/NAME           a bundled file (GET)
    upload_path(base, cid, iid, name)  BASE/upload/CID/IID/NAME   files for an `@upload` (POST)
    retry_path(base, cid)              BASE/retry/CID             draw the page again (POST)
    restart_path(base, cid)            BASE/restart/CID           end it, start over (POST)
    dev_path(base, *parts)             BASE/dev/...               the inspector (dev mode only)

The segment names (`EVENT`, `BACK`, `STREAM`, `STATIC`, `UPLOAD`, `RETRY`, `RESTART`) are what
the web layer matches paths against. Every part of parlour that writes or matches one of these
URLs (components rendering `on(...)`, the page shell, the web app, the test client, the
console) takes it from here, so the shapes are spelled once and cannot drift apart.

What this module does not do: escape anything for HTML or JavaScript (callers put the path
into an attribute or a script and escape for that context), or know the base (the app does).
"""

from __future__ import annotations

__all__ = [
    "BACK",
    "DEV",
    "EVENT",
    "RESTART",
    "RETRY",
    "STATIC",
    "STREAM",
    "UPLOAD",
    "back_path",
    "dev_path",
    "event_path",
    "restart_path",
    "retry_path",
    "static_path",
    "stream_path",
    "upload_path",
]

EVENT = "event"
"""Segment of the event route: BASE/event/CID/IID/NAME."""

BACK = "back"
"""Segment of the back route: BASE/back/CID."""

STREAM = "sse"
"""Segment of the stream route: BASE/sse/CID."""

STATIC = "static"
"""Segment of the static files route: BASE/static/NAME."""

RETRY = "retry"
"""Segment of the route an error block's "Try again" posts to: BASE/retry/CID."""

RESTART = "restart"
"""Segment of the route an error block's "Start over" posts to: BASE/restart/CID."""

UPLOAD = "upload"
"""Segment of the upload route: BASE/upload/CID/IID/NAME."""

DEV = "dev"
"""Segment of the inspector's routes, which exist only in dev mode: BASE/dev/..."""


def event_path(base: str, cid: str, iid: str, name: str) -> str:
    """The URL a browser event POSTs to: `iid.name` of conversation `cid`."""
    return f"{base}/{EVENT}/{cid}/{iid}/{name}"


def back_path(base: str, cid: str) -> str:
    """The URL that steps conversation `cid` back (the browser adds `?to=DEPTH`)."""
    return f"{base}/{BACK}/{cid}"


def stream_path(base: str, cid: str) -> str:
    """The URL of conversation `cid`'s SSE stream."""
    return f"{base}/{STREAM}/{cid}"


def static_path(base: str, name: str) -> str:
    """The URL of the bundled static file `name` (the stylesheet, the Datastar bundle)."""
    return f"{base}/{STATIC}/{name}"


def upload_path(base: str, cid: str, iid: str, name: str) -> str:
    """The URL a file input POSTs its files to: the `@upload` handler `iid.name` of `cid`."""
    return f"{base}/{UPLOAD}/{cid}/{iid}/{name}"


def retry_path(base: str, cid: str) -> str:
    """The URL that draws conversation `cid`'s top frame again (an error block's retry)."""
    return f"{base}/{RETRY}/{cid}"


def restart_path(base: str, cid: str) -> str:
    """The URL that ends conversation `cid`, so its tab reloads into a new one."""
    return f"{base}/{RESTART}/{cid}"


def dev_path(base: str, *parts: str) -> str:
    """An inspector URL (dev mode only): `dev_path(base, cid, "sse")` is BASE/dev/CID/sse."""
    return "/".join((base, DEV, *parts))
