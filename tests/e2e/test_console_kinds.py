"""Each kind of question rendered and answered in a real page (Chromium), the asker waiting
in `AsyncClient.ask`: free text, one of, several of, approve/reject, a form. The browser
refuses what it can check (a reject without a reason, a required field left empty) before
anything is sent. A screenshot of each card goes to docs/images/question-KIND.png
(`make screenshots`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from parlour.console import AsyncClient
from tests.e2e.conftest import docs_image

pytestmark = pytest.mark.browser

OpenPage = Callable[[str], Awaitable[Page]]
Launch = Callable[..., str]
ANSWERED_S = 10.0


async def ask(url: str, question: str, **kind: Any) -> asyncio.Task[Any]:
    """An agent asking in the background; the task's result is what `ask` returned."""
    client = AsyncClient(url)
    return asyncio.create_task(client.ask("deployer", question, timeout=120, **kind))


async def card_for(page: Page, question: str) -> Locator:
    card = page.locator(".console-question", has_text=question)
    await expect(card).to_have_count(1, timeout=5_000)
    return card


async def shoot(card: Locator, kind: str) -> None:
    await card.screenshot(path=str(docs_image(f"question-{kind}.png")))


async def still_pending(url: str, question: str) -> bool:
    pending = await AsyncClient(url).questions("pending")
    return any(q["question"] == question for q in pending)


async def test_free_text_is_typed_and_sent(launch: Launch, open_page: OpenPage) -> None:
    url = launch("console")
    page = await open_page(url)
    asked = await ask(url, "Name the release")
    card = await card_for(page, "Name the release")
    await card.get_by_label("answer").fill("Quiet Otter")
    await shoot(card, "text")
    await card.get_by_role("button", name="Send").click()
    assert await asyncio.wait_for(asked, ANSWERED_S) == "Quiet Otter"
    await expect(card).to_have_count(0)


async def test_one_of_the_options_is_a_button_each(launch: Launch, open_page: OpenPage) -> None:
    url = launch("console")
    page = await open_page(url)
    asked = await ask(url, "Ship 1.4 to prod?", options=["yes", "no", "wait an hour"])
    card = await card_for(page, "Ship 1.4 to prod?")
    await expect(card.locator("button.console-choice")).to_have_text(["yes", "no", "wait an hour"])
    await shoot(card, "choice")
    await card.get_by_role("button", name="wait an hour").click()
    assert await asyncio.wait_for(asked, ANSWERED_S) == "wait an hour"
    await expect(card).to_have_count(0)


async def test_several_of_the_options_are_checkboxes(launch: Launch, open_page: OpenPage) -> None:
    url = launch("console")
    page = await open_page(url)
    options = ["unit", "integration", "browser"]
    asked = await ask(url, "Rerun which suites?", options=options, multiple=True)
    card = await card_for(page, "Rerun which suites?")
    await expect(card.get_by_role("checkbox")).to_have_count(3)
    await card.get_by_label("browser").check()
    await card.get_by_label("unit").check()
    await shoot(card, "multiple")
    await card.get_by_role("button", name="Send").click()
    assert await asyncio.wait_for(asked, ANSWERED_S) == ["unit", "browser"]  # options' order


async def test_reject_needs_a_reason_and_approve_does_not(
    launch: Launch, open_page: OpenPage
) -> None:
    url = launch("console")
    page = await open_page(url)
    rejected = await ask(url, "Drop the staging database?", kind="approve")
    card = await card_for(page, "Drop the staging database?")
    reason = card.get_by_label("reason")
    await card.get_by_role("button", name="Reject").click()
    assert await reason.evaluate("el => el.validationMessage") != ""  # the browser refused
    assert await still_pending(url, "Drop the staging database?")
    await reason.fill("it holds the demo data")
    await shoot(card, "approve")
    await card.get_by_role("button", name="Reject").click()
    assert await asyncio.wait_for(rejected, ANSWERED_S) == {
        "approved": False,
        "reason": "it holds the demo data",
    }
    approved = await ask(url, "Restart the worker?", kind="approve")
    card = await card_for(page, "Restart the worker?")
    await card.get_by_role("button", name="Approve").click()
    assert await asyncio.wait_for(approved, ANSWERED_S) == {"approved": True, "reason": ""}


SCHEMA = {
    "type": "object",
    "properties": {
        "service": {"type": "string", "title": "Service", "description": "as in the catalogue"},
        "replicas": {"type": "integer", "title": "Replicas", "minimum": 1, "maximum": 20},
        "region": {"type": "string", "title": "Region", "enum": ["eu-west", "us-east"]},
        "cpu": {"type": "number", "title": "CPU per replica", "default": 0.5},
        "canary": {"type": "boolean", "title": "Canary first"},
    },
    "required": ["service", "replicas", "region"],
}


async def test_a_form_has_labels_typed_inputs_and_the_browser_checks_it(
    launch: Launch, open_page: OpenPage
) -> None:
    url = launch("console")
    page = await open_page(url)
    asked = await ask(url, "Scale which service?", schema=SCHEMA)
    card = await card_for(page, "Scale which service?")
    service, replicas = card.get_by_label("Service"), card.get_by_label("Replicas")
    await expect(service).to_have_attribute("type", "text")
    await expect(replicas).to_have_attribute("type", "number")
    await expect(replicas).to_have_attribute("step", "1")
    await expect(card.get_by_label("Canary first")).to_have_attribute("type", "checkbox")
    await expect(card.get_by_label("Region")).to_have_js_property("tagName", "SELECT")
    await expect(card.get_by_label("CPU per replica")).to_have_value("0.5")

    await replicas.fill("3")
    await card.get_by_label("Region").select_option("eu-west")
    await card.get_by_role("button", name="Send").click()  # Service left empty
    assert await service.evaluate("el => el.validationMessage") != ""
    assert await still_pending(url, "Scale which service?")

    await service.fill("web")
    await card.get_by_label("Canary first").check()
    await shoot(card, "form")
    await card.get_by_role("button", name="Send").click()
    assert await asyncio.wait_for(asked, ANSWERED_S) == {
        "service": "web",
        "replicas": 3,
        "region": "eu-west",
        "cpu": 0.5,
        "canary": True,
    }
    await expect(card).to_have_count(0)
