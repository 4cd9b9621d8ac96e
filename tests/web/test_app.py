"""`parlour.web.app`: the HTTP contract, driven in-process through ASGI.

Every test talks to a real `App` through `AsgiClient` (cookies kept like a browser, the SSE
body read as parsed events), so what is checked here is what a browser sees on the wire:
the shell, the stream, the event and back POSTs, static files, and every bad-input answer.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from htpy import Element, button, div, span
from starlette.applications import Starlette
from starlette.routing import Mount

from parlour import Component, event
from parlour.stores import FileStore
from parlour.testing import AsgiClient
from parlour.web.app import App
from parlour.web.datastar import DATASTAR_CDN
from parlour.web.session import COOKIE

from .conftest import MakeApp, Page, open_page

MIB = 1 << 20


class Counter(Component):
    count: int = 0

    def render(self) -> Element:
        return div(self.root, class_="counter")[
            button(self.on("click", "dec"))["-"],
            span(".count")[self.count],
            button(self.on("click", "inc"))["+"],
        ]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def dec(self) -> None:
        self.count -= 1

    def helper(self) -> None:
        """A public method that is not an `@event`: the browser must not reach it."""
        self.count = 999


class Greeter(Component):
    """Lifts the `name` signal onto its state before `greet` runs; takes a payload."""

    keep = ("name",)
    name: str = ""
    greeting: str = ""

    def render(self) -> Element:
        return div(self.root)[
            button(self.on("click", "greet"))["greet"],
            span(".greeting")[self.greeting],
        ]

    @event
    def greet(self, payload: Any = None) -> None:
        suffix = "" if payload is None else f" ({payload['mood']})"
        self.greeting = f"hello {self.name}{suffix}"


def count_in(html: str) -> int:
    match = re.search(r'<span class="count">(-?\d+)</span>', html)
    assert match is not None, f"no count in {html!r}"
    return int(match.group(1))


async def raw_post(
    app: Any,
    path: str,
    chunks: list[bytes],
    *,
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
) -> int:
    """POST `chunks` as separate ASGI body messages with no Content-Length (like chunked
    transfer encoding); the response status."""
    raw_headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
        raw_headers.append((b"cookie", jar.encode()))
    path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))

    async with asyncio.timeout(5):
        await app(scope, receive, send)
    assert len(statuses) == 1
    return statuses[0]


@pytest.fixture
def app(make_app: MakeApp) -> App:
    return make_app(Counter)


@pytest.fixture
def client(app: App) -> AsgiClient:
    return AsgiClient(app)


@pytest.fixture
async def page(client: AsgiClient) -> Page:
    return await open_page(client)


def event_url(page: Page, name: str = "inc", iid: str | None = None) -> str:
    return f"/_parlour/event/{page.cid}/{iid or page.iid_of('inc')}/{name}"


# -- one click, end to end ---------------------------------------------------------------------


async def test_the_stream_opens_with_a_full_render_into_root(
    client: AsgiClient, page: Page
) -> None:
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert sse.status == 200
        assert sse.headers["content-type"].startswith("text/event-stream")
        first = await sse.next_event()
    assert first.type == "datastar-patch-elements"
    assert first.selector == "#root"
    assert first.mode == "inner"
    assert 'class="counter"' in first.elements
    assert count_in(first.elements) == 0


async def test_a_post_answers_204_and_the_patch_arrives_on_the_stream(
    client: AsgiClient, page: Page
) -> None:
    iid = page.iid_of("inc")
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        response = await client.post(f"/_parlour/event/{page.cid}/{iid}/inc")
        assert response.status == 204
        assert response.body == b""
        patch = await sse.next_event()
    assert patch.type == "datastar-patch-elements"
    assert patch.selector is None  # morph by id
    assert patch.mode == "outer"
    assert f'<div id="{iid}"' in patch.elements
    assert count_in(patch.elements) == 1


async def test_events_apply_in_order_and_the_stream_shows_the_latest(
    client: AsgiClient, page: Page
) -> None:
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        for name in ("inc", "inc", "inc", "dec"):
            assert (await client.post(event_url(page, name))).status == 204
        seen: list[int] = []
        while not seen or seen[-1] != 2:
            seen.append(count_in((await sse.next_event()).elements))
    assert seen[-1] == 2
    assert all(n <= 3 for n in seen)


async def test_back_steps_the_conversation_back(client: AsgiClient, page: Page) -> None:
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        await client.post(event_url(page))
        assert count_in((await sse.next_event()).elements) == 1
        assert (await client.post(f"/_parlour/back/{page.cid}")).status == 204
        restored = await sse.next_event()
    assert restored.selector == "#root"
    assert count_in(restored.elements) == 0


async def test_back_to_an_absolute_depth(client: AsgiClient, page: Page) -> None:
    for _ in range(3):
        await client.post(event_url(page))
    assert (await client.post(f"/_parlour/back/{page.cid}?to=1")).status == 204
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert count_in((await sse.next_event()).elements) == 1


async def test_closing_the_stream_releases_its_connection(
    app: App, client: AsgiClient, page: Page
) -> None:
    before = app.runtime.connection_count
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        assert app.runtime.connection_count == before + 1
    assert app.runtime.connection_count == before


async def test_a_tab_that_goes_away_is_released_at_once_not_at_the_next_heartbeat(
    make_app: MakeApp,
) -> None:
    app = make_app(Counter, heartbeat=3600.0)
    client = AsgiClient(app)
    page = await open_page(client)
    # Leaving the block disconnects and waits for the stream's handler to return (the test
    # client gives it 5 s before cancelling it): the disconnect must wake the idle writer,
    # no heartbeat is due for an hour.
    async with asyncio.timeout(2):
        async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
            await sse.next_event()
            assert app.runtime.connection_count == 1
    assert app.runtime.connection_count == 0


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/_parlour/event/CID/p1/inc", "POST"),
        ("PUT", "/_parlour/event/CID/p1/inc", "POST"),
        ("POST", "/_parlour/sse/CID", "GET"),
    ],
)
async def test_the_wrong_method_on_a_parlour_route_is_405_and_names_the_right_one(
    client: AsgiClient, page: Page, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path.replace("CID", page.cid))
    assert response.status == 405
    assert response.headers["allow"] == allowed
    assert allowed in response.body.decode()


@pytest.mark.parametrize(
    "path", ["/_parlour/event/CID/p1", "/_parlour/event/CID//inc", "/_parlour/sse/", "/_parlour/x"]
)
async def test_a_malformed_parlour_path_is_404(client: AsgiClient, page: Page, path: str) -> None:
    assert (await client.post(path.replace("CID", page.cid))).status == 404


async def test_two_streams_of_one_conversation_both_get_the_patch(
    client: AsgiClient, page: Page
) -> None:
    async with (
        client.stream(f"/_parlour/sse/{page.cid}") as one,
        client.stream(f"/_parlour/sse/{page.cid}") as two,
    ):
        await one.next_event()
        await two.next_event()
        await client.post(event_url(page))
        for sse in (one, two):
            # (`one` may first get a full render caused by `two` opening; then the patch.)
            async with asyncio.timeout(5):
                while count_in((await sse.next_event()).elements) != 1:
                    pass


# -- the shell page ------------------------------------------------------------------------------


async def test_the_shell_opens_the_stream_with_retry_always(page: Page) -> None:
    assert page.response.status == 200
    assert page.response.headers["content-type"].startswith("text/html")
    assert page.response.headers["cache-control"] == "no-store"
    opener = page.attr("body", "data-init")
    assert opener is not None
    assert opener.startswith(f'@get("/_parlour/sse/{page.cid}"')
    assert "retry: 'always'" in opener
    assert "openWhenHidden: true" in opener


async def test_the_shell_inlines_the_first_render_in_root(page: Page) -> None:
    root = page.query("body > #root").inner_html
    assert 'class="counter"' in root
    assert count_in(root) == 0


async def test_the_shell_listens_for_the_browser_back_button(page: Page) -> None:
    assert f'@post("/_parlour/back/{page.cid}?to="' in str(
        page.attr("body", "data-on:popstate__window")
    )


async def test_the_shell_has_the_title_and_the_stock_stylesheet(make_app: MakeApp) -> None:
    app = make_app(Counter, title="Tom & <Jerry>", stylesheets=("/mine.css",))
    page = await open_page(AsgiClient(app))
    assert "<title>Tom &amp; &lt;Jerry&gt;</title>" in page.response.text
    assert '<link rel="stylesheet" href="/_parlour/static/parlour.css">' in page.html
    assert '<link rel="stylesheet" href="/mine.css">' in page.html


async def test_the_session_cookie_is_httponly_samesite_lax_and_signed(page: Page) -> None:
    header = page.response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=")
    attributes = [a.strip().lower() for a in header.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    value = header.split(";")[0].split("=", 1)[1]
    sid, _, signature = value.rpartition(".")
    assert sid  # itsdangerous: value.signature
    assert signature


async def test_a_second_visit_keeps_the_session(app: App, client: AsgiClient) -> None:
    first = await open_page(client)
    second = await open_page(client)
    assert "set-cookie" not in second.response.headers
    assert first.cid != second.cid
    owner = app.runtime.live[first.cid].conv.owner
    assert owner is not None
    assert app.runtime.live[second.cid].conv.owner == owner
    # The one cookie drives both tabs.
    assert (await client.post(event_url(first))).status == 204
    assert (await client.post(event_url(second))).status == 204


def flip(char: str) -> str:
    return "B" if char == "A" else "A"


@pytest.mark.parametrize("where", ["session id", "signature"])
async def test_a_tampered_cookie_is_refused(client: AsgiClient, page: Page, where: str) -> None:
    sid, _, signature = client.cookies[COOKIE].rpartition(".")
    if where == "session id":
        sid = flip(sid[0]) + sid[1:]
    else:
        # Not the last character: base64 ignores its low bits, so some edits decode the same.
        signature = flip(signature[0]) + signature[1:]
    client.cookies[COOKIE] = f"{sid}.{signature}"
    assert (await client.post(event_url(page))).status == 403
    assert (await client.post(f"/_parlour/back/{page.cid}")).status == 403
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert sse.status == 403


async def test_a_tampered_cookie_gets_a_fresh_session_on_the_shell(
    app: App, client: AsgiClient, page: Page
) -> None:
    client.cookies[COOKIE] = "forged.signature"
    again = await open_page(client)
    assert COOKIE in again.response.headers["set-cookie"]
    assert client.cookies[COOKIE] != "forged.signature"
    assert app.runtime.live[again.cid].conv.owner != app.runtime.live[page.cid].conv.owner


# -- bad input: every answer -------------------------------------------------------------------


async def test_unknown_conversation_is_404_on_event_and_back(
    client: AsgiClient, page: Page
) -> None:
    for cid in ("nosuchconversation", "..", "a.b", "x" * 200):
        response = await client.post(f"/_parlour/event/{cid}/p1/inc")
        assert response.status == 404, cid
        assert "reload" in response.text
        assert (await client.post(f"/_parlour/back/{cid}")).status == 404, cid


async def test_a_foreign_session_is_403(app: App, page: Page) -> None:
    stranger = AsgiClient(app)
    await open_page(stranger)  # has a valid cookie of its own
    assert (await stranger.post(event_url(page))).status == 403
    assert (await stranger.post(f"/_parlour/back/{page.cid}")).status == 403
    async with stranger.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert sse.status == 403
    assert app.runtime.live[page.cid].conv.instances[page.iid_of("inc")].component == Counter()


async def test_a_missing_cookie_is_403(app: App, page: Page) -> None:
    anonymous = AsgiClient(app)
    assert (await anonymous.post(event_url(page))).status == 403
    assert (await anonymous.post(f"/_parlour/back/{page.cid}")).status == 403
    async with anonymous.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert sse.status == 403


@pytest.mark.parametrize(
    "name",
    [
        "nope",
        "helper",  # a real public method, not an @event
        "render",
        "start",
        "stop",
        "wakeup",
        "children",
        "__init__",
        "__class__",
        "_parlour",
        "count",  # a state field
        "INC",
        "inc ",
    ],
)
async def test_an_event_that_is_not_an_event_method_is_404(
    app: App, client: AsgiClient, page: Page, name: str
) -> None:
    response = await client.post(event_url(page, name))
    assert response.status == 404
    assert "@event" in response.text
    comp = app.runtime.live[page.cid].conv.instances[page.iid_of("inc")].component
    assert comp == Counter()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{", "application/json"),
        (b'{"a": }', "application/json"),
        (b"[1, 2]", "application/json"),  # JSON, but not an object
        (b'"text"', "application/json"),
        (b"42", "application/json"),
        (b"null", "application/json"),
        (b'{"x": NaN}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"{}", "text/plain"),
    ],
)
async def test_malformed_signals_are_400(
    client: AsgiClient, page: Page, body: bytes, content_type: str
) -> None:
    response = await client.post(event_url(page), body=body, headers={"content-type": content_type})
    assert response.status == 400


async def test_signals_are_accepted_with_a_charset(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Greeter))
    page = await open_page(client)
    url = f"/_parlour/event/{page.cid}/{page.iid_of('greet')}/greet"
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        response = await client.post(
            url,
            body=json.dumps({"name": "Ada"}).encode(),
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert response.status == 204
        assert "hello Ada</span>" in (await sse.next_event()).elements


async def test_the_payload_reaches_the_handler(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Greeter))
    page = await open_page(client)
    url = f"/_parlour/event/{page.cid}/{page.iid_of('greet')}/greet"
    p = '{"mood":"glad"}'
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        assert (await client.post(url, json={"name": "Bo"}, params={"p": p})).status == 204
        assert "hello Bo (glad)</span>" in (await sse.next_event()).elements


async def test_the_sse_route_ignores_the_datastar_query_parameter(
    client: AsgiClient, page: Page
) -> None:
    for query in ("?datastar=%7B%22count%22%3A5%7D", "?datastar=%7Bbroken"):
        async with client.stream(f"/_parlour/sse/{page.cid}{query}") as sse:
            assert sse.status == 200
            assert count_in((await sse.next_event()).elements) == 0


@pytest.mark.parametrize("payload", ["{", "[" * 50_000, "%ZZ", "undefined", "{'a': 1}"])
async def test_a_bad_payload_is_400(client: AsgiClient, page: Page, payload: str) -> None:
    response = await client.post(event_url(page), params={"p": payload})
    assert response.status == 400
    assert "?p=" in response.text


@pytest.mark.parametrize("to", ["x", "1.5", "1e3", "", " ", "0x10", "--1"])
async def test_back_to_that_is_not_an_integer_is_400(
    client: AsgiClient, page: Page, to: str
) -> None:
    response = await client.post(f"/_parlour/back/{page.cid}", params={"to": to})
    assert response.status == 400


@pytest.mark.parametrize("to", ["0", "-1", "99999999999999999999999"])
async def test_back_to_out_of_range_depths_is_harmless(
    client: AsgiClient, page: Page, to: str
) -> None:
    await client.post(event_url(page))
    assert (await client.post(f"/_parlour/back/{page.cid}", params={"to": to})).status == 204
    assert (await client.post(event_url(page))).status == 204


async def test_a_body_over_the_default_limit_is_413(client: AsgiClient, page: Page) -> None:
    fits = b"{}" + b" " * (MIB - 2)
    assert (await client.post(event_url(page), body=fits)).status == 204
    response = await client.post(event_url(page), body=fits + b" ")
    assert response.status == 413
    assert str(MIB) in response.text


async def test_a_body_over_the_default_limit_without_content_length_is_413(
    app: App, client: AsgiClient, page: Page
) -> None:
    chunk = b" " * (64 * 1024)
    chunks = [b"{}", *([chunk] * 16), b" "]  # 1 MiB + 3 bytes, never announced
    assert await raw_post(app, event_url(page), chunks, cookies=client.cookies) == 413
    fits = [b"{}", *([chunk] * 15)]
    assert await raw_post(app, event_url(page), fits, cookies=client.cookies) == 204


async def test_a_configured_max_body_is_enforced(make_app: MakeApp) -> None:
    app = make_app(Counter, max_body=100)
    client = AsgiClient(app)
    page = await open_page(client)
    url = event_url(page)
    assert (await client.post(url, body=b"{}" + b" " * 98)).status == 204
    assert (await client.post(url, body=b"{}" + b" " * 99)).status == 413
    # Without a Content-Length, and with one that lies.
    assert await raw_post(app, url, [b"{}", b" " * 60, b" " * 60], cookies=client.cookies) == 413
    assert await raw_post(app, url, [b"{}", b" " * 60], cookies=client.cookies) == 204
    lying = {"content-length": "2"}
    big = [b"{}" + b" " * 200]
    assert await raw_post(app, url, big, headers=lying, cookies=client.cookies) == 413


async def test_a_cross_origin_post_is_403(client: AsgiClient, page: Page) -> None:
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "http://testserver.evil.example"},
        {"origin": "null"},
        {"origin": "http://[::1"},  # not even a URL
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://testserver", "sec-fetch-site": "cross-site"},
    ):
        assert (await client.post(event_url(page), headers=headers)).status == 403, headers
        response = await client.post(f"/_parlour/back/{page.cid}", headers=headers)
        assert response.status == 403, headers


async def test_a_same_origin_post_is_accepted(client: AsgiClient, page: Page) -> None:
    for headers in (
        {"origin": "http://testserver"},
        {"origin": "HTTP://TESTSERVER"},
        {"sec-fetch-site": "same-origin"},
        {"origin": "http://testserver", "sec-fetch-site": "same-origin"},
        {},  # no Origin: not a browser, no ambient cookie to abuse
    ):
        assert (await client.post(event_url(page), headers=headers)).status == 204, headers


async def test_a_stale_instance_id_is_a_harmless_204(client: AsgiClient, page: Page) -> None:
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        assert (await client.post(event_url(page, "inc", iid="p999"))).status == 204
        assert (await client.post(event_url(page))).status == 204
        patch = await sse.next_event()  # the stale click sent nothing before this
    assert count_in(patch.elements) == 1


async def test_sse_for_an_unknown_conversation_reloads_the_page(client: AsgiClient) -> None:
    for cid in ("nosuchconversation", "..", "%00"):
        async with client.stream(f"/_parlour/sse/{cid}") as sse:
            assert sse.status == 200
            assert sse.headers["content-type"].startswith("text/event-stream")
            only = await sse.next_event()
            assert "window.location.reload()" in only.elements
            with pytest.raises(EOFError):
                await sse.next_event()


async def test_the_stream_sends_heartbeats(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, heartbeat=0.05))
    page = await open_page(client)
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        assert await sse.next_comment(timeout=5) == "ping"
        assert await sse.next_comment(timeout=5) == "ping"


async def test_no_bad_input_ever_answers_500(app: App, client: AsgiClient, page: Page) -> None:
    cid, iid = page.cid, page.iid_of("inc")
    json_headers = {"content-type": "application/json"}
    cases: list[tuple[str, str, dict[str, str], bytes]] = [
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?p=" + "[" * 100_000, {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?p=%ff%fe", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?p=NaN", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?p=1e999999", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?p=%00", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?p&p=1&p=%", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc?%%%=&&&", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", json_headers, b"{" * 100_000),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", json_headers, b'{"a":' * 50_000),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", json_headers, b"\x00\x01\x02"),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", json_headers, b'{"\\ud800": 1}'),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", json_headers, b'{"count": "lots"}'),
        (
            "POST",
            f"/_parlour/event/{cid}/{iid}/inc",
            {"content-type": "multipart/form-data"},
            b"--x",
        ),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"content-type": "\x7f;;;=="}, b"{}"),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"content-length": "abc"}, b"{}"),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"content-length": "-5"}, b"{}"),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"content-length": "9" * 40}, b"{}"),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"origin": "http://[::1"}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"origin": "\x00://\x00"}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"origin": ""}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"host": ""}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"cookie": "parlour_session"}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"cookie": f"{COOKIE}=ä.ö"}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"cookie": ";;;==;"}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc", {"cookie": f"{COOKIE}=" + "x" * 10_000}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/%00", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/" + "a" * 10_000, {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/ä😀", {}, b""),
        ("POST", f"/_parlour/event/{cid}/../../inc", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}", {}, b""),
        ("POST", f"/_parlour/event/{cid}/{iid}/inc/extra", {}, b""),
        ("POST", f"/_parlour/event/{cid}//inc", {}, b""),
        ("POST", "/_parlour/event///", {}, b""),
        ("POST", f"/_parlour/event/{'😀' * 100}/{iid}/inc", {}, b""),
        ("POST", f"/_parlour/back/{cid}?to=" + "9" * 5000, {}, b""),
        ("POST", f"/_parlour/back/{cid}?to=-" + "9" * 30, {}, b""),
        ("POST", f"/_parlour/back/{cid}?to=%00", {}, b""),
        ("POST", f"/_parlour/back/{cid}?to=١٢", {}, b""),
        ("POST", "/_parlour/back/", {}, b""),
        ("POST", "/", {}, b"{}"),
        ("PUT", f"/_parlour/event/{cid}/{iid}/inc", {}, b""),
        ("DELETE", f"/_parlour/back/{cid}", {}, b""),
        ("GET", f"/_parlour/event/{cid}/{iid}/inc", {}, b""),
        ("GET", "/_parlour/static/..", {}, b""),
        ("GET", "/_parlour/static/.hidden", {}, b""),
        ("GET", "/_parlour/static/%2e%2e%2fapp.py", {}, b""),
        ("GET", "/_parlour/static/../app.py", {}, b""),
        ("GET", "/_parlour/static/a\x00b", {}, b""),
        ("GET", "/_parlour/static/" + "a" * 5000, {}, b""),
        ("GET", "/_parlour/static/datastar.js", {}, b""),
        ("GET", "/_parlour/nothing-here", {}, b""),
        ("GET", "/?datastar=%7B", {}, b""),
    ]
    for method, path, headers, body in cases:
        try:
            response = await client.request(method, path, headers=headers, body=body)
        except Exception as exc:  # pragma: no cover - the failure message
            pytest.fail(f"{method} {path[:80]!r} {headers} raised {exc!r}")
        assert response.status < 500, (method, path[:80], headers, response.status)
    for cid_ in ("..", "%2e%2e", "a/b", "x" * 5000, "\x00", "😀"):
        async with client.stream(f"/_parlour/sse/{cid_}") as sse:
            assert sse.status < 500, cid_
    # After all that, the conversation still works.
    async with client.stream(f"/_parlour/sse/{cid}") as sse:
        before = count_in((await sse.next_event()).elements)
        assert (await client.post(f"/_parlour/event/{cid}/{iid}/inc")).status == 204
        assert count_in((await sse.next_event()).elements) == before + 1


# -- mounting --------------------------------------------------------------------------------


async def test_an_app_mounted_under_a_prefix_works_end_to_end(make_app: MakeApp) -> None:
    app = make_app(Counter)
    outer = Starlette(routes=[Mount("/counter", app=app)])
    client = AsgiClient(outer)
    page = await open_page(client, "/counter/")
    assert f'@get("/counter/_parlour/sse/{page.cid}"' in str(page.attr("body", "data-init"))
    assert f"@post('/counter/_parlour/event/{page.cid}/" in page.html
    back = str(page.attr("body", "data-on:popstate__window"))
    assert f'@post("/counter/_parlour/back/{page.cid}?to="' in back
    assert 'href="/counter/_parlour/static/parlour.css"' in page.html
    iid = page.iid_of("inc")
    async with client.stream(f"/counter/_parlour/sse/{page.cid}") as sse:
        first = await sse.next_event()
        assert f"/counter/_parlour/event/{page.cid}/{iid}/inc" in first.elements.replace(
            "&#39;", "'"
        )
        response = await client.post(f"/counter/_parlour/event/{page.cid}/{iid}/inc")
        assert response.status == 204
        assert count_in((await sse.next_event()).elements) == 1
    assert (await client.post(f"/counter/_parlour/back/{page.cid}")).status == 204
    css = await client.get("/counter/_parlour/static/parlour.css")
    assert css.status == 200
    # The unmounted paths are not the app's.
    assert (await client.post(f"/_parlour/event/{page.cid}/{iid}/inc")).status == 404


async def test_a_mounted_app_serves_its_self_hosted_datastar_under_the_prefix(
    make_app: MakeApp, tmp_path: Path
) -> None:
    bundle = tmp_path / "datastar.js"
    bundle.write_text("// datastar\n")
    app = make_app(Counter, datastar=bundle)
    client = AsgiClient(Starlette(routes=[Mount("/counter", app=app)]))
    page = await open_page(client, "/counter/")
    assert 'src="/counter/_parlour/static/datastar.js"' in page.html
    assert (await client.get("/counter/_parlour/static/datastar.js")).text == "// datastar\n"


async def test_a_custom_base_moves_every_route(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, base="/live/"))
    page = await open_page(client)
    assert f'@get("/live/sse/{page.cid}"' in str(page.attr("body", "data-init"))
    iid = page.iid_of("inc")
    async with client.stream(f"/live/sse/{page.cid}") as sse:
        await sse.next_event()
        assert (await client.post(f"/live/event/{page.cid}/{iid}/inc")).status == 204
        assert count_in((await sse.next_event()).elements) == 1
    assert (await client.get("/live/static/parlour.css")).status == 200


# -- static files and Datastar ---------------------------------------------------------------


async def test_the_stock_stylesheet_is_served(client: AsgiClient) -> None:
    response = await client.get("/_parlour/static/parlour.css")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.body


async def test_an_unknown_static_file_is_404(client: AsgiClient) -> None:
    for name in ("nope.css", "datastar.js", ".gitignore", "..", "%2e%2e"):
        assert (await client.get(f"/_parlour/static/{name}")).status == 404, name


async def test_the_cdn_option_loads_pinned_datastar_from_the_cdn_with_sri(
    make_app: MakeApp,
) -> None:
    page = await open_page(AsgiClient(make_app(Counter, datastar="cdn")))
    assert DATASTAR_CDN == (
        "https://cdn.jsdelivr.net/gh/starfederation/datastar@v1.0.4/bundles/datastar.js"
    )
    script = re.search(r'<script type="module" src="([^"]+)"([^>]*)>', page.html)
    assert script is not None
    assert script.group(1) == DATASTAR_CDN
    assert re.search(r'integrity="sha384-[A-Za-z0-9+/]{64}"', script.group(2))
    assert 'crossorigin="anonymous"' in script.group(2)


async def test_a_local_datastar_bundle_is_served_from_static(
    make_app: MakeApp, tmp_path: Path
) -> None:
    bundle = tmp_path / "datastar.js"
    bundle.write_text("export const datastar = 1;\n")
    client = AsgiClient(make_app(Counter, datastar=bundle))
    page = await open_page(client)
    assert '<script type="module" src="/_parlour/static/datastar.js">' in page.html
    assert "integrity=" not in page.html
    response = await client.get("/_parlour/static/datastar.js")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.text == "export const datastar = 1;\n"


async def test_the_datastar_environment_variable_picks_a_local_bundle(
    make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ds.js"
    bundle.write_text("// ds\n")
    monkeypatch.setenv("PARLOUR_DATASTAR_JS", str(bundle))
    client = AsgiClient(make_app(Counter))
    page = await open_page(client)
    assert 'src="/_parlour/static/datastar.js"' in page.html
    assert (await client.get("/_parlour/static/datastar.js")).text == "// ds\n"


async def test_an_explicit_datastar_url_is_used_as_is(make_app: MakeApp) -> None:
    url = "https://example.com/datastar.js"
    page = await open_page(AsgiClient(make_app(Counter, datastar=url)))
    assert f'<script type="module" src="{url}">' in page.html


def test_a_missing_datastar_bundle_fails_at_construction(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "datastar.js"
    with pytest.raises(FileNotFoundError) as info:
        App(Counter, secret="s", datastar=missing)
    message = str(info.value)
    assert str(missing) in message
    assert "make setup" in message
    assert "CDN" in message


def test_a_missing_datastar_bundle_from_the_environment_fails_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLOUR_DATASTAR_JS", str(tmp_path / "gone.js"))
    with pytest.raises(FileNotFoundError, match="PARLOUR_DATASTAR_JS"):
        App(Counter, secret="s")


# -- the root --------------------------------------------------------------------------------


async def test_the_root_may_be_a_factory(make_app: MakeApp) -> None:
    page = await open_page(AsgiClient(make_app(lambda: Counter(count=41))))
    assert count_in(page.html) == 41


async def test_every_visit_gets_its_own_root_instance(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter))
    first = await open_page(client)
    await client.post(event_url(first))
    second = await open_page(client)
    assert count_in(second.html) == 0


def test_repr_names_the_root_and_base() -> None:
    assert repr(App(Counter, secret="s")) == "App('Counter', base='/_parlour')"


# -- restarts --------------------------------------------------------------------------------


async def test_a_conversation_resumes_after_a_restart(make_app: MakeApp, tmp_path: Path) -> None:
    first = make_app(Counter, store=FileStore(tmp_path / "conversations"))
    client = AsgiClient(first)
    page = await open_page(client)
    await client.post(event_url(page))
    await first.runtime.close()
    client.app = make_app(Counter, store=FileStore(tmp_path / "conversations"))
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        render = await sse.next_event()
        assert render.selector == "#root"
        assert count_in(render.elements) == 1
        assert (await client.post(event_url(page))).status == 204
        assert count_in((await sse.next_event()).elements) == 2


async def test_too_many_restores_at_once_answer_503_with_retry_after(
    make_app: MakeApp, tmp_path: Path
) -> None:
    first = make_app(Counter, store=FileStore(tmp_path / "conversations"))
    client = AsgiClient(first)
    page = await open_page(client)
    await first.runtime.close()
    client.app = make_app(Counter, store=FileStore(tmp_path / "conversations"), max_restores=0)
    response = await client.post(event_url(page))
    assert response.status == 503
    assert response.headers["retry-after"] == "1"
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert sse.status == 503
