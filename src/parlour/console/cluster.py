"""A console on a NATS bus: what it shares with every other console on that bus.

    shared = await ConsoleCluster.join("nats://127.0.0.1:4222")
    hub = Hub(shared.bus, shared.journal, claims=shared.claims)
    ...
    await shared.close()          # its own connection (the bus is closed by whoever uses it)

`parlour console --bus nats://…` (with `--store nats://…` for the pages' conversations)
makes the console one node of a cluster: any number of them behind any load balancer show
the same pages and accept each answer once. How:

    events     the bus's JetStream stream (`PARLOUR`): every node publishes there and hears
               every event, in one order (the stream sequence is the event id), and folds
               them into the same state; the journal is that stream (`StreamJournal`),
               read back at start, by /api/replay and by the history pages
    claims     the key-value bucket `PARLOUR-console-claims` (`NatsClaims`): an answer,
               an expiry, a cancel, a chosen question id and an Idempotency-Key are each
               claimed there with a *create* before their event is published, so exactly
               one node publishes it; the others refuse (409) or wait for its fold
    catch-up   a node asked about a question it has not heard of yet (asked on another
               node a moment ago) first folds everything the stream held at that moment
               (`Claims.head`), then answers

The demo swarm runs on one node only (`parlour console --demo --no-demo-swarm` on the
others); it takes the runs launched on any node from their `run.requested` events
(`feed_launches`).

Signing in: the nodes sign the console's cookie with the secret the pages' nodes share in
NATS (`session_secret`; `PARLOUR_SECRET` wins), so a person signed in on one node is signed
in on all.

What it does not do: put the pages' conversations in NATS (`--store nats://…`, the
framework's cluster, `parlour.runtime.cluster`), or share the users file (give every node
the same `--state-dir/console-users.json`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from parlour.bus import validate_bus_url
from parlour.bus.nats import NatsBus
from parlour.console.claims_nats import NatsClaims
from parlour.console.hub import Hub
from parlour.console.journal import Journal, open_journal
from parlour.console.journal_nats import StreamJournal
from parlour.console.payloads import as_dict
from parlour.runtime.cluster_secret import shared_secret
from parlour.stores.nats_kv import connect_client

__all__ = ["ConsoleCluster", "claims_bucket", "feed_launches"]

log = logging.getLogger(__name__)


def claims_bucket(stream: str) -> str:
    """The claims bucket of the consoles on the bus whose stream is `stream`."""
    return f"{stream}-console-claims"


class ConsoleCluster:
    """The bus, journal and claims of a console on NATS; build it with `join`."""

    def __init__(self, bus: NatsBus, journal: Journal, claims: NatsClaims, client: Client) -> None:
        self.bus = bus
        self.journal = journal
        self.claims = claims
        self._client = client

    def __repr__(self) -> str:
        return (
            f"ConsoleCluster(stream={self.bus.stream!r}, claims={self.claims.bucket!r}, "
            f"journal={self.journal.describe()!r})"
        )

    @classmethod
    async def join(
        cls, url: str, *, journal: str | None = None, timeout: float = 5.0
    ) -> ConsoleCluster:
        """Connect the bus and a connection of the console's own (claims, the stream's
        head) to `url`; the journal is the bus's stream unless `journal` names a SQLite
        file or "memory" (a copy kept by this node alone). `ConnectionError` when no NATS
        server answers at `url`."""
        validate_bus_url(url)
        bus = await NatsBus.connect(url, name="parlour-console-bus", request_timeout=timeout)
        client: Client | None = None
        try:
            client = await connect_client(url, name="parlour-console", timeout=timeout)
            js = JetStreamContext(client, timeout=timeout)
            claims = await NatsClaims.open(
                client, bucket=claims_bucket(bus.stream), stream=bus.stream, timeout=timeout
            )
            shared_journal: Journal = (
                await StreamJournal.open(bus, js) if journal is None else open_journal(journal)
            )
        except BaseException:
            if client is not None:
                await client.close()
            await bus.close()
            raise
        return cls(bus, shared_journal, claims, client)

    async def session_secret(self, bucket: str) -> str:
        """The secret the pages' nodes share (`BUCKET-meta` of the store's `bucket`, created
        by the first node that asks), so a sign-in on one node is good on every node."""
        return await shared_secret(self._client, bucket)

    async def close(self) -> None:
        """Close the console's own connection (the bus is closed by the pages' app)."""
        await self.claims.close()
        if not self._client.is_closed:
            await self._client.close()


async def feed_launches(hub: Hub, requests: asyncio.Queue[dict[str, Any]]) -> None:
    """Put every `run.requested` published from now on, by any node, in `requests` (the
    demo swarm's queue: in a cluster a run may be launched on a node without the swarm)."""
    async for event in hub.follow(hub.last_id, pattern="run.requested"):
        request = as_dict(event.payload)
        if request is not None:
            with contextlib.suppress(asyncio.QueueFull):
                requests.put_nowait(dict(request))
