"""Instructions for the stream side of a click, counted by valgrind: from the push of the
click's batch into the tab's connection to its bytes handed to the server's `send`.

    .venv/bin/python benchmarks/profile/push_instructions.py             # this checkout
    .venv/bin/python benchmarks/profile/push_instructions.py --rev HEAD~1 --rev HEAD
    .venv/bin/python benchmarks/profile/push_instructions.py --src /tmp/tree/src

The counter (`examples/counter.py`) is opened in-process: its page, then its stream, called as
an ASGI server calls the App (through every layer around the route), with a `send` that keeps
nothing. One real click's batch (its patch and the address bar's entry) is captured, then
pushed again and again as the runtime pushes a click's answer (`Connection.push(batch,
seq=..., urgent=True)`), each followed by one turn of the event loop, in which the stream
writes it. As in `click_instructions.py`, the child runs twice under callgrind (100 and 400
pushes after a warm-up) and the difference / 300 is one push's cost: the queue, the writer's
wake-up, the encoding, the send, and the loop's turn. No figure is asserted.

`--fanout K`: a shared view's delivery instead: K counter tabs open, one shared patch offered
to every stream per round (`Connection.offer`, as `Runtime.fan_out` does), the loop turned
until all have written it; the figure is per delivery (20 and 80 rounds, the difference / 60K).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WARM = 200
sys.path.insert(0, str(HERE))

from callgrind import instructions, revision_src, toggle  # noqa: E402


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _fanout(n: int, k: int) -> None:
    os.environ["PARLOUR_DATASTAR_JS"] = ""
    from examples.counter import Counter

    from parlour.core.fragments import Elements
    from parlour.runtime.views import view_key
    from parlour.web.app import App

    app = App(Counter, secret="instructions-only", window=0)
    sent = 0
    gone = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        await gone
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1

    requests: list[asyncio.Future[None]] = []
    for _ in range(k):
        page: list[dict[str, Any]] = []

        async def nothing() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def keep(message: dict[str, Any], page: list[dict[str, Any]] = page) -> None:
            page.append(message)

        await app(_scope("GET", "/", []), nothing, keep)
        cookie = next(v for k, v in page[0]["headers"] if k == b"set-cookie").split(b";")[0]
        found = re.search(rb"/_parlour/sse/([A-Za-z0-9_-]+)", page[1]["body"])
        assert found is not None, "no conversation in the shell"
        path = f"/_parlour/sse/{found.group(1).decode()}"
        headers = [(b"cookie", cookie), (b"accept", b"text/event-stream")]
        requests.append(asyncio.ensure_future(app(_scope("GET", path, headers), receive, send)))
    while sent < 2 * k:  # every start and full render  # noqa: ASYNC110 (counting turns)
        await asyncio.sleep(0)
    connections = [c for live in app.runtime.live.values() for c in live.connections]
    assert len(connections) == k
    key = view_key("instructions")
    for i in range(WARM // 10 + n):
        if i == WARM // 10:
            toggle()
        patch = (Elements(f'<p id="shared">update {i}</p>', key=key),)
        before = sent
        for connection in connections:
            connection.offer(patch)
        while sent < before + k:  # noqa: ASYNC110 (counting turns)
            await asyncio.sleep(0)
    toggle()
    gone.set_result(None)
    await asyncio.gather(*requests)
    await app.runtime.close()


async def _pushes(n: int) -> None:
    os.environ["PARLOUR_DATASTAR_JS"] = ""
    from examples.counter import Counter

    from parlour.web.app import App

    app = App(Counter, secret="instructions-only")
    page: list[dict[str, Any]] = []

    async def nothing() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def keep(message: dict[str, Any]) -> None:
        page.append(message)

    await app(_scope("GET", "/", []), nothing, keep)
    cookie = next(v for k, v in page[0]["headers"] if k == b"set-cookie").split(b";")[0]
    found = re.search(rb"/_parlour/sse/([A-Za-z0-9_-]+)", page[1]["body"])
    assert found is not None, "no conversation in the shell"
    cid = found.group(1).decode()
    sent = 0
    gone = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        await gone
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1

    headers = [(b"cookie", cookie), (b"accept", b"text/event-stream")]
    request = asyncio.ensure_future(
        app(_scope("GET", f"/_parlour/sse/{cid}", headers), receive, send)
    )
    while sent < 2:  # the start and the full render  # noqa: ASYNC110 (counting turns)
        await asyncio.sleep(0)
    live = app.runtime.live[cid]
    connection = next(iter(live.connections))
    batches: list[tuple[Any, ...]] = []
    kind = type(connection)
    push = kind.push

    def capture(self: Any, fragments: Any, **options: Any) -> None:
        if self is connection:
            batches.append(tuple(fragments))
        push(self, fragments, **options)

    kind.push = capture  # the class's: a connection may have no instance attributes
    clicked = [(b"content-type", b"application/json"), (b"content-length", b"2")]

    async def body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    await app(
        _scope("POST", f"/_parlour/event/{cid}/p1/inc", [(b"cookie", cookie), *clicked]),
        body,
        keep,
    )
    kind.push = push
    assert batches, "the click pushed nothing"
    batch = batches[0]
    before = sent
    for i in range(WARM + n):
        if i == WARM:
            toggle()
        connection.push(batch, seq=live.seq + i + 1, urgent=True)
        await asyncio.sleep(0)
    toggle()
    assert sent - before == WARM + n, (sent, before)
    gone.set_result(None)
    await request
    await app.runtime.close()


def _count(src: Path, n: int, workdir: Path, fanout: int = 0) -> int:
    return instructions(__file__, ["--child", str(n), "--fanout", str(fanout)], src, workdir)


def measure(src: Path, fanout: int = 0) -> float:
    """Thousands of instructions per push (per delivery, with `fanout`) with `src` first on
    the path."""
    with tempfile.TemporaryDirectory(prefix="parlour-push-") as tmp:
        if fanout:
            small = _count(src, 20, Path(tmp), fanout)
            large = _count(src, 80, Path(tmp), fanout)
            return (large - small) / 60 / fanout / 1000
        small, large = _count(src, 100, Path(tmp)), _count(src, 400, Path(tmp))
    return (large - small) / 300 / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", action="append", default=[], help="a git revision (repeatable)")
    ap.add_argument("--src", action="append", default=[], help="a src/ directory (repeatable)")
    ap.add_argument("--fanout", type=int, default=0, help="K streams: a shared delivery's cost")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        asyncio.run(_fanout(args.child, args.fanout) if args.fanout else _pushes(args.child))
        return
    what = "delivery" if args.fanout else "push"
    if shutil.which("valgrind") is None:
        sys.exit("push_instructions: needs valgrind (apt-get install valgrind)")
    if not args.rev and not args.src:
        print(
            f"{measure(REPO / 'src', args.fanout):8.1f}k instructions per {what}  (this checkout)"
        )
        return
    for src in args.src:
        print(
            f"{measure(Path(src), args.fanout):8.1f}k instructions per {what}  ({src})", flush=True
        )
    for rev in args.rev:
        with revision_src(rev) as src:
            per = measure(src, args.fanout)
            print(f"{per:8.1f}k instructions per {what}  ({rev})", flush=True)


if __name__ == "__main__":
    main()
