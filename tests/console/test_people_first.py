"""The console puts people first: who is waiting comes first, errors look like errors, the
status is honest, and replacing a live run is a decision.

Each tab is a `parlour.testing.Page` on a real `Console` in-process (see test_pages.py):
patches are applied as Datastar does, and nothing sleeps; a test flushes the shared views
itself or waits (bounded) for what it expects. What needs a real browser (the tab's title,
notifications, the chart's drawing, a phone's layout) is in tests/e2e/test_console_people.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from parlour.bus.event import Event
from parlour.console import panels
from parlour.console.activity import Activity
from parlour.console.app import Console
from parlour.console.hub import Hub
from parlour.console.model import Agent, ConsoleState
from parlour.testing import AsgiClient, Document, Page

WAIT = 2.0

OpenTab = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_tab(console: Console, client: AsgiClient) -> AsyncIterator[OpenTab]:
    tabs: list[Page] = []

    async def open_(path: str = "/", *, stream: bool = True) -> Page:
        page = Page(client, runtime=console.pages.runtime, timeout=WAIT)
        tabs.append(page)
        return await page.open(path, stream=stream)

    yield open_
    for page in tabs:
        await page.close()


def flush(console: Console) -> None:
    console.pages.views.flush()


def waiting_data(page: Page) -> dict[str, Any]:
    """What the header's waiting link hands its behaviour (the title count, notifications)."""
    raw = page.attr("#waiting", "data-parlour-data")
    assert raw is not None
    return json.loads(raw)


# -- who is waiting comes first ---------------------------------------------------------------


async def test_waiting_for_you_is_the_first_section_of_the_agents_page(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    await hub.ask("deployer", "Ship 1.4?", options=["yes", "no"])
    flush(console)
    page = await open_tab(stream=False)
    main = page.query(".console-main")
    headings = [h.text for h in main.all("h2")]
    assert headings[0] == "Waiting for you"
    first_list = main.all("ul")[0]
    assert first_list.id == "questions"
    assert len(first_list.children) == 1


@pytest.mark.parametrize("path", ["/", "/status", "/config", "/questions", "/mobile"])
async def test_every_page_says_how_many_questions_wait_and_links_to_them(
    console: Console, hub: Hub, open_tab: OpenTab, path: str
) -> None:
    for n in range(3):
        await hub.ask(f"agent-{n}", f"Question {n}?")
    flush(console)
    page = await open_tab(path, stream=False)
    link = page.query("header #waiting")
    assert link.get("href") == "/#questions"
    assert link.get("data-count") == "3"
    assert "3 waiting for you" in link.text
    assert link.get("data-parlour-widget") == "console-waiting"  # the title's count
    assert waiting_data(page)["count"] == 3


async def test_the_waiting_count_follows_questions_live_on_an_open_page(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    page = await open_tab("/status")
    assert page.attr("#waiting", "data-count") == "0"
    first = await hub.ask("alpha", "One?")
    await page.wait_for(lambda p: p.attr("#waiting", "data-count") == "1")
    second = await hub.ask("beta", "Two?", options=["a", "b"])
    await page.wait_for(lambda p: p.attr("#waiting", "data-count") == "2")
    data = waiting_data(page)
    assert data["ids"] == [first.id, second.id]
    assert data["newest"] == {"id": second.id, "agent": "beta", "question": "Two?"}
    await hub.answer(first.id, "yes")
    await page.wait_for(lambda p: p.attr("#waiting", "data-count") == "1")


async def test_every_page_has_a_notification_toggle_that_the_page_never_redraws(
    open_tab: OpenTab,
) -> None:
    page = await open_tab("/config", stream=False)
    toggle = page.query("header [data-console-notify]")
    assert toggle.name == "button"
    assert toggle.get("type") == "button"
    assert toggle.get("aria-pressed") == "false"
    assert toggle.get("data-ignore-morph") is not None  # the script's state survives renders
    assert page.all('script[src$="/console.js"]')  # the script that asks, on a click only


# -- errors look like errors, next to their field ---------------------------------------------


async def test_a_bad_launch_target_is_an_error_next_to_the_target_field(
    console: Console, open_tab: OpenTab
) -> None:
    page = await open_tab()
    await page.fill("input[name=target]", "../elsewhere")
    await page.click("button", text="Start")
    await page.wait_for(lambda p: bool(p.all("#error-target")))
    error = page.query(".console-launcher #error-target")
    assert error.get("role") == "alert"
    assert "console-notice--error" in (error.get("class") or "")
    assert error.text.startswith("target: '../elsewhere' is outside the project")
    target = page.query("input[name=target]")
    assert target.get("aria-invalid") == "true"
    assert target.get("aria-describedby") == "error-target"
    assert not page.all("#root > .console > .console-notice")  # not at the top as well
    # The next good click clears it.
    await page.fill("input[name=target]", "src")
    await page.click("button", text="Start")
    await page.wait_for(lambda p: "Started src" in p.text(".console-notice"))
    assert not page.all("#error-target")
    assert page.query("input[name=target]").get("aria-invalid") is None


async def test_a_bad_setting_is_an_error_next_to_that_setting(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    page = await open_tab("/config")
    await page.fill("input[name=stale_after]", "5")
    await page.click(".console-setting:has(input[name=stale_after]) button", text="Save")
    await page.wait_for(lambda p: bool(p.all("#error-stale_after")))
    error = page.query("#error-stale_after")
    assert error.text == "stale_after: expected seconds between 10 and 86400, got '5'"
    assert error.get("role") == "alert"
    assert page.query("input[name=stale_after]").get("aria-invalid") == "true"
    assert page.query("input[name=window]").get("aria-invalid") is None
    assert hub.state.settings.stale_after == 300.0


async def test_a_good_stale_after_is_saved_live_for_every_config_page(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    first, second = await open_tab("/config"), await open_tab("/config")
    await first.fill("input[name=stale_after]", "60")
    await first.click(".console-setting:has(input[name=stale_after]) button", text="Save")
    for page in (first, second):
        await page.wait_for(lambda p: "Agents stale after 60 s silent" in p.text("#settings"))
    assert hub.state.settings.stale_after == 60.0
    assert "Saved: 60" in first.text(".console-notice")


# -- honest status ----------------------------------------------------------------------------


async def test_no_services_reporting_says_so_and_never_all_systems_operational(
    console: Console, open_tab: OpenTab
) -> None:
    page = await open_tab("/status", stream=False)
    banner = page.query("#health")
    assert banner.text.startswith("No services reporting")
    assert "All systems operational" not in banner.text
    assert "console-health--unknown" in (banner.get("class") or "")


async def test_a_degraded_banner_names_what_is_degraded(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    for sid, status in (("api", "Running"), ("db", "Running"), ("worker", "Stale")):
        await hub.publish("service.status", sid, {"id": sid, "name": sid, "status": status})
    flush(console)
    page = await open_tab("/status", stream=False)
    assert page.text("#health").startswith("Degraded: worker (Stale)")
    assert "api" not in page.text("#health").split("(3 services")[0]


def agent(name: str, state: str, updated: float) -> Agent:
    return Agent(name=name, state=state, updated=updated)


@pytest.mark.parametrize(
    ("state", "silent", "shown"),
    [
        ("running", 299, "running"),
        ("running", 300, "stale"),
        ("pending", 400, "stale"),
        ("running", 600, None),  # twice stale_after: no longer listed
        ("blocked", 10_000, "blocked"),  # waits for a person: never stale, never gone
        ("completed", 400, "completed"),  # finished: not stale
        ("completed", 600, None),
        ("failed", 599, "failed"),
    ],
)
def test_an_agent_silent_for_stale_after_is_stale_and_ages_out_at_twice_that(
    state: str, silent: float, shown: str | None
) -> None:
    assert panels.agent_state(agent("a", state, 1000.0), 300.0, 1000.0 + silent) == shown


async def test_a_stale_agent_shows_as_stale_on_an_open_page_and_then_leaves(
    console: Console, hub: Hub, open_tab: OpenTab, monkeypatch: pytest.MonkeyPatch
) -> None:
    await hub.publish("agent.started", "quiet", {"task": "index"})
    await hub.publish("agent.started", "asker", {"task": "deploy"})
    await hub.ask("asker", "Ship it?")
    flush(console)
    page = await open_tab()
    assert page.attr("#agent-quiet", "data-state") == "running"
    later = time.time() + 301
    monkeypatch.setattr(panels, "now", lambda: later)
    console.pages.views.invalidate("agents")  # what the ticker does every few seconds
    await page.wait_for(lambda p: p.attr("#agent-quiet", "data-state") == "stale")
    assert "stale" in page.text("#agent-quiet .console-badge")
    assert "was running" in page.text("#agent-quiet")
    monkeypatch.setattr(panels, "now", lambda: later + 300)
    console.pages.views.invalidate("agents")
    await page.wait_for(lambda p: not p.all("#agent-quiet"))
    assert page.attr("#agent-asker", "data-state") == "blocked"  # it waits for a person
    assert "quiet" in hub.state.agents  # only the page lets it go: its history stays


# -- the launcher asks before replacing a live run --------------------------------------------


async def test_start_while_a_run_is_in_progress_asks_before_replacing_it(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    page = await open_tab()
    await page.fill("input[name=target]", "src")
    await page.click("button", text="Start")
    await page.wait_for(lambda p: "Started src" in p.text(".console-notice"))
    runs = [e for e in hub.state.log if e.topic == "run.started"]
    await page.fill("input[name=target]", "docs")
    await page.click("button", text="Start")
    await page.wait_for(lambda p: bool(p.all(".console-confirm")))
    confirm = page.query(".console-confirm")
    assert confirm.get("role") == "alertdialog"
    assert "A run is in progress" in confirm.text
    assert "0/3 agents completed" in confirm.text or "agents completed" in confirm.text
    assert [e for e in hub.state.log if e.topic == "run.started"] == runs  # nothing yet
    await page.click(".console-confirm button", text="Keep it")
    await page.wait_for(lambda p: not p.all(".console-confirm"))
    assert "The run in progress goes on." in page.text(".console-notice")
    assert hub.state.progress.name == "src"
    await page.click("button", text="Start")
    await page.wait_for(lambda p: bool(p.all(".console-confirm")))
    await page.click(".console-confirm button", text="Replace it")
    await page.wait_for(lambda p: "Started docs" in p.text(".console-notice"))
    assert hub.state.progress.name == "docs"
    assert not page.all(".console-confirm")


async def test_start_with_no_run_in_progress_starts_at_once(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    await hub.publish("run.started", "", {"total": 1, "name": "old"})
    await hub.publish("run.completed", "", {})
    page = await open_tab()
    await page.fill("input[name=target]", "src")
    await page.click("button", text="Start")
    await page.wait_for(lambda p: "Started src" in p.text(".console-notice"))
    assert not page.all(".console-confirm")


# -- the activity chart -----------------------------------------------------------------------


def test_activity_gives_events_per_second_and_the_most_waiting_per_bucket() -> None:
    activity = Activity(bucket=10.0, span=60.0)
    assert activity.sample(1000.0, events_seen=0, waiting=0) is False
    assert activity.sample(1004.0, events_seen=30, waiting=2) is False
    assert activity.sample(1008.0, events_seen=50, waiting=1) is False
    assert activity.sample(1012.0, events_seen=60, waiting=0) is True  # 1000-1010 finished
    series = activity.series()
    assert series["step"] == 10.0
    assert series["end"] == 1010.0
    assert series["events"] == [6.0]  # 60 events since its first sample, over its 10 s
    assert series["waiting"] == [2]


def test_activity_fills_a_gap_with_nothing_and_keeps_only_its_span() -> None:
    activity = Activity(bucket=10.0, span=60.0)
    activity.sample(1000.0, events_seen=0, waiting=1)
    activity.sample(1035.0, events_seen=10, waiting=0)  # nobody sampled 1010-1030
    assert activity.series()["events"] == [1.0, 0.0, 0.0]
    assert activity.series()["waiting"] == [1, 0, 0]
    for t in range(1040, 2000, 10):
        activity.sample(float(t), events_seen=t, waiting=0)
    assert len(activity.series()["events"]) == 6  # one minute of 10 s buckets


async def test_the_agents_page_shows_the_last_hour_as_a_chart_widget(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    page = await open_tab()
    host = page.query("#activity #activity-chart")
    assert host.get("data-parlour-widget") == "console-chart"
    assert json.loads(host.get("data-parlour-data") or "")["events"] == []
    figures = console.figures
    now = time.time()
    figures.record(now)
    for n in range(5):
        await hub.publish("agent.progress", "alpha", {"message": f"step {n}"})
    await hub.ask("alpha", "Go on?")
    assert figures.record(now + 10.0)  # the ticker's next sample closes a bucket
    console.pages.views.invalidate("activity")
    await page.wait_for(
        lambda p: json.loads(p.attr("#activity-chart", "data-parlour-data") or "{}")["events"] != []
    )
    data = json.loads(page.attr("#activity-chart", "data-parlour-data") or "")
    assert data["events"] == [0.6]  # six events (five and the question) in ten seconds
    assert data["waiting"] == [0]  # the question came after the bucket's only sample
    assert "0.6 events/s" in page.text("#activity")


def test_the_waiting_view_hands_its_behaviour_the_newest_fifty_ids() -> None:
    state = ConsoleState()
    assert "0 waiting" in Document(str(panels.waiting(state))).body.text
    for n in range(1, 61):
        payload = {"id": f"q{n}", "agent": "a", "question": f"Q{n}?", "timeout": 60}
        state.fold(Event(id=n, topic="question.asked", time=1000.0 + n, payload=payload))
    view = Document(str(panels.waiting(state))).query("#waiting")
    assert view is not None
    data = json.loads(view.get("data-parlour-data") or "")
    assert data["count"] == 60
    assert data["ids"] == [f"q{n}" for n in range(11, 61)]
    assert data["newest"]["id"] == "q60"
    assert "60 waiting for you" in view.text
