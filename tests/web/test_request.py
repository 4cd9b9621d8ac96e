"""The request and the URL: a root is made from the visit that opened its tab, the URL it
projects is read back by the next visit, and a reload keeps the tab's conversation.

The browser half of the reload (the cookie the shell writes as it unloads) is in
tests/e2e/test_reload.py; here the cookie is sent by hand, as that reload would send it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

import pytest
from examples.counter import Counter
from htpy import Element, div, span

from parlour import Component, Visit, event
from parlour.stores import MemoryStore
from parlour.testing import AsgiClient
from parlour.testing import Page as Tab
from parlour.web.visits import TAB_COOKIE

from .conftest import MakeApp, open_page

# -- a visit opens the screen its URL names -------------------------------------------------------


async def test_the_root_starts_from_the_query_of_the_link_that_opened_the_tab(
    make_app: MakeApp,
) -> None:
    async with Tab(make_app(Counter)) as tab:
        await tab.open("/?n=5")
        assert tab.text(".count") == "5"


@pytest.mark.parametrize(
    "query", ["?n=x", "?n=", "?n=1e3", "?n=0x10", "?n=99999999999999999999", "?n=%00", "?m=4", ""]
)
async def test_a_link_that_does_not_name_a_count_opens_at_zero_not_an_error(
    make_app: MakeApp, query: str
) -> None:
    async with Tab(make_app(Counter)) as tab:
        await tab.open("/" + query)
        assert tab.text(".count") == "0"


async def test_the_url_a_root_projects_opens_the_same_screen_in_a_new_tab(
    make_app: MakeApp,
) -> None:
    app = make_app(Counter)
    async with Tab(app) as tab:
        await tab.open("/")
        for _ in range(3):
            await tab.click("button", text="+")
        assert tab.scripts[-1] == "history.replaceState(history.state,'',\"?n=3\")"
        copied = "/?n=3"  # what the address bar shows now: the copied link

        async with Tab(AsgiClient(app)) as elsewhere:  # another browser, the link pasted
            await elsewhere.open(copied)
            assert elsewhere.text(".count") == "3"
            assert elsewhere.cid != tab.cid


class Item(Component):
    """A page whose address has a pattern, reading every part of its visit."""

    id: str = ""
    path: str = ""
    tab: str = ""
    tags: list[str] = []
    started_with: str = ""

    def visited(self, visit: Visit) -> None:
        self.id = visit.params["id"]
        self.path = visit.path
        self.tab = visit.query.get("tab", "")
        self.tags = re.findall(r"tag=([^&]*)", visit.query_string)

    def start(self) -> None:
        self.started_with = self.id  # start sees what visited set

    def render(self) -> Element:
        return div(self.root)[
            span(".id")[self.id],
            span(".path")[self.path],
            span(".tab")[self.tab],
            span(".tags")[",".join(self.tags)],
            span(".started")[self.started_with],
        ]


async def test_a_page_pattern_gives_its_parameters_path_and_whole_query(
    make_app: MakeApp,
) -> None:
    async with Tab(make_app({"/": Counter, "/items/{id}": Item})) as tab:
        await tab.open("/items/42?tab=specs&tag=a&tag=b")
        assert tab.text(".id") == "42"
        assert tab.text(".path") == "/items/42"
        assert tab.text(".tab") == "specs"
        assert tab.text(".tags") == "a,b"
        assert tab.text(".started") == "42"


async def test_the_visit_path_is_below_the_mount(make_app: MakeApp) -> None:
    app = make_app({"/items/{id}": Item})
    async with Tab(AsgiClient(app, root_path="/shop")) as tab:
        await tab.open("/shop/items/7")
        assert tab.text(".path") == "/items/7"


class Eager(Component):
    """Its children are made from the state its visit set."""

    size: int = 1

    def visited(self, visit: Visit) -> None:
        self.size = visit.arg("size", 1)

    def children(self) -> Mapping[str, Component]:
        return {f"c{i}": Leaf(n=i) for i in range(self.size)}

    def render(self) -> Element:
        return div(self.root)[[self.slot(f"c{i}") for i in range(self.size)]]


class Leaf(Component):
    n: int = 0

    def render(self) -> Element:
        return span(self.root, class_="leaf")[self.n]


async def test_the_children_of_a_root_are_made_after_its_visit(make_app: MakeApp) -> None:
    async with Tab(make_app(Eager)) as tab:
        await tab.open("/?size=3")
        assert [leaf.text for leaf in tab.all(".leaf")] == ["0", "1", "2"]


class Broken(Component):
    def visited(self, visit: Visit) -> None:
        raise ValueError(f"cannot read {visit.url}")

    def render(self) -> Element:
        return div(self.root)["never"]


class Eventful(Component):
    def visited(self, visit: Visit) -> object:  # pyright: ignore[reportIncompatibleMethodOverride]
        return event  # effects belong in start(); visited only sets state


@pytest.mark.parametrize("root", [Broken, Eventful])
async def test_a_visited_hook_that_fails_shows_an_error_in_the_page_not_a_500(
    make_app: MakeApp, root: type[Component]
) -> None:
    client = AsgiClient(make_app(root))
    response = await client.get("/?q=1")
    assert response.status == 200
    assert 'role="alert"' in response.text


# -- Visit.arg: a link is user input ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("5", 0, 5),
        ("-5", 0, -5),
        ("+5", 0, 5),
        (" 7 ", 0, 7),
        ("x", 0, 0),
        ("", 3, 3),
        ("5.5", 0, 0),
        ("١٢", 0, 0),  # Arabic-Indic digits: int() would take them, a link should not
        ("9223372036854775807", 0, 9223372036854775807),
        ("9223372036854775808", 0, 0),  # beyond 64 bits: could not be stored
        ("-9223372036854775808", 0, -9223372036854775808),
        ("1.5", 0.0, 1.5),
        ("nan", 1.0, 1.0),
        ("inf", 1.0, 1.0),
        ("yes", False, True),
        ("0", True, False),
        ("maybe", True, True),
        ("hello", "", "hello"),
    ],
)
def test_arg_reads_a_query_parameter_as_the_type_of_its_default(
    raw: str, default: str | float | bool, expected: object
) -> None:
    got = Visit(query={"v": raw}).arg("v", default)
    assert got == expected
    assert type(got) is type(expected)


def test_arg_gives_the_default_for_a_missing_parameter() -> None:
    assert Visit().arg("n", 4) == 4
    assert Visit(path="/a", query_string="b=1").url == "/a?b=1"
    assert Visit(path="/a").url == "/a"


# -- a reload keeps the tab's conversation ---------------------------------------------------


def tab_cookie(cid: str, address: str) -> str:
    """What the shell's `beforeunload` writes: `CID ADDRESS`, URI-encoded."""
    return quote(f"{cid} {address}", safe="")


async def test_a_reload_takes_back_the_tabs_conversation_as_it_was(make_app: MakeApp) -> None:
    app = make_app(Counter)
    async with Tab(app) as tab:
        await tab.open("/")
        for _ in range(3):
            await tab.click("button", text="+")
        before = tab.cid or ""
        tab.client.cookies[TAB_COOKIE] = tab_cookie(before, "/?n=3")  # the tab unloads

        await tab.open("/?n=3")  # F5

        assert tab.cid == before
        assert tab.text(".count") == "3"
        assert tab.response is not None
        assert f"{TAB_COOKIE}=" in tab.response.headers["set-cookie"]  # read once, deleted
        await tab.click("button", text="+")
        assert tab.text(".count") == "4"
        assert len(app.runtime.live) == 1  # nothing minted to be thrown away


async def test_the_shell_tells_its_reload_which_conversation_it_held(make_app: MakeApp) -> None:
    page = await open_page(AsgiClient(make_app(Counter)))
    remember = page.attr("body", "data-on:beforeunload__window") or ""
    assert f'"{TAB_COOKIE}="' in remember
    assert f'"{page.cid} "' in remember
    assert "location.pathname + location.search" in remember
    assert "max-age=10" in remember


async def test_a_new_tab_starts_a_new_conversation_at_its_address(make_app: MakeApp) -> None:
    app = make_app(Counter)
    client = AsgiClient(app)  # one browser: one session cookie for both tabs
    async with Tab(client) as first:
        await first.open("/?n=3")
        async with Tab(client) as second:  # no unload happened: no tab cookie
            await second.open("/?n=3")
            assert second.cid != first.cid
            assert second.text(".count") == "3"


@pytest.mark.parametrize("address", ["/?n=4", "/", "/?n=3&x=1"])
async def test_a_tab_cookie_for_another_address_is_a_new_visit(
    make_app: MakeApp, address: str
) -> None:
    app = make_app(Counter)
    async with Tab(app) as tab:
        await tab.open("/?n=3")
        before = tab.cid or ""
        tab.client.cookies[TAB_COOKIE] = tab_cookie(before, "/?n=3")
        await tab.open(address)  # the user edited the address: not a reload
        assert tab.cid != before


async def test_another_sessions_tab_cookie_takes_nothing(make_app: MakeApp) -> None:
    app = make_app(Counter)
    async with Tab(app) as victim:
        await victim.open("/?n=3")
        async with Tab(AsgiClient(app)) as other:
            await other.open("/")  # a session of its own
            other.client.cookies[TAB_COOKIE] = tab_cookie(victim.cid or "", "/?n=3")
            await other.open("/?n=3")
            assert other.cid != victim.cid
            assert other.text(".count") == "3"


@pytest.mark.parametrize("value", ["", "nonsense", "%20%20", "unknown-cid%20%2F%3Fn%3D3", "%ff"])
async def test_a_tab_cookie_that_names_nothing_is_an_ordinary_visit(
    make_app: MakeApp, value: str
) -> None:
    async with Tab(make_app(Counter)) as tab:
        await tab.open("/")
        tab.client.cookies[TAB_COOKIE] = value
        await tab.open("/?n=3")
        assert tab.text(".count") == "3"


async def test_a_reload_after_a_restart_takes_the_conversation_back_from_the_store(
    make_app: MakeApp,
) -> None:
    store = MemoryStore()
    first = make_app(Counter, store=store)
    async with Tab(first) as tab:
        await tab.open("/")
        await tab.click("button", text="+")
        await tab.click("button", text="+")
        cid = tab.cid or ""
        cookies = dict(tab.client.cookies)
    assert await store.load(cid) is not None  # saved: the next process can load it

    restarted = make_app(Counter, store=store)  # same secret, same store: a new process
    client = AsgiClient(restarted)
    client.cookies.update(cookies)
    client.cookies[TAB_COOKIE] = tab_cookie(cid, "/?n=2")
    async with Tab(client) as tab:
        await tab.open("/?n=2")
        assert tab.cid == cid
        assert tab.text(".count") == "2"
        await tab.click("button", text="+")
        assert tab.text(".count") == "3"
