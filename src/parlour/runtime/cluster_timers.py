"""The cluster's timers: every pending `after`, armed on every node, fired by one.

    bucket  <bucket>-timers        key  <conversation key>.<timer id>
    value   {"cid", "timer", "due", "lease"}  (JSON; `lease`: claimed until, or 0)

A node that saves a conversation with a new timer puts its key *before* the save, so a timer
in a stored conversation always has a key (a save that then loses its race leaves a key for
a timer the conversation does not hold: it fires as a no-op). Every node watches the bucket
and keeps a local `call_later` per key. When one is due, the node *claims* it: a
compare-and-set of the key to `lease = now + lease` on the revision it saw. One node wins;
it applies `fire(cid, timer)` (through the runtime's compare-and-set loop, so even a second
firing changes nothing: the timer is gone from the conversation) and then deletes the key.
If that node dies after claiming, every node sees the lease and arms the key again for when
the lease ends: the timer fires late, but it fires. A cancelled timer's key is deleted.

What this module does not do: know the kernel. `fire` is the runtime's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import APIError, BucketNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from parlour.core.conversation import Timer
from parlour.stores.nats_kv import key_of

__all__ = ["ClusterTimers", "ensure_bucket"]

log = logging.getLogger("parlour.cluster")

type Fire = Callable[[str, str], Awaitable[bool]]
"""`fire(cid, timer_id)`: apply the timer; False when the conversation is gone."""


class _Due(msgspec.Struct, frozen=True):
    cid: str
    timer: str
    due: float
    lease: float = 0.0


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Due).decode


async def ensure_bucket(js: JetStreamContext, bucket: str) -> KeyValue:
    """The KV bucket `bucket` (history 1, file storage), created when missing."""
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        pass
    config = KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE, direct=True)
    try:
        return await js.create_key_value(config)  # pyright: ignore[reportUnknownMemberType]
    except APIError:
        return await js.key_value(bucket)  # another node created it meanwhile


class ClusterTimers:
    """The timers of every conversation of `bucket`; see the module docstring."""

    def __init__(
        self,
        client: Client,
        bucket: str,
        *,
        fire: Fire,
        clock: Callable[[], float] = time.time,
        lease: float = 5.0,
        timeout: float = 5.0,
    ) -> None:
        self._js = JetStreamContext(client, timeout=timeout)
        self.bucket = f"{bucket}-timers"
        self._fire = fire
        self._clock = clock
        self._lease = lease
        self._kv: KeyValue | None = None
        self._watch: asyncio.Task[None] | None = None
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.fired = 0
        """Timers this node claimed and applied."""

    @property
    def armed(self) -> int:
        """Keys this node has a local timer for (every pending timer of the cluster)."""
        return len(self._handles)

    async def start(self) -> None:
        self._kv = await ensure_bucket(self._js, self.bucket)
        await self.rewatch()

    async def rewatch(self) -> None:
        """Watch the bucket from its current content again: after NATS came back (the old
        watch's consumer may be gone with the server), every pending timer is armed anew."""
        old, self._watch = self._watch, None
        if old is not None:
            old.cancel()
            with contextlib.suppress(BaseException):
                await old
        watcher = await self._bucket().watchall()  # pyright: ignore[reportUnknownMemberType]
        self._watch = asyncio.ensure_future(self._follow(watcher))

    async def arm(self, cid: str, timer: Timer) -> None:
        """Put `timer`'s key (before the save that stores the timer)."""
        await self._bucket().put(_key(cid, timer.id), _encode(_Due(cid, timer.id, timer.due)))

    async def disarm(self, cid: str, timer_id: str) -> None:
        """Delete the key of a timer the conversation dropped (cancelled, or ended)."""
        with contextlib.suppress(APIError):
            await self._purge(_key(cid, timer_id))

    async def _purge(self, key: str, *, last: int | None = None) -> None:
        """Delete `key` with a marker that the server removes after an hour (no leftovers)."""
        headers = {"KV-Operation": "PURGE", "Nats-Rollup": "sub"}
        if last is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(last)
        self._bucket()
        await self._js.publish(f"$KV.{self.bucket}.{key}", b"", headers=headers, msg_ttl=3600)

    async def close(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        tasks = [t for t in (self._watch, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    # -- following the bucket ------------------------------------------------------------

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:
                    continue  # the end of what was stored when the watch began
                self._seen(entry)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()

    def _seen(self, entry: KeyValue.Entry) -> None:
        old = self._handles.pop(entry.key, None)
        if old is not None:
            old.cancel()
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            return
        try:
            due = _decode(entry.value)
        except msgspec.DecodeError as exc:
            log.warning("timers: skipping key %r that is not a timer (%s)", entry.key, exc)
            return
        when = max(due.due, due.lease)
        delay = max(0.0, when - self._clock())
        revision = entry.revision
        assert revision is not None
        self._handles[entry.key] = asyncio.get_running_loop().call_later(
            delay, self._spawn, entry.key, revision, due
        )

    def _spawn(self, key: str, revision: int, due: _Due) -> None:
        self._handles.pop(key, None)
        task = asyncio.ensure_future(self._claim(key, revision, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _claim(self, key: str, revision: int, due: _Due) -> None:
        """Claim the timer (compare-and-set); the winner fires it, then deletes the key."""
        kv = self._bucket()
        claim = msgspec.structs.replace(due, lease=self._clock() + self._lease)
        try:
            claimed = await kv.update(key, _encode(claim), last=revision)
        except KeyWrongLastSequenceError:
            return  # another node claimed it (or it was re-armed or cancelled)
        except Exception:
            log.exception("timers: cannot claim %s; its lease will be retried", key)
            return
        try:
            await self._fire(due.cid, due.timer)
            self.fired += 1
        except Exception:
            log.exception("timers: firing %s failed; it fires again when the lease ends", key)
            return
        with contextlib.suppress(Exception):
            await self._purge(key, last=claimed)

    def _bucket(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("ClusterTimers used before start()")
        return self._kv


def _key(cid: str, timer_id: str) -> str:
    return f"{key_of(cid)}.{timer_id}"
