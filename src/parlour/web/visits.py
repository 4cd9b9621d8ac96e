"""The page GET: a visit opens a new conversation, or a reload takes its tab's own back.

    GET /items/7?tab=2    -> Visit(path="/items/7", query={"tab": "2"}, params={"id": "7"})
                             for the root's `visited`, the principal from `authenticate`,
                             a conversation owned by this session and this principal

A reload keeps the tab's conversation; a new tab starts a new one. The tab tells the server
which conversation it held: as the page unloads (`beforeunload`, which runs before the
browser sends the reload's request) the shell writes a short-lived cookie,

    parlour_tab = CID + " " + location.pathname + location.search      (10 s, SameSite=Lax)

and the page GET that carries it, for that same address, from the session and principal
that own CID, shows CID again (a full render of its top frame, `wakeup` first if it was
restored from the store) instead of minting a conversation. The answer deletes the cookie.

Why a cookie written on unload, and not `sessionStorage`: the server must know before it
renders, or every reload would boot (and store) a conversation only to throw it away, and
show its first render before the real one. A tab that never unloads sends no cookie, so a
new tab, a duplicated tab (which copies `sessionStorage`, not cookies) and a link opened
in the background all start fresh; so does a reload whose address changed (an edited URL
is a new visit). A tab closed and its address opened again within those 10 seconds gets
the closed tab's conversation back, which is what "reopen closed tab" would do anyway.
If the cookie is lost (cookies off; the write raced the request), the reload is an
ordinary visit: a new conversation, at the state the URL carries (`url()`).

What this module does not do: write the shell's HTML (`parlour.web.shell`) or decide who
the principal is (`parlour.web.identity`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

from parlour.core.component import Component
from parlour.core.fragments import ROOT_SELECTOR, Elements
from parlour.core.kernel import Step
from parlour.core.visit import Visit
from parlour.runtime import Runtime
from parlour.runtime.live import Live
from parlour.web.identity import Ownership
from parlour.web.responses import route_path
from parlour.wire.js import js_literal

__all__ = [
    "TAB_COOKIE",
    "TAB_SECONDS",
    "Opened",
    "Visits",
    "address_of",
    "forget_tab",
    "remember_tab",
    "visit_of",
]

TAB_COOKIE = "parlour_tab"
"""The cookie a tab writes as it unloads: `CID ADDRESS`, URI-encoded."""
TAB_SECONDS = 10
"""How long that cookie lives: the time a reload has to send it."""


def visit_of(request: Request) -> Visit:
    """The visit a page request makes: its path below the mount, its query, its path
    parameters (`{id}` in the page's pattern), as text."""
    scope = request.scope
    return Visit(
        path=route_path(scope),
        query=dict(request.query_params),
        params={name: str(value) for name, value in request.path_params.items()},
        query_string=scope.get("query_string", b"").decode("latin-1"),
    )


def address_of(request: Request) -> str:
    """The address as the browser's `location.pathname + location.search` spells it."""
    scope = request.scope
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope["path"])
    query: bytes = scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


@dataclass(frozen=True, slots=True)
class Opened:
    """What a page GET opened: the conversation and the HTML of its first render."""

    live: Live
    body: str
    resumed: bool


class Visits:
    """Opens the conversation a page GET shows: the tab's own after a reload, else a new one."""

    def __init__(self, runtime: Runtime, ownership: Ownership) -> None:
        self.runtime = runtime
        self.ownership = ownership

    async def open(
        self,
        request: Request,
        *,
        sid: str,
        new_session: bool,
        base: str,
        root: Callable[[], Component],
    ) -> Opened:
        """The conversation for this page request, by session `sid`: `root()` makes the root
        of a new one (only called when one is minted)."""
        principal = await self.ownership.principal(request.scope)
        if not new_session:
            live = await self._reloaded(request, principal)
            if live is not None:
                return Opened(live, _body(await self.runtime.reopen(live)), resumed=True)
        live, step = await self.runtime.mint(
            root(),
            owner=self.ownership.owner(sid, principal),
            base=base,
            visit=visit_of(request),
            principal=principal,
        )
        return Opened(live, _body(step), resumed=False)

    async def _reloaded(self, request: Request, principal: object) -> Live | None:
        """The conversation this tab held before it reloaded, if it may have it back."""
        raw = request.cookies.get(TAB_COOKIE)
        if not raw:
            return None
        cid, _, address = unquote(raw).partition(" ")
        if not cid or address != address_of(request):
            return None  # another address: a new visit, not a reload
        live = await self.runtime.get(cid)
        if live is None or self.ownership.owns(live.conv.owner, request.cookies, principal):
            return None  # gone, or not this session's and principal's to take back
        live.principal = principal
        return live


def remember_tab(cid: str) -> str:
    """The shell's `beforeunload` expression: the cookie that tells the reload which
    conversation this tab held, and at which address."""
    attributes = f"; path=/; max-age={TAB_SECONDS}; samesite=lax"
    return (
        f"document.cookie = {js_literal(TAB_COOKIE + '=')} + encodeURIComponent("
        f"{js_literal(cid + ' ')} + location.pathname + location.search) + "
        f"{js_literal(attributes)}"
    )


def forget_tab(response: Response, request: Request) -> None:
    """Delete the tab's reload cookie once a page GET has read it."""
    if TAB_COOKIE in request.cookies:
        response.delete_cookie(TAB_COOKIE, path="/", samesite="lax")


def _body(step: Step) -> str:
    """The HTML of a step's full render of `#root` (what the shell inlines)."""
    return next(
        (f.html for f in step.fragments if isinstance(f, Elements) and f.selector == ROOT_SELECTOR),
        "",
    )
