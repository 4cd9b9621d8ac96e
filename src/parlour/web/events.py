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
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request, cookie_parser
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from parlour.core import handlers, kernel
from parlour.core.errors import SignalError
from parlour.runtime import RestoreBusy, Runtime
from parlour.web.identity import Ownership
from parlour.web.responses import EMPTY, NO_CONTENT, busy, plain
from parlour.web.security import Guard
from parlour.web.session import COOKIE, Owners
from parlour.wire import BadSignals, json_value, signals_from_body

__all__ = ["Events"]

log = logging.getLogger("parlour")


def cross_origin(headers: Headers) -> bool:
    """Does this POST come from another site (whose page cannot be allowed to click for us)?"""
    return _cross_origin(
        headers.get("sec-fetch-site"), headers.get("origin"), headers.get("host", "")
    )


def _cross_origin(site: str | None, origin: str | None, host: str) -> bool:
    if site == "cross-site":
        return True
    if origin is None:
        return False  # not a browser (curl, tests, agents): no ambient cookies to abuse
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


_HEADER_CACHE = 1024
"""How many distinct `Cookie` headers (and origin/host pairs) the event route remembers."""
_cookie_values: dict[bytes, str | None] = {}
_origin_checks: dict[tuple[bytes | None, bytes | None, bytes | None], bool] = {}


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


class _EventHeaders:
    """The headers of an event POST that the route reads (the first of each, as Starlette's
    `Headers.get` gives it), kept as bytes: a browser sends the same ones on every click, so
    what the route makes of them (the origin check, the session cookie, the Host check) is
    remembered by their bytes, and only the content type is decoded every time."""

    __slots__ = ("content_length", "content_type", "cookie", "host", "origin", "site")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        # One dict of all the headers, built in C; reversed, so the first of a name wins.
        first = dict(reversed(raw if isinstance(raw, list) else list(raw)))
        get = first.get
        self.host = get(b"host")
        self.origin = get(b"origin")
        self.site = get(b"sec-fetch-site")
        self.cookie = get(b"cookie")
        self.content_length = get(b"content-length")
        kind = get(b"content-type")
        self.content_type = None if kind is None else kind.decode("latin-1")

    def cross_origin(self) -> bool:
        """`cross_origin` of these headers; the answer for a (site, origin, host) is kept,
        since a browser sends the same ones on every click."""
        key = (self.site, self.origin, self.host)
        found = _origin_checks.get(key)
        if found is None:
            found = _cross_origin(_text(self.site), _text(self.origin), _text(self.host) or "")
            if len(_origin_checks) >= _HEADER_CACHE:
                _origin_checks.clear()
            _origin_checks[key] = found
        return found

    def cookies(self) -> Mapping[str, str]:
        """The session cookie, as `cookie_parser` reads it from the `Cookie` header."""
        value = self.session()
        return {} if value is None else {COOKIE: value}

    def session(self) -> str | None:
        """The session cookie's value, as `cookie_parser` reads it from the `Cookie` header."""
        raw = self.cookie
        if not raw:
            return None
        try:
            return _cookie_values[raw]
        except KeyError:
            value = cookie_parser(raw.decode("latin-1")).get(COOKIE)
            if len(_cookie_values) >= _HEADER_CACHE:
                _cookie_values.clear()
            _cookie_values[raw] = value
            return value


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
        self._guard: Guard | None = None
        self._no_content = NO_CONTENT

    @property
    def guard(self) -> Guard | None:
        """The app's guard (`parlour.web.security`): the event route is served beside it, not
        through it, and asks it for the Host check and the security headers itself."""
        return self._guard

    @guard.setter
    def guard(self, guard: Guard | None) -> None:
        self._guard = guard
        self._no_content = NO_CONTENT if guard is None else guard.secured(NO_CONTENT)

    async def event(
        self, scope: Scope, receive: Receive, send: Send, cid: str, iid: str, name: str
    ) -> None:
        """The event route, as plain ASGI (every click takes it).

        The headers are read first, in one pass: a `Host` the guard does not allow hands the
        request to the guard, which refuses it as it refuses any other route's.
        """
        head = _EventHeaders(scope["headers"])
        guard = self._guard
        if guard is not None and not guard.hosts.allows(head.host):
            await guard(scope, receive, send)
            return
        try:
            response = await self._handle_event(scope, receive, head, cid, iid, name)
        except RestoreBusy as exc:
            response = busy(exc.reason)  # shed load: the client retries (not a refusal)
        else:
            if response is None:
                # A new start message each time (its headers made once): a middleware around
                # the app may change the message it is given (Starlette's CORS adds headers).
                start = self._no_content
                await send({"type": start["type"], "status": 204, "headers": [*start["headers"]]})
                await send(EMPTY)
                return
            _log_refusal(scope, response)
        await response(scope, receive, send if guard is None else guard.secure(scope, send))

    async def _handle_event(
        self, scope: Scope, receive: Receive, head: _EventHeaders, cid: str, iid: str, name: str
    ) -> Response | None:
        """Check and dispatch one event; None for the usual answer, 204 No Content.

        The request's headers were read in one pass over the ASGI list (no `Headers`, no
        cookie dict for the whole header): this runs on every click (decision 0011).
        """
        if head.cross_origin():
            return plain(403, "cross-origin POST refused")
        runtime = self.runtime
        live = runtime.live.get(cid)
        if live is None or live.stale:
            live = await runtime.get(cid, urgent=True)  # a click's restore goes first
            if live is None:
                return plain(404, f"no conversation {cid!r}; reload the page")
        ownership = self.ownership
        if ownership.authenticate is None:
            refused = ownership.admit_session(head.session(), live)
        else:
            refused = await ownership.admit(scope, head.cookies(), live)
        if refused is not None:
            return plain(403, refused.message)
        length = head.content_length  # bytes: isdigit() is true of ASCII digits only
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return plain(413, f"request body over {self.max_body} bytes")
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body: bytes = message.get("body", b"")  # the usual case: the body in one message
            if len(body) > self.max_body:
                return plain(413, f"request body over {self.max_body} bytes")
        else:
            read = await self._read_body(message, receive)
            if isinstance(read, Response):
                return read
            body = read
        try:
            signals = signals_from_body(body, head.content_type)
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
        if inst is None and runtime.cluster is not None:
            # Another node may have made it a moment ago, before this one heard its notice.
            inst = await runtime.cluster.instance(live, iid)
        if inst is None:
            return None  # a stale click on something no longer shown
        if name not in type(inst.component).__parlour_events__:
            return plain(404, f"{type(inst.component).__qualname__} has no @event {name!r}")
        if signals:
            try:
                handlers.check_signals(inst.component, iid, signals)
            except SignalError as exc:
                return plain(400, str(exc))
        event = kernel.Event(iid, name, payload, signals, "browser", self.clock())
        await runtime.dispatch(cid, event)
        return None

    async def _read_body(self, message: Message, receive: Receive) -> bytes | Response:
        """The rest of a body that did not come in one message (`message`, the first)."""
        if message["type"] != "http.request":
            return Response(status_code=400)  # the client went before its body arrived
        chunk: bytes = message.get("body", b"")
        chunks: list[bytes] = [chunk]
        size = len(chunk)
        while True:
            if size > self.max_body:
                return plain(413, f"request body over {self.max_body} bytes")
            message = await receive()
            if message["type"] != "http.request":
                return Response(status_code=400)
            chunk = message.get("body", b"")
            size += len(chunk)
            chunks.append(chunk)
            if not message.get("more_body", False):
                if size > self.max_body:
                    return plain(413, f"request body over {self.max_body} bytes")
                return b"".join(chunks)

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
