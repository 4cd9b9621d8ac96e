"""examples/login.py in-process: the sign-in routes, the pages' principal, and the demo's
passwords kept only as salted scrypt hashes. (The browser flow is tests/e2e/test_login.py.)"""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator
from types import ModuleType

import examples.login
import pytest

from parlour.testing import AsgiClient, Page
from tests.support.examples import private_example

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def login(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ModuleType]:
    """The example module, fresh (its sign-ins are module state); closed after the test."""
    monkeypatch.setenv("PARLOUR_SECRET", "login-test-secret")  # leave the repo's .parlour/ be
    module = private_example("login")  # closed after the test: no other test may get it
    yield module
    await module.pages.close()


async def open_home(login: ModuleType, client: AsgiClient, path: str = "/") -> Page:
    page = Page(client, runtime=login.pages.runtime)
    await page.open(path)
    return page


async def test_a_wrong_password_is_sent_back_to_the_form_with_a_message(
    login: ModuleType,
) -> None:
    client = AsgiClient(login.app)
    response = await client.post("/signin", body=b"name=ada&password=turing", headers=FORM)
    assert response.status == 303
    assert "signin" not in client.cookies
    async with await open_home(login, client, response.headers["location"]) as page:
        assert page.text(".error") == "Wrong name or password"
        assert page.query("input[name=password]").get("type") == "password"


@pytest.mark.parametrize(("name", "password"), [("ada", "lovelace"), ("alan", "turing")])
async def test_a_demo_user_signs_in_and_the_page_says_who(
    login: ModuleType, name: str, password: str
) -> None:
    client = AsgiClient(login.app)
    response = await client.post(
        "/signin", body=f"name={name}&password={password}".encode(), headers=FORM
    )
    assert (response.status, response.headers["location"]) == (303, "/")
    assert "httponly" in response.headers["set-cookie"].lower()
    async with await open_home(login, client) as page:
        assert page.text(".who") == f"Signed in as {name}"
        await page.click("button", text="Wave")
        assert page.text(".waves") == "1 waves"


async def test_signing_out_ends_the_sign_in_for_every_copy_of_its_cookie(
    login: ModuleType,
) -> None:
    client = AsgiClient(login.app)
    await client.post("/signin", body=b"name=ada&password=lovelace", headers=FORM)
    copied = dict(client.cookies)
    async with await open_home(login, client) as page:
        (wave,) = page.actions(page.query("button", text="Wave"))
        await client.post("/signout")

        assert (await client.post(wave.url, json={})).status == 403
        thief = AsgiClient(login.app)
        thief.cookies.update(copied)
        assert (await thief.post(wave.url, json={})).status == 403
        await page.open("/")
        assert page.query("form[action='/signin']") is not None


async def test_a_sign_in_posted_by_another_site_is_refused(login: ModuleType) -> None:
    client = AsgiClient(login.app)
    response = await client.post(
        "/signin",
        body=b"name=ada&password=lovelace",
        headers={**FORM, "sec-fetch-site": "cross-site"},
    )
    assert response.status == 403
    assert "signin" not in client.cookies


@pytest.mark.parametrize(
    "body", [b"", b"name=ada", b"password=lovelace", b"name=ada&password=" + b"x" * 5000]
)
async def test_a_malformed_sign_in_form_is_an_answer_not_an_error(
    login: ModuleType, body: bytes
) -> None:
    response = await AsgiClient(login.app).post("/signin", body=body, headers=FORM)
    assert response.status in (400, 413)


def test_the_module_keeps_no_plain_password_outside_its_docstring() -> None:
    source = inspect.getsource(examples.login)
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree) or ""
    code = source.replace(docstring, "")
    for password in ("lovelace", "turing"):
        assert password in docstring
        assert password not in code
    assert "hashlib.scrypt" in code
    assert examples.login.password_ok("ada", "lovelace")
    assert not examples.login.password_ok("ada", "Lovelace")
    assert not examples.login.password_ok("nobody", "lovelace")
