"""Reading a multipart upload from the ASGI `receive` channel straight into files, under limits.

    files = await receive_files(receive, boundary=b"…", accept=accept, folder=path)

Each chunk the server hands over goes through python-multipart's streaming parser; the bytes
of each file part go to its own file in `folder` (written on a worker thread, about a
megabyte at a time), so an upload is never held whole in memory: what this costs is one
chunk, one pending megabyte, and the parser's state. The limits of the `Accept` declaration
are checked as the bytes arrive: a file part of a type it does not take is refused at its
headers, before any of its bytes; the file after the last allowed one, at its headers; a file
that grows past `max_size`, at the byte that does; a body longer than `accept.body_limit`,
likewise. A refusal, a malformed body or a client that went away deletes `folder` and
everything in it: nothing of that request is left half-delivered.

Why not Starlette's `request.form()` (it uses the same parser): it spools every file into a
`SpooledTemporaryFile` (the first megabyte in memory, the rest in the system's temp dir), has
no per-file size limit and checks no type before reading a part whole, and its files would
then have to be copied into the conversation's folder. Driving the parser ourselves writes
each byte once, to its final place, and refuses as early as the limits allow.
(docs/decisions/0008-uploads.md)

What this module does not do: check who sends (`parlour.web.upload`), or deliver the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import Receive

from parlour.core.uploads import Accept, Upload, UploadRefused

__all__ = ["BadUpload", "ClientGone", "boundary_of", "clean_name", "receive_files"]

FLUSH = 1 << 20
"""Bytes of a file kept in memory before they are written out (one worker-thread write)."""

MAX_NAME = 255
"""The longest file name kept (in characters); longer ones are cut."""

MAX_HEADER = 8 * 1024
"""The longest header line of a part (field and value), in bytes."""

MAX_HEADERS = 16
"""The most header lines a part may have (a browser sends two)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")


type _Step = tuple[str, str] | memoryview | None
"""What a file receives next: open (its name and content type), bytes, or close (None)."""


class BadUpload(Exception):
    """The body is not a multipart upload parlour can read (400): a broken client."""


class ClientGone(Exception):
    """The client went away before its upload ended (a cancel, a closed tab)."""


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary of a request's `Content-Type`, or BadUpload saying what is wrong."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        shown = (content_type or "none")[:80]
        raise BadUpload(f"an upload must be multipart/form-data, got Content-Type {shown!r}")
    boundary = options.get(b"boundary", b"")
    if not boundary or len(boundary) > 200:
        raise BadUpload("the multipart/form-data Content-Type has no usable boundary")
    return boundary


def clean_name(raw: str) -> str:
    """A file name as the browser gave it, made safe to show and store: the last path segment
    (some browsers send a whole path), no control characters, at most MAX_NAME characters."""
    name = _CONTROL.sub("", raw.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:MAX_NAME] or "file"


class _Parts:
    """The parser's callbacks: they check the limits and queue what the files receive.

    The callbacks run inside `parser.write` (synchronous); the queued steps are performed by
    `receive_files` afterwards, where it may await the disk.
    """

    def __init__(self, accept: Accept, boundary: bytes) -> None:
        self.accept = accept
        self.refused: UploadRefused | None = None
        self.ended = False
        self.count = 0
        self.steps: list[_Step] = []
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._count = 0
        self._file: str | None = None  # the name of the file part being read, if any
        self._size = 0
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def write(self, chunk: bytes) -> None:
        try:
            self.parser.write(chunk)
        except FormParserError as exc:
            raise BadUpload(f"the multipart body is malformed: {exc}") from None

    def _refuse(self, refusal: UploadRefused) -> None:
        if self.refused is None:
            self.refused = refusal
        self._file = None

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""
        self._count = 0

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._check_header()

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        # Whatever the parser's version allows: a part's header is a line, not a payload.
        if len(self._field) + len(self._value) > MAX_HEADER:
            raise BadUpload(f"a part's header is longer than {MAX_HEADER} bytes")

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""
        self._count += 1
        if self._count > MAX_HEADERS:
            raise BadUpload(f"a part has more than {MAX_HEADERS} headers")

    def _headers_finished(self) -> None:
        if self.refused is not None:
            return
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        raw = options.get(b"filename")
        if raw is None or raw == b"":
            self._file = None  # a plain field, or an input left empty: not a file
            return
        name = clean_name(raw.decode("utf-8", "replace"))
        ctype = self._headers.get(b"content-type", b"").decode("latin-1").strip()
        self.count += 1
        if self.count > self.accept.max_files:
            self._refuse(self.accept.too_many())
        elif not self.accept.admits(name, ctype):
            self._refuse(self.accept.wrong_type(name, ctype))
        else:
            self._file, self._size = name, 0
            self.steps.append((name, ctype or "application/octet-stream"))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is None:
            return  # a plain field's value, a refused part: counted by the body limit only
        self._size += end - start
        if self._size > self.accept.max_size:
            self._refuse(self.accept.too_large(self._file))
            return
        # A view, not a copy: the sink copies it once into its pending buffer, right after
        # this chunk is parsed (while `data` is still alive).
        self.steps.append(memoryview(data)[start:end])

    def _part_end(self) -> None:
        if self._file is not None:
            self.steps.append(None)
            self._file = None

    def _end(self) -> None:
        self.ended = True


class _Sink:
    """The files of one upload, in `folder`: opened, filled and closed as the steps say."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Upload] = []
        self._out: BinaryIO | None = None
        self._pending = bytearray()
        self._meta: tuple[str, str] | None = None
        self._size = 0

    async def perform(self, steps: list[_Step]) -> None:
        for step in steps:
            if isinstance(step, memoryview):
                self._pending += step
                self._size += step.nbytes
                if len(self._pending) >= FLUSH:
                    await self._flush()
            elif step is None:
                await self._close()
            else:
                self._meta = step
                self._out = await asyncio.to_thread(self._open, len(self.files), step[0])
                self._size = 0
        steps.clear()

    def _open(self, index: int, name: str) -> BinaryIO:
        self.folder.mkdir(parents=True, exist_ok=True)
        suffix = Path(name).suffix
        suffix = suffix.lower() if _SUFFIX.fullmatch(suffix) else ""
        return (self.folder / f"{index}{suffix}").open("wb")

    async def _flush(self) -> None:
        out, data = self._out, self._pending
        self._pending = bytearray()
        if out is not None and data:
            await asyncio.to_thread(out.write, data)

    async def _close(self) -> None:
        await self._flush()
        out, meta = self._out, self._meta
        self._out = self._meta = None
        if out is None or meta is None:
            return
        await asyncio.to_thread(out.close)
        self.files.append(Upload(meta[0], self._size, meta[1], out.name))

    async def discard(self) -> None:
        """Close what is open and delete the folder with every file of this upload."""
        out, self._out = self._out, None
        self._pending = bytearray()

        def remove() -> None:
            if out is not None:
                with contextlib.suppress(OSError):
                    out.close()
            shutil.rmtree(self.folder, ignore_errors=True)

        await asyncio.to_thread(remove)


async def receive_files(
    receive: Receive, *, boundary: bytes, accept: Accept, folder: Path
) -> list[Upload]:
    """Read the whole body into files in `folder` (created on the first file).

    Raises UploadRefused (a limit), BadUpload (not a well-formed multipart body, or no file
    in it) or ClientGone (disconnected); in each case `folder` is gone.
    """
    parts = _Parts(accept, boundary)
    sink = _Sink(folder)
    total = 0
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone()
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > accept.body_limit:
                raise accept.body_too_large(total)
            parts.write(chunk)
            if parts.refused is not None:
                raise parts.refused
            await sink.perform(parts.steps)
            if not message.get("more_body", False):
                break
        if not parts.ended:
            raise BadUpload("the multipart body ended before its closing boundary")
        if not sink.files:
            raise BadUpload("the upload holds no file (a part with a filename)")
        return sink.files
    except BaseException:
        await sink.discard()
        raise
