"""A cluster node's bus subscriptions: every node holding a conversation hears its events.

A conversation's `subscribe(pattern, method)` makes each node that holds the conversation
subscribe to `pattern` on the bus (the node that performed the subscription, and any node
that loads the conversation or hears, in a batch notice, that it subscribed). Each node
applies every event through the cluster's compare-and-set loop with a *mark*: the id of the
event, recorded per subscription in the stored value. The first node to save an event wins;
every other node then finds the mark as new as the event and skips it. Since each node reads
the bus in order and a node applies event N only once N-1 is applied (by itself, or marked by
another), every event is applied exactly once and in bus order, while any node holds the
conversation; and a node's death loses nothing another node hears.

On an in-process bus (one per node) there is nothing to share: each node delivers the events
published on it, unmarked.

What this module does not do: subscribe on the bus's transport (the bus does), or know HTTP.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from parlour.bus.subscription import Subscription as BusSubscription
from parlour.core import kernel
from parlour.core.conversation import Conversation, Subscription
from parlour.runtime.runtime import RestoreBusy

if TYPE_CHECKING:
    from parlour.runtime.cluster import Cluster

__all__ = ["follow", "join", "mark_key"]

log = logging.getLogger("parlour.cluster")


def mark_key(sub: Subscription) -> str:
    """The name of `sub`'s mark in the stored value."""
    return f"{sub.iid} {sub.method} {sub.pattern}"


def join(cluster: Cluster, cid: str, sub: Subscription) -> None:
    """Hear `sub`'s events on this node too (replacing an older listener of it)."""
    bus = cluster.rt.bus
    if bus is None:
        log.warning("parlour: subscribe(%r) with no bus configured; ignored", sub.pattern)
        return
    key = (cid, sub.iid, sub.pattern)
    old = cluster.rt.commands.subscriptions.pop(key, None)
    if old is not None:
        old.cancel()
    # Subscribed now, not when the task first runs (nothing published after is missed).
    subscription = bus.subscribe(sub.pattern)
    # Bus event ids order events across nodes only on a shared (NATS) bus; an in-process
    # bus reaches only its own node, which alone delivers them.
    shared = type(bus).__name__ == "NatsBus"
    task = asyncio.ensure_future(_listen(cluster, cid, sub, subscription, shared=shared))
    task.add_done_callback(lambda _: subscription.close())
    cluster.rt.commands.subscriptions[key] = task


async def _listen(
    cluster: Cluster, cid: str, sub: Subscription, subscription: BusSubscription, *, shared: bool
) -> None:
    """Apply each event once: unless another node saved it first (its mark), or the
    conversation dropped the subscription (this node may not have heard yet)."""
    key = mark_key(sub)

    def deliver(conv: Conversation, event: object, now: float) -> kernel.Step:
        if sub not in conv.subscriptions:
            return kernel.Step(conv)
        return kernel.deliver(conv, sub.iid, sub.method, event, now=now)

    try:
        async for event in subscription:
            try:
                live = await cluster.rt.get(cid)
                if live is None:
                    return
                now = cluster.rt.clock()
                async with live.lock:
                    if cluster.rt.live.get(cid) is not live:
                        return
                    await cluster.apply(
                        live,
                        lambda c, e=event, t=now: deliver(c, e, t),
                        save=True,
                        urgent=False,
                        mark=(key, event.id) if shared else None,
                    )
            except RestoreBusy as exc:  # NATS away, or a long race: another node may have it
                log.warning("parlour: bus event %s not applied to %s: %s", event.id, cid, exc)
    finally:
        subscription.close()


def follow(cluster: Cluster, cid: str, wanted: set[Subscription]) -> None:
    """Subscribe or unsubscribe this node so it hears exactly `cid`'s subscriptions `wanted`."""
    keys = {(cid, s.iid, s.pattern): s for s in wanted}
    for key in [k for k in cluster.rt.commands.subscriptions if k[0] == cid and k not in keys]:
        cluster.rt.commands.subscriptions.pop(key).cancel()
    for key, sub in keys.items():
        if key not in cluster.rt.commands.subscriptions:
            join(cluster, cid, sub)
