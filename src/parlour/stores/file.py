"""`FileStore`: one file per conversation in a directory.

Easy to inspect, back up and delete by hand (`ls`, `rm`), and needs nothing but a file
system. Each conversation is `DIR/<cid>.conv`:

    offset  size  field
    0       4     magic b"PLCV"           (is this a parlour conversation file at all?)
    4       2     format version, u16 BE  (the magic and version are the same in every version)
    --- format version 1 ---
    6       8     touched, f64 BE         (unix seconds of last activity)
    14      8     length of data, u64 BE
    22      4     CRC-32 of data, u32 BE  (detects a damaged file instead of misreading it)
    26      ...   data                    (the opaque conversation bytes)

`touched` lives in the header rather than in a sidecar so that one rename replaces data
and timestamp together; `idle_since` reads only the first 26 bytes of each file.

A save writes a temporary file `.<cid>.<random>.tmp` in the same directory, fsyncs it
and renames it over the old file (`os.replace`, atomic on POSIX and Windows): a reader
sees the old conversation or the new one, never half of one. Leftover temporary files
(from a crash mid-write) start with a dot and never end in `.conv`, so they are ignored.
The directory itself is not fsynced, so a power cut may undo the latest renames (never
corrupt a file): the same durability as `SqliteStore` with `synchronous=NORMAL`. Files
are created readable by their owner only (conversations hold user data).

All blocking I/O runs in `asyncio.to_thread`. Operations on one cid are serialised by a
lock (one of 64, chosen by the cid's hash) so two concurrent saves can never land in the
wrong order.

A damaged or unreadable file is never fatal: `load` logs a warning and answers `None`
(the tab starts afresh), `idle_since` logs and skips it. A file written in a newer
format raises `StoreFormatError` from `load`: that one is not damage, and guessing
would be worse than stopping.

What it does not do: sweep leftover temporary files, lock across processes (run one
process per directory), or list cids case-sensitively on a case-insensitive file system.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import tempfile
import zlib
from pathlib import Path

from .protocol import CID_PATTERN, STORE_FORMAT_VERSION, StoreFormatError, check_cid, check_touched

__all__ = ["FileStore"]

log = logging.getLogger(__name__)

SUFFIX = ".conv"
_MAGIC = b"PLCV"
_PREFIX = struct.Struct(">4sH")  # magic, format version: stable across versions
_V1 = struct.Struct(">dQI")  # touched, data length, data CRC-32
_HEADER_SIZE = _PREFIX.size + _V1.size
_LOCK_STRIPES = 64


class _CorruptFile(Exception):
    """A conversation file that cannot be parsed; carries the reason for the warning."""


class FileStore:
    """A `ConversationStore` keeping each conversation in `directory/<cid>.conv`."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory).expanduser().absolute()
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            exc.add_note(
                f"while opening the conversation store file:{self._dir}. Fix: choose a "
                "directory parlour may create and write (--store file:DIR)."
            )
            raise
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
        self._closed = False

    def __repr__(self) -> str:
        return f"FileStore({str(self._dir)!r})"

    @property
    def directory(self) -> Path:
        """The directory holding the `<cid>.conv` files."""
        return self._dir

    def describe(self) -> str:
        return f"file:{self._dir}"

    async def save(self, cid: str, data: bytes, *, touched: float) -> None:
        self._check_open()
        check_cid(cid)
        header = _PREFIX.pack(_MAGIC, STORE_FORMAT_VERSION) + _V1.pack(
            check_touched(touched), len(data), zlib.crc32(data)
        )
        async with self._lock(cid):
            await asyncio.to_thread(self._write, cid, header, data)

    async def load(self, cid: str) -> bytes | None:
        self._check_open()
        check_cid(cid)
        async with self._lock(cid):
            return await asyncio.to_thread(self._read, cid)

    async def delete(self, cid: str) -> None:
        self._check_open()
        check_cid(cid)
        async with self._lock(cid):
            await asyncio.to_thread(self._unlink, cid)

    async def idle_since(self, before: float) -> list[str]:
        self._check_open()
        return await asyncio.to_thread(self._scan, before)

    async def count(self) -> int:
        """How many `<cid>.conv` files there are (counted by name, not opened)."""
        self._check_open()
        return await asyncio.to_thread(lambda: sum(1 for _ in self._conversation_files()))

    async def close(self) -> None:
        """Refuse new operations, then wait for those already under way to finish."""
        if self._closed:
            return
        self._closed = True
        for lock in self._locks:
            async with lock:
                pass

    # -- on worker threads ---------------------------------------------------------------

    def _path(self, cid: str) -> Path:
        return self._dir / (cid + SUFFIX)

    def _write(self, cid: str, header: bytes, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=f".{cid}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(cid))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read(self, cid: str) -> bytes | None:
        path = self._path(cid)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning(
                "conversation %r: cannot read %s (%s); treating it as absent", cid, path, exc
            )
            return None
        try:
            _, length, crc = self._header(cid, raw)
            data = raw[_HEADER_SIZE:]
            if len(data) != length:
                raise _CorruptFile(f"expected {length} bytes of data, found {len(data)}")
            if zlib.crc32(data) != crc:
                raise _CorruptFile("data does not match its checksum")
        except _CorruptFile as exc:
            log.warning(
                "conversation %r: %s is damaged (%s); treating it as absent", cid, path, exc
            )
            return None
        return data

    def _unlink(self, cid: str) -> None:
        self._path(cid).unlink(missing_ok=True)

    def _scan(self, before: float) -> list[str]:
        idle: list[tuple[float, str]] = []
        for cid, path in self._conversation_files():
            try:
                with path.open("rb") as f:
                    head = f.read(_HEADER_SIZE)
                touched, _, _ = self._header(cid, head)
            except FileNotFoundError:
                continue  # deleted since the directory was listed
            except (OSError, _CorruptFile, StoreFormatError) as exc:
                log.warning("idle_since: skipping %s (%s)", path, exc)
                continue
            if touched < before:
                idle.append((touched, cid))
        return [cid for _, cid in sorted(idle)]

    def _conversation_files(self) -> list[tuple[str, Path]]:
        """`(cid, path)` of every `<cid>.conv` in the directory; temp and foreign files skipped."""
        found: list[tuple[str, Path]] = []
        with os.scandir(self._dir) as entries:
            for entry in entries:
                name = entry.name
                if name.endswith(SUFFIX) and CID_PATTERN.fullmatch(name[: -len(SUFFIX)]):
                    found.append((name[: -len(SUFFIX)], Path(entry.path)))
        return found

    def _header(self, cid: str, raw: bytes) -> tuple[float, int, int]:
        """`(touched, length, crc)` from the start of a file; raises on damage or a new format."""
        if len(raw) < _PREFIX.size:
            raise _CorruptFile(f"file is {len(raw)} bytes, shorter than any header")
        magic, version = _PREFIX.unpack_from(raw)
        if magic != _MAGIC:
            raise _CorruptFile(f"expected magic {_MAGIC!r}, found {magic!r}")
        if version != STORE_FORMAT_VERSION:
            raise StoreFormatError(f"conversation {cid!r} in {self.describe()}", found=version)
        if len(raw) < _HEADER_SIZE:
            raise _CorruptFile(f"header is truncated at {len(raw)} of {_HEADER_SIZE} bytes")
        touched, length, crc = _V1.unpack_from(raw, _PREFIX.size)
        return touched, length, crc

    # -- helpers -------------------------------------------------------------------------

    def _lock(self, cid: str) -> asyncio.Lock:
        return self._locks[hash(cid) % _LOCK_STRIPES]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                f"{self!r} is closed; open a new store instead of reusing a closed one"
            )
