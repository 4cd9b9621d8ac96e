"""`FileStore`: the on-disk layout, atomic replacement, and damage that must not crash."""

from __future__ import annotations

import logging
import os
import stat
import struct
import sys
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from parlour.stores import STORE_FORMAT_VERSION, FileStore, StoreFormatError


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FileStore]:
    store = FileStore(tmp_path / "convs")
    yield store
    await store.close()


def names(directory: Path) -> list[str]:
    """The sorted file names in `directory` (a quick, synchronous look at a tmp dir)."""
    return sorted(p.name for p in directory.iterdir())


def header(*, version: int = STORE_FORMAT_VERSION, touched: float, data: bytes) -> bytes:
    """A file header built independently of the store's code, from the documented layout."""
    return b"PLCV" + struct.pack(">HdQI", version, touched, len(data), zlib.crc32(data))


async def test_layout_is_the_documented_one(store: FileStore) -> None:
    await store.save("abc", b"payload", touched=12.5)
    path = store.directory / "abc.conv"
    assert path.read_bytes() == header(touched=12.5, data=b"payload") + b"payload"
    assert names(store.directory) == ["abc.conv"]  # no temp left
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_creates_nested_directory(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "a" / "b" / "c")
    try:
        assert (tmp_path / "a" / "b" / "c").is_dir()
        assert store.describe() == f"file:{tmp_path / 'a' / 'b' / 'c'}"
    finally:
        await store.close()


async def test_directory_that_is_a_file_fails_with_a_fix(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory")
    with pytest.raises(FileExistsError) as caught:
        FileStore(tmp_path / "taken")
    assert any("Fix:" in note for note in caught.value.__notes__)


async def test_leftover_temp_files_are_ignored(store: FileStore) -> None:
    await store.save("abc", b"real", touched=1.0)
    # What a crash between write and rename leaves behind: a full, valid-looking temp.
    (store.directory / ".abc.k2j3h4.tmp").write_bytes(header(touched=0.0, data=b"new") + b"new")
    (store.directory / ".zzz.q8w7e6.tmp").write_bytes(b"half a wri")
    assert await store.load("abc") == b"real"
    assert await store.load("zzz") is None
    assert await store.count() == 1
    assert await store.idle_since(1e12) == ["abc"]


async def test_foreign_files_are_ignored(store: FileStore) -> None:
    (store.directory / "README.txt").write_text("hello")
    (store.directory / "not a cid.conv").write_bytes(b"whatever")
    (store.directory / "sub.conv").mkdir()  # a directory named like a conversation
    await store.save("abc", b"x", touched=1.0)
    assert await store.count() == 2  # abc.conv and the sub.conv directory, by name
    assert await store.idle_since(1e12) == ["abc"]


async def test_failed_write_leaves_old_version_and_no_temp(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.save("abc", b"old", touched=1.0)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        await store.save("abc", b"new", touched=2.0)
    monkeypatch.undo()
    assert await store.load("abc") == b"old"
    assert names(store.directory) == ["abc.conv"]


@pytest.mark.parametrize("cid", ["../outside", "..", "a/../../b", "/etc/passwd", ".abc"])
async def test_path_traversal_is_refused(store: FileStore, tmp_path: Path, cid: str) -> None:
    with pytest.raises(ValueError, match="invalid conversation id"):
        await store.save(cid, b"x", touched=1.0)
    assert names(tmp_path) == ["convs"]
    assert names(store.directory) == []


DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    # name: (what happens to the file, what the warning must say)
    "flipped-bit": (lambda raw: raw[:-1] + bytes([raw[-1] ^ 0xFF]), "checksum"),
    "short-data": (lambda raw: raw[:-3], "expected 7 bytes"),
    "short-header": (lambda raw: raw[:10], "truncated"),
    "tiny": (lambda raw: raw[:3], "shorter than any header"),
    "bad-magic": (lambda raw: b"GIF8" + raw[4:], "magic"),
    "empty": (lambda raw: b"", "shorter than any header"),
}


@pytest.mark.parametrize(("damage", "reason"), list(DAMAGE.values()), ids=list(DAMAGE))
async def test_damaged_file_loads_none_with_a_warning(
    store: FileStore,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[bytes], bytes],
    reason: str,
) -> None:
    await store.save("abc", b"payload", touched=1.0)
    await store.save("ok", b"fine", touched=2.0)
    path = store.directory / "abc.conv"
    path.write_bytes(damage(path.read_bytes()))

    with caplog.at_level(logging.WARNING, logger="parlour.stores.file"):
        assert await store.load("abc") is None
        idle = await store.idle_since(1e12)
    assert reason in caplog.text
    assert "abc.conv" in caplog.text
    # The reaper still sees the healthy conversation; a header-intact file stays listed.
    assert "ok" in idle


async def test_newer_format_raises_on_load_and_is_skipped_by_idle_since(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    newer = STORE_FORMAT_VERSION + 1
    (store.directory / "abc.conv").write_bytes(header(version=newer, touched=1.0, data=b"x") + b"x")
    await store.save("ok", b"fine", touched=2.0)

    with pytest.raises(StoreFormatError) as caught:
        await store.load("abc")
    message = str(caught.value)
    assert f"format version {newer}" in message
    assert "newer parlour" in message
    assert f"reads format version {STORE_FORMAT_VERSION}" in message
    assert "upgrade parlour" in message
    assert "clear the store" in message
    assert caught.value.found == newer

    with caplog.at_level(logging.WARNING, logger="parlour.stores.file"):
        assert await store.idle_since(1e12) == ["ok"]
    assert "abc.conv" in caplog.text
