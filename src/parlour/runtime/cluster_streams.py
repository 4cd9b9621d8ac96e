"""A cluster node's streams: where a tab's stream (re)opens, on whichever node it reaches.

A stream that reconnects with `Last-Event-ID: EPOCH.SEQ` gets the batches it missed from the
cluster's outbox (`cluster_outbox`), whichever node served it before and whichever saved
them; the conversation's epoch and sequence are cluster-wide (kept in the stored value). When
some batch is gone (older than the outbox keeps, or its node died before announcing it), the
stream starts with a full render after `wakeup`, as on a single node after a restart. A stream
without an id (a new page) gets a full render of the value as stored now.

What this module does not do: write the stream (`parlour.web.stream`), or deliver the
batches that come later (`Cluster._deliver`, in sequence order).
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from parlour.core import kernel
from parlour.core.fragments import Fragment
from parlour.runtime.cluster_wire import WireError, decode_fragments, decode_notice
from parlour.runtime.connection import Connection
from parlour.runtime.live import Live

if TYPE_CHECKING:
    from parlour.runtime.cluster import Cluster

__all__ = ["open_stream"]


async def open_stream(
    cluster: Cluster, cid: str, *, last_event_id: str | None
) -> Connection | None:
    """`Cluster.connect`: a new stream of `cid` on this node (see its docstring)."""
    live = await cluster.rt.get(cid)
    if live is None:
        return None
    connection = Connection(cid, limit=cluster.rt.queue_limit)
    async with live.lock:
        if live.stale and not await cluster._reload(live):
            return None
        if cluster.rt.live.get(cid) is not live:
            return None
        track = cluster._track(cid)
        target = max(live.seq, track.value_seq)
        if not live.connections:
            live.seq = target  # nobody here waits for the batches in between
            track.pending = {n: b for n, b in track.pending.items() if n > target}
        live.connections.add(connection)
        live.streamed = True
        connection.epoch = live.epoch
        missed = await _missed(cluster, cid, live, last_event_id, target)
        if missed is not None:
            for seq, fragments in missed:
                connection.push(fragments, seq=seq)
            connection.seq = target
            connection.replayed = len(missed)
            views = tuple(
                cluster.rt.views.fragment(n) for n in sorted(live.views) if n in cluster.rt.views
            )
            if views:
                connection.push(views)
            return connection
        connection.seq = target
        if last_event_id:
            await cluster.apply(
                live,
                lambda conv: kernel.render_top(conv, wake=True),
                save=True,
                urgent=True,
            )
        else:
            step = cluster.rt._run(live, kernel.render_top)
            live.conv = step.conversation
            cluster.rt._log_errors(step)
            connection.push(step.fragments, seq=track.value_seq, urgent=True)
    return connection


async def _missed(
    cluster: Cluster, cid: str, live: Live, last_event_id: str | None, target: int
) -> list[tuple[int, tuple[Fragment, ...]]] | None:
    """The batches after `last_event_id` up to `target`, in order; None if any is gone."""
    if not last_event_id:
        return None
    epoch, _, raw = last_event_id.partition(".")
    if epoch != live.epoch or not raw.isdigit() or int(raw) > target:
        return None
    seen = int(raw)
    if seen == target:
        return []
    found: dict[int, tuple[Fragment, ...]] = {}
    for attempt in range(3):  # a notice published a moment ago may not be stored yet
        if attempt:
            await asyncio.sleep(0.05 * attempt)
        for data in await cluster.outbox.since(cid):
            with contextlib.suppress(WireError):
                notice = decode_notice(data)
                if seen < notice.seq <= target and notice.epoch == live.epoch:
                    frags = decode_fragments(notice)
                    if frags:
                        found[notice.seq] = frags
        if len(found) == target - seen:
            return sorted(found.items())
    return None
