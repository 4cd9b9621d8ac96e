"""A question card, as an open page shows it: who asks and the question link to their
history pages, and its age and time left carry the epoch seconds the console's script keeps
moving ("asked 2 min 5 s ago", "4 min 10 s left"), over a clock time that reads without it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parlour.console.app import Console
from parlour.console.history import agent_href, question_href
from parlour.console.hub import Hub
from parlour.console.times import AGE, LEFT, clock
from parlour.testing import AsgiClient, Element, Page

WAIT = 2.0


class Tab:
    """A tab on the console's home page, opened once the questions were asked."""

    def __init__(self, console: Console, client: AsgiClient) -> None:
        self.console = console
        self.page = Page(client, runtime=console.pages.runtime, timeout=WAIT)

    async def card(self, qid: str) -> Element:
        """The card of question `qid` as the page shows it."""
        self.console.pages.views.flush()  # render now what the window's timer would soon
        await self.page.open("/", stream=False)
        cards = [c for c in self.page.all("#questions li") if c.get("data-question") == qid]
        assert len(cards) == 1, f"expected one card for {qid!r}, found {len(cards)}"
        return cards[0]


@pytest.fixture
async def tab(console: Console, client: AsgiClient) -> AsyncIterator[Tab]:
    opened = Tab(console, client)
    yield opened
    await opened.page.close()


async def test_a_card_carries_its_age_from_the_time_it_was_asked(hub: Hub, tab: Tab) -> None:
    asked = await hub.ask("deployer", "Ship 2.4 to production?", options=["yes", "no"])
    card = await tab.card(asked.id)
    ages = card.all(f"[{AGE}]")
    assert [e.get(AGE) for e in ages] == [f"{asked.asked:.0f}"]
    age = card.query(".console-question-age")
    assert age is not None
    assert age.text == f"asked {clock(asked.asked)}"  # what shows before the script runs


async def test_a_card_carries_its_time_left_until_it_expires(hub: Hub, tab: Tab) -> None:
    asked = await hub.ask("deployer", "Ship 2.4 to production?", timeout=300)
    card = await tab.card(asked.id)
    left = card.all(f"[{LEFT}]")
    assert [e.get(LEFT) for e in left] == [f"{asked.expires:.0f}"]
    assert left[0].text == f"expires {clock(asked.expires)}"


async def test_the_asker_and_the_question_link_to_their_history(hub: Hub, tab: Tab) -> None:
    asked = await hub.ask("deploy bot/eu", "Roll back?", qid="Job 7/a")
    card = await tab.card(asked.id)
    links = {link.text: link.get("href") for link in card.all("a")}
    assert links == {
        "@deploy bot/eu": agent_href("deploy bot/eu"),
        "Roll back?": question_href("Job 7/a"),
    }
    assert agent_href("deploy bot/eu") == "/agents/deploy%20bot%2Feu"
    assert question_href("Job 7/a") == "/questions/Job%207%2Fa"


async def test_the_history_pages_a_card_links_to_open(
    hub: Hub, tab: Tab, client: AsgiClient
) -> None:
    asked = await hub.ask("deployer", "Roll back?")
    card = await tab.card(asked.id)
    for link in card.all("a"):
        href = link.get("href")
        assert href is not None
        response = await client.get(href)
        assert response.status == 200, href


async def test_a_card_still_names_who_may_answer(hub: Hub, tab: Tab) -> None:
    asked = await hub.ask("deployer", "Roll back?", assignee="group:ops")
    card = await tab.card(asked.id)
    assignee = card.query(".console-question-assignee")
    assert assignee is not None
    assert assignee.text == "for group ops"
