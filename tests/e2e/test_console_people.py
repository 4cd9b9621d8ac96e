"""The console puts people first, in a real browser: the tab's title counts who is waiting,
notifications come only when asked for, errors sit red beside their field, the history opens
from the page, the chart draws, and the event log reads on a phone.

Each test starts its own `parlour console` (memory store, journal in tmp_path) and talks to
it over HTTP as agents would. Every wait is bounded (Playwright's expect).
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import REPO, SCREENSHOTS

pytestmark = pytest.mark.browser

OpenPage = Callable[[str], Awaitable[Page]]
Launch = Callable[..., str]
IMAGES = REPO / "docs" / "images"


def post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def ask(url: str, agent: str, question: str, **more: Any) -> str:
    return post(url, "/api/questions", {"agent": agent, "question": question, **more})["id"]


def event(url: str, topic: str, source: str, payload: dict[str, Any]) -> None:
    post(url, "/api/events", {"topic": topic, "source": source, "payload": payload})


# Records the notifications the page shows (the browser's own would go to the desktop).
RECORD_NOTIFICATIONS = """
() => {
  window.__shown = [];
  const Native = window.Notification;
  window.Notification = class extends Native {
    constructor(title, options) {
      window.__shown.push([title, options && options.body]);
      super(title, options);
    }
  };
}
"""


async def test_the_title_counts_who_is_waiting_and_notifies_only_when_asked(
    launch: Launch, open_page: OpenPage
) -> None:
    url = launch("console")
    page = await open_page(url + "/status")  # any page: the header is on every one
    await expect(page).to_have_title("parlour console")
    first = ask(url, "deployer", "Ship 1.4?", options=["yes", "no"])
    await expect(page).to_have_title("(1) parlour console")
    await expect(page.locator("#waiting")).to_have_text("1 waiting for you")
    nav_count = page.locator(".console-nav [data-console-count]")  # on the Agents entry
    await expect(nav_count).to_have_text("1")
    await expect(nav_count).to_be_visible()

    # Notifications: off until the person turns them on (the permission is asked then).
    await page.context.grant_permissions(["notifications"], origin=url)
    await page.evaluate(RECORD_NOTIFICATIONS)
    ask(url, "scribe", "Title for the notes?")
    await expect(page).to_have_title("(2) parlour console")
    assert await page.evaluate("window.__shown") == []  # not asked for: none
    toggle = page.locator("[data-console-notify]")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(toggle).to_have_text("Notifying")
    ask(url, "linter", "Fix 3 warnings?", options=["yes", "no"])
    await expect(page).to_have_title("(3) parlour console")
    await page.wait_for_function("window.__shown.length === 1")
    assert await page.evaluate("window.__shown") == [["@linter asks", "Fix 3 warnings?"]]

    post(url, f"/api/questions/{first}/answer", {"answer": "yes"})
    await expect(page).to_have_title("(2) parlour console")
    agents = await open_page(url)  # the Agents page: waiting for you comes first
    first_heading = agents.locator(".console-main h2").first
    await expect(first_heading).to_have_text("Waiting for you")
    await expect(agents).to_have_title("(2) parlour console")
    # Each card's expiry reads as the time left, and keeps moving (console.js).
    left = agents.locator(".console-question-expires").first
    await expect(left).to_have_text(re.compile(r"^\d+ min \d+ s left$"))
    before = await left.text_content()
    await expect(left).not_to_have_text(before or "", timeout=3_000)


async def test_errors_sit_red_beside_their_field_and_a_live_run_is_replaced_only_on_yes(
    launch: Launch, open_page: OpenPage
) -> None:
    url = launch("console")
    page = await open_page(url)
    target = page.get_by_label("target")
    start = page.get_by_role("button", name="Start")
    await target.fill("nope")
    await start.click()
    error = page.locator(".console-launcher [role=alert]")
    await expect(error).to_have_text("target: 'nope' does not exist in the project")
    await expect(target).to_have_attribute("aria-invalid", "true")
    colour = await error.evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(201, 42, 42)"  # parlour's danger red, not the notice's blue
    field_box, error_box = await target.bounding_box(), await error.bounding_box()
    assert field_box is not None
    assert error_box is not None
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40  # right below it

    await target.fill("src")
    await start.click()
    await expect(page.locator(".console-notice")).to_have_text("Started src (12 agents)")
    await expect(error).to_have_count(0)
    await target.fill("docs")
    await start.click()
    confirm = page.get_by_role("alertdialog")
    await expect(confirm).to_contain_text("A run is in progress")
    await confirm.get_by_role("button", name="Keep it").click()
    await expect(page.locator(".console-notice")).to_have_text("The run in progress goes on.")
    await expect(page.locator("#progress")).to_contain_text("src")
    await start.click()
    await confirm.get_by_role("button", name="Replace it").click()
    await expect(page.locator(".console-notice")).to_have_text("Started docs (12 agents)")
    await expect(page.locator("#progress")).to_contain_text("docs")


async def test_the_history_of_a_question_and_an_agent_opens_from_the_page(
    launch: Launch, open_page: OpenPage
) -> None:
    url = launch("console")
    event(url, "agent.started", "deployer", {"task": "ship 1.4"})
    qid = ask(url, "deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    post(url, f"/api/questions/{qid}/answer", {"answer": "yes"})
    event(url, "agent.completed", "deployer", {"summary": "live on 4 hosts"})
    page = await open_page(url)
    await page.get_by_role("link", name="All questions").click()
    await expect(page.locator("#question_list")).to_contain_text("Ship 1.4 to prod?")
    await page.locator("#question_list").get_by_role("link", name="Ship 1.4 to prod?").click()
    story = page.locator("#story")
    await expect(story).to_have_attribute("data-state", "answered")
    await expect(story).to_contain_text("answered yes by")
    await story.get_by_role("link", name="@deployer").click()
    timeline = page.locator(".console-timeline")
    await expect(timeline.locator("code")).to_have_text(
        ["agent.started", "question.asked", "question.answered", "agent.completed"]
    )
    await expect(page.locator(".console-facts")).to_contain_text("Runs 1")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "console-agent-history.png"), full_page=True)


async def test_the_last_hour_is_drawn_as_a_chart(launch: Launch, open_page: OpenPage) -> None:
    url = launch("console")
    page = await open_page(url)
    chart = page.locator("#activity-chart svg")
    await expect(chart).to_have_count(1)
    await expect(chart.locator("text.legend")).to_contain_text("events/s")
    width = await chart.evaluate("el => el.getBoundingClientRect().width")
    assert width > 200


# Every word of the log's entries, and whether the browser laid it on more than one line.
SPLIT_WORDS = """
() => {
  const split = [];
  for (const el of document.querySelectorAll('#log .console-log-entry > *')) {
    const node = el.firstChild;
    if (!node || node.nodeType !== Node.TEXT_NODE) continue;
    const text = node.textContent;
    for (const match of text.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) split.push(match[0]);
    }
  }
  return split;
}
"""


async def test_the_event_log_reads_on_a_phone_without_cut_words(
    launch: Launch, chromium: Browser
) -> None:
    url = launch("console")
    for n in range(6):
        event(
            url,
            "agent.progress",
            f"translator-{n}",
            {"message": f"translating documentation/reference/configuration-{n}.md into Japanese"},
        )
    event(url, "agent.completed", "deployer", {"summary": "build bd5cd90 live on 4 instances"})
    context = await chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    try:
        page = await context.new_page()
        await page.goto(url)
        log = page.locator("#log")
        await expect(log.locator(".console-log-entry")).to_have_count(7)
        await expect(log).to_contain_text("agent.completed")  # topics as the API spells them
        await log.scroll_into_view_if_needed()
        assert await page.evaluate(SPLIT_WORDS) == []
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0  # nothing wider than the phone
        IMAGES.mkdir(exist_ok=True)
        await log.screenshot(path=str(SCREENSHOTS / "console-log-phone.png"))
    finally:
        await context.close()
