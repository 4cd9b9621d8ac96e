"""The cluster's outbox: every conversation's batch notices, routed and kept on NATS.

    subject   parlour-conv.<bucket>.<key>       one per conversation (key: its KV key)
    stream    OUTBOX_<bucket>                   keeps the newest `length` notices per
                                                conversation, for up to `max_age` seconds,
                                                `max_bytes` in all (the oldest go first)

A node that saves a conversation publishes one notice on the conversation's subject (core
NATS, no round trip: `publish` returns once the message is queued). Every node listens on
`parlour-conv.<bucket>.>` (one subscription per node, whatever the number of conversations)
and hands the notices of conversations it holds to their streams. The stream captures the
same messages, so a stream that reconnects to any node with `Last-Event-ID` gets the batches
it missed from here (`since`): one batched direct get, no consumer left behind.

What this module does not do: read notices (`cluster_wire`) or keep order (`cluster`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from parlour.stores.nats_kv import key_of

__all__ = ["Outbox"]

log = logging.getLogger("parlour.cluster")

_API = "$JS.API"
_encode = msgspec.json.Encoder().encode


class Outbox:
    """Publish, hear and read back the batch notices of the conversations in `bucket`."""

    def __init__(
        self,
        client: Client,
        bucket: str,
        *,
        length: int = 64,
        max_age: float = 900.0,
        max_bytes: int = 1 << 30,
        timeout: float = 5.0,
    ) -> None:
        self._nc = client
        self._js = JetStreamContext(client, timeout=timeout)
        self.stream = f"OUTBOX_{bucket}"
        self.prefix = f"parlour-conv.{bucket}."
        self.length = length
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._timeout = timeout
        self._sub: NatsSubscription | None = None

    async def ensure(self) -> None:
        """Create the stream when missing (several nodes starting at once may all try)."""
        config = StreamConfig(
            name=self.stream,
            subjects=[self.prefix + ">"],
            max_msgs_per_subject=self.length,
            max_age=self.max_age,
            max_bytes=self.max_bytes,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            allow_direct=True,
        )
        try:
            await self._js.stream_info(self.stream)
            return
        except NotFoundError:
            pass
        try:
            await self._js.add_stream(config)  # pyright: ignore[reportUnknownMemberType]
        except APIError:
            await self._js.stream_info(self.stream)  # made by another node meanwhile

    def subject(self, cid: str) -> str:
        return self.prefix + key_of(cid)

    async def publish(self, cid: str, notice: bytes) -> None:
        await self._nc.publish(self.subject(cid), notice)

    async def listen(self, on_notice: Callable[[str, bytes], Awaitable[None]]) -> None:
        """Hear every notice of the bucket: `on_notice(cid, data)` (the node filters)."""
        prefix = self.prefix

        async def heard(msg: Msg) -> None:
            cid = msg.subject[len(prefix) :].replace("=", ".")
            await on_notice(cid, msg.data)

        # nats-py leaves `subscribe`'s unused `future` parameter untyped.
        self._sub = await self._nc.subscribe(prefix + ">", cb=heard)  # pyright: ignore[reportUnknownMemberType]

    async def close(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None and not self._nc.is_closed:
            await sub.unsubscribe()

    async def since(self, cid: str) -> list[bytes]:
        """The notices of `cid` the stream still keeps, oldest first (at most `length`)."""
        subject = self.subject(cid)
        inbox = self._nc.new_inbox()
        replies = await self._nc.subscribe(inbox)  # pyright: ignore[reportUnknownMemberType]
        request = _encode({"seq": 1, "batch": self.length, "next_by_subj": subject})
        found: list[bytes] = []
        try:
            await self._nc.publish(f"{_API}.DIRECT.GET.{self.stream}", request, reply=inbox)
            for _ in range(self.length + 1):
                try:
                    msg = await replies.next_msg(timeout=self._timeout)
                except NatsTimeoutError:
                    log.warning("outbox of %s: no answer within %ss", cid, self._timeout)
                    return found
                headers = msg.headers or {}
                status = headers.get("Status")
                if status in ("404", "204"):  # nothing (more) kept; end of batch
                    return found
                if status:
                    log.warning("outbox of %s answered %s", cid, status)
                    return found
                found.append(msg.data)
            return found
        finally:
            if not self._nc.is_closed:
                await replies.unsubscribe()
