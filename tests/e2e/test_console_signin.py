"""The console's protection in a real browser: questions whose ids a browser would mangle are
answered on the page, and a person signs in (token, or name and password), answers, and signs
out. Each test starts its own `parlour console`."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Page, expect

from parlour.console.users import run_user_command
from tests.e2e.conftest import expect_console_error

pytestmark = pytest.mark.browser

OpenPage = Callable[[str], Awaitable[Page]]
Launch = Callable[..., str]
TOKEN = "e2e-console-token"
DELIVERY_MS = 2_000


def api(url: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method=method,
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def ask(url: str, qid: str, options: list[str] | None, token: str | None = None) -> None:
    question = {"agent": "deployer", "question": f"About {qid}?", "options": options, "id": qid}
    assert api(url, "POST", "/api/questions", question, token)["id"] == qid


def question(url: str, qid: str, token: str | None = None) -> dict[str, Any]:
    return api(url, "GET", f"/api/questions/{quote(qid, safe='')}", token=token)


def card_of(page: Page, qid: str) -> Any:
    return page.locator(f".console-question[data-question={json.dumps(qid)}]")


async def answer(page: Page, qid: str, text: str) -> None:
    card = card_of(page, qid)
    await expect(card).to_have_count(1, timeout=DELIVERY_MS)
    if await card.locator(".console-choice").count():  # one of the options: a button each
        await card.get_by_role("button", name=text, exact=True).click()
    else:
        await card.get_by_label("answer").fill(text)
        await card.get_by_role("button", name="Send").click()
    await expect(card).to_have_count(0, timeout=DELIVERY_MS)


async def test_ids_a_browser_would_mangle_are_answered_on_the_page(
    launch: Launch, open_page: OpenPage
) -> None:
    # The browser lowercases a signal name written in an attribute, and Datastar reads `__`
    # as the start of a modifier: a signal named after these ids was never the one sent.
    url = launch("console")
    page = await open_page(url)
    ids = ["UPPER1", "Job-7", "a--b", "x__y", "with space", 'quote\'s "q"']
    for n, qid in enumerate(ids):
        ask(url, qid, ["yes", "no"] if n % 2 else None)
    for n, qid in enumerate(ids):
        await answer(page, qid, "yes" if n % 2 else f"ok {qid}")
    for n, qid in enumerate(ids):
        shown = question(url, qid)
        assert shown["state"] == "answered", shown
        assert shown["answer"] == ("yes" if n % 2 else f"ok {qid}")
        assert shown["answered_by"] == "anonymous"
    await expect(page.locator("#answered")).to_contain_text("answered by anonymous")
    await expect(page.locator(".console-unprotected")).to_have_text("Not protected")


async def test_with_a_token_a_person_signs_in_answers_and_signs_out(
    launch: Launch, page: Page, request: pytest.FixtureRequest
) -> None:
    expect_console_error(request, "401")  # the wrong token's answer
    url = launch("console", "--token", TOKEN)
    await page.goto(url + "/mobile")
    await expect(page).to_have_url(url + "/_console/signin?next=/mobile")
    await page.get_by_label("Token").fill("not the token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".console-signin-error")).to_have_text("Wrong token")

    await page.get_by_label("Token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(url + "/mobile")
    await expect(page.locator(".console-conn")).to_have_text("Connected")
    [cookie] = [c for c in await page.context.cookies() if c["name"] == "parlour_console"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert TOKEN not in cookie["value"]
    await expect(page.locator(".console-unprotected")).to_have_count(0)

    ask(url, "Job-7", ["yes", "no"], TOKEN)
    await answer(page, "Job-7", "yes")
    assert question(url, "Job-7", TOKEN)["answered_by"] == "token"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(url + "/_console/signin")
    await page.goto(url + "/")
    await expect(page).to_have_url(url + "/_console/signin?next=/")


def test_without_the_token_the_api_and_the_pages_stay_closed(launch: Launch) -> None:
    url = launch("console", "--token", TOKEN)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(url, "GET", "/api/snapshot")
    refused.value.close()
    assert refused.value.code == 401
    opener = urllib.request.build_opener(_NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(url + "/status", timeout=5)
    redirected.value.close()
    assert redirected.value.code == 303
    assert redirected.value.headers["location"] == "/_console/signin?next=/status"
    bad_host = urllib.request.Request(url + "/", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as wrong_host:
        urllib.request.urlopen(bad_host, timeout=5)
    wrong_host.value.close()
    assert wrong_host.value.code == 400


async def test_a_named_person_signs_in_with_a_password(
    launch: Launch, page: Page, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    expect_console_error(request, "401")  # the wrong password's answer
    state = tmp_path / "named"
    err = io.StringIO()
    code = run_user_command("add", "ada", state, stdin=io.StringIO("correct horse\n"), stderr=err)
    assert code == 0, err.getvalue()
    url = launch("console", "--token", TOKEN, "--state-dir", str(state))
    await page.goto(url + "/")
    await page.get_by_label("Name").fill("ada")
    await page.get_by_label("Password").fill("wrong horse")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".console-signin-error")).to_have_text("Wrong name or password")

    await page.get_by_label("Name").fill("ada")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(url + "/")
    await expect(page.locator(".console-conn")).to_have_text("Connected")
    await expect(page.locator(".console-person")).to_have_text("Signed in as ada")
    ask(url, "deploy 1.4", ["yes", "no"], TOKEN)
    await answer(page, "deploy 1.4", "no")
    shown = question(url, "deploy 1.4", TOKEN)
    assert (shown["state"], shown["answer"], shown["answered_by"]) == ("answered", "no", "ada")
    await expect(page.locator("#answered")).to_contain_text("answered by ada")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
