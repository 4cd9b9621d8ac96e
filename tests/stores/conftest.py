"""Fixtures for the store tests: open any store kind, and close everything opened.

`open_kind(kind)` opens a store of that kind at one fixed place under `tmp_path`, so
calling it again after `close()` reopens the same data (the persistence tests rely on
this). Every store opened through it is closed at teardown, so a failing test never
leaks a SQLite connection (a ResourceWarning, which this suite treats as an error).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from parlour.stores import ConversationStore, FileStore, MemoryStore, SqliteStore

KINDS = ["memory", "file", "sqlite"]
DISK_KINDS = ["file", "sqlite"]

OpenKind = Callable[[str], ConversationStore]


@pytest.fixture
async def open_kind(tmp_path: Path) -> AsyncIterator[OpenKind]:
    opened: list[ConversationStore] = []

    def open_(kind: str) -> ConversationStore:
        store: ConversationStore
        if kind == "memory":
            store = MemoryStore()
        elif kind == "file":
            store = FileStore(tmp_path / "conversations")
        elif kind == "sqlite":
            store = SqliteStore(tmp_path / "state.sqlite")
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
