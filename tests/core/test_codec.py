"""The stored form, as a save writes it: exactly the bytes of the structs `decode` reads.

A save builds the head, history's first record and each delta from the conversation's own
values (tuples, dicts, arrays) rather than through the decoding structs (decision 0011: the
save runs on every click). These tests pin that written form to the structs, byte for byte,
for conversations with children, keyed lists, timers, subscriptions, a parked frame and
removed instances.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
from examples.todo import TodoList

from parlour.core import codec
from parlour.core.codec import decode, encode, encode_head, history_records, join
from parlour.core.conversation import Conversation, Instance, KeyedSlot
from parlour.testing import Harness
from tests.core.test_conversation import Shop, busy_conversation


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
