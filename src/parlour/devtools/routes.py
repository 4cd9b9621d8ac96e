"""The inspector's routes, under `BASE/dev` (only with `App(dev=True)`; else they do not exist).

    GET  BASE/dev/static/NAME        the panel's script and stylesheet
    GET  BASE/dev/CID                the conversation as JSON: tree, states, steps, records,
                                     streams (what the panel shows, for tools and tests)
    GET  BASE/dev/CID/sse            the panel's stream: Datastar patches of the panel and of
                                     the time-travel section, sent whenever they change
    POST BASE/dev/CID/select/IID     show the state of instance IID
    POST BASE/dev/CID/view/STEP      show the page as it was at history step STEP, read-only
    POST BASE/dev/CID/now            back to the page as it is
    POST BASE/dev/CID/resume/STEP    make STEP current: the kernel's back(conv, to=STEP)

Only the session (and principal) that owns a conversation may inspect it: anyone else gets
403, an unknown conversation 404, a POST from another origin 403, as on the page's own
routes. Looking (select, view, now) never changes the conversation, so it is never saved;
only "resume" does, through the same step back the browser's Back button takes.

Each open panel keeps what it shows (the selected instance, the step looked at) here, per
conversation, in memory. The panel's stream renders the panel whenever the conversation takes
a step (the step log wakes it), when the panel's choices change, and every `refresh` seconds
(open streams, queues and timers change without a step); it sends only what changed.

Written as a plain ASGI app, so the inspector adds no route to an app that is not in dev mode
and needs no web framework of its own (`parlour.web.app` mounts it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.context import using
from parlour.core.conversation import Conversation
from parlour.core.routes import DEV
from parlour.devtools import model, panel
from parlour.devtools.steps import QUIET, StepLog
from parlour.runtime.live import Live
from parlour.runtime.runtime import Runtime
from parlour.web.identity import Ownership
from parlour.wire import SSE_HEADERS, BadSignals, comment, encode, signals_from_body

__all__ = ["Inspector"]

log = logging.getLogger("parlour")

type Scope = MutableMapping[str, Any]
type Receive = Callable[[], Any]
type Send = Callable[[dict[str, Any]], Any]

STATIC_DIR = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_MAX_BODY = 1 << 20
_PING_EVERY = 15.0


@dataclass(slots=True)
class _Choice:
    """What the panels of one conversation show: the instance chosen, the step looked at."""

    selected: str | None = None
    viewing: int | None = None
    past: tuple[Conversation, str] | None = None
    """The last past page rendered: the snapshot, and its read-only HTML."""


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Inspector:
    """The inspector of one app: its step log, and its routes (an ASGI app at `BASE/dev`)."""

    def __init__(
        self,
        runtime: Runtime,
        ownership: Ownership,
        *,
        clock: Callable[[], float] = time.time,
        refresh: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.ownership = ownership
        self.clock = clock
        self.refresh = refresh
        self.log = StepLog(clock)
        self.log.attach(runtime)
        self._choices: OrderedDict[str, _Choice] = OrderedDict()

    def __repr__(self) -> str:
        return f"Inspector({self.log!r})"

    def tail(self, base: str, cid: str) -> str:
        """What the page of conversation `cid` gets at the end of its body."""
        return panel.tail(base, cid)

    def choice(self, cid: str) -> _Choice:
        found = self._choices.get(cid)
        if found is None:
            found = self._choices[cid] = _Choice()
            while len(self._choices) > 256:
                self._choices.popitem(last=False)
        return found

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        root = str(scope.get("root_path", ""))
        path = str(scope["path"])
        rest = path[len(root) :] if path.startswith(root) else path
        base = root.removesuffix("/" + DEV)
        parts = [unquote(p) for p in rest.strip("/").split("/")]
        method = str(scope["method"])
        try:
            await self._route(scope, receive, send, method, parts, base)
        except _Refused as refused:
            await _answer(send, refused.status, refused.message + "\n")

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, method: str, parts: list[str], base: str
    ) -> None:
        match parts:
            case ["static", name] if method == "GET":
                await self._static(send, name)
            case [cid] if method == "GET":
                live = await self._admit(scope, cid, post=False)
                await self._json(send, live)
            case [cid, "sse"] if method == "GET":
                live = await self._admit(scope, cid, post=False)
                await self._stream(receive, send, live, base)
            case [cid, "select", iid] if method == "POST":
                live = await self._admitted_post(scope, receive, cid)
                if iid not in live.conv.instances:
                    raise _Refused(404, f"conversation {cid} has no instance {iid!r}")
                self.choice(cid).selected = iid
                await self._done(send, cid)
            case [cid, "view", raw] if method == "POST":
                live = await self._admitted_post(scope, receive, cid)
                depth = _step_number(live.conv, raw)
                self.choice(cid).viewing = None if depth == live.conv.depth else depth
                await self._done(send, cid)
            case [cid, "now"] if method == "POST":
                await self._admitted_post(scope, receive, cid)
                self.choice(cid).viewing = None
                await self._done(send, cid)
            case [cid, "resume", raw] if method == "POST":
                live = await self._admitted_post(scope, receive, cid)
                depth = _step_number(live.conv, raw)
                self.choice(cid).viewing = None
                if depth < live.conv.depth:
                    await self._resume(cid, depth)
                await self._done(send, cid)
            case ["static", _] | [_] | [_, "sse"]:
                raise _Refused(405, "this inspector route only answers GET")
            case [_, "select" | "view" | "resume", _] | [_, "now"]:
                raise _Refused(405, "this inspector route only answers POST")
            case _:
                raise _Refused(404, "no such inspector route")

    async def _admit(self, scope: Scope, cid: str, *, post: bool) -> Live:
        """The live conversation `cid`, if this request's session owns it."""
        headers = _headers(scope)
        if post and _cross_origin(headers):
            raise _Refused(403, "cross-origin POST refused")
        live = await self.runtime.get(cid)
        if live is None:
            raise _Refused(404, f"no conversation {cid!r}")
        refused = await self.ownership.admit(scope, _cookies(headers.get("cookie", "")), live)
        if refused is not None:
            raise _Refused(403, refused.message)
        return live

    async def _admitted_post(self, scope: Scope, receive: Receive, cid: str) -> Live:
        live = await self._admit(scope, cid, post=True)
        body = await _body(receive)
        if body:
            try:
                content_type = _headers(scope).get("content-type")
                self.log.saw_signals(cid, signals_from_body(body, content_type))
            except BadSignals:
                pass  # the inspector's own buttons send the page's signals; no harm if not
        return live

    async def _done(self, send: Send, cid: str) -> None:
        self.log.poke(cid)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _resume(self, cid: str, depth: int) -> None:
        """Make step `depth` current (a step back), and put its URL in the address bar."""
        await self.runtime.back(cid, to=depth)

        def address(conv: Conversation) -> kernel.Step:
            if conv.last_url is None:
                return kernel.Step(conv)
            return kernel.Step(conv, (fr.History(conv.depth, conv.last_url, "replace"),))

        setattr(address, QUIET, True)
        await self.runtime.apply(cid, address, save=False, urgent=True)

    # -- what is sent ------------------------------------------------------------------------

    def view(self, live: Live, base: str) -> panel.PanelView:
        """What the panel of `live` shows now."""
        conv = live.conv
        choice = self.choice(conv.id)
        if choice.viewing is not None and not conv.history_base <= choice.viewing < conv.depth:
            choice.viewing = None  # that step is gone (the conversation went back past it)
        streams = [
            panel.StreamInfo(c.id, len(c), c.sent, c.coalesced, c.stale, c.event_id)
            for c in sorted(live.connections, key=lambda c: c.id)
        ]
        return panel.PanelView(
            base=base,
            conv=conv,
            records=self.log.records(conv.id),
            selected=choice.selected,
            viewing=choice.viewing,
            signals=self.log.signals.get(conv.id),
            streams=streams,
            outbox=len(live.outbox or ()),
            seq=live.seq,
            views=sorted(live.views),
            now=self.clock(),
        )

    def past(self, live: Live, depth: int) -> str:
        """The page (its top frame) as it was at step `depth`, rendered from the snapshot.

        Rendering reads the snapshot and builds HTML; the conversation is not changed.
        """
        choice = self.choice(live.conv.id)
        snapshot = model.at_step(live.conv, depth)
        if choice.past is not None and choice.past[0] is snapshot:
            return choice.past[1]
        with using(self.runtime.context, principal=live.principal):
            step = kernel.render_top(snapshot)
        html = next(
            (
                f.html
                for f in step.fragments
                if isinstance(f, fr.Elements) and f.key == fr.ROOT_SELECTOR
            ),
            "",
        )
        choice.past = (snapshot, html)
        return html

    def render(self, live: Live, base: str) -> tuple[str, str]:
        """The panel's HTML and the time-travel section's, as they should be now."""
        view = self.view(live, base)
        past = None if view.viewing is None else self.past(live, view.viewing)
        return panel.panel_html(view), panel.travel_html(view, past)

    async def _json(self, send: Send, live: Live) -> None:
        view = self.view(live, "")
        data = model.describe(live.conv)
        data["records"] = [
            {
                "seq": r.seq,
                "at": r.at,
                "kind": r.kind,
                "what": r.what,
                "depth_before": r.depth_before,
                "depth": r.depth,
                "payload": r.payload,
                "changes": [str(c) for c in r.changes],
                "fragments": list(r.fragments),
                "commands": list(r.commands),
                "errors": list(r.errors),
            }
            for r in view.records
        ]
        data["streams"] = [
            {"id": s.id, "queued": s.queued, "sent": s.sent, "coalesced": s.coalesced}
            for s in view.streams
        ]
        data["signals"] = None if view.signals is None else dict(view.signals[1])
        data["selected"] = view.selected
        data["viewing"] = view.viewing
        body = json.dumps(data, default=repr).encode()
        await _answer(send, 200, body, "application/json")

    async def _static(self, send: Send, name: str) -> None:
        path = STATIC_DIR / name
        kind = _TYPES.get(path.suffix)
        if kind is None or "/" in name or name.startswith(".") or not path.is_file():
            raise _Refused(404, f"no inspector file {name[:100]!r}")
        await _answer(send, 200, path.read_bytes(), kind)

    async def _stream(self, receive: Receive, send: Send, live: Live, base: str) -> None:
        """Send the panel, then what changes, until the page goes or the conversation ends."""
        cid = live.conv.id
        waiter = self.log.listen(cid)
        gone = asyncio.ensure_future(_disconnected(receive))
        headers = [(k.lower().encode(), v.encode()) for k, v in SSE_HEADERS.items()]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        sent: tuple[str, str] = ("", "")
        quiet_since = self.clock()
        try:
            while not gone.done():
                waiter.clear()
                current = self.runtime.live.get(cid)
                if current is None:
                    break  # ended (or forgotten): the page's own stream tells the tab
                async with current.lock:
                    pass  # a step under way is saved and pushed before the panel shows it
                shown = self.render(current, base)
                chunks = [
                    encode(fr.Elements(html, None, "outer"))
                    for html, before in zip(shown, sent, strict=True)
                    if html != before
                ]
                if not chunks and self.clock() - quiet_since > _PING_EVERY:
                    chunks = [comment("ping")]
                if chunks:
                    await send(_chunk("".join(chunks).encode()))
                    sent, quiet_since = shown, self.clock()
                woke = asyncio.ensure_future(waiter.wait())
                try:
                    await asyncio.wait(
                        {woke, gone}, timeout=self.refresh, return_when="FIRST_COMPLETED"
                    )
                finally:
                    woke.cancel()
            if not gone.done():
                await send({"type": "http.response.body", "body": b""})
        finally:
            self.log.unlisten(cid, waiter)
            gone.cancel()


# -- plain ASGI helpers ----------------------------------------------------------------------


def _step_number(conv: Conversation, raw: str) -> int:
    """The step `raw` names, if the conversation still has it (else 404 saying which it has)."""
    if not raw.isdigit() or len(raw) > 12:
        raise _Refused(404, f"{raw[:40]!r} is not a step number")
    depth = int(raw)
    if not conv.history_base <= depth <= conv.depth:
        raise _Refused(
            404,
            f"conversation {conv.id} has no step {depth}: its steps are "
            f"{conv.history_base} to {conv.depth}",
        )
    return depth


def _headers(scope: Scope) -> dict[str, str]:
    raw: list[tuple[bytes, bytes]] = scope.get("headers", [])
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


def _cookies(header: str) -> dict[str, str]:
    """The request's cookies (as lenient as browsers are, like Starlette's parser)."""
    out: dict[str, str] = {}
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", key
        key, value = key.strip(), value.strip()
        if key or value:
            out[key] = value.strip('"')
    return out


def _cross_origin(headers: Mapping[str, str]) -> bool:
    """A POST from another site (the rule of the page's own routes, `parlour.web.events`)."""
    if headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return True
    return netloc.lower() != headers.get("host", "").lower()


async def _body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_BODY:
            raise _Refused(413, f"request body over {_MAX_BODY} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _chunk(body: bytes) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": True}


async def _answer(
    send: Send, status: int, body: str | bytes, kind: str = "text/plain; charset=utf-8"
) -> None:
    data = body.encode() if isinstance(body, str) else body
    headers = [
        (b"content-type", kind.encode()),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
