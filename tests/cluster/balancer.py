"""A whole cluster on loopback: nats-server, `parlour run` nodes and HAProxy in front.

    with Cluster(tmp_path, nats_url, "examples.counter:app", nodes=3) as cluster:
        cluster.url                   # http://127.0.0.1:PORT, the balancer
        cluster.kill(0)               # SIGKILL node 0 (HAProxy sends its requests elsewhere)

HAProxy balances every request round robin with no stickiness (`haproxy_config`, also the
example of docs/deployment.md); each answer says which node gave it (`X-Parlour-Node`), so a
test can find the node holding a stream. Nodes run in their own directories with no
`PARLOUR_SECRET`: the session secret they share is the one kept in NATS. Every start is
bounded in time; everything is stopped by PID at the end, and a node that dies unexpectedly
fails the test with its log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import pytest

from tests.support.nats import free_port

REPO = Path(__file__).resolve().parents[2]
HAPROXY = Path("/usr/sbin/haproxy")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


def haproxy_config(
    port: int, nodes: list[int], *, host: str = "127.0.0.1", affinity: bool = False
) -> str:
    """The balancer: round robin over `nodes`, no stickiness, long-lived SSE streams.

    With `affinity`, requests of one conversation go to one node while it is up (a hash of
    the conversation id in the path): an optimisation that spares the nodes each other's
    work, not something parlour needs.
    """
    balance = (
        "    # A conversation's requests to one node (hash of the CID in /_parlour/KIND/CID/...).\n"
        "    balance hash path,field(4,/)\n    hash-type consistent"
        if affinity
        else "    # Every request on its own, to the next node: no cookie, no stickiness.\n"
        "    balance roundrobin"
    )
    servers = "\n".join(
        f"    server node{i} {host}:{p} check inter 300ms fall 1 rise 2"
        for i, p in enumerate(nodes)
    )
    return f"""\
global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # An SSE stream is idle between patches; the nodes send a heartbeat every 15 s.
    timeout tunnel 1h
    timeout http-keep-alive 10s
    # A request that could not reach a node (it died) is sent to another. Only connection
    # failures are retried: a POST that reached a node is never sent twice.
    retries 3
    retry-on conn-failure
    option redispatch
    # Patches are small and must leave at once (without this, ~200 ms per click: HAProxy
    # holds small writes back, waiting for more to send together).
    option http-no-delay

frontend parlour
    bind {host}:{port}
    default_backend nodes

backend nodes
{balance}
    http-response set-header X-Parlour-Node %s
{servers}
"""


def _require_haproxy() -> None:
    if not HAPROXY.exists():
        pytest.fail(
            f"{HAPROXY} is missing: the cluster tests run Debian's haproxy. Run `make test` "
            "(it installs it) or `sh scripts/ensure-haproxy`.",
            pytrace=False,
        )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Process:
    def __init__(self, name: str, args: list[str], log: Path, **options: object) -> None:
        self.name, self.log = name, log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, **options)  # type: ignore[call-overload]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait_listening(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(port):
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not listen on {port} in time:\n{self.output()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)


class Cluster:
    """`nodes` processes of `parlour run TARGET` on one NATS bucket, HAProxy in front."""

    def __init__(
        self, where: Path, nats_url: str, target: str, *, nodes: int = 3, bucket: str = "demo"
    ) -> None:
        _require_haproxy()
        self.where = where
        self.nats_url = nats_url
        self.bucket = bucket
        self.store = f"{nats_url}/{bucket}"
        self.target = target
        self.ports = [free_port() for _ in range(nodes)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.nodes: list[Process] = []
        self.balancer: Process | None = None
        self.killed: set[int] = set()

    def __enter__(self) -> Cluster:
        try:
            for index, port in enumerate(self.ports):
                self.nodes.append(self._node(index, port))
            for node, port in zip(self.nodes, self.ports, strict=True):
                node.wait_listening(port)
            config = self.where / "haproxy.cfg"
            config.write_text(haproxy_config(self.port, self.ports))
            self.balancer = Process(
                "haproxy", [str(HAPROXY), "-db", "-f", str(config)], self.where / "haproxy.log"
            )
            self.balancer.wait_listening(self.port)
        except BaseException:
            self.close()
            raise
        return self

    def _node(self, index: int, port: int) -> Process:
        home = self.where / f"node{index}"
        home.mkdir(exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PARLOUR_SECRET", "PARLOUR_DATASTAR_JS")
        }
        env["PYTHONPATH"] = str(REPO)
        args = [
            sys.executable,
            "-m",
            "parlour",
            "run",
            self.target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--store",
            self.store,
            "--bus",
            self.nats_url,
            "--log-level",
            "warning",
        ]
        return Process(f"node{index}", args, self.where / f"node{index}.log", cwd=home, env=env)

    def node_of(self, name: str) -> int:
        """The index of the node HAProxy calls `name` (an `X-Parlour-Node` header)."""
        return int(name.removeprefix("node"))

    def kill(self, index: int) -> None:
        """SIGKILL node `index`: no goodbye, no flushing; as if its machine died."""
        self.killed.add(index)
        self.nodes[index].proc.send_signal(signal.SIGKILL)
        self.nodes[index].proc.wait(timeout=STOP_TIMEOUT)

    def close(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for node in self.nodes:
            node.stop()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        died = [
            f"{n.name} exited with {n.proc.returncode}:\n{n.output()}"
            for i, n in enumerate(self.nodes)
            if i not in self.killed and n.proc.poll() is not None
        ]
        self.close()
        if exc is None:
            assert not died, "a node died during the test: " + "\n".join(died)
