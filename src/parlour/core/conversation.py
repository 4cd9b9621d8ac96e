"""The conversation: one tab's session with the server, as plain data.

    Conversation
      id, base, owner         who it is, where its URLs live, which session may use it
      stack                   iids of full-page frames, bottom (root) to top (what is shown)
      instances               iid -> Instance: every live instance (frames and their children)
      history                 snapshots for *back*, oldest first, bounded by history_limit
      timers, subscriptions   pending `after` timers and bus subscriptions, so they survive
                              a restart and die with their instance
      created, touched        unix seconds

    Instance
      iid, component          the id and the component object holding the state
      parent, resume          who receives this instance's answer, and by which method name
      children, keyed         fixed slots (slot -> iid) and keyed lists (slot -> KeyedSlot)
      slot, previous          for call_in_slot children: their slot and the displaced occupant
      rendered                whether the browser currently shows this instance (not stored)

Values are immutable by convention: the kernel builds new ones and never changes a component
that is part of a conversation (it mutates private clones), so a snapshot is just the old
value, shared structurally. `encode`/`decode` turn a conversation into versioned msgpack bytes
for the stores; encodings of snapshots and of unchanged state are computed once and cached.

What this module does not do: apply events (see `kernel`), or perform any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from .component import Component, decode_state, encode_state, lookup

__all__ = [
    "FORMAT_VERSION",
    "Conversation",
    "FormatError",
    "Instance",
    "KeyedSlot",
    "Snapshot",
    "Subscription",
    "Timer",
    "decode",
    "encode",
]

FORMAT_VERSION = 1
"""Version of the stored conversation format; bumped on incompatible changes."""


class FormatError(ValueError):
    """Stored conversation bytes that this version of parlour cannot read."""


@dataclass(frozen=True, slots=True)
class KeyedSlot:
    """A keyed list of children: their order, key -> iid, and key -> spec (to spot changes)."""

    order: tuple[str, ...] = ()
    children: Mapping[str, str] = field(default_factory=dict[str, str])
    specs: Mapping[str, bytes] = field(default_factory=dict[str, bytes])


@dataclass(frozen=True, slots=True)
class Instance:
    iid: str
    component: Component
    parent: str | None = None
    resume: str | None = None
    children: Mapping[str, str] = field(default_factory=dict[str, str])
    keyed: Mapping[str, KeyedSlot] = field(default_factory=dict[str, KeyedSlot])
    slot: str | None = None
    previous: str | None = None
    rendered: bool = False
    state: bytes | None = field(default=None, compare=False, repr=False)
    """Cached encoding of the component's state (None: not encoded yet)."""

    @property
    def type_name(self) -> str:
        return type(self.component).__parlour_name__

    def encoded_state(self) -> bytes:
        if self.state is None:
            data = encode_state(self.component)
            object.__setattr__(self, "state", data)
            return data
        return self.state


@dataclass(frozen=True, slots=True)
class Timer:
    """A pending `after` timer: call `iid.method(payload)` at `due` (unix seconds)."""

    id: str
    iid: str
    due: float
    method: str
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """Deliver bus events matching `pattern` to `iid.method(event)`."""

    iid: str
    pattern: str
    method: str


@dataclass(frozen=True, slots=True, eq=False)
class Conversation:
    id: str
    base: str = "/_parlour"
    stack: tuple[str, ...] = ()
    instances: Mapping[str, Instance] = field(default_factory=dict[str, Instance])
    history: tuple[Snapshot, ...] = ()
    history_base: int = 0
    """How many snapshots were dropped from the front of history (so depths stay absolute)."""
    history_limit: int = 50
    created: float = 0.0
    touched: float = 0.0
    owner: str | None = None
    next_id: int = 1
    last_url: str | None = None
    ended: bool = False
    timers: tuple[Timer, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()

    @property
    def top(self) -> str | None:
        """The iid of the frame the user sees, or None before boot."""
        return self.stack[-1] if self.stack else None

    @property
    def depth(self) -> int:
        """Absolute history position: grows by one per snapshot, never reused."""
        return self.history_base + len(self.history)

    def __repr__(self) -> str:
        return (
            f"Conversation(id={self.id!r}, stack={list(self.stack)!r}, "
            f"instances={len(self.instances)}, history={len(self.history)}, ended={self.ended})"
        )


class Snapshot:
    """One entry of a conversation's history: a conversation value, or its encoding.

    Snapshots are immutable, so each is encoded at most once and decoded at most once: a
    conversation restored from a store keeps its history as bytes until *back* needs it.
    """

    __slots__ = ("_conversation", "_data")

    def __init__(self, conversation: Conversation | None = None, data: bytes | None = None) -> None:
        if conversation is None and data is None:
            raise ValueError("a Snapshot needs a conversation or its encoding")
        self._conversation = conversation
        self._data = data

    def conversation(self) -> Conversation:
        if self._conversation is None:
            assert self._data is not None
            self._conversation = decode(self._data)
        return self._conversation

    def data(self) -> bytes:
        if self._data is None:
            assert self._conversation is not None
            self._data = encode(self._conversation, history=False)
        return self._data


# -- stored format ---------------------------------------------------------------------------


class _StoredKeyed(msgspec.Struct, array_like=True):
    order: list[str]
    children: dict[str, str]
    specs: dict[str, bytes]


class _StoredInstance(msgspec.Struct, array_like=True):
    iid: str
    type: str
    state: msgspec.Raw
    parent: str | None
    resume: str | None
    children: dict[str, str]
    keyed: dict[str, _StoredKeyed]
    slot: str | None
    previous: str | None


class _StoredTimer(msgspec.Struct, array_like=True):
    id: str
    iid: str
    due: float
    method: str
    payload: Any


class _StoredSubscription(msgspec.Struct, array_like=True):
    iid: str
    pattern: str
    method: str


class _Stored(msgspec.Struct, kw_only=True):
    v: int
    id: str
    base: str
    stack: list[str]
    instances: list[_StoredInstance]
    history: list[bytes]
    history_base: int
    history_limit: int
    created: float
    touched: float
    owner: str | None
    next_id: int
    last_url: str | None
    ended: bool
    timers: list[_StoredTimer]
    subscriptions: list[_StoredSubscription]


class _Version(msgspec.Struct):
    v: int = 0


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Stored)
_version_decoder = msgspec.msgpack.Decoder(_Version)


def encode(conv: Conversation, *, history: bool = True) -> bytes:
    """Serialise a conversation (with its history unless `history=False`) to msgpack bytes.

    Raises StateError, naming the component, field and type, if some state is not plain data.
    """
    stored = _Stored(
        v=FORMAT_VERSION,
        id=conv.id,
        base=conv.base,
        stack=list(conv.stack),
        instances=[
            _StoredInstance(
                iid=inst.iid,
                type=inst.type_name,
                state=msgspec.Raw(inst.encoded_state()),
                parent=inst.parent,
                resume=inst.resume,
                children=dict(inst.children),
                keyed={
                    slot: _StoredKeyed(list(k.order), dict(k.children), dict(k.specs))
                    for slot, k in inst.keyed.items()
                },
                slot=inst.slot,
                previous=inst.previous,
            )
            for inst in conv.instances.values()
        ],
        history=[snap.data() for snap in conv.history] if history else [],
        history_base=conv.history_base if history else 0,
        history_limit=conv.history_limit,
        created=conv.created,
        touched=conv.touched,
        owner=conv.owner,
        next_id=conv.next_id,
        last_url=conv.last_url,
        ended=conv.ended,
        timers=[_StoredTimer(t.id, t.iid, t.due, t.method, t.payload) for t in conv.timers],
        subscriptions=[_StoredSubscription(s.iid, s.pattern, s.method) for s in conv.subscriptions],
    )
    return _encoder.encode(stored)


def decode(data: bytes) -> Conversation:
    """Rebuild a conversation from `encode` bytes. Every instance comes back unrendered."""
    try:
        version = _version_decoder.decode(data).v
    except msgspec.DecodeError as exc:
        raise FormatError(f"not a stored parlour conversation: {exc}") from exc
    if version != FORMAT_VERSION:
        raise FormatError(
            f"stored conversation has format version {version}, this parlour reads version "
            f"{FORMAT_VERSION}. Upgrade parlour, or clear the store."
        )
    stored = _decoder.decode(data)
    instances: dict[str, Instance] = {}
    for si in stored.instances:
        cls = lookup(si.type)
        state = bytes(si.state)
        instances[si.iid] = Instance(
            iid=si.iid,
            component=decode_state(cls, state),
            parent=si.parent,
            resume=si.resume,
            children=si.children,
            keyed={
                slot: KeyedSlot(tuple(k.order), k.children, k.specs) for slot, k in si.keyed.items()
            },
            slot=si.slot,
            previous=si.previous,
            state=state,
        )
    return Conversation(
        id=stored.id,
        base=stored.base,
        stack=tuple(stored.stack),
        instances=instances,
        history=tuple(Snapshot(data=h) for h in stored.history),
        history_base=stored.history_base,
        history_limit=stored.history_limit,
        created=stored.created,
        touched=stored.touched,
        owner=stored.owner,
        next_id=stored.next_id,
        last_url=stored.last_url,
        ended=stored.ended,
        timers=tuple(Timer(t.id, t.iid, t.due, t.method, t.payload) for t in stored.timers),
        subscriptions=tuple(Subscription(s.iid, s.pattern, s.method) for s in stored.subscriptions),
    )


def without_history(conv: Conversation) -> Conversation:
    """The same conversation with an empty history (what a snapshot holds)."""
    return replace(conv, history=(), history_base=0)
