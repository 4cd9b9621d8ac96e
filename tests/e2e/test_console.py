"""The parlour console in a real browser: an agent asks, a person answers, every tab agrees.

Each test starts its own `parlour console` (memory store, journal in tmp_path). Agents are
separate Python processes using `parlour.console.Client`, as they would be in production.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import REPO, SCREENSHOTS

pytestmark = pytest.mark.browser

OpenPage = Callable[[str], Awaitable[Page]]
Launch = Callable[..., str]
DELIVERY_MS = 1_000
ASK_TIMEOUT_S = 30


def post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


class Asker:
    """A separate process that calls `Client.ask(...)` and prints what it gets back."""

    def __init__(self, url: str, agent: str, question: str, options: list[str] | None) -> None:
        script = textwrap.dedent(
            f"""
            import json, sys
            from parlour.console import Client
            client = Client({url!r})
            try:
                answer = client.ask({agent!r}, {question!r}, options={options!r}, timeout=60)
            except TimeoutError:
                answer = "<expired>"
            print(json.dumps(answer), flush=True)
            """
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def answer(self) -> str:
        out, err = self.proc.communicate(timeout=ASK_TIMEOUT_S)
        assert self.proc.returncode == 0, err
        return json.loads(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def askers() -> Iterator[Callable[..., Asker]]:
    started: list[Asker] = []

    def ask(url: str, agent: str, question: str, options: list[str] | None = None) -> Asker:
        asker = Asker(url, agent, question, options)
        started.append(asker)
        return asker

    yield ask
    for asker in started:
        asker.stop()


async def test_a_question_from_another_process_is_answered_in_the_browser(
    launch: Launch, open_page: OpenPage, askers: Callable[..., Asker]
) -> None:
    url = launch("console")
    alice, bob = await open_page(url), await open_page(url)
    asker = askers(url, "deployer", "Ship <b>1.4</b> to prod?", ["yes", "no"])

    for page in (alice, bob):
        card = page.locator(".console-question")
        await expect(card).to_have_count(1, timeout=5_000)
        await expect(card).to_contain_text("@deployer")
        await expect(card.locator(".console-question-text")).to_have_text(
            "Ship <b>1.4</b> to prod?"
        )
        await expect(card.locator("b")).to_have_count(0)  # escaped, not markup
        await expect(page.locator("#agents")).to_contain_text("blocked")

    card = alice.locator(".console-question")
    await card.get_by_role("button", name="yes").click()  # one of the options: a button each

    assert asker.answer() == "yes"
    for page in (alice, bob):
        await expect(page.locator(".console-question")).to_have_count(0, timeout=DELIVERY_MS)
    await expect(alice.locator(".console-notice")).to_contain_text("Answered @deployer: yes")
    await expect(bob.locator("#log")).to_contain_text("question.answered")


async def test_a_free_text_question_needs_an_answer_before_sending(
    launch: Launch, open_page: OpenPage, askers: Callable[..., Asker]
) -> None:
    url = launch("console")
    page = await open_page(url)
    asker = askers(url, "writer", 'Title for "the" release: <i>?')
    card = page.locator(".console-question")
    await expect(card).to_have_count(1, timeout=5_000)

    await card.get_by_role("button", name="Send").click()
    await expect(page.locator(".console-notice")).to_contain_text("Type an answer")
    await expect(card).to_have_count(1)

    await card.get_by_label("answer").fill("Quotes ' \" and </script> survive")
    await card.get_by_role("button", name="Send").click()
    assert asker.answer() == "Quotes ' \" and </script> survive"
    await expect(card).to_have_count(0, timeout=DELIVERY_MS)


async def test_agents_progress_results_and_the_log_follow_events(
    launch: Launch, open_page: OpenPage
) -> None:
    url = launch("console")
    page = await open_page(url)
    await expect(page.locator(".console-conn")).to_have_text("Connected")
    post(url, "/api/events", {"topic": "run.started", "source": "ci", "payload": {"total": 2}})
    post(url, "/api/events", {"topic": "agent.started", "source": "linter", "payload": {}})
    post(url, "/api/events", {"topic": "tool.call", "source": "linter", "payload": {"x": 1}})
    post(
        url,
        "/api/events",
        {"topic": "agent.completed", "source": "linter", "payload": {"summary": "0 issues"}},
    )
    await expect(page.locator("#progress")).to_contain_text("1/2 agents completed (0 failed)")
    await expect(page.locator("#agent-linter")).to_contain_text("completed")
    await expect(page.locator("#results")).to_contain_text("0 issues")
    await expect(page.locator("#log").get_by_text("agent.completed")).to_be_visible()

    # tool and model events are noise: in the log, but hidden until asked for.
    tool_rows = page.locator('#log [data-kind="tool"]')
    await expect(tool_rows).to_have_count(1)
    await expect(tool_rows).to_be_hidden()
    await page.locator('input[data-kind="tool"]').check()
    await expect(tool_rows).to_be_visible()


async def test_status_and_config_pages(launch: Launch, open_page: OpenPage) -> None:
    url = launch("console")
    status = await open_page(url + "/status")
    await expect(status.locator('.console-nav-item[aria-current="page"]')).to_have_text("⚡Status")
    # Nothing reports yet: the banner says so (issue 16), not "All systems operational".
    await expect(status.locator("#health")).to_contain_text("No services reporting")
    await expect(status.locator("#health")).not_to_contain_text("All systems operational")
    await expect(status.locator("#figures")).to_contain_text("Open streams")
    post(
        url,
        "/api/events",
        {
            "topic": "service.status",
            "source": "api",
            "payload": {
                "id": "api",
                "name": "api",
                "port": 8080,
                "status": "Stopped",
                "action": "restart",
                "message": "exit 1",
            },
        },
    )
    card = status.locator("#service-api")
    await expect(card).to_contain_text("Stopped", timeout=DELIVERY_MS)
    await expect(card).to_contain_text("restart")
    await expect(status.locator("#health")).not_to_contain_text("All systems operational")

    config, other = await open_page(url + "/config"), await open_page(url + "/config")
    await expect(config.locator("#config")).to_contain_text(" of ")
    await expect(config.locator("#config")).to_contain_text("PARLOUR_CONSOLE_TOKEN")
    field = config.locator('input[name="window"]')
    await field.fill("7")
    await field.locator("xpath=..").get_by_role("button", name="Save").click()
    await expect(config.locator(".console-notice")).to_contain_text("window")
    await expect(other.locator("#settings")).to_contain_text("0.1 s")

    await field.fill("0.2")
    await field.locator("xpath=..").get_by_role("button", name="Save").click()
    for page in (config, other):
        await expect(page.locator("#settings")).to_contain_text("0.2 s", timeout=DELIVERY_MS)


async def test_the_demo_swarm_fills_the_agents_page(launch: Launch, open_page: OpenPage) -> None:
    url = launch("console", "--demo", "--demo-pace", "0.2")
    page = await open_page(url)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await expect(page.locator("#agents > li")).to_have_count(12, timeout=10_000)
    await expect(page.locator("#log > li").first).to_be_visible()
    await expect(page.locator("#progress")).to_contain_text("agents completed")
    # The swarm works, finishes tasks and asks questions: the page shows all of it.
    await expect(page.locator("#results .console-result").first).to_be_visible(timeout=20_000)
    await expect(page.locator(".console-question").first).to_be_visible(timeout=20_000)
    SCREENSHOTS.mkdir(exist_ok=True)
    image = await page.screenshot(path=str(SCREENSHOTS / "console-agents.png"))
    assert len(image) > 10_000


async def test_the_projector_shows_and_the_phone_answers(
    launch: Launch, open_page: OpenPage, askers: Callable[..., Asker]
) -> None:
    # R21: both views run on the same stream and state as the Agents page.
    url = launch("console")
    projector, phone = await open_page(url + "/projector"), await open_page(url + "/mobile")
    asker = askers(url, "scout", "Which region?", ["eu", "us"])
    for page in (projector, phone):
        await expect(page.locator(".console-question")).to_have_count(1, timeout=5_000)
    await expect(projector.locator(".console-question form")).to_be_hidden()  # read-only
    card = phone.locator(".console-question")
    await card.get_by_role("button", name="eu").click()
    assert asker.answer() == "eu"
    for page in (projector, phone):
        await expect(page.locator(".console-question")).to_have_count(0, timeout=DELIVERY_MS)


async def test_the_launcher_starts_a_run_and_offers_recent_targets(
    launch: Launch, open_page: OpenPage
) -> None:
    # R20: validation errors, a started run in progress at once, recent-target chips.
    url = launch("console")  # its working directory is the repository: "src" and "docs" exist
    page = await open_page(url)
    target, start = page.get_by_label("target"), page.get_by_role("button", name="Start")
    notice = page.locator(".console-notice")
    await start.click()
    await expect(notice).to_have_text("target: expected a path inside the project, got ''")
    await target.fill("../elsewhere")
    await start.click()
    await expect(notice).to_contain_text("target: '../elsewhere' is outside the project (")
    await target.fill("nope")
    await start.click()
    await expect(notice).to_have_text("target: 'nope' does not exist in the project")
    await target.fill("src")
    await page.get_by_label("bundle").select_option("review")
    await start.click()
    await expect(notice).to_have_text("Started src (3 agents)")
    await expect(page.locator("#progress")).to_contain_text("0/3 agents completed")
    await target.fill("docs")
    await start.click()
    # A run is in progress (src): the launcher asks before replacing it (issue 16).
    await page.get_by_role("alertdialog").get_by_role("button", name="Replace it").click()
    await expect(page.locator("#launcher .console-chip")).to_have_text(["docs", "src"])
    await target.fill("")
    await page.locator("#launcher .console-chip", has_text="src").click()
    await expect(target).to_have_value("src")  # the chip filled this tab's input
    other = await open_page(url)  # another tab: the same chips
    await expect(other.locator("#launcher .console-chip")).to_have_text(["docs", "src"])
