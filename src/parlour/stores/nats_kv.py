"""`NatsKvStore`: conversations in a NATS JetStream key-value bucket, shared by every node.

    store = NatsKvStore("nats://127.0.0.1:4222", bucket="parlour-conversations")
    rev = await store.save_revision(cid, data, touched=now, revision=0)      # create
    rev = await store.save_revision(cid, data2, touched=now, revision=rev)   # compare-and-set
    data, rev = await store.load_revision(cid)

The `--store nats://HOST:PORT[/BUCKET]` of `parlour run`. Several processes (on several
machines) share one bucket, so any of them can serve any request (`parlour.runtime.cluster`).
What it keeps, per conversation:

    key       the cid, with "." written "=" (a KV key's dots would split it into tokens)
    value     the opaque conversation bytes
    headers   Parlour-Touched (unix seconds, repr of a float), Parlour-Format (store format)
    revision  the stream sequence of the value: grows with every save of any key

Every `save_revision` is one JetStream publish carrying `Nats-Expected-Last-Subject-Sequence`:
the server stores it only if the key is still at the revision the writer loaded, so two nodes
that raced never overwrite each other (the loser gets `Conflict`). `save` (the plain
`ConversationStore` method) writes unconditionally. Deletion writes a purge marker that the
server removes after `tombstone_ttl` (so ended conversations do not leave keys behind), and
that a late writer still trips over meanwhile.

The bucket (`KV_<bucket>` stream, history 1, direct get on) is created when missing. Reads
are direct gets (one request, any replica answers); `idle_since` and `count` read every key's
headers (not values) through a short-lived consumer: they scan the bucket, which the reaper
does once a minute.

Connecting is lazy: `open_store` builds the store before the event loop runs; the first
operation (or `connect()`, which the runtime calls at start) connects. nats-py is needed
(`pip install 'parlour[nats]'`), and nats-server 2.11 or newer (per-message TTL).

What it does not do: replicate the bucket (`replicas=1`; create the bucket yourself with more
replicas and it is reused), or encrypt values (conversations hold user data: secure NATS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, Callable
from typing import Literal

from nats.aio.client import DEFAULT_MAX_RECONNECT_ATTEMPTS, Client
from nats.aio.msg import Msg
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import APIError, BucketNotFoundError, ServiceUnavailableError

from .protocol import (
    STORE_FORMAT_VERSION,
    Conflict,
    StoreFormatError,
    check_cid,
    check_touched,
)

__all__ = ["DEFAULT_BUCKET", "DEFAULT_URL", "NatsKvStore", "connect_client"]

log = logging.getLogger("parlour.stores.nats")

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_BUCKET = "parlour-conversations"
BUCKET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,200}")

_TOUCHED = "Parlour-Touched"
_FORMAT = "Parlour-Format"
_EXPECTED = "Nats-Expected-Last-Subject-Sequence"
_KV_OP = "KV-Operation"
_WRONG_LAST = (10071, 10164)  # the stored sequence of the subject is not the one expected
_SCAN_BATCH = 1000
_MIN_SERVER = (2, 11)  # per-message TTL on purge markers


async def connect_client(
    url: str, *, name: str, timeout: float, reconnected: Callable[[], None] | None = None
) -> Client:
    """A NATS connection to `url` (servers separated by commas) that fails fast at first.

    nats-py retries a first connection like a dropped one (two minutes for a wrong URL);
    this tries each server twice, then reconnects after a drop as patiently as nats-py does.
    """
    client = Client()

    async def error(exc: Exception) -> None:
        log.error("NATS error (%s): %s", name, exc)

    async def disconnected() -> None:
        if not client.is_closed:
            log.warning("%s: disconnected from NATS; retrying", name)

    async def on_reconnected() -> None:
        log.warning("%s: reconnected to NATS", name)
        if reconnected is not None:
            reconnected()

    try:
        await client.connect(
            [server.strip() for server in url.split(",")],
            name=name,
            connect_timeout=max(1, round(timeout)),
            error_cb=error,
            disconnected_cb=disconnected,
            reconnected_cb=on_reconnected,
            max_reconnect_attempts=1,
        )
    except NoServersError as exc:
        raise ConnectionError(
            f"{name}: no NATS server at {url} accepted a connection. Is nats-server running "
            "there, with JetStream (`nats-server -js`)?"
        ) from exc
    client.options["max_reconnect_attempts"] = DEFAULT_MAX_RECONNECT_ATTEMPTS
    version = client.connected_server_version
    if (version.major, version.minor) < _MIN_SERVER:
        await client.close()
        raise RuntimeError(
            f"{name} needs nats-server {_MIN_SERVER[0]}.{_MIN_SERVER[1]} or newer, but the "
            f"server at {url} is {version!r}. Upgrade the server."
        )
    return client


def key_of(cid: str) -> str:
    """The KV key of a cid: dots become "=" (a cid never holds "="), so a key is one token."""
    return check_cid(cid).replace(".", "=")


class NatsKvStore:
    """A `RevisionedStore` in a JetStream key-value bucket; see the module docstring."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        bucket: str = DEFAULT_BUCKET,
        request_timeout: float = 5.0,
        storage: Literal["file", "memory"] = "file",
        tombstone_ttl: float = 3600.0,
        client: Client | None = None,
    ) -> None:
        """Remember where the bucket is; nothing connects until `connect()` or first use.

        With `client`, the store uses that connection (and leaves it open at `close`).
        """
        if BUCKET_PATTERN.fullmatch(bucket) is None:
            raise ValueError(
                f"NatsKvStore: bucket {bucket!r} is not a valid bucket name; expected 1-200 "
                f"characters from A-Z a-z 0-9 '_' '-' (e.g. {DEFAULT_BUCKET!r})"
            )
        self.url = url
        self.bucket = bucket
        self.stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._get_prefix = f"$JS.API.DIRECT.GET.{self.stream}.{self._prefix}"
        self._timeout = request_timeout
        self._storage = StorageType.MEMORY if storage == "memory" else StorageType.FILE
        self._tombstone_ttl = tombstone_ttl
        self._nc: Client | None = client
        self._owns_client = client is None
        self._js: JetStreamContext | None = None
        self._connecting: asyncio.Lock | None = None
        self._closed = False
        self._busy = 0
        self._idle: asyncio.Event | None = None
        self._reconnected: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"NatsKvStore({self.url!r}, bucket={self.bucket!r})"

    def describe(self) -> str:
        return f"{self.url}/{self.bucket}"

    @property
    def client(self) -> Client:
        """The NATS connection (after `connect()`), for the cluster to share."""
        if self._nc is None or self._js is None:
            raise RuntimeError(f"{self!r}.client before connect(): await store.connect() first")
        return self._nc

    @property
    def timeout(self) -> float:
        return self._timeout

    def on_reconnect(self, hook: Callable[[], None]) -> None:
        """Call `hook()` whenever the connection comes back after a drop (messages sent on
        core NATS meanwhile were lost: a cluster node catches up)."""
        self._reconnected.append(hook)

    async def connect(self) -> None:
        """Connect and create the bucket if missing (idempotent; operations call it too)."""
        self._check_open()
        if self._js is not None:
            return
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._js is not None:
                return
            if self._nc is None:
                self._nc = await connect_client(
                    self.url,
                    name=f"parlour-store {self.bucket}",
                    timeout=self._timeout,
                    reconnected=self._tell_reconnected,
                )
            js = JetStreamContext(self._nc, timeout=self._timeout)
            try:
                await self._ensure_bucket(js)
            except BaseException:
                if self._owns_client:
                    await self._nc.close()
                    self._nc = None
                raise
            self._js = js

    async def _ensure_bucket(self, js: JetStreamContext) -> None:
        try:
            try:
                await js.key_value(self.bucket)
                return
            except BucketNotFoundError:
                pass
            config = KeyValueConfig(
                bucket=self.bucket, history=1, storage=self._storage, direct=True
            )
            try:
                await js.create_key_value(config)  # pyright: ignore[reportUnknownMemberType]
            except APIError:
                await js.key_value(self.bucket)  # another node created it meanwhile
        except ServiceUnavailableError as exc:
            raise RuntimeError(
                f"{self!r} needs JetStream, but the NATS server did not answer the JetStream "
                "API. Start it with JetStream enabled (`nats-server -js`)."
            ) from exc

    # -- the ConversationStore contract ------------------------------------------------

    async def save(self, cid: str, data: bytes, *, touched: float) -> None:
        await self._publish(cid, data, touched=touched, expected=None)

    async def load(self, cid: str) -> bytes | None:
        entry = await self.load_revision(cid)
        return None if entry is None else entry[0]

    async def delete(self, cid: str) -> None:
        await self._purge(cid, expected=None)

    async def delete_revision(self, cid: str, *, revision: int) -> None:
        await self._purge(cid, expected=revision)

    async def _purge(self, cid: str, *, expected: int | None) -> None:
        key = key_of(cid)
        headers = {_KV_OP: "PURGE", "Nats-Rollup": "sub"}
        if expected is not None:
            headers[_EXPECTED] = str(expected)
        async with self._operation() as js:
            try:
                await js.publish(
                    self._prefix + key, b"", headers=headers, msg_ttl=self._tombstone_ttl
                )
            except APIError as exc:
                if exc.err_code in _WRONG_LAST and expected is not None:
                    raise Conflict(cid, expected=expected) from None
                raise

    async def idle_since(self, before: float) -> list[str]:
        idle = [(touched, cid) for cid, touched in await self._scan() if touched < before]
        return [cid for _, cid in sorted(idle)]

    async def count(self) -> int:
        return len(await self._scan())

    async def close(self) -> None:
        """Refuse new operations, wait for those under way; close a connection it opened."""
        if self._closed:
            return
        self._closed = True
        if self._busy:
            self._idle = asyncio.Event()
            await self._idle.wait()
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and self._owns_client and not nc.is_closed:
            await nc.close()

    # -- revisions ------------------------------------------------------------------------

    async def load_revision(self, cid: str) -> tuple[bytes, int] | None:
        msg = await self._get(cid)
        headers = msg.headers or {}
        status = headers.get("Status")
        if status == "404":
            return None
        if status:
            raise RuntimeError(
                f"{self!r}: reading {cid!r} answered {status} {headers.get('Description', '')}"
            )
        if headers.get(_KV_OP) in ("DEL", "PURGE"):
            return None
        found = headers.get(_FORMAT)
        if found != str(STORE_FORMAT_VERSION):
            raise StoreFormatError(
                f"conversation {cid!r} in {self.describe()}", found=_version(found)
            )
        return msg.data, int(headers["Nats-Sequence"])

    async def save_revision(self, cid: str, data: bytes, *, touched: float, revision: int) -> int:
        try:
            return await self._publish(cid, data, touched=touched, expected=revision)
        except Conflict:
            if revision != 0:
                raise
        # Creating: the key may hold a purge marker (deleted earlier); that counts as absent.
        marker = await self._marker_revision(cid)
        if marker is None:
            raise Conflict(cid, expected=revision)
        return await self._publish(cid, data, touched=touched, expected=marker)

    async def _marker_revision(self, cid: str) -> int | None:
        """The revision of `cid`'s purge marker, or None when it holds a value (or nothing)."""
        msg = await self._get(cid)
        headers = msg.headers or {}
        if headers.get("Status") or headers.get(_KV_OP) not in ("DEL", "PURGE"):
            return None
        return int(headers["Nats-Sequence"])

    # -- helpers ---------------------------------------------------------------------------

    def _tell_reconnected(self) -> None:
        for hook in self._reconnected:
            try:
                hook()
            except Exception:
                log.exception("%r: a reconnect hook failed", self)

    async def _get(self, cid: str) -> Msg:
        """The direct-get answer for `cid`'s key: its last message, or a 404 status."""
        key = key_of(cid)
        async with self._operation():
            try:
                return await self.client.request(self._get_prefix + key, b"", timeout=self._timeout)
            except NatsTimeoutError as exc:
                raise TimeoutError(
                    f"{self!r}: no answer for conversation {cid!r} within {self._timeout}s; "
                    "is the NATS server overloaded or gone?"
                ) from exc

    async def _publish(self, cid: str, data: bytes, *, touched: float, expected: int | None) -> int:
        key = key_of(cid)
        headers = {_TOUCHED: repr(check_touched(touched)), _FORMAT: str(STORE_FORMAT_VERSION)}
        if expected is not None:
            headers[_EXPECTED] = str(expected)
        async with self._operation() as js:
            limit = self.client.max_payload
            if len(data) + 256 > limit:
                raise ValueError(
                    f"{self!r}: conversation {cid!r} is {len(data)} bytes, over the NATS "
                    f"server's max_payload ({limit} bytes). Fix: raise max_payload in the "
                    "nats-server configuration (e.g. `max_payload: 8MB`), or keep less state."
                )
            try:
                ack = await js.publish(self._prefix + key, data, headers=headers)
            except APIError as exc:
                if exc.err_code in _WRONG_LAST and expected is not None:
                    raise Conflict(cid, expected=expected) from None
                raise
        return ack.seq

    async def _scan(self) -> list[tuple[str, float]]:
        """`(cid, touched)` of every stored conversation, read from headers only."""
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            ack_policy=AckPolicy.NONE,
            headers_only=True,
            inactive_threshold=30.0,
            mem_storage=True,
        )
        found: list[tuple[str, float]] = []
        async with self._operation() as js:
            sub = await js.pull_subscribe(self._prefix + ">", stream=self.stream, config=config)
            try:
                info = await sub.consumer_info()
                remaining = info.num_pending or 0
                while remaining > 0:
                    msgs = await sub.fetch(min(remaining, _SCAN_BATCH), timeout=self._timeout)
                    for msg in msgs:
                        remaining = msg.metadata.num_pending
                        entry = self._scanned(msg)
                        if entry is not None:
                            found.append(entry)
            finally:
                await sub.unsubscribe()
        return found

    def _scanned(self, msg: Msg) -> tuple[str, float] | None:
        headers = msg.headers or {}
        if headers.get(_KV_OP) in ("DEL", "PURGE"):
            return None
        try:
            touched = float(headers[_TOUCHED])
        except (KeyError, ValueError):
            log.warning("%r: skipping key %r without a valid %s", self, msg.subject, _TOUCHED)
            return None
        return msg.subject[len(self._prefix) :].replace("=", "."), touched

    @contextlib.asynccontextmanager
    async def _operation(self) -> AsyncGenerator[JetStreamContext]:
        """One operation: refused once closed; `close` waits for those under way."""
        self._check_open()
        self._busy += 1
        try:
            if self._js is None:
                await self.connect()
            assert self._js is not None
            yield self._js
        finally:
            self._busy -= 1
            if not self._busy and self._idle is not None:
                self._idle.set()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                f"{self!r} is closed; open a new store instead of reusing a closed one"
            )


def _version(found: str | None) -> int | str:
    if found is None:
        return "none (not written by parlour)"
    return int(found) if found.isdigit() else found
