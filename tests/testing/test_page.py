"""`parlour.testing.Page`: a tab on a real parlour App, in-process, as Datastar 1.0 drives it.

The page loads the shell, follows the conversation's stream, and clicks and types; every
test reads the page as a user would see it after the action, with no sleep.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from htpy import Element, button, div, form, input, li, option, p, select, span, ul

from parlour import Component, after, end, event, execute_script, patch_signals
from parlour.testing import AsgiClient, ElementNotFound, Page, PageTimeout
from parlour.web.app import App

SECRET = "test-secret-not-for-production"


class Counter(Component):
    count: int = 0
    name: str = ""
    log: list[str] = []
    flag: bool = False
    keep = ("name",)

    def render(self) -> Element:
        return div(self.root, class_="counter")[
            span(".count")[self.count],
            button(self.on("click", "inc"))["+"],
            button(self.on("click", "dec"))["-"],
            button(self.on("click", "later"))["later"],
            button(self.on("click", "finish"))["finish"],
            button(self.on("click", "local"))["local"],
            button(".plain")["does nothing"],
            form(self.on("submit", "greet"))[
                input(self.bind("name"), type="text"),
                button(type="submit")["Greet"],
            ],
            p("#greeting")[f"Hello {self.name}" if self.name else ""],
            ul("#log")[(li[entry] for entry in self.log)],
            input(self.on("change", "flip"), type="checkbox", name="flag"),
            span("#flag")["on" if self.flag else "off"],
            select(self.bind("size"), name="size")[option(value="s")["S"], option(value="m")["M"]],
            button(self.on("click", "script"))["script"],
        ]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def dec(self) -> None:
        self.count -= 1

    @event
    def greet(self) -> None:
        self.log = [*self.log, f"greeted {self.name}"]

    @event
    def later(self) -> Any:
        return after(0.01, self.tick)

    def tick(self) -> None:
        self.count += 10

    @event
    def finish(self) -> Any:
        return end()

    @event
    def flip(self) -> None:
        self.flag = not self.flag

    @event
    def script(self) -> Any:
        return execute_script("console.log('hi')")

    @event
    def local(self) -> Any:
        return patch_signals({"_secret": "kept in the page", "shared": 7})


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = App(Counter, secret=SECRET, state_dir=tmp_path)
    yield app
    await app.runtime.close()


@pytest.fixture
async def page(app: App, parlour_page: Callable[..., Awaitable[Page]]) -> Page:
    """A tab on `app` opened at "/" by the plugin's fixture (closed when the test ends)."""
    return await parlour_page(app)


Asgi = Callable[[dict[str, Any], Any, Any], Any]


def recording(app: App, bodies: list[tuple[str, Any]]) -> Asgi:
    """`app`, noting the path and JSON body of every POST it receives."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("method") != "POST":
            return await app(scope, receive, send)
        message = await receive()
        raw = message.get("body", b"")
        bodies.append((scope["path"], json.loads(raw) if raw else None))
        replayed = False

        async def again() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return message
            return await receive()

        return await app(scope, again, send)

    return asgi


# -- opening ----------------------------------------------------------------------------------


async def test_open_shows_the_shell_then_the_streams_first_render(page: Page, app: App) -> None:
    assert page.response is not None
    assert page.response.status == 200
    assert page.cid in app.runtime.live
    assert page.streaming
    assert page.text(".count") == "0"
    [first] = page.events
    assert (first.selector, first.mode) == ("#root", "inner")  # the stream's full render
    assert page.signals == {"name": "", "size": "s"}  # made by the data-bind controls


async def test_without_the_stream_the_page_is_the_shell_as_loaded(app: App) -> None:
    page = await Page(app).open("/", stream=False)
    assert not page.streaming
    assert page.events == []
    assert page.text(".count") == "0"  # the first render is inlined in the shell
    assert page.cid is not None


# -- clicking ---------------------------------------------------------------------------------


async def test_a_click_posts_the_event_and_the_page_shows_its_patch(page: Page) -> None:
    response = await page.click("button", text="+")
    assert response is not None
    assert response.status == 204
    assert page.text(".count") == "1"  # settled: no wait needed
    await page.click("button", text="+")
    await page.click("button", text="-")
    assert page.text(".count") == "1"


async def test_a_click_sends_the_signals_but_not_the_underscore_ones(app: App) -> None:
    bodies: list[tuple[str, Any]] = []
    async with Page(recording(app, bodies), runtime=app.runtime) as page:
        await page.open("/")
        await page.click("button", text="local")
        assert page.signals["_secret"] == "kept in the page"
        assert page.signals["shared"] == 7
        await page.click("button", text="+")
    assert bodies[-1][0].endswith("/inc")
    assert bodies[-1][1] == {"name": "", "size": "s", "shared": 7}


async def test_fill_sets_the_bound_signal_and_a_submit_button_submits_its_form(
    page: Page,
) -> None:
    await page.fill("input[type=text]", "Ada")
    assert page.signals["name"] == "Ada"
    assert page.value("input[type=text]") == "Ada"
    await page.click("button", text="Greet")  # no data-on:click: the form's data-on:submit
    assert page.text("#greeting") == "Hello Ada"
    assert [e.text for e in page.all("#log li")] == ["greeted Ada"]
    await page.submit("form")
    assert page.text("#log") == "greeted Ada greeted Ada"


async def test_a_selector_that_matches_nothing_fails_showing_the_page(page: Page) -> None:
    with pytest.raises(ElementNotFound, match=r"no element matches 'button\.inc'") as caught:
        await page.click("button.inc")
    shown = str(caught.value)
    assert '<div id="p1" class="counter">' in shown  # the DOM it searched, one tag a line
    assert '<span class="count">0' in shown
    with pytest.raises(LookupError, match=r"with the text 'x' .*'\+', '-', 'later'"):
        page.query("button", text="x")


async def test_an_action_on_several_elements_asks_for_one(page: Page) -> None:
    with pytest.raises(AssertionError, match=r"click: 8 elements match 'button'"):
        await page.click("button")


async def test_clicking_what_does_nothing_says_so(page: Page) -> None:
    with pytest.raises(AssertionError, match="nothing happens on a click"):
        await page.click("button.plain")


async def test_a_request_the_app_refuses_fails_with_its_answer(page: Page, app: App) -> None:
    with pytest.raises(AssertionError, match=r"answered 404: .*no @event 'nope'"):
        await page.post(f"/_parlour/event/{page.cid}/p1/nope")


# -- waiting ----------------------------------------------------------------------------------


async def test_wait_for_follows_the_stream_until_background_work_shows(page: Page) -> None:
    await page.click("button", text="later")  # a timer adds 10 a moment later
    await page.wait_for(lambda p: p.text(".count") == "10")
    assert page.text(".count") == "10"


async def test_wait_for_gives_up_after_its_timeout_saying_what_and_showing_the_page(
    page: Page,
) -> None:
    def shows_eleven(p: Page) -> bool:
        return p.text(".count") == "11"

    with pytest.raises(PageTimeout, match=r"shows_eleven\(\) still false after 0.05 s") as caught:
        await page.wait_for(shows_eleven, timeout=0.05)
    assert '<span class="count">0' in str(caught.value)
    assert isinstance(caught.value, TimeoutError)


async def test_an_ended_conversation_ends_the_stream_and_settle_returns(page: Page) -> None:
    await page.click("button", text="finish")
    assert not page.streaming
    with pytest.raises(PageTimeout, match="the stream ended"):
        await page.wait_for(lambda p: False)


async def test_settle_times_out_clearly_when_the_stream_stalls(page: Page, app: App) -> None:
    live = app.runtime.live[page.cid or ""]
    live.seq += 1  # the runtime now says it sent an event the stream will never carry
    with pytest.raises(PageTimeout, match=rf"waited 0.05 s for the event with id {live.epoch}"):
        await page.settle(timeout=0.05)


async def test_a_page_shares_cookies_with_the_client_it_is_given(app: App) -> None:
    client = AsgiClient(app)
    async with Page(client) as page:
        await page.open("/")
        response = await client.post(f"/_parlour/event/{page.cid}/p1/inc")  # same session
        assert response.status == 204
        await page.settle()
        assert page.text(".count") == "1"


async def test_check_ticks_a_box_and_runs_its_change_handler(page: Page) -> None:
    response = await page.check("input[name=flag]")
    assert response is not None
    assert response.status == 204
    assert page.text("#flag") == "on"


async def test_fill_chooses_only_what_a_select_offers(page: Page) -> None:
    await page.fill("select[name=size]", "m")
    assert page.signals["size"] == "m"
    with pytest.raises(
        AssertionError, match=r"offers no option 'xl' \(its options: \['s', 'm'\]\)"
    ):
        await page.fill("select[name=size]", "xl")


async def test_actions_say_what_a_control_would_request_without_requesting(
    page: Page, app: App
) -> None:
    [action] = page.actions(page.query("button", text="+"))
    assert (action.method, action.url) == ("POST", f"/_parlour/event/{page.cid}/p1/inc")
    assert page.actions(".plain") == []
    assert app.runtime.live[page.cid or ""].conv.instances["p1"].component == Counter()


async def test_scripts_the_app_sends_are_recorded_and_leave_the_page(page: Page) -> None:
    await page.click("button", text="script")
    assert page.scripts == ["console.log('hi')"]
    assert page.all("body > script") == []  # an execute-script removes itself once run
