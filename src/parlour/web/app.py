"""`App(Root)`: a parlour application as an ASGI app: its configuration and its routes.

    GET  <page path>                          the shell (`parlour.web.shell`): mints a
                                              conversation, sets the session cookie
    GET  BASE/sse/CID                         the stream (`parlour.web.stream`)
    POST BASE/event/CID/IID/EVENT             one event; 204 (`parlour.web.events`)
    POST BASE/back/CID[?to=DEPTH]             step back in history; 204 (`parlour.web.events`)
    POST BASE/upload/CID/IID/NAME             files for an `@upload` handler; 204
                                              (`parlour.web.upload`)
    POST BASE/retry/CID                       an error block's "Try again"; 204
    POST BASE/restart/CID                     an error block's "Start over"; 204
                                              (both `parlour.web.recovery`)
    GET  BASE/static/FILE                     the stylesheet, the scripts, Datastar, the app's
                                              own files (`parlour.web.static`)

The URL shapes are `parlour.core.routes`'; BASE is `/_parlour` unless `base=` says otherwise.
`App` mounts inside a Starlette or FastAPI app like any ASGI app; its URLs follow the mount.

What is configurable after construction is a method, not an attribute to assign: `use_store`
and `use_bus` before serving (the CLI's `--store` and `--bus`), `set_window` at any time (the
console's live setting), `provide` for services made once the event loop runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from parlour.bus import EventBus, InProcessBus, open_bus
from parlour.core.component import Component
from parlour.core.routes import BACK, EVENT, RESTART, RETRY, STATIC, STREAM, UPLOAD, static_path
from parlour.runtime import RestoreBusy, Runtime
from parlour.runtime.failures import OnError
from parlour.runtime.runtime import OnEnd
from parlour.runtime.views import SharedViews
from parlour.stores.protocol import ConversationStore
from parlour.web.assets import Assets, Entry
from parlour.web.datastar import DatastarSource, choose, missing_message
from parlour.web.events import Events
from parlour.web.identity import Authenticate, Ownership, identity
from parlour.web.pages import RootFactory, pages_of
from parlour.web.recovery import Recovery
from parlour.web.responses import busy, plain, route_path
from parlour.web.security import guard, page_policy
from parlour.web.session import COOKIE, Owners, Sessions
from parlour.web.shell import shell_html
from parlour.web.static import DATASTAR_FILE, StaticFiles
from parlour.web.stream import Streams
from parlour.web.upload import Uploads
from parlour.web.visits import Visits, forget_tab

if TYPE_CHECKING:
    from parlour.devtools.routes import Inspector

__all__ = ["App"]

log = logging.getLogger("parlour")

type _Handler = Callable[..., Awaitable[None]]


def _check_window(seconds: float) -> float:
    try:
        ok = math.isfinite(seconds) and seconds >= 0
    except TypeError:  # not a number at all
        ok = False
    if not ok:
        raise ValueError(
            f"the coalescing window must be a number of seconds >= 0, got {seconds!r}; "
            "e.g. 0.05 (0 sends every update at once)"
        )
    return float(seconds)


class App:
    """An ASGI application serving the component `root` (a class, or a factory of instances).

    `root` may also map paths to roots, `{"/": Agents, "/status": Status}`: a multi-page
    app whose every page is its own conversation (links between them are plain links).
    `services` are objects components reach with `parlour.core.context.service(Type)`;
    `views` are the shared views they embed with `shared(name)` (also `app.views`).
    `bus` is an `EventBus`, or a URL (`memory`, `nats://HOST:PORT`) connected when serving
    starts. `on_end(cid, value)` is told what a conversation ended with (its root frame's
    answer, or a root `@flow`'s return value). `datastar` is where pages load Datastar from
    (`parlour.web.datastar`; by default the bundle the package serves itself).
    `allowed_hosts` are the names it answers besides the local ones (any other `Host` is a
    400; `["*"]` allows every host); `csp` overrides directives of the pages'
    Content-Security-Policy, e.g. `{"img-src": "'self' https://images.example"}`
    (`parlour.web.security`; docs/security.md).
    `stylesheets` and `scripts` are URLs or local files (`Path`, served by the app) that pages
    load after parlour's own: scripts are where client-side behaviours live
    (`parlour.web.assets`, `parlour.core.widgets`). `on_error(cid, component, phase, error)`
    may return what the user sees instead of the stock error block, or None for the stock
    block; it is told of every failure (`parlour.runtime.failures`).
    `authenticate(request)` (sync or async) says who a request is: a principal (a name, a
    user object, claims) or None; a conversation belongs to the principal that opened it,
    every event and stream is checked again, and components read it with `principal()`
    (`parlour.web.identity`; docs/security.md).
    `dev=True` turns the inspector on (`parlour run --dev`, or `use_dev()`): every page gets
    a panel on its conversation (`parlour.devtools`; off by default, and then absent).
    `compress` gzips the streams of browsers that accept it (`parlour.wire.compress`); None,
    the default, means on unless `PARLOUR_COMPRESS=0` (the CLI's `--no-compress`).
    """

    def __init__(
        self,
        root: RootFactory | Mapping[str, RootFactory],
        *,
        title: str = "parlour",
        base: str = "/_parlour",
        store: ConversationStore | None = None,
        bus: EventBus | str | None = None,
        secret: str | None = None,
        state_dir: str | Path = ".parlour",
        datastar: str | Path | None = None,
        stylesheets: Iterable[Entry] = (),
        scripts: Iterable[Entry] = (),
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
        on_end: OnEnd | None = None,
        on_error: OnError | None = None,
        allowed_hosts: Iterable[str] = (),
        csp: Mapping[str, str] | None = None,
        authenticate: Authenticate | None = None,
        dev: bool = False,
        compress: bool | None = None,
    ) -> None:
        self.pages = pages_of(root)
        self.root = self.pages.get("/", next(iter(self.pages.values())))
        self.title = title
        self.base = "/" + base.strip("/")
        self.assets = Assets(scripts, stylesheets)
        self.reap_interval = reap_interval
        self.clock = clock
        window = _check_window(window)
        self.runtime = Runtime(
            store=store,
            bus=bus if bus is not None and not isinstance(bus, str) else InProcessBus(),
            history_limit=history_limit,
            clock=clock,
            ttl=ttl,
            max_restores=max_restores,
            services=services,
            views=views if views is not None else SharedViews(window=window),
            on_end=on_end,
            on_error=on_error,
        )
        self._bus_url: str | None = bus if isinstance(bus, str) else None
        self._started = False
        self._closed = False
        self._starting = asyncio.Lock()
        self._owners = Owners(secret, state_dir)
        self._ownership = Ownership(self._owners, authenticate)
        self._visits = Visits(self.runtime, self._ownership)
        self._datastar = choose(datastar)
        self.policy = page_policy(self._datastar, csp, self.assets.remote_stylesheets)
        self._allowed_hosts = tuple(allowed_hosts)
        self._streams = Streams(
            self.runtime,
            self._owners,
            heartbeat=heartbeat,
            window=window,
            ownership=self._ownership,
            compress=compress,
        )
        self._events = Events(
            self.runtime, self._owners, max_body=max_body, clock=clock, ownership=self._ownership
        )
        # Uploaded files live in STATE_DIR/uploads/CID until their conversation ends.
        self._uploads = Uploads(
            self.runtime,
            self._owners,
            folder=Path(state_dir) / "uploads",
            clock=clock,
            ownership=self._ownership,
        )
        self.runtime.on_end = self._uploads.ended(on_end)
        self._hot = self.base + "/"
        self._event_route = f"{self.base}/{EVENT}/"
        self._stream_route = f"{self.base}/{STREAM}/"
        self._guard()
        static = StaticFiles(self._datastar, self.assets.files)
        recovery = Recovery(self.runtime, self._ownership)
        self._app = Starlette(
            routes=[
                *(Route(path, self._shell, methods=["GET"]) for path in self.pages),
                Route(f"{self.base}/{BACK}/{{cid}}", self._events.back, methods=["POST"]),
                Route(f"{self.base}/{RETRY}/{{cid}}", recovery.retry, methods=["POST"]),
                Route(f"{self.base}/{RESTART}/{{cid}}", recovery.restart, methods=["POST"]),
                Route(f"{self.base}/{STATIC}/{{name}}", static.serve, methods=["GET"]),
                Route(
                    f"{self.base}/{UPLOAD}/{{cid}}/{{iid}}/{{name}}",
                    self._uploads,
                    methods=["POST"],
                ),
            ],
            lifespan=self._lifespan,
            exception_handlers={RestoreBusy: self._busy},
        )
        self.inspector: Inspector | None = None
        """The inspector, in dev mode (`use_dev`); None otherwise."""
        if dev:
            self.use_dev()

    def __repr__(self) -> str:
        return f"App({getattr(self.root, '__qualname__', self.root)!r}, base={self.base!r})"

    # -- what a host may read and choose --------------------------------------------------

    @property
    def bus(self) -> EventBus:
        """The event bus components publish to and subscribe on."""
        if self._bus_url is not None or self.runtime.bus is None:
            raise RuntimeError(
                f"App.bus: the bus at {self._bus_url!r} is connected when the app starts "
                "serving; use it from then on (or pass an EventBus to App(bus=...))"
            )
        return self.runtime.bus

    @property
    def store(self) -> ConversationStore:
        """Where conversations are saved."""
        return self.runtime.store

    @property
    def views(self) -> SharedViews:
        """The shared views: rendered once per update, sent to every page that shows them."""
        return self.runtime.views

    @property
    def window(self) -> float:
        """Seconds a stream waits to coalesce background updates (see `set_window`)."""
        return self._streams.window

    @property
    def sessions(self) -> Sessions:
        return self._owners.sessions

    @property
    def open_streams(self) -> int:
        """Streams open now (one per tab that is connected), for health pages and metrics."""
        return self.runtime.connection_count

    @property
    def live_conversations(self) -> int:
        """Conversations held in this process's memory now (the rest are only in the store)."""
        return len(self.runtime.live)

    def set_window(self, seconds: float) -> None:
        """Coalesce background updates within `seconds`, from now on: open streams and shared
        views alike (a tab's own clicks are always answered at once)."""
        seconds = _check_window(seconds)
        self._streams.window = seconds
        self.runtime.views.window = seconds

    def use_store(self, store: ConversationStore | str, *, fallback: bool = False) -> bool:
        """Save conversations in `store` (a store, or a spec such as `sqlite:PATH`; see
        `parlour.stores.open_store`), before serving. With `fallback=True` only an app built
        without a store takes it. True when `store` is now in use.

        A bad spec raises ValueError naming the accepted forms.
        """
        if self._started:
            raise RuntimeError("use_store() must be called before the app serves requests")
        if fallback and not self.runtime.store_is_default:
            return False
        if isinstance(store, str):
            from parlour.stores import open_store

            store = open_store(store)
        self.runtime.use_store(store)
        return True

    def use_bus(self, bus: EventBus | str) -> None:
        """Use `bus`, or the bus at URL `bus` (`memory`, `nats://HOST:PORT`, connected when
        serving starts), instead of the one the app was built with."""
        if self._started:
            raise RuntimeError("use_bus() must be called before the app serves requests")
        if isinstance(bus, str):
            self._bus_url = bus
        else:
            self._bus_url = None
            self.runtime.use_bus(bus)

    def use_dev(self) -> None:
        """Turn the inspector on (the CLI's `--dev`), before serving: every page gets a toggle
        that opens a panel on its conversation, served under `BASE/dev` (`parlour.devtools`)."""
        if self._started:
            raise RuntimeError("use_dev() must be called before the app serves requests")
        if self.inspector is None:
            from parlour.core.routes import dev_path
            from parlour.devtools.routes import Inspector

            self.inspector = Inspector(self.runtime, self._ownership, clock=self.clock)
            self._app.router.routes.insert(0, Mount(dev_path(self.base), app=self.inspector))

    def allow_hosts(self, *hosts: str) -> None:
        """Also answer requests for `hosts` (the CLI's `--allowed-host`), before serving.

        A malformed name raises ValueError naming it (`parlour.web.security.allowed_hosts`).
        """
        if self._started:
            raise RuntimeError("allow_hosts() must be called before the app serves requests")
        self._allowed_hosts += hosts
        self._guard()

    def reauthenticate(self, *principals: object) -> int:
        """Check the open streams of `principals`' conversations (of all, given none) against
        `authenticate` now, rather than at their next heartbeat: call it when someone signs
        out or loses access. A stream whose request no longer authenticates as its
        conversation's principal closes, and its tab reloads. Returns how many were asked.
        """
        keys = {identity(p) for p in principals}
        asked = 0
        for live in self.runtime.live.values():
            if principals and identity(live.principal) not in keys:
                continue
            for connection in live.connections:
                connection.nudge()
                asked += 1
        return asked

    def provide(self, *services: object) -> None:
        """Add services (reached with `service(Type)`) to those given to the constructor.

        For services that can only be made once the event loop runs (they open connections).
        """
        self.runtime.provide(*services)

    async def close(self) -> None:
        """Stop the runtime (timers, streams, background work), then close the bus.

        For good: its store and bus are closed with it, so a closed App answers every request
        503 and refuses to start again (`with TestClient(app)` a second time raises, saying
        how to make an App per test instead)."""
        self._closed = True
        self._started = False  # every request now reaches `_serve`, which answers 503
        await self.runtime.close()
        if self.runtime.bus is not None:
            await self.runtime.bus.close()

    # -- serving ----------------------------------------------------------------------------

    async def _start(self) -> None:
        """Connect the bus and start the reaper, once, before the first request is served.

        Done here rather than only in lifespan: a mounted sub-app never sees lifespan events.
        """
        async with self._starting:
            if self._started:
                return
            if self._closed:
                raise RuntimeError(
                    f"{self!r} was closed (its lifespan ended, or `app.close()` was awaited) "
                    "and cannot start again: its store, bus and streams are closed for good. "
                    "Expected one lifespan per App. Fix: make the App in a function and call "
                    "it for each server or test (a pytest fixture returning `App(...)`), or "
                    "keep one `TestClient(app)` open for all the tests that share this app "
                    "(a module-scoped fixture); parlour's pytest fixtures never close an app "
                    "they are given."
                )
            if self._bus_url is not None:
                old = self.runtime.use_bus(await open_bus(self._bus_url))
                self._bus_url = None
                if old is not None:
                    await old.close()
            await self.runtime.start()  # a shared store: this process joins the cluster
            if self.runtime.cluster is not None:
                self._owners.share(self.runtime.cluster.secret)
            if not self._datastar.available:
                log.warning(missing_message(self._datastar))
            self.runtime.start_reaper(self.reap_interval)
            self._started = True

    def _guard(self) -> None:
        """Host check, security headers, relative redirects (parlour.web.security), in front
        of every route; the event route asks the same guard's parts itself."""
        self._guarded = guard(self._serve, allowed_hosts=self._allowed_hosts, policy=self.policy)
        self._events.guard = self._guarded
        self._streams.guard = self._guarded

    @inspect.markcoroutinefunction
    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The ASGI app: hands the server the chosen route's coroutine to await, so no frame of
        the App's stays alive under an open stream (one per idle tab, 264 bytes). Marked a
        coroutine function: servers tell ASGI 3 apps by that."""
        if scope["type"] == "http" and self._started:
            # A click (`POST event/CID/IID/NAME`) and a tab's stream (`GET sse/CID`) are matched
            # here and their routes check the Host themselves, with the guard's cached answer
            # (they read the headers anyway), instead of passing through the guard's layers: an
            # idle stream awaited inside them kept their frames alive, 1.5 KB per open tab
            # (docs/decisions/0011-click-path-by-hand.md, 0013-the-click-and-the-htpy-floor.md).
            method = scope["method"]
            if method == "POST" or method == "GET":
                path: str = scope["path"]
                if scope.get("root_path"):
                    path = route_path(scope)
                if method == "POST":
                    prefix = self._event_route
                    if path.startswith(prefix):
                        parts = path[len(prefix) :].split("/")
                        if len(parts) == 3 and "" not in parts:
                            cid, iid, name = parts
                            return self._events.event(scope, receive, send, cid, iid, name)
                elif path.startswith(self._stream_route):
                    cid = path[len(self._stream_route) :]
                    if cid and "/" not in cid:
                        return self._streams(scope, receive, send, cid)
        return self._guarded(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not self._started:
                if self._closed:  # shut down: shed like load, the client comes back
                    await busy("this server has shut down; retry shortly")(scope, receive, send)
                    return
                await self._start()
            # The two routes every click and every open tab use are plain ASGI: Starlette's
            # router, middleware, Request and Response were a fifth of a click's CPU and most
            # of an idle stream's memory (docs/decisions/0005-hot-routes-in-plain-asgi.md).
            hot = self._hot_route(scope)
            if hot is not None:
                try:
                    await hot[0](scope, receive, send, *hot[1])
                except RestoreBusy as exc:
                    await busy(exc.reason)(scope, receive, send)
                return
        await self._app(scope, receive, send)

    def _hot_route(self, scope: Scope) -> tuple[_Handler, list[str]] | None:
        """The handler of `event/CID/IID/NAME` or `sse/CID` and its arguments, else None.

        A wrong method gets a handler that answers 405. (Returned rather than awaited here,
        so a long-lived stream keeps none of this frame's strings alive.)
        """
        path = route_path(scope)
        if not path.startswith(self._hot):
            return None
        kind, _, rest = path[len(self._hot) :].partition("/")
        parts = rest.split("/")
        handler: _Handler
        if kind == EVENT and len(parts) == 3 and all(parts):
            handler, method = self._events.event, "POST"
        elif kind == STREAM and len(parts) == 1 and parts[0]:
            handler, method = self._streams, "GET"
        else:
            return None
        if scope["method"] != method:
            return self._wrong_method, [path, method]
        return handler, parts

    async def _wrong_method(
        self, scope: Scope, receive: Receive, send: Send, path: str, method: str
    ) -> None:
        response = plain(405, f"{path} only answers {method}")
        response.headers["Allow"] = method
        await response(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncGenerator[None]:
        await self._start()
        yield
        await self.close()

    async def _busy(self, request: Request, exc: Exception) -> Response:
        return busy(exc.reason if isinstance(exc, RestoreBusy) else RestoreBusy.reason)

    # -- the page and its files -------------------------------------------------------------

    def _new_root(self, path: str = "/") -> Component:
        root = self.pages.get(path, self.root)()
        if not isinstance(root, Component):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"the App page {path!r} must make a Component, but its factory returned "
                f"{root!r}; return an instance of a Component subclass"
            )
        return root

    async def _shell(self, request: Request) -> Response:
        sessions = self._owners.sessions
        sid = sessions.verify(request.cookies.get(COOKIE))
        cookie = None
        if sid is None:
            sid, cookie = sessions.new()
        base = request.scope.get("root_path", "").rstrip("/") + self.base
        route = request.scope.get("route")
        path = getattr(route, "path", "/")
        opened = await self._visits.open(
            request,
            sid=sid,
            new_session=cookie is not None,
            base=base,
            root=lambda: self._new_root(path),
        )
        live = opened.live
        datastar = self._datastar
        if datastar.file is not None:
            datastar = DatastarSource(url=static_path(base, DATASTAR_FILE), integrity=None)
        html = shell_html(
            cid=live.conv.id,
            base=base,
            title=self.title,
            body=opened.body,
            datastar=datastar,
            stylesheets=self.assets.stylesheets(base),
            scripts=self.assets.scripts(base),
            tail="" if self.inspector is None else self.inspector.tail(base, live.conv.id),
        )
        # The page's own policy: its scripts carry the conversation's nonce (web/security).
        csp = self.policy.header(self._streams.nonces(live.conv.id))
        response = HTMLResponse(
            html, headers={"Cache-Control": "no-store", "Content-Security-Policy": csp}
        )
        if cookie is not None:
            response.set_cookie(
                COOKIE, cookie, httponly=True, samesite="lax", path="/", max_age=400 * 86400
            )
        forget_tab(response, request)
        return response
