"""Stream compression: gzip for SSE streams, with a shared view's bytes compressed once.

A stream is compressed when its request's `Accept-Encoding` accepts gzip (`negotiate`). Every
batch is compressed and ended with a sync flush, so the browser can decode all of it at once:

    [gzip header] [batch 1 … sync flush] [batch 2 … sync flush] … [final block, CRC, size]

Why a stream can still send a shared view's bytes compressed once, for every viewer: deflate
refers back to earlier bytes by distance, so compressed bytes are valid wherever the decoder's
recent output is what the compressor saw. A segment compressed by a fresh compressor refers to
nothing before it and may be spliced into any stream after a sync flush (a byte boundary).
Better still, streams that have decoded the same bytes since such a fresh start share one
compressor state (a `_Chain`): the next shared segment is compressed once from that state and
the same bytes go to all of them, and it still refers back to what they saw before. So:

  * a shared segment (a run of shared patches in a batch) at a chain: the chain's cached
    bytes for it, computed once per chain (the compressor is copied for the first stream and
    taken over by the last); the stream moves to the chain that follows;
  * a stream's own bytes (a full render, its click's answer, a script with its nonce): its
    private compressor, started from its chain's (a copy) or empty; the stream leaves the
    chain; its next shared segment starts over from an empty state (compressed once for every
    stream that does the same), so it joins the others again. The compressor of a stream's
    first own batch (its first render) is not kept: a dashboard's viewer sends nothing of its
    own after that, so an idle viewer holds no compressor; a tab that answers clicks keeps
    one from its second own batch on;
  * a heartbeat: a fresh, constant segment; the stream's compressor is dropped, so an idle
    stream holds none.

Memory: a compressor has an 8 KB window (`WBITS`) and `MEM_LEVEL` 5: about 54 KB (zlib's
own formula, (1 << (wbits + 2)) + (1 << (mem_level + 9)), plus its state; measured with
tracemalloc in tests/wire/test_compress.py). A stream holds at most one, and streams at one
chain share theirs. The decoder side is the browser's ordinary gzip decoder.

Why gzip and not br or zstd: the standard library has deflate; a deflate stream can be resumed
from a copied state and spliced at flush boundaries, which brotli cannot; and zstd would be a
dependency for streams that gzip already compresses five- to tenfold (decision 0012).

What this module does not do: read requests or write to sockets (`parlour.web.stream`), or
know which bytes are shared (the caller says).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "GZIP",
    "LEVEL",
    "MEM_LEVEL",
    "WBITS",
    "GzipStream",
    "SharedDeflate",
    "negotiate",
]

GZIP = "gzip"
LEVEL = 6
WBITS = 13
"""An 8 KB window: enough for a page's repeated markup, and a bounded compressor."""
MEM_LEVEL = 5

_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
"""gzip member header: deflate, no name, no time, unknown OS (RFC 1952)."""
_FINAL = b"\x03\x00"
"""An empty final deflate block (fixed codes): after a sync flush it ends the stream."""
_NEXT_LIMIT = 64
"""Cached segments per chain (more only when streams at one state got different batches)."""
_ROOT_LIMIT = 256
"""Cached segments compressed from an empty state."""


class _Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self, mode: int = ..., /) -> bytes: ...
    def copy(self) -> _Compressor: ...


def negotiate(accept_encoding: str | None) -> str | None:
    """`"gzip"` when `Accept-Encoding` accepts it, else None (the stream is sent as it is).

    RFC 9110 §12.5.3: a coding is acceptable when listed (or `*` is) with a quality above 0
    (`x-gzip` is gzip). A client that rates `identity` above gzip gets identity. No header, an
    empty one, or only codings parlour does not produce (br, zstd): identity. A malformed
    quality makes that entry not count.
    """
    if not accept_encoding:
        return None
    gzip: float | None = None
    star: float | None = None
    identity: float | None = None
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        quality = _quality(params)
        if quality is None:
            continue
        if name in ("gzip", "x-gzip"):
            gzip = quality if gzip is None else max(gzip, quality)
        elif name == "*":
            star = quality
        elif name == "identity":
            identity = quality
    accepted = gzip if gzip is not None else star
    if not accepted:
        return None
    if identity is not None and identity > accepted:
        return None
    return GZIP


def _quality(params: str) -> float | None:
    """The `q` of an Accept-Encoding entry's parameters: 1 when absent, None when malformed."""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() != "q":
            continue
        try:
            quality = float(value.strip())
        except ValueError:
            return None
        return quality if 0 <= quality <= 1 else None
    return 1.0


class _Chain:
    """A compressor state that streams share: each stream at it has decoded, since an empty
    state, exactly what the compressor was given. `next` caches, per segment, the bytes that
    continue it and the chain after them."""

    __slots__ = ("compressor", "next", "users")

    def __init__(self, compressor: _Compressor | None) -> None:
        self.compressor = compressor
        self.users = 0
        self.next: dict[tuple[bytes, ...], tuple[bytes, _Chain]] = {}


class SharedDeflate:
    """The compressor states streams share, for one app (one event loop: no locks).

    `root` is the empty state: a segment from it is compressed by a fresh compressor and is
    valid in any stream. `compressions` counts segments compressed, `reused` segments sent
    from the cache (a shared view's update to N streams at one chain: 1 and N - 1).
    """

    def __init__(
        self, *, level: int = LEVEL, wbits: int = WBITS, mem_level: int = MEM_LEVEL
    ) -> None:
        self.level = level
        self.wbits = wbits
        self.mem_level = mem_level
        self.root = _Chain(None)
        self.compressions = 0
        self.reused = 0
        self._fresh: dict[bytes, bytes] = {}

    def compressor(self) -> _Compressor:
        """A fresh raw-deflate compressor with the bounded window and memory."""
        return zlib.compressobj(self.level, zlib.DEFLATED, -self.wbits, self.mem_level)

    def fresh(self, data: bytes) -> bytes:
        """`data` compressed from an empty state and sync-flushed (a heartbeat), cached."""
        found = self._fresh.get(data)
        if found is None:
            compressor = self.compressor()
            found = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if len(self._fresh) >= _NEXT_LIMIT:
                self._fresh.clear()
            self._fresh[data] = found
        return found

    def advance(self, chain: _Chain, key: tuple[bytes, ...]) -> tuple[bytes, _Chain]:
        """The bytes of segment `key` (its parts, joined) for a stream at `chain`, and the
        chain the stream is at after them (it is counted there, and no longer at `chain`)."""
        entry = chain.next.get(key)
        if entry is None and chain.compressor is None and chain is not self.root:
            # A state nobody can continue any more (its compressor was freed): start over.
            self.leave(chain)
            chain = self.root
            entry = chain.next.get(key)
        if entry is None:
            entry = self._compress(chain, key)
        else:
            self.reused += 1
        self.leave(chain)
        entry[1].users += 1
        return entry

    def _compress(self, chain: _Chain, key: tuple[bytes, ...]) -> tuple[bytes, _Chain]:
        compressor = chain.compressor
        if compressor is None:
            compressor = self.compressor()
        elif chain.users == 1:
            chain.compressor = None  # the last stream here: take it over, no copy
        else:
            compressor = compressor.copy()
        raw = key[0] if len(key) == 1 else b"".join(key)
        data = compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH)
        self.compressions += 1
        entry = (data, _Chain(compressor))
        if len(chain.next) >= (_ROOT_LIMIT if chain is self.root else _NEXT_LIMIT):
            chain.next.clear()
        chain.next[key] = entry
        return entry

    def own(self, chain: _Chain | None) -> _Compressor:
        """A private compressor for a stream at `chain` (which it leaves): the chain's state,
        so its own bytes may refer to what it decoded, or an empty one."""
        if chain is None or chain.compressor is None:
            compressor = self.compressor()
        elif chain.users == 1:
            compressor, chain.compressor = chain.compressor, None
        else:
            compressor = chain.compressor.copy()
        if chain is not None:
            self.leave(chain)
        return compressor

    def leave(self, chain: _Chain) -> None:
        """A stream is no longer at `chain`; a chain nobody is at frees its compressor."""
        if chain is self.root:
            return
        chain.users -= 1
        if chain.users <= 0:
            chain.compressor = None
            chain.next.clear()


class GzipStream:
    """One stream's gzip encoding (see the module's docstring); `write` one batch at a time.

    Every method returns the bytes to send, the gzip header first; `end` the last ones.
    `close` gives back what the stream holds (call it however the stream ends).
    """

    content_encoding = GZIP
    __slots__ = ("_chain", "_private", "_spoke", "_started", "crc", "shared", "size")

    def __init__(self, shared: SharedDeflate) -> None:
        self.shared = shared
        self._chain: _Chain | None = shared.root
        """The shared state this stream is at, or None while it has a private compressor."""
        self._private: _Compressor | None = None
        self._spoke = False
        """Has the stream sent bytes of its own before (then it keeps its compressor)?"""
        self._started = False
        self.crc = 0
        self.size = 0

    def write(self, parts: Sequence[bytes], shared: Sequence[bool]) -> bytes:
        """One batch: `parts` in order, `shared[i]` telling whether part i is the same bytes
        for every stream (a shared view's patch), so it may be compressed once."""
        out: list[bytes] = []
        if not self._started:
            out.append(_HEADER)
            self._started = True
        start, count = 0, len(parts)
        while start < count:
            end = start + 1
            while end < count and shared[end] == shared[start]:
                end += 1
            if shared[start]:
                out.append(self._segment(tuple(parts[start:end])))
            else:
                out.append(self._own(b"".join(parts[start:end])))
            start = end
        return b"".join(out)

    def write_shared(self, part: bytes) -> bytes:
        """A batch of one shared part (a dashboard update): the common case, made short."""
        data = self._segment((part,))
        if self._started:
            return data
        self._started = True
        return _HEADER + data

    def heartbeat(self, comment: bytes) -> bytes:
        """A comment from an empty state; the stream drops its compressor (it is idle)."""
        self._release()
        self._chain = self.shared.root
        self.crc = zlib.crc32(comment, self.crc)
        self.size += len(comment)
        data = self.shared.fresh(comment)
        if self._started:
            return data
        self._started = True
        return _HEADER + data

    def end(self) -> bytes:
        """The end of the gzip member: a final empty block, the CRC-32 and the size."""
        head = b"" if self._started else _HEADER
        self._started = True
        self.close()
        return head + _FINAL + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)

    def close(self) -> None:
        """Give back the stream's compressor, or its place at a shared one."""
        self._release()
        self._chain = None

    def _release(self) -> None:
        self._private = None
        if self._chain is not None:
            self.shared.leave(self._chain)

    def _segment(self, key: tuple[bytes, ...]) -> bytes:
        chain = self._chain
        if chain is None:
            # Our private compressor's history is nobody else's: start over from empty.
            self._private = None
            chain = self.shared.root
        data, self._chain = self.shared.advance(chain, key)
        crc = self.crc
        for part in key:
            crc = zlib.crc32(part, crc)
            self.size += len(part)
        self.crc = crc
        return data

    def _own(self, raw: bytes) -> bytes:
        compressor = self._private
        if compressor is None:
            compressor = self.shared.own(self._chain)
            self._chain = None
            if self._spoke:
                self._private = compressor
        self._spoke = True
        self.crc = zlib.crc32(raw, self.crc)
        self.size += len(raw)
        return compressor.compress(raw) + compressor.flush(zlib.Z_SYNC_FLUSH)
