"""`open_store`: the `--store` spec table, and refusals that name the accepted forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from parlour.stores import (
    DEFAULT_STORE_SPEC,
    ConversationStore,
    FileStore,
    MemoryStore,
    SqliteStore,
    open_store,
)


@pytest.mark.parametrize(
    ("spec", "kind", "where"),
    [
        ("memory", MemoryStore, None),
        ("  memory ", MemoryStore, None),
        ("file:convs", FileStore, "convs"),
        ("file:nested/dir", FileStore, "nested/dir"),
        ("sqlite:state.sqlite", SqliteStore, "state.sqlite"),
        ("sqlite:data/any-name", SqliteStore, "data/any-name"),
        ("state.sqlite", SqliteStore, "state.sqlite"),
        ("state.sqlite3", SqliteStore, "state.sqlite3"),
        ("sub/state.db", SqliteStore, "sub/state.db"),
        ("STATE.DB", SqliteStore, "STATE.DB"),
        (DEFAULT_STORE_SPEC, SqliteStore, ".parlour/state.sqlite"),
    ],
)
async def test_accepted_specs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spec: str,
    kind: type[ConversationStore],
    where: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(spec)
    try:
        assert type(store) is kind
        if where is None:
            assert store.describe() == "memory"
        else:
            prefix = "file" if kind is FileStore else "sqlite"
            assert store.describe() == f"{prefix}:{tmp_path / where}"
            assert (tmp_path / where).exists()
    finally:
        await store.close()


async def test_absolute_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_store("file:~/convs")
    other = open_store(f"sqlite:{tmp_path / 'abs.sqlite'}")
    try:
        assert store.describe() == f"file:{tmp_path / 'convs'}"
        assert other.describe() == f"sqlite:{tmp_path / 'abs.sqlite'}"
    finally:
        await store.close()
        await other.close()


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "mem",
        "Memory",
        "memory:",
        "file:",
        "sqlite:",
        "sqlite:  ",
        "postgres://db/state.db",
        "redis:state.db",
        "nats:kv",
        "state.json",
        "convs/",
    ],
)
def test_refused_specs_name_the_accepted_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="expected 'memory', 'file:DIR', 'sqlite:PATH'") as caught:
        open_store(spec)
    assert repr(spec) in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing was created on the way to refusing


@pytest.mark.parametrize(
    ("spec", "url", "bucket"),
    [
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222", "parlour-conversations"),
        ("nats://127.0.0.1:4222/", "nats://127.0.0.1:4222", "parlour-conversations"),
        ("nats://10.0.0.5:4222/shop", "nats://10.0.0.5:4222", "shop"),
        ("nats://a:4222,nats://b:4223/shop", "nats://a:4222,nats://b:4223", "shop"),
        ("tls://nats.example:4222/x_y-z", "tls://nats.example:4222", "x_y-z"),
    ],
)
def test_nats_specs_name_a_bucket_and_connect_later(spec: str, url: str, bucket: str) -> None:
    from parlour.stores.nats_kv import NatsKvStore

    store = open_store(spec)  # no server is running: nothing connects until first use
    assert isinstance(store, NatsKvStore)
    assert (store.url, store.bucket) == (url, bucket)
    assert store.describe() == f"{url}/{bucket}"


@pytest.mark.parametrize("spec", ["nats://", "nats:///bucket", "nats://h:1/bad.bucket"])
def test_bad_nats_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="nats://"):
        open_store(spec)
