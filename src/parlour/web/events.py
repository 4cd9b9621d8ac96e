"""The routes a page POSTs to: one event, and a step back in history.

    POST BASE/event/CID/IID/NAME[?p=JSON]   one `@event`, with the page's signals as the body
    POST BASE/back/CID[?to=DEPTH]           step back (the browser's Back button)

Both answer 204 No Content: the update travels on the conversation's stream. Bad input is an
answer, never a crash: a POST from another origin 403, an unknown conversation 404, a missing
or foreign session 403, a principal other than the conversation's (`authenticate`: signed out,
or in as someone else) 403, an event that is not an `@event` method 404, malformed JSON or payload
400, a body over `max_body` 413. A click on something no longer shown is a harmless 204.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from parlour.core import handlers, kernel
from parlour.core.errors import SignalError
from parlour.runtime import Runtime
from parlour.web.identity import Ownership
from parlour.web.responses import EMPTY, NO_CONTENT, plain
from parlour.web.session import Owners
from parlour.wire import BadSignals, json_value, signals_from_body

__all__ = ["Events"]

log = logging.getLogger("parlour")


def cross_origin(headers: Headers) -> bool:
    """Does this POST come from another site (whose page cannot be allowed to click for us)?"""
    if headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser (curl, tests, agents): no ambient cookies to abuse
    host = headers.get("host", "")
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:  # not a URL at all (`http://[::1`): not our origin
        return True
    return netloc.lower() != host.lower()


def _log_refusal(scope: Scope, response: Response) -> None:
    """One line per refused request, no traceback: enough to see a broken or hostile client,
    cheap enough under a flood of them."""
    if log.isEnabledFor(logging.INFO):
        reason = bytes(response.body[:200]).decode("utf-8", "replace").strip()
        path = str(scope.get("path", ""))
        log.info("parlour: %d %s %.120r: %s", response.status_code, scope["method"], path, reason)


class Events:
    """Checks and dispatches what a page POSTs: events and steps back."""

    def __init__(
        self,
        runtime: Runtime,
        owners: Owners,
        *,
        max_body: int,
        clock: Callable[[], float],
        ownership: Ownership | None = None,
    ) -> None:
        self.runtime = runtime
        self.owners = owners
        self.ownership = ownership if ownership is not None else Ownership(owners)
        self.max_body = max_body
        self.clock = clock

    async def event(
        self, scope: Scope, receive: Receive, send: Send, cid: str, iid: str, name: str
    ) -> None:
        """The event route, as plain ASGI (every click takes it)."""
        response = await self._handle_event(scope, receive, cid, iid, name)
        if response is None:
            await send(NO_CONTENT)
            await send(EMPTY)
        else:
            _log_refusal(scope, response)
            await response(scope, receive, send)

    async def _handle_event(
        self, scope: Scope, receive: Receive, cid: str, iid: str, name: str
    ) -> Response | None:
        """Check and dispatch one event; None for the usual answer, 204 No Content."""
        headers = Headers(scope=scope)
        if cross_origin(headers):
            return plain(403, "cross-origin POST refused")
        live = await self.runtime.get(cid)
        if live is None:
            return plain(404, f"no conversation {cid!r}; reload the page")
        cookies = cookie_parser(headers.get("cookie", ""))
        refused = await self.ownership.admit(scope, cookies, live)
        if refused is not None:
            return plain(403, refused.message)
        body = await self._read_body(headers, receive)
        if isinstance(body, Response):
            return body
        try:
            signals = signals_from_body(body, headers.get("content-type"))
        except BadSignals as exc:
            return plain(400, str(exc))
        payload: Any = None
        if scope["query_string"]:
            raw_payload = QueryParams(scope["query_string"]).get("p")
            if raw_payload is not None:
                try:
                    payload = json_value(raw_payload, "the event payload (?p=)")
                except BadSignals as exc:
                    return plain(400, str(exc))
        inst = live.conv.instances.get(iid)
        if inst is None:
            return None  # a stale click on something no longer shown
        if name not in type(inst.component).__parlour_events__:
            return plain(404, f"{type(inst.component).__qualname__} has no @event {name!r}")
        try:
            handlers.check_signals(inst.component, iid, signals)
        except SignalError as exc:
            return plain(400, str(exc))
        event = kernel.Event(iid, name, payload, signals, now=self.clock())
        await self.runtime.dispatch(cid, event)
        return None

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | Response:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return plain(413, f"request body over {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return Response(status_code=400)  # the client went before its body arrived
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return plain(413, f"request body over {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def back(self, request: Request) -> Response:
        """The back route (a Starlette route: the Back button is not a hot path)."""
        response = await self._back(request)
        if response.status_code >= 400:
            _log_refusal(request.scope, response)
        return response

    async def _back(self, request: Request) -> Response:
        if cross_origin(request.headers):
            return plain(403, "cross-origin POST refused")
        cid = request.path_params["cid"]
        live = await self.runtime.get(cid)
        if live is None:
            return plain(404, f"no conversation {cid!r}; reload the page")
        refused = await self.ownership.admit(request.scope, request.cookies, live)
        if refused is not None:
            return plain(403, refused.message)
        raw = request.query_params.get("to")
        to: int | None = None
        if raw is not None:
            try:
                to = int(raw)
            except ValueError:
                return plain(400, f"?to= must be a history depth (an integer), got {raw[:40]!r}")
        await self.runtime.back(cid, to=to)
        return Response(status_code=204)
