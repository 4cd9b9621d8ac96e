"""The conversation as data: its shape, and the versioned codec the stores keep."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest
from htpy import Element, div

from parlour import Component, after, call, event, subscribe
from parlour.core.conversation import (
    FORMAT_VERSION,
    Conversation,
    FormatError,
    Instance,
    Snapshot,
    decode,
    encode,
)
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
    stored = msgspec.msgpack.decode(encode(busy_conversation()))
    stored["v"] = FORMAT_VERSION + 1
    with pytest.raises(FormatError, match=f"format version {FORMAT_VERSION + 1}, this parlour"):
        decode(msgspec.msgpack.encode(stored))


def test_bytes_that_are_not_a_conversation_are_refused() -> None:
    with pytest.raises(FormatError, match="not a stored parlour conversation"):
        decode(b"\xc1 definitely not msgpack")


def test_a_conversation_naming_an_unknown_component_says_what_to_do() -> None:
    stored = msgspec.msgpack.decode(encode(busy_conversation()))
    stored["instances"][0][1] = "gone.Module.Renamed"
    with pytest.raises(UnknownComponentError, match=r"'gone\.Module\.Renamed'.*renamed or removed"):
        decode(msgspec.msgpack.encode(stored))


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
