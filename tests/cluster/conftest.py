"""Fixtures for the cluster tests: one real nats-server, and nodes (Apps) on one bucket.

    async def test_x(make_node):
        a, b = make_node(), make_node()            # two nodes sharing the test's bucket
        client_a, client_b = node_clients(a, b)   # one browser: one cookie jar, two doors

`make_node()` builds an `App` on a `NatsKvStore` of the test's own bucket (so tests never see
each other's conversations, timers or outboxes), closed at teardown. The server lives for the
session; `nats_url` names it. The HAProxy fixtures of the browser test are in
`tests/cluster/balancer.py`.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from parlour.stores.nats_kv import NatsKvStore
from parlour.testing import AsgiClient
from parlour.web.app import App
from tests.support.nats import (
    free_port,
    nats_server_binary,
    start_nats_server,
    wait_until_listening,
)

SECRET = "cluster-test-secret-not-for-production"

MakeNode = Callable[..., App]

_buckets = itertools.count(1)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for server in start_nats_server(tmp_path_factory.mktemp("nats")):
        yield server.url


@pytest.fixture
def bucket() -> str:
    return f"cluster-{next(_buckets)}"


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PARLOUR_DATASTAR_JS", raising=False)
    monkeypatch.setattr("parlour.web.datastar.PACKAGED", tmp_path / "no-bundle" / "datastar.js")
    monkeypatch.delenv("PARLOUR_SECRET", raising=False)


@pytest.fixture
async def make_node(nats_url: str, bucket: str, tmp_path: Path) -> AsyncIterator[MakeNode]:
    nodes: list[App] = []

    def make(root: Any = None, **options: Any) -> App:
        if root is None:
            from examples.counter import Counter

            root = Counter
        options.setdefault("secret", SECRET)
        options.setdefault("state_dir", tmp_path / f"node-{len(nodes)}")
        url = options.pop("nats", nats_url)
        store = NatsKvStore(url, bucket=options.pop("bucket", bucket))
        node = App(root, store=store, **options)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        if not node.runtime.closed:
            await node.close()


class RestartableNats:
    """A nats-server of the test's own, which it may stop and start again (same port, same
    JetStream directory: what survives a restart of NATS)."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        log = self.where / "nats.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    nats_server_binary(),
                    "-js",
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-sd",
                    str(self.where / "js"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until_listening(self.port, self.proc, log)
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def restartable_nats(tmp_path: Path) -> Iterator[RestartableNats]:
    server = RestartableNats(tmp_path)
    yield server
    server.stop()


def node_clients(*nodes: App) -> list[AsgiClient]:
    """One browser in front of several nodes: every client shares one cookie jar."""
    clients = [AsgiClient(node) for node in nodes]
    for client in clients[1:]:
        client.cookies = clients[0].cookies
    return clients


# The browser of tests/e2e (Debian's chromium through Playwright), for test_browser.py.
from tests.e2e.conftest import chromium, page  # noqa: E402, F401
