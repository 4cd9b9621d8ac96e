"""Identity: `App(authenticate=...)` says who a request is; a conversation belongs to the
session and the principal that opened it; every event, step back and stream is authorised
again, and components read who it is with `principal()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from htpy import Element, button, div, span
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.routing import Mount

from parlour import Component, Visit, event, principal
from parlour.core.codec import encode
from parlour.core.context import Context, using
from parlour.core.errors import ParlourError
from parlour.testing import AsgiClient
from parlour.testing import Page as Tab
from parlour.web.identity import identity
from parlour.web.session import COOKIE

from .conftest import MakeApp

# -- the apps --------------------------------------------------------------------------------


class Accounts:
    """Who is signed in, by the `x-user` header a test sends (a cookie in a real app);
    `revoked` names are nobody any more, whatever their requests say."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.calls = 0

    def authenticate(self, request: Request) -> str | None:
        self.calls += 1
        name = request.headers.get("x-user")
        return None if name is None or name in self.revoked else name


class Greeter(Component):
    """Shows who it is for: what `visited`, `start`, `render` and a handler saw."""

    seen_in_visit: str = ""
    seen_in_start: str = ""
    seen_in_handler: str = ""
    clicks: int = 0

    def visited(self, visit: Visit) -> None:
        self.seen_in_visit = str(principal())

    def start(self) -> None:
        self.seen_in_start = str(principal())

    def render(self) -> Element:
        return div(self.root)[
            span(".who")[str(principal())],
            span(".visit")[self.seen_in_visit],
            span(".start")[self.seen_in_start],
            span(".handler")[self.seen_in_handler],
            span(".clicks")[self.clicks],
            button(self.on("click", "hello"))["hello"],
        ]

    @event
    def hello(self) -> None:
        self.clicks += 1
        self.seen_in_handler = str(principal())


def as_user(client: AsgiClient, name: str | None) -> AsgiClient:
    """Send `name` as the signed-in user from now on (None: signed out)."""
    client.headers = {} if name is None else {"x-user": name}  # pyright: ignore[reportAttributeAccessIssue]
    return client


class Client(AsgiClient):
    """An AsgiClient that adds its `headers` to every request (the sign-in of these tests)."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.headers: dict[str, str] = {}

    def _scope(
        self, method: str, path: str, headers: Mapping[str, str], query: str
    ) -> dict[str, Any]:
        return super()._scope(method, path, {**self.headers, **headers}, query)


async def signed_in_tab(
    app: Any, name: str | None, *, stream: bool = True, runtime: Any = None
) -> Tab:
    """A tab of a browser of its own, signed in as `name`; its stream open unless not asked."""
    client = Client(app)
    as_user(client, name)
    tab = Tab(client, runtime=runtime)
    await tab.open("/", stream=stream)
    return tab


def event_of(tab: Tab, text: str) -> str:
    (action,) = tab.actions(tab.query("button", text=text), "click")
    return action.url


# -- who components see ------------------------------------------------------------------------


async def test_without_authenticate_the_principal_is_nobody(make_app: MakeApp) -> None:
    async with Tab(make_app(Greeter)) as tab:
        await tab.open("/")
        await tab.click("button", text="hello")
        assert tab.text(".who") == "None"
        assert tab.text(".handler") == "None"


async def test_visited_start_render_and_handlers_see_the_principal(make_app: MakeApp) -> None:
    accounts = Accounts()
    tab = await signed_in_tab(make_app(Greeter, authenticate=accounts.authenticate), "ada")
    async with tab:
        await tab.click("button", text="hello")
        assert tab.text(".who") == "ada"
        assert tab.text(".visit") == "ada"
        assert tab.text(".start") == "ada"
        assert tab.text(".handler") == "ada"


async def test_authenticate_may_be_async(make_app: MakeApp) -> None:
    async def authenticate(request: Request) -> str | None:
        await asyncio.sleep(0)
        return request.headers.get("x-user")

    tab = await signed_in_tab(make_app(Greeter, authenticate=authenticate), "alan")
    async with tab:
        await tab.click("button", text="hello")
        assert tab.text(".handler") == "alan"


def test_outside_a_runtime_principal_says_how_to_provide_one() -> None:
    with pytest.raises(ParlourError, match=r"using\(Context\(.*principal="):
        principal()
    with using(Context(), principal={"id": 1}):
        assert principal() == {"id": 1}


class Badge(Component):
    """Shows who it is for (a Starlette user, or anything else), keeps no state."""

    def render(self) -> Element:
        user: object = principal()
        if isinstance(user, BaseUser):
            name = user.display_name if user.is_authenticated else "nobody"
        else:
            name = str(user)
        return div(self.root)[span(".who")[name], button(self.on("click", "x"))["x"]]

    @event
    def x(self) -> None:
        pass


# -- a conversation belongs to its principal ---------------------------------------------------


async def test_every_request_is_authenticated_again(make_app: MakeApp) -> None:
    accounts = Accounts()
    tab = await signed_in_tab(make_app(Greeter, authenticate=accounts.authenticate), "ada")
    async with tab:
        before = accounts.calls
        await tab.click("button", text="hello")
        await tab.click("button", text="hello")
        assert accounts.calls - before == 2  # once per event


@pytest.mark.parametrize("now", [None, "alan"])
async def test_an_event_from_anyone_else_is_refused_with_403(
    make_app: MakeApp, now: str | None
) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate)
    async with await signed_in_tab(app, "ada") as tab:
        url = event_of(tab, "hello")
        as_user(tab.client, now)  # signed out, or signed in as someone else: same browser

        response = await tab.client.post(url, json={})

        assert response.status == 403
        assert "belongs to someone else" in response.text
        assert app.runtime.live[tab.cid or ""].conv.instances["p1"].component == Greeter(
            seen_in_visit="ada", seen_in_start="ada"
        )  # nothing ran


async def test_a_revoked_sign_in_is_refused_even_with_the_old_request(make_app: MakeApp) -> None:
    accounts = Accounts()
    async with await signed_in_tab(
        make_app(Greeter, authenticate=accounts.authenticate), "ada"
    ) as tab:
        url = event_of(tab, "hello")
        accounts.revoked.add("ada")  # the same cookie (header) now names nobody
        assert (await tab.client.post(url, json={})).status == 403


async def test_another_session_is_refused_whoever_it_is(make_app: MakeApp) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate)
    async with await signed_in_tab(app, "ada") as tab:
        thief = as_user(Client(app), "ada")  # ada's name, another browser's session
        response = await thief.post(event_of(tab, "hello"), json={})
        assert response.status == 403
        assert "another session" in response.text


async def test_a_step_back_is_authorised_too(make_app: MakeApp) -> None:
    accounts = Accounts()
    async with await signed_in_tab(
        make_app(Greeter, authenticate=accounts.authenticate), "ada"
    ) as tab:
        await tab.click("button", text="hello")
        as_user(tab.client, None)
        response = await tab.client.post(f"/_parlour/back/{tab.cid}")
        assert response.status == 403


@dataclass
class User:
    id: int
    name: str
    roles: tuple[str, ...] = ()


async def test_the_principal_is_who_not_what_it_says_so_new_roles_keep_the_page(
    make_app: MakeApp,
) -> None:
    roles: dict[int, tuple[str, ...]] = {7: ("reader",)}

    def authenticate(request: Request) -> User | None:
        return User(7, "ada", roles[7]) if request.headers.get("x-user") == "ada" else None

    class Roles(Component):
        def render(self) -> Element:
            who: User = principal()
            return div(self.root)[
                span(".roles")[",".join(who.roles)], button(self.on("click", "x"))["x"]
            ]

        @event
        def x(self) -> None:
            pass

    async with await signed_in_tab(make_app(Roles, authenticate=authenticate), "ada") as tab:
        assert tab.text(".roles") == "reader"
        roles[7] = ("reader", "admin")
        await tab.click("button", text="x")
        assert tab.text(".roles") == "reader,admin"  # the same person, as they are now


async def test_the_store_keeps_who_owns_a_conversation_not_the_principal(
    make_app: MakeApp,
) -> None:
    def authenticate(request: Request) -> dict[str, str]:
        return {"id": "u-1", "email": "ada@example.com"}

    app = make_app(Badge, authenticate=authenticate)  # shows who, keeps nothing of it
    async with Tab(app) as tab:
        await tab.open("/")
        conv = app.runtime.live[tab.cid or ""].conv
        sid = app.sessions.verify(tab.client.cookies[COOKIE])
        assert conv.owner is not None
        assert sid is not None
        assert conv.owner.startswith(sid + ".")
        assert b"ada@example.com" not in encode(conv)
        assert b"u-1" not in encode(conv)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ada", "ada"),
        ({"id": 7, "roles": ["a"]}, {"id": 7, "roles": ["b"]}),
        (User(7, "ada"), {"id": 7}),
        (SimpleUser("ada"), "ada"),
    ],
)
def test_principals_with_the_same_id_are_the_same_person(a: object, b: object) -> None:
    assert identity(a) == identity(b) is not None


@pytest.mark.parametrize(("a", "b"), [("7", 7), ("ada", "alan"), ({"id": 1}, {"id": "1"})])
def test_principals_with_different_ids_are_different_people(a: object, b: object) -> None:
    assert identity(a) != identity(b)


def test_nobody_has_no_identity() -> None:
    from starlette.authentication import UnauthenticatedUser

    assert identity(None) is None
    assert identity(UnauthenticatedUser()) is None


def test_a_principal_that_says_nothing_of_who_it_is_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"return None for nobody, a JSON value .* an `id`"):
        identity(object())


# -- streams -----------------------------------------------------------------------------------


async def test_a_stream_of_anyone_else_reloads_its_tab_and_another_session_gets_403(
    make_app: MakeApp,
) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate)
    async with await signed_in_tab(app, "ada", stream=False) as tab:
        as_user(tab.client, "alan")
        async with tab.client.stream(f"/_parlour/sse/{tab.cid}") as sse:
            assert sse.status == 200
            assert "window.location.reload()" in (await sse.next_event()).elements
        thief = as_user(Client(app), "ada")
        async with thief.stream(f"/_parlour/sse/{tab.cid}") as sse:
            assert sse.status == 403


async def test_an_open_stream_closes_at_its_next_heartbeat_once_revoked(
    make_app: MakeApp,
) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate, heartbeat=0.05)
    tab = await signed_in_tab(app, "ada", stream=False)
    async with tab, tab.client.stream(f"/_parlour/sse/{tab.cid}") as sse:
        await sse.next_event()  # the first render
        await sse.next_comment()  # a heartbeat: still ada
        accounts.revoked.add("ada")
        started = time.monotonic()
        event = await sse.next_event(timeout=2)
        assert "window.location.reload()" in event.elements
        assert time.monotonic() - started < 1
        with pytest.raises(EOFError):
            await sse.next_event(timeout=2)


async def test_reauthenticate_closes_the_streams_of_whoever_signed_out_at_once(
    make_app: MakeApp,
) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate, heartbeat=60)
    ada = await signed_in_tab(app, "ada", stream=False)
    alan = await signed_in_tab(app, "alan")
    async with ada, alan, ada.client.stream(f"/_parlour/sse/{ada.cid}") as ada_sse:
        await ada_sse.next_event()
        accounts.revoked.add("ada")

        assert app.reauthenticate("ada") == 1  # ada's one open stream

        assert "window.location.reload()" in (await ada_sse.next_event(timeout=1)).elements
        assert alan.streaming  # alan's page goes on
        await alan.click("button", text="hello")
        assert alan.text(".clicks") == "1"


async def test_a_refused_event_makes_the_conversations_open_streams_check_at_once(
    make_app: MakeApp,
) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate, heartbeat=60)
    tab = await signed_in_tab(app, "ada", stream=False)
    async with tab, tab.client.stream(f"/_parlour/sse/{tab.cid}") as sse:
        await sse.next_event()
        url = event_of(tab, "hello")
        accounts.revoked.add("ada")  # signed out in another tab of the same browser
        assert (await tab.client.post(url, json={})).status == 403
        assert "window.location.reload()" in (await sse.next_event(timeout=1)).elements


async def test_a_reload_as_someone_else_opens_their_own_conversation(make_app: MakeApp) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate)
    async with await signed_in_tab(app, "ada") as tab:
        before = tab.cid or ""
        tab.client.cookies["parlour_tab"] = f"{before}%20%2F"  # the tab unloads at /
        as_user(tab.client, None)  # ... having signed out
        await tab.open("/")
        assert tab.cid != before
        assert tab.text(".who") == "None"


# -- mounted under Starlette's AuthenticationMiddleware ---------------------------------------


class HeaderBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = conn.headers.get("x-user")
        return None if name is None else (AuthCredentials(["authenticated"]), SimpleUser(name))


async def test_request_user_under_authentication_middleware_is_a_principal(
    make_app: MakeApp,
) -> None:
    def user(request: Request) -> BaseUser:
        return request.user

    pages = make_app(Badge, authenticate=user)
    host = Starlette(
        routes=[Mount("/", pages)],
        middleware=[Middleware(AuthenticationMiddleware, backend=HeaderBackend())],
    )
    async with await signed_in_tab(host, "ada", runtime=pages.runtime) as tab:
        assert tab.text(".who") == "ada"
        await tab.click("button", text="x")
        as_user(tab.client, None)  # the middleware makes an UnauthenticatedUser: nobody
        assert (await tab.client.post(event_of(tab, "x"), json={})).status == 403
        await tab.open("/")
        assert tab.text(".who") == "nobody"


async def test_without_authenticate_the_session_alone_decides_as_admit_would(
    tmp_path: Any,
) -> None:
    """`admit_session`, the click's check when nobody signs in, answers as `admit` does for
    every owner token: none, this session's, another's, and one a principal signed in to."""
    from parlour.core.conversation import Conversation
    from parlour.runtime.live import Live
    from parlour.web.identity import Ownership
    from parlour.web.session import Owners

    owners = Owners("s" * 32, tmp_path)
    ownership = Ownership(owners)
    sid, cookie = owners.sessions.new()
    other, _ = owners.sessions.new()
    scope: dict[str, Any] = {"type": "http", "headers": []}
    signed_in = ownership.owner(sid, {"id": "ada"})
    for owner in (None, sid, other, signed_in, "", "."):
        for value in (cookie, None, "", cookie + "x", "forged"):
            slow, fast = (
                Live(Conversation("c1", owner=owner)),
                Live(Conversation("c1", owner=owner)),
            )
            slow.principal = fast.principal = "before"
            cookies = {} if value is None else {COOKIE: value}
            assert ownership.admit_session(value, fast) == await ownership.admit(
                scope, cookies, slow
            ), (owner, value)
            assert fast.principal == slow.principal, (owner, value)
    with pytest.raises(RuntimeError, match="await admit"):
        Ownership(owners, lambda request: None).admit_session(cookie, fast)
