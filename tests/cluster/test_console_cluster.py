"""The parlour console as a cluster, in a real browser: HAProxy round robin (no stickiness) in
front of three `parlour console` nodes on one nats-server, all on 127.0.0.1.

An agent in a separate process asks through the balancer (`Client.ask`, which then long
polls, each poll on whichever node HAProxy picks); a person answers in a tab served directly
by a node that did not take the question. The agent gets the answer exactly once, the
journal (the bus's stream) holds one answer, and the card leaves every tab: the one behind
the balancer and one opened directly on each node.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from parlour.bus.nats import NatsBus
from tests.e2e.conftest import _open, _Pages  # pyright: ignore[reportPrivateUsage]
from tests.support.nats import start_nats_server

from .balancer import REPO, Cluster, Process

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

SHOWN_MS = 10_000  # a card on every tab: the asker's start, the ask, a shared view update
GONE_MS = 5_000
ANSWER_S = 30

OpenTab = Callable[[str], Awaitable[Page]]


class ConsoleNodes(Cluster):
    """`parlour console` on every node: pages in the KV bucket, events and claims on the bus."""

    def _node(self, index: int, port: int) -> Process:
        home = self.where / f"node{index}"
        home.mkdir(exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PARLOUR_") or k == "PARLOUR_CHROMIUM"
        }
        env["PYTHONPATH"] = str(REPO)
        args = [
            sys.executable,
            "-m",
            "parlour",
            "console",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--store",
            self.store,
            "--bus",
            self.nats_url,
            "--state-dir",
            str(home / ".parlour"),
            "--log-level",
            "warning",
        ]
        return Process(f"node{index}", args, self.where / f"node{index}.log", cwd=home, env=env)


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[str]:
    """A nats-server of the test's own: the console's stream and claims bucket are fixed
    names, so no other test may share them."""
    for server in start_nats_server(tmp_path):
        yield server.url


@pytest.fixture
def nodes(tmp_path: Path, own_nats: str) -> Iterator[ConsoleNodes]:
    with ConsoleNodes(tmp_path, own_nats, "console", nodes=3, bucket="console") as running:
        yield running


@pytest.fixture
async def open_tab(
    chromium: Browser, request: pytest.FixtureRequest, nodes: ConsoleNodes
) -> AsyncIterator[OpenTab]:
    """`await open_tab(url)`: a person's tab (a fresh context) with its stream open; closed
    before the nodes stop."""
    pages = _Pages(chromium, request)

    async def go(url: str) -> Page:
        return await _open(await pages.new(), url)

    yield go
    await pages.close()


class Asker:
    """`Client.ask` in a separate process, through the balancer. It prints which node took
    the question (the POST's X-Parlour-Node), then each answer `ask` returned."""

    SCRIPT = textwrap.dedent(
        """
        import json, sys, urllib.request
        from parlour.console import Client

        real = urllib.request.urlopen

        def spy(request, *args, **kwargs):
            response = real(request, *args, **kwargs)
            if request.get_method() == "POST":
                print("asked-on", response.headers.get("X-Parlour-Node"), flush=True)
            return response

        urllib.request.urlopen = spy
        answer = Client(sys.argv[1]).ask(
            "deployer", "Ship 1.4 to prod?", options=["yes", "no"], timeout=120
        )
        print("answer", json.dumps(answer), flush=True)
        """
    )

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT, url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    async def asked_on(self) -> int:
        """The index of the node that took the question."""
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), ANSWER_S)
        kind, _, node = line.strip().partition(" ")
        assert kind == "asked-on", (line, self.proc.stderr)
        return int(node.removeprefix("node"))

    async def answers(self) -> list[str]:
        """Every answer the process printed, once it has exited."""
        out, err = await asyncio.wait_for(asyncio.to_thread(self.proc.communicate), ANSWER_S)
        assert self.proc.returncode == 0, err
        return [json.loads(line.removeprefix("answer ")) for line in out.splitlines()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


async def answered_events(nats_url: str) -> list[dict[str, object]]:
    async with await NatsBus.connect(nats_url) as bus:
        return [e.payload for e in await bus.history(after=0, pattern="question.answered")]


async def test_a_question_asked_through_the_balancer_is_answered_on_another_node_once(
    nodes: ConsoleNodes, open_tab: OpenTab, own_nats: str
) -> None:
    behind_balancer = await open_tab(nodes.url)
    on_node = [await open_tab(f"http://127.0.0.1:{port}/") for port in nodes.ports]
    tabs = [behind_balancer, *on_node]

    asker = Asker(nodes.url)
    try:
        asked_on = await asker.asked_on()
        for tab in tabs:
            card = tab.locator(".console-question")
            await expect(card).to_have_count(1, timeout=SHOWN_MS)
            await expect(card).to_contain_text("Ship 1.4 to prod?")
        other = (asked_on + 1) % len(on_node)  # a node that did not take the question
        await on_node[other].locator(".console-question").get_by_role("button", name="no").click()

        assert await asker.answers() == ["no"]  # exactly once
    finally:
        asker.stop()
    for tab in tabs:
        await expect(tab.locator(".console-question")).to_have_count(0, timeout=GONE_MS)
    await expect(on_node[other].locator(".console-notice")).to_contain_text(
        "Answered @deployer: no"
    )
    answered = await answered_events(own_nats)
    assert len(answered) == 1
    assert answered[0]["answer"] == "no"
    for tab in tabs:  # every node folded it into its log
        await expect(tab.locator("#log")).to_contain_text("question.answered", timeout=GONE_MS)
