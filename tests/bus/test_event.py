"""The Event envelope: immutable, JSON-serialisable, with a one-line summary."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from parlour.bus import Event
from parlour.bus.event import normalise_payload


def make(**changes: object) -> Event:
    fields: dict[str, object] = {
        "id": 7,
        "topic": "agent.blocked",
        "time": 1_700_000_000.25,
        "source": "worker-3",
        "payload": {"question": "Deploy?", "options": ["yes", "no"]},
    }
    fields.update(changes)
    return msgspec.convert(fields, Event)


def test_fields_and_defaults() -> None:
    event = Event(id=1, topic="a", time=2.0)
    assert (event.id, event.topic, event.time, event.source, event.payload) == (
        1,
        "a",
        2.0,
        "",
        None,
    )


def test_is_frozen() -> None:
    event = make()
    with pytest.raises(AttributeError):
        event.id = 8  # type: ignore[misc]


def test_equal_and_hashable_by_value() -> None:
    assert make(payload="x") == make(payload="x")
    assert hash(make(payload="x")) == hash(make(payload="x"))
    assert make(id=1) != make(id=2)


def test_json_round_trip() -> None:
    event = make()
    data = msgspec.json.encode(event)
    assert msgspec.json.decode(data) == {
        "id": 7,
        "topic": "agent.blocked",
        "time": 1_700_000_000.25,
        "source": "worker-3",
        "payload": {"question": "Deploy?", "options": ["yes", "no"]},
    }
    assert msgspec.json.decode(data, type=Event) == event


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ({}, 'agent.blocked worker-3: {"question":"Deploy?","options":["yes","no"]}'),
        ({"source": ""}, 'agent.blocked: {"question":"Deploy?","options":["yes","no"]}'),
        ({"payload": None}, "agent.blocked worker-3"),
        ({"payload": None, "source": ""}, "agent.blocked"),
        ({"payload": "line one\n  line two"}, "agent.blocked worker-3: line one line two"),
        ({"payload": 42}, "agent.blocked worker-3: 42"),
        ({"payload": "x" * 200}, "agent.blocked worker-3: " + "x" * 79 + "…"),
        ({"payload": {1, 2}}, "agent.blocked worker-3: [1,2]"),
    ],
)
def test_summary(changes: dict[str, object], summary: str) -> None:
    assert make(**changes).summary == summary


def test_summary_never_raises_on_odd_payloads() -> None:
    odd = object()
    assert Event(id=1, topic="t", time=0, payload=odd).summary == f"t: {odd!r}"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Tag(msgspec.Struct):
    name: str


@pytest.mark.parametrize(
    ("payload", "seen"),
    [
        (None, None),
        ("text", "text"),
        (3, 3),
        (True, True),
        (1.5, 1.5),
        ((1, 2), [1, 2]),
        ({"k": (1,)}, {"k": [1]}),
        ({1: "a"}, {"1": "a"}),
        (Point(1, 2), {"x": 1, "y": 2}),
        (Tag("t"), {"name": "t"}),
        (float("nan"), None),
    ],
)
def test_normalise_payload_is_a_json_round_trip(payload: object, seen: object) -> None:
    assert normalise_payload("t", payload) == seen


def test_normalise_payload_copies_mutable_data() -> None:
    original = {"items": [1, 2]}
    seen = normalise_payload("t", original)
    assert seen == original
    assert seen is not original
    assert seen["items"] is not original["items"]


def test_normalise_payload_rejects_non_json_with_a_helpful_message() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    with pytest.raises(TypeError) as caught:
        normalise_payload("agent.started", {"thing": Opaque()})
    message = str(caught.value)
    assert "publish('agent.started', ...)" in message
    assert "not JSON data" in message
    assert "got dict" in message
    assert "Convert it first" in message
