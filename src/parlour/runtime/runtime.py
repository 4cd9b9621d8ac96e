"""The runtime: live conversations and the side effects the kernel asks for.

The kernel is pure; this is where time passes. The runtime keeps the conversations that are
in use (loading the others from the store on demand), serialises all work on one
conversation behind one asyncio lock, saves every new conversation value before the event
that produced it is acknowledged, hands fragments to the conversation's open connections,
and performs commands: timers, bus subscriptions and publications, `io` work on threads, and
`dispatch_to` events.

    apply(cid, f):   lock -> step = f(conv) -> save -> perform commands -> push fragments

Different conversations proceed in parallel; one conversation's events are applied one at a
time, in arrival order. Nothing here knows about HTTP (see `parlour.web`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from parlour.bus.protocol import EventBus
from parlour.core import kernel
from parlour.core.codec import FormatError, decode, encode, encode_head, history_records
from parlour.core.component import Component
from parlour.core.context import Context, using
from parlour.core.conversation import Conversation
from parlour.core.errors import ParlourError
from parlour.core.fragments import ROOT_SELECTOR, Elements, Fragment
from parlour.core.visit import Visit
from parlour.runtime.admission import Admission, Refused
from parlour.runtime.commands import Commands
from parlour.runtime.connection import Connection
from parlour.runtime.failures import OnError, log_failures, shown
from parlour.runtime.fanout import FanOut
from parlour.runtime.live import Live, Outbox
from parlour.runtime.views import SharedViews
from parlour.stores.memory import MemoryStore
from parlour.stores.protocol import (
    Change,
    ConversationStore,
    PartStore,
    RecordStore,
    RevisionedStore,
)

if TYPE_CHECKING:
    from parlour.runtime.cluster import Cluster

__all__ = ["Live", "OnEnd", "RestoreBusy", "Runtime"]

log = logging.getLogger("parlour")


def new_cid() -> str:
    """A fresh conversation id: 16 URL-safe characters that never start with '-', so that it
    can be pasted after a command (`parlour inspect CID`) without being read as an option."""
    while (cid := secrets.token_urlsafe(12)).startswith("-"):
        pass
    return cid


type OnEnd = Callable[[str, Any], object]
"""Told `(cid, value)` when a conversation ends: the value its root frame answered (or that
`end(value)` gave, or a root `@flow` returned). May return an awaitable (it is awaited)."""


class RestoreBusy(Exception):
    """Too many conversations are being restored at once; the client should retry shortly.

    Subclasses name other reasons to answer 503; `reason` is what the client is told.
    """

    reason = "too many conversations are being restored; retry shortly"


class Runtime:
    """Live conversations, their locks and streams, and the commands the kernel returns."""

    def __init__(
        self,
        *,
        store: ConversationStore | None = None,
        bus: EventBus | None = None,
        history_limit: int = 50,
        clock: Callable[[], float] = time.time,
        queue_limit: int = 500,
        max_restores: int = 64,
        restore_slots: int = 8,
        restore_line: int = 16384,
        ttl: float = 24 * 3600.0,
        services: Iterable[object] = (),
        views: SharedViews | None = None,
        on_end: OnEnd | None = None,
        on_error: OnError | None = None,
    ) -> None:
        self.store: ConversationStore = store if store is not None else MemoryStore()
        self.store_is_default = store is None
        self._parts = isinstance(self.store, PartStore)  # saves what changed (`_save`)
        self._held = isinstance(self.store, RecordStore)  # holds the records (`_commit`)
        self.bus = bus
        self.history_limit = history_limit
        self.clock = clock
        self.queue_limit = queue_limit
        self.max_restores = max_restores
        self.restoring = 0
        # At most min(restore_slots, max_restores) restores run at once and `restore_line`
        # more wait in line (past it RestoreBusy, a 503 the client retries), a click's first
        # (runtime/admission.py): a reconnect storm cannot starve clicks. max_restores=0
        # refuses every restore.
        slots = max(0, min(restore_slots, max_restores))
        self.admission = Admission(slots=max(1, slots), limit=slots + restore_line if slots else 0)
        self.ttl = ttl
        self._reaper: asyncio.Task[None] | None = None
        self.live: dict[str, Live] = {}
        self._loading: dict[str, asyncio.Future[Live | None]] = {}
        self.commands = Commands(self)
        self.views = views if views is not None else SharedViews()
        self.views.sink = self.fan_out
        self.context = Context(services, self.views)
        # The conversations showing each shared view, in the order they began to (dicts, not
        # sets: a set's table grows fourfold below 50,000 items, 105 bytes per viewer at 5,000).
        self._viewers: dict[str, dict[Live, None]] = {}
        self.fanning = FanOut()
        """Shared-view updates on their way to the streams, a chunk per loop turn."""
        self.on_end = on_end
        self.on_error = on_error
        self.cluster: Cluster | None = None
        self.closed = False

    def __repr__(self) -> str:
        return (
            f"Runtime(live={len(self.live)}, connections={self.connection_count}, "
            f"timers={len(self.commands.timers)}, subscriptions={len(self.commands.subscriptions)})"
        )

    def use_store(self, store: ConversationStore) -> None:
        """Choose the store before serving (the CLI's --store); not once conversations exist."""
        if self.live:
            raise RuntimeError(
                f"use_store({store!r}): {len(self.live)} conversation(s) live in the current "
                "store already; choose the store before the app serves its first request"
            )
        self.store = store
        self.store_is_default = False
        self._parts = isinstance(store, PartStore)
        self._held = isinstance(store, RecordStore)

    def use_bus(self, bus: EventBus) -> EventBus | None:
        """Publish and subscribe on `bus` from now on; the bus used before (to close)."""
        old, self.bus = self.bus, bus
        return old

    async def start(self) -> None:
        """Before serving: with a store that nodes share, join the cluster (`cluster.py`)."""
        if self.cluster is None and isinstance(self.store, RevisionedStore):
            from parlour.runtime.cluster import Cluster  # NATS: loaded only for a shared store

            self.cluster = await Cluster.start(self)

    def provide(self, *services: object) -> None:
        """Add services (reached with `service(Type)`) to those the runtime was built with."""
        known = list(self.context.services.values())
        self.context = Context([*known, *services], self.views)

    # -- introspection (tests, status pages) ------------------------------------------------

    @property
    def connection_count(self) -> int:
        return sum(len(live.connections) for live in self.live.values())

    @property
    def timer_count(self) -> int:
        return len(self.commands.timers)

    @property
    def subscription_count(self) -> int:
        return len(self.commands.subscriptions)

    # -- conversations -----------------------------------------------------------------------

    async def mint(
        self,
        root: Component,
        *,
        owner: str | None,
        base: str,
        visit: Visit | None = None,
        principal: object = None,
    ) -> tuple[Live, kernel.Step]:
        """Start a conversation showing `root`, opened by `visit` for `principal`, owned by
        `owner` (the web layer's token for the session and principal); save it."""
        cid = new_cid()
        with using(self.context, principal=principal) as used:
            step = kernel.boot(
                root,
                cid=cid,
                base=base,
                owner=owner,
                now=self.clock(),
                history_limit=self.history_limit,
                visit=visit,
            )
            step = shown(step, self.on_error)
        live = Live(step.conversation, principal=principal)
        self.live[cid] = live
        self._watch(live, step, used)
        async with live.lock:
            await self._commit(live, step)
        return live, step

    def _run(self, live: Live, fn: Callable[[Conversation], kernel.Step]) -> kernel.Step:
        """One kernel call on `live`, in the app's context; notes which shared views it read."""
        with using(self.context, principal=live.principal) as used:
            step = shown(fn(live.conv), self.on_error)  # the app's error blocks, if any
        self._watch(live, step, used)
        return step

    def _watch(self, live: Live, step: kernel.Step, used: set[str]) -> None:
        if not used and not live.views:
            return  # no shared view read, none shown before: nothing to note (most clicks)
        full = any(isinstance(f, Elements) and f.key == ROOT_SELECTOR for f in step.fragments)
        shown = frozenset(used) if full else live.views | used
        if shown != live.views:
            self._set_views(live, shown)

    def _set_views(self, live: Live, shown: frozenset[str]) -> None:
        for name in live.views - shown:
            viewers = self._viewers.get(name)
            if viewers is not None:
                viewers.pop(live, None)
                if not viewers:
                    del self._viewers[name]
        for name in shown - live.views:
            self._viewers.setdefault(name, {})[live] = None
        live.views = shown

    def fan_out(self, name: str, fragments: tuple[Fragment, ...]) -> None:
        """Send an update of shared view `name` to every open stream whose page shows it.

        The same fragment objects go to every stream (rendered once); no conversation is
        locked, dispatched or saved, since no conversation's state changed. The views' own
        window has coalesced the update already, so streams send it without waiting theirs.
        Ten thousand streams are pushed a chunk per loop turn, so clicks get through
        (`parlour.runtime.fanout`).
        """
        viewers = self._viewers.get(name)
        if viewers:
            self.fanning.send([c for live in viewers for c in live.connections], fragments)

    def viewer_count(self, name: str) -> int:
        """How many live conversations show shared view `name`."""
        return len(self._viewers.get(name, ()))

    async def get(self, cid: str, *, urgent: bool = False) -> Live | None:
        """The live conversation `cid`, loading it from the store when needed; None if unknown.

        A restore waits for its turn (`admission`); an `urgent` one (a click waits for it)
        goes before the restores of streams.
        """
        live = self.live.get(cid)
        if live is not None and not live.stale:
            return live
        pending = self._loading.get(cid)
        if pending is not None:
            if urgent:
                self.admission.promote(cid)
            return await pending
        future: asyncio.Future[Live | None] = asyncio.get_running_loop().create_future()
        self._loading[cid] = future
        try:
            live = await self._load(cid, urgent=urgent)
            future.set_result(live)
            return live
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: when no one else waited, nothing to log at exit
            raise
        finally:
            del self._loading[cid]

    async def _load(self, cid: str, *, urgent: bool = False) -> Live | None:
        try:
            await self.admission.enter(urgent=urgent, key=cid)
        except Refused:
            raise RestoreBusy(
                f"{self.restoring} conversations are being restored; retry shortly"
            ) from None
        self.restoring += 1
        try:
            return await self._restore(cid)
        finally:
            self.restoring -= 1
            self.admission.leave()

    async def _restore(self, cid: str) -> Live | None:
        if self.cluster is not None:
            return await self.cluster.restore(cid)
        try:
            data = await self.store.load(cid)
        except ValueError:
            return None  # not a cid this store could hold: unknown
        if data is None:
            return None
        try:
            conv = decode(data)
        except (FormatError, ParlourError) as exc:
            log.warning("parlour: cannot restore conversation %s: %s", cid, exc)
            return None
        if conv.ended:
            return None
        live = Live(conv, restored=True)
        self.live[cid] = live
        self.commands.resume(cid, conv)
        return live

    async def apply(
        self,
        cid: str,
        fn: Callable[[Conversation], kernel.Step],
        *,
        save: bool = True,
        urgent: bool = False,
    ) -> bool:
        """Run one kernel step on `cid` under its lock; False when the conversation is unknown."""
        live = self.live.get(cid)
        if live is None or live.stale:
            live = await self.get(cid, urgent=urgent)
        if live is None:
            return False
        async with live.lock:
            if self.live.get(cid) is not live:
                return False  # ended while we waited
            if self.cluster is not None:
                return await self.cluster.apply(live, fn, save=save, urgent=urgent)
            await self._commit(live, self._run(live, fn), save=save, urgent=urgent)
        return True

    async def dispatch(self, cid: str, event: kernel.Event) -> bool:
        """Apply one event (stale events are harmless no-ops).

        `apply` written out for a conversation that is live in this process, the case of
        every click: the lock taken without a context manager's coroutine (the same order:
        wait, check it did not end meanwhile, step, commit, release). The kernel call still
        goes through `_run` (the inspector's step log wraps it and reads the event from it).
        """
        urgent = event.source == "browser"
        call: Callable[[Conversation], kernel.Step] = lambda conv: kernel.dispatch(conv, event)  # noqa: E731
        live = self.live.get(cid)
        if live is None or live.stale or self.cluster is not None:
            return await self.apply(cid, call, urgent=urgent)
        lock = live.lock
        await lock.acquire()
        try:
            if self.live.get(cid) is not live:
                return False  # ended while we waited
            await self._commit(live, self._run(live, call), urgent=urgent)
        finally:
            lock.release()
        return True

    async def back(self, cid: str, *, to: int | None = None) -> bool:
        now = self.clock()
        return await self.apply(cid, lambda conv: kernel.back(conv, to=to, now=now), urgent=True)

    async def end(self, cid: str) -> bool:
        """End a conversation: stop hooks run, streams close, it is forgotten."""
        now = self.clock()
        return await self.apply(cid, lambda conv: kernel.finish(conv, now))

    async def _commit(
        self, live: Live, step: kernel.Step, *, save: bool = True, urgent: bool = False
    ) -> None:
        if self.cluster is not None:
            await self.cluster.commit(live, step, save=save, urgent=urgent)
            return
        live.conv = conv = step.conversation
        if step.errors:
            self._log_errors(step)
        if conv.ended:
            await self._forget(conv.id)
        elif save:
            try:
                if self._held:  # in this process's memory: the head and the records as they are
                    await cast(RecordStore, self.store).save_records(
                        conv.id, encode_head(conv), history_records(conv), touched=conv.touched
                    )
                elif self._parts:
                    await self._save(live, conv)
                else:  # a store of whole conversations: `_save` written out (every click)
                    await self.store.save(conv.id, encode(conv), touched=conv.touched)
            except ParlourError as exc:
                log.error("parlour: cannot save conversation %s: %s", conv.id, exc)
        for command in step.commands:
            self.commands.perform(command)
        if step.fragments:
            live.seq += 1
            if live.streamed:
                if live.outbox is None:
                    live.outbox = Outbox()
                live.outbox.append(live.seq, step.fragments)
            for connection in live.connections:
                connection.push(step.fragments, seq=live.seq, urgent=urgent)

    async def _save(self, live: Live, conv: Conversation) -> None:
        """Save `conv` before its event is acknowledged: to a store in parts, what changed
        since the last save (the head and the new history record), else the whole of it
        (`_commit` saves to a `RecordStore` itself)."""
        if not self._parts:
            await self.store.save(conv.id, encode(conv), touched=conv.touched)
            return
        base, records = conv.history_base, history_records(conv)
        change = Change.of(
            encode_head(conv), touched=conv.touched, base=base, records=records, before=live.saved
        )
        live.saved = None  # not known until this save returns (a failed one writes all next)
        await cast(PartStore, self.store).save_change(conv.id, change)
        live.saved = (base, records)

    def _log_errors(self, step: kernel.Step) -> None:
        log_failures(step)  # once per failure: where its step is committed, or shown uncommitted

    async def _forget(self, cid: str, *, delete: bool = True) -> None:
        live = self.live.pop(cid, None)
        if live is not None:
            self._set_views(live, frozenset())
        self.commands.drop(cid)
        if live is not None:
            for connection in live.connections:
                connection.close()
        if delete:
            await self.store.delete(cid)

    # -- streams -----------------------------------------------------------------------------

    async def connect(self, cid: str, *, last_event_id: str | None = None) -> Connection | None:
        """Open a stream of `cid`.

        A stream that reconnects with the id of the last event it saw gets exactly the batches
        it missed, in order, from the outbox; any other stream starts with a full render of the
        top frame (after `wakeup`, if the conversation was just restored from the store).
        """
        if self.cluster is not None:
            return await self.cluster.connect(cid, last_event_id=last_event_id)
        live = await self.get(cid)
        if live is None:
            return None
        connection = Connection(cid, limit=self.queue_limit)
        if live.restored:
            # The other half of a restore (wakeup, a full render, a save) waits its turn too.
            try:
                await self.admission.enter(urgent=False, key=cid)
            except Refused:
                raise RestoreBusy(f"{self.restoring} conversations are being restored") from None
            try:
                return await self._open(live, connection, last_event_id)
            finally:
                self.admission.leave()
        return await self._open(live, connection, last_event_id)

    async def _open(
        self, live: Live, connection: Connection, last_event_id: str | None
    ) -> Connection:
        async with live.lock:
            live.connections.add(connection)
            live.streamed = True
            missed = None if live.restored else live.missed_since(last_event_id)
            if missed is not None:
                connection.epoch = live.epoch
                connection.seq = live.seq
                for seq, fragments in missed:
                    connection.push(fragments, seq=seq)
                connection.replayed = len(missed)
                # Shared-view updates are not in the outbox: send the views as they are now.
                views = tuple(self.views.fragment(n) for n in sorted(live.views) if n in self.views)
                if views:
                    connection.push(views)
            elif live.restored:
                # First stream since the restore: wakeup may change state; everyone sees it.
                connection.epoch = live.epoch
                live.restored = False
                await self._commit(
                    live, self._run(live, lambda conv: kernel.render_top(conv, wake=True))
                )
            else:
                # Only the new stream needs the full render; it shows the state as of `seq`.
                connection.epoch = live.epoch
                step = self._run(live, kernel.render_top)
                live.conv = step.conversation
                self._log_errors(step)
                connection.push(step.fragments, seq=live.seq, urgent=True)
        return connection

    async def reopen(self, live: Live) -> kernel.Step:
        """A full render of `live`'s top frame for a page that takes the conversation over
        (a reload of its tab): `wakeup` first if it was just restored from the store."""
        async with live.lock:
            if live.restored:
                live.restored = False
                step = self._run(live, lambda conv: kernel.render_top(conv, wake=True))
                await self._commit(live, step)
            else:
                step = self._run(live, kernel.render_top)
                live.conv = step.conversation
                self._log_errors(step)
        return step

    async def refresh(self, connection: Connection) -> None:
        """A stream fell behind (`stale`): queue one fresh full render instead of a backlog."""
        connection.stale = False
        await self.apply(connection.cid, lambda conv: kernel.render_top(conv), save=False)

    def disconnect(self, connection: Connection) -> None:
        live = self.live.get(connection.cid)
        if live is not None:
            live.connections.discard(connection)

    # -- the reaper --------------------------------------------------------------------------

    def start_reaper(self, interval: float = 60.0) -> None:
        """End conversations idle for longer than `ttl`, every `interval` seconds."""
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap_forever(interval))

    async def _reap_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                ended = await self.reap()
                if ended:
                    log.info("parlour: reaped %d idle conversation(s)", len(ended))
            except Exception:
                log.exception("parlour: the reaper failed; it will try again")

    async def reap(self, *, now: float | None = None) -> list[str]:
        """End every conversation idle since before `now - ttl` (stop hooks run); their ids."""
        cutoff = (self.clock() if now is None else now) - self.ttl
        idle = {cid for cid, live in self.live.items() if live.conv.touched < cutoff}
        idle.update(await self.store.idle_since(cutoff))
        ended: list[str] = []
        for cid in sorted(idle):
            live = self.live.get(cid)
            if live is not None and live.conv.touched >= cutoff:
                continue  # touched again while we looked
            try:
                if await self.end(cid):
                    ended.append(cid)
                else:
                    await self.store.delete(cid)  # unreadable or already ended: just forget it
            except RestoreBusy:
                break
        return ended

    async def close(self) -> None:
        """Stop timers, subscriptions and background work; close every stream."""
        if self.closed:
            return
        self.closed = True
        self.views.close()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(BaseException):
                await self._reaper
        await self.commands.close()
        for live in self.live.values():
            for connection in live.connections:
                connection.close()
        if self.cluster is not None:
            await self.cluster.close()
        await self.store.close()
