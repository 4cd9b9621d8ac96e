"""The stream route, `GET BASE/sse/CID`: one tab's SSE stream, written until the tab goes.

    a full render (or exactly the batches missed, after a reconnect), then patches as they
    come, coalesced within `window`; a comment every `heartbeat` seconds while idle

A stream whose request accepts gzip is compressed (`App(compress=False)`, `--no-compress` or
`PARLOUR_COMPRESS=0` turn it off): every batch sync-flushed, a shared view's patch compressed
once for the streams that share a compressor state (`parlour.wire.compress`, decision 0012).

A stream for a conversation the server does not know answers 200 with one event that reloads
the page, so a tab never goes dead (Datastar ignores the body of non-200 answers). Another
session's stream is refused (403). With `App(authenticate=...)`, a stream whose request
authenticates as someone other than the conversation's principal (signed out, or in as
another) gets that reload too, when it opens and at every heartbeat after (or at once, after
`App.reauthenticate`): the tab shows the page for who it is now.

What this module does not do: decide what is sent (the runtime pushes batches into the
`Connection`) or how a fragment is spelled on the wire (`parlour.wire`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from parlour.core.fragments import Close, Elements, Fragment, History, Redirect, Script
from parlour.runtime import Connection, Runtime
from parlour.runtime.connection import Heartbeat
from parlour.runtime.live import Live
from parlour.runtime.views import is_shared
from parlour.web.identity import Ownership
from parlour.web.responses import EMPTY, plain
from parlour.web.security import Nonces
from parlour.web.session import Owners
from parlour.wire import SSE_HEADERS, comment, encode
from parlour.wire.compress import GzipStream, SharedDeflate, negotiate

__all__ = ["COMPRESS_ENV", "Streams", "compress_default"]

log = logging.getLogger("parlour")

_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in SSE_HEADERS.items()]
_SSE_START: Message = {"type": "http.response.start", "status": 200, "headers": _HEADERS}
_GZIP_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [*_HEADERS, (b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")],
}
_PING = comment("ping").encode()
_SHARED_CACHE = 4096
"""Shared patches whose SSE bytes are kept (the newest per view key)."""
_SCRIPTS = (Script, History, Redirect)
"""Fragments sent as a `<script>`: encoded per stream, with that page's nonce."""

COMPRESS_ENV = "PARLOUR_COMPRESS"
"""`PARLOUR_COMPRESS=0` (or false, no, off) turns stream compression off where the App does
not say (`App(compress=None)`, the default)."""


def compress_default() -> bool:
    """Compress streams unless `PARLOUR_COMPRESS` says 0, false, no or off."""
    value = os.environ.get(COMPRESS_ENV, "").strip().lower()
    return value not in ("0", "false", "no", "off")


class Streams:
    """Writes the SSE streams of the runtime's conversations.

    `window` may change while streams are open (the console's live setting): every batch reads
    it anew.
    """

    def __init__(
        self,
        runtime: Runtime,
        owners: Owners,
        *,
        heartbeat: float,
        window: float,
        ownership: Ownership | None = None,
        compress: bool | None = None,
    ) -> None:
        self.runtime = runtime
        self.owners = owners
        self.ownership = ownership if ownership is not None else Ownership(owners)
        self.heartbeat = heartbeat
        self.window = window
        self.compress = compress_default() if compress is None else compress
        """Compress the streams whose requests accept gzip (read when a stream opens)."""
        self.deflate = SharedDeflate()
        self._beats = Heartbeat(heartbeat / 2)
        self._shared_text: dict[str, tuple[Fragment, bytes]] = {}
        self.nonces = Nonces(lambda: owners.secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, cid: str) -> None:
        """The stream: a writer task takes batches and writes them, until the client goes or
        the page ends; meanwhile the request waits for the client's disconnect, so a closed
        tab gives back its connection at once, not at the next heartbeat.
        """
        live = await self.runtime.get(cid)
        nonce = self.nonces(cid)  # the page's scripts run only with it (parlour.web.security)
        if live is None:
            # Unknown (ended, reaped, or from a wiped store): reload into a fresh conversation.
            await _reload(scope, receive, send, nonce)
            return
        headers = Headers(scope=scope)
        refused = await self.ownership.admit(scope, cookie_parser(headers.get("cookie", "")), live)
        if refused is not None:
            if refused.reason == "principal":
                # Signed out, or in as someone else: the reload shows the page for who it is now.
                await _reload(scope, receive, send, nonce)
                return
            response = plain(403, "this conversation belongs to another session; reload the page")
            await response(scope, receive, send)
            return
        connection = await self.runtime.connect(cid, last_event_id=headers.get("last-event-id"))
        if connection is None:
            await _reload(scope, receive, send, nonce)
            return
        gzip = None
        if self.compress and negotiate(headers.get("accept-encoding")) is not None:
            gzip = GzipStream(self.deflate)
        # Spread reconnects after a restart: each stream tells its client a different delay.
        retry: int | None = random.randint(500, 2000)
        self._beats.add(connection)
        writer: asyncio.Task[None] | None = None
        try:
            await send(_SSE_START if gzip is None else _GZIP_START)
            # The writer is a task of its own and this request's coroutine waits for the
            # client to go: a batch then wakes one coroutine, not every ASGI layer around the
            # route (the middleware, the App: 2 us of a delivery's 20, measured).
            writer = asyncio.ensure_future(
                self._write(connection, send, retry, nonce, scope, live, gzip)
            )
            ends = _WriterEnds(asyncio.current_task())
            writer.add_done_callback(ends)
            try:
                while (await receive())["type"] != "http.disconnect":
                    pass  # (inline, not a helper coroutine: one frame less per idle stream)
            except asyncio.CancelledError:
                if not ends.ended or ends.task.uncancel() > 0:
                    raise  # a cancellation from elsewhere (a server shutting down) stands
            finally:
                ends.waiting = False
                writer.remove_done_callback(ends)
            if writer.done():
                writer.result()  # its error, if it failed, is this request's
        finally:
            connection.hang_up()  # the client left (or the page ended): the writer stops
            if writer is not None and not writer.done():
                writer.cancel()
            self._beats.discard(connection)
            if gzip is not None:
                gzip.close()
            self.runtime.disconnect(connection)

    async def _write(
        self,
        connection: Connection,
        send: Send,
        retry: int | None,
        nonce: str | None,
        scope: Scope,
        live: Live,
        gzip: GzipStream | None,
    ) -> None:
        """Wait for a batch (or a heartbeat), write it, again, until the client goes or the
        page ends.

        The wait is one future awaited here (no coroutine per batch: with ten thousand
        streams, what every waiting stream holds is what the collector scans during a
        fan-out), and between batches the stream keeps nothing of the last one.

        At every heartbeat (and when nudged) the request is authenticated again: a stream
        whose principal no longer owns the conversation gets a reload and ends.
        """
        while True:
            waiter = connection.waiter()
            if waiter is not None:
                await waiter
                waiter = None
            window = self.window
            if window > 0 and connection.holds(window):
                await connection.hold(window)
            batch = connection.collect()
            if connection.gone:
                return  # the client left: nothing more to write, not even the end
            if (
                batch is not None
                and len(batch) == 1
                and retry is None
                and not connection.nudged
                and not connection.stale
                and is_shared(batch[0])
            ):
                # A dashboard update, the common case: its bytes as every stream sends them.
                body = self._encode_shared(batch[0])
                if gzip is not None:
                    body = gzip.write_shared(body)
                batch = None
                await send({"type": "http.response.body", "body": body, "more_body": True})
                body = b""
                continue
            if (batch is None or connection.nudged) and await self._revoked(
                scope, live, connection
            ):
                body = encode(Script("window.location.reload()"), nonce=nonce).encode()
                if gzip is not None:
                    body = gzip.write((body,), (False,))
                await send({"type": "http.response.body", "body": body, "more_body": True})
                await send(EMPTY if gzip is None else _last(gzip.end()))
                return
            if batch is not None and connection.stale:
                await self.runtime.refresh(connection)
            body, done = self._body(batch, connection, retry, nonce, gzip)
            if body and batch is not None:
                retry = None  # sent on the first event only
            batch = None  # an idle stream keeps nothing of what it sent
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
                body = b""
            if connection.gone:
                return
            if done:
                await send(EMPTY if gzip is None else _last(gzip.end()))
                return

    def _body(
        self,
        batch: list[Fragment] | None,
        connection: Connection,
        retry: int | None,
        nonce: str | None,
        gzip: GzipStream | None,
    ) -> tuple[bytes, bool]:
        """The bytes of a batch (a heartbeat when None) and whether the stream ends after."""
        if batch is None:
            return (_PING if gzip is None else gzip.heartbeat(_PING)), False
        parts, shared, done = self.encode_parts(batch, connection.event_id, retry, nonce)
        if not parts:
            return b"", done
        if gzip is not None:
            return gzip.write(parts, shared), done
        return (parts[0] if len(parts) == 1 else b"".join(parts)), done

    async def _revoked(self, scope: Scope, live: Live, connection: Connection) -> bool:
        """Does the stream's request no longer authenticate as the conversation's principal?"""
        connection.nudged = False
        if self.ownership.authenticate is None:
            return False  # nothing can change: the session cookie of a request is fixed
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        return await self.ownership.admit(scope, cookies, live) is not None

    def encode_parts(
        self, batch: list[Fragment], event_id: str, retry: int | None, nonce: str | None = None
    ) -> tuple[list[bytes], list[bool], bool]:
        """A batch's events as `(parts, shared, done)`: `shared[i]` when part i is a shared
        view's patch, the same bytes object for every stream (compressed once, if at all)."""
        sendable = [f for f in batch if not isinstance(f, Close)]
        done = len(sendable) != len(batch)
        # The id goes on the conversation's own last patch: shared-view patches are not in the
        # conversation's outbox, and are encoded once for all streams (no id, no retry).
        last = max(
            (i for i, f in enumerate(sendable) if not is_shared(f)), default=len(sendable) - 1
        )
        parts: list[bytes] = []
        shared: list[bool] = []
        for index, fragment in enumerate(sendable):
            try:
                if (
                    is_shared(fragment)
                    and not (index == 0 and retry is not None)
                    and not isinstance(fragment, _SCRIPTS)
                ):
                    parts.append(self._encode_shared(fragment))
                    shared.append(True)
                    continue
                parts.append(
                    encode(
                        fragment,
                        event_id=event_id if index == last else None,
                        retry=retry if index == 0 else None,
                        nonce=nonce,
                    ).encode()
                )
                shared.append(False)
            except ValueError as exc:
                log.error("parlour: dropped a fragment that cannot be sent: %s", exc)
        return parts, shared, done

    def _encode_shared(self, fragment: Fragment) -> bytes:
        # One encode per shared patch, however many streams send it: the newest patch per
        # view key is kept (the same object reaches every stream; identity is the check).
        key = fragment.key if isinstance(fragment, Elements) else None
        cached = self._shared_text.get(key or "")
        if cached is not None and cached[0] is fragment:
            return cached[1]
        text = encode(fragment).encode()
        if key is not None:
            if len(self._shared_text) >= _SHARED_CACHE:
                self._shared_text.clear()
            self._shared_text[key] = (fragment, text)
        return text


class _WriterEnds:
    """The done-callback of a stream's writer: when the writer ends first (the page ended, a
    reload), it cancels the request's wait for the client; the request takes that
    cancellation back (`uncancel`), so one from elsewhere still stands. It does nothing once
    the wait is over."""

    __slots__ = ("ended", "task", "waiting")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        assert task is not None, "a stream is served inside a task"
        self.task = task
        self.waiting = True
        self.ended = False

    def __call__(self, writer: object) -> None:
        if self.waiting:
            self.ended = True
            self.task.cancel()


def _last(body: bytes) -> Message:
    return {"type": "http.response.body", "body": body, "more_body": False}


async def _reload(scope: Scope, receive: Receive, send: Send, nonce: str) -> None:
    reload = encode(Script("window.location.reload()"), nonce=nonce)
    await Response(reload, headers=dict(SSE_HEADERS))(scope, receive, send)
