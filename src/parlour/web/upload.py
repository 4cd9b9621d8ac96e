"""The upload route: files for an `@upload` handler, checked like events, kept per conversation.

    POST BASE/upload/CID/IID/NAME    multipart/form-data; 204 once the handler has run

The checks are the event route's, in the same order and with the same answers: a POST from
another origin 403, an unknown conversation 404, a session that does not own it 403; then an
instance that is not there 404 (an upload is too costly to accept for nothing), a NAME that
is not an `@upload` handler of its class 404, a body that is not multipart 415 (malformed
400), a `Content-Length` over what the declaration can need (`Accept.body_limit`) 413 before a
byte is read. The body is then streamed into files (`parlour.web.multipart`): a file too
large 413, one too many 413, a type not accepted 415, each with a sentence naming the limit.

What the handler gets: once every file has arrived whole, `NAME(files: list[Upload])` runs as
an internal event through the kernel, under the conversation's lock, and the new state is
saved before the 204 (a refresh of the page never loses a delivered upload). A refusal
delivers no file; the files already written are deleted, and `on_error_NAME(UploadRefused)`
runs instead when the component defines it. A client that goes away (Cancel, a closed tab)
gets nothing delivered and leaves nothing behind.

Where files live: `FOLDER/CID/TOKEN/N.ext`, one folder per conversation and one per request.
A conversation's folder is deleted when it ends (its root answers, `end()`, or the reaper),
through the app's `on_end` chain (`Uploads.ended`). Folders of conversations that ended while
the process was down are swept at the first upload after a start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from parlour.core import handlers, kernel
from parlour.core.conversation import Conversation
from parlour.core.uploads import UploadHandler, UploadRefused, accepting, size_text
from parlour.runtime import Live, Runtime
from parlour.runtime.runtime import OnEnd
from parlour.stores.protocol import CID_PATTERN
from parlour.web.events import cross_origin
from parlour.web.multipart import BadUpload, ClientGone, boundary_of, receive_files
from parlour.web.responses import EMPTY, NO_CONTENT, plain
from parlour.web.session import Owners

__all__ = ["Uploads"]

log = logging.getLogger("parlour")


class _Refusal(Protocol):
    @property
    def message(self) -> str: ...


class Admission(Protocol):
    """Who may use a conversation: the app's ownership check (`parlour.web.identity`), the
    same one the event route asks."""

    def admit(
        self, scope: Scope, cookies: Mapping[str, str], live: Live
    ) -> Awaitable[_Refusal | None]: ...


class Uploads:
    """The upload route of one app (an ASGI endpoint), and the folders its files live in."""

    def __init__(
        self,
        runtime: Runtime,
        owners: Owners,
        *,
        folder: Path,
        clock: Callable[[], float],
        ownership: Admission | None = None,
    ) -> None:
        self.runtime = runtime
        self.owners = owners
        self.ownership = ownership
        self.folder = Path(folder).absolute()  # Upload.path must not depend on a later cwd
        self.clock = clock
        self._swept = False
        self._tasks: set[asyncio.Future[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        params: dict[str, str] = scope["path_params"]
        response = await self._handle(scope, receive, params["cid"], params["iid"], params["name"])
        if response is None:
            await send(NO_CONTENT)
            await send(EMPTY)
        else:
            await response(scope, receive, send)

    async def _handle(
        self, scope: Scope, receive: Receive, cid: str, iid: str, name: str
    ) -> Response | None:
        headers = Headers(scope=scope)
        if cross_origin(headers):
            return plain(403, "cross-origin POST refused")
        live = await self.runtime.get(cid)
        if live is None:
            return plain(404, f"no conversation {cid!r}; reload the page")
        cookies = cookie_parser(headers.get("cookie", ""))
        if self.ownership is not None:
            refused = await self.ownership.admit(scope, cookies, live)
            if refused is not None:
                return plain(403, refused.message)
        elif not self.owners.allows(cookies, live.conv.owner):
            return plain(403, "this conversation belongs to another session")
        found = self._handler(live.conv, iid, name)
        if isinstance(found, Response):
            return found
        accept = found.accept
        try:
            boundary = boundary_of(headers.get("content-type"))
        except BadUpload as exc:
            return plain(415, str(exc))
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > accept.body_limit:
            return await self._refused(cid, iid, name, accept.body_too_large(int(length)))
        if not self._swept:
            self._swept = True
            await self._sweep()
        request = self.folder / cid / secrets.token_urlsafe(9)
        try:
            files = await receive_files(receive, boundary=boundary, accept=accept, folder=request)
        except UploadRefused as refusal:
            return await self._refused(cid, iid, name, refusal)
        except BadUpload as exc:
            return plain(400, str(exc))
        except ClientGone:
            log.info("parlour: upload to %s/%s cancelled by the client", cid, iid)
            return plain(400, "the upload was cancelled before it ended")
        now = self.clock()
        delivered = await self.runtime.apply(
            cid, lambda conv: kernel.deliver(conv, iid, name, files, now=now), urgent=True
        )
        if not delivered:  # the conversation ended while the files arrived
            await asyncio.to_thread(shutil.rmtree, request, True)
            return plain(404, f"no conversation {cid!r}; reload the page")
        log.info(
            "parlour: upload to %s/%s.%s: %d file(s), %s",
            cid,
            iid,
            name,
            len(files),
            size_text(sum(f.size for f in files)),
        )
        return None

    def _handler(self, conv: Conversation, iid: str, name: str) -> UploadHandler | Response:
        """The `@upload` handler `iid.name`, or the answer saying why there is none."""
        inst = conv.instances.get(iid)
        if inst is None:
            return plain(404, f"no instance {iid!r} in this conversation; reload the page")
        cls = type(inst.component)
        found = accepting(cls, name)
        if found is None:
            return plain(404, f"{cls.__qualname__} has no @upload handler {name!r}")
        return found

    async def _refused(self, cid: str, iid: str, name: str, refusal: UploadRefused) -> Response:
        """Tell the component (its `on_error_NAME`, if any), then answer 413 or 415."""
        live = self.runtime.live.get(cid)
        inst = live.conv.instances.get(iid) if live is not None else None
        method = handlers.error_method_name(name)
        if inst is not None and callable(getattr(type(inst.component), method, None)):
            now = self.clock()
            await self.runtime.apply(
                cid,
                lambda conv: kernel.deliver(conv, iid, method, refusal, now=now),
                urgent=True,
            )
        return plain(refusal.status, str(refusal))

    # -- the folders ---------------------------------------------------------------------------

    def ended(self, then: OnEnd | None) -> OnEnd:
        """An `on_end` that deletes the conversation's upload folder, then calls `then`."""

        def on_end(cid: str, value: Any) -> object:
            self._in_background(asyncio.to_thread(self.forget, cid))
            return None if then is None else then(cid, value)

        return on_end

    def forget(self, cid: str) -> None:
        """Delete every file uploaded in conversation `cid` (blocking: run it on a thread)."""
        if CID_PATTERN.fullmatch(cid):  # never a path of the caller's making
            shutil.rmtree(self.folder / cid, ignore_errors=True)

    async def _sweep(self) -> None:
        """Delete the folders of conversations that are neither live nor in the store: they
        ended (or were forgotten) while no process of this app was there to see it."""
        try:
            names = await asyncio.to_thread(
                lambda: [p.name for p in self.folder.iterdir() if p.is_dir()]
            )
        except OSError:
            return  # no folder yet
        for cid in names:
            if cid in self.runtime.live or not CID_PATTERN.fullmatch(cid):
                continue
            try:
                stored = await self.runtime.store.load(cid)
            except Exception:
                continue  # unreadable here (a newer format): not ours to judge
            if stored is None:
                await asyncio.to_thread(self.forget, cid)

    def _in_background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait for folder deletions still under way."""
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks)
