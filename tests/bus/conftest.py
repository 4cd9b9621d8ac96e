"""Fixtures for the bus tests: a real `nats-server` with JetStream, per test.

Each test gets its own server on a free loopback port with its own store directory, so
streams never leak between tests (see `tests/support/nats.py`, shared with the browser
tests). A missing binary is a test *failure*, not a skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from parlour.bus.nats import NatsBus
from tests.support.nats import NatsServer, start_nats_server


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    yield from start_nats_server(tmp_path)


@pytest.fixture
def nats_server_without_jetstream(tmp_path: Path) -> Iterator[NatsServer]:
    yield from start_nats_server(tmp_path, jetstream=False)


@pytest.fixture
async def nats_bus(nats_server: NatsServer) -> AsyncIterator[NatsBus]:
    bus = await NatsBus.connect(nats_server.url, stream="TEST", request_timeout=5.0)
    yield bus
    await bus.close()


@pytest.fixture
async def nats_bus_b(nats_server: NatsServer, nats_bus: NatsBus) -> AsyncIterator[NatsBus]:
    """A second bus on the same server and stream: another "process"."""
    bus = await NatsBus.connect(nats_server.url, stream="TEST", request_timeout=5.0)
    yield bus
    await bus.close()
