"""One node of a cluster: any node serves any request of any conversation.

The runtime runs as a node when its store is shared (`RevisionedStore`, the NATS KV store):
`Runtime.start` builds a `Cluster`, and the runtime hands it the steps where nodes must agree.

    save      every save is a compare-and-set on the revision this node loaded. A node that
              lost the race reloads the conversation and applies the event again, to the value
              that won (`apply`, bounded); so no acknowledged event is lost or applied twice,
              and one node's events of one conversation stay in arrival order (its lock).
    route     after each save the node publishes a notice on the conversation's subject
              (`cluster_outbox`): the new revision, the bus subscriptions, the fragments and
              their sequence number. Every node holding the conversation learns its copy is
              stale; nodes with streams of it hand the fragments over, in sequence order
              (a notice that overtook another waits up to `GAP_WAIT` for it, then the
              outbox is read, then the page gets a full render).
    sequence  the batch number and the epoch live in the stored value (`cluster_wire`), so
              they are cluster-wide; the outbox stream keeps the newest notices, so a stream
              that reconnects to any node with `Last-Event-ID` gets exactly what it missed.
    timers    `cluster_timers`: armed on every node, claimed by one, fired through `apply`.
    bus       every node holding a conversation hears its bus events, in bus order, and
              applies each through `apply` with a mark: the stored value records the id of
              the last event applied per subscription, so the first node to save an event
              wins and the others skip it (exactly once, in order, while any node holds it).
    secret    `cluster_secret`: one session secret for all nodes (unless configured).

What this module does not do: anything on a single node (the runtime's own paths run there,
unchanged), or HTTP. It is the runtime's other half and uses the runtime's internals.
"""

# pyright: reportPrivateUsage=false

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from nats.errors import Error as NatsError

from parlour.core import commands as cmd
from parlour.core import kernel
from parlour.core.codec import FormatError, decode, encode
from parlour.core.conversation import Conversation, Instance, Subscription
from parlour.core.errors import ParlourError
from parlour.core.fragments import Fragment
from parlour.runtime.cluster_bus import follow, join, mark_key
from parlour.runtime.cluster_outbox import Outbox
from parlour.runtime.cluster_secret import shared_secret
from parlour.runtime.cluster_streams import open_stream
from parlour.runtime.cluster_timers import ClusterTimers
from parlour.runtime.cluster_wire import (
    Stored,
    WireError,
    decode_fragments,
    decode_notice,
    encode_notice,
    pack,
    unpack,
)
from parlour.runtime.connection import Connection
from parlour.runtime.live import Live
from parlour.runtime.runtime import RestoreBusy, Runtime
from parlour.stores.nats_kv import NatsKvStore
from parlour.stores.protocol import Conflict

__all__ = ["GAP_WAIT", "MAX_ATTEMPTS", "Cluster", "Contended", "Unavailable"]

log = logging.getLogger("parlour.cluster")

MAX_ATTEMPTS = 16
"""Compare-and-set rounds an event may lose before the request is refused (503, retry)."""
GAP_WAIT = 1.0
"""Seconds a batch waits for one that another node saved before it but announced after."""

type Step = kernel.Step
type Batch = tuple[tuple[Fragment, ...], bool]


class Unavailable(RestoreBusy):
    """NATS did not answer (it restarts, or the network is down): the request was not
    applied, the client may retry (answered 503; streams retry by themselves)."""

    reason = "the conversation store (NATS) did not answer; retry shortly"


@contextlib.contextmanager
def _reachable(cid: str) -> Generator[None]:
    try:
        yield
    except (NatsError, TimeoutError, ConnectionError) as exc:
        log.warning("parlour: conversation %s: NATS did not answer (%r); answered 503", cid, exc)
        raise Unavailable(f"conversation {cid}: NATS did not answer ({exc!r})") from exc


class Contended(RestoreBusy):
    """An event lost the compare-and-set race `MAX_ATTEMPTS` times in a row (answered 503:
    the request was not applied, the client may retry)."""

    reason = "the conversation was changed by other nodes at the same moment; retry"


@dataclass(eq=False)
class _Track:
    """What a node knows of a conversation beyond its `Live`."""

    value_seq: int = 0
    """The batch number in the stored value `live.conv` came from."""
    pending: dict[int, Batch] = field(default_factory=dict[int, Batch])
    """Batches that arrived ahead of one still missing, by sequence number."""
    gap: asyncio.TimerHandle | None = None
    subs_rev: int = 0
    """The revision whose subscriptions this node's bus subscriptions follow."""
    marks: dict[str, int] = field(default_factory=dict[str, int])
    """The stored value's marks: the last bus event applied, per subscription."""
    heard: tuple[int, bytes] | None = None
    """The newest value a notice brought (revision, stored bytes), not yet taken up."""


class Cluster:
    """This node's part in the cluster; built by `Runtime.start` for a shared store."""

    def __init__(self, runtime: Runtime, store: NatsKvStore) -> None:
        self.rt = runtime
        self.store = store
        self.node = secrets.token_hex(4)
        self.outbox = Outbox(store.client, store.bucket, timeout=store.timeout)
        self.timers = ClusterTimers(
            store.client, store.bucket, fire=self._fire_timer, clock=runtime.clock
        )
        self.secret = ""
        self.conflicts = 0
        """Saves this node lost to another node (each retried on the newer value)."""
        self.gaps = 0
        """Times a stream of this node got a full render because a batch never came."""
        self._tracks: dict[str, _Track] = {}

    def __repr__(self) -> str:
        return f"Cluster(node={self.node!r}, store={self.store.describe()!r})"

    @classmethod
    async def start(cls, runtime: Runtime) -> Cluster:
        store = runtime.store
        if not isinstance(store, NatsKvStore):
            raise TypeError(
                f"a cluster node needs the NATS key-value store, got {store!r}; use "
                "--store nats://HOST:PORT[/BUCKET] (or NatsKvStore)"
            )
        await store.connect()
        cluster = cls(runtime, store)
        await cluster.outbox.ensure()
        await cluster.outbox.listen(cluster._heard)
        await cluster.timers.start()
        cluster.secret = await shared_secret(store.client, store.bucket, timeout=store.timeout)
        store.on_reconnect(cluster._reconnected)
        log.info("parlour: node %s of the cluster on %s", cluster.node, store.describe())
        return cluster

    async def close(self) -> None:
        for track in self._tracks.values():
            if track.gap is not None:
                track.gap.cancel()
        await self.timers.close()
        await self.outbox.close()

    # -- loading -----------------------------------------------------------------------------

    async def restore(self, cid: str) -> Live | None:
        """The conversation as stored now: a new `Live`, or the stale one brought up to date."""
        with _reachable(cid):
            return await self._restore(cid)

    async def _restore(self, cid: str) -> Live | None:
        live = self.rt.live.get(cid)
        if live is not None:
            return live if await self._reload(live) else None
        loaded = await self._load(cid)
        if loaded is None:
            return None
        conv, rev, value = loaded
        live = self.rt.live.get(cid)  # a notice or a mint may have made it meanwhile
        if live is not None:
            return live if await self._reload(live) else None
        live = Live(conv, epoch=value.epoch, seq=value.seq, revision=rev)
        self.rt.live[cid] = live
        self._tracks[cid] = _Track(value_seq=value.seq, subs_rev=rev, marks=value.marks)
        for sub in conv.subscriptions:
            join(self, cid, sub)
        return live

    async def _load(self, cid: str) -> tuple[Conversation, int, Stored] | None:
        try:
            entry = await self.store.load_revision(cid)
        except ValueError:
            return None  # not a cid the store could hold: unknown
        return None if entry is None else self._read(cid, *entry)

    def _read(self, cid: str, data: bytes, rev: int) -> tuple[Conversation, int, Stored] | None:
        try:
            value = unpack(data)
            conv = decode(value.conversation)
        except (WireError, FormatError, ParlourError) as exc:
            log.warning("parlour: cannot restore conversation %s: %s", cid, exc)
            return None
        return None if conv.ended else (conv, rev, value)

    async def _reload(self, live: Live, *, fresh: bool = False) -> bool:
        """Bring `live` up to the newest value: the one a notice brought, else the stored one
        (`fresh`: the store's, after a save found a newer one). False (and forgotten here)
        when the conversation is gone."""
        cid = live.conv.id
        track = self._track(cid)
        for _ in range(5):  # notices that arrive while it loads may make it stale again
            live.stale = False
            heard, track.heard = track.heard, None
            loaded = None
            if not fresh and heard is not None and heard[0] > live.revision:
                loaded = self._read(cid, heard[1], heard[0])
            if loaded is None:
                loaded = await self._load(cid)
            fresh = False
            if loaded is None:
                await self._drop(cid)
                return False
            conv, rev, value = loaded
            if rev > live.revision:
                live.conv, live.revision, live.epoch = conv, rev, value.epoch
                track.value_seq, track.marks = value.seq, value.marks
                if rev > track.subs_rev:
                    track.subs_rev = rev
                    follow(self, cid, set(conv.subscriptions))
            if not live.stale:
                return True
        return True

    async def instance(self, live: Live, iid: str) -> Instance | None:
        """Instance `iid` of the newest stored value: a click may name one that another node
        made a moment ago, before this node heard the notice (a stale copy must not turn an
        acknowledged click into a dropped one). None when it is not there either."""
        async with live.lock:
            with _reachable(live.conv.id):
                if not await self._reload(live, fresh=True):
                    return None
        return live.conv.instances.get(iid)

    async def _drop(self, cid: str) -> None:
        """Forget `cid` on this node only (it ended, or another node deleted it)."""
        track = self._tracks.pop(cid, None)
        if track is not None and track.gap is not None:
            track.gap.cancel()
        await self.rt._forget(cid, delete=False)

    def _track(self, cid: str) -> _Track:
        track = self._tracks.get(cid)
        if track is None:
            live = self.rt.live.get(cid)
            track = self._tracks[cid] = _Track(
                value_seq=live.seq if live else 0, subs_rev=live.revision if live else 0
            )
        return track

    # -- applying ----------------------------------------------------------------------------

    async def apply(
        self,
        live: Live,
        fn: Callable[[Conversation], Step],
        *,
        save: bool,
        urgent: bool,
        mark: tuple[str, int] | None = None,
    ) -> bool:
        """Run `fn` on the newest value and save it, under `live.lock` (the caller's).

        With `mark` (subscription, bus event id), an event some node already applied (the
        stored mark is as new) is skipped, and the save records the mark.
        """
        with _reachable(live.conv.id):
            return await self._apply(live, fn, save=save, urgent=urgent, mark=mark)

    async def _apply(
        self,
        live: Live,
        fn: Callable[[Conversation], Step],
        *,
        save: bool,
        urgent: bool,
        mark: tuple[str, int] | None,
    ) -> bool:
        cid = live.conv.id
        lost = False
        for attempt in range(MAX_ATTEMPTS):
            if live.stale and not await self._reload(live, fresh=lost):
                return False
            if self.rt.live.get(cid) is not live:
                return False
            if mark is not None and self._track(cid).marks.get(mark[0], 0) >= mark[1]:
                return True
            step = self.rt._run(live, fn)
            if not save:
                self._show(live, step, urgent=urgent)
                return True
            try:
                await self._save(live, step, urgent=urgent, mark=mark)
            except Conflict:
                self.conflicts += 1
                live.stale = True
                if attempt >= 2:  # three nodes on one conversation: let one through
                    await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                lost = not await self._winner_heard(live)
                continue
            return True
        raise Contended(
            f"conversation {cid} lost {MAX_ATTEMPTS} compare-and-set rounds in a row; the "
            "request was not applied (the client may retry)"
        )

    async def _winner_heard(self, live: Live) -> bool:
        """After a lost save: wait a moment for the winner's notice (it was published as soon
        as the winner saved, so it is usually arriving): True when a newer value came, which
        spares reading the store."""
        track = self._track(live.conv.id)
        for _ in range(5):  # about a millisecond at most
            if track.heard is not None and track.heard[0] > live.revision:
                return True
            await asyncio.sleep(0.0002)
        return False

    async def commit(self, live: Live, step: Step, *, save: bool, urgent: bool) -> None:
        """Save a step computed outside `apply` (a new conversation, a reload of its tab).

        Such a step cannot be recomputed: if another node saved first, it is dropped and the
        streams get the stored value instead.
        """
        if not save:
            self._show(live, step, urgent=urgent)
            return
        try:
            await self._save(live, step, urgent=urgent)
        except Conflict:
            self.conflicts += 1
            live.stale = True
            log.info("parlour: %s changed on another node; showing that", live.conv.id)
            if await self._reload(live, fresh=True):
                self._show(live, self.rt._run(live, kernel.render_top), urgent=True)

    async def _save(
        self, live: Live, step: Step, *, urgent: bool, mark: tuple[str, int] | None = None
    ) -> None:
        """Compare-and-set `step`'s conversation, then perform, announce and deliver it."""
        conv = step.conversation
        cid = conv.id
        if conv is live.conv and not step.fragments and not step.commands and not step.errors:
            # Nothing changed (a timer that was already gone, a click on something no longer
            # shown), unless only because this copy is behind: an event stale on it may not be
            # on the newest value, and an acknowledged event must not be dropped for that.
            entry = await self.store.load_revision(cid)
            if entry is not None and entry[1] > live.revision:
                raise Conflict(cid, expected=live.revision)
            return
        if conv.ended:
            await self._end(live, step, urgent=urgent)
            return
        for command in step.commands:
            if isinstance(command, cmd.ScheduleTimer):
                await self.timers.arm(cid, command.timer)  # before the save that holds it
        track = self._track(cid)
        seq = track.value_seq + (1 if step.fragments else 0)
        marks = track.marks
        if mark is not None or (marks and len(marks) > len(conv.subscriptions)):
            subs = {mark_key(s) for s in conv.subscriptions}
            marks = {k: v for k, v in marks.items() if k in subs}  # drop the unsubscribed
            if mark is not None:
                marks[mark[0]] = mark[1]
        try:
            data = pack(Stored(live.epoch, seq, marks, encode(conv)))
        except ParlourError as exc:
            log.error("parlour: cannot save conversation %s: %s", cid, exc)
            return
        rev = await self.store.save_revision(
            cid, data, touched=conv.touched, revision=live.revision
        )
        live.conv, live.revision, track.value_seq, track.marks = conv, rev, seq, marks
        track.subs_rev = max(track.subs_rev, rev)
        self.rt._log_errors(step)
        for command in step.commands:
            await self._perform(cid, command)
        notice = encode_notice(
            node=self.node,
            rev=rev,
            seq=seq,
            epoch=live.epoch,
            urgent=urgent,
            ended=False,
            subs=conv.subscriptions,
            fragments=step.fragments,
            value=data,
        )
        await self.outbox.publish(cid, notice)
        if step.fragments:
            self._deliver(live, seq, step.fragments, urgent=urgent)

    async def _end(self, live: Live, step: Step, *, urgent: bool) -> None:
        """The conversation ended: delete it (if nobody saved since), tell every node."""
        cid = step.conversation.id
        if live.revision:
            await self.store.delete_revision(cid, revision=live.revision)
        self.rt._log_errors(step)
        notice = encode_notice(
            node=self.node,
            rev=live.revision,
            seq=self._track(cid).value_seq,
            epoch=live.epoch,
            urgent=urgent,
            ended=True,
            subs=(),
            fragments=(),
            value=b"",
        )
        await self.outbox.publish(cid, notice)
        live.conv = step.conversation
        await self._drop(cid)
        for command in step.commands:
            await self._perform(cid, command)

    async def _perform(self, cid: str, command: cmd.Command) -> None:
        match command:
            case cmd.ScheduleTimer():
                pass  # armed before the save
            case cmd.CancelTimer(_, timer):
                await self.timers.disarm(cid, timer.id)
            case cmd.Subscribe(_, sub):
                join(self, cid, sub)
            case _:
                self.rt.commands.perform(command)

    async def _fire_timer(self, cid: str, timer_id: str) -> bool:
        now = self.rt.clock()
        return await self.rt.apply(cid, lambda conv: kernel.fire_timer(conv, timer_id, now))

    # -- delivering --------------------------------------------------------------------------

    def _show(self, live: Live, step: Step, *, urgent: bool) -> None:
        """Fragments that were not saved (a fresh render): to this node's streams only."""
        live.conv = step.conversation
        self.rt._log_errors(step)
        seq = self._track(live.conv.id).value_seq
        for connection in live.connections:
            connection.push(step.fragments, seq=max(connection.seq, seq), urgent=urgent)

    def _deliver(self, live: Live, seq: int, fragments: tuple[Fragment, ...], *, urgent: bool):
        """Hand batch `seq` to this node's streams, in sequence order (see `GAP_WAIT`)."""
        cid = live.conv.id
        track = self._track(cid)
        if not live.connections:
            live.seq = max(live.seq, seq)  # nobody here needs the batches in between
            track.pending = {n: b for n, b in track.pending.items() if n > live.seq}
            return
        if seq <= live.seq or seq in track.pending:
            return
        track.pending[seq] = (fragments, urgent)
        while live.seq + 1 in track.pending:
            live.seq += 1
            batch, hurry = track.pending.pop(live.seq)
            for connection in live.connections:
                if live.seq > connection.seq:
                    connection.push(batch, seq=live.seq, urgent=hurry)
        if track.pending and track.gap is None:
            track.gap = asyncio.get_running_loop().call_later(GAP_WAIT, self._gap, cid)
        elif not track.pending and track.gap is not None:
            track.gap.cancel()
            track.gap = None

    def _gap(self, cid: str) -> None:
        track = self._tracks.get(cid)
        if track is not None:
            track.gap = None
            self.rt.commands.spawn(self._recover(cid))

    async def _recover(self, cid: str, *, always: bool = False) -> None:
        """Fill a hole in `cid`'s batches from the outbox, else give its streams a full render."""
        live = self.rt.live.get(cid)
        track = self._tracks.get(cid)
        if live is None or track is None or not (track.pending or always):
            return
        async with live.lock:
            newest = live.seq
            for data in await self.outbox.since(cid):
                try:
                    notice = decode_notice(data)
                except WireError:
                    continue
                newest = max(newest, notice.seq)
                if notice.seq > live.seq and not notice.ended:
                    frags = decode_fragments(notice)
                    if frags:
                        self._deliver(live, notice.seq, frags, urgent=False)
            if not track.pending and live.seq >= newest:
                return
            self.gaps += 1
            live.stale = True
            if not await self._reload(live, fresh=True):
                return
            step = self.rt._run(live, kernel.render_top)
            self._show(live, step, urgent=True)
            live.seq = max(live.seq, track.value_seq)
            pending, track.pending = track.pending, {}
            for seq in sorted(n for n in pending if n > live.seq):
                self._deliver(live, seq, pending[seq][0], urgent=pending[seq][1])

    async def _heard(self, cid: str, data: bytes) -> None:
        """A notice from another node (or our own, ignored)."""
        live = self.rt.live.get(cid)
        if live is None:
            return
        try:
            notice = decode_notice(data)
        except WireError as exc:
            log.warning("parlour: a notice for %s that this node cannot read: %s", cid, exc)
            return
        if notice.node == self.node:
            return
        if notice.ended:
            await self._drop(cid)
            return
        track = self._track(cid)
        if notice.rev > live.revision:
            live.stale = True
            if track.heard is None or notice.rev > track.heard[0]:
                track.heard = (notice.rev, notice.value)
        if notice.rev > track.subs_rev:
            track.subs_rev = notice.rev
            follow(self, cid, {Subscription(*s) for s in notice.subs})
        if notice.seq > live.seq:
            frags = decode_fragments(notice) if live.connections else ()
            if frags or not live.connections:
                self._deliver(live, notice.seq, frags, urgent=notice.urgent)

    def _reconnected(self) -> None:
        """Notices may have been missed while NATS was away: distrust every copy, catch up;
        and follow the timers afresh."""
        self.rt.commands.spawn(self.timers.rewatch())
        for cid, live in list(self.rt.live.items()):
            live.stale = True
            if live.connections:
                self.rt.commands.spawn(self._recover(cid, always=True))

    # -- streams -----------------------------------------------------------------------------

    async def connect(self, cid: str, *, last_event_id: str | None) -> Connection | None:
        """Open a stream of `cid` on this node, resuming where `Last-Event-ID` says.

        Batches missed since `last_event_id` come from the outbox, whichever node served the
        stream before; when they cannot all be found, the stream starts with a full render,
        after `wakeup` (the conversation comes back after a gap). A stream without an id (a
        new page) just gets a full render.
        """
        with _reachable(cid):
            return await open_stream(self, cid, last_event_id=last_event_id)
