"""The conversation as data: its shape, and the versioned codec the stores keep."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import msgspec
import pytest
from htpy import Element, div

from parlour import Component, after, call, event, subscribe
from parlour.core.codec import FORMAT_VERSION, FormatError, Snapshot, decode, encode
from parlour.core.conversation import Conversation, Instance
from parlour.core.effects import Effect
from parlour.core.errors import StateError, UnknownComponentError
from parlour.testing import Harness


class Item(Component):
    label: str = ""

    def render(self) -> Element:
        return div(self.root)[self.label]


class Shop(Component):
    items: list[str] = []
    total: float = 0.0
    meta: dict[str, Any] = {}

    def children(self) -> dict[str, Component]:
        return {"basket": Item(label="basket")}

    def render(self) -> Element:
        return div(self.root)[self.slot("basket")]

    @event
    def add(self, name: str) -> list[Effect]:
        self.items = [*self.items, name]
        self.total += 1.5
        self.meta = {"last": name, "tags": ["a", 1]}
        return [after(5, self.tick, {"n": [1, 2]}), subscribe("prices.*", self.tick)]

    @event
    def open(self) -> Effect:
        return call(Item(label="dialog"))

    def tick(self, payload: Any) -> None:
        pass


def busy_conversation() -> Conversation:
    h = Harness(Shop, cid="shop-1", now=100.0)
    h.conversation = replace(h.conversation, owner="session-9")
    h.now = 101.0
    h.dispatch(None, "add", "tea")
    h.dispatch(None, "add", "milk")
    h.dispatch(None, "open")
    return h.conversation


STORED_FIELDS = (
    *("v", "id", "base", "stack", "instances", "history_base", "history_limit", "created"),
    *("touched", "owner", "next_id", "last_url", "ended", "timers", "subscriptions", "history"),
)
"""A stored conversation's fields in order: an array of them in format 3, a map before."""


def fields(data: bytes) -> dict[str, Any]:
    """Stored bytes of any format (a conversation or a full record) as a dict of its fields,
    to read or change in a test."""
    stored = msgspec.msgpack.decode(data)
    if isinstance(stored, dict):
        return cast(dict[str, Any], stored)
    return dict(zip(STORED_FIELDS, cast(list[Any], stored), strict=True))


def pack(stored: dict[str, Any]) -> bytes:
    """`stored` (from `fields`) as format 3 writes it: an array of the fields in order."""
    return msgspec.msgpack.encode([stored[name] for name in STORED_FIELDS])


def is_full_record(record: bytes) -> bool:
    """A full history record (a map in formats 1 and 2, an array starting with its version in
    format 3), not a delta (an array starting with its stack: a list or nil)."""
    raw = msgspec.msgpack.decode(record)
    return isinstance(raw, dict) or isinstance(cast(list[Any], raw)[0], int)


def format_2(data: bytes) -> bytes:
    """What the release before format 3 stored for the same conversation: a map with `v` 2,
    its full history records maps too (its deltas were the same bytes). Byte for byte what
    that release's `encode` wrote, the same fields in the same order, as a map."""
    old = fields(data) | {"v": 2}
    old["history"] = [format_2(r) if is_full_record(r) else r for r in old["history"]]
    return msgspec.msgpack.encode(old)


def test_encode_decode_encode_gives_the_same_bytes() -> None:
    conv = busy_conversation()
    data = encode(conv)
    again = decode(data)
    assert encode(again) == data


def test_decode_restores_everything_but_what_is_on_the_page() -> None:
    conv = busy_conversation()
    again = decode(encode(conv))
    assert again.id == "shop-1"
    assert again.owner == "session-9"
    assert again.stack == conv.stack
    assert again.created == 100.0
    assert again.touched == 101.0
    assert again.next_id == conv.next_id
    assert again.depth == conv.depth
    assert again.timers == conv.timers
    assert again.subscriptions == conv.subscriptions
    for iid, inst in conv.instances.items():
        restored = again.instances[iid]
        assert restored.component == inst.component
        assert (restored.parent, restored.resume, restored.children) == (
            inst.parent,
            inst.resume,
            dict(inst.children),
        )
        assert not restored.rendered  # a restored conversation is on no page yet


def test_state_values_keep_their_types_through_the_codec() -> None:
    again = decode(encode(busy_conversation()))
    shop = again.instances["p1"].component
    assert shop == Shop(items=["tea", "milk"], total=3.0, meta={"last": "milk", "tags": ["a", 1]})
    assert isinstance(shop.total, float)


def test_history_is_kept_as_bytes_until_back_needs_it() -> None:
    conv = busy_conversation()
    conv = replace(conv, history=(*conv.history, Snapshot(data=b"not decoded yet")))
    again = decode(encode(conv))  # the snapshot bytes travel untouched
    assert encode(again) == encode(conv)
    with pytest.raises(FormatError):
        again.history[-1].conversation()


def test_snapshots_hold_no_history_of_their_own() -> None:
    conv = busy_conversation()
    again = decode(encode(conv))
    assert [s.conversation().history for s in again.history] == [(), (), ()]
    assert again.history[0].conversation().instances["p1"].component == Shop()


def test_a_snapshot_is_encoded_once() -> None:
    conv = busy_conversation()
    snap = conv.history[0]
    assert snap.data() is snap.data()
    with pytest.raises(ValueError, match="needs a conversation or its encoding"):
        Snapshot()


def test_encoding_without_history_drops_it() -> None:
    conv = busy_conversation()
    again = decode(encode(conv, history=False))
    assert again.history == ()
    assert again.history_base == 0
    assert again.stack == conv.stack


def test_another_format_version_is_refused_clearly() -> None:
    stored = fields(encode(busy_conversation()))
    stored["v"] = FORMAT_VERSION + 1
    with pytest.raises(FormatError, match=f"format version {FORMAT_VERSION + 1}, this parlour"):
        decode(pack(stored))


def test_bytes_that_are_not_a_conversation_are_refused() -> None:
    with pytest.raises(FormatError, match="not a stored parlour conversation"):
        decode(b"\xc1 definitely not msgpack")


def test_a_conversation_naming_an_unknown_component_says_what_to_do() -> None:
    stored = fields(encode(busy_conversation()))
    stored["instances"][0][1] = "gone.Module.Renamed"
    with pytest.raises(UnknownComponentError, match=r"'gone\.Module\.Renamed'.*renamed or removed"):
        decode(pack(stored))


def test_state_that_cannot_be_stored_fails_to_encode_naming_the_field() -> None:
    conv = busy_conversation()
    bad = Shop()
    bad.meta = {"conn": object()}
    inst = Instance("p1", bad)
    with pytest.raises(StateError, match=r"^Shop\.meta holds a dict"):
        encode(replace(conv, instances={"p1": inst}))


def test_top_and_depth() -> None:
    conv = Conversation(id="c")
    assert conv.top is None
    assert conv.depth == 0
    conv = busy_conversation()
    assert conv.top == conv.stack[-1]
    assert replace(conv, history_base=7).depth == 7 + len(conv.history)


def test_the_repr_is_short() -> None:
    conv = busy_conversation()
    assert repr(conv) == (
        f"Conversation(id='shop-1', stack={list(conv.stack)!r}, instances=3, history=3, "
        "ended=False)"
    )


# -- format 2: history as deltas -----------------------------------------------------------------


class Note(Component):
    text: str = ""

    def render(self) -> Element:
        return div(self.root)[self.text]


class Tag(Component):
    text: str = ""

    def render(self) -> Element:
        return div(self.root)["#", self.text]


class Board(Component):
    notes: list[str] = []
    clicks: int = 0

    def start(self) -> Effect:
        return self.sync()

    def sync(self) -> Effect:
        from parlour import set_keyed_children

        return set_keyed_children(
            "notes",
            [(n, Tag(text=n) if n.startswith("#") else Note(text=n)) for n in self.notes],
        )

    def render(self) -> Element:
        return div(self.root)[self.keyed("notes")]

    @event
    def click(self) -> None:
        self.clicks += 1

    @event
    def set_notes(self, notes: list[str]) -> Effect:
        self.notes = notes
        return self.sync()

    @event
    def later(self) -> list[Effect]:
        return [after(5, self.tick), subscribe("board.*", self.tick)]

    @event
    def open(self) -> Effect:
        return call(Item(label="dialog"))

    def tick(self, payload: Any = None) -> None:
        pass


def record_of(conv: Conversation) -> tuple[Any, ...]:
    """Everything a snapshot must keep through the codec (its instances in order)."""
    return (
        conv.stack,
        [
            (
                iid,
                inst.type_name,
                inst.encoded_state(),
                inst.parent,
                inst.resume,
                dict(inst.children),
                {k: (v.order, dict(v.children), dict(v.specs)) for k, v in inst.keyed.items()},
                inst.slot,
                inst.previous,
            )
            for iid, inst in conv.instances.items()
        ],
        conv.next_id,
        conv.last_url,
        conv.timers,
        conv.subscriptions,
    )


def board_history(limit: int = 50) -> Harness:
    h = Harness(Board, cid="board-1", history_limit=limit)
    for notes in (
        ["a", "b"],
        ["a", "b", "c"],  # added
        ["c", "a", "b"],  # reordered
        ["c", "b"],  # removed
        ["c", "#b"],  # same key, another type
        [],
    ):
        h.dispatch(None, "click")
        h.dispatch(None, "set_notes", notes)
    h.dispatch(None, "later")
    h.dispatch(None, "click")
    h.dispatch(None, "open")
    return h


def test_every_snapshot_survives_the_delta_codec() -> None:
    conv = board_history().conversation
    data = encode(conv)
    again = decode(data)
    assert [record_of(s.conversation()) for s in again.history] == [
        record_of(s.conversation()) for s in conv.history
    ]
    assert encode(again) == data


def test_history_after_the_first_entry_is_stored_as_deltas() -> None:
    conv = board_history().conversation
    stored = fields(encode(conv))
    assert stored["v"] == FORMAT_VERSION == 3
    first, *rest = stored["history"]
    assert fields(first)["v"] == FORMAT_VERSION  # a full record
    assert is_full_record(first)
    assert all(isinstance(msgspec.msgpack.decode(r), list) for r in rest)  # changes only
    assert not any(is_full_record(r) for r in rest)
    for record, snapshot in zip(rest, conv.history[1:], strict=True):
        assert len(record) < len(snapshot.data())


def test_a_save_grows_by_a_small_delta_per_step_not_by_a_conversation() -> None:
    h = Harness(Board, cid="board-1", history_limit=50)
    h.dispatch(None, "set_notes", [f"note {i}" for i in range(20)])
    sizes: list[int] = []
    for _ in range(10):
        h.dispatch(None, "click")
        sizes.append(len(encode(h.conversation)))
    full = len(encode(h.conversation, history=False))
    growth = sizes[-1] - sizes[-2]
    assert growth * 10 < full  # 21 instances, one of them changed per step


def test_back_works_through_a_restored_delta_history() -> None:
    h = board_history()
    expected = [record_of(s.conversation()) for s in h.conversation.history]
    h.conversation = decode(encode(h.conversation))
    while h.conversation.history:
        snapshot = h.conversation.history[-1]
        assert record_of(snapshot.conversation()) == expected[len(h.conversation.history) - 1]
        h.back()


def test_dropping_the_oldest_entry_keeps_deltas_readable_and_bounded() -> None:
    h = Harness(Board, cid="board-1", history_limit=3)
    h.dispatch(None, "set_notes", ["a", "b"])
    h.conversation = decode(encode(h.conversation))  # entries are bytes, leaning on each other
    for n in range(6):
        h.dispatch(None, "click")
        oldest = h.conversation.history[0]
        assert oldest._delta_of is None  # pyright: ignore[reportPrivateUsage]
        again = decode(encode(h.conversation))
        assert [record_of(s.conversation()) for s in again.history] == [
            record_of(s.conversation()) for s in h.conversation.history
        ], n
        h.conversation = again


def test_saves_reuse_the_records_of_the_previous_save() -> None:
    h = Harness(Board, cid="board-1", history_limit=4)
    for _ in range(8):
        h.dispatch(None, "click")
        conv = h.conversation
        assert encode(conv) == encode(replace(conv, history=tuple(conv.history)))
        fresh = [Snapshot(conversation=s.conversation()) for s in conv.history]
        assert encode(conv) == encode(replace(conv, history=tuple(fresh)))


def test_format_1_conversations_are_still_read() -> None:
    h = board_history()
    conv = h.conversation

    def v1(data: bytes) -> bytes:  # format 1 stored maps, like format 2
        stored = fields(data)
        stored["v"] = 1
        return msgspec.msgpack.encode(stored)

    old = fields(encode(conv, history=False))
    old["v"] = 1
    old["history"] = [v1(s.data()) for s in conv.history]
    old["history_base"] = conv.history_base
    again = decode(msgspec.msgpack.encode(old))
    assert [record_of(s.conversation()) for s in again.history] == [
        record_of(s.conversation()) for s in conv.history
    ]
    assert record_of(again) == record_of(conv)
    # Saved again, it is written in the current format and reads back the same.
    assert fields(encode(again))["v"] == FORMAT_VERSION
    assert [record_of(s.conversation()) for s in decode(encode(again)).history] == [
        record_of(s.conversation()) for s in conv.history
    ]


def test_a_delta_without_the_entry_it_changes_is_refused_clearly() -> None:
    conv = board_history().conversation
    stored = fields(encode(conv))
    stored["history"] = stored["history"][1:]  # the first entry is now a delta
    again = decode(pack(stored))
    with pytest.raises(FormatError, match="earlier entry that is missing"):
        again.history[0].conversation()
