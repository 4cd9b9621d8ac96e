"""Python heap per idle open conversation with its stream, in-process, and where it is held.

    .venv/bin/python benchmarks/profile/idle_memory.py                 # 1,000 counter tabs
    .venv/bin/python benchmarks/profile/idle_memory.py --n 2000 --gzip --top 30
    PYTHONPATH=/tmp/rev/src .venv/bin/python benchmarks/profile/idle_memory.py --repo /tmp/rev

Each tab is what peer-bench's hold mode opens, the page GET (it mints the conversation and
sets the session cookie) and then the conversation's stream, read up to its first event (the
full render), left open. The app is called as an ASGI server calls it (no sockets), so the
figure is parlour's own memory per idle tab, with Starlette and the app's middleware, and
without the server's per-connection objects (the transport, the parser: the same for every
revision). The load on the box does not change it, which makes it the quick signal while
peer-bench's RSS per user (`live_bench.py --parts peer`) stays the figure to report.

Printed: bytes per tab (tracemalloc, after a collection), the objects per tab by type (the
collector's view), and the allocation sites holding the most per tab. What this driver holds
itself (its receive and send closures, the futures a disconnect would resolve, the task an
ASGI server makes per request) is counted in the total and listed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import re
import sys
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

HOST = "127.0.0.1:8000"
REPO = Path(__file__).resolve().parents[2]


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", HOST.encode()), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class Tab:
    """One browser tab as the server sees it: its page GET, then its open stream."""

    def __init__(self, app: Any, gzip: bool) -> None:
        self.app = app
        self.gzip = gzip
        self.gone: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        messages: list[dict[str, Any]] = []

        async def receive_page() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send_page(message: dict[str, Any]) -> None:
            messages.append(message)

        await self.app(_scope("/", [(b"accept", b"text/html")]), receive_page, send_page)
        status = messages[0]["status"]
        if status != 200:
            raise RuntimeError(f"the page GET answered {status}")
        cookies = [
            v.decode().split(";", 1)[0] for k, v in messages[0]["headers"] if k == b"set-cookie"
        ]
        html = b"".join(m.get("body", b"") for m in messages[1:]).decode()
        found = re.search(r"/_parlour/sse/([A-Za-z0-9_-]+)", html)
        if found is None:
            raise RuntimeError("no stream URL in the page")
        headers = [(b"accept", b"text/event-stream"), (b"cookie", "; ".join(cookies).encode())]
        if self.gzip:
            headers.append((b"accept-encoding", b"gzip, deflate, br, zstd"))
        first = loop.create_future()
        gone = self.gone = loop.create_future()
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message.get("body") and not first.done():
                first.set_result(None)

        scope = _scope(f"/_parlour/sse/{found.group(1)}", headers)
        self.task = asyncio.ensure_future(self.app(scope, receive, send))
        await asyncio.wait_for(first, 10)

    async def close(self) -> None:
        if self.gone is not None and not self.gone.done():
            self.gone.set_result(None)
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


async def _open(app: Any, n: int, gzip: bool) -> list[Tab]:
    tabs = [Tab(app, gzip) for _ in range(n)]
    for tab in tabs:
        await tab.open()
    return tabs


def _rss() -> int:
    """This process's resident memory, in bytes (Linux), else 0."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _types() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def _sites() -> dict[str, tuple[int, int]]:
    """Bytes and blocks per allocation site now, keyed by strings (which the collector does not
    track, so the table itself does not show up in the objects per tab)."""
    snapshot = tracemalloc.take_snapshot()
    return {
        f"{s.traceback[0].filename}:{s.traceback[0].lineno}": (s.size, s.count)
        for s in snapshot.statistics("lineno")
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="idle tabs to open")
    ap.add_argument("--app", default="examples.counter:app")
    ap.add_argument(
        "--repo",
        default=str(REPO),
        help="where the app's module is imported from (a revision's checkout)",
    )
    ap.add_argument("--gzip", action="store_true", help="the streams accept gzip, as browsers do")
    ap.add_argument("--top", type=int, default=20, help="allocation sites to list")
    ap.add_argument("--rss", action="store_true", help="only the resident memory per tab")
    args = ap.parse_args()
    sys.path.insert(0, args.repo)
    module, _, attr = args.app.partition(":")
    app = getattr(importlib.import_module(module), attr)

    warm = await _open(app, 20, args.gzip)  # every lazy cache and pool made before the count
    for tab in warm:
        await tab.close()
    await asyncio.sleep(0.05)
    gc.collect()
    if args.rss:
        rss = _rss()
        tabs = await _open(app, args.n, args.gzip)
        await asyncio.sleep(0.05)
        gc.collect()
        print(f"{args.n} idle tabs: {(_rss() - rss) / args.n:,.0f} bytes of RSS per tab")
        return
    tracemalloc.start(1)
    base = _sites()
    gc.collect()
    before_types = _types()
    base_bytes = tracemalloc.get_traced_memory()[0]
    tabs = await _open(app, args.n, args.gzip)
    await asyncio.sleep(0.05)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base_bytes
    after_types = _types()
    after = _sites()
    here = __file__
    stats = sorted(
        (
            (site, size - base.get(site, (0, 0))[0], count - base.get(site, (0, 0))[1])
            for site, (size, count) in after.items()
        ),
        key=lambda s: -s[1],
    )
    mine = sum(size for site, size, _ in stats if site.startswith(here + ":"))
    print(f"parlour: {sys.modules['parlour'].__file__}")
    print(
        f"{args.n} idle tabs{' (gzip)' if args.gzip else ''}: {held / args.n:,.0f} bytes per tab"
        f" ({(held - mine) / args.n:,.0f} without this driver's own {mine / args.n:,.0f})"
    )
    print("\nobjects per tab (gc-tracked, by type):")
    diff = {t: (after_types[t] - before_types.get(t, 0)) / args.n for t in after_types}
    for name, per in sorted(diff.items(), key=lambda kv: -kv[1]):
        if per >= 0.5:
            print(f"  {per:6.2f}  {name}")
    print(f"\nallocation sites, bytes per tab (top {args.top}):")
    for site, size, count in stats[: args.top]:
        where = site.split("/site-packages/")[-1].split("/src/")[-1]
        print(f"  {size / args.n:8,.0f}  {count / args.n:6.2f}  {where}")
    for tab in tabs:
        await tab.close()


if __name__ == "__main__":
    asyncio.run(main())
