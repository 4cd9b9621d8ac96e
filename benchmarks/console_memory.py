#!/usr/bin/env python3
"""What a console tab costs the server: 100 open tabs, 10 of them clicking for minutes.

    .venv/bin/python benchmarks/console_memory.py               # 5 minutes (the documented run)
    .venv/bin/python benchmarks/console_memory.py --quick       # 30 s
    .venv/bin/python benchmarks/console_memory.py --minutes 1 --tabs 50 --out results.md

A tab of the console used to cost the server more the longer its person clicked: each click
re-renders the Agents page (with its panels, tens of KB), and the replay outbox kept the
last 256 batches of every tab for its 24 hours. The outbox is bounded in bytes now (64 KB per
conversation, `parlour.runtime.live.Outbox`). Two measurements:

 1. A real server (`python -m parlour console --store memory`, its own process, RSS read from
    /proc/PID/status). A producer posts events all along (--rate a second: agent progress,
    tool calls, a question now and then), so the event log fills to its 200 entries and the
    page is as large as it gets. Then --tabs tabs open the Agents page and its stream (a
    bounded client: each reads and discards what its stream sends). RSS is taken once they
    settle; then --clickers of them click the log's filter toggles for --minutes, each a
    click every --gap seconds; RSS is taken every 10 s, and after the clicking stops and the
    server rests. The claim: RSS grows by less than 50 MB.
 2. In-process, with tracemalloc (Python's own allocations, exact): a console, --probe tabs
    open (`parlour.testing.Page`), 100 clicks each, then at rest: what each tab holds, and
    its outbox's bytes (bounded: at most 64 KB). The claim: at most 100 KB per tab at rest.

Every wait is bounded; the server is stopped by PID (SIGTERM, then SIGKILL after 5 s).
stdlib only, plus this repository's parlour (phase 2), and console_scale.py's HTTP client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import html
import json
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import console_scale as cs  # noqa: E402 - the HTTP client and server runner of the scale benchmark

KINDS = ("tool", "model", "agent", "run")
SETTLE = 3.0
REST = 5.0


def log(msg: str) -> None:
    print(f"[console_memory {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- a tab over HTTP: its stream read and discarded, its clicks ---------------------------------


class Tab:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""
        self.toggles: dict[str, str] = {}
        self.received = 0
        self.clicks = 0
        self.errors: list[str] = []
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        page = await cs.http(self.port, "GET", "/")
        assert page.status == 200, page.status
        self.cookie = "; ".join(c.split(";", 1)[0] for c in page.header("set-cookie"))
        text = html.unescape(page.body.decode())
        stream = re.search(r"@get\(['\"]([^'\"]*/sse/[^'\"]+)['\"]", text)
        assert stream is not None, "no stream URL in the shell"
        for url in re.findall(r"@post\('([^']*/toggle\?p=[^']*)'", text):
            kind = json.loads(url.rsplit("?p=", 1)[1].replace("%22", '"'))
            self.toggles[kind] = url
        assert self.toggles, "no filter toggles on the Agents page"
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cs.HOST, self.port), cs.IO_TIMEOUT
        )
        self._writer = writer
        headers = {"Accept": "text/event-stream", "Datastar-Request": "true", "Cookie": self.cookie}
        writer.write(cs._request_bytes("GET", stream.group(1), self.port, headers=headers))
        await writer.drain()
        status, _ = await asyncio.wait_for(cs._read_head(reader), cs.IO_TIMEOUT)
        assert status == 200, f"the stream answered {status}"
        self._task = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError):
            async for chunk in cs._chunks(reader):
                self.received += len(chunk)

    async def click(self, kind: str) -> None:
        headers = {"Datastar-Request": "true", "Cookie": self.cookie}
        reply = await cs.http(self.port, "POST", self.toggles[kind], {}, headers)
        if reply.status != 204:
            self.errors.append(f"click answered {reply.status}")
        self.clicks += 1

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, cs.IO_TIMEOUT)


async def produce(port: int, rate: float, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """Events at `rate` a second until `stop`: agent progress, tool calls, some questions."""
    rng = random.Random(16)
    n = 0
    while not stop.is_set():
        n += 1
        agent = f"agent-{n % 12:02d}"
        if n % 50 == 0:
            body: dict[str, Any] = {"agent": agent, "question": f"Go on with step {n}?"}
            body["timeout"] = 600
            reply = await cs.http(port, "POST", "/api/questions", body)
        else:
            topic = rng.choice(["agent.progress", "tool.call", "model.reply", "agent.started"])
            payload = {"message": f"step {n}: reading src/parlour/module_{n % 40}.py"}
            reply = await cs.http(
                port, "POST", "/api/events", {"topic": topic, "source": agent, "payload": payload}
            )
        counts["events"] += 1
        if reply.status >= 400:
            counts["errors"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0 / rate)


@dataclass
class Served:
    rss_before_tabs: int = 0
    rss_tabs: int = 0
    rss_peak_clicking: int = 0
    rss_end: int = 0
    rss_rest: int = 0
    hwm: int = 0
    clicks: int = 0
    events: int = 0
    errors: list[str] = field(default_factory=list[str])
    timeline: list[tuple[float, int]] = field(default_factory=list[tuple[float, int]])
    received_mb: float = 0.0


async def served(args: argparse.Namespace, state: Path) -> Served:
    result = Served()
    server = cs.Server(state, sys.executable)
    stop = asyncio.Event()
    counts = {"events": 0, "errors": 0}
    tabs: list[Tab] = []
    producer: asyncio.Task[None] | None = None
    try:
        await server.wait_ready()
        warm = Tab(server.port)
        await warm.open()
        await warm.click("tool")
        await warm.close()
        producer = asyncio.ensure_future(produce(server.port, args.rate, stop, counts))
        await asyncio.sleep(SETTLE)
        result.rss_before_tabs = cs.rss_kb(server.proc.pid)["VmRSS"]
        for start in range(0, args.tabs, 20):
            batch = [Tab(server.port) for _ in range(start, min(args.tabs, start + 20))]
            await asyncio.gather(*(tab.open() for tab in batch))
            tabs.extend(batch)
        log(f"{len(tabs)} tabs open")
        await asyncio.sleep(SETTLE)
        result.rss_tabs = cs.rss_kb(server.proc.pid)["VmRSS"]
        t0 = time.monotonic()
        deadline = t0 + args.minutes * 60

        async def clicker(tab: Tab, seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                await tab.click(rng.choice(KINDS))
                await asyncio.sleep(args.gap)

        async def sampler() -> None:
            while time.monotonic() < deadline:
                rss = cs.rss_kb(server.proc.pid)["VmRSS"]
                result.timeline.append((time.monotonic() - t0, rss))
                result.rss_peak_clicking = max(result.rss_peak_clicking, rss)
                await asyncio.sleep(min(10.0, max(0.1, deadline - time.monotonic())))

        log(f"{args.clickers} tabs click for {args.minutes:g} min")
        await asyncio.gather(
            sampler(), *(clicker(tab, n) for n, tab in enumerate(tabs[: args.clickers]))
        )
        result.rss_end = cs.rss_kb(server.proc.pid)["VmRSS"]
        stop.set()
        await producer
        await asyncio.sleep(REST)
        figures = cs.rss_kb(server.proc.pid)
        result.rss_rest, result.hwm = figures["VmRSS"], figures["VmHWM"]
        result.clicks = sum(tab.clicks for tab in tabs)
        result.events = counts["events"]
        result.errors = [e for tab in tabs for e in tab.errors][:5]
        if counts["errors"]:
            result.errors.append(f"{counts['errors']} producer requests failed")
        result.received_mb = sum(tab.received for tab in tabs) / 1e6
    finally:
        stop.set()
        if producer is not None and not producer.done():
            producer.cancel()
        for tab in tabs:
            await tab.close()
        code = server.stop()
        log(f"server stopped ({code})")
    return result


# -- in-process: what one tab holds at rest -----------------------------------------------------


@dataclass
class Probe:
    tabs: int = 0
    clicks: int = 0
    open_kb: float = 0.0
    clicked_kb: float = 0.0
    outbox_max: int = 0
    outbox_mean: float = 0.0
    page_kb: float = 0.0


async def probe(args: argparse.Namespace, state: Path) -> Probe:
    """Tabs of the Agents page driven through the console's runtime itself (no HTTP client
    whose own memory would be counted): each opens its stream, clicks, and its stream's
    writer takes what is queued after every click, as the web layer's does."""
    from parlour.console.app import Console
    from parlour.console.pages import AgentsPage
    from parlour.core import kernel
    from parlour.runtime import Connection

    console = Console(store="memory", journal="memory", secret="bench", tick=3600, state_dir=state)
    await console.start()
    result = Probe(tabs=args.probe, clicks=100)
    connections: list[Connection] = []
    try:
        hub = console.hub
        assert hub is not None
        for n in range(250):  # the log full, as in phase 1
            await hub.publish(
                "agent.progress", f"agent-{n % 12:02d}", {"message": f"step {n}: reading"}
            )
        for n in range(3):
            await hub.ask(f"agent-{n:02d}", f"Question {n}?", timeout=600)
        console.pages.views.flush()
        runtime = console.pages.runtime

        async def open_tab() -> tuple[str, Connection]:
            live, _ = await runtime.mint(
                AgentsPage(), owner="bench", base="/_parlour", principal="anonymous"
            )
            cid = live.conv.id
            connection = await runtime.connect(cid)
            assert connection is not None
            await connection.take(0)
            return cid, connection

        _, first = await open_tab()  # the first tab pays for what every later one shares
        iid = runtime.live[first.cid].conv.top
        assert iid is not None
        await runtime.dispatch(first.cid, kernel.Event(iid, "toggle", "tool", now=time.time()))
        page = next(iter(await first.take(0) or []), None)
        result.page_kb = len(getattr(page, "html", "")) / 1024  # what one click re-renders
        del page
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tabs = [await open_tab() for _ in range(args.probe)]
        connections = [c for _, c in tabs]
        gc.collect()
        opened = tracemalloc.get_traced_memory()[0]
        for cid, connection in tabs:
            iid = runtime.live[cid].conv.top
            assert iid is not None
            for n in range(result.clicks):
                click = kernel.Event(iid, "toggle", KINDS[n % len(KINDS)], now=time.time())
                assert await runtime.dispatch(cid, click)
                await connection.take(0)  # what the stream's writer does
        gc.collect()
        clicked = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        result.open_kb = (opened - base) / args.probe / 1024
        result.clicked_kb = (clicked - base) / args.probe / 1024
        outboxes = [
            live.outbox.bytes if live.outbox is not None else 0
            for cid, _ in tabs
            if (live := runtime.live.get(cid)) is not None
        ]
        result.outbox_max = max(outboxes, default=0)
        result.outbox_mean = statistics.fmean(outboxes) if outboxes else 0.0
    finally:
        for connection in connections:
            runtime_disconnect = console.pages.runtime.disconnect
            runtime_disconnect(connection)
        await console.close()
    return result


# -- the report ---------------------------------------------------------------------------------


def markdown(args: argparse.Namespace, s: Served, p: Probe) -> str:
    mb = 1024
    growth = (s.rss_rest - s.rss_tabs) / mb
    per_tab = (s.rss_tabs - s.rss_before_tabs) / args.tabs
    command = f"python benchmarks/console_memory.py --minutes {args.minutes:g}"
    if args.tabs != 100 or args.clickers != 10:
        command += f" --tabs {args.tabs} --clickers {args.clickers}"
    lines = [
        f"### Console memory: {args.tabs} tabs, {args.clickers} clicking for {args.minutes:g} min",
        "",
        f"`{command}` on {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {time.strftime('%Y-%m-%d')}. A real `parlour console "
        f"--store memory`, {args.rate:g} events/s posted throughout (the event log full); "
        f"each clicking tab toggled a log filter every {args.gap:g} s (each click re-renders "
        "its whole Agents page).",
        "",
        "| | |",
        "|---|---|",
        f"| server RSS before the tabs | {s.rss_before_tabs / mb:.1f} MB |",
        f"| after {args.tabs} tabs opened (per tab) | {s.rss_tabs / mb:.1f} MB "
        f"({per_tab:.0f} KB) |",
        f"| highest while clicking | {s.rss_peak_clicking / mb:.1f} MB |",
        f"| after the clicking, at rest ({REST:g} s) | {s.rss_rest / mb:.1f} MB |",
        f"| **growth from the clicking** | **{growth:+.1f} MB** (bound: < 50 MB) |",
        f"| peak RSS (VmHWM) | {s.hwm / mb:.1f} MB |",
        f"| clicks / events posted | {s.clicks} / {s.events} |",
        f"| bytes the tabs' streams received | {s.received_mb:.1f} MB |",
        "",
        f"In-process (tracemalloc), {p.tabs} tabs, {p.clicks} clicks each, the page "
        f"{p.page_kb:.0f} KB: a tab holds {p.open_kb:.1f} KB once open and "
        f"**{p.clicked_kb:.1f} KB at rest after its clicks** (bound: 100 KB), of which its "
        f"replay outbox {p.outbox_mean / 1024:.1f} KB on average, {p.outbox_max / 1024:.1f} KB "
        "at most (bound: 64 KB).",
        "",
        "RSS every 10 s while clicking (s: MB): "
        + ", ".join(f"{t:.0f}: {rss / mb:.1f}" for t, rss in s.timeline),
    ]
    if s.errors:
        lines += ["", "Errors: " + "; ".join(s.errors)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="30 seconds of clicking")
    parser.add_argument("--tabs", type=int, default=100)
    parser.add_argument("--clickers", type=int, default=10)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between one tab's clicks")
    parser.add_argument("--rate", type=float, default=5.0, help="events a second posted")
    parser.add_argument("--probe", type=int, default=20, help="tabs measured in-process")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args()
    if args.quick:
        args.minutes = 0.5
    if not 0 < args.clickers <= args.tabs:
        parser.error(f"--clickers must be between 1 and --tabs ({args.tabs})")
    with tempfile.TemporaryDirectory(prefix="console-memory-") as tmp:
        state = Path(tmp)
        (state / "served").mkdir()
        (state / "probe").mkdir()
        s = asyncio.run(served(args, state / "served"))
        p = asyncio.run(probe(args, state / "probe"))
    report = markdown(args, s, p)
    print(report)
    if args.out is not None:
        args.out.write_text(report)
    growth_mb = (s.rss_rest - s.rss_tabs) / 1024
    if growth_mb >= 50 or p.clicked_kb > 100 or p.outbox_max > 64 * 1024:
        log("a bound was not met")
        sys.exit(1)


if __name__ == "__main__":
    main()
