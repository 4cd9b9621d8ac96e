"""Uploads: what a component accepts as files, and what its handler receives.

    class Photos(Component):
        shown: list[str] = []
        problem: str = ""

        def render(self):
            return div(self.root)[file_input(self.received), ...]      # parlour.ui.file_input

        @upload(max_size=10 * MB, max_files=3, types=["image/*", ".pdf"])
        def received(self, files: list[Upload]):                     # all of them, or none
            self.shown = [f"{f.name} — {f.size} bytes" for f in files]

        def on_error_received(self, error: UploadRefused):           # optional
            self.problem = str(error)                                # "a.png: too large (…)"

`@upload(...)` declares what a handler accepts: at most `max_files` files of at most
`max_size` bytes each, of the given `types` (MIME types, `image/*`, or `.ext` name endings;
none given: any). A bad declaration is refused when the class is defined, naming the fix.
The handler receives a list of `Upload` (name, size, content type, path of the file on the
server's disk) as an ordinary event through the kernel, once every file has arrived whole; a
request that breaks a limit delivers nothing and calls `on_error_<handler>(UploadRefused)`
instead, when the component defines it (the same convention as the failure of `io` work).

An `@upload` handler is not an `@event`, and may not be one: the event route takes JSON from
the browser, which could then hand the handler any path on the server as an "upload". Only
the upload route (`parlour.web.upload`) calls it, with files it wrote itself.

Types are what the browser declares (the file's name and content type), not what the bytes
are: a handler that cares (an image library, a PDF parser) checks the content itself.

What this module does not do: read HTTP bodies or write files (`parlour.web.upload`), or
render the file input (`parlour.ui.upload`).
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from .errors import ComponentDefinitionError

__all__ = [
    "KB",
    "MB",
    "Accept",
    "Upload",
    "UploadHandler",
    "UploadRefused",
    "accepting",
    "size_text",
    "upload",
]

KB = 1024
"""A kibibyte: `max_size=500 * KB`."""

MB = 1024 * KB
"""A mebibyte: `max_size=10 * MB` (shown as "10 MB")."""

PART_OVERHEAD = 8 * KB
"""Room per file for its multipart headers (name, type, boundary) in the body limit."""

_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)")
_SUFFIX = re.compile(r"\.[a-z0-9][a-z0-9_+-]*(\.[a-z0-9][a-z0-9_+-]*)*")


def size_text(size: int) -> str:
    """`size` bytes for people: `10 MB`, `1.5 KB`, `200 bytes`."""
    for unit, name in ((MB, "MB"), (KB, "KB")):
        if size >= unit:
            value = size / unit
            return f"{value:.0f} {name}" if value == int(value) else f"{value:.1f} {name}"
    return f"{size} byte" + ("" if size == 1 else "s")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Accept:
    """What one `@upload` handler takes: count, size per file, types (empty: any type)."""

    max_size: int = 10 * MB
    max_files: int = 1
    types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _whole(self.max_size) or self.max_size < 1:
            raise ComponentDefinitionError(
                f"upload(max_size=...) must be a number of bytes >= 1, got {self.max_size!r}; "
                "e.g. max_size=10 * MB (from parlour import MB)"
            )
        if not _whole(self.max_files) or self.max_files < 1:
            raise ComponentDefinitionError(
                f"upload(max_files=...) must be a whole number >= 1, got {self.max_files!r}; "
                "e.g. max_files=3"
            )
        raw: object = self.types
        if isinstance(raw, str):
            raise ComponentDefinitionError(
                f"upload(types=...) must be a list of types, got the string {raw!r}; "
                f"write types=[{raw!r}]"
            )
        given: tuple[object, ...] = tuple(cast(Iterable[object], raw))
        kinds = tuple(t.strip().lower() if isinstance(t, str) else t for t in given)
        for kind in kinds:
            if not isinstance(kind, str) or not (_MIME.fullmatch(kind) or _SUFFIX.fullmatch(kind)):
                raise ComponentDefinitionError(
                    f"upload(types=...) names {kind!r}, which is neither a MIME type "
                    "('application/pdf'), a family ('image/*') nor a file name ending ('.pdf')"
                )
        object.__setattr__(self, "types", kinds)

    @property
    def body_limit(self) -> int:
        """The largest request body these limits can need: every file at its largest, with
        room for the multipart framing. A longer body is refused before it is read."""
        return self.max_files * (self.max_size + PART_OVERHEAD) + PART_OVERHEAD

    @property
    def accept_attribute(self) -> str:
        """The `accept` attribute of the file input (the browser's picker filters by it)."""
        return ",".join(self.types)

    def admits(self, filename: str, content_type: str) -> bool:
        """Is a file named `filename`, declared as `content_type`, of an accepted type?"""
        if not self.types:
            return True
        name = filename.lower()
        ctype = content_type.split(";")[0].strip().lower()
        for kind in self.types:
            if kind.startswith("."):
                if name.endswith(kind):
                    return True
            elif kind.endswith("/*"):
                if kind == "*/*" or ctype.startswith(kind[:-1]):
                    return True
            elif ctype == kind:
                return True
        return False

    # -- the refusals, worded for the person who chose the files ------------------------------

    def too_large(self, filename: str) -> UploadRefused:
        return UploadRefused(
            "too_large",
            f"{filename}: too large (limit {size_text(self.max_size)})",
            file=filename,
        )

    def body_too_large(self, size: int) -> UploadRefused:
        files = "1 file" if self.max_files == 1 else f"{self.max_files} files"
        return UploadRefused(
            "too_large",
            f"the upload is too large: {size_text(size)} "
            f"(limit {files} of {size_text(self.max_size)})",
        )

    def too_many(self) -> UploadRefused:
        return UploadRefused("too_many", f"too many files (limit {self.max_files})")

    def wrong_type(self, filename: str, content_type: str) -> UploadRefused:
        return UploadRefused(
            "wrong_type",
            f"{filename}: wrong type {content_type or 'unknown'} "
            f"(accepted: {', '.join(self.types)})",
            file=filename,
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """One received file: as the browser named and typed it, its exact size, and where it is.

    `path` is a file on the server's disk, kept until the conversation ends (then deleted with
    its folder). Read it in the handler, or hand it to `io(...)`; move it elsewhere to keep it.
    An `Upload` is plain data, so it may be kept in state (`files: list[Upload] = []`).
    """

    name: str
    size: int
    content_type: str
    path: str


type RefusalKind = Literal["too_large", "too_many", "wrong_type"]


class UploadRefused(Exception):
    """An upload broke its handler's limits: nothing of it was delivered.

    `kind` is `too_large`, `too_many` or `wrong_type`; `file` the file at fault (None for
    the request as a whole); `str(error)` is the sentence to show the person.
    """

    def __init__(self, kind: RefusalKind, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.kind: RefusalKind = kind
        self.file = file
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status the upload route answers with: 415 for a type, else 413."""
        return 415 if self.kind == "wrong_type" else 413

    def __repr__(self) -> str:
        return f"UploadRefused({self.kind!r}, {self.message!r})"


class UploadHandler:
    """An `@upload` method: the function, and what it accepts. See `upload`."""

    def __init__(self, fn: Callable[..., Any], accept: Accept) -> None:
        self.fn = fn
        self.accept = accept
        self.name = getattr(fn, "__name__", "handler")
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __set_name__(self, owner: type, name: str) -> None:
        """Checked when the class is defined: a public name, not an @event, takes the files."""
        self.name = name
        where = f"{owner.__qualname__}.{name}"
        if name.startswith("_"):
            raise ComponentDefinitionError(
                f"{where} is an @upload handler with a private name; give it a public one "
                f"(for example `{name.lstrip('_') or 'received'}`)"
            )
        if getattr(self, "__parlour_event__", False) or getattr(self.fn, "__parlour_event__", 0):
            raise ComponentDefinitionError(
                f"{where} is both @upload and @event. An @event may be called by the browser "
                "with any JSON, so it could be handed a forged file path; remove @event (the "
                "upload route calls an @upload handler itself)."
            )
        if not _takes_files(self.fn):
            raise ComponentDefinitionError(
                f"{where} is an @upload handler but takes no argument for the files; declare "
                f"it as `def {name}(self, files: list[Upload]): ...`"
            )

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return types.MethodType(self.fn, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<upload handler {self.name} {self.accept}>"


def _takes_files(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def upload[F: Callable[..., Any]](
    bare: object = None,
    /,
    *,
    max_size: int = 10 * MB,
    max_files: int = 1,
    types: Iterable[str] = (),
) -> Callable[[F], F]:
    """Mark a method as the handler of a file input: it receives `list[Upload]`.

    `max_size` bytes per file (default 10 MB), `max_files` files per upload (default 1),
    `types` accepted (`"image/*"`, `"application/pdf"`, `".pdf"`; default any). Render the
    input with `parlour.ui.file_input(self.handler)`. Refusals go to `on_error_<handler>`.
    """
    if bare is not None:
        raise ComponentDefinitionError(
            f"@upload needs its parentheses: write `@upload()` (or `@upload(max_size=10 * MB)`) "
            f"above {getattr(bare, '__qualname__', repr(bare))}"
        )
    # A string is refused by Accept, naming the fix; anything else becomes a tuple.
    kinds: Any = types if isinstance(types, str) else tuple(types)
    accept = Accept(max_size, max_files, kinds)

    def mark(fn: F) -> F:
        if not callable(fn) or isinstance(fn, UploadHandler):
            raise ComponentDefinitionError(
                f"@upload(...) decorates a method, got {fn!r}; write `@upload(max_size=...)` "
                "directly above `def handler(self, files): ...`"
            )
        return cast(F, UploadHandler(fn, accept))

    return mark


def accepting(cls: type, name: str) -> UploadHandler | None:
    """The `@upload` handler `name` of component class `cls`, or None when it has none."""
    for klass in cls.__mro__:
        member = vars(klass).get(name)
        if member is not None:
            return member if isinstance(member, UploadHandler) else None
    return None
