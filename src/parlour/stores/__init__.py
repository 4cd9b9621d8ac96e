"""Where conversations live between events.

A store keeps each conversation as opaque bytes (serialised by the kernel) under its
conversation id, with the time of its last activity and the store format version. It
never parses those bytes: the conversation format belongs to the kernel alone.

    ConversationStore    the protocol (protocol.py)
    MemoryStore          a dict; for tests and demos (memory.py)
    FileStore            one file per conversation (file.py)
    SqliteStore          one SQLite file; the embedded default (sqlite.py)
    PartStore, Change    a store that keeps a conversation in parts, and one save to it:
                         the head and the history records that changed (protocol.py;
                         SqliteStore is one)
    RecordStore          a store in this process's memory that holds the head and the history
                         records as they are: a save copies nothing (protocol.py; MemoryStore)
    RevisionedStore      a store several nodes share: compare-and-set saves (protocol.py)
    NatsKvStore          a NATS JetStream KV bucket, for a cluster (nats_kv.py; nats-py)
    open_store(spec)     `memory` | `file:DIR` | `sqlite:PATH` | `nats://HOST:PORT[/BUCKET]`
                         -> a store (spec.py)

What this package does not do: lock conversations, cache them, or decide when they are
idle enough to forget (the runtime and its reaper do).

`NatsKvStore` is loaded lazily, so `import parlour.stores` works without nats-py installed.
"""

from typing import TYPE_CHECKING, Any

from .file import FileStore
from .memory import MemoryStore
from .protocol import (
    CID_PATTERN,
    STORE_FORMAT_VERSION,
    Change,
    Conflict,
    ConversationStore,
    PartStore,
    RecordStore,
    RevisionedStore,
    StoreFormatError,
    check_cid,
    check_touched,
)
from .spec import DEFAULT_STORE_SPEC, open_store
from .sqlite import SqliteStore

if TYPE_CHECKING:
    from .nats_kv import NatsKvStore as NatsKvStore

__all__ = [
    "CID_PATTERN",
    "DEFAULT_STORE_SPEC",
    "STORE_FORMAT_VERSION",
    "Change",
    "Conflict",
    "ConversationStore",
    "FileStore",
    "MemoryStore",
    "NatsKvStore",
    "PartStore",
    "RecordStore",
    "RevisionedStore",
    "SqliteStore",
    "StoreFormatError",
    "check_cid",
    "check_touched",
    "open_store",
]


def __getattr__(name: str) -> Any:
    if name == "NatsKvStore":
        try:
            from .nats_kv import NatsKvStore
        except ImportError as exc:
            raise ImportError(
                "parlour.stores.NatsKvStore needs nats-py; install it with "
                "`pip install 'parlour[nats]'`."
            ) from exc
        return NatsKvStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
