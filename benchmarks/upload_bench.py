"""Upload throughput and the server's peak memory for one large file, against two floors.

    .venv/bin/python benchmarks/upload_bench.py [--size-mb 100] [--rounds 3]

Each server is a real uvicorn process on 127.0.0.1; the client streams the multipart body
from a generator (it never holds it whole either) over one HTTP/1.1 connection:

    parlour   POST /_parlour/upload/CID/IID/NAME: the upload route (checks, python-multipart
              callbacks, files written a megabyte at a time on a worker thread, the handler
              run through the kernel, the conversation saved) -> 204
    form      Starlette's `await request.form()` (same parser; each file spooled into a
              SpooledTemporaryFile in the system temp dir), then the sizes read -> 204
    drain     plain ASGI that reads the body and drops it: what uvicorn alone costs -> 204

Peak memory: the server's VmHWM (peak resident set) is reset to its VmRSS before each
upload (`/proc/PID/clear_refs`), so "peak growth" is the most the upload added at any
moment. Linux only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from htpy import Element, div  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from parlour import MB, App, Component, Upload, upload  # noqa: E402
from parlour.ui import file_input  # noqa: E402

BOUNDARY = "parlour-bench-boundary"
CHUNK = 256 * 1024


# -- the servers (imported by the uvicorn processes this script starts) ------------------------


class Sink(Component):
    sizes: list[int] = []

    def render(self) -> Element:
        return div(self.root)[file_input(self.take)]

    @upload(max_size=4096 * MB)
    def take(self, files: list[Upload]) -> None:
        self.sizes = [f.size for f in files]


app = App(Sink, state_dir=os.environ.get("UPLOAD_BENCH_DIR", ".parlour"))


async def _form(request: Request) -> Response:
    form = await request.form(max_files=10)
    for value in form.values():
        if not isinstance(value, str):
            value.file.seek(0, os.SEEK_END)
    await form.close()
    return Response(status_code=204)


form = Starlette(routes=[Route("/upload", _form, methods=["POST"])])


async def drain(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


# -- the client --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, kind: str, state: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "PARLOUR_SECRET": "bench", "UPLOAD_BENCH_DIR": str(state)}
        if kind == "parlour":
            command = ["-m", "parlour", "run", "benchmarks.upload_bench:app", "--store", "memory"]
            command += ["--log-level", "warning"]
        else:
            command = ["-m", "uvicorn", f"benchmarks.upload_bench:{kind}", "--log-level", "warning"]
        self.proc = subprocess.Popen(
            [sys.executable, *command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise SystemExit(f"the {kind} server did not start") from None
                time.sleep(0.05)

    def status_kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(field)

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _target(kind: str, port: int) -> tuple[str, dict[str, str]]:
    """The URL to upload to and the headers (the session cookie) a page would send."""
    if kind != "parlour":
        return "/upload", {}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = (response.getheader("set-cookie") or "").split(";")[0]
    conn.close()
    found = re.search(r'data-parlour-upload="([^"]+)"', html)
    assert found, "no upload input on the page"
    return found.group(1), {"Cookie": cookie}


def _body(size: int) -> tuple[int, Iterator[bytes]]:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="files"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = bytes(range(256)) * (CHUNK // 256)

    def chunks() -> Iterator[bytes]:
        yield head
        left = size
        while left > 0:
            yield block[: min(left, CHUNK)]
            left -= CHUNK
        yield tail

    return len(head) + size + len(tail), chunks()


def upload_once(kind: str, server: Server, size: int) -> tuple[float, float]:
    """(seconds, peak RSS growth in MB) of one upload of `size` bytes."""
    url, headers = _target(kind, server.port)
    length, chunks = _body(size)
    server.reset_peak()
    before = server.status_kb("VmRSS")
    conn = http.client.HTTPConnection("127.0.0.1", server.port)
    started = time.perf_counter()
    conn.putrequest("POST", url)
    for name, value in {
        **headers,
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
        "Origin": f"http://127.0.0.1:{server.port}",
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    for chunk in chunks:
        conn.send(chunk)
    response = conn.getresponse()
    response.read()
    seconds = time.perf_counter() - started
    conn.close()
    assert response.status == 204, f"{kind}: {response.status}"
    return seconds, (server.status_kb("VmHWM") - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default="parlour,form,drain")
    args = parser.parse_args()
    size = args.size_mb * MB
    print(f"one file of {args.size_mb} MB, {args.rounds} rounds each (median; peak = max)")
    print(f"{'server':<9} {'MB/s':>8} {'seconds':>8} {'peak RSS growth':>16}")
    for kind in args.kinds.split(","):
        with tempfile.TemporaryDirectory() as state:
            server = Server(kind, Path(state))
            try:
                upload_once(kind, server, MB)  # warm up
                runs = [upload_once(kind, server, size) for _ in range(args.rounds)]
            finally:
                server.stop()
        seconds = statistics.median(s for s, _ in runs)
        peak = max(p for _, p in runs)
        print(f"{kind:<9} {args.size_mb / seconds:>8.0f} {seconds:>8.2f} {peak:>13.1f} MB")


if __name__ == "__main__":
    main()
