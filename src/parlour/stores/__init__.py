"""Where conversations live between events.

A store keeps each conversation as opaque bytes (serialised by the kernel) under its
conversation id, with the time of its last activity and the store format version. It
never parses those bytes: the conversation format belongs to the kernel alone.

    ConversationStore    the protocol (protocol.py)
    MemoryStore          a dict; for tests and demos (memory.py)
    FileStore            one file per conversation (file.py)
    SqliteStore          one SQLite file; the embedded default (sqlite.py)
    open_store(spec)     `memory` | `file:DIR` | `sqlite:PATH` -> a store (spec.py)

What this package does not do: lock conversations, cache them, or decide when they are
idle enough to forget (the runtime and its reaper do).
"""

from .file import FileStore
from .memory import MemoryStore
from .protocol import (
    CID_PATTERN,
    STORE_FORMAT_VERSION,
    ConversationStore,
    StoreFormatError,
    check_cid,
    check_touched,
)
from .spec import DEFAULT_STORE_SPEC, open_store
from .sqlite import SqliteStore

__all__ = [
    "CID_PATTERN",
    "DEFAULT_STORE_SPEC",
    "STORE_FORMAT_VERSION",
    "ConversationStore",
    "FileStore",
    "MemoryStore",
    "SqliteStore",
    "StoreFormatError",
    "check_cid",
    "check_touched",
    "open_store",
]
