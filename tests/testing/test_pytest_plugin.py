"""The pytest plugin a parlour install brings: fixtures for a tab in-process, a served app and
a page in real Chromium, used the way an app's own test suite would use them.

Each test writes a small test suite for an app and runs it with pytester, so what is checked
is what a user of parlour sees: which tests pass, and what a failure says.
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ("pytester",)

APP = """
from htpy import button, div, span
from parlour import App, Component, event, execute_script

class Counter(Component):
    count: int = 0

    def render(self):
        return div(self.root)[
            span(".count")[self.count],
            button(self.on("click", "inc"))["+"],
            button(self.on("click", "shout"))["shout"],
        ]

    @event
    def inc(self):
        self.count += 1

    @event
    def shout(self):
        return execute_script("console.error('boom from the app')")

app = App(Counter, title="counter")
"""


def suite(pytester: pytest.Pytester, tests: str, *, loops: str = "session") -> None:
    """An app's test folder: the counter app above, `tests`, and pytest-asyncio configured
    with `loops` as the scope of its event loops."""
    pytester.makeini(
        f"""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = {loops}
        asyncio_default_test_loop_scope = {loops}
        """
    )
    pytester.makepyfile(counter_app=APP)
    pytester.makepyfile(test_app=textwrap.dedent(tests))
    pytester.syspathinsert()


# -- parlour_page: a tab in-process ---------------------------------------------------------


def test_parlour_page_opens_a_tab_of_the_app_that_clicks_and_reads(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        from counter_app import app

        async def test_plus_counts_up(parlour_page):
            page = await parlour_page(app)
            assert page.text(".count") == "0"
            await page.click("button", text="+")
            assert page.text(".count") == "1"

        async def test_the_same_app_serves_the_next_test(parlour_page):
            page = await parlour_page(app)
            await page.click("button", text="+")
            assert page.text(".count") == "1"
        """,
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_each_parlour_page_is_a_new_tab_with_its_own_conversation(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        from counter_app import app

        async def test_two_tabs(parlour_page):
            first, second = await parlour_page(app), await parlour_page(app)
            assert first.cid != second.cid
            await first.click("button", text="+")
            assert (first.text(".count"), second.text(".count")) == ("1", "0")
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_component_class_gets_an_app_of_its_own_closed_when_the_test_ends(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        from counter_app import Counter

        seen = []

        async def test_first(parlour_page):
            page = await parlour_page(Counter)
            await page.click("button", text="+")
            assert page.text(".count") == "1"
            seen.append(page.runtime)
            assert not page.runtime.closed

        def test_then_its_app_is_closed():
            assert seen[0].closed
        """,
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_a_module_attr_string_names_the_app_and_a_path_is_opened(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        async def test_by_name(parlour_page):
            page = await parlour_page("counter_app:app", "/?from=a-link")
            assert page.path == "/?from=a-link"
            assert page.text(".count") == "0"
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_site_mounting_the_app_is_opened_naming_the_apps_runtime(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        from starlette.applications import Starlette
        from starlette.routing import Mount
        from counter_app import app

        site = Starlette(routes=[Mount("/counter", app=app)])

        async def test_mounted(parlour_page):
            page = await parlour_page(site, "/counter/", runtime=app.runtime)
            await page.click("button", text="+")
            assert page.text(".count") == "1"
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_what_is_not_an_app_is_refused_naming_what_was_expected(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        async def test_wrong(parlour_page):
            await parlour_page(42)

        async def test_no_attr(parlour_page):
            await parlour_page("counter_app")
        """,
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: expected a parlour App (or another ASGI app), a Component subclass "
            "or a 'module:attr' string naming one, but got 42",
            "*ValueError: expected 'module:attr' (e.g. 'examples.counter:app'), but got "
            "'counter_app'",
        ]
    )


def test_an_app_without_a_secret_writes_no_secret_file(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        from counter_app import app

        async def test_open(parlour_page):
            await parlour_page(app)
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / ".parlour").exists()


def test_the_in_process_fixtures_do_not_import_playwright(pytester: pytest.Pytester) -> None:
    suite(
        pytester,
        """
        import sys
        from counter_app import app

        async def test_open(parlour_page):
            await parlour_page(app)
            assert "playwright" not in sys.modules
        """,
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_in_process_fixtures_work_with_an_event_loop_per_test(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        from counter_app import Counter, app

        async def test_one(parlour_page):
            page = await parlour_page(app)
            await page.click("button", text="+")
            assert page.text(".count") == "1"

        async def test_two(parlour_page):
            page = await parlour_page(Counter)
            await page.click("button", text="+")
            assert page.text(".count") == "1"
        """,
        loops="function",
    )
    pytester.runpytest().assert_outcomes(passed=2)


# -- parlour_server: the app on a loopback port ---------------------------------------------


def test_parlour_server_serves_the_app_on_a_free_loopback_port_for_the_test(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        import socket
        import httpx
        from counter_app import app

        urls = []

        def test_served(parlour_server):
            url = parlour_server(app)
            assert url.startswith("http://127.0.0.1:")
            assert parlour_server(app) == url  # the same app: the same server
            shell = httpx.get(url + "/")
            assert shell.status_code == 200
            assert "/_parlour/static/datastar.js" in shell.text  # the package's own bundle
            urls.append(url)

        def test_then_it_is_stopped():
            port = int(urls[0].rpartition(":")[2])
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0
        """,
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


# -- parlour_browser: Chromium --------------------------------------------------------------


@pytest.mark.browser
def test_parlour_browser_clicks_in_chromium_and_console_errors_fail_the_test(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        from playwright.async_api import expect
        from counter_app import Counter, app

        async def test_plus_in_chromium(parlour_browser):
            page = await parlour_browser(app)
            count = page.locator(".count")
            await expect(count).to_have_text("0")
            for _ in range(3):
                await page.get_by_role("button", name="+").click()
            await expect(count).to_have_text("3")

        async def test_two_users_of_a_component_class(parlour_browser):
            ada, alan = await parlour_browser(Counter), await parlour_browser(Counter)
            await ada.get_by_role("button", name="+").click()
            await expect(ada.locator(".count")).to_have_text("1")
            await expect(alan.locator(".count")).to_have_text("0")

        async def test_a_console_error_fails(parlour_browser):
            page = await parlour_browser(app)
            async with page.expect_console_message():
                await page.get_by_role("button", name="shout").click()

        async def test_unless_allowed(parlour_browser):
            parlour_browser.allow_console_error("boom from the app")
            page = await parlour_browser(app)
            async with page.expect_console_message():
                await page.get_by_role("button", name="shout").click()
        """,
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_a_console_error_fails*",
            "*the page reported errors:*",
            "*page 1 console error: boom from the app*",
        ]
    )


def test_one_chromium_per_session_when_the_event_loop_is_the_sessions(
    pytester: pytest.Pytester,
) -> None:
    tests = """
        async def test_uses_it(parlour_chromium):
            pass
        """
    suite(pytester, tests, loops="session")
    pytester.runpytest("--setup-plan").stdout.fnmatch_lines(["*SETUP    S parlour_chromium*"])
    suite(pytester, tests, loops="function")
    pytester.runpytest("--setup-plan").stdout.fnmatch_lines(["*SETUP    F parlour_chromium*"])


def test_a_chromium_path_that_does_not_exist_fails_saying_where_it_came_from(
    pytester: pytest.Pytester,
) -> None:
    suite(
        pytester,
        """
        async def test_uses_it(parlour_chromium):
            pass
        """,
    )
    result = pytester.runpytest("--parlour-chromium", "/nowhere/chromium")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the Chromium to drive is '/nowhere/chromium' (from --parlour-chromium or "
            "PARLOUR_CHROMIUM), but there is no such file*"
        ]
    )
