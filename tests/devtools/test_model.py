"""`parlour.devtools.model`: what the inspector shows of a conversation, as plain values."""

from __future__ import annotations

import json

import pytest

from parlour.core.codec import encode
from parlour.devtools import model
from parlour.testing import Harness

from .components import Board, Counter


def test_the_tree_shows_frames_with_their_fixed_keyed_and_slot_children() -> None:
    h = Harness(Board)
    h.dispatch(Board, "note")

    (board,) = model.tree(h.conversation)

    assert (board.type, board.iid, board.frame, board.parent, board.slot) == (
        "Board",
        "p1",
        0,
        None,
        None,
    )
    assert board.name == "devtools_tests.Board"
    assert [(c.type, c.iid, c.slot, c.parent) for c in board.children] == [
        ("Counter", "p2", "counter", "p1"),
        ("Note", "p6", "aside", "p1"),
        ("Item", "p3", "items[a]", "p1"),
        ("Item", "p4", "items[b]", "p1"),
    ]
    assert all(n.shown for _, n in model.walk([board]))


def test_a_covered_frame_is_in_the_tree_but_not_shown() -> None:
    h = Harness(Board)
    h.dispatch(Board, "open")

    frames = model.tree(h.conversation)

    assert [(f.type, f.frame, f.shown) for f in frames] == [
        ("Board", 0, False),
        ("Dialog", 1, True),
    ]
    assert frames[1].parent == "p1"


def test_state_gives_the_fields_as_json_values() -> None:
    h = Harness(Board)

    assert model.state(h.conversation.instances["p1"]) == {
        "title": "board",
        "ticks": 0,
        "noted": False,
    }


def test_steps_number_the_history_by_depth_and_say_what_changed() -> None:
    h = Harness(Counter)
    for _ in range(3):
        h.dispatch(Counter, "inc")

    steps = model.steps(h.conversation)

    assert [(s.depth, s.now) for s in steps] == [(0, False), (1, False), (2, False), (3, True)]
    assert [[str(c) for c in s.changes] for s in steps] == [
        [],
        ["p1.count: 0 -> 1"],
        ["p1.count: 1 -> 2"],
        ["p1.count: 2 -> 3"],
    ]
    assert {s.top_type for s in steps} == {"Counter"}


def test_at_step_reads_the_snapshot_without_changing_the_conversation() -> None:
    h = Harness(Counter)
    for _ in range(3):
        h.dispatch(Counter, "inc")
    before = encode(h.conversation)

    past = model.at_step(h.conversation, 1)

    assert past.instances["p1"].component == Counter(count=1)
    assert model.at_step(h.conversation, 3) is h.conversation
    assert encode(h.conversation) == before


def test_at_step_names_the_steps_there_are_for_one_that_is_not() -> None:
    h = Harness(Counter, history_limit=2)
    for _ in range(4):
        h.dispatch(Counter, "inc")

    with pytest.raises(LookupError, match="its steps are 2 to 4"):
        model.at_step(h.conversation, 1)
    assert [s.depth for s in model.steps(h.conversation)] == [2, 3, 4]


def test_changes_name_instances_added_and_removed() -> None:
    h = Harness(Board)
    before = h.conversation
    h.dispatch(Board, "note")

    found = {(c.iid, c.kind) for c in model.changes(before, h.conversation)}

    assert ("p6", "added") in found
    assert ("p1", "changed") in found


def test_describe_is_json_with_tree_states_steps_timers_and_subscriptions() -> None:
    h = Harness(Board)
    h.dispatch("p2", "inc")

    data = json.loads(json.dumps(model.describe(h.conversation, size=123)))

    assert data["root"] == "devtools_tests.Board"
    assert data["size"] == 123
    assert data["depth"] == 1
    assert data["tree"][0]["children"][0]["state"] == {"count": 1}
    assert data["instances"]["p2"]["state"] == {"count": 1}
    assert data["steps"][1]["changes"][0]["fields"] == [
        {"field": "count", "before": "0", "after": "1"}
    ]
    assert data["timers"] == [
        {"id": "t5", "iid": "p1", "method": "tick", "due": 60.0, "payload": "None"}
    ]
    assert data["subscriptions"] == [{"iid": "p1", "pattern": "news.*", "method": "heard"}]


def test_short_keeps_a_long_value_to_one_readable_line() -> None:
    text = model.short("x" * 1000, 50)

    assert len(text) <= 50
    assert text.endswith("...")
