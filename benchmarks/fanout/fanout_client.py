"""Load client for the fan-out and idle-memory benchmarks (raw asyncio sockets, uvloop).

    python fanout_client.py --kind floor   --port P --server-pid PID --steps 1000,5000,10000
    python fanout_client.py --kind parlour --port P --server-pid PID --steps 1000,5000,10000
    python fanout_client.py --kind counter --port P --server-pid PID --publishes 0

Adapted from `bench-baseline/sse_client.py` (our own floor client): same raw-socket idea,
but one process drives a whole ramp, streams are `asyncio.Protocol`s (one callback per read,
no task per stream, so the client stays far cheaper per delivery than the servers), and the
publish is sent by the client itself so every time is on one `perf_counter` clock.

A viewer is, per `--kind`:
  floor    one SSE stream `GET /sse` (the raw ASGI floor: no page, no state);
  parlour  a shell `GET /` (cookie + conversation id from the page), then the conversation's
           stream `GET /_parlour/sse/CID` with that cookie: what a browser tab does;
  counter  the same as parlour, against `examples/counter.py` (idle memory only).
A viewer counts as open at its stream's first complete event. With `--gzip` a parlour
viewer's stream request says `Accept-Encoding: gzip` (as a browser's does): the client then
takes the chunked body apart and decodes it, batch by batch, before it looks for the tick.

For each step K (ramping up on one server process): open viewers up to K, rest, read the
server's RSS (its process tree, psutil), then `--publishes` times: publish one update and
time until every open stream has it. "Has it" is, for the floor, one more
`datastar-patch-elements` event than before the publish; for parlour, a patch whose
`data-tick` reached the published N. Prints one JSON line. Bounded: every wait has a
timeout and the whole run `--max-seconds`. Connects to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import sys
import time
import zlib
from typing import Any

import psutil

HOST = "127.0.0.1"
CID_RE = re.compile(rb"/_parlour/sse/([A-Za-z0-9_-]+)")
TICK_RE = re.compile(rb'data-tick="(\d+)"')
FLOOR_EVENT = b"datastar-patch-elements"


class Tracker:
    """What the publish being timed waits for: how many streams have it, and when."""

    def __init__(self) -> None:
        self.expected = 0
        self.done = 0
        self.arrivals: list[float] = []
        self.all_done: asyncio.Future[None] | None = None

    def arrived(self) -> None:
        self.arrivals.append(time.perf_counter())
        self.done += 1
        done = self.all_done
        if self.done >= self.expected and done is not None and not done.done():
            done.set_result(None)


class Stream(asyncio.Protocol):
    """One SSE response read with callbacks: `value` is the count (floor) or tick (parlour)."""

    def __init__(self, tracker: Tracker, count_mode: bool) -> None:
        self.tracker = tracker
        self.count_mode = count_mode
        self.value = 0
        self.target: int | None = None
        self.buf = b""
        self.head = True
        self.status = 0
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.decoder: Any = None  # a gzip decoder, when the response is gzipped
        self.chunked = b""  # undecoded chunked framing (gzip responses only)
        self.wire_bytes = 0  # body bytes as they came (compressed, if they are)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self.decoder is not None:
            self._gzipped(data)
            return
        buf = self.buf + data
        if self.head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            line = buf[: buf.find(b"\r\n")]
            self.status = int(line.split(b" ", 2)[1])
            self.head = False
            if b"\r\ncontent-encoding: gzip" in buf[:end].lower():
                self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            buf = buf[end + 4 :]
            if self.status != 200 and not self.ready.done():
                self.ready.set_exception(RuntimeError(f"stream status {self.status}"))
            if self.decoder is not None:
                self.buf = b""  # from here on: decoded text not yet read
                self._gzipped(buf)
                return
        # Complete events end with a blank line. Chunked framing sits between events (one
        # event or batch per chunk), so it never splits what the patterns look for.
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            self.buf = buf
            return
        region, self.buf = buf[: cut + 2], buf[cut + 2 :]
        self._events(region)

    def _gzipped(self, data: bytes) -> None:
        """Take the chunked framing apart, decode the gzip body, then read the events."""
        framed = self.chunked + data
        text = b""
        while True:
            size_end = framed.find(b"\r\n")
            if size_end < 0:
                break
            size = int(framed[:size_end].split(b";")[0], 16)
            if len(framed) < size_end + 2 + size + 2:
                break
            body = framed[size_end + 2 : size_end + 2 + size]
            self.wire_bytes += size
            text += self.decoder.decompress(body)
            framed = framed[size_end + 2 + size + 2 :]
        self.chunked = framed
        buf = self.buf + text
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            self.buf = buf
            return
        region, self.buf = buf[: cut + 2], buf[cut + 2 :]
        self._events(region)

    def _events(self, region: bytes) -> None:
        if self.count_mode:
            self.value += region.count(FLOOR_EVENT)
        else:
            ticks = TICK_RE.findall(region)
            if ticks:
                self.value = max(self.value, *(int(t) for t in ticks))
        if not self.ready.done():
            self.ready.set_result(None)
        if self.target is not None and self.value >= self.target:
            self.target = None
            self.tracker.arrived()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("stream closed before its first event"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class ShellConn:
    """One keep-alive connection for shell GETs (Content-Length bodies only)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, list[str], bytes]:
        """GET `path`; once more on a new connection if the server closed an idle one."""
        for attempt in (0, 1):
            try:
                return await self._get(path)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _get(self, path: str) -> tuple[int, list[str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nAccept: text/html\r\n\r\n".encode()
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        cookies: list[str] = []
        length = 0
        close = False
        for line in head[1:]:
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip()
            if key == "set-cookie":
                cookies.append(value.split(";", 1)[0])
            elif key == "content-length":
                length = int(value)
            elif key == "connection" and value.lower() == "close":
                close = True
        body = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, cookies, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.kind = args.kind
        self.tracker = Tracker()
        self.streams: list[Stream] = []
        self.errors: list[str] = []

    async def open_viewer(self, shell: ShellConn) -> Stream:
        loop = asyncio.get_running_loop()
        headers = f"Host: {HOST}:{self.args.port}\r\nAccept: text/event-stream\r\n"
        if self.args.gzip and self.kind != "floor":
            headers += "Accept-Encoding: gzip, deflate, br, zstd\r\n"
        if self.kind == "floor":
            path = "/sse"
        else:
            status, cookies, body = await shell.get("/")
            if status != 200:
                raise RuntimeError(f"shell status {status}")
            found = CID_RE.search(body)
            if found is None:
                raise RuntimeError("no conversation id in the shell")
            path = f"/_parlour/sse/{found.group(1).decode()}"
            headers += "Datastar-Request: true\r\n"
            if cookies:
                headers += "Cookie: " + "; ".join(cookies) + "\r\n"
        _, stream = await loop.create_connection(
            lambda: Stream(self.tracker, self.kind == "floor"), HOST, self.args.port
        )
        assert stream.transport is not None
        stream.transport.write(f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode())
        try:
            await asyncio.wait_for(stream.ready, self.args.timeout)
        except BaseException:
            stream.close()
            raise
        return stream

    async def open_many(self, n: int, deadline: float) -> list[Stream]:
        opened: list[Stream] = []
        todo = iter(range(n))

        async def worker() -> None:
            shell = ShellConn(self.args.port)
            try:
                for _ in todo:
                    if time.monotonic() > deadline or len(self.errors) > 100:
                        return
                    try:
                        opened.append(await self.open_viewer(shell))
                    except Exception as exc:
                        self.errors.append(repr(exc)[:200])
                        shell.close()
            finally:
                shell.close()

        await asyncio.gather(*(worker() for _ in range(min(n, self.args.conc))))
        return opened

    async def publish(self, n: int) -> dict[str, Any]:
        """Publish once; wait (bounded) until every open stream has it; time it."""
        args = self.args
        alive = [s for s in self.streams if not s.closed]
        tr = self.tracker
        tr.expected, tr.done, tr.arrivals = len(alive), 0, []
        tr.all_done = asyncio.get_running_loop().create_future()
        for s in alive:
            s.target = s.value + 1 if self.kind == "floor" else n
        path = (
            f"/publish?n=1&size={args.size}" if self.kind == "floor" else f"/_bench/publish?n={n}"
        )
        pub = ShellConn(args.port)
        if args.profile:
            await pub.get("/_bench/profile?op=start")
        pid = args.server_pid
        gc0 = await self.gc_stats(pub)
        cpu0, cli0 = server_cpu(pid), time.process_time()
        wait0, cwait0 = waited(pid), waited(os.getpid())
        t0 = time.perf_counter()
        try:
            status, _, _ = await pub.get(path)
            if status != 200:
                raise RuntimeError(f"publish status {status}")
            await asyncio.wait_for(tr.all_done, args.publish_timeout)
            complete = True
        except TimeoutError:
            complete = False
        t1 = time.perf_counter()
        srv_cpu, cli_cpu = server_cpu(pid) - cpu0, time.process_time() - cli0
        srv_wait, cli_wait = waited(pid) - wait0, waited(os.getpid()) - cwait0
        try:
            gc1 = await self.gc_stats(pub)
            if args.profile:
                await pub.get("/_bench/profile?op=stop")
        finally:
            pub.close()
        for s in alive:
            s.target = None
        lat = sorted(t - t0 for t in tr.arrivals)
        span = (lat[-1] if lat else t1 - t0) or 1e-9
        return {
            "n": n,
            "streams": len(alive),
            "received": len(lat),
            "complete": complete,
            "all_done_s": span,
            "deliveries_per_s": len(lat) / span,
            "lat_p50_ms": 1000 * pct(lat, 0.50),
            "lat_p99_ms": 1000 * pct(lat, 0.99),
            "lat_max_ms": 1000 * lat[-1] if lat else None,
            "srv_cpu_s": srv_cpu,
            "srv_cpu_us_per_delivery": 1e6 * srv_cpu / max(1, len(lat)),
            # Time the server (client) was ready to run but another process had its core:
            # a publish others disturbed shows it here, whatever its deliveries/s say.
            "srv_wait_ms": 1000 * srv_wait,
            "cli_wait_ms": 1000 * cli_wait,
            "cli_cpu_frac": cli_cpu / (t1 - t0),
            **(
                {
                    "gc_s": [b - a for a, b in zip(gc0[0], gc1[0], strict=True)],
                    "gc_passes": [b - a for a, b in zip(gc0[1], gc1[1], strict=True)],
                }
                if gc0 and gc1
                else {}
            ),
        }

    async def gc_stats(self, conn: ShellConn) -> tuple[list[float], list[int]] | None:
        """The parlour server's collector totals (seconds, passes per generation)."""
        if self.kind == "floor":
            return None
        status, _, body = await conn.get("/_bench/stats")
        if status != 200:
            return None
        data = json.loads(body)
        return data["gc_seconds"], data["gc_passes"]

    async def run(self) -> dict[str, Any]:
        args = self.args
        pid = args.server_pid
        deadline = time.monotonic() + args.max_seconds
        # Warm-up: a few viewers opened and closed, so lazy imports and caches are in the base.
        warm = await self.open_many(args.warm, deadline)
        for s in warm:
            s.close()
        await asyncio.sleep(args.settle_base)
        base = server_rss(pid)
        out: dict[str, Any] = {"kind": self.kind, "rss_base_MB": base / 2**20, "steps": []}
        tick = 0
        for k in args.steps:
            t0 = time.monotonic()
            new = await self.open_many(k - len(self.streams), deadline)
            t_open = time.monotonic() - t0
            self.streams += new
            await asyncio.sleep(args.settle)
            rss = server_rss(pid)
            alive = sum(1 for s in self.streams if not s.closed)
            c0, w0 = server_cpu(pid), time.monotonic()
            await asyncio.sleep(args.idle_window)
            idle = (server_cpu(pid) - c0) / (time.monotonic() - w0)
            step: dict[str, Any] = {
                "k": k,
                "alive": alive,
                "open_s": t_open,
                "opens_per_s": len(new) / t_open if t_open else None,
                "rss_MB": rss / 2**20,
                "kb_per_viewer": (rss - base) / max(1, alive) / 1024,
                "idle_cpu_frac": idle,
                "errors": len(self.errors),
                "error_examples": sorted(set(self.errors))[:3],
                "publishes": [],
            }
            for _ in range(args.publishes if alive else 0):
                if time.monotonic() > deadline:
                    break
                tick += 1
                step["publishes"].append(await self.publish(tick))
                await asyncio.sleep(args.between)
            out["steps"].append(step)
            print(
                json.dumps({"progress": {**step, "publishes": len(step["publishes"])}}),
                file=sys.stderr,
                flush=True,
            )
            if alive < 0.95 * k:
                out["stopped"] = f"only {alive} of {k} viewers open"
                break
        for s in self.streams:
            s.close()
        await asyncio.sleep(0.5)
        return out


def tree(pid: int) -> list[psutil.Process]:
    p = psutil.Process(pid)
    return [p, *p.children(recursive=True)]


def server_rss(pid: int) -> int:
    return sum(q.memory_info().rss for q in tree(pid))


def server_cpu(pid: int) -> float:
    """CPU seconds of the server's process tree, to the nanosecond where Linux tells it.

    /proc/PID/task/TID/schedstat counts run time in ns; psutil's cpu_times only in clock
    ticks (10 ms), too coarse for one update to 1,000 viewers (about 15 ms on the floor).
    """
    total = 0.0
    for q in tree(pid):
        try:
            ns = 0
            for tid in os.listdir(f"/proc/{q.pid}/task"):
                with open(f"/proc/{q.pid}/task/{tid}/schedstat") as fh:
                    ns += int(fh.read().split()[0])
            total += ns / 1e9
        except (OSError, ValueError):
            t = q.cpu_times()
            total += t.user + t.system
    return total


def waited(pid: int) -> float:
    """Seconds the process's threads have waited on a run queue (schedstat's second field):
    runnable, but the core was running something else."""
    total = 0
    for q in tree(pid) if pid != os.getpid() else [psutil.Process(pid)]:
        try:
            for tid in os.listdir(f"/proc/{q.pid}/task"):
                with open(f"/proc/{q.pid}/task/{tid}/schedstat") as fh:
                    total += int(fh.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * p))]


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"need {need} file descriptors, the hard limit is {hard}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=["floor", "parlour", "counter"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--steps", default="1000,5000,10000")
    ap.add_argument("--publishes", type=int, default=3, help="timed publishes per step")
    ap.add_argument("--size", type=int, default=200, help="floor event size, bytes")
    ap.add_argument("--conc", type=int, default=50, help="viewers opened concurrently")
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--settle-base", type=float, default=3.0)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--idle-window", type=float, default=2.0)
    ap.add_argument("--between", type=float, default=1.0, help="rest between publishes, s")
    ap.add_argument("--timeout", type=float, default=30.0, help="per shell/stream open, s")
    ap.add_argument("--publish-timeout", type=float, default=60.0)
    ap.add_argument("--max-seconds", type=float, default=400.0)
    ap.add_argument("--profile", action="store_true", help="cProfile each publish (server)")
    ap.add_argument(
        "--gzip", action="store_true", help="parlour streams: send Accept-Encoding: gzip"
    )
    args = ap.parse_args()
    args.steps = [int(s) for s in args.steps.split(",") if s]
    raise_nofile(max(args.steps) + args.conc + 200)

    async def go() -> dict[str, Any]:
        client = Client(args)
        try:
            return await asyncio.wait_for(client.run(), args.max_seconds + 30)
        finally:
            for s in client.streams:
                s.close()

    import uvloop

    print(json.dumps(uvloop.run(go())), flush=True)


if __name__ == "__main__":
    main()
