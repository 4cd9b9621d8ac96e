"""A real browser in front of a real cluster: HAProxy round robin over three `parlour run`
nodes on one nats-server, and the node holding the tab's stream killed mid-way.

Nothing is sticky: the shell, the stream and every click may each land on another node. The
tab must carry on in the same page (no reload: a marker set on `window` survives), and every
click the server acknowledged (204) must be on the page and in the store.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import examples.counter  # noqa: F401  (registers the Counter class the stored value names)
import pytest
from playwright.async_api import Page, Request, Response, expect

from parlour.core.codec import decode
from parlour.runtime.cluster_wire import unpack
from parlour.stores.nats_kv import NatsKvStore
from tests.e2e.conftest import expect_console_error

from .balancer import Cluster

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

CLICKS = 100
KILL_AT = 50
RECOVERY_MS = 10_000  # the stream's retry (0.5-2 s) plus HAProxy noticing the dead node

_buckets = itertools.count(1)


@pytest.fixture
def cluster(tmp_path: Path, nats_url: str) -> Iterator[Cluster]:
    with Cluster(
        tmp_path, nats_url, "examples.counter:app", nodes=3, bucket=f"browser-{next(_buckets)}"
    ) as running:
        yield running


async def stored_count(cluster: Cluster, cid: str) -> int:
    store = NatsKvStore(cluster.nats_url, bucket=cluster.bucket)
    try:
        data = await store.load(cid)
    finally:
        await store.close()
    assert data is not None, f"conversation {cid} is not in the bucket"
    conv = decode(unpack(data).conversation)
    return conv.instances[conv.stack[0]].component.count


async def test_a_hundred_clicks_survive_killing_the_node_that_holds_the_stream(
    cluster: Cluster, page: Page, request: pytest.FixtureRequest
) -> None:
    # The killed node's stream and any click in flight to it fail in the browser's console.
    expect_console_error(request, "net::ERR_")
    expect_console_error(request, "502")
    async with page.expect_response(lambda r: "/_parlour/sse/" in r.url) as opened:
        await page.goto(cluster.url)
    stream = await opened.value
    assert stream.status == 200
    holder = cluster.node_of(stream.headers["x-parlour-node"])
    cid = stream.url.partition("?")[0].rsplit("/", 1)[1]
    await page.evaluate("window.parlourMarker = 'the same page'")
    await expect(page.locator(".count")).to_have_text("0")

    streams: list[str] = []  # which node answered each reconnect of the stream
    resumed_from: list[str | None] = []  # the Last-Event-ID each reconnect sent

    def on_response(response: Response) -> None:
        if "/_parlour/sse/" in response.url:
            streams.append(response.headers.get("x-parlour-node", "?"))

    def on_request(sent: Request) -> None:
        if "/_parlour/sse/" in sent.url:
            resumed_from.append(sent.headers.get("last-event-id"))

    page.on("response", on_response)
    page.on("request", on_request)
    plus = page.get_by_role("button", name="+")
    answers: list[Response] = []
    for n in range(CLICKS):
        if n == KILL_AT:
            cluster.kill(holder)
        async with page.expect_response(lambda r: "/_parlour/event/" in r.url) as posted:
            await plus.click()
        answers.append(await posted.value)
    acknowledged = sum(1 for r in answers if r.status == 204)
    served_by = {r.headers.get("x-parlour-node") for r in answers if r.status == 204}

    total = await stored_count(cluster, cid)
    # Every acknowledged click is stored (a click whose node died after saving it but before
    # answering is stored without an acknowledgement: at most the one in flight).
    assert acknowledged <= total <= CLICKS
    assert acknowledged >= CLICKS - 1, [r.status for r in answers]
    await expect(page.locator(".count")).to_have_text(str(total), timeout=RECOVERY_MS)
    assert await page.evaluate("window.parlourMarker") == "the same page"
    assert len(served_by) >= 2, f"the balancer sent every click to {served_by}"
    # The tab's stream came back on another node (and resumed there: same page, same count).
    assert streams, "the stream never reconnected after its node died"
    assert f"node{holder}" not in streams
    assert all(resumed_from), f"a reconnect sent no Last-Event-ID: {resumed_from}"
