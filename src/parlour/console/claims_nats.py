"""`NatsClaims`: the question claims of consoles that share one NATS bus, in a KV bucket.

    claims = await NatsClaims.open(client, bucket="PARLOUR-console-claims", stream="PARLOUR")
    await claims.take(close_key(qid), "answered", "yes", by="ada")   # None: ours

What it keeps (see `parlour.console.claims` for why): one key per claim, `close.HASH`,
`ask.HASH` or `key.HASH` (a hash of the question id or Idempotency-Key, which may hold any
printable text), whose value is the JSON

    {"state": "answered", "value": "yes", "by": "ada", "node": "host-1234-9f2c", "at": 1712.5}

`take` is a key-value *create* (stored only if the key has no value): of several consoles
claiming one key at once, exactly one succeeds, the others read the winner's claim. A
claim older than `lease` seconds (by the `at` of the node that wrote it: keep the nodes'
clocks within a few seconds of each other) is taken over with a compare-and-set on its
revision, so again one console wins. The bucket (history 1, file storage) is created when
missing; its values expire after `ttl` (10 minutes), long after any lease.

`head` asks the bus's stream for its last sequence: the newest event id in the cluster.

What it does not do: publish the events the claims announce (`parlour.console.asking`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from parlour.console.claims import LEASE, ClaimState, Held

__all__ = ["CLAIMS_TTL", "NatsClaims"]

log = logging.getLogger(__name__)

CLAIMS_TTL: Final = 600.0
"""Seconds a claim stays in the bucket (a claim matters for `LEASE` seconds at most)."""
_ROUNDS: Final = 5


class _Record(msgspec.Struct, frozen=True, kw_only=True):
    state: ClaimState
    value: Any = None
    by: str = ""
    node: str = ""
    at: float = 0.0


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Record).decode


def node_name() -> str:
    """This process among the consoles: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class NatsClaims:
    """`Claims` in a JetStream key-value bucket; build it with `NatsClaims.open`."""

    shared = True

    def __init__(
        self,
        kv: KeyValue,
        js: JetStreamContext,
        *,
        bucket: str,
        stream: str,
        lease: float = LEASE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Low level: prefer `open`, which creates the bucket."""
        self._kv = kv
        self._js = js
        self.bucket = bucket
        self.stream = stream
        self.lease = lease
        self.node = node_name()
        self._clock = clock
        self.taken_over = 0
        """Stale claims this console took over (their node never published)."""

    @classmethod
    async def open(
        cls,
        client: Client,
        *,
        bucket: str,
        stream: str,
        lease: float = LEASE,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
    ) -> NatsClaims:
        """The claims in `bucket` (created when missing) on `client`, and the head of the
        bus's `stream`."""
        js = JetStreamContext(client, timeout=timeout)
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            config = KeyValueConfig(
                bucket=bucket, history=1, ttl=CLAIMS_TTL, storage=StorageType.FILE, direct=True
            )
            try:
                kv = await js.create_key_value(config)  # pyright: ignore[reportUnknownMemberType]
            except APIError:
                kv = await js.key_value(bucket)  # another console created it meanwhile
        return cls(kv, js, bucket=bucket, stream=stream, lease=lease, clock=clock)

    def __repr__(self) -> str:
        return f"NatsClaims(bucket={self.bucket!r}, node={self.node!r})"

    async def take(
        self, key: str, state: ClaimState, value: Any = None, *, by: str = ""
    ) -> Held | None:
        mine = _encode(_Record(state=state, value=value, by=by, node=self.node, at=self._clock()))
        kv = self._kv
        for _ in range(_ROUNDS):  # each round: ours, or a live claim read; else a race lost
            try:
                await kv.create(key, mine)
            except KeyWrongLastSequenceError:
                pass
            else:
                return None
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue  # dropped meanwhile: create it again
            record = _read(entry.value)
            if record is not None and record.at + self.lease > self._clock():
                return (record.state, record.value)
            try:  # stale: its node never published; one console takes it over
                await kv.update(key, mine, last=entry.revision)
            except KeyWrongLastSequenceError:
                continue  # another console took it over first: read theirs
            self.taken_over += 1
            log.warning(
                "parlour console: took over the stale claim %s of %s",
                key,
                record.node if record is not None else "an unreadable value",
            )
            return None
        raise RuntimeError(
            f"NatsClaims.take({key!r}): the claim changed hands {_ROUNDS} times while this "
            f"console tried to read it (bucket {self.bucket!r}); retry the request"
        )

    async def drop(self, key: str) -> None:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return
        record = _read(entry.value)
        if record is None or record.node != self.node:
            return  # not ours (any more): leave it
        with contextlib.suppress(KeyWrongLastSequenceError):  # taken over meanwhile
            await self._kv.delete(key, last=entry.revision)

    async def head(self) -> int:
        info = await self._js.stream_info(self.stream)
        return int(info.state.last_seq)

    async def close(self) -> None:
        return None  # the connection is the cluster's (`parlour.console.cluster`)


def _read(raw: bytes | None) -> _Record | None:
    try:
        return _decode(raw or b"")
    except msgspec.DecodeError:
        return None
