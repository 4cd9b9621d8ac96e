"""`NatsBus`: the event bus on NATS, shared by every process connected to one server.

    bus = await NatsBus.connect("nats://127.0.0.1:4222", stream="PARLOUR")
    await bus.publish("agent.started", {"name": "a"})      # -> Event(id=<stream seq>, ...)
    sub = bus.subscribe("agent.*")                          # bounded, drops oldest
    await bus.history(after=0, pattern="agent.>")           # read back from JetStream

How it maps onto NATS (prefix `parlour`, the default `subjects_prefix`):

    topic agent.started  ->  stored on subject   parlour.agent.started
                             republished on      parlour-live.agent.started
    history              =   JetStream stream PARLOUR, subjects parlour.>, max_msgs bound
    Event.id             =   the stream sequence (monotonic across all processes)

* `publish` is a JetStream publish: it returns once the stream has stored the event,
  with the stream sequence as the event id.
* The stream **republishes** every stored message on `<prefix>-live.<topic>` with its
  sequence in a `Nats-Sequence` header (a JetStream stream feature). Each `NatsBus`
  holds one core NATS subscription on `<prefix>-live.>` and fans events out locally to
  its `Subscription`s, exactly like `InProcessBus` (bounded queues, oldest dropped, a
  slow consumer never blocks anyone). So live events carry their final id, arrive in id
  order, and `subscribe` is synchronous and effective at once. The trade-off: every
  process receives every event under its prefix; split busy deployments by prefix.
* `history` uses JetStream's batched *direct get* (one request answered by up to `limit`
  messages and an end-of-batch marker; NATS server 2.11 or newer), filtered on the
  server by the pattern's subject. It creates no consumer and leaves no state behind.
* The stream is created if missing. If it exists, it must have been created by parlour
  for the same prefix (same subjects, direct get, republish); a different `history_size`
  is tolerated and the existing bound wins.

Wire format of a stored message, so other languages can publish and read: subject
`<prefix>.<topic>`, body the JSON object `{"time": <unix seconds>, "source": "...",
"payload": <JSON>}`; every key is optional (a missing time falls back to the time the
stream stored the message). Messages under the prefix that do not decode are skipped and
counted in `rejected`.

What this module deliberately does not do: redeliver live events missed while the
connection was down (core NATS is at-most-once; a consumer that must not miss events
reads `history(after=last_id)` after a reconnect), manage JetStream domains or accounts,
or cluster-replicate the stream (`num_replicas` stays 1; configure the stream yourself
and it will be reused).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, final

import msgspec
from nats.aio.client import DEFAULT_MAX_RECONNECT_ATTEMPTS, Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import NoServersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RePublish, StorageType, StreamConfig, StreamInfo
from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

from parlour.bus.event import Event, normalise_payload
from parlour.bus.memory import DEFAULT_HISTORY_SIZE
from parlour.bus.patterns import split_topic, validate_topic
from parlour.bus.protocol import check_history_args
from parlour.bus.subscription import DEFAULT_MAXSIZE, Fanout, Subscription

__all__ = ["NatsBus"]

log = logging.getLogger("parlour.bus.nats")

_MIN_SERVER = (2, 11)  # batched direct get
_FIRST_CONNECT_ATTEMPTS = 1  # retries per server before the first connection gives up
_API = "$JS.API"
_STREAM_CONFLICT = 10058  # "stream name already in use with a different configuration"
_SUBJECTS_OVERLAP = 10065  # "subjects overlap with an existing stream"


class _Body(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON body of one stored message; topic and id come from NATS itself."""

    time: float | None = None
    source: str = ""
    payload: Any = None


_encode = msgspec.json.Encoder().encode
_decode_body = msgspec.json.Decoder(_Body).decode


@final
class NatsBus:
    """An `EventBus` on NATS core + JetStream; build it with `NatsBus.connect(url)`."""

    def __init__(
        self,
        client: Client,
        *,
        stream: str,
        subjects_prefix: str,
        request_timeout: float,
        owns_client: bool,
    ) -> None:
        """Low-level: prefer `connect` or `from_client`, which also set up the stream."""
        validate_topic(subjects_prefix)
        self._nc = client
        self._js = JetStreamContext(client, timeout=request_timeout)
        self._stream = stream
        self._prefix = subjects_prefix
        self._live_prefix = f"{subjects_prefix}-live"
        self._timeout = request_timeout
        self._owns_client = owns_client
        self._fanout = Fanout()
        self._live: NatsSubscription | None = None
        self._rejected = 0
        self._closed = False

    @classmethod
    async def connect(
        cls,
        url: str = "nats://127.0.0.1:4222",
        *,
        stream: str = "PARLOUR",
        subjects_prefix: str = "parlour",
        history_size: int = DEFAULT_HISTORY_SIZE,
        storage: Literal["file", "memory"] = "file",
        request_timeout: float = 5.0,
        name: str = "parlour-bus",
    ) -> NatsBus:
        """Connect to `url`, create or check the stream, start the live subscription.

        `url` may list several servers separated by commas. The bus owns the
        connection and closes it in `close()`.
        """
        client = Client()

        async def disconnected() -> None:
            if not client.is_closed:  # close() reports a disconnect too; that one is normal
                log.warning(
                    "disconnected from NATS; live events are not received until reconnected"
                )

        try:
            await client.connect(
                [server.strip() for server in url.split(",")],
                name=name,
                connect_timeout=max(1, round(request_timeout)),
                error_cb=_log_error,
                disconnected_cb=disconnected,
                reconnected_cb=_log_reconnected,
                # nats-py retries a first connection like a dropped one: 60 tries 2 s apart,
                # so a wrong URL took two minutes to fail. Try each server twice instead...
                max_reconnect_attempts=_FIRST_CONNECT_ATTEMPTS,
            )
        except NoServersError as exc:
            raise ConnectionError(
                f"NatsBus: no NATS server at {url} accepted a connection (each was tried "
                f"{_FIRST_CONNECT_ATTEMPTS + 1} times; the reasons are logged above). Is "
                "nats-server running there, with JetStream (`nats-server -js`)?"
            ) from exc
        # ...and once connected, reconnect after a drop as patiently as nats-py does.
        client.options["max_reconnect_attempts"] = DEFAULT_MAX_RECONNECT_ATTEMPTS
        try:
            return await cls._start(
                client,
                stream=stream,
                subjects_prefix=subjects_prefix,
                history_size=history_size,
                storage=storage,
                request_timeout=request_timeout,
                owns_client=True,
            )
        except BaseException:
            await client.close()
            raise

    @classmethod
    async def from_client(
        cls,
        client: Client,
        *,
        stream: str = "PARLOUR",
        subjects_prefix: str = "parlour",
        history_size: int = DEFAULT_HISTORY_SIZE,
        storage: Literal["file", "memory"] = "file",
        request_timeout: float = 5.0,
    ) -> NatsBus:
        """Like `connect`, on a connection you already have (e.g. shared with a store).

        `close()` then leaves the connection open: it is yours.
        """
        return await cls._start(
            client,
            stream=stream,
            subjects_prefix=subjects_prefix,
            history_size=history_size,
            storage=storage,
            request_timeout=request_timeout,
            owns_client=False,
        )

    @classmethod
    async def _start(
        cls,
        client: Client,
        *,
        stream: str,
        subjects_prefix: str,
        history_size: int,
        storage: Literal["file", "memory"],
        request_timeout: float,
        owns_client: bool,
    ) -> NatsBus:
        if history_size < 1:
            raise ValueError(
                f"NatsBus(history_size={history_size!r}): expected at least 1; it becomes "
                f"the stream's max_msgs (default {DEFAULT_HISTORY_SIZE})."
            )
        _check_server_version(client)
        bus = cls(
            client,
            stream=stream,
            subjects_prefix=subjects_prefix,
            request_timeout=request_timeout,
            owns_client=owns_client,
        )
        try:
            # nats-py leaves `subscribe`'s unused `future` parameter untyped.
            bus._live = await client.subscribe(  # pyright: ignore[reportUnknownMemberType]
                f"{bus._live_prefix}.>", cb=bus._on_live
            )
            # The stream requests below are queued behind the SUB on this connection, so
            # once they are answered the server has the subscription and every event
            # stored from then on reaches this process. (`client.flush()` would not do:
            # nats-py 2.16 writes its PING ahead of commands still queued, like our SUB.)
            await bus._ensure_stream(history_size, storage)
        except BaseException:
            await bus.close()
            raise
        return bus

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def subjects_prefix(self) -> str:
        return self._prefix

    @property
    def subscriber_count(self) -> int:
        return self._fanout.count

    @property
    def rejected(self) -> int:
        """Messages under the prefix that were not parlour events (skipped)."""
        return self._rejected

    @property
    def closed(self) -> bool:
        return self._closed

    async def publish(self, topic: str, payload: Any = None, *, source: str = "") -> Event:
        self._check_open("publish")
        split_topic(topic)
        payload = normalise_payload(topic, payload)
        now = time.time()
        data = _encode(_Body(time=now, source=source, payload=payload))
        # No `stream=` (an expected-stream header): `_check_stream` already proved the
        # subjects are ours, and a header would be stored and parsed with every event.
        ack = await self._js.publish(f"{self._prefix}.{topic}", data, timeout=self._timeout)
        return Event(id=ack.seq, topic=topic, time=now, source=source, payload=payload)

    def subscribe(self, pattern: str, *, maxsize: int = DEFAULT_MAXSIZE) -> Subscription:
        self._check_open("subscribe")
        return self._fanout.subscribe(pattern, maxsize=maxsize)

    async def history(
        self, *, after: int = 0, pattern: str = ">", limit: int = 1000
    ) -> list[Event]:
        self._check_open("history")
        parsed = check_history_args(after=after, pattern=pattern, limit=limit)
        subject = f"{self._prefix}.{parsed.text}"
        events: list[Event] = []
        start = after + 1
        # Each round returns at least one message or ends the loop, so `limit` rounds
        # bound it; normally the server answers everything in the first.
        for _ in range(max(limit, 1)):
            if len(events) >= limit:
                break
            batch, last_seq, more = await self._direct_get(start, limit - len(events), subject)
            events.extend(batch)
            if not more or last_seq < start:
                break
            start = last_seq + 1
        return events

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fanout.close()
        live, self._live = self._live, None
        if self._nc.is_closed:
            return
        if live is not None:
            await live.unsubscribe()
        if self._owns_client:
            await self._nc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (
            f"<NatsBus stream={self._stream!r} prefix={self._prefix!r} "
            f"subscribers={self.subscriber_count}{' closed' if self._closed else ''}>"
        )

    # -- internals -------------------------------------------------------------------

    def _check_open(self, operation: str) -> None:
        if self._closed:
            raise RuntimeError(
                f"NatsBus.{operation}() after close(): this bus is closed. "
                "Connect a new one with `await NatsBus.connect(url)`."
            )

    async def _ensure_stream(self, history_size: int, storage: Literal["file", "memory"]) -> None:
        wanted = StreamConfig(
            name=self._stream,
            subjects=[f"{self._prefix}.>"],
            max_msgs=history_size,
            discard=DiscardPolicy.OLD,
            storage=StorageType.MEMORY if storage == "memory" else StorageType.FILE,
            allow_direct=True,
            republish=RePublish(src=f"{self._prefix}.>", dest=f"{self._live_prefix}.>"),
        )
        try:
            info = await self._js.stream_info(self._stream)
        except NotFoundError:
            info = None
        except ServiceUnavailableError as exc:
            raise RuntimeError(
                "NatsBus needs JetStream, but the NATS server did not answer the JetStream "
                "API. Start the server with JetStream enabled (`nats-server -js`, or "
                "`jetstream {}` in its config), then connect again."
            ) from exc
        if info is None:
            try:
                # nats-py types `**params` loosely; we pass a full StreamConfig only.
                info = await self._js.add_stream(wanted)  # pyright: ignore[reportUnknownMemberType]
            except APIError as exc:
                if exc.err_code == _SUBJECTS_OVERLAP:
                    raise ValueError(
                        f"cannot create stream {self._stream!r} for subjects "
                        f"'{self._prefix}.>': another stream already captures them "
                        f"({exc.description}). Connect with that stream's name, or use a "
                        "different subjects_prefix."
                    ) from exc
                if exc.err_code != _STREAM_CONFLICT:
                    raise
                # Another process created it between our two requests: check theirs.
                info = await self._js.stream_info(self._stream)
        self._check_stream(info)

    def _check_stream(self, info: StreamInfo) -> None:
        config = info.config
        subjects = f"{self._prefix}.>"
        problems: list[str] = []
        if subjects not in (config.subjects or []):
            problems.append(f"subjects are {config.subjects!r}, expected [{subjects!r}]")
        if not config.allow_direct:
            problems.append("allow_direct is off (history reads use direct get)")
        republish = config.republish
        if republish is None or (republish.src, republish.dest) != (
            subjects,
            f"{self._live_prefix}.>",
        ):
            problems.append(
                f"republish is {republish!r}, expected src={subjects!r} "
                f"dest='{self._live_prefix}.>' (live delivery relies on it)"
            )
        if problems:
            raise ValueError(
                f"JetStream stream {self._stream!r} exists but was not made by parlour for "
                f"prefix {self._prefix!r}: {'; '.join(problems)}. Use another stream name, "
                f"or delete this stream (`nats stream rm {self._stream}`) so parlour can "
                "create it."
            )

    async def _on_live(self, msg: Msg) -> None:
        if not self._fanout.count:
            return  # nobody here listens: skip decoding
        topic = msg.subject[len(self._live_prefix) + 1 :]
        event = self._to_event(topic, msg)
        if event is not None:
            self._fanout.deliver(event)

    async def _direct_get(
        self, start: int, batch: int, subject: str
    ) -> tuple[list[Event], int, bool]:
        """One batched direct get: (events, last sequence seen, whether more may follow)."""
        inbox = self._nc.new_inbox()
        # nats-py leaves `subscribe`'s unused `future` parameter untyped.
        replies = await self._nc.subscribe(inbox)  # pyright: ignore[reportUnknownMemberType]
        request = _encode({"seq": start, "batch": batch, "next_by_subj": subject})
        events: list[Event] = []
        last_seq = 0
        try:
            await self._nc.publish(f"{_API}.DIRECT.GET.{self._stream}", request, reply=inbox)
            for _ in range(batch + 1):
                try:
                    msg = await replies.next_msg(timeout=self._timeout)
                except NatsTimeoutError as exc:
                    raise TimeoutError(
                        f"NatsBus.history: stream {self._stream!r} sent {len(events)} of up "
                        f"to {batch} events, then nothing for {self._timeout}s. Is the "
                        "server overloaded, or the stream being deleted?"
                    ) from exc
                headers = msg.headers or {}
                status = headers.get("Status")
                if status == "404":  # nothing (more) matches
                    return events, last_seq, False
                if status == "204":  # end of batch; pending counts what is left after it
                    return events, last_seq, int(headers.get("Nats-Num-Pending", "0")) > 0
                if status:
                    raise RuntimeError(
                        f"NatsBus.history: direct get on stream {self._stream!r} answered "
                        f"status {status} {headers.get('Description', '')!r}."
                    )
                last_seq = int(headers.get("Nats-Sequence", "0"))
                stored = headers.get("Nats-Subject", "")
                event = self._to_event(stored[len(self._prefix) + 1 :], msg)
                if event is not None:
                    events.append(event)
            return events, last_seq, True
        finally:
            if not self._nc.is_closed:
                await replies.unsubscribe()

    def _to_event(self, topic: str, msg: Msg) -> Event | None:
        headers = msg.headers or {}
        try:
            seq = int(headers["Nats-Sequence"])
            body = _decode_body(msg.data)
        except (KeyError, ValueError, msgspec.DecodeError) as exc:
            self._rejected += 1
            log.warning("skipping a message on %r that is not a parlour event: %s", topic, exc)
            return None
        stamp = body.time if body.time is not None else _stored_time(headers)
        return Event(id=seq, topic=topic, time=stamp, source=body.source, payload=body.payload)


def _check_server_version(client: Client) -> None:
    version = client.connected_server_version
    if (version.major, version.minor) < _MIN_SERVER:
        raise RuntimeError(
            f"NatsBus needs nats-server {_MIN_SERVER[0]}.{_MIN_SERVER[1]} or newer (for "
            f"batched direct get), but the server is {version!r}. Upgrade the server."
        )


def _stored_time(headers: dict[str, str]) -> float:
    stamp = headers.get("Nats-Time-Stamp")
    if stamp:
        try:
            return datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            pass
    return time.time()


async def _log_error(exc: Exception) -> None:
    log.error("NATS error: %s", exc, exc_info=exc)


async def _log_reconnected() -> None:
    log.warning("reconnected to NATS; read history(after=last_id) to fill any gap")
