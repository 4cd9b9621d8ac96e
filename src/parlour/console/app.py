"""The console as one ASGI app: pages, shared panels, the HTTP API, and (with --demo) a swarm.

    console = Console(store="sqlite:.parlour/state.sqlite", bus=None, token=None, demo=True)
    uvicorn.run(console, ...)            # or: parlour console --demo

    /                 Agents page       /api/events     POST an event, GET the JSON SSE feed
    /status           Status page       /api/replay     stored events after a cursor
    /config           Config page       /api/questions  ask, long-poll, answer
    /projector        read-only, large type        /mobile   questions first, for a phone
    /_parlour/...     the pages' streams and events (parlour.web.App)
    /_console/signin, /_console/signout   signing in to the pages (parlour.console.signin)
    /mcp              the Model Context Protocol: ask_human, report (parlour.console.mcp)

Who may use it (`parlour.console.access`): with users (`parlour console user add`) the
pages want a name and password, with only a token (`token=` or PARLOUR_CONSOLE_TOKEN) they
want the token; the API wants the token as a bearer. With neither the console warns once at
start and every page says "Not protected". The pages' `App` is given the same rule as its
`authenticate`, so each conversation belongs to the person who opened it (checked again on
every event and stream by the framework) and a page reads who with `principal()`.

The whole app, pages and API alike, is wrapped in `parlour.web.security.guard` (the rule
every parlour server follows): a request must name an allowed host (the local names plus
`allowed_hosts`), else 400, so a DNS name pointed at a person's machine (DNS rebinding)
cannot reach the console through their browser; every response carries the security
headers, and no redirect echoes the Host.

At startup it opens the journal (`.parlour/console.sqlite`, the console's event history),
the bus (in-process by default, ids continuing after the journal's; or NATS), and the hub
that folds every event into the console state; then it builds the pages' `App` on that bus
and store with the hub as a service, registers the shared panels, and routes the hub's
"these parts changed" to the views that show them (a `config.changed` of the window goes to
`App.set_window`). A ticker re-renders the Status and Config figures every `tick` seconds
(R23/R25: "Last updated" keeps moving). Until then `/api` and the pages answer 503.

On a NATS bus (`bus="nats://…"`, with `store="nats://…"` for the pages' conversations) the
console is one node of a cluster (`parlour.console.cluster`): its journal is the bus's
stream and its question claims are in a key-value bucket, so any number of nodes show the
same pages and accept each answer once. A NATS store on an in-process bus is refused: the
pages would be shared but not what they show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from parlour.bus import EventBus, InProcessBus
from parlour.console import cards, panels, status
from parlour.console.access import COOKIE, Access
from parlour.console.api import api_app
from parlour.console.demo import run_swarm
from parlour.console.hub import Hub
from parlour.console.journal import open_journal
from parlour.console.mcp import McpEndpoint
from parlour.console.pages import PAGES
from parlour.console.signin import SignIn
from parlour.console.users import USERS_FILE, Users
from parlour.stores import DEFAULT_STORE_SPEC, open_store
from parlour.stores.protocol import ConversationStore
from parlour.web.app import App
from parlour.web.security import allowed_hosts as hosts_with
from parlour.web.security import guard
from parlour.web.session import load_secret

if TYPE_CHECKING:
    from parlour.console.cluster import ConsoleCluster

__all__ = ["STREAM_JOURNAL", "TOKEN_ENV", "UNPROTECTED_WARNING", "Console"]

log = logging.getLogger("parlour.console")

TOKEN_ENV = "PARLOUR_CONSOLE_TOKEN"
SECRET_ENV = "PARLOUR_SECRET"
STATIC = Path(__file__).parent / "static"
UNPROTECTED_WARNING: Final = (
    "NOT PROTECTED: no --token and no users, so anyone who can reach this console "
    "can answer its questions; set --token (or PARLOUR_CONSOLE_TOKEN) or add users with "
    "`parlour console user add NAME` before exposing it beyond this machine"
)


STREAM_JOURNAL: Final = "stream"
"""`Console(journal=...)` for the NATS bus's own stream (the default on a NATS bus)."""


def _check_shared(store: str, bus: str | None, journal: str) -> None:
    """Refuse a console whose pages would be shared by nodes but whose events would not."""
    on_nats = bus not in (None, "memory")
    if store.startswith(("nats://", "tls://")) and not on_nats:
        raise ValueError(
            f"a console on the NATS store {store!r} needs a NATS bus too (got bus={bus!r}): "
            "every node would show its own events and questions. Fix: give the same NATS "
            "as the bus, e.g. --bus nats://HOST:PORT, or use a local store"
        )
    if journal == STREAM_JOURNAL and not on_nats:
        raise ValueError(
            f"journal={STREAM_JOURNAL!r} is the NATS bus's stream, but the bus is {bus!r}. "
            "Fix: give bus='nats://HOST:PORT', or a SQLite path or 'memory' as the journal"
        )


class Console:
    """The parlour console, ready to serve (an ASGI app with its own lifespan)."""

    def __init__(
        self,
        *,
        store: str | None = None,
        bus: str | None = None,
        token: str | None = None,
        demo: bool = False,
        state_dir: str | Path = ".parlour",
        journal: str | None = None,
        secret: str | None = None,
        tick: float = 2.0,
        swarm: dict[str, Any] | None = None,
        allowed_hosts: Sequence[str] | None = None,
        demo_swarm: bool = True,
    ) -> None:
        """`allowed_hosts`: the Host names it answers besides the local ones
        (`parlour.web.security.allowed_hosts`: `*.example.com` for subdomains, `*` for any;
        a malformed name is a ValueError). The users file is `state_dir/console-users.json`.
        `journal`: a SQLite path, "memory", or "stream" (the NATS bus's stream, the default
        on a NATS bus). `demo_swarm=False`: with `demo`, run no swarm here (a cluster runs
        one, on one node)."""
        self.state_dir = Path(state_dir)
        self.store_spec = store or DEFAULT_STORE_SPEC
        self.bus_url = bus
        self.token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
        self.demo = demo
        self.demo_swarm = demo_swarm
        clustered = bus not in (None, "memory")
        self.journal_spec = journal or (
            STREAM_JOURNAL if clustered else str(self.state_dir / "console.sqlite")
        )
        _check_shared(self.store_spec, bus, self.journal_spec)
        self.tick = tick
        self.swarm_options = swarm or {}
        self.started = time.time()
        self.secret = secret
        self._extra_hosts = tuple(allowed_hosts or ())
        self.allowed_hosts = hosts_with(self._extra_hosts)  # checked here: a bad name fails now
        self.access = Access(
            token=self.token,
            users=Users(self.state_dir / USERS_FILE),
            secret=lambda: self.secret or load_secret(self.state_dir),
        )
        self.store: ConversationStore = open_store(self.store_spec)  # a bad spec fails here
        self.hub: Hub | None = None
        self.figures = status.Figures(self)
        self._pages: App | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._api_app: Starlette | None = None
        self._cluster: ConsoleCluster | None = None
        self.mcp = McpEndpoint(lambda: self.hub, self.access)
        """The Model Context Protocol at /mcp (`parlour.console.mcp`)."""
        routes = Starlette(
            routes=[
                Route("/_console/console.css", self._css, methods=["GET"]),
                Mount("/api", app=self._api),
                Route("/mcp", self.mcp),  # every method: it answers 405 itself
                Mount("/", app=self._serve_pages),
            ],
            lifespan=self._lifespan,
        )
        self._app = guard(SignIn(routes, self.access), allowed_hosts=self._extra_hosts)

    def __repr__(self) -> str:
        return f"Console(store={self.store_spec!r}, bus={self.bus_url or 'memory'!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    @property
    def pages(self) -> App:
        """The pages' app (the Agents, Status and Config pages and their streams)."""
        if self._pages is None:
            raise RuntimeError(
                "Console.pages: the pages are built when the console starts (on the bus it "
                "opens then); call `await console.start()` or serve it first"
            )
        return self._pages

    async def _serve_pages(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The pages, once they exist (they are built at startup)."""
        if self._pages is None:
            if scope["type"] == "http":
                response = PlainTextResponse("the console is starting; retry shortly", 503)
                await response(scope, receive, send)
            return
        await self._pages(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The HTTP API, once the hub exists (it is built at startup)."""
        if self._api_app is None:
            response = JSONResponse({"error": "the console is starting; retry shortly"}, 503)
            await response(scope, receive, send)
            return
        await self._api_app(scope, receive, send)

    async def _css(self, request: Request) -> Response:
        return FileResponse(STATIC / "console.css", headers={"Cache-Control": "max-age=300"})

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncGenerator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.close()

    async def start(self) -> None:
        """Open the journal, the bus and the hub; build the pages on them and wire the
        panels; start the ticker (and the demo swarm). Warns when nothing is protected."""
        self.access.users.names()  # an unreadable users file fails here, saying why
        if not self.access.protected:
            log.warning(UNPROTECTED_WARNING)
        else:
            log.info("%s", self._protection())
        bus: EventBus
        cluster: ConsoleCluster | None = None
        if self.bus_url is None or self.bus_url == "memory":
            journal = open_journal(self.journal_spec)
            bus = InProcessBus(first_id=journal.last_id() + 1)
        else:  # one node of a cluster: the bus's stream and the claims bucket
            from parlour.console.cluster import ConsoleCluster
            from parlour.stores.nats_kv import NatsKvStore

            local = None if self.journal_spec == STREAM_JOURNAL else self.journal_spec
            cluster = await ConsoleCluster.join(self.bus_url, journal=local)
            journal, bus = cluster.journal, cluster.bus
            store = self.store  # on NATS the pages' nodes share a secret: sign-ins too
            if isinstance(store, NatsKvStore) and not (self.secret or os.environ.get(SECRET_ENV)):
                try:
                    self.secret = await cluster.session_secret(store.bucket)
                except BaseException:
                    await cluster.close()
                    await bus.close()
                    raise
        hub = Hub(bus, journal, claims=cluster.claims if cluster is not None else None)
        try:
            await hub.start()
        except BaseException:
            await hub.close()  # closes the journal
            await bus.close()
            if cluster is not None:
                await cluster.close()
            raise
        self._cluster = cluster
        self.hub = hub
        pages = App(
            dict(PAGES),
            title="parlour console",
            store=self.store,
            bus=bus,
            secret=self.secret,
            state_dir=self.state_dir,
            stylesheets=("/_console/console.css",),
            scripts=(STATIC / "console.js",),  # the title count, notifications, the chart
            # No screen to go back to (pages are plain links, no frames): a snapshot per click
            # for *back* would make a tab cost ~100 KB more after 50 clicks (console_memory).
            history_limit=0,
            window=hub.state.settings.window,
            services=[hub, self.access],
            allowed_hosts=self._extra_hosts,
            authenticate=self._authenticate,
        )
        self._pages = pages
        panels.register(pages.views, lambda: hub.state)
        cards.register(pages.views, lambda: hub.state)
        self.figures.register(pages.views)
        hub.listen(self._changed)
        self._api_app = api_app(hub, access=self.access)
        try:
            await self.mcp.start()
        except ImportError as exc:  # the SDK is a dependency; a broken install says so
            log.warning("parlour console: /mcp is off: the mcp package cannot load (%s)", exc)
        self._tasks.append(asyncio.ensure_future(self.figures.run(self.tick)))
        if self.demo and self.demo_swarm:
            # Runs started from the launcher are the swarm's next runs (in a cluster, runs
            # launched on any node: their run.requested events).
            requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            if cluster is None:
                hub.on_launch(requests.put_nowait)
            else:
                from parlour.console.cluster import feed_launches

                self._tasks.append(asyncio.ensure_future(feed_launches(hub, requests)))
            self._tasks.append(
                asyncio.ensure_future(run_swarm(hub, requests=requests, **self.swarm_options))
            )

    def _authenticate(self, request: Request) -> str | None:
        """Who a pages' request is (the App checks it on the page, every event and stream):
        the signed-in person, `anonymous` when nobody is asked, None for a stranger (whom
        the sign-in guard has turned away already)."""
        return self.access.person(request.cookies.get(COOKIE))

    def _protection(self) -> str:
        """One line for the log: what the pages and the API ask for."""
        access = self.access
        if access.mode == "users":
            count = len(access.users.names())
            pages = f"a name and password ({count} users in {access.users.path})"
        else:
            pages = "the token"
        api = "asks the token as a bearer" if access.token is not None else "is closed (no token)"
        return f"sign-in: the pages ask {pages}; the API {api}"

    def _changed(self, parts: frozenset[str]) -> None:
        pages = self.pages
        names = panels.part_views(parts)
        if "services" in parts:
            names.append("health")
        if "settings" in parts:
            assert self.hub is not None
            pages.set_window(self.hub.state.settings.window)  # live: streams and views
            names.append("settings")
        if names:
            pages.views.invalidate(*names)

    async def close(self) -> None:
        """Stop the ticker and the swarm, then the pages (and the bus), then the hub."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        if self._pages is not None:
            await self._pages.close()  # the runtime first, so no page calls a closed hub
        await self.mcp.close()
        if self.hub is not None:
            await self.hub.close()
        if self._cluster is not None:
            await self._cluster.close()
