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
`Connection`), write the batches (`parlour.web.stream_writer`, no task of its own) or spell a
fragment on the wire (`parlour.wire`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from parlour.core.fragments import Close, Elements, Fragment, Script
from parlour.runtime import Connection, RestoreBusy, Runtime
from parlour.runtime.connection import Heartbeat
from parlour.runtime.live import Live
from parlour.runtime.views import SHARED_KEY_PREFIX
from parlour.web.identity import Ownership
from parlour.web.responses import busy, plain
from parlour.web.security import Guard, Nonces
from parlour.web.session import Owners
from parlour.web.stream_writer import Writer
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
        self._guard: Guard | None = None
        self._starts = (_SSE_START, _GZIP_START)

    @property
    def guard(self) -> Guard | None:
        """The app's guard (`parlour.web.security`), when the stream route is served beside it
        rather than through it (as the event route is): the stream then checks the `Host`
        itself (a refused one is handed to the guard, which answers as on every route), sends
        a start message secured once, and secures its refusals' answers. Through the guard,
        as without one, none of that is needed; doing it again there changes nothing."""
        return self._guard

    @guard.setter
    def guard(self, guard: Guard | None) -> None:
        self._guard = guard
        if guard is None:
            self._starts = (_SSE_START, _GZIP_START)
        else:
            self._starts = (guard.secured(_SSE_START), guard.secured(_GZIP_START))

    async def __call__(self, scope: Scope, receive: Receive, send: Send, cid: str) -> None:
        """The stream: batches written as the runtime pushes them, until the client goes or
        the page ends; meanwhile the request waits for the client's disconnect, so a closed
        tab gives back its connection at once, not at the next heartbeat.

        What an idle stream keeps is this coroutine's frame (and those of whatever awaits it),
        its connection and its writer's fields: the stream is opened by a coroutine of its own
        (`_open`) that is gone before the wait, with its headers and locals.
        """
        writer = await self._open(scope, receive, send, cid)
        if writer is None:
            return  # answered otherwise (a refusal, a reload, a 503)
        try:
            try:
                while (await receive())["type"] != "http.disconnect":
                    pass  # (inline, not a helper coroutine: one frame less per idle stream)
            except asyncio.CancelledError:
                if not writer.ended or writer.request.uncancel() > 0:
                    raise  # a cancellation from elsewhere (a server shutting down) stands
            finally:
                writer.waiting = False
            if writer.error is not None:
                raise writer.error  # the writer's error is this request's
        finally:
            self._close(writer.connection, writer, writer.gzip)

    async def _open(self, scope: Scope, receive: Receive, send: Send, cid: str) -> Writer | None:
        """Check the request, open the conversation's stream, send the response's start and
        start its writer; None when the request was answered otherwise."""
        head = _StreamHeaders(scope["headers"])
        guard = self._guard
        if guard is not None and not guard.hosts.allows(head.host):
            await guard(scope, receive, send)
            return None
        nonce = self.nonces(cid)  # the page's scripts run only with it (parlour.web.security)
        try:
            live = await self.runtime.get(cid)
            if live is None:
                # Unknown (ended, reaped, or from a wiped store): reload into a fresh one.
                await _reload(scope, receive, self._answer(scope, send), nonce)
                return None
            refused = await self.ownership.admit(scope, cookie_parser(head.cookie), live)
            if refused is not None:
                if refused.reason == "principal":
                    # Signed out, or in as someone else: the reload shows the page for who it
                    # is now.
                    await _reload(scope, receive, self._answer(scope, send), nonce)
                    return None
                response = plain(
                    403, "this conversation belongs to another session; reload the page"
                )
                await response(scope, receive, self._answer(scope, send))
                return None
            connection = await self.runtime.connect(cid, last_event_id=head.last_event_id)
        except RestoreBusy as exc:
            if guard is None:
                raise  # the App answers it (503), as for any route behind the guard
            await busy(exc.reason)(scope, receive, self._answer(scope, send))
            return None
        if connection is None:
            await _reload(scope, receive, self._answer(scope, send), nonce)
            return None
        gzip = None
        if self.compress and negotiate(head.accept_encoding) is not None:
            gzip = GzipStream(self.deflate)
        # Spread reconnects after a restart: each stream tells its client a different delay.
        retry = random.randint(500, 2000)
        self._beats.add(connection)
        try:
            # A start of its own for each stream: a middleware around the app may change the
            # message it is given in place (Starlette's CORS adds its headers).
            start = self._starts[gzip is not None]
            await send({**start, "headers": [*start["headers"]]})
        except BaseException:
            self._close(connection, None, gzip)
            raise
        # The writer is no task: the connection calls it when something is pushed, and it
        # writes from a callback; only what must wait (a reauthentication, a refresh, a full
        # send buffer) runs in a task while it lasts (`parlour.web.stream_writer`).
        writer = Writer(self, connection, send, retry, nonce, scope, live, gzip)
        writer.start()
        return writer

    def _close(
        self, connection: Connection, writer: Writer | None, gzip: GzipStream | None
    ) -> None:
        connection.hang_up()  # the client left (or the page ended): the writer stops
        if writer is not None:
            writer.stop()
        self._beats.discard(connection)
        if gzip is not None:
            gzip.close()
        self.runtime.disconnect(connection)

    def _answer(self, scope: Scope, send: Send) -> Send:
        """`send` for an answer other than the stream (a refusal, a reload, a 503)."""
        return send if self._guard is None else self._guard.secure(scope, send)

    def body(
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

    async def revoked(self, scope: Scope, live: Live, connection: Connection) -> bool:
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
        sendable = batch
        for fragment in batch:
            if isinstance(fragment, Close):
                sendable = [f for f in batch if not isinstance(f, Close)]
                break
        done = sendable is not batch
        # (is_shared inline: this runs for every batch of every stream)
        flags = [
            isinstance(f, Elements) and (f.key or "").startswith(SHARED_KEY_PREFIX)
            for f in sendable
        ]
        # The id goes on the conversation's own last patch: shared-view patches are not in the
        # conversation's outbox, and are encoded once for all streams (no id, no retry).
        last = len(sendable) - 1
        for index in range(last, -1, -1):
            if not flags[index]:
                last = index
                break
        parts: list[bytes] = []
        shared: list[bool] = []
        for index, fragment in enumerate(sendable):
            try:
                if flags[index] and (index or retry is None):
                    parts.append(self.encode_shared(fragment))
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

    def encode_shared(self, fragment: Fragment) -> bytes:
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


class _StreamHeaders:
    """The four headers the stream route reads, in one pass over the ASGI list (the first of
    each, as `Headers.get` finds it)."""

    __slots__ = ("accept_encoding", "cookie", "host", "last_event_id")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        host = cookie = last_event_id = accept_encoding = None
        for key, value in raw:
            if key == b"host":
                if host is None:
                    host = value.decode("latin-1")
            elif key == b"cookie":
                if cookie is None:
                    cookie = value.decode("latin-1")
            elif key == b"last-event-id":
                if last_event_id is None:
                    last_event_id = value.decode("latin-1")
            elif key == b"accept-encoding" and accept_encoding is None:
                accept_encoding = value.decode("latin-1")
        self.host: str | None = host
        self.cookie: str = cookie or ""
        self.last_event_id: str | None = last_event_id
        self.accept_encoding: str | None = accept_encoding


async def _reload(scope: Scope, receive: Receive, send: Send, nonce: str) -> None:
    reload = encode(Script("window.location.reload()"), nonce=nonce)
    await Response(reload, headers=dict(SSE_HEADERS))(scope, receive, send)
