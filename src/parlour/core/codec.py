"""The stored form of a conversation: versioned msgpack bytes, and history entries.

    encode(conv, history=True) -> bytes     what a store saves (StateError names bad state)
    decode(data) -> Conversation            every instance comes back unrendered
    encode_head(conv) -> bytes              the conversation without its history records
    history_records(conv) -> list[bytes]    its history records (the first full, then deltas)
    join(head, records) -> bytes            the two back together: what `encode` gives
    Snapshot                                one history entry: a conversation, or its bytes
    FORMAT_VERSION, STORED_FIELDS, FormatError   the format written, and what cannot be read

Encodings of snapshots and of unchanged state are computed once and cached: a conversation
restored from a store keeps its history as bytes until *back* needs an entry.

Stored (format 3): a conversation is a msgpack array of its fields, no key names repeated;
the oldest history snapshot is a full record, every later one a small *delta* against the
one before it (the instances that changed, were added or removed; the stack, timers and
subscriptions only if changed). Formats 1 and 2 (maps; 1 without deltas) are still read.

A store may also keep a conversation in parts, its head and its history records one by one
(`parlour.stores.protocol.Change`), so that the save of a click writes the head and the one
new record instead of the whole history again; `join` makes the bytes `encode` would have
made from them, so what such a store loads is read like any other.

What this module does not do: define the data model (see `conversation`), or perform I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

import msgspec

from .component import lookup
from .conversation import EMPTY, Conversation, Instance, KeyedSlot, Subscription, Timer
from .state import decode_state

__all__ = [
    "FORMAT_VERSION",
    "STORED_FIELDS",
    "FormatError",
    "Snapshot",
    "decode",
    "encode",
    "encode_head",
    "history_records",
    "join",
]

FORMAT_VERSION = 3
"""Version of the stored conversation format; bumped on incompatible changes.

3: a conversation and its full records are arrays of their fields in order, not maps.
2: history entries after the first are deltas against the entry before them (still decoded).
1: every history entry is a full conversation record (still decoded).
"""

_READABLE = frozenset({1, 2, FORMAT_VERSION})


class FormatError(ValueError):
    """Stored conversation bytes that this version of parlour cannot read."""


class Snapshot:
    """One entry of a conversation's history: a conversation value, or its encoding.

    Snapshots are immutable, so each is encoded at most once and decoded at most once: a
    conversation restored from a store keeps its history as bytes until *back* needs it.

    A snapshot has up to two encodings: `data()`, its full record, and a delta against the
    snapshot before it in history (what `encode` stores for every entry but the first). A
    snapshot decoded from a delta leans on the one before it until it is materialised;
    `rebase()` cuts that link when the one before is dropped from history.
    """

    __slots__ = ("_conversation", "_data", "_delta", "_delta_of", "_records", "_records_for")

    def __init__(self, conversation: Conversation | None = None, data: bytes | None = None):
        if conversation is None and data is None:
            raise ValueError("a Snapshot needs a conversation or its encoding")
        self._conversation = conversation
        self._data = data
        self._delta: bytes | None = None
        self._delta_of: Snapshot | None = None
        # Kept on the newest entry of an encoded history: the records `encode` stored, and
        # the entries before this one that they were for (so the next save reuses them).
        self._records: list[bytes] | None = None
        self._records_for: tuple[Snapshot, ...] = ()

    @classmethod
    def _stored(cls, record: bytes, before: Snapshot | None) -> Snapshot:
        """A history entry as `encode` stored it: a full record, or a delta against `before`."""
        if not _is_delta(record):
            return cls(data=record)
        snap = cls.__new__(cls)
        snap._conversation = None
        snap._data = None
        snap._delta = record
        snap._delta_of = before
        snap._records = None
        snap._records_for = ()
        return snap

    def conversation(self) -> Conversation:
        if self._conversation is not None:
            return self._conversation
        # Resolve a chain of deltas back to the nearest full record, without recursion.
        chain: list[Snapshot] = []
        snap: Snapshot = self
        while snap._conversation is None and snap._data is None:
            chain.append(snap)
            if snap._delta_of is None:
                raise FormatError(
                    "a stored history entry records a change to an earlier entry that is missing"
                )
            snap = snap._delta_of
        conv = snap._conversation
        if conv is None:
            assert snap._data is not None
            conv = snap._conversation = decode(snap._data)
        for step in reversed(chain):
            assert step._delta is not None
            conv = step._conversation = _apply_delta(conv, step._delta)
        assert self._conversation is not None
        return self._conversation

    def data(self) -> bytes:
        if self._data is None:
            self._data = encode(self.conversation(), history=False)
        return self._data

    def rebase(self) -> None:
        """The snapshot before this one left history: stop leaning on it (materialise first)."""
        if self._delta_of is None:
            return
        if self._conversation is None and self._data is None:
            self.conversation()
        self._delta = None
        self._delta_of = None

    def _record_after(self, before: Snapshot | None) -> bytes:
        """What `encode` stores for this entry when `before` precedes it (None: the first)."""
        if before is None:
            return self.data()
        if self._delta is not None and self._delta_of is before:
            return self._delta
        if self._conversation is None and self._data is not None:
            return self._data  # a full record is valid anywhere; keep its bytes untouched
        delta = _encode_delta(before.conversation(), self.conversation())
        self._delta = delta
        self._delta_of = before
        return delta


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


class _Stored(msgspec.Struct, array_like=True):
    v: int  # first: the version is read before the rest
    id: str
    base: str
    stack: list[str]
    instances: list[_StoredInstance]
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
    history: list[bytes]  # last: `join` replaces the empty list a head ends with


STORED_FIELDS: tuple[str, ...] = _Stored.__struct_fields__  # in order: format 3's array


class _StoredMap(_Stored, array_like=False):
    """A stored conversation of formats 1 and 2: the same fields, as a map by name."""


class _Version(msgspec.Struct):
    v: int = 0


class _VersionArray(_Version, array_like=True):
    """The version of a stored array (format 3 and later): its first element."""


class _StoredChange(msgspec.Struct, array_like=True):
    """An instance in a delta: new, or changed (`type` "": the type it had before; `children`
    and `keyed` None: as before, since a parent's keyed list is large and rarely changes)."""

    iid: str
    type: str
    state: msgspec.Raw
    parent: str | None
    resume: str | None
    children: dict[str, str] | None
    keyed: dict[str, _StoredKeyed] | None
    slot: str | None
    previous: str | None


class _StoredDelta(msgspec.Struct, array_like=True):
    """A history entry as a change to the entry before it (format 2).

    `instances` holds the instances that differ or are new; `removed` the iids that are gone;
    `order` the instances' order when applying the change would not give it. `None` means
    "as before" for stack, timers and subscriptions. Encoded as a msgpack array whose first
    element is the stack, a list or nil: that tells it from a full record (`_is_delta`).
    """

    stack: list[str] | None
    instances: list[_StoredChange]
    removed: list[str]
    order: list[str] | None
    next_id: int
    last_url: str | None
    timers: list[_StoredTimer] | None
    subscriptions: list[_StoredSubscription] | None


_encoder = msgspec.msgpack.Encoder()
_Raw = msgspec.Raw
_decoder = msgspec.msgpack.Decoder(_Stored)
_map_decoder = msgspec.msgpack.Decoder(_StoredMap)
_version_decoder = msgspec.msgpack.Decoder(_Version)
_version_array_decoder = msgspec.msgpack.Decoder(_VersionArray)
_delta_decoder = msgspec.msgpack.Decoder(_StoredDelta)
_items_decoder = msgspec.msgpack.Decoder(list[msgspec.Raw])

_ARRAY = {**dict.fromkeys(range(0x90, 0xA0), 1), 0xDC: 3, 0xDD: 5}  # 1st byte -> header length


def _is_delta(record: bytes) -> bool:
    """Whether a history record is a delta, from its first bytes (run per record on restore).
    Full records of formats 1 and 2 are maps; of format 3, arrays like deltas: a full record
    starts with its version, an int, a delta with its stack, a list or nil (whatever the
    array headers' lengths: a full record has 16 elements, a stack can have more than 15)."""
    skip = _ARRAY.get(record[0], 0) if record else 0  # 0: a map (or not a record: decode says)
    return 0 < skip < len(record) and (record[skip] == 0xC0 or record[skip] in _ARRAY)


def _dict[K, V](mapping: Mapping[K, V]) -> dict[K, V]:
    """`mapping` as msgpack can encode it: a dict as it is (no copy), anything else copied."""
    return cast(dict[K, V], mapping) if type(mapping) is dict else dict(mapping)


def _stored_keyed(keyed: Mapping[str, KeyedSlot]) -> dict[str, list[Any]]:
    """Each keyed list as `_StoredKeyed` is written (an array: order, children, specs)."""
    return {slot: [k.order, _dict(k.children), _dict(k.specs)] for slot, k in keyed.items()}


def _stored_instance(inst: Instance) -> list[Any]:
    """An instance as `_StoredInstance` is written: the same array, without a Struct."""
    keyed, children, state = inst.keyed, inst.children, inst.state
    return [
        inst.iid,
        type(inst.component).__parlour_name__,
        _Raw(inst.encoded_state() if state is None else state),
        inst.parent,
        inst.resume,
        children if type(children) is dict else dict(children),
        _stored_keyed(keyed) if keyed else {},
        inst.slot,
        inst.previous,
    ]


def _stored_change(inst: Instance, prior: Instance | None) -> list[Any]:
    """An instance in a delta, as `_StoredChange` is written (a new one: as in a record)."""
    if prior is None:
        return _stored_instance(inst)
    return [
        inst.iid,
        "" if type(prior.component) is type(inst.component) else inst.type_name,
        _Raw(inst.encoded_state()),
        inst.parent,
        inst.resume,
        None if prior.children == inst.children else _dict(inst.children),
        None if prior.keyed == inst.keyed else _stored_keyed(inst.keyed),
        inst.slot,
        inst.previous,
    ]


def _stored_timers(timers: tuple[Timer, ...]) -> list[list[Any]]:
    return [[t.id, t.iid, t.due, t.method, t.payload] for t in timers]


def _stored_subscriptions(subs: tuple[Subscription, ...]) -> list[list[str]]:
    return [[s.iid, s.pattern, s.method] for s in subs]


def _instance(si: _StoredInstance, type_name: str) -> Instance:
    cls = lookup(type_name)
    state = bytes(si.state)
    return Instance(
        iid=si.iid,
        component=decode_state(cls, state),
        parent=si.parent,
        resume=si.resume,
        children=si.children or EMPTY,
        keyed=_keyed(si.keyed) if si.keyed else EMPTY,
        slot=si.slot,
        previous=si.previous,
        state=state,
    )


def _keyed(stored: dict[str, _StoredKeyed]) -> dict[str, KeyedSlot]:
    return {slot: KeyedSlot(tuple(k.order), k.children, k.specs) for slot, k in stored.items()}


def _same_instance(a: Instance, b: Instance) -> bool:
    """Whether `a` and `b` store the same record (`rendered` is not stored)."""
    if a is b:
        return True
    state_a, state_b = a.state, b.state  # the encodings, compared first: what a click changes
    return (
        (a.encoded_state() if state_a is None else state_a)
        == (b.encoded_state() if state_b is None else state_b)
        and type(a.component) is type(b.component)
        and a.parent == b.parent
        and a.resume == b.resume
        and a.slot == b.slot
        and a.previous == b.previous
        and a.children == b.children
        and a.keyed == b.keyed
    )


def _encode_delta(before: Conversation, conv: Conversation) -> bytes:
    """`conv` as a `_StoredDelta` against `before`, written as the array that struct is."""
    old = before.instances
    new = conv.instances
    changed: list[list[Any]] = []
    for iid, inst in new.items():
        prior = old.get(iid)
        if prior is None or not _same_instance(prior, inst):
            changed.append(_stored_change(inst, prior))
    order = list(new)
    if order == list(old):  # the usual click: the same instances, in the same order
        removed: list[str] = []
        reordered = None
    else:
        removed = [iid for iid in old if iid not in new]
        gone = set(removed)
        applied = [iid for iid in old if iid not in gone] + [iid for iid in new if iid not in old]
        reordered = None if applied == order else order
    stack = None if conv.stack == before.stack else conv.stack
    timers = None if conv.timers == before.timers else _stored_timers(conv.timers)
    subs = conv.subscriptions
    subs = None if subs == before.subscriptions else _stored_subscriptions(subs)
    delta = [stack, changed, removed, reordered, conv.next_id, conv.last_url, timers, subs]
    return _encoder.encode(delta)


def _apply_delta(before: Conversation, record: bytes) -> Conversation:
    try:
        delta = _delta_decoder.decode(record)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FormatError(f"not a stored parlour history entry: {exc}") from exc
    instances = dict(before.instances)
    for iid in delta.removed:
        instances.pop(iid, None)
    for si in delta.instances:
        prior = before.instances.get(si.iid)
        if prior is not None:
            cls = lookup(si.type) if si.type else type(prior.component)
            children = prior.children if si.children is None else si.children
            keyed = prior.keyed if si.keyed is None else _keyed(si.keyed)
        elif si.type and si.children is not None and si.keyed is not None:
            cls, children, keyed = lookup(si.type), si.children, _keyed(si.keyed)
        else:
            raise FormatError(f"a stored history entry changes an unknown instance {si.iid!r}")
        state = bytes(si.state)
        instances[si.iid] = Instance(
            iid=si.iid,
            component=decode_state(cls, state),
            parent=si.parent,
            resume=si.resume,
            children=children,
            keyed=keyed,
            slot=si.slot,
            previous=si.previous,
            state=state,
        )
    if delta.order is not None:
        try:
            instances = {iid: instances[iid] for iid in delta.order}
        except KeyError as exc:
            raise FormatError(f"a stored history entry orders an unknown instance {exc}") from None
    return replace(
        before,
        stack=before.stack if delta.stack is None else tuple(delta.stack),
        instances=instances,
        history=(),
        history_base=0,
        next_id=delta.next_id,
        last_url=delta.last_url,
        timers=before.timers
        if delta.timers is None
        else tuple(Timer(t.id, t.iid, t.due, t.method, t.payload) for t in delta.timers),
        subscriptions=before.subscriptions
        if delta.subscriptions is None
        else tuple(Subscription(s.iid, s.pattern, s.method) for s in delta.subscriptions),
    )


def encode(conv: Conversation, *, history: bool = True) -> bytes:
    """Serialise a conversation (with its history unless `history=False`) to msgpack bytes.

    Raises StateError, naming the component, field and type, if some state is not plain data.
    """
    if not history:
        return _encoder.encode(_stored(conv, history_base=0))
    return _encoder.encode(_stored(conv, conv.history_base, _history_records(conv.history)))


def encode_head(conv: Conversation) -> bytes:
    """The conversation with its history depth but none of its history records: itself a
    stored conversation (one without *back*), which `join` completes.

    Raises StateError, like `encode`, if some state is not plain data.
    """
    return _encoder.encode(_stored(conv, history_base=conv.history_base))


def history_records(conv: Conversation) -> list[bytes]:
    """The stored records of `conv`'s history, oldest first: the first a full record, the
    others deltas. A record that did not change since the last call is the same bytes object
    (they are cached on the snapshots), so a store can tell what to write by identity; the
    list must not be changed."""
    return _history_records(conv.history)


_NO_HISTORY = _encoder.encode("history") + _encoder.encode([])
"""How a head of format 1 or 2 (a map) ends: its last key, `history`, and an empty list."""


def join(head: bytes, records: list[bytes]) -> bytes:
    """`encode(conv)` from `encode_head(conv)` and `history_records(conv)`: the empty list
    the head ends with replaced by the records (its last element; in a head of format 2,
    a map that a store written by an earlier release holds, its last entry `history`)."""
    if head[:1] and head[0] in _ARRAY:  # format 3: its whole last element, read without copies
        try:  # (the bytes of the last history record can end like an empty list)
            is_head = bytes(_items_decoder.decode(head)[-1]) == b"\x90"
        except (msgspec.DecodeError, IndexError):
            is_head = False
    else:
        is_head = head.endswith(_NO_HISTORY)
    if not is_head:
        raise FormatError(
            "not the head of a stored parlour conversation (it must end with an empty "
            "history); store what parlour.core.codec.encode_head returns"
        )
    if not records:
        return head
    return b"".join((head[:-1], _encoder.encode(records)))


def _stored(conv: Conversation, history_base: int, records: Sequence[bytes] = ()) -> list[Any]:
    """`_Stored` as a save writes it: its fields in order (so the same bytes as the struct),
    from the conversation's own values, with instances, timers and subscriptions as arrays."""
    return [
        FORMAT_VERSION,
        conv.id,
        conv.base,
        conv.stack,
        [_stored_instance(inst) for inst in conv.instances.values()],
        history_base,
        conv.history_limit,
        conv.created,
        conv.touched,
        conv.owner,
        conv.next_id,
        conv.last_url,
        conv.ended,
        _stored_timers(conv.timers) if conv.timers else [],
        _stored_subscriptions(conv.subscriptions) if conv.subscriptions else [],
        records,
    ]


def _history_records(history: tuple[Snapshot, ...]) -> list[bytes]:
    """The stored records of `history`: the first full, the others deltas.

    A conversation is saved after every event, and its history then differs from the one
    saved before by at most one new entry at the end and some dropped from the front: the
    records of the previous save are reused (the checks are C-level tuple comparisons), so
    a save costs O(1) encodings however long the history is.
    """
    if not history:
        return []
    newest = history[-1]
    done = newest._records  # pyright: ignore[reportPrivateUsage]
    if done is not None and newest._records_for == history[:-1]:  # pyright: ignore[reportPrivateUsage]
        return done
    records: list[bytes] | None = None
    if len(history) >= 2:
        prior = history[-2]
        cached = prior._records  # pyright: ignore[reportPrivateUsage]
        if cached is not None:
            cached_for = prior._records_for  # pyright: ignore[reportPrivateUsage]
            dropped = len(cached_for) + 2 - len(history)
            if dropped >= 0 and history[:-2] == cached_for[dropped:]:
                records = cached[dropped:]
                if dropped:
                    records[0] = history[0]._record_after(None)  # pyright: ignore[reportPrivateUsage]
                records.append(newest._record_after(prior))  # pyright: ignore[reportPrivateUsage]
                prior._records, prior._records_for = None, ()  # pyright: ignore[reportPrivateUsage]
    if records is None:
        records = []
        before: Snapshot | None = None
        for snap in history:
            records.append(snap._record_after(before))  # pyright: ignore[reportPrivateUsage]
            before = snap
    newest._records, newest._records_for = records, history[:-1]  # pyright: ignore[reportPrivateUsage]
    return records


def decode(data: bytes) -> Conversation:
    """Rebuild a conversation from `encode` bytes. Every instance comes back unrendered."""
    array = bool(data) and data[0] in _ARRAY  # format 3; a map: format 1 or 2
    try:
        version = (_version_array_decoder if array else _version_decoder).decode(data).v
        stored = (
            (_decoder if array else _map_decoder).decode(data) if version in _READABLE else None
        )
    except msgspec.DecodeError as exc:
        raise FormatError(f"not a stored parlour conversation: {exc}") from exc
    if stored is None:
        raise FormatError(
            f"stored conversation has format version {version}, this parlour reads version "
            f"{FORMAT_VERSION} (and older ones down to 1). Upgrade parlour, or clear the store."
        )
    instances = {si.iid: _instance(si, si.type) for si in stored.instances}
    history: list[Snapshot] = []
    before: Snapshot | None = None
    for record in stored.history:
        # Format 1 stored only full records; later ones store deltas after the first one.
        before = Snapshot(data=record) if version == 1 else Snapshot._stored(record, before)  # pyright: ignore[reportPrivateUsage]
        history.append(before)
    if history:
        # The records as stored: the next save reuses them (a store in parts writes only
        # what differs from them).
        newest = history[-1]
        newest._records, newest._records_for = list(stored.history), tuple(history[:-1])  # pyright: ignore[reportPrivateUsage]
    return Conversation(
        id=stored.id,
        base=stored.base,
        stack=tuple(stored.stack),
        instances=instances,
        history=tuple(history),
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
