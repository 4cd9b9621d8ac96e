"""The stored form, as a save writes it: exactly the bytes of the structs `decode` reads.

A save builds the head, history's first record and each delta from the conversation's own
values (tuples, dicts, arrays) rather than through the decoding structs (decision 0011: the
save runs on every click). These tests pin that written form to the structs, byte for byte,
for conversations with children, keyed lists, timers, subscriptions, a parked frame and
removed instances; and format 3 (arrays) beside the maps of formats 1 and 2 that stores
written by earlier releases hold.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest
from examples.todo import TodoList

from parlour.core import codec
from parlour.core.codec import FormatError, decode, encode, encode_head, history_records, join
from parlour.core.conversation import Conversation, Instance, KeyedSlot
from parlour.testing import Harness
from tests.core.test_conversation import (
    STORED_FIELDS,
    Board,
    Shop,
    board_history,
    busy_conversation,
    fields,
    format_2,
    is_full_record,
    record_of,
)


def _keyed(keyed: Any) -> dict[str, codec._StoredKeyed]:  # pyright: ignore[reportPrivateUsage]
    return {
        slot: codec._StoredKeyed(list(k.order), dict(k.children), dict(k.specs))  # pyright: ignore[reportPrivateUsage]
        for slot, k in keyed.items()
    }


def reference_head(conv: Conversation, history_base: int) -> bytes:
    """The head as the decoding struct `_Stored` encodes it."""
    stored = codec._Stored(  # pyright: ignore[reportPrivateUsage]
        v=codec.FORMAT_VERSION,
        id=conv.id,
        base=conv.base,
        stack=list(conv.stack),
        instances=[
            codec._StoredInstance(  # pyright: ignore[reportPrivateUsage]
                iid=i.iid,
                type=i.type_name,
                state=msgspec.Raw(i.encoded_state()),
                parent=i.parent,
                resume=i.resume,
                children=dict(i.children),
                keyed=_keyed(i.keyed),
                slot=i.slot,
                previous=i.previous,
            )
            for i in conv.instances.values()
        ],
        history_base=history_base,
        history_limit=conv.history_limit,
        created=conv.created,
        touched=conv.touched,
        owner=conv.owner,
        next_id=conv.next_id,
        last_url=conv.last_url,
        ended=conv.ended,
        timers=[codec._StoredTimer(t.id, t.iid, t.due, t.method, t.payload) for t in conv.timers],  # pyright: ignore[reportPrivateUsage]
        subscriptions=[
            codec._StoredSubscription(s.iid, s.pattern, s.method)  # pyright: ignore[reportPrivateUsage]
            for s in conv.subscriptions
        ],
        history=[],
    )
    return msgspec.msgpack.encode(stored)


def reference_delta(before: Conversation, conv: Conversation) -> bytes:
    """A history delta as the decoding struct `_StoredDelta` encodes it."""
    old, new = before.instances, conv.instances
    changed: list[Any] = []
    for iid, inst in new.items():
        prior = old.get(iid)
        if prior is not None and codec._same_instance(prior, inst):  # pyright: ignore[reportPrivateUsage]
            continue
        same_type = prior is not None and type(prior.component) is type(inst.component)
        changed.append(
            codec._StoredChange(  # pyright: ignore[reportPrivateUsage]
                iid=inst.iid,
                type="" if same_type else inst.type_name,
                state=msgspec.Raw(inst.encoded_state()),
                parent=inst.parent,
                resume=inst.resume,
                children=None
                if prior is not None and prior.children == inst.children
                else dict(inst.children),
                keyed=None
                if prior is not None and prior.keyed == inst.keyed
                else _keyed(inst.keyed),
                slot=inst.slot,
                previous=inst.previous,
            )
        )
    removed = [iid for iid in old if iid not in new]
    applied = [iid for iid in old if iid in new] + [iid for iid in new if iid not in old]
    delta = codec._StoredDelta(  # pyright: ignore[reportPrivateUsage]
        stack=None if conv.stack == before.stack else list(conv.stack),
        instances=changed,
        removed=removed,
        order=None if applied == list(new) else list(new),
        next_id=conv.next_id,
        last_url=conv.last_url,
        timers=None
        if conv.timers == before.timers
        else [codec._StoredTimer(t.id, t.iid, t.due, t.method, t.payload) for t in conv.timers],  # pyright: ignore[reportPrivateUsage]
        subscriptions=None
        if conv.subscriptions == before.subscriptions
        else [
            codec._StoredSubscription(s.iid, s.pattern, s.method)  # pyright: ignore[reportPrivateUsage]
            for s in conv.subscriptions
        ],
    )
    return msgspec.msgpack.encode(delta)


def todo_conversation() -> Conversation:
    h = Harness(TodoList, cid="todo-1", now=50.0)
    top = h.conversation.stack[-1]
    draft = h.conversation.instances[top].component.local("draft")
    for text in ("tea", "milk", "bread"):
        h.dispatch(None, "add", signals={draft: text})
    h.dispatch(None, "toggle", "t2")
    h.dispatch(None, "remove", "t1")
    return h.conversation


def variety() -> list[Conversation]:
    """Conversations whose stored form uses every field: children, keyed lists, timers,
    subscriptions, a parked frame (`call`), an owner, a page URL."""
    convs = [busy_conversation(), todo_conversation()]
    h = Harness(Shop, cid="shop-2", now=10.0)
    convs.append(h.conversation)
    h.dispatch(None, "add", "tea")
    convs.append(h.conversation)
    return convs


def test_a_head_is_the_bytes_of_the_decoding_struct() -> None:
    for conv in variety():
        for base in (0, conv.history_base, 7):
            assert codec._encoder.encode(codec._stored(conv, history_base=base)) == (  # pyright: ignore[reportPrivateUsage]
                reference_head(conv, base)
            )
        assert encode_head(conv) == reference_head(conv, conv.history_base)


def test_history_records_are_the_bytes_of_the_decoding_structs() -> None:
    for conv in variety():
        snaps = [s.conversation() for s in conv.history]
        records = history_records(conv)
        assert len(records) == len(snaps)
        if snaps:
            assert records[0] == reference_head(snaps[0], 0)
        for before, after, record in zip(snaps, snaps[1:], records[1:], strict=False):
            assert record == reference_delta(before, after)


def test_a_delta_that_removes_reorders_and_retypes_instances_is_the_structs_bytes() -> None:
    conv = todo_conversation()
    items = conv.instances
    parent = next(i for i in items.values() if i.keyed)
    rows = [iid for iid in items if iid != parent.iid]
    assert len(rows) >= 2
    # One row removed, the rest backwards, the keyed list reordered, a row of another type.
    kept = {iid: items[iid] for iid in reversed(rows[1:])}
    kept[parent.iid] = replace(
        parent,
        keyed={
            slot: KeyedSlot(k.order[::-1], k.children, k.specs) for slot, k in parent.keyed.items()
        },
    )
    retyped = replace(items[rows[-1]], component=Shop())
    kept[retyped.iid] = retyped
    kept["x9"] = Instance("x9", Shop(), parent=parent.iid, slot="extra")
    after = replace(conv, instances=kept, stack=(*conv.stack, "x9"), timers=())
    assert codec._encode_delta(conv, after) == reference_delta(conv, after)  # pyright: ignore[reportPrivateUsage]
    assert codec._encode_delta(after, conv) == reference_delta(after, conv)  # pyright: ignore[reportPrivateUsage]


def test_what_is_written_is_read_back_the_same() -> None:
    for conv in variety():
        data = join(encode_head(conv), history_records(conv))
        assert data == encode(conv)
        assert encode(decode(data)) == data


# -- format 3: arrays, not maps; formats 1 and 2 still read -----------------------------------


def history_of(conv: Conversation) -> list[tuple[Any, ...]]:
    return [record_of(s.conversation()) for s in conv.history]


def test_a_head_is_an_array_smaller_than_the_map_by_exactly_its_key_names() -> None:
    names = sum(len(msgspec.msgpack.encode(name)) for name in STORED_FIELDS)
    for conv in variety():
        head = encode_head(conv)
        assert isinstance(msgspec.msgpack.decode(head), list)
        assert fields(head)["v"] == codec.FORMAT_VERSION == 3
        assert len(format_2(head)) - len(head) == names  # 127 bytes less, of a few hundred


def test_conversations_stored_by_the_release_before_format_3_still_read() -> None:
    for conv in [*variety(), board_history().conversation]:
        old = format_2(encode(conv))
        assert isinstance(msgspec.msgpack.decode(old), dict)
        again = decode(old)
        assert record_of(again) == record_of(conv)
        assert (again.history_base, again.owner, again.created) == (
            conv.history_base,
            conv.owner,
            conv.created,
        )
        assert history_of(again) == history_of(conv)
        # Saved again, it is a head of format 3 and reads back the same.
        assert fields(encode(again))["v"] == 3
        assert history_of(decode(encode(again))) == history_of(conv)


def test_back_works_through_a_history_stored_by_the_release_before_format_3() -> None:
    h = board_history()
    expected = history_of(h.conversation)
    h.conversation = decode(format_2(encode(h.conversation)))
    while h.conversation.history:
        snapshot = h.conversation.history[-1]
        assert record_of(snapshot.conversation()) == expected[len(h.conversation.history) - 1]
        h.back()


def test_a_conversation_of_format_2_continued_keeps_its_old_records_as_they_are() -> None:
    h = board_history()
    old = format_2(encode(h.conversation))
    h.conversation = decode(old)
    h.dispatch(None, "click")
    records = history_records(h.conversation)
    assert records[: len(fields(old)["history"])] == fields(old)["history"]  # by identity
    assert isinstance(msgspec.msgpack.decode(records[0]), dict)  # a full record of format 2
    data = join(encode_head(h.conversation), records)  # a head of format 3, older records
    assert data == encode(h.conversation)
    assert fields(data)["v"] == 3
    assert history_of(decode(data)) == history_of(h.conversation)


def test_a_head_of_format_3_joined_with_full_records_of_format_2_and_deltas_reads() -> None:
    for conv in [*variety(), board_history().conversation]:
        records = history_records(conv)
        mixed = [format_2(r) if is_full_record(r) else r for r in records]
        again = decode(join(encode_head(conv), mixed))
        assert record_of(again) == record_of(conv)
        assert history_of(again) == history_of(conv)


def test_join_takes_heads_of_format_3_and_2_and_refuses_anything_else() -> None:
    conv = board_history().conversation
    records = history_records(conv)
    assert join(encode_head(conv), records) == encode(conv)
    assert history_of(decode(join(format_2(encode_head(conv)), records))) == history_of(conv)
    # One history entry: the stored conversation ends with a full record, whose own bytes
    # end with an empty list; it is still not a head (its last element is not empty).
    one = Harness(Shop, cid="shop-3")
    one.dispatch(None, "add", "tea")
    assert len(one.conversation.history) == 1
    whole = encode(one.conversation)
    assert whole.endswith(b"\x90")
    for wrong in (whole, b"", b"\x90", b"\x91\x01", b"\xdc\x00", b"junk"):
        with pytest.raises(FormatError, match="not the head of a stored parlour conversation"):
            join(wrong, records)


def test_an_array_that_is_not_a_conversation_is_refused_clearly() -> None:
    for wrong in ([3, "shop-1"], ["v", 3]):
        with pytest.raises(FormatError, match="not a stored parlour conversation"):
            decode(msgspec.msgpack.encode(wrong))


def test_full_records_and_deltas_are_told_apart_whatever_their_lengths() -> None:
    is_delta = codec._is_delta  # pyright: ignore[reportPrivateUsage]
    h = Harness(Board, cid="board-2", history_limit=40)
    h.dispatch(None, "set_notes", ["a", "#b"])
    for _ in range(20):
        h.dispatch(None, "click")
    conv = h.conversation
    records = history_records(conv)
    assert len(records) > 15  # the stored history is an array16 too
    assert [is_delta(r) for r in records] == [False] + [True] * (len(records) - 1)
    assert records[0][:3] == b"\xdc\x00\x10"  # 16 fields: an array16 header, then `v`
    assert not is_delta(format_2(records[0]))  # a map
    assert history_of(decode(encode(conv))) == history_of(conv)
    # A delta whose stack changed to more than 15 frames starts with an array16 too.
    deep = replace(conv, stack=tuple(conv.stack) * 17)
    delta = codec._encode_delta(conv, deep)  # pyright: ignore[reportPrivateUsage]
    assert delta[1] == 0xDC
    assert is_delta(delta)
    assert is_delta(codec._encode_delta(deep, deep))  # pyright: ignore[reportPrivateUsage]
    assert not is_delta(encode(deep, history=False))
    assert not any(is_delta(r) for r in (b"", b"\x90", b"\x98", b"junk"))
