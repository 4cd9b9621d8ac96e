"""The event route reads a click's headers as Starlette would, from the raw ASGI list.

It reads them in one pass, as bytes, and remembers what it made of them (the origin check,
the session cookie, the Host check) by their bytes: a browser sends the same ones on every
click. These tests pin what that must not change: the first of a repeated header is the one
that counts, and no header value, however odd, makes the route fail with a 5xx.
"""

from __future__ import annotations

import asyncio
from typing import Any

from htpy import Element, button, div, span

from parlour import Component, event
from parlour.testing import AsgiClient
from parlour.web.app import App

from .conftest import MakeApp, open_page


class Counter(Component):
    count: int = 0

    def render(self) -> Element:
        return div(self.root)[span(".count")[self.count], button(self.on("click", "inc"))["+"]]

    @event
    def inc(self) -> None:
        self.count += 1


async def post(app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> int:
    """POST through the app with exactly these raw header pairs; the status."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))

    async with asyncio.timeout(5):
        await app(scope, receive, send)
    (status,) = statuses
    return status


async def a_click(make_app: MakeApp) -> tuple[App, str, bytes]:
    app = make_app(Counter)
    client = AsgiClient(app)
    page = await open_page(client)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items()).encode()
    return app, f"/_parlour/event/{page.cid}/{page.iid_of('inc')}/inc", cookie


async def test_the_first_of_a_repeated_header_is_the_one_that_counts(make_app: MakeApp) -> None:
    app, path, cookie = await a_click(make_app)
    ours, evil = b"localhost:8000", b"evil.example"
    site = (b"origin", b"http://localhost:8000")
    other = (b"origin", b"http://evil.example")
    for headers, status in [
        ([(b"host", ours), (b"host", evil), (b"cookie", cookie)], 204),
        ([(b"host", evil), (b"host", ours), (b"cookie", cookie)], 400),
        ([(b"host", ours), site, other, (b"cookie", cookie)], 204),
        ([(b"host", ours), other, site, (b"cookie", cookie)], 403),
        ([(b"host", ours), (b"cookie", cookie), (b"cookie", b"parlour_session=x")], 204),
        ([(b"host", ours), (b"cookie", b"parlour_session=x"), (b"cookie", cookie)], 403),
    ]:
        for _ in range(2):  # the second time, what the route remembered of these headers
            assert await post(app, path, headers) == status, headers


async def test_no_header_value_makes_a_click_fail_with_a_5xx(make_app: MakeApp) -> None:
    app, path, cookie = await a_click(make_app)
    host = (b"host", b"localhost")
    odd = [b"", b"\xb2", b"\xff\xfe", b"\x00", b"1" * 400, b"-1", b" 2", b"\xc2\xb2"]
    for value in odd:
        for name in (b"content-length", b"content-type", b"origin", b"sec-fetch-site"):
            headers = [host, (b"cookie", cookie), (name, value)]
            status = await post(app, path, headers, b"{}")
            assert 200 <= status < 500, (name, value, status)
        status = await post(app, path, [host, (b"cookie", value)], b"{}")
        assert status == 403, (value, status)
        assert await post(app, path, [(b"host", value), (b"cookie", cookie)]) == 400, value


async def test_a_middleware_that_changes_the_answer_of_one_click_changes_no_other(
    make_app: MakeApp,
) -> None:
    """The 204's start message is the app's to reuse only if nobody changes it: a middleware
    around the app may (Starlette's CORS adds its headers to the list it is given)."""
    app, path, cookie = await a_click(make_app)
    seen: list[list[tuple[bytes, bytes]]] = []

    async def stamping(scope: Any, receive: Any, send: Any) -> None:
        async def stamp(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-stamp", b"1"))  # in place
                seen.append(list(message["headers"]))
            await send(message)

        await app(scope, receive, stamp)

    for _ in range(3):
        assert await post(stamping, path, [(b"host", b"localhost"), (b"cookie", cookie)]) == 204
    assert [[k for k, _ in headers].count(b"x-stamp") for headers in seen] == [1, 1, 1]
    assert all((b"x-content-type-options", b"nosniff") in headers for headers in seen)
