"""Every question and every agent can be opened from the page and tells its story.

/questions lists the questions, /questions/ID tells one (asked by whom, what, when; answered
by whom and when, or how else it closed, with every event about it), /agents/NAME shows one
agent's events as a timeline with how long its runs and its waits for answers took. The
stories are read from the journal (`parlour.console.history`), so they hold what the page
no longer shows; an open page keeps up with the bus.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from parlour.bus.event import Event
from parlour.console import panels
from parlour.console.app import Console
from parlour.console.history import (
    MAX_STEPS,
    agent_href,
    agent_story,
    question_href,
    question_story,
)
from parlour.console.hub import Hub
from parlour.testing import AsgiClient, Page

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


async def story_page(open_tab: OpenTab, path: str) -> Page:
    """A history page once it has read its story from the journal."""
    page = await open_tab(path)
    await page.wait_for(lambda p: "Reading" not in p.text(".console-history"))
    return page


def ev(n: int, topic: str, source: str, payload: object, at: float) -> Event:
    return Event(id=n, topic=topic, time=at, source=source, payload=payload)


# -- the stories, from events -----------------------------------------------------------------


def test_an_agent_story_times_its_runs_and_its_waits_for_answers() -> None:
    asked = {"id": "q1", "agent": "deployer", "question": "Ship?", "timeout": 60}
    events = [
        ev(1, "agent.started", "deployer", {"task": "ship"}, 100.0),
        ev(2, "agent.progress", "other", {"message": "not mine"}, 101.0),
        ev(3, "question.asked", "deployer", asked, 110.0),
        ev(4, "question.answered", "console", {"id": "q1", "answer": "yes", "by": "ada"}, 140.0),
        ev(5, "agent.completed", "deployer", {"summary": "shipped"}, 160.0),
        ev(6, "agent.started", "deployer", {}, 200.0),
        ev(7, "agent.failed", "deployer", {"error": "boom"}, 205.0),
    ]
    story = agent_story(events, "deployer")
    assert [s.topic for s in story.steps] == [
        "agent.started",
        "question.asked",
        "question.answered",
        "agent.completed",
        "agent.started",
        "agent.failed",
    ]
    assert [s.took for s in story.steps] == [None, None, 30.0, 60.0, None, 5.0]
    assert story.steps[2].who == "ada"
    assert (story.runs, story.running, story.waiting) == (2, 65.0, 30.0)
    assert (story.first, story.last, story.events) == (100.0, 205.0, 6)


def test_an_agent_story_keeps_only_the_newest_steps() -> None:
    events = [ev(n, "agent.progress", "a", {"message": str(n)}, float(n)) for n in range(1, 500)]
    story = agent_story(events, "a")
    assert len(story.steps) == MAX_STEPS
    assert story.steps[-1].summary == "499"
    assert story.events == 499


def test_a_question_story_says_who_answered_and_when() -> None:
    asked = {"id": "q1", "agent": "deployer", "question": "Ship?", "options": ["yes", "no"]}
    events = [
        ev(1, "question.asked", "deployer", asked | {"expires": 400.0}, 100.0),
        ev(2, "question.answered", "console", {"id": "q1", "answer": "yes", "by": "ada"}, 130.0),
        ev(3, "question.asked", "x", {"id": "q2", "agent": "x", "question": "?"}, 131.0),
    ]
    story = question_story(events, "q1")
    assert story is not None
    assert (story.agent, story.question, story.options) == ("deployer", "Ship?", ("yes", "no"))
    assert (story.asked, story.expires) == (100.0, 400.0)
    assert (story.state, story.answer, story.by, story.closed_at) == (
        "answered",
        "yes",
        "ada",
        130.0,
    )
    assert [s.topic for s in story.steps] == ["question.asked", "question.answered"]
    assert story.steps[1].took == 30.0
    assert question_story(events, "nope") is None


def test_a_question_closed_another_way_tells_that_way() -> None:
    asked = {"id": "q1", "agent": "a", "question": "?"}
    events = [
        ev(1, "question.asked", "a", asked, 100.0),
        ev(2, "question.cancelled", "console", {"id": "q1", "by": "api"}, 105.0),
    ]
    story = question_story(events, "q1")
    assert story is not None
    assert (story.state, story.by, story.closed_at) == ("cancelled", "api", 105.0)


def test_history_links_quote_any_id_into_one_path_segment() -> None:
    assert question_href("q-7") == "/questions/q-7"
    assert question_href("a/b c?") == "/questions/a%2Fb%20c%3F"
    assert agent_href("deployer") == "/agents/deployer"


# -- the pages --------------------------------------------------------------------------------


async def test_agent_rows_and_log_sources_open_the_agent_timeline(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    await hub.publish("agent.started", "deployer", {"task": "ship 1.4"})
    console.pages.views.flush()
    page = await open_tab(stream=False)
    row_link = page.query("#agent-deployer a")
    assert row_link.get("href") == "/agents/deployer"
    assert {a.get("href") for a in page.all("#log a.console-source")} == {"/agents/deployer"}


async def test_the_agent_page_shows_its_timeline_with_durations(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    await hub.publish("agent.started", "deployer", {"task": "ship 1.4"})
    await hub.publish("agent.progress", "someone-else", {"message": "not shown"})
    question = await hub.ask("deployer", "Ship to prod?", options=["yes", "no"])
    await hub.answer(question.id, "yes", by="ada")
    await hub.publish("agent.completed", "deployer", {"summary": "live on 4 hosts"})
    page = await story_page(open_tab, "/agents/deployer")
    rows = page.all(".console-timeline tbody tr")
    assert [r.query("code").text for r in rows if r.query("code")] == [  # type: ignore[union-attr]
        "agent.started",
        "question.asked",
        "question.answered",
        "agent.completed",
    ]
    assert "live on 4 hosts" in rows[-1].text
    assert "ada" in rows[2].text
    assert rows[-1].query(".console-took").text.endswith(" s")  # how long the run took
    facts = page.text(".console-facts")
    assert "Runs 1" in facts
    assert "Events 4" in facts
    assert "not shown" not in page.text(".console-history")
    # The open page keeps up with the bus.
    await hub.publish("agent.started", "deployer", {"task": "ship 1.5"})
    await page.wait_for(lambda p: "Runs 2" in p.text(".console-facts"))
    assert len(page.all(".console-timeline tbody tr")) == 5


async def test_an_agent_never_heard_of_says_so(open_tab: OpenTab) -> None:
    page = await story_page(open_tab, "/agents/nobody")
    assert "No events from 'nobody'" in page.text(".console-history")


async def test_the_question_page_tells_who_answered_and_when(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    question = await hub.ask("deployer", "Ship to prod?", options=["yes", "no"], qid="rel-1.4")
    page = await story_page(open_tab, question_href(question.id))
    assert page.query("#story").get("data-state") == "pending"
    assert "@deployer" in page.text("#story")
    assert "Ship to prod?" in page.text("#story")
    assert "Options: yes, no" in page.text("#story")
    assert page.query("#story a").get("href") == "/agents/deployer"
    await hub.answer(question.id, "yes", by="ada")  # the open page follows
    await page.wait_for(lambda p: p.query("#story").get("data-state") == "answered")
    outcome = page.text("#story")
    assert "answered yes by ada at " in outcome
    assert "(after " in outcome
    topics = [c.text for c in page.all(".console-timeline code")]
    assert topics == ["question.asked", "question.answered"]


async def test_an_expired_question_page_says_it_expired(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    question = await hub.ask("alpha", "Quick?", timeout=0.05)
    await hub.wait(question.id, timeout=2)
    page = await story_page(open_tab, question_href(question.id))
    assert page.query("#story").get("data-state") == "expired"
    assert "expired at" in page.text("#story")


async def test_an_unknown_question_says_so(open_tab: OpenTab) -> None:
    page = await story_page(open_tab, "/questions/no-such")
    assert "No question with id 'no-such'" in page.text(".console-history")


async def test_the_question_list_links_every_question_newest_first(
    console: Console, hub: Hub, open_tab: OpenTab
) -> None:
    first = await hub.ask("alpha", "First?")
    second = await hub.ask("beta", "Second?", options=["a", "b"])
    await hub.answer(first.id, "fine", by="ada")
    console.pages.views.flush()
    page = await open_tab("/questions")
    links = [a.get("href") for a in page.all("#question_list a.console-question-link")]
    assert links == [question_href(second.id), question_href(first.id)]
    answered = page.query(f"#{panels.dom_id('asked', first.id)}")
    assert answered.get("data-state") == "answered"
    assert "by ada" in answered.text
    third = await hub.ask("gamma", "Third?")  # live
    await page.wait_for(
        lambda p: p.all(f'#question_list a[href="{question_href(third.id)}"]') != []
    )
    assert page.query('a[href="/questions"]') is not None  # back to the list from anywhere


async def test_the_agents_page_links_to_the_question_history(open_tab: OpenTab) -> None:
    page = await open_tab(stream=False)
    assert page.all('.console-main a[href="/questions"]')
