"""`open_store`: build a conversation store from a one-line spec (the CLI's `--store`).

    memory              MemoryStore()          nothing survives a restart
    file:DIR            FileStore(DIR)         one file per conversation
    sqlite:PATH         SqliteStore(PATH)      the embedded default
    PATH.sqlite / .sqlite3 / .db               shorthand for sqlite:PATH
    nats://HOST:PORT[/BUCKET]  NatsKvStore     a JetStream KV bucket that every node shares
                                               (default bucket `parlour-conversations`;
                                               several servers: nats://a:4222,nats://b:4222/B)

`~` in DIR and PATH is expanded (the shell does not expand it after `file:`). The CLI's
default is `sqlite:.parlour/state.sqlite`, relative to the working directory.

What it does not do: guess. Anything else is a `ValueError` listing the accepted forms,
because a typo that silently fell back to memory would lose every conversation at the
next restart.
"""

from __future__ import annotations

import re

from .file import FileStore
from .memory import MemoryStore
from .protocol import ConversationStore
from .sqlite import SqliteStore

__all__ = ["DEFAULT_STORE_SPEC", "open_store"]

DEFAULT_STORE_SPEC = "sqlite:.parlour/state.sqlite"
"""What `parlour run` uses when `--store` is not given."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+")  # two letters or more, so `C:\x.db` is a path
_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_NATS_SCHEMES = ("nats", "tls")
_FORMS = (
    "'memory', 'file:DIR', 'sqlite:PATH', 'nats://HOST:PORT[/BUCKET]', or a path ending in "
    ".sqlite, .sqlite3 or .db "
    f"(e.g. {DEFAULT_STORE_SPEC!r})"
)


def open_store(spec: str) -> ConversationStore:
    """Open the store `spec` names; raise `ValueError` naming the accepted forms otherwise.

    Opening may touch the disk (creating directories, the SQLite file), so a bad path
    fails here, at startup, rather than at the first save.
    """
    text = spec.strip()
    if text == "memory":
        return MemoryStore()
    scheme, sep, rest = text.partition(":")
    if sep and scheme in ("file", "sqlite"):
        if not rest.strip():
            raise ValueError(
                f"store spec {spec!r} names no {'directory' if scheme == 'file' else 'path'}; "
                f"expected {_FORMS}"
            )
        return FileStore(rest) if scheme == "file" else SqliteStore(rest)
    if sep and scheme in _NATS_SCHEMES and rest.startswith("//"):
        return _nats_store(spec, text)
    if sep and _SCHEME.fullmatch(scheme):  # `postgres://…`, `memory:x.db`: not a bare path
        raise ValueError(f"unknown store kind {scheme!r} in {spec!r}; expected {_FORMS}")
    if text.lower().endswith(_SQLITE_SUFFIXES):
        return SqliteStore(text)
    raise ValueError(f"unknown store spec {spec!r}; expected {_FORMS}")


def _nats_store(spec: str, text: str) -> ConversationStore:
    """`nats://HOST:PORT[,nats://HOST2:PORT][/BUCKET]` -> a NatsKvStore (connected later)."""
    import importlib.util

    if importlib.util.find_spec("nats") is None:
        raise ValueError(
            f"store spec {spec!r} needs nats-py; install it with `pip install 'parlour[nats]'`"
        )
    from .nats_kv import BUCKET_PATTERN, DEFAULT_BUCKET, NatsKvStore

    servers = [server.strip() for server in text.split(",")]
    scheme, _, last = servers[-1].partition("://")
    host, _, bucket = last.partition("/")
    servers[-1] = f"{scheme}://{host}"
    bucket = bucket.strip("/") or DEFAULT_BUCKET
    if not host or not all(s.split("://", 1)[-1] for s in servers):
        raise ValueError(f"store spec {spec!r} names no NATS server; expected {_FORMS}")
    if BUCKET_PATTERN.fullmatch(bucket) is None:
        raise ValueError(
            f"store spec {spec!r}: bucket {bucket!r} may only hold A-Z a-z 0-9 '_' '-' "
            f"(e.g. nats://127.0.0.1:4222/{DEFAULT_BUCKET})"
        )
    return NatsKvStore(",".join(servers), bucket=bucket)
