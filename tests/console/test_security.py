"""Who may use the console's pages: signing in with the token or a name and password, the
cookie that keeps a person signed in, what a stranger gets, the allowed hosts, and who each
answer records. Driven in-process (`AsgiClient`, `parlour.testing.Page`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.types import Receive, Scope, Send

from parlour.console import cards, panels, signin
from parlour.console.access import COOKIE, SESSION_SECONDS
from parlour.console.app import UNPROTECTED_WARNING, Console
from parlour.console.users import ScryptParams
from parlour.testing import AsgiClient, AsgiResponse, Page

TOKEN = "console-token-for-tests"
HOST = "testserver"
CHEAP = ScryptParams(n=2**10, r=8, p=1)
PAGES = ["/", "/status", "/config", "/projector", "/mobile"]
FORM = {"content-type": "application/x-www-form-urlencoded"}

MakeConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
async def make_console(tmp_path: Path) -> AsyncIterator[MakeConsole]:
    """`await make_console(token=..., users={"ada": "password"})`: a started console."""
    made: list[Console] = []

    async def make(
        *, token: str | None = None, users: dict[str, str] | None = None, **options: Any
    ) -> Console:
        options.setdefault("secret", "test-secret")
        console = Console(
            store="memory",
            journal="memory",
            tick=3600,
            state_dir=tmp_path / f"state-{len(made)}",
            token=token,
            **options,
        )
        console.access.users.params = CHEAP
        for name, password in (users or {}).items():
            console.access.users.add(name, password)
        await console.start()
        made.append(console)
        return console

    yield make
    for console in made:
        await console.close()


async def sign_in(client: AsgiClient, next_: str = "/", **fields: str) -> AsgiResponse:
    body = urlencode({**fields, "next": next_}).encode()
    return await client.post(signin.SIGNIN_PATH, body=body, headers=FORM)


def set_cookie(response: AsgiResponse) -> SimpleCookie:
    jar = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


async def open_tab(console: Console, client: AsgiClient, path: str = "/") -> Page:
    console.pages.views.flush()
    return await Page(client, runtime=console.pages.runtime).open(path)


async def answer_on_page(page: Page, qid: str, text: str) -> None:
    card = f'[id="{panels.dom_id("question", qid)}"]'
    if page.all(f"{card} .console-choice"):
        await page.click(f"{card} .console-choice", text=text)  # sets the card's signal
        await page.submit(f"{card} form")  # what the browser does next
    else:
        await page.fill(f"{card} input", text)
        await page.click(f"{card} button", text="Send")
    await page.settle()


class Https:
    """The console as served behind https (uvicorn sets the scheme from the proxy)."""

    def __init__(self, app: Console) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "scheme": "https"}, receive, send)


# -- without sign-in, nothing -------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_with_a_token_a_page_sends_a_stranger_to_sign_in_with_a_relative_location(
    make_console: MakeConsole, path: str
) -> None:
    console = await make_console(token=TOKEN)
    assert console.hub is not None
    await console.hub.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    client = AsgiClient(console)
    response = await client.get(path, headers={"host": "localhost:8000"})
    assert response.status == 303
    assert response.headers["location"] == f"/_console/signin?next={path}"
    assert "Ship 1.4" not in response.text
    assert COOKIE not in client.cookies


async def test_the_next_page_keeps_its_query_and_cannot_leave_the_console(
    make_console: MakeConsole,
) -> None:
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    response = await client.get("/status?tab=2")
    assert response.headers["location"] == "/_console/signin?next=/status%3Ftab%3D2"
    for elsewhere in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "evil"]:
        response = await sign_in(AsgiClient(console), elsewhere, token=TOKEN)
        assert response.status == 303
        assert response.headers["location"] == "/", elsewhere


async def test_with_a_token_the_pages_own_routes_refuse_a_stranger(
    make_console: MakeConsole,
) -> None:
    console = await make_console(token=TOKEN)
    person = AsgiClient(console)
    await sign_in(person, token=TOKEN)
    page = await open_tab(console, person)
    cid = page.cid
    await page.close()
    stranger = AsgiClient(console)
    for method, path in [
        ("GET", f"/_parlour/sse/{cid}"),
        ("POST", f"/_parlour/event/{cid}/p1/answer"),
        ("POST", f"/_parlour/back/{cid}?to=0"),
        ("POST", "/"),
        ("GET", "/_parlour/sse/unknown"),
    ]:
        response = await stranger.request(method, path)
        assert response.status == 403, (method, path, response.status)
        assert "sign in first" in response.text


async def test_the_stylesheets_and_the_sign_in_page_are_public(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    for path in ["/_console/console.css", "/_parlour/static/parlour.css", "/_console/signin"]:
        assert (await client.get(path)).status == 200, path
    for path in ["/_parlour/static/../sse/x", "/_parlour/static/", "/_console/console.css/x"]:
        assert (await client.get(path)).status in (303, 403), path


# -- signing in with the token ----------------------------------------------------------------


async def test_the_token_signs_in_with_an_httponly_lax_cookie(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    form = await client.get("/_console/signin?next=/status")
    assert form.status == 200
    assert 'name="token"' in form.text
    assert 'type="password"' in form.text
    assert 'name="password"' not in form.text
    assert form.headers["cache-control"] == "no-store"
    response = await sign_in(client, "/status", token=TOKEN)
    assert response.status == 303
    assert response.headers["location"] == "/status"
    morsel = set_cookie(response)[COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert morsel["max-age"] == str(SESSION_SECONDS)
    assert not morsel["secure"]  # plain http: a Secure cookie would never come back
    assert TOKEN not in morsel.value
    page = await client.get("/status")
    assert page.status == 200
    assert "Sign out" in page.text


async def test_over_https_the_cookie_is_secure(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    response = await sign_in(AsgiClient(Https(console)), token=TOKEN)
    assert response.status == 303
    assert set_cookie(response)[COOKIE]["secure"] is True


async def test_a_wrong_token_is_401_and_sets_no_cookie(
    make_console: MakeConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "MISS_DELAY", 0.0)
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    response = await sign_in(client, token="guess")
    assert response.status == 401
    assert "Wrong token" in response.text
    assert "set-cookie" not in response.headers
    assert (await client.get("/")).status == 303


async def test_sign_out_clears_the_cookie(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    await sign_in(client, token=TOKEN)
    assert (await client.get("/")).status == 200
    assert (await client.get(signin.SIGNOUT_PATH)).status == 405  # a link cannot sign out
    response = await client.post(signin.SIGNOUT_PATH)
    assert response.status == 303
    assert response.headers["location"] == signin.SIGNIN_PATH
    morsel = set_cookie(response)[COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == "0"
    assert (await client.get("/")).status == 303


async def test_a_forged_or_foreign_cookie_is_refused(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    other = await make_console(token=TOKEN, secret="another-secret")
    theirs = AsgiClient(other)
    await sign_in(theirs, token=TOKEN)
    for value in [theirs.cookies[COOKIE], '["token", ""]', "x.y.z", ""]:
        client = AsgiClient(console)
        client.cookies[COOKIE] = value
        assert (await client.get("/")).status == 303, value


async def test_a_sign_in_expires(
    make_console: MakeConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = await make_console(token=TOKEN)
    cookie = console.access.mint("token")
    assert console.access.person(cookie) == "token"
    import itsdangerous.timed

    later = itsdangerous.timed.time.time() + SESSION_SECONDS + 1
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert console.access.person(cookie) is None


async def test_sign_in_from_another_site_is_refused(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    body = urlencode({"token": TOKEN}).encode()
    for headers in [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},
    ]:
        response = await AsgiClient(console).post(
            signin.SIGNIN_PATH, body=body, headers={**FORM, **headers}
        )
        assert response.status == 403, headers
        assert "set-cookie" not in response.headers


async def test_too_many_misses_are_429_even_with_the_right_token(
    make_console: MakeConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "MISS_DELAY", 0.0)
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    for _ in range(signin.MAX_MISSES):
        assert (await sign_in(client, token="guess")).status == 401
    response = await sign_in(client, token=TOKEN)
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many tries" in response.text


# -- named people -------------------------------------------------------------------------------


async def test_with_users_the_page_asks_a_name_and_password(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN, users={"ada": "correct horse"})
    form = await AsgiClient(console).get(signin.SIGNIN_PATH)
    assert 'name="name"' in form.text
    assert 'name="password"' in form.text
    assert 'name="token"' not in form.text
    client = AsgiClient(console)
    response = await sign_in(client, name="ada", password="correct horse")
    assert response.status == 303
    assert (await client.get("/")).status == 200


async def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(
    make_console: MakeConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "MISS_DELAY", 0.0)
    console = await make_console(users={"ada": "correct horse"})
    wrong_password = await sign_in(AsgiClient(console), name="ada", password="wrong horse")
    wrong_name = await sign_in(AsgiClient(console), name="bob", password="wrong horse")
    assert wrong_password.status == wrong_name.status == 401
    assert "Wrong name or password" in wrong_password.text
    assert wrong_password.text.replace("ada", "bob") == wrong_name.text


async def test_with_users_the_token_no_longer_signs_in_to_the_pages(
    make_console: MakeConsole, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "MISS_DELAY", 0.0)
    console = await make_console(token=TOKEN, users={"ada": "correct horse"})
    client = AsgiClient(console)
    assert (await sign_in(client, token=TOKEN)).status == 401
    client.cookies[COOKIE] = console.access.mint("token")
    assert (await client.get("/")).status == 303


async def test_removing_a_user_or_a_new_password_ends_their_sessions(
    make_console: MakeConsole,
) -> None:
    console = await make_console(users={"ada": "correct horse", "bob": "battery staple"})
    ada, bob = AsgiClient(console), AsgiClient(console)
    await sign_in(ada, name="ada", password="correct horse")
    await sign_in(bob, name="bob", password="battery staple")
    console.access.users.add("ada", "new horse staple")
    console.access.users.remove("bob")
    assert (await ada.get("/")).status == 303
    assert (await bob.get("/")).status == 303


async def test_removing_the_last_user_leaves_the_pages_closed_until_a_restart(
    make_console: MakeConsole,
) -> None:
    console = await make_console(users={"ada": "correct horse"})
    client = AsgiClient(console)
    await sign_in(client, name="ada", password="correct horse")
    assert (await client.get("/")).status == 200
    console.access.users.remove("ada")
    assert console.access.protected
    assert (await client.get("/")).status == 303
    assert (await AsgiClient(console).get("/")).status == 303


async def test_the_first_user_closes_the_pages_of_a_running_console(
    make_console: MakeConsole,
) -> None:
    console = await make_console()
    client = AsgiClient(console)
    assert (await client.get("/")).status == 200
    console.access.users.add("ada", "correct horse")  # `parlour console user add`, elsewhere
    assert (await client.get("/")).status == 303


# -- not protected --------------------------------------------------------------------------------


async def test_without_auth_the_console_warns_once_at_start(
    make_console: MakeConsole, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="parlour.console"):
        await make_console()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [UNPROTECTED_WARNING]
    assert "anyone who can reach this console can answer" in UNPROTECTED_WARNING
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="parlour.console"):
        await make_console(token=TOKEN)
    assert not [r for r in caplog.records if "NOT PROTECTED" in r.getMessage()]


async def test_with_auth_the_console_says_at_start_what_it_asks(
    make_console: MakeConsole, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="parlour.console"):
        await make_console(token=TOKEN, users={"ada": "correct horse", "bob": "battery staple"})
        await make_console(users={"ada": "correct horse"})
        await make_console(token=TOKEN)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sign-in:")]
    assert lines[0].startswith("sign-in: the pages ask a name and password (2 users in ")
    assert lines[0].endswith("; the API asks the token as a bearer")
    assert lines[1].endswith("; the API is closed (no token)")
    assert lines[2] == "sign-in: the pages ask the token; the API asks the token as a bearer"


@pytest.mark.parametrize("path", PAGES)
async def test_without_auth_every_page_is_marked_not_protected(
    make_console: MakeConsole, path: str
) -> None:
    console = await make_console()
    page = await open_tab(console, AsgiClient(console), path)
    try:
        mark = page.query(".console-header .console-unprotected")
        assert mark.text == "Not protected"
        assert not page.all(".console-signout")
    finally:
        await page.close()


async def test_with_auth_the_header_has_sign_out_and_no_mark(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    await sign_in(client, token=TOKEN)
    page = await open_tab(console, client)
    try:
        assert not page.all(".console-unprotected")
        form = page.query(".console-header form.console-signout")
        assert form.get("action") == signin.SIGNOUT_PATH
        assert str(form.get("method")).lower() == "post"
    finally:
        await page.close()


# -- who answered ---------------------------------------------------------------------------------


async def test_an_answer_on_a_page_signed_in_with_the_token_records_token(
    make_console: MakeConsole,
) -> None:
    console = await make_console(token=TOKEN)
    assert console.hub is not None
    question = await console.hub.ask("deployer", "Ship?", options=["yes", "no"])
    client = AsgiClient(console)
    await sign_in(client, token=TOKEN)
    page = await open_tab(console, client)
    try:
        await answer_on_page(page, question.id, "yes")
        assert "answered by token" in page.text(".console-notice")
    finally:
        await page.close()
    assert console.hub.question(question.id).answered_by == "token"


async def test_without_auth_a_page_answer_records_anonymous_and_shows_it(
    make_console: MakeConsole,
) -> None:
    console = await make_console()
    assert console.hub is not None
    question = await console.hub.ask("deployer", "Ship?", options=["yes", "no"])
    page = await open_tab(console, AsgiClient(console))
    try:
        await answer_on_page(page, question.id, "no")
        console.pages.views.flush()
        await page.wait_for(lambda p: bool(p.all("#answered .console-answered-by")))
        item = page.query("#answered .console-answered-item")
        assert "@deployer" in item.text
        assert "no" in item.text
        assert page.text("#answered .console-answered-by") == "answered by anonymous"
    finally:
        await page.close()
    assert console.hub.question(question.id).answered_by == "anonymous"


async def test_a_named_persons_answer_on_a_page_records_their_name(
    make_console: MakeConsole,
) -> None:
    console = await make_console(token=TOKEN, users={"ada": "correct horse"})
    assert console.hub is not None
    question = await console.hub.ask("deployer", "Ship?", options=["yes", "no"], qid="Job-7")
    client = AsgiClient(console)
    await sign_in(client, name="ada", password="correct horse")
    page = await open_tab(console, client)
    try:
        assert page.text(".console-header .console-person") == "Signed in as ada"
        await answer_on_page(page, question.id, "yes")
        assert page.text(".console-notice") == "Answered @deployer: yes (answered by ada)"
        console.pages.views.flush()
        await page.wait_for(lambda p: bool(p.all("#answered .console-answered-by")))
        assert page.text("#answered .console-answered-by") == "answered by ada"
    finally:
        await page.close()
    auth = {"authorization": f"Bearer {TOKEN}"}
    shown = await client.get("/api/questions/Job-7", headers=auth)
    assert json.loads(shown.body)["answered_by"] == "ada"
    [event] = await console.hub.journal.read(pattern="question.answered")
    assert event.payload == {"id": "Job-7", "answer": "yes", "by": "ada"}


async def test_a_removed_user_cannot_answer_from_a_page_left_open(
    make_console: MakeConsole,
) -> None:
    console = await make_console(users={"ada": "correct horse"})
    assert console.hub is not None
    question = await console.hub.ask("deployer", "Ship?", options=["yes", "no"])
    client = AsgiClient(console)
    await sign_in(client, name="ada", password="correct horse")
    page = await open_tab(console, client)
    try:
        console.access.users.remove("ada")
        card = f'[id="{panels.dom_id("question", question.id)}"]'
        await page.click(f"{card} .console-choice", text="yes")
        with pytest.raises(AssertionError, match="answered 403: sign in first"):
            await page.submit(f"{card} form")
    finally:
        await page.close()
    assert console.hub.question(question.id).state == "pending"


async def test_each_person_sees_their_own_name(make_console: MakeConsole) -> None:
    console = await make_console(users={"ada": "correct horse", "bob": "battery staple"})
    ada, bob = AsgiClient(console), AsgiClient(console)
    await sign_in(ada, name="ada", password="correct horse")
    await sign_in(bob, name="bob", password="battery staple")
    pages = [await open_tab(console, ada, "/status"), await open_tab(console, bob, "/status")]
    try:
        names = [p.text(".console-person") for p in pages]
        assert names == ["Signed in as ada", "Signed in as bob"]
    finally:
        for page in pages:
            await page.close()


async def test_an_answer_through_the_api_records_api(make_console: MakeConsole) -> None:
    console = await make_console(token=TOKEN)
    assert console.hub is not None
    question = await console.hub.ask("deployer", "Ship?", options=["yes", "no"])
    client = AsgiClient(console)
    auth = {"authorization": f"Bearer {TOKEN}"}
    response = await client.post(
        f"/api/questions/{question.id}/answer", json={"answer": "yes"}, headers=auth
    )
    assert response.status == 200, response.text
    shown = await client.get(f"/api/questions/{question.id}", headers=auth)
    assert json.loads(shown.body)["answered_by"] == "api"
    [event] = await console.hub.journal.read(pattern="question.answered")
    assert event.payload == {"id": question.id, "answer": "yes", "by": "api"}


async def test_the_api_keeps_its_bearer_and_ignores_the_sign_in_cookie(
    make_console: MakeConsole,
) -> None:
    console = await make_console(token=TOKEN)
    client = AsgiClient(console)
    await sign_in(client, token=TOKEN)
    assert (await client.get("/api/snapshot")).status == 401
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert (await client.get("/api/snapshot", headers=auth)).status == 200


async def test_with_users_and_no_token_the_api_is_closed_and_says_why(
    make_console: MakeConsole,
) -> None:
    console = await make_console(users={"ada": "correct horse"})
    response = await AsgiClient(console).get("/api/snapshot")
    assert response.status == 401
    assert "--token" in json.loads(response.body)["error"]


# -- allowed hosts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/status", "/api/snapshot", "/_console/signin", "/_parlour/static/parlour.css"]
)
async def test_another_host_gets_400_on_every_route(make_console: MakeConsole, path: str) -> None:
    console = await make_console(allowed_hosts=["console.example.com"])
    for host in ["evil.example", "console.example.com.evil.example", "", "[::2]:8000"]:
        response = await AsgiClient(console).get(path, headers={"host": host})
        assert response.status == 400, (path, host)
    for host in ["console.example.com", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"]:
        response = await AsgiClient(console).get(path, headers={"host": host})
        assert response.status in (200, 303), (path, host, response.status)


async def test_a_wildcard_allows_subdomains(make_console: MakeConsole) -> None:
    console = await make_console(allowed_hosts=["*.example.com"])
    ok = await AsgiClient(console).get("/", headers={"host": "console.example.com"})
    assert ok.status == 200
    refused = await AsgiClient(console).get("/", headers={"host": "example.org"})
    assert refused.status == 400


@pytest.mark.parametrize("host", ["bad*", "*.*.example.com", "a b", "x/y", "", "host:8000"])
def test_a_bad_allowed_host_fails_when_the_console_is_built(tmp_path: Path, host: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        Console(store="memory", journal="memory", state_dir=tmp_path, allowed_hosts=[host])


def test_by_default_a_console_answers_the_local_names_only(tmp_path: Path) -> None:
    console = Console(store="memory", journal="memory", secret="s", state_dir=tmp_path)
    # (and the in-process test client's `testserver`, as every parlour server does)
    assert console.allowed_hosts == ("localhost", "127.0.0.1", "[::1]", "testserver")


# -- any id a producer chooses is answerable on the page ----------------------------------------

ODD_IDS = ["UPPER1", "Job-7", "a--b", "x__y", "with space", 'quote\'s "q"', "$x @post('/'); y"]


def test_answer_signals_are_lowercase_hex_names_one_per_id() -> None:
    names = [cards.answer_signal(qid) for qid in ODD_IDS]
    assert len(set(names)) == len(ODD_IDS)
    for name in names:
        assert re.fullmatch(r"answer_[0-9a-f]{16}", name), name
    assert cards.answer_signal("UPPER1") != cards.answer_signal("upper1")


@pytest.mark.parametrize("qid", ODD_IDS)
@pytest.mark.parametrize("options", [["yes", "no"], None])
async def test_a_producer_chosen_id_is_answered_on_the_page(
    make_console: MakeConsole, qid: str, options: list[str] | None
) -> None:
    console = await make_console()
    assert console.hub is not None
    await console.hub.ask("deployer", "Ship?", options=options, qid=qid)
    page = await open_tab(console, AsgiClient(console))
    try:
        await answer_on_page(page, qid, "yes")
        assert "Answered @deployer: yes" in page.text(".console-notice")
    finally:
        await page.close()
    question = console.hub.question(qid)
    assert (question.state, question.answer) == ("answered", "yes")
