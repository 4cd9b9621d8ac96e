"""`parlour.wire.compress`: gzip streams that decode, batch by batch, to exactly the event text
they were given; a shared view's bytes compressed once for the streams that share a state; a
bounded compressor per stream; `Accept-Encoding` read as RFC 9110 says."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlour.core.fragments import Elements, Signals
from parlour.wire import comment, encode
from parlour.wire.compress import GzipStream, SharedDeflate, negotiate

PING = comment("ping").encode()


def view_patch(n: int) -> bytes:
    """A shared view's patch: the same bytes object goes to every stream."""
    items = "".join(f'<li id="agent-{i}" class="agent">agent {i}: step {n}</li>' for i in range(12))
    return encode(Elements(f'<ul id="agents">{items}</ul>')).encode()


def own_patch(n: int) -> bytes:
    """A tab's own event: its id, its render."""
    return encode(Signals({"count": n}), event_id=f"e.{n}").encode()


class Browser:
    """What a browser's gzip decoder makes of a stream, batch by batch."""

    def __init__(self) -> None:
        self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.wire = b""
        self.text = b""

    def receive(self, chunk: bytes) -> bytes:
        """The text this chunk decodes to, all of it, at once (no byte held back)."""
        self.wire += chunk
        text = self.decoder.decompress(chunk)
        self.text += text
        return text


# -- negotiation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip, deflate, br, zstd", "gzip"),  # Chromium
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "gzip"),
        ("gzip;q=0.001", "gzip"),
        ("gzip ; q=1", "gzip"),
        ("gzip;q=0", None),
        ("gzip;q=0.0, *", None),  # named and refused: the star does not bring it back
        ("*;q=0", None),
        ("br, zstd", None),  # only codings parlour does not produce
        ("identity", None),
        ("identity;q=1, gzip;q=0.5", None),  # the client prefers it uncompressed
        ("gzip;q=0.5, identity;q=0.5", "gzip"),
        ("gzip;q=2", None),  # a quality above 1 is malformed: the entry does not count
        ("gzip;q=high", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(accept: str | None, chosen: str) -> None:
    assert negotiate(accept) == chosen


# -- streams decode to exactly what they were given ----------------------------------------------


def test_a_stream_decodes_batch_by_batch_to_exactly_its_event_text() -> None:
    deflate = SharedDeflate()
    stream, browser = GzipStream(deflate), Browser()
    shared = [view_patch(n) for n in range(4)]
    batches: list[tuple[list[bytes], list[bool]]] = [
        ([own_patch(0)], [False]),  # the full render
        ([shared[0]], [True]),  # a dashboard update
        ([shared[1], own_patch(1), shared[2]], [True, False, True]),  # mixed
        ([own_patch(2), own_patch(3)], [False, False]),  # a click's answer
        ([shared[3]], [True]),
    ]
    for parts, flags in batches:
        assert browser.receive(stream.write(parts, flags)) == b"".join(parts)
    assert browser.receive(stream.heartbeat(PING)) == PING
    assert browser.receive(stream.write_shared(shared[0])) == shared[0]
    browser.receive(stream.end())
    expected = b"".join(b"".join(parts) for parts, _ in batches) + PING + shared[0]
    # The whole body is one valid gzip member: its CRC-32 and size check out.
    assert gzip.decompress(browser.wire) == expected
    assert browser.decoder.eof


def test_a_stream_that_sent_nothing_still_ends_as_valid_gzip() -> None:
    assert gzip.decompress(GzipStream(SharedDeflate()).end()) == b""


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), min_size=1, max_size=6),
        min_size=1,
        max_size=12,
    ),
    st.integers(2, 4),
)
def test_streams_sharing_segments_each_decode_to_their_own_text(
    script: list[list[tuple[int, int]]], count: int
) -> None:
    """Any interleaving of shared patches, tabs' own events and heartbeats, on several
    streams at once (each stream gets the batch with its own events): every stream decodes,
    batch by batch, to exactly its text, and ends as valid gzip."""
    deflate = SharedDeflate()
    shared = [view_patch(n) for n in range(6)]
    streams = [GzipStream(deflate) for _ in range(count)]
    browsers = [Browser() for _ in range(count)]
    for step, batch in enumerate(script):
        for index, (stream, browser) in enumerate(zip(streams, browsers, strict=True)):
            if all(kind == 3 for kind, _ in batch) and index % 2:
                assert browser.receive(stream.heartbeat(PING)) == PING
                continue
            parts: list[bytes] = []
            flags: list[bool] = []
            for kind, n in batch:
                if kind == 0 and index == step % count:
                    continue  # this stream's batch lacks one shared patch: it diverges
                own = kind == 1 or (kind == 2 and index % 2 == 0)
                parts.append(own_patch(n * 10 + index) if own else shared[n])
                flags.append(not own)
            if parts:
                assert browser.receive(stream.write(parts, flags)) == b"".join(parts)
    for stream, browser in zip(streams, browsers, strict=True):
        browser.receive(stream.end())
        assert gzip.decompress(browser.wire) == browser.text


# -- compressed once ------------------------------------------------------------------------------


def test_an_update_to_streams_in_one_state_is_compressed_once_and_sent_to_all() -> None:
    deflate = SharedDeflate()
    streams = [GzipStream(deflate) for _ in range(100)]
    browsers = [Browser() for _ in streams]
    for index, (stream, browser) in enumerate(zip(streams, browsers, strict=True)):
        browser.receive(stream.write([own_patch(index)], [False]))  # each its own full render
    for n in range(3):
        patch = view_patch(n)
        before = deflate.compressions
        sent = [s.write_shared(patch) for s in streams]
        assert deflate.compressions == before + 1, "one compression per update, not per stream"
        assert all(chunk == sent[0] for chunk in sent)
        for browser, chunk in zip(browsers, sent, strict=True):
            assert browser.receive(chunk) == patch


def test_later_updates_refer_back_to_earlier_ones_and_are_smaller() -> None:
    """Streams at one state keep a window: an update much like the last costs little."""
    deflate = SharedDeflate()
    stream = GzipStream(deflate)
    first = stream.write_shared(view_patch(1))
    second = stream.write_shared(view_patch(2))
    assert len(second) < len(first) / 2
    assert len(first) < len(view_patch(1)) / 3


def test_a_tab_that_sent_its_own_bytes_joins_the_others_at_the_next_update() -> None:
    deflate = SharedDeflate()
    streams = [GzipStream(deflate) for _ in range(3)]
    for stream in streams:
        stream.write_shared(view_patch(0))
    streams[0].write([own_patch(1)], [False])  # one tab clicked
    before = deflate.compressions
    sent = [s.write_shared(view_patch(1)) for s in streams]
    # Two states now: the clicking tab's (from empty) and the others' (one compression each).
    assert deflate.compressions == before + 2
    after = deflate.compressions
    sent = [s.write_shared(view_patch(2)) for s in streams]
    assert deflate.compressions == after + 2  # still two groups
    streams[0].heartbeat(PING)
    for stream in streams[1:]:
        stream.heartbeat(PING)
    before = deflate.compressions
    sent = [s.write_shared(view_patch(3)) for s in streams]
    assert deflate.compressions == before + 1  # after a heartbeat everyone starts over together
    assert sent[0] == sent[1] == sent[2]


# -- memory ---------------------------------------------------------------------------------------


def traced(action: object) -> int:
    """Bytes still allocated after `action()` (zlib allocates through Python's allocator)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = action()  # type: ignore[operator]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    return after - before


def test_a_stream_holds_at_most_64_kb_of_compressor() -> None:
    deflate = SharedDeflate()
    big = b"".join(own_patch(n) for n in range(2000))  # far more than the window

    def busy_stream() -> GzipStream:
        stream = GzipStream(deflate)
        stream.write([big], [False])
        stream.write([own_patch(1)], [False])
        return stream

    assert traced(busy_stream) <= 64 * 1024


def test_streams_at_one_state_share_one_compressor() -> None:
    deflate = SharedDeflate()
    patch = view_patch(0)
    SharedDeflate().compressor()  # zlib's first use allocates its tables once

    def streams() -> list[GzipStream]:
        group = [GzipStream(deflate) for _ in range(200)]
        for stream in group:
            stream.write_shared(patch)
        return group

    assert traced(streams) <= 64 * 1024 + 200 * 300  # one compressor, a little per stream


def test_a_viewer_holds_no_compressor_after_its_first_render() -> None:
    """A dashboard's viewer sends nothing of its own after its first render: it keeps no
    compressor of its own (a tab that answers clicks keeps one from its second batch on)."""
    deflate = SharedDeflate()
    deflate.compressor()
    render = b"".join(own_patch(n) for n in range(200))

    def viewer() -> GzipStream:
        stream = GzipStream(deflate)
        stream.write([render], [False])
        return stream

    assert traced(viewer) < 4 * 1024


def test_an_idle_stream_holds_no_compressor_after_a_heartbeat() -> None:
    deflate = SharedDeflate()
    deflate.fresh(PING)

    def idle() -> GzipStream:
        stream = GzipStream(deflate)
        stream.write([own_patch(0)], [False])
        stream.write([own_patch(1)], [False])  # a tab that clicked: it has a compressor
        stream.heartbeat(PING)
        return stream

    assert traced(idle) < 4 * 1024


def test_a_closed_stream_gives_back_its_place() -> None:
    deflate = SharedDeflate()
    streams = [GzipStream(deflate) for _ in range(3)]
    for stream in streams:
        stream.write_shared(view_patch(0))
    for stream in streams:
        stream.close()

    def next_update() -> bytes:
        return GzipStream(deflate).write_shared(view_patch(1))

    assert traced(next_update) <= 64 * 1024  # the old state was freed, a new one made
