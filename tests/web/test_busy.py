"""A request parlour cannot serve right now is a 503 that says why, never a 500.

Restores are shed during a reconnect storm; in a cluster the store may not answer or an
event may lose the compare-and-set race too often. Each answer names its reason and carries
`Retry-After`, and the page's stream retries by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from examples.counter import Counter

from parlour import App
from parlour.runtime import RestoreBusy
from parlour.runtime.cluster import Contended, Unavailable
from parlour.stores import MemoryStore
from parlour.testing import AsgiClient


@pytest.fixture
async def app() -> AsyncIterator[App]:
    app = App(Counter, store=MemoryStore(), secret="s" * 32)
    yield app
    await app.close()


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (RestoreBusy("storm"), "too many conversations are being restored"),
        (Unavailable("nats away"), "the conversation store (NATS) did not answer"),
        (Contended("lost 16 rounds"), "changed by other nodes at the same moment"),
    ],
)
async def test_an_event_that_cannot_be_served_now_is_a_503_naming_why(
    app: App, monkeypatch: pytest.MonkeyPatch, error: RestoreBusy, says: str
) -> None:
    client = AsgiClient(app)
    shell = await client.get("/")
    assert shell.status == 200

    async def refuse(cid: str, **_: object) -> None:  # get(cid, urgent=True) from a click
        raise error

    monkeypatch.setattr(app.runtime, "get", refuse)
    response = await client.post("/_parlour/event/anything/p1/inc", json={})
    assert response.status == 503
    assert says in response.text
    assert response.headers.get("retry-after") == "1"
    assert "nats away" not in response.text  # the internal detail stays in the log
