"""`parlour.devtools.stored`: stored bytes read without the app, and its components found by
name. These tests decode what `codec.encode` writes, so a change of the stored layout that
`peek` relies on fails here."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from parlour.core.codec import FORMAT_VERSION, encode
from parlour.devtools.stored import NotAConversation, import_components, peek, type_names
from parlour.stores import FileStore, MemoryStore, SqliteStore
from parlour.stores.protocol import ConversationStore
from parlour.testing import Harness
from tests.core.test_conversation import format_2

from .components import Board, Counter


def test_peek_reads_the_summary_and_raw_state_without_classes() -> None:
    h = Harness(Board, now=100.0)
    h.now = 160.0
    h.dispatch("p2", "inc")

    seen = peek(encode(h.conversation))

    assert (seen.id, seen.root, seen.stack) == ("test", "devtools_tests.Board", ("p1",))
    assert (seen.created, seen.touched, seen.history, seen.history_base) == (100.0, 160.0, 1, 0)
    assert not seen.ended
    assert seen.version == FORMAT_VERSION == 3
    by_iid = {i.iid: i for i in seen.instances}
    assert by_iid["p2"].type == "devtools_tests.Counter"
    assert by_iid["p2"].parent == "p1"
    assert by_iid["p2"].state == {"count": 1}
    assert by_iid["p1"].state == {"title": "board", "ticks": 0, "noted": False}


def test_type_names_include_the_types_only_the_history_holds() -> None:
    h = Harness(Board)
    h.dispatch(Board, "open")  # a Dialog frame on top
    h.dispatch("p6", "close")  # it answers: now it lives only in the history

    data = encode(h.conversation)

    assert "devtools_tests.Dialog" not in {i.type for i in peek(data).instances}
    assert "devtools_tests.Dialog" in type_names(data)
    assert {"devtools_tests.Board", "devtools_tests.Counter", "devtools_tests.Item"} <= type_names(
        data
    )


def test_a_conversation_stored_by_the_release_before_format_3_is_read_the_same() -> None:
    h = Harness(Board, now=100.0)
    h.dispatch(Board, "open")
    h.dispatch("p6", "close")
    h.dispatch("p2", "inc")
    data = encode(h.conversation)
    old = format_2(data)  # a map, its full history record a map too

    assert peek(old) == replace(peek(data), version=2)
    assert type_names(old) == type_names(data)
    assert "devtools_tests.Dialog" in type_names(old)


def test_peek_refuses_bytes_that_are_not_a_conversation() -> None:
    with pytest.raises(NotAConversation):
        peek(b"\x01\x02 not msgpack of ours")


def test_import_components_imports_modules_by_registered_name() -> None:
    assert import_components(["devtools_tests.Counter"]) == []  # already registered
    assert import_components(["json.Nothing", "no_such_module.Thing"]) == [
        "json.Nothing",
        "no_such_module.Thing",
    ]


@pytest.mark.parametrize("kind", ["memory", "file", "sqlite"])
async def test_every_store_lists_all_its_conversations_through_idle_since(
    kind: str, tmp_path: Path
) -> None:
    """`parlour inspect` lists a store with the reaper's query: every `touched` is finite."""
    folder = tmp_path
    store: ConversationStore = (
        MemoryStore()
        if kind == "memory"
        else FileStore(folder / "f")
        if kind == "file"
        else SqliteStore(folder / "s.sqlite")
    )
    try:
        await store.save("a", encode(Harness(Counter, cid="a").conversation), touched=5.0)
        await store.save("b", encode(Harness(Counter, cid="b").conversation), touched=1e12)

        assert await store.idle_since(math.inf) == ["a", "b"]
    finally:
        await store.close()
