"""What a parlour server refuses outright and what every answer carries (parlour.web.security).

Host          only the allowed hosts are answered; any other gets 400 on every route
headers       nosniff and Referrer-Policy everywhere; on pages a Content-Security-Policy
              that forbids framing and allows Datastar, and X-Frame-Options: DENY
redirects     relative: the request's Host is never echoed into a Location
bad input     a wrong-typed kept signal or hostile JSON is a 400 that says what was wrong,
              logged once in one line
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from htpy import Element, button, div, input, span
from starlette.applications import Starlette
from starlette.routing import Mount

from parlour import Component, event
from parlour.cli import main
from parlour.core.effects import execute_script, redirect
from parlour.testing import AsgiClient
from parlour.web.app import App
from parlour.web.security import allowed_hosts, relative_location

from .conftest import SECRET, MakeApp, open_page


class Counter(Component):
    count: int = 0

    def render(self) -> Element:
        return div(self.root)[span(".count")[self.count], button(self.on("click", "inc"))["+"]]

    @event
    def inc(self) -> None:
        self.count += 1


class Draft(Component):
    """Keeps the input's own copy of `draft` (a `str`) with every event."""

    keep = ("draft",)
    draft: str = ""
    sent: str = ""

    def render(self) -> Element:
        return div(self.root)[
            input(self.bind_local("draft"), value=self.draft),
            button(self.on("click", "send"))["send"],
            span(".sent")[self.sent],
        ]

    @event
    def send(self) -> None:
        self.sent = self.draft


class Scripted(Component):
    """Sends scripts down the stream: one of its own, and a navigation."""

    def render(self) -> Element:
        return div(self.root)[
            button(self.on("click", "run"))["run"], button(self.on("click", "leave"))["leave"]
        ]

    @event
    def run(self) -> Any:
        return execute_script("document.title = 'ran'")

    @event
    def leave(self) -> Any:
        return redirect("/elsewhere")


def csp_of(headers: dict[str, str]) -> dict[str, list[str]]:
    policy = headers["content-security-policy"]
    directives = [d.split() for d in policy.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


# -- allowed hosts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "testserver"]
)
async def test_a_local_server_answers_the_names_it_is_reached_by(
    make_app: MakeApp, host: str
) -> None:
    client = AsgiClient(make_app(Counter))
    assert (await client.get("/", headers={"host": host})).status == 200


async def test_any_other_host_is_400_on_every_route(make_app: MakeApp) -> None:
    app = make_app(Counter)
    client = AsgiClient(app)
    page = await open_page(client)
    evil = {"host": "evil.example"}
    for method, path in [
        ("GET", "/"),
        ("GET", f"/_parlour/sse/{page.cid}"),
        ("POST", f"/_parlour/event/{page.cid}/{page.iid_of('inc')}/inc"),
        ("POST", f"/_parlour/back/{page.cid}"),
        ("GET", "/_parlour/static/parlour.css"),
        ("GET", "/no/such/page"),
    ]:
        response = await client.request(method, path, headers=evil)
        assert response.status == 400, (method, path)
        assert "host" in response.text.lower()
    for host in ("", "evil.example:80", "localhost.evil.example", "127.0.0.1.nip.io", "[::2]"):
        assert (await client.get("/", headers={"host": host})).status == 400, host


async def test_a_click_for_another_host_is_400_whatever_else_is_wrong_with_it(
    make_app: MakeApp,
) -> None:
    """The event route checks the Host itself (it is served beside the guard, not through
    it): before the method, the origin, the conversation and the session are looked at."""
    app = make_app(Counter)
    client = AsgiClient(app)
    page = await open_page(client)
    path = f"/_parlour/event/{page.cid}/{page.iid_of('inc')}/inc"
    for host in ("evil.example", "", "localhost:abc", "[::1", "evil.example, localhost"):
        for method, target, headers in [
            ("POST", path, {}),
            ("GET", path, {}),
            ("POST", "/_parlour/event/nosuch/p1/inc", {}),
            ("POST", path, {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}),
            ("POST", path, {"cookie": "parlour_session=forged"}),
        ]:
            response = await client.request(method, target, headers={"host": host, **headers})
            assert response.status == 400, (host, method, target, headers)
            assert response.text == "Invalid host header"
            assert response.headers["x-content-type-options"] == "nosniff"
    assert top_count(app, page.cid) == 0
    assert (await client.post(path)).status == 204  # the same click for our own host
    assert (await client.post(path, headers={"host": "LOCALHOST:8000"})).status == 204
    assert top_count(app, page.cid) == 2


def top_count(app: App, cid: str) -> int:
    conv = app.runtime.live[cid].conv
    top = conv.stack[-1]
    component = conv.instances[top].component
    assert isinstance(component, Counter)
    return component.count


@pytest.mark.parametrize(
    "extra", [(), ("app.example.com", "*.example.org"), ("10.0.0.5", "[2001:db8::1]")]
)
def test_the_host_check_answers_as_starlettes_trusted_host_middleware(
    extra: tuple[str, ...],
) -> None:
    from starlette._utils import parse_host_header  # pyright: ignore[reportPrivateUsage]

    from parlour.web.security import HostCheck

    patterns = allowed_hosts(extra)
    check = HostCheck(patterns)

    def starlette(header: str | None) -> bool:  # TrustedHostMiddleware's rule, www_redirect off
        parsed = parse_host_header(header)
        if parsed is None:
            return False
        host = parsed.host.lower()
        return any(host == p or (p.startswith("*") and host.endswith(p[1:])) for p in patterns)

    headers = [None, "", " ", "localhost", "LOCALHOST", "localhost:8000", "localhost:", "[::1]",
               "[::1]:80", "::1", "[::2]", "[::1", "127.0.0.1", "127.0.0.1:99999", "testserver",
               "evil.example", "localhost.evil.example", "app.example.com", "APP.Example.COM:443",
               "x.example.org", "a.b.example.org", "example.org", "example.org.evil", "10.0.0.5",
               "[2001:db8::1]:8080", "[2001:DB8::1]", "localhost, evil.example", "local host",
               "l\u00f6calhost", "localhost\r\n", "*.example.org", "\x00"]  # fmt: skip
    for header in headers * 2:  # the second time, the remembered answer
        assert check.allows(header) == starlette(header), header


async def test_a_refused_click_carries_the_security_headers_too(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, max_body=16))
    page = await open_page(client)
    path = f"/_parlour/event/{page.cid}/{page.iid_of('inc')}/inc"
    for status, target, headers, body in [
        (403, path, {"origin": "http://evil.example"}, b""),
        (404, "/_parlour/event/nosuch/p1/inc", {}, b""),
        (404, f"/_parlour/event/{page.cid}/{page.iid_of('inc')}/nosuch", {}, b""),
        (413, path, {"content-type": "application/json"}, b'{"a": "' + b"x" * 40 + b'"}'),
        (400, path, {"content-type": "application/json"}, b"{nope"),
        (405, path, {}, None),
    ]:
        if body is None:
            response = await client.get(target, headers=headers)
        else:
            response = await client.post(target, headers=headers, body=body)
        assert response.status == status, (target, headers, response.text)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"
    response = await client.post(path)
    assert response.status == 204
    assert response.headers == {
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }


async def test_named_hosts_are_added_to_the_local_ones(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, allowed_hosts=["app.example.com", "*.example.org"]))
    for host in ("app.example.com", "APP.example.com:443", "a.b.example.org", "localhost"):
        assert (await client.get("/", headers={"host": host})).status == 200, host
    for host in ("example.com", "other.example.com", "example.org.evil"):
        assert (await client.get("/", headers={"host": host})).status == 400, host


async def test_a_star_allows_every_host(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter, allowed_hosts=["*"]))
    assert (await client.get("/", headers={"host": "anything.example"})).status == 200


async def test_hosts_can_be_added_before_serving_only(make_app: MakeApp) -> None:
    app = make_app(Counter)
    app.allow_hosts("app.example.com")
    client = AsgiClient(app)
    assert (await client.get("/", headers={"host": "app.example.com"})).status == 200
    with pytest.raises(RuntimeError, match="before the app serves"):
        app.allow_hosts("late.example.com")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("app.example.com:8000", "port"),
        ("https://app.example.com", "scheme"),
        ("::1", "brackets"),
        ("a*.example.com", "wildcard"),
        ("", "empty"),
    ],
)
def test_a_malformed_allowed_host_is_refused_when_the_app_is_built(bad: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        App(Counter, secret=SECRET, allowed_hosts=[bad])
    with pytest.raises(TypeError, match="list of host names"):
        allowed_hosts("app.example.com")


# -- headers -----------------------------------------------------------------------------------


async def test_a_page_forbids_framing_and_sniffing_and_keeps_its_urls_to_itself(
    make_app: MakeApp,
) -> None:
    response = await AsgiClient(make_app(Counter)).get("/")
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    csp = csp_of(headers)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]
    # Datastar evaluates expressions with `new Function`; inline scripts need the page's nonce.
    script = csp["script-src"]
    assert script[:2] == ["'self'", "'unsafe-eval'"]
    assert "'unsafe-inline'" not in script
    assert len([s for s in script if s.startswith("'nonce-")]) == 1


async def test_every_other_answer_is_not_sniffed_either(make_app: MakeApp) -> None:
    client = AsgiClient(make_app(Counter))
    page = await open_page(client)
    for response in (
        await client.get("/no/such/page"),
        await client.get("/_parlour/static/parlour.css"),
        await client.post(f"/_parlour/event/{page.cid}/{page.iid_of('inc')}/inc"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        assert sse.headers["x-content-type-options"] == "nosniff"


async def test_the_scripts_a_stream_sends_carry_the_nonce_its_page_allows(
    make_app: MakeApp,
) -> None:
    client = AsgiClient(make_app(Scripted))
    page = await open_page(client)
    assert page.response is not None
    (nonce,) = [s for s in csp_of(page.response.headers)["script-src"] if "nonce-" in s]
    nonce = nonce.removeprefix("'nonce-").removesuffix("'")
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        for name in ("run", "leave"):
            await client.post(f"/_parlour/event/{page.cid}/{page.iid_of(name)}/{name}")
            scripts: list[str] = []
            while not scripts:  # the click's re-render comes first
                html = (await sse.next_event()).elements
                scripts = re.findall(r"<script[^>]*>", html)
            assert scripts == [f'<script data-effect="el.remove()" nonce="{nonce}">'], scripts


async def test_the_nonce_is_the_conversations_in_every_process_and_no_other_s(
    make_app: MakeApp,
) -> None:
    first, second = make_app(Scripted), make_app(Scripted)
    assert first.runtime is not second.runtime
    nonces = {first._streams.nonces(cid) for cid in ("a", "b")}  # pyright: ignore[reportPrivateUsage]
    assert len(nonces) == 2
    assert second._streams.nonces("a") == first._streams.nonces("a")  # pyright: ignore[reportPrivateUsage]
    other = make_app(Scripted, secret="another-secret")
    assert other._streams.nonces("a") != first._streams.nonces("a")  # pyright: ignore[reportPrivateUsage]


async def test_the_cdn_and_the_apps_own_stylesheets_are_allowed(make_app: MakeApp) -> None:
    app = make_app(
        Counter,
        datastar="cdn",
        stylesheets=("https://fonts.example/site.css", "data:text/css,p{}", "/local.css"),
    )
    csp = csp_of((await AsgiClient(app).get("/")).headers)
    assert "https://cdn.jsdelivr.net" in csp["script-src"]
    assert csp["style-src"] == ["'self'", "'unsafe-inline'", "https://fonts.example", "data:"]


async def test_an_app_may_widen_a_directive(make_app: MakeApp) -> None:
    app = make_app(Counter, csp={"img-src": "'self' https://images.example"})
    csp = csp_of((await AsgiClient(app).get("/")).headers)
    assert csp["img-src"] == ["'self'", "https://images.example"]
    assert csp["frame-ancestors"] == ["'none'"]


def test_a_directive_value_cannot_start_another_directive() -> None:
    with pytest.raises(ValueError, match="one directive"):
        App(Counter, secret=SECRET, csp={"img-src": "'self'; script-src *"})
    with pytest.raises(ValueError, match="not a directive name"):
        App(Counter, secret=SECRET, csp={"img src": "'self'"})


# -- redirects ---------------------------------------------------------------------------------


async def test_a_trailing_slash_redirect_never_names_the_requests_host(
    make_app: MakeApp,
) -> None:
    pages = {"/": Counter, "/status": Counter}
    for app in (make_app(pages), make_app(pages, allowed_hosts=["*"])):
        client = AsgiClient(app)
        for host in ("localhost:8000", "testserver"):
            response = await client.get("/status/", headers={"host": host})
            assert response.status in (307, 308)
            assert response.headers["location"] == "/status"
    # A host the app does not serve gets no redirect at all; with every host allowed the
    # redirect still points at this site, relatively.
    evil = {"host": "evil.example"}
    assert (await AsgiClient(make_app(pages)).get("/status/", headers=evil)).status == 400
    response = await AsgiClient(make_app(pages, allowed_hosts=["*"])).get("/status/", headers=evil)
    assert response.headers["location"] == "/status"


async def test_a_redirect_cannot_become_protocol_relative(make_app: MakeApp) -> None:
    client = AsgiClient(make_app({"/": Counter, "/status": Counter}))
    for path in ("//evil.example/", "///evil.example/", "/\\evil.example/"):
        response = await client.get(path)
        location = response.headers.get("location", "/")
        assert not location.startswith(("//", "/\\")), (path, location)


async def test_a_mounted_apps_redirect_keeps_its_mount_point(make_app: MakeApp) -> None:
    inner = make_app({"/": Counter, "/status": Counter})
    outer = Starlette(routes=[Mount("/counter", app=inner)])
    response = await AsgiClient(outer).get("/counter/status/", headers={"host": "localhost"})
    assert response.headers["location"] == "/counter/status"


@pytest.mark.parametrize(
    ("location", "host", "expected"),
    [
        ("http://localhost:8000/status?x=1#top", "localhost:8000", "/status?x=1#top"),
        ("https://EVIL.example/a", "evil.example", "/a"),
        ("http://evil.example//other.example/", "evil.example", "/other.example/"),
        ("https://accounts.example/login", "localhost", "https://accounts.example/login"),
        ("/already/relative", "localhost", "/already/relative"),
    ],
)
def test_relative_location(location: str, host: str, expected: str) -> None:
    assert relative_location(location, host) == expected


# -- bad input ---------------------------------------------------------------------------------


async def test_a_kept_signal_of_the_wrong_type_is_a_400_naming_it(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    client = AsgiClient(make_app(Draft))
    page = await open_page(client)
    iid = page.iid_of("send")
    url = f"/_parlour/event/{page.cid}/{iid}/send"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="parlour"):
        response = await client.post(url, json={f"draft-{iid}": {"i": 1}})
    assert response.status == 400
    assert f"draft-{iid}" in response.text
    assert "str" in response.text
    refusals = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert refusals[0].exc_info is None
    assert "\n" not in refusals[0].getMessage()
    # The conversation is untouched and still answers a well-formed event.
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()
        assert (await client.post(url, json={f"draft-{iid}": "hi"})).status == 204
        assert '<span class="sent">hi</span>' in (await sse.next_event()).elements


BAD_UTF8 = b'{"draft":"\xc3\x28"}'


@pytest.mark.parametrize(
    "body",
    [
        b'{"draft":' + b"9" * 5000 + b"}",
        b'{"draft":1e999}',
        b'{"draft":NaN}',
        b'{"draft":"a","draft":"b"}',
        b'{"draft":"\\ud800"}',
        BAD_UTF8,
        b"[" * 50_000,
        b'{"a":' * 20_000,
        b"\xff\xfe\x00{",
    ],
    ids=[
        "huge-int",
        "overflow",
        "nan",
        "duplicate-key",
        "lone-surrogate",
        "bad-utf8",
        "deep-list",
        "deep-object",
        "utf16",
    ],
)
async def test_hostile_json_is_a_400(make_app: MakeApp, body: bytes) -> None:
    client = AsgiClient(make_app(Draft))
    page = await open_page(client)
    url = f"/_parlour/event/{page.cid}/{page.iid_of('send')}/send"
    json_type = {"content-type": "application/json"}
    response = await client.post(url, body=body, headers=json_type)
    assert response.status == 400, response.text
    if body != BAD_UTF8:  # a query string's bad UTF-8 is decoded with U+FFFD: valid text
        payload = await client.post(url + "?p=" + quote_from_bytes(body))
        assert payload.status == 400, payload.text


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Any]]]:
    """A module with an App in the current directory, and uvicorn.run replaced by a list."""
    name = f"hosts_probe_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        "from htpy import div\nfrom parlour import App, Component\n"
        "class Hello(Component):\n    def render(self):\n        return div(self.root)['hi']\n"
        "app = App(Hello, secret='cli-test', store=__import__('parlour.stores').stores"
        ".MemoryStore())\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    calls: list[Any] = []

    def run(app: Any, **options: Any) -> None:
        calls.append(app)

    monkeypatch.setattr("uvicorn.run", run)
    yield name, calls
    sys.modules.pop(name, None)


async def test_parlour_run_answers_the_hosts_it_is_told_and_the_address_it_binds(
    served: tuple[str, list[Any]],
) -> None:
    name, calls = served
    argv = ["run", f"{name}:app", "--host", "10.0.0.5", "--allowed-host", "app.example.com"]
    assert main([*argv, "--allowed-host", "*.example.org"]) == 0
    [app] = calls
    client = AsgiClient(app)
    for host in ("app.example.com", "x.example.org", "10.0.0.5:8000", "localhost:8000"):
        assert (await client.get("/", headers={"host": host})).status == 200, host
    assert (await client.get("/", headers={"host": "evil.example"})).status == 400
    await app.close()


def test_parlour_run_refuses_a_malformed_allowed_host(served: tuple[str, list[Any]]) -> None:
    name, calls = served
    with pytest.raises(SystemExit) as info:
        main(["run", f"{name}:app", "--allowed-host", "app.example.com:8000"])
    assert str(info.value.code).startswith("parlour: --allowed-host:")
    assert "port" in str(info.value.code)
    assert calls == []
