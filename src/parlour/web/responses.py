"""The small answers every route gives: plain-text errors, 503 when restores are shed, and the
bare ASGI messages of the hot routes (written without building a Response object).

Every refusal is plain text with a sentence a developer can act on, and is never cached.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope

__all__ = ["EMPTY", "NO_CONTENT", "busy", "plain", "route_path", "until_disconnect"]

NO_CONTENT: Message = {"type": "http.response.start", "status": 204, "headers": []}
"""The start of the usual answer to an event: accepted; the update travels on the stream."""

EMPTY: Message = {"type": "http.response.body", "body": b"", "more_body": False}
"""The end of a response body."""


def plain(status: int, message: str) -> Response:
    """A plain-text answer that is never cached: `message` says what to do about it."""
    return PlainTextResponse(
        message + "\n", status_code=status, headers={"Cache-Control": "no-store"}
    )


def busy(reason: str = "too many conversations are being restored; retry shortly") -> Response:
    """Shed load (a reconnect storm, a store that did not answer): a 503 saying why; the
    shell's `retry: 'always'` brings the client back."""
    response = plain(503, reason)
    response.headers["Retry-After"] = "1"
    return response


def route_path(scope: Scope) -> str:
    """The path below the mount point (`root_path`), as Starlette's router sees it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


async def until_disconnect(receive: Receive) -> None:
    """Return when the client of a GET has gone (the request's own empty body comes first)."""
    while (await receive())["type"] != "http.disconnect":
        pass
