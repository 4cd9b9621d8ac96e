"""`App(Root)`: a parlour application as an ASGI app, built on Starlette.

    GET  <mount>                              the shell: mints a conversation, sets the cookie
    GET  /_parlour/sse/CID                    the stream: a full render, then patches
    POST /_parlour/event/CID/IID/EVENT        one event; 204; the update travels on the stream
    POST /_parlour/back/CID[?to=DEPTH]        step back in history; 204
    GET  /_parlour/static/FILE                the stock stylesheet, a self-hosted Datastar

Bad input is an answer, never a crash: a POST from another origin 403, an unknown
conversation 404, a missing or foreign session 403, an event that is not an `@event`
method 404, malformed JSON or payload 400, a body over `max_body` 413. A stream for a
conversation the server does not know answers 200 with one event that reloads the page, so
a tab never goes dead (Datastar ignores the body of non-200 answers).

`App` mounts inside a Starlette or FastAPI app like any ASGI app; its URLs follow the mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request, cookie_parser
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from parlour.bus import EventBus, InProcessBus, open_bus
from parlour.core import kernel
from parlour.core.component import Component
from parlour.core.context import Context
from parlour.core.fragments import Close, Elements, Fragment, Script
from parlour.runtime import Connection, RestoreBusy, Runtime
from parlour.runtime.views import SharedViews
from parlour.stores.protocol import ConversationStore
from parlour.web.session import COOKIE, Sessions, load_secret
from parlour.web.shell import DatastarSource, shell_html
from parlour.wire import SSE_HEADERS, BadSignals, comment, encode, signals_from_body

__all__ = ["App"]

log = logging.getLogger("parlour")

STATIC = Path(__file__).parent / "static"
DATASTAR_ENV = "PARLOUR_DATASTAR_JS"


def _plain(status: int, message: str) -> Response:
    return PlainTextResponse(
        message + "\n", status_code=status, headers={"Cache-Control": "no-store"}
    )


_SSE_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SSE_HEADERS.items()],
}
_NO_CONTENT: Message = {"type": "http.response.start", "status": 204, "headers": []}
_EMPTY: Message = {"type": "http.response.body", "body": b"", "more_body": False}
_PING = comment("ping").encode()


def _route_path(scope: Scope) -> str:
    """The path below the mount point (`root_path`), as Starlette's router sees it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


async def _until_disconnect(receive: Receive) -> None:
    """Return when the client of a GET has gone (the request's own empty body comes first)."""
    while (await receive())["type"] != "http.disconnect":
        pass


type RootFactory = type[Component] | Callable[[], Component]
type _Handler = Callable[..., Awaitable[None]]


def _is_shared(fragment: Fragment) -> bool:
    """A shared view's patch: the same object for every stream, not in any outbox."""
    return isinstance(fragment, Elements) and (fragment.key or "").startswith("view:")


class App:
    """An ASGI application serving the component `root` (a class, or a factory of instances).

    `root` may also map paths to roots, `{"/": Agents, "/status": Status}`: a multi-page
    app whose every page is its own conversation (links between them are plain links).
    `services` are objects components reach with `parlour.core.context.service(Type)`;
    `views` are the shared views they embed with `shared(name)` (also `app.views`).
    """

    def __init__(
        self,
        root: RootFactory | Mapping[str, RootFactory],
        *,
        title: str = "parlour",
        base: str = "/_parlour",
        store: ConversationStore | None = None,
        bus: EventBus | None = None,
        secret: str | None = None,
        state_dir: str | Path = ".parlour",
        datastar: str | Path | None = None,
        stylesheets: tuple[str, ...] = (),
        max_body: int = 1 << 20,
        heartbeat: float = 15.0,
        window: float = 0.05,
        history_limit: int = 50,
        ttl: float = 24 * 3600.0,
        reap_interval: float = 60.0,
        max_restores: int = 64,
        clock: Callable[[], float] = time.time,
        services: Iterable[object] = (),
        views: SharedViews | None = None,
    ) -> None:
        self.pages: dict[str, RootFactory] = (
            dict(cast(Mapping[str, RootFactory], root))
            if isinstance(root, Mapping)
            else {"/": root}
        )
        bad = [path for path in self.pages if not path.startswith("/")]
        if bad or not self.pages:
            raise ValueError(
                f"App pages must map paths starting with '/' to components, got {bad or '{}'}; "
                "e.g. App({'/': Home, '/status': Status})"
            )
        self.root = self.pages.get("/", next(iter(self.pages.values())))
        self.title = title
        self.base = "/" + base.strip("/")
        self.max_body = max_body
        self.heartbeat = heartbeat
        self.window = window
        self.stylesheets = stylesheets
        self.runtime = Runtime(
            store=store,
            bus=bus if bus is not None else InProcessBus(),
            history_limit=history_limit,
            clock=clock,
            ttl=ttl,
            max_restores=max_restores,
            services=services,
            views=views if views is not None else SharedViews(window=window),
        )
        self.reap_interval = reap_interval
        self._started = False
        self._starting = asyncio.Lock()
        self._bus_url: str | None = None
        self.clock = clock
        self._secret = secret
        self._state_dir = Path(state_dir)
        self._sessions: Sessions | None = None
        self._datastar_file, self._datastar = self._datastar_source(datastar)
        self._shared_text: dict[str, tuple[Fragment, bytes]] = {}
        self._hot = self.base + "/"
        self._app = Starlette(
            routes=[
                *(Route(path, self._shell, methods=["GET"]) for path in self.pages),
                Route(f"{self.base}/back/{{cid}}", self._back, methods=["POST"]),
                Route(f"{self.base}/static/{{name}}", self._static, methods=["GET"]),
            ],
            lifespan=self._lifespan,
            exception_handlers={RestoreBusy: self._busy},
        )

    def __repr__(self) -> str:
        return f"App({getattr(self.root, '__qualname__', self.root)!r}, base={self.base!r})"

    def use_bus(self, url: str) -> None:
        """Use the bus at `url` (`memory`, `nats://HOST:PORT`), connected when serving starts."""
        if self._started:
            raise RuntimeError("use_bus() must be called before the app serves requests")
        self._bus_url = url

    async def _start(self) -> None:
        """Connect the bus and start the reaper, once, before the first request is served.

        Done here rather than only in lifespan: a mounted sub-app never sees lifespan events.
        """
        async with self._starting:
            if self._started:
                return
            if self._bus_url is not None:
                old = self.runtime.bus
                self.runtime.bus = await open_bus(self._bus_url)
                if old is not None:
                    await old.close()
            self.runtime.start_reaper(self.reap_interval)
            self._started = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not self._started:
                await self._start()
            # The two routes every click and every open tab use are plain ASGI: Starlette's
            # router, middleware, Request and Response were a fifth of a click's CPU and most
            # of an idle stream's memory (docs/decisions/0005-hot-routes-in-plain-asgi.md).
            hot = self._hot_route(scope)
            if hot is not None:
                try:
                    await hot[0](scope, receive, send, *hot[1])
                except RestoreBusy:
                    await self._busy_response()(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def _hot_route(self, scope: Scope) -> tuple[_Handler, list[str]] | None:
        """The handler of `event/CID/IID/NAME` or `sse/CID` and its arguments, else None.

        A wrong method gets a handler that answers 405. (Returned rather than awaited here,
        so a long-lived stream keeps none of this frame's strings alive.)
        """
        path = _route_path(scope)
        if not path.startswith(self._hot):
            return None
        kind, _, rest = path[len(self._hot) :].partition("/")
        parts = rest.split("/")
        if kind == "event" and len(parts) == 3 and all(parts):
            handler, method = self._event, "POST"
        elif kind == "sse" and len(parts) == 1 and parts[0]:
            handler, method = self._sse, "GET"
        else:
            return None
        if scope["method"] != method:
            return self._wrong_method, [path, method]
        return handler, parts

    async def _wrong_method(
        self, scope: Scope, receive: Receive, send: Send, path: str, method: str
    ) -> None:
        response = _plain(405, f"{path} only answers {method}")
        response.headers["Allow"] = method
        await response(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncGenerator[None]:
        await self._start()
        yield
        await self.runtime.close()
        if self.runtime.bus is not None:
            await self.runtime.bus.close()

    async def _busy(self, request: Request, exc: Exception) -> Response:
        return self._busy_response()

    def _busy_response(self) -> Response:
        # A reconnect storm: shed load; the shell's `retry: 'always'` brings the client back.
        response = _plain(503, "too many conversations are being restored; retry shortly")
        response.headers["Retry-After"] = "1"
        return response

    # -- configuration ---------------------------------------------------------------------

    def _datastar_source(self, datastar: str | Path | None) -> tuple[Path | None, DatastarSource]:
        chosen = datastar if datastar is not None else os.environ.get(DATASTAR_ENV) or None
        if chosen is None:
            return None, DatastarSource()
        text = str(chosen)
        if text.startswith(("http://", "https://")):
            return None, DatastarSource(text, None)
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(
                f"the Datastar bundle {path} does not exist. Run `make setup` (or "
                "scripts/fetch-datastar) to fetch it, or leave datastar= unset to load it from "
                f"the CDN ({DATASTAR_ENV} is {os.environ.get(DATASTAR_ENV)!r})."
            )
        return path, DatastarSource(f"{self.base}/static/datastar.js", None)

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            self._sessions = Sessions(self._secret or load_secret(self._state_dir))
        return self._sessions

    def provide(self, *services: object) -> None:
        """Add services (reached with `service(Type)`) to those given to the constructor.

        For services that can only be made once the event loop runs (they open connections).
        """
        known = list(self.runtime.context.services.values())
        self.runtime.context = Context([*known, *services], self.runtime.views)

    @property
    def views(self) -> SharedViews:
        """The shared views: rendered once per update, sent to every page that shows them."""
        return self.runtime.views

    def _new_root(self, path: str = "/") -> Component:
        root = self.pages.get(path, self.root)()
        if not isinstance(root, Component):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"App root must make a Component, got {root!r}")
        return root

    def _prefix(self, request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    # -- routes -----------------------------------------------------------------------------

    async def _shell(self, request: Request) -> Response:
        sid = self.sessions.verify(request.cookies.get(COOKIE))
        cookie = None
        if sid is None:
            sid, cookie = self.sessions.new()
        prefix = self._prefix(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "/")
        live, step = await self.runtime.mint(
            self._new_root(path), owner=sid, base=prefix + self.base
        )
        body = next(
            (f.html for f in step.fragments if isinstance(f, Elements) and f.selector == "#root"),
            "",
        )
        datastar = self._datastar
        if self._datastar_file is not None:
            datastar = DatastarSource(prefix + datastar.url, None)
        html = shell_html(
            cid=live.conv.id,
            base=prefix + self.base,
            title=self.title,
            body=body,
            datastar=datastar,
            stylesheets=(f"{prefix}{self.base}/static/parlour.css", *self.stylesheets),
        )
        response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
        if cookie is not None:
            response.set_cookie(
                COOKIE, cookie, httponly=True, samesite="lax", path="/", max_age=400 * 86400
            )
        return response

    def _owner_ok(self, cookies: Mapping[str, str], owner: str | None) -> bool:
        if owner is None:
            return True
        sid = self.sessions.verify(cookies.get(COOKIE))
        return sid is not None and sid == owner

    async def _sse(self, scope: Scope, receive: Receive, send: Send, cid: str) -> None:
        """The stream: `take` a batch, write it, until the client goes or the page ends.

        A task waits for the client's disconnect and wakes the writer at once, so a closed
        tab gives back its connection without waiting for the next heartbeat.
        """
        live = await self.runtime.get(cid)
        if live is None:
            # Unknown (ended, reaped, or from a wiped store): reload into a fresh conversation.
            await self._reload(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self._owner_ok(cookie_parser(headers.get("cookie", "")), live.conv.owner):
            response = _plain(403, "this conversation belongs to another session; reload the page")
            await response(scope, receive, send)
            return
        connection = await self.runtime.connect(cid, last_event_id=headers.get("last-event-id"))
        if connection is None:
            await self._reload(scope, receive, send)
            return
        # Spread reconnects after a restart: each stream tells its client a different delay.
        retry: int | None = random.randint(500, 2000)
        gone = asyncio.ensure_future(_until_disconnect(receive))
        gone.add_done_callback(lambda _: connection.hang_up())
        try:
            await send(_SSE_START)
            while True:
                retry, done = await self._write_next(connection, send, retry)
                if connection.gone:
                    break  # the client left: nothing more to write, not even the end
                if done:
                    await send(_EMPTY)
                    break
        finally:
            gone.cancel()
            self.runtime.disconnect(connection)

    async def _write_next(
        self, connection: Connection, send: Send, retry: int | None
    ) -> tuple[int | None, bool]:
        """Wait for the next batch (or a heartbeat) and write it: `(retry, done)`.

        A function of its own so that an idle stream, waiting here, keeps nothing of the batch
        it wrote last (its HTML and SSE text), only this frame.
        """
        batch = await connection.take(self.heartbeat, window=self.window)
        if connection.gone:
            return retry, False
        if batch is None:
            body, done = _PING, False
        else:
            if connection.stale:
                await self.runtime.refresh(connection)
            body, done = self._encode_batch(batch, connection.event_id, retry)
            if body:
                retry = None
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
        return retry, done

    async def _reload(self, scope: Scope, receive: Receive, send: Send) -> None:
        reload = encode(Script("window.location.reload()"))
        await Response(reload, headers=dict(SSE_HEADERS))(scope, receive, send)

    def _encode_batch(
        self, batch: list[Fragment], event_id: str, retry: int | None
    ) -> tuple[bytes, bool]:
        """SSE bytes for a batch: `retry:` on the first event, the batch's id on the last."""
        sendable = [f for f in batch if not isinstance(f, Close)]
        done = len(sendable) != len(batch)
        # The id goes on the conversation's own last patch: shared-view patches are not in the
        # conversation's outbox, and are encoded once for all streams (no id, no retry).
        last = max(
            (i for i, f in enumerate(sendable) if not _is_shared(f)), default=len(sendable) - 1
        )
        parts: list[bytes] = []
        for index, fragment in enumerate(sendable):
            try:
                if _is_shared(fragment) and not (index == 0 and retry is not None):
                    parts.append(self._encode_shared(fragment))
                    continue
                parts.append(
                    encode(
                        fragment,
                        event_id=event_id if index == last else None,
                        retry=retry if index == 0 else None,
                    ).encode()
                )
            except ValueError as exc:
                log.error("parlour: dropped a fragment that cannot be sent: %s", exc)
        # A batch of one shared patch (a dashboard update) sends the cached bytes themselves.
        return (parts[0] if len(parts) == 1 else b"".join(parts)), done

    def _encode_shared(self, fragment: Fragment) -> bytes:
        # One encode per shared patch, however many streams send it: the newest patch per
        # view key is kept (the same object reaches every stream; identity is the check).
        key = fragment.key if isinstance(fragment, Elements) else None
        cached = self._shared_text.get(key or "")
        if cached is not None and cached[0] is fragment:
            return cached[1]
        text = encode(fragment).encode()
        if key is not None:
            if len(self._shared_text) >= 4096:
                self._shared_text.clear()
            self._shared_text[key] = (fragment, text)
        return text

    def _cross_origin(self, headers: Headers) -> bool:
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

    async def _read_body(self, headers: Headers, receive: Receive) -> bytes | Response:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return _plain(413, f"request body over {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return Response(status_code=400)  # the client went before its body arrived
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return _plain(413, f"request body over {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _event(
        self, scope: Scope, receive: Receive, send: Send, cid: str, iid: str, name: str
    ) -> None:
        response = await self._handle_event(scope, receive, cid, iid, name)
        if response is None:
            await send(_NO_CONTENT)
            await send(_EMPTY)
        else:
            await response(scope, receive, send)

    async def _handle_event(
        self, scope: Scope, receive: Receive, cid: str, iid: str, name: str
    ) -> Response | None:
        """Check and dispatch one event; None for the usual answer, 204 No Content."""
        headers = Headers(scope=scope)
        if self._cross_origin(headers):
            return _plain(403, "cross-origin POST refused")
        live = await self.runtime.get(cid)
        if live is None:
            return _plain(404, f"no conversation {cid!r}; reload the page")
        if not self._owner_ok(cookie_parser(headers.get("cookie", "")), live.conv.owner):
            return _plain(403, "this conversation belongs to another session")
        body = await self._read_body(headers, receive)
        if isinstance(body, Response):
            return body
        try:
            signals = signals_from_body(body, headers.get("content-type"))
        except BadSignals as exc:
            return _plain(400, str(exc))
        payload: Any = None
        if scope["query_string"]:
            raw_payload = QueryParams(scope["query_string"]).get("p")
            if raw_payload is not None:
                try:
                    payload = json.loads(raw_payload)
                except ValueError as exc:
                    return _plain(400, f"the event payload (?p=) is not valid JSON: {exc}")
                except RecursionError:
                    return _plain(400, "the event payload (?p=) nests arrays or objects too deeply")
        inst = live.conv.instances.get(iid)
        if inst is None:
            return None  # a stale click on something no longer shown
        if name not in type(inst.component).__parlour_events__:
            return _plain(404, f"{type(inst.component).__qualname__} has no @event {name!r}")
        event = kernel.Event(iid, name, payload, signals, now=self.clock())
        await self.runtime.dispatch(cid, event)
        return None

    async def _back(self, request: Request) -> Response:
        if self._cross_origin(request.headers):
            return _plain(403, "cross-origin POST refused")
        cid = request.path_params["cid"]
        live = await self.runtime.get(cid)
        if live is None:
            return _plain(404, f"no conversation {cid!r}; reload the page")
        if not self._owner_ok(request.cookies, live.conv.owner):
            return _plain(403, "this conversation belongs to another session")
        raw = request.query_params.get("to")
        to: int | None = None
        if raw is not None:
            try:
                to = int(raw)
            except ValueError:
                return _plain(400, f"?to= must be a history depth (an integer), got {raw!r}")
        await self.runtime.back(cid, to=to)
        return Response(status_code=204)

    async def _static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "datastar.js" and self._datastar_file is not None:
            return FileResponse(
                self._datastar_file,
                media_type="text/javascript",
                headers={"Cache-Control": "public, max-age=86400"},
            )
        path = STATIC / name
        try:
            found = "/" not in name and not name.startswith(".") and path.is_file()
        except (OSError, ValueError):  # a name too long (ENAMETOOLONG) or not a file name
            found = False
        if not found:
            return _plain(404, f"no static file {name[:100]!r}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


_ = (Fragment,)
