"""Compressed streams, as a browser that accepts gzip gets them: the same events as an
uncompressed stream, every batch decodable at once, heartbeats and reconnects included; a
switch turns it off."""

from __future__ import annotations

import asyncio
import gzip
import re
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from htpy import h1

from parlour import cli
from parlour.core.fragments import Elements, Signals
from parlour.testing import AsgiClient, parse_sse
from parlour.web import stream as stream_module
from parlour.web.app import App
from parlour.wire import encode
from tests.web.conftest import MakeApp, open_page
from tests.web.test_identity import Accounts, Greeter
from tests.web.test_shared_views import Board, Scoreboard, score_app

GZIP = {"accept-encoding": "gzip, deflate, br, zstd"}  # what Chromium sends


class WireStream:
    """One stream request read as the bytes on the wire (and decoded as a browser would)."""

    def __init__(self, status: int, headers: dict[str, str], queue: asyncio.Queue[Any]) -> None:
        self.status = status
        self.headers = headers
        self._queue = queue
        self.ended = False
        self.wire = b""
        self.last = b""
        """The newest body as sent (compressed, if it is)."""
        self.text = b""
        self._decoder = (
            zlib.decompressobj(16 + zlib.MAX_WBITS)
            if headers.get("content-encoding") == "gzip"
            else None
        )

    async def chunk(self, timeout: float = 5.0) -> bytes:
        """The next body the server sent, decoded: all of it decodes at once."""
        async with asyncio.timeout(timeout):
            message = await self._queue.get()
        data = bytes(message.get("body", b""))
        self.ended = not message.get("more_body", False)
        self.wire += data
        self.last = data
        text = data if self._decoder is None else self._decoder.decompress(data)
        self.text += text
        return text


@asynccontextmanager
async def wire_stream(
    app: App, client: AsgiClient, cid: str, headers: Mapping[str, str] = GZIP
) -> AsyncIterator[WireStream]:
    scope = client.scope("GET", f"/_parlour/sse/{cid}", headers)
    gone = asyncio.Event()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        await queue.put(message)

    task = asyncio.ensure_future(app(scope, receive, send))
    try:
        async with asyncio.timeout(5):
            start = await queue.get()
        headers_out = {k.decode(): v.decode() for k, v in start["headers"]}
        yield WireStream(start["status"], headers_out, queue)
    finally:
        gone.set()
        async with asyncio.timeout(5):
            await task


@pytest.fixture(autouse=True)
def _compress_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(stream_module.COMPRESS_ENV, raising=False)


@pytest.fixture
def board() -> Board:
    return Board()


async def test_a_compressed_stream_decodes_to_exactly_the_uncompressed_events(
    make_app: MakeApp, board: Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two streams of one conversation, one plain and one gzip: full render, a shared view's
    update, the tab's own patch, a batch holding both, the end. Batch by batch and as a
    whole (a valid gzip member), the gzip stream is the plain one."""
    monkeypatch.setattr(stream_module.random, "randint", lambda a, b: 1000)  # one retry: value
    app = score_app(make_app, board)
    client = AsgiClient(app)
    page = await open_page(client)
    async with (
        wire_stream(app, client, page.cid, headers={}) as plain,
        wire_stream(app, client, page.cid) as packed,
    ):
        assert "content-encoding" not in plain.headers
        assert packed.headers["content-encoding"] == "gzip"
        assert await packed.chunk() == await plain.chunk()  # the full render

        board.score = 7
        app.views.invalidate("score")
        app.views.flush()  # a shared view's update
        assert await packed.chunk() == await plain.chunk()

        await client.post(f"/_parlour/event/{page.cid}/{page.iid_of('bump')}/bump")
        assert await packed.chunk() == await plain.chunk()  # the tab's own re-render

        board.score = 8
        app.views.invalidate("score")
        app.views.flush()
        for connection in app.runtime.live[page.cid].connections:
            connection.push([Signals({"seen": 8})])  # in the same batch as the update
        mixed = await plain.chunk()
        assert b"score 8" in mixed
        assert b'"seen":8' in mixed
        assert await packed.chunk() == mixed

        await app.runtime.end(page.cid)
        while not plain.ended:
            await plain.chunk()
        while not packed.ended:
            await packed.chunk()
    assert packed.text == plain.text
    assert gzip.decompress(packed.wire) == plain.wire  # the CRC and the size check out
    assert len(packed.wire) < len(plain.wire)


async def test_every_viewer_gets_the_same_compressed_bytes_of_a_shared_update(
    make_app: MakeApp, board: Board
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    pages = [await open_page(client) for _ in range(3)]
    async with (
        wire_stream(app, client, pages[0].cid) as a,
        wire_stream(app, client, pages[1].cid) as b,
        wire_stream(app, client, pages[2].cid) as c,
    ):
        for tab in (a, b, c):
            await tab.chunk()  # each tab's own full render
        for score in (1, 2):
            board.score = score
            app.views.invalidate("score")
            app.views.flush()
            texts = [await tab.chunk() for tab in (a, b, c)]
            event = encode(Elements(f'<h1 id="score">score {score}</h1>')).encode()
            assert texts == [event] * 3
            assert a.last == b.last == c.last  # the same compressed bytes on every wire
            assert len(a.last) < len(event)


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        (None, None),
        ("br, zstd", None),
        ("gzip;q=0, br", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("*", "gzip"),
        ("deflate, gzip;q=0.5", "gzip"),
    ],
)
async def test_each_stream_is_compressed_as_its_request_accepts(
    make_app: MakeApp, board: Board, accept: str | None, encoding: str | None
) -> None:
    app = score_app(make_app, board)
    client = AsgiClient(app)
    page = await open_page(client)
    headers = {} if accept is None else {"accept-encoding": accept}
    async with wire_stream(app, client, page.cid, headers) as sse:
        assert sse.status == 200
        assert sse.headers.get("content-encoding") == encoding
        if encoding:
            assert sse.headers["vary"] == "Accept-Encoding"
        events, _, rest = parse_sse((await sse.chunk()).decode())
    assert events[0].selector == "#root"
    assert rest == ""


@pytest.mark.parametrize(
    ("compress", "env", "compressed"),
    [
        (None, None, True),
        (False, None, False),
        (None, "0", False),
        (None, "off", False),
        (None, "1", True),
        (True, "0", True),  # what the App says wins over the environment
    ],
)
async def test_a_switch_turns_compression_off(
    make_app: MakeApp,
    board: Board,
    monkeypatch: pytest.MonkeyPatch,
    compress: bool | None,
    env: str | None,
    compressed: bool,
) -> None:
    if env is not None:
        monkeypatch.setenv(stream_module.COMPRESS_ENV, env)
    app = score_app(make_app, board, compress=compress)
    client = AsgiClient(app)
    page = await open_page(client)
    async with wire_stream(app, client, page.cid) as sse:
        assert ("content-encoding" in sse.headers) is compressed
        assert b'<h1 id="score">score 0</h1>' in await sse.chunk()
        assert sse.wire.startswith(b"\x1f\x8b") is compressed


def test_the_command_line_switch_sets_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(stream_module.COMPRESS_ENV, "1")  # restored after the test
    seen: list[str | None] = []
    monkeypatch.setattr(cli, "_run", lambda args: seen.append(stream_module.compress_default()))
    cli.main(["run", "examples.counter:app"])
    cli.main(["run", "--no-compress", "examples.counter:app"])
    assert seen == [True, False]


async def test_heartbeat_comments_flow_compressed(make_app: MakeApp, board: Board) -> None:
    app = score_app(make_app, board, heartbeat=0.05)
    client = AsgiClient(app)
    page = await open_page(client)
    async with wire_stream(app, client, page.cid) as sse:
        await sse.chunk()  # the full render
        assert await sse.chunk() == b": ping\n\n"
        assert await sse.chunk() == b": ping\n\n"
        board.score = 5
        app.views.invalidate("score")
        app.views.flush()
        while b"score 5" not in (text := await sse.chunk()):
            assert text == b": ping\n\n"


async def test_a_reconnect_with_last_event_id_gets_what_it_missed_compressed(
    make_app: MakeApp, board: Board
) -> None:
    app = make_app(Scoreboard, services=[board], window=0.0)
    app.views.add("score", lambda: h1("#score")[f"score {board.score}"])
    client = AsgiClient(app)
    page = await open_page(client)
    bump = f"/_parlour/event/{page.cid}/{page.iid_of('bump')}/bump"
    async with wire_stream(app, client, page.cid) as sse:
        await sse.chunk()
        await client.post(bump)
        first = parse_sse((await sse.chunk()).decode())[0][-1]
    assert first.id is not None
    assert "last: 1" in first.elements
    await client.post(bump)  # missed: the tab is away
    async with wire_stream(app, client, page.cid, {**GZIP, "last-event-id": first.id}) as sse:
        assert sse.headers["content-encoding"] == "gzip"
        events, _, _ = parse_sse((await sse.chunk()).decode())
    missed = [e for e in events if e.id is not None]
    assert [("last: 2" in e.elements) for e in missed] == [True]
    # Shared views are in no outbox: the reconnect gets them as they are now.
    assert any(e.elements == app.views.html("score") for e in events)


async def test_a_signed_out_tab_gets_its_reload_compressed_and_a_complete_gzip_stream(
    make_app: MakeApp,
) -> None:
    accounts = Accounts()
    app = make_app(Greeter, authenticate=accounts.authenticate, heartbeat=60)
    client = AsgiClient(app)
    shell = await client.get("/", headers={"x-user": "ada"})
    found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", shell.text)
    assert found is not None
    async with wire_stream(app, client, found.group(1), {**GZIP, "x-user": "ada"}) as sse:
        await sse.chunk()  # the first render
        accounts.revoked.add("ada")
        assert app.reauthenticate("ada") == 1
        while not sse.ended:
            await sse.chunk()
    assert b"window.location.reload()" in sse.text
    assert gzip.decompress(sse.wire) == sse.text  # ended as a whole gzip member
