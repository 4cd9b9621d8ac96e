#!/usr/bin/env python3
"""Bytes on the wire of the console's Agents page under the demo swarm, gzipped and not.

    python3 benchmarks/compression_bench.py                   # 10 minutes (the docs figure)
    python3 benchmarks/compression_bench.py --minutes 1       # the quick variant
    python3 benchmarks/compression_bench.py --python VENV/bin/python --out DIR

Starts `parlour console --demo` (memory store, a fresh state folder) on 127.0.0.1 in a
subprocess, opens the Agents page twice, as two tabs of two fresh sessions, and reads both
streams side by side for `--minutes`: one asks `Accept-Encoding: gzip, deflate, br, zstd` (what
Chromium sends), the other asks nothing. Both see the same swarm at the same time. Counted per
tab: the body bytes as they came (after the chunked framing), the bytes on the socket (headers
and framing too), the batches (one chunk each) and the events; the gzip tab's body is decoded
batch by batch (each must decode at once, as a browser needs) and as a whole (a valid gzip
member once the stream is cut: no trailer is expected then).

CPU: the server's CPU seconds over the run (its process, /proc), for context; and what the
compression itself costs per delivery, measured in-process on the plain tab's captured
batches: every batch written by `GzipStream` for `--replay-streams` streams that share a
`SharedDeflate` (a shared view's patch, an event without an `id:`, counts as shared), against
the same batches sent as they are. No figure is asserted; `--out` gets `compression.json`
and `compression-summary.md`.

Safety: binds 127.0.0.1 only; the console is stopped by PID (SIGTERM, SIGKILL after 10 s);
every wait is bounded. Stdlib only, apart from parlour itself for the replay (`--python` runs
the console; the replay imports parlour from this repository's `src/`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"
CID_RE = re.compile(rb"/_parlour/sse/([A-Za-z0-9_-]+)")
CHROMIUM_ACCEPT = "gzip, deflate, br, zstd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes, bytes]:
    """One GET on a fresh connection: (status, head, body); bodies of the shell pages only."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/html\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)[0]
    return status, head, body


def dechunk(framed: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Chunked framing taken apart: (all bodies, each body, what is left incomplete)."""
    bodies: list[bytes] = []
    while True:
        end = framed.find(b"\r\n")
        if end < 0:
            break
        size = int(framed[:end].split(b";")[0], 16)
        if size == 0 or len(framed) < end + 2 + size + 2:
            break
        bodies.append(framed[end + 2 : end + 2 + size])
        framed = framed[end + 2 + size + 2 :]
    return b"".join(bodies), bodies, framed


class Tab(threading.Thread):
    """One tab: the Agents page of a fresh session, its stream read for `seconds`."""

    def __init__(self, port: int, seconds: float, accept: str | None) -> None:
        super().__init__(daemon=True)
        self.port, self.seconds, self.accept = port, seconds, accept
        self.socket_bytes = 0
        self.head = b""
        self.batches: list[bytes] = []  # bodies as they came
        self.text = b""  # decoded
        self.undecodable = 0  # batches that did not decode at once (must stay 0)
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            self.error = repr(exc)

    def _run(self) -> None:
        status, head, body = get(self.port, "/")
        if status != 200:
            raise RuntimeError(f"the Agents page answered {status}")
        cookies = [
            line.split(b":", 1)[1].strip().split(b";")[0].decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"set-cookie:")
        ]
        found = CID_RE.search(body)
        if found is None:
            raise RuntimeError("no stream address in the Agents page")
        request = (
            f"GET /_parlour/sse/{found.group(1).decode()} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Accept: text/event-stream\r\nDatastar-Request: true\r\n"
            f"Cookie: {'; '.join(cookies)}\r\n"
        )
        if self.accept:
            request += f"Accept-Encoding: {self.accept}\r\n"
        decoder = None
        framed = b""
        deadline = time.monotonic() + self.seconds
        with socket.create_connection((HOST, self.port), timeout=10) as s:
            s.sendall((request + "\r\n").encode())
            s.settimeout(0.5)
            while time.monotonic() < deadline:
                try:
                    data = s.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                self.socket_bytes += len(data)
                if not self.head:
                    framed += data
                    if b"\r\n\r\n" not in framed:
                        continue
                    self.head, _, framed = framed.partition(b"\r\n\r\n")
                    if b"content-encoding: gzip" in self.head.lower():
                        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    framed += data
                _, bodies, framed = dechunk(framed)
                for chunk in bodies:
                    self.batches.append(chunk)
                    text = chunk if decoder is None else decoder.decompress(chunk)
                    if not text.endswith(b"\n\n"):
                        self.undecodable += 1
                    self.text += text

    @property
    def body_bytes(self) -> int:
        return sum(len(b) for b in self.batches)

    @property
    def events(self) -> int:
        return self.text.count(b"event: ")

    def summary(self) -> dict[str, Any]:
        return {
            "accept_encoding": self.accept,
            "content_encoding": "gzip" if b"content-encoding: gzip" in self.head.lower() else None,
            "socket_bytes": self.socket_bytes,
            "body_bytes": self.body_bytes,
            "decoded_bytes": len(self.text),
            "batches": len(self.batches),
            "events": self.events,
            "heartbeats": self.text.count(b": ping\n"),
            "undecodable_batches": self.undecodable,
            "error": self.error,
        }


def server_cpu(pid: int) -> float:
    """CPU seconds of process `pid` and its threads so far (schedstat: nanoseconds)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
            total += int(fh.read().split()[0])
    return total / 1e9


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def replay(batches: list[bytes], streams: int) -> dict[str, Any]:
    """CPU per delivery of the captured batches, sent as they are and gzipped for `streams`
    streams sharing one `SharedDeflate` (in-process, this repository's parlour)."""
    sys.path.insert(0, str(REPO / "src"))
    from parlour.wire.compress import GzipStream, SharedDeflate

    shaped: list[tuple[list[bytes], list[bool]]] = []
    for batch in batches:
        events = [e + b"\n\n" for e in batch.split(b"\n\n") if e]
        flags = [b"\nid: " not in e and not e.startswith(b":") for e in events]
        shaped.append((events, flags))

    def plain() -> int:
        sent = 0
        for events, _ in shaped:
            for _ in range(streams):
                sent += len(b"".join(events))
        return sent

    def gzipped() -> int:
        deflate = SharedDeflate()
        tabs = [GzipStream(deflate) for _ in range(streams)]
        sent = 0
        for events, flags in shaped:
            for tab in tabs:
                if len(events) == 1 and flags[0]:
                    sent += len(tab.write_shared(events[0]))
                else:
                    sent += len(tab.write(events, flags))
        return sent

    out: dict[str, Any] = {"streams": streams, "batches": len(shaped)}
    for name, run in (("plain", plain), ("gzip", gzipped)):
        best = float("inf")
        for _ in range(3):
            t0 = time.process_time()
            sent = run()
            best = min(best, time.process_time() - t0)
        out[name] = {
            "cpu_us_per_delivery": 1e6 * best / max(1, len(shaped) * streams),
            "bytes": sent,
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    plain, packed = result["tabs"]["plain"], result["tabs"]["gzip"]
    ratio = packed["body_bytes"] / max(1, plain["body_bytes"])
    sock = packed["socket_bytes"] / max(1, plain["socket_bytes"])
    lines = [
        f"### The console's Agents page, {result['minutes']:g} min under the demo swarm\n",
        "| tab | Content-Encoding | body bytes | bytes on the socket | batches | events "
        "| heartbeats | batches not decodable at once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, tab in (("plain", plain), ("gzip", packed)):
        lines.append(
            f"| {name} | {tab['content_encoding'] or '-'} | {tab['body_bytes']:,} "
            f"| {tab['socket_bytes']:,} | {tab['batches']:,} | {tab['events']:,} "
            f"| {tab['heartbeats']} | {tab['undecodable_batches']} |"
        )
    lines += [
        "",
        f"gzip / plain: **{ratio:.3f}** of the body bytes ({1 / max(ratio, 1e-9):.1f}x smaller), "
        f"{sock:.3f} of the socket bytes. Decoded, the gzip tab carried "
        f"{packed['decoded_bytes']:,} bytes (the plain tab {plain['decoded_bytes']:,}).",
        f"Server CPU over the run: {result['server_cpu_s']:.1f} s (the swarm, the pages and both "
        "streams).",
    ]
    rep = result.get("replay")
    if rep:
        lines += [
            "",
            f"Compression CPU, in-process replay of the plain tab's {rep['batches']} batches to "
            f"{rep['streams']} streams sharing one compressor state: "
            f"{rep['plain']['cpu_us_per_delivery']:.2f} µs per delivery as they are, "
            f"{rep['gzip']['cpu_us_per_delivery']:.2f} µs gzipped "
            f"({rep['gzip']['bytes'] / max(1, rep['plain']['bytes']):.3f} of the bytes).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to read (10: docs)")
    ap.add_argument("--python", default=sys.executable, help="runs `-m parlour console`")
    ap.add_argument("--out", default=None, help="where compression.json and the summary go")
    ap.add_argument("--replay-streams", type=int, default=100)
    ap.add_argument("--start-timeout", type=float, default=30.0)
    args = ap.parse_args()
    port = free_port()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="parlour-compression-") as state:
        env = {k: v for k, v in os.environ.items() if k != "PARLOUR_COMPRESS"}
        env["PARLOUR_DATASTAR_JS"] = ""
        cmd = [
            args.python,
            "-m",
            "parlour",
            "console",
            "--demo",
            *("--host", HOST, "--port", str(port), "--store", "memory"),
            *("--state-dir", state, "--log-level", "warning"),
        ]
        log = open(Path(state) / "console.log", "wb")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + args.start_timeout
            while True:
                if proc.poll() is not None:
                    sys.exit(f"compression_bench: the console exited with {proc.returncode}")
                with contextlib.suppress(OSError):
                    if get(port, "/", timeout=2)[0] == 200:
                        break
                if time.monotonic() > deadline:
                    sys.exit("compression_bench: the console did not start in time")
                time.sleep(0.3)
            cpu0 = server_cpu(proc.pid)
            tabs = {"plain": Tab(port, seconds, None), "gzip": Tab(port, seconds, CHROMIUM_ACCEPT)}
            for tab in tabs.values():
                tab.start()
            for tab in tabs.values():
                tab.join(seconds + 60)
            cpu = server_cpu(proc.pid) - cpu0
        finally:
            stop(proc)
            log.close()
    result: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "minutes": args.minutes,
        "server_cpu_s": cpu,
        "tabs": {name: tab.summary() for name, tab in tabs.items()},
    }
    if tabs["plain"].batches:
        result["replay"] = replay(tabs["plain"].batches, args.replay_streams)
    text = markdown(result)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compression.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / "compression-summary.md").write_text(text)
    errors = [t.error for t in tabs.values() if t.error]
    if errors:
        sys.exit(f"compression_bench: {errors}")


if __name__ == "__main__":
    main()
