#!/usr/bin/env python3
"""R22 at scale: a real `parlour console`, K tabs on the Agents page, the demo's event profile.

    .venv/bin/python benchmarks/console_scale.py                  # 20 tabs, 30 s, about 40 s
    .venv/bin/python benchmarks/console_scale.py --clients 50 --seconds 300   # the real profile
    .venv/bin/python benchmarks/console_scale.py --out benchmarks/results/console-scale.md

What it does (stdlib only; the server is this repository's `python -m parlour console`):

 1. Starts `parlour console --store memory --state-dir TMP` on a free port of 127.0.0.1 and
    warms it up with one page and stream (so first-request imports are not charged to tabs).
 2. Opens K tabs: each GETs `/` (its session cookie, and its stream URL from the shell HTML),
    then GETs that stream with the cookie and reads it until the end. Each tab counts the
    `datastar-patch-elements` events it receives and the writes (HTTP chunks: one chunk is one
    batch the server's writer took) that carry them, and applies every patch to its own model
    of the page: the `#agent-*` rows with their `data-state`, and the question cards.
 3. The producer: `run.started`, then 70 `agent.started` written on 70 open connections in the
    same loop iteration (the same millisecond), then --events (default 1000) events over
    --seconds (default 30; the measured profile is 5 minutes) with exponential gaps: agent
    progress, completions and failures, tool and model calls, questions (POST /api/questions)
    and answers to them (POST /api/questions/ID/answer).
 4. Reports per tab: patches per second (the most in any one-second bucket and in any sliding
    second, and the mean over the run), writes per second likewise; the server's RSS (from
    /proc/PID/status) before and after the tabs connected, per tab; and whether the page each
    tab ends up with, and a freshly opened page, equal GET /api/snapshot (agent states and
    pending question ids).

R22 wants at most about 10 patches a second per tab with the default 0.1 s window. A "write"
is one coalesced batch (what the window limits); a batch holds one patch per changed view or
changed list row, so the patch count is reported beside it.

Every wait is bounded (network reads, the settle phase, the whole run); the server is stopped
by PID (SIGTERM after the tabs closed, SIGKILL after 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import html
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"
AGENTS = 70
IO_TIMEOUT = 10.0
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
SETTLE_TIMEOUT = 10.0
QUESTION_TIMEOUT = 3600  # questions of the run never expire during it


def log(msg: str) -> None:
    print(f"[console_scale {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- a minimal HTTP/1.1 client (stdlib): one request per connection ---------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


def _request_bytes(
    method: str, path: str, port: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    head = await reader.readuntil(b"\r\n\r\n")
    first, *rest = head.decode("latin-1").split("\r\n")
    status = int(first.split(" ", 2)[1])
    headers: list[tuple[str, str]] = []
    for line in rest:
        if ":" in line:
            key, _, value = line.partition(":")
            headers.append((key.strip().lower(), value.strip()))
    return status, headers


async def _chunks(reader: asyncio.StreamReader):
    """The chunks of a chunked body, as they arrive (ends at the last chunk)."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    status, headers = await _read_head(reader)
    lengths = [v for k, v in headers if k == "content-length"]
    chunked = any(k == "transfer-encoding" and "chunked" in v for k, v in headers)
    if lengths:
        body = await reader.readexactly(int(lengths[0]))
    elif chunked:
        body = b"".join([c async for c in _chunks(reader)])
    else:
        body = await reader.read()
    return Reply(status, headers, body)


async def http(
    port: int,
    method: str,
    path: str,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    body = b"" if data is None else json.dumps(data).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else headers
    async with asyncio.timeout(IO_TIMEOUT):
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(_request_bytes(method, path, port, body, hdrs))
            await writer.drain()
            return await _read_reply(reader)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


# -- the page as a tab has it ---------------------------------------------------------------------


class Rows(HTMLParser):
    """The agent rows (id -> data-state) and question cards in a piece of HTML."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.agents: dict[str, str] = {}
        self.questions: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        ident = attr.get("id") or ""
        self.ids.add(ident)
        if "console-agent" in (attr.get("class") or "").split() and ident.startswith("agent-"):
            self.agents[ident] = attr.get("data-state") or ""
        if attr.get("data-question"):
            self.questions.append(attr["data-question"] or "")


_MARKS = ('id="agents"', "console-agent", 'id="questions"', "data-question")
"""What a patch with agent rows or question cards contains; other patches are skipped."""


@dataclass
class PageModel:
    """Agent rows and question cards, morphed by id as Datastar would."""

    agents: dict[str, str] = field(default_factory=dict)
    questions: set[str] = field(default_factory=set)
    strays: int = 0
    """Patches for a row or card the page does not show (Datastar could not morph them)."""

    def apply(self, markup: str) -> None:
        if not any(mark in markup for mark in _MARKS):
            return  # the log, results or progress: no rows or cards (and the costliest to parse)
        rows = Rows(markup)
        if "agents" in rows.ids:
            self.agents = dict(rows.agents)
        else:
            for ident, state in rows.agents.items():
                if ident not in self.agents:
                    self.strays += 1
                self.agents[ident] = state
        if "questions" in rows.ids:
            self.questions = set(rows.questions)
        elif not set(rows.questions) <= self.questions:
            self.strays += 1


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def dom_id(prefix: str, key: str) -> str:
    """As parlour.console.panels.dom_id (copied: this script does not import parlour)."""
    safe = _UNSAFE_ID.sub("_", key)
    if safe != key:
        value = 2166136261
        for byte in key.encode():
            value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
        safe += "-" + format(value, "x")
    return f"{prefix}-{safe}"


def expected(snapshot: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    agents = {dom_id("agent", a["name"]): a["state"] for a in snapshot["agents"]}
    return agents, {q["id"] for q in snapshot["questions"]}


# -- a tab ----------------------------------------------------------------------------------------


class Tab:
    """One browser tab on the Agents page: its stream, counted and applied to a page model."""

    def __init__(self, index: int, port: int) -> None:
        self.index = index
        self.port = port
        self.model = PageModel()
        self.patches: list[float] = []
        """Arrival time (monotonic) of each datastar-patch-elements event."""
        self.writes: list[float] = []
        """Arrival time of each chunk (one server write) carrying at least one patch."""
        self.events = 0
        self.pings = 0
        self.sizes: list[tuple[float, int]] = []
        """Arrival time and size (bytes) of each chunk."""
        self.first = asyncio.Event()
        self.ended = asyncio.Event()
        self.error: str | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._buffer = ""

    async def open(self) -> None:
        page = await http(self.port, "GET", "/")
        assert page.status == 200, page.status
        cookies = [c.split(";", 1)[0] for c in page.header("set-cookie")]
        text = html.unescape(page.body.decode())
        match = re.search(r"@get\(['\"]([^'\"]*/sse/[^'\"]+)['\"]", text)
        assert match is not None, "no stream URL in the shell"
        self.model.apply(text)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, self.port), IO_TIMEOUT
        )
        self._writer = writer
        headers = {
            "Accept": "text/event-stream",
            "Datastar-Request": "true",
            "Cookie": "; ".join(cookies),
        }
        writer.write(_request_bytes("GET", match.group(1), self.port, headers=headers))
        await writer.drain()
        status, _ = await asyncio.wait_for(_read_head(reader), IO_TIMEOUT)
        assert status == 200, f"the stream answered {status}"
        self._task = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            async for chunk in _chunks(reader):
                now = time.monotonic()
                self.sizes.append((now, len(chunk)))
                patches = self._parse(chunk.decode())
                if patches:
                    self.patches.extend([now] * patches)
                    self.writes.append(now)
                    self.first.set()
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            if self._writer is not None and not self._writer.is_closing():
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.ended.set()

    def _parse(self, text: str) -> int:
        blocks = (self._buffer + text).replace("\r\n", "\n").split("\n\n")
        self._buffer = blocks.pop()
        patches = 0
        for block in blocks:
            kind, elements = "", []
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.pings += 1
                elif line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data: elements "):
                    elements.append(line[len("data: elements ") :])
            if kind:
                self.events += 1
            if kind == "datastar-patch-elements":
                patches += 1
                self.model.apply("\n".join(elements))
        return patches

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, IO_TIMEOUT)


# -- rates ----------------------------------------------------------------------------------------


@dataclass
class Rate:
    bucket_max: int
    """The most in any one-second bucket [t0 + n, t0 + n + 1)."""
    sliding_max: int
    """The most in any one-second interval."""
    mean: float
    """Per second over the run."""


def rate(times: list[float], t0: float, t1: float) -> Rate:
    inside = sorted(t for t in times if t0 <= t <= t1)
    buckets: dict[int, int] = {}
    for t in inside:
        buckets[int(t - t0)] = buckets.get(int(t - t0), 0) + 1
    sliding, lo = 0, 0
    for hi, t in enumerate(inside):  # two pointers: each time enters and leaves once
        while inside[lo] <= t - 1.0:
            lo += 1
        sliding = max(sliding, hi - lo + 1)
    return Rate(max(buckets.values(), default=0), sliding, len(inside) / max(t1 - t0, 1e-9))


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


class Server:
    def __init__(self, state_dir: Path, python: str) -> None:
        self.port = free_port()
        self.log_path = state_dir / "server.log"
        env = dict(os.environ, PARLOUR_SECRET=secrets.token_hex(32))
        for name in ("PARLOUR_DATASTAR_JS", "PARLOUR_CONSOLE_TOKEN", "PARLOUR_BUS"):
            env.pop(name, None)
        command = [
            python,
            "-m",
            "parlour",
            "console",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--store",
            "memory",
            "--state-dir",
            str(state_dir),
            "--log-level",
            "warning",
        ]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the console exited with {self.proc.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(OSError, TimeoutError):
                if (await http(self.port, "GET", "/api/snapshot")).status == 200:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the console did not answer within {START_TIMEOUT:g} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"the console ignored SIGTERM for {STOP_TIMEOUT:g} s; SIGKILL")
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        return self.proc.returncode


# -- the producer ---------------------------------------------------------------------------------


@dataclass
class Produced:
    events: int = 0
    errors: list[str] = field(default_factory=list)
    burst_ms: float = 0.0
    """From the first burst request written to the last answer read."""
    burst_write_ms: float = 0.0
    """How long writing the 70 burst requests took (all in one loop iteration)."""
    lag_max_ms: float = 0.0
    """How late the producer sent an event, at worst, against its schedule."""
    t_burst: float = 0.0
    t_end: float = 0.0


def names() -> list[str]:
    return [f"agent-{i:02d}" for i in range(AGENTS)]


async def burst(port: int, produced: Produced) -> None:
    """70 `agent.started`, written on 70 open connections within one loop iteration."""
    async with asyncio.timeout(IO_TIMEOUT):
        conns = await asyncio.gather(*(asyncio.open_connection(HOST, port) for _ in names()))
    requests = [
        _request_bytes(
            "POST",
            "/api/events",
            port,
            json.dumps(
                {"topic": "agent.started", "source": name, "payload": {"task": f"task of {name}"}}
            ).encode(),
            {"Content-Type": "application/json"},
        )
        for name in names()
    ]
    start = time.monotonic()
    produced.t_burst = start
    for (_, writer), data in zip(conns, requests, strict=True):
        writer.write(data)
    produced.burst_write_ms = (time.monotonic() - start) * 1000
    try:
        async with asyncio.timeout(IO_TIMEOUT):
            replies = await asyncio.gather(*(_read_reply(reader) for reader, _ in conns))
    finally:
        for _, writer in conns:
            writer.close()
    produced.burst_ms = (time.monotonic() - start) * 1000
    for reply in replies:
        if reply.status == 202:
            produced.events += 1
        else:
            produced.errors.append(f"burst: {reply.status} {reply.body[:80]!r}")


async def profile(port: int, count: int, seconds: float, seed: int, produced: Produced) -> None:
    """`count` events over `seconds`, exponential gaps, a seeded mix."""
    rng = random.Random(seed)
    gaps = [rng.expovariate(1.0) for _ in range(count)]
    scale = seconds / sum(gaps)
    pending: list[str] = []
    start = time.monotonic()
    due = start
    for step, gap in enumerate(gaps):
        due += gap * scale
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        produced.lag_max_ms = max(produced.lag_max_ms, -delay * 1000)
        name = rng.choice(names())
        roll = rng.random()
        if roll < 0.10:
            options = ["yes", "no"] if rng.random() < 0.5 else None
            body = {
                "agent": name,
                "question": f"Go on with step {step}?",
                "options": options,
                "timeout": QUESTION_TIMEOUT,
            }
            reply = await http(port, "POST", "/api/questions", body)
            if reply.status == 201:
                pending.append(reply.json()["id"])
        elif roll < 0.16 and pending:
            qid = pending.pop(rng.randrange(len(pending)))
            answer = rng.choice(["yes", "no"])
            reply = await http(port, "POST", f"/api/questions/{qid}/answer", {"answer": answer})
            if reply.status == 400:  # a free-text question: any answer will do
                reply = await http(port, "POST", f"/api/questions/{qid}/answer", {"answer": "ok"})
        else:
            topic, payload = rng.choices(
                [
                    ("agent.progress", {"message": f"step {step}"}),
                    ("tool.call", {"tool": "grep", "step": step}),
                    ("model.call", {"model": "small", "tokens": step}),
                    ("agent.completed", {"summary": f"done at step {step}"}),
                    ("agent.failed", {"error": f"failed at step {step}"}),
                ],
                weights=[45, 25, 6, 12, 6],
            )[0]
            reply = await http(
                port, "POST", "/api/events", {"topic": topic, "source": name, "payload": payload}
            )
        if reply.status in (200, 201, 202):
            produced.events += 1
        else:
            produced.errors.append(f"step {step}: {reply.status} {reply.body[:80]!r}")
    produced.t_end = time.monotonic()


# -- the run --------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit,
    }


async def run(args: argparse.Namespace, state_dir: Path) -> str:
    server = Server(state_dir, args.python)
    tabs: list[Tab] = []
    try:
        await server.wait_ready()
        pid = server.proc.pid
        warm = Tab(-1, server.port)  # first-request imports and caches, not charged to tabs
        await warm.open()
        await asyncio.wait_for(warm.first.wait(), IO_TIMEOUT)
        await warm.close()
        await asyncio.sleep(0.5)
        rss_before = rss_kb(pid)

        tabs = [Tab(i, server.port) for i in range(args.clients)]
        for tab in tabs:  # one after another: each tab's page and stream, like a person would
            await tab.open()
        async with asyncio.timeout(IO_TIMEOUT):
            await asyncio.gather(*(tab.first.wait() for tab in tabs))
        await asyncio.sleep(0.5)
        rss_connected = rss_kb(pid)
        log(f"{len(tabs)} tabs connected; producing {args.events} events over {args.seconds:g} s")

        produced = Produced()
        reply = await http(
            server.port,
            "POST",
            "/api/events",
            {"topic": "run.started", "source": "bench", "payload": {"total": AGENTS}},
        )
        produced.events += reply.status == 202
        await burst(server.port, produced)
        await profile(server.port, args.events, args.seconds, args.seed, produced)

        # Settle: every tab's page equals the snapshot (bounded), then a fresh page is checked.
        snapshot = (await http(server.port, "GET", "/api/snapshot")).json()
        want = expected(snapshot)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            if all((t.model.agents, t.model.questions) == want for t in tabs):
                break
            await asyncio.sleep(0.05)
        settled = time.monotonic()
        fresh_page = await http(server.port, "GET", "/")
        fresh = Rows(html.unescape(fresh_page.body.decode()))
        rss_after = rss_kb(pid)
        t0, t1 = produced.t_burst, produced.t_end
        tab_rates = [(rate(t.patches, t0, t1), rate(t.writes, t0, t1)) for t in tabs]
        burst_rates = [(rate(t.patches, t0, t0 + 1.0), rate(t.writes, t0, t0 + 1.0)) for t in tabs]
        report = {
            "machine": machine(),
            "args": vars(args) | {"state_dir": None},
            "server": {"pid": pid, "port": server.port},
            "produced": produced,
            "snapshot": snapshot,
            "want": want,
            "tabs": tabs,
            "tab_rates": tab_rates,
            "burst_rates": burst_rates,
            "fresh": fresh,
            "rss": (rss_before, rss_connected, rss_after),
            "settle_s": settled - t1,
        }
        return markdown(report)
    finally:
        for tab in tabs:
            await tab.close()
        code = server.stop()
        if code not in (0, -signal.SIGTERM):
            log(f"the console exited with {code}:\n{server.tail()}")


def markdown(r: dict[str, Any]) -> str:
    args, produced, tabs = r["args"], r["produced"], r["tabs"]
    want_agents, want_questions = r["want"]
    snapshot = r["snapshot"]
    rss_before, rss_connected, rss_after = r["rss"]
    k = len(tabs)
    per_tab = (rss_connected["VmRSS"] - rss_before["VmRSS"]) / max(k, 1)
    duration = produced.t_end - produced.t_burst

    def row(label: str, values: list[float], unit: str = "", fmt: str = "{:.1f}") -> str:
        if not values:
            return f"| {label} | - | - | - |"
        cells = [fmt.format(v) + unit for v in (max(values), sum(values) / len(values))]
        return f"| {label} | {cells[0]} | {cells[1]} | {fmt.format(min(values))}{unit} |"

    patches = [p for p, _ in r["tab_rates"]]
    writes = [w for _, w in r["tab_rates"]]
    bpatches = [p for p, _ in r["burst_rates"]]
    bwrites = [w for _, w in r["burst_rates"]]
    matching = sum((t.model.agents, t.model.questions) == r["want"] for t in tabs)
    fresh = r["fresh"]
    fresh_ok = fresh.agents == want_agents and set(fresh.questions) == want_questions
    fresh_once = len(fresh.questions) == len(set(fresh.questions))
    errors = [t.error for t in tabs if t.error]
    strays = sum(t.model.strays for t in tabs)
    received = [
        sum(n for t, n in tab.sizes if produced.t_burst <= t <= produced.t_end) for tab in tabs
    ]
    largest = [max((n for _, n in tab.sizes), default=0) for tab in tabs]
    states: dict[str, int] = {}
    for state in want_agents.values():
        states[state] = states.get(state, 0) + 1
    window = snapshot["settings"]["window"]
    worst_sliding = max((p.sliding_max for p in patches), default=0)
    worst_writes = max((w.sliding_max for w in writes), default=0)
    lines = [
        f"# parlour console at scale (R22), {r['machine']['date']}",
        "",
        f"`benchmarks/console_scale.py --clients {args['clients']} --seconds {args['seconds']:g} "
        f"--events {args['events']} --seed {args['seed']}`; {r['machine']['cpu']}, "
        f"{r['machine']['cores']} cores, Python {r['machine']['python']}, "
        f"commit {r['machine']['commit']}; server `parlour console --store memory` "
        f"(journal in a temp dir), coalescing window {window:g} s.",
        "",
        "## Load",
        "",
        "| | |",
        "|---|---|",
        f"| tabs (Agents page, one stream each) | {k} |",
        f"| events accepted / errors | {produced.events} / {len(produced.errors)} |",
        f"| burst: 70 `agent.started` written in | {produced.burst_write_ms:.2f} ms "
        f"(all answered {produced.burst_ms:.0f} ms after the first was written) |",
        f"| then | {args['events']} mixed events over {args['seconds']:g} s "
        f"({args['events'] / args['seconds']:.1f}/s; the producer was late by "
        f"{produced.lag_max_ms:.0f} ms at worst) |",
        f"| run measured over | {duration:.1f} s (from the burst to the last event) |",
        f"| server events folded (snapshot) | {snapshot['events_seen']} |",
        "",
        "## Patches per tab (from the burst to the last event)",
        "",
        "A *patch* is one `datastar-patch-elements` event; a *write* is one HTTP chunk, one batch "
        "the server's writer took after its coalescing window (it holds one patch per changed "
        "view or list row). Columns: the worst tab, the mean over tabs, the best tab.",
        "",
        "| per tab | worst | mean | best |",
        "|---|---|---|---|",
        row("patches/s, most in a 1 s bucket", [p.bucket_max for p in patches], "", "{:.0f}"),
        row("patches/s, most in any sliding 1 s", [p.sliding_max for p in patches], "", "{:.0f}"),
        row("patches/s, mean over the run", [p.mean for p in patches]),
        row("writes/s, most in a 1 s bucket", [w.bucket_max for w in writes], "", "{:.0f}"),
        row("writes/s, most in any sliding 1 s", [w.sliding_max for w in writes], "", "{:.0f}"),
        row("writes/s, mean over the run", [w.mean for w in writes]),
        row("patches in the burst's first second", [p.bucket_max for p in bpatches], "", "{:.0f}"),
        row("writes in the burst's first second", [w.bucket_max for w in bwrites], "", "{:.0f}"),
        row("patches received in all", [len(t.patches) for t in tabs], "", "{:.0f}"),
        row("KB/s received, mean over the run", [b / 1024 / duration for b in received]),
        row("largest write, KB", [m / 1024 for m in largest]),
        "",
        "## Memory (server RSS, /proc/PID/status)",
        "",
        "| | VmRSS | VmHWM |",
        "|---|---|---|",
        f"| before the tabs (after one warm-up tab) | {rss_before['VmRSS'] / 1024:.1f} MB "
        f"| {rss_before['VmHWM'] / 1024:.1f} MB |",
        f"| {k} tabs connected | {rss_connected['VmRSS'] / 1024:.1f} MB "
        f"| {rss_connected['VmHWM'] / 1024:.1f} MB |",
        f"| after the run | {rss_after['VmRSS'] / 1024:.1f} MB "
        f"| {rss_after['VmHWM'] / 1024:.1f} MB |",
        f"| **per tab** (connected - before) / {k} | **{per_tab:.0f} KB** | |",
        "",
        "## Final state against GET /api/snapshot",
        "",
        "| | |",
        "|---|---|",
        f"| snapshot | {len(want_agents)} agents "
        f"({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}), "
        f"{len(want_questions)} pending questions |",
        f"| tabs whose page equals the snapshot | {matching}/{k} "
        f"(settled {r['settle_s'] * 1000:.0f} ms after the last event) |",
        f"| a page opened afterwards equals it | {'yes' if fresh_ok else 'NO'}"
        f" ({len(fresh.agents)} rows, {len(fresh.questions)} cards"
        f"{', each once' if fresh_once else ', DUPLICATE cards'}) |",
        f"| patches for rows the page did not show | {strays} |",
        f"| stream errors | {len(errors)} |",
        "",
        "## Verdict",
        "",
        f"* R22 patches ≤ ~10/s per tab: writes (coalesced batches) peak at {worst_writes}/s "
        f"({'within' if worst_writes <= 11 else 'OVER'} the window's bound); patch events "
        f"peak at {worst_sliding}/s "
        f"({'within' if worst_sliding <= 11 else 'over'} 10/s: a batch carries one patch per "
        "changed view or row).",
        f"* Memory per tab: {per_tab:.0f} KB (conversation, session, stream and its queue).",
        f"* Final UI = snapshot: {matching}/{k} streams, fresh page {'yes' if fresh_ok else 'NO'}.",
    ]
    if produced.errors or errors:
        lines += ["", "Errors:", "", *(f"* {e}" for e in (produced.errors + errors)[:20])]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clients", type=int, default=20, help="tabs on the Agents page (20)")
    ap.add_argument("--seconds", type=float, default=30.0, help="the profile's duration (30)")
    ap.add_argument("--events", type=int, default=1000, help="mixed events after the burst")
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--python", default=sys.executable, help="the server's interpreter")
    ap.add_argument("--out", default=None, help="also write the markdown summary here")
    args = ap.parse_args()
    if not (1 <= args.clients <= 2000 and 0 < args.seconds <= 3600 and 0 < args.events <= 10**5):
        sys.exit("console_scale: --clients 1..2000, --seconds up to 3600, --events up to 100000")
    limit = args.seconds + 120 + args.clients * 0.5
    with tempfile.TemporaryDirectory(prefix="parlour-console-scale-") as tmp:

        async def bounded() -> str:
            async with asyncio.timeout(limit):
                return await run(args, Path(tmp))

        text = asyncio.run(bounded())
    print(text, end="")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
