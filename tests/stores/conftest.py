"""Fixtures for the store tests: open any store kind, and close everything opened.

`open_kind(kind)` opens a store of that kind at one fixed place under `tmp_path`, so
calling it again after `close()` reopens the same data (the persistence tests rely on
this). Every store opened through it is closed at teardown, so a failing test never
leaks a SQLite connection (a ResourceWarning, which this suite treats as an error).

The `nats` kind is a `NatsKvStore` on a real nats-server (one for the session, started with
`max_payload: 8MB` as a deployment keeping big conversations would be); each test gets its
own bucket, named after the test, so reopening finds the same data and tests never share.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from parlour.stores import ConversationStore, FileStore, MemoryStore, SqliteStore
from parlour.stores.nats_kv import NatsKvStore
from tests.support.nats import free_port, nats_server_binary, wait_until_listening

KINDS = ["memory", "file", "sqlite", "nats"]
DISK_KINDS = ["file", "sqlite", "nats"]

_buckets = itertools.count(1)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server with JetStream and an 8 MB max_payload, for the whole session."""
    where = tmp_path_factory.mktemp("nats")
    port = free_port()
    config = where / "nats.conf"
    config.write_text(
        f'listen: "127.0.0.1:{port}"\nmax_payload: 8MB\n'
        f'jetstream {{ store_dir: "{where / "js"}" }}\n'
    )
    log = where / "nats.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_listening(port, proc, log)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


OpenKind = Callable[[str], ConversationStore]


@pytest.fixture
async def open_kind(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[OpenKind]:
    opened: list[ConversationStore] = []
    bucket = f"test-{next(_buckets)}"

    def open_(kind: str) -> ConversationStore:
        store: ConversationStore
        if kind == "memory":
            store = MemoryStore()
        elif kind == "file":
            store = FileStore(tmp_path / "conversations")
        elif kind == "sqlite":
            store = SqliteStore(tmp_path / "state.sqlite")
        elif kind == "nats":
            store = NatsKvStore(request.getfixturevalue("nats_url"), bucket=bucket)
        else:
            raise AssertionError(f"unknown store kind {kind!r}")
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, open_kind: OpenKind) -> ConversationStore:
    """One store of each kind, fresh for the test."""
    return open_kind(request.param)


@pytest.fixture(params=DISK_KINDS)
def disk_kind(request: pytest.FixtureRequest) -> str:
    """The kinds that keep conversations across a close and a reopen."""
    return request.param
