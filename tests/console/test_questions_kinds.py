"""Typed questions, as the fold and the answer checks see them: the five kinds, a form's
schema, defaults at expiry, cancelling, assignees, Idempotency-Keys. Pure: no hub, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from parlour.bus.event import Event
from parlour.console.answers import check_answer, from_page, kind_of_request, parse_schema
from parlour.console.errors import InvalidAnswer
from parlour.console.model import ConsoleState
from parlour.console.questions import MAX_CLOSED_QUESTIONS, Answerer

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "service": {"type": "string", "minLength": 2},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 20},
        "cpu": {"type": "number"},
        "region": {"type": "string", "enum": ["eu", "us"]},
        "canary": {"type": "boolean"},
    },
    "required": ["service", "replicas"],
}
FIELDS = parse_schema(SCHEMA)


class Events:
    def __init__(self) -> None:
        self.next_id = 0

    def __call__(self, topic: str, payload: Any, time: float | None = None) -> Event:
        self.next_id += 1
        return Event(
            id=self.next_id,
            topic=topic,
            time=time if time is not None else 1000.0 + self.next_id,
            source="console",
            payload=payload,
        )


def asked(ev: Events, qid: str, **fields: Any) -> Event:
    return ev("question.asked", {"id": qid, "agent": "a", "question": f"{qid}?", **fields})


# -- the kind of a question -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options", "multiple", "schema", "expected"),
    [
        (None, None, None, None, "text"),
        (None, ["a", "b"], None, None, "choice"),
        (None, ["a", "b"], True, None, "multiple"),
        ("approve", None, None, None, "approve"),
        (None, None, None, SCHEMA, "form"),
        ("multiple", ["a", "b"], True, None, "multiple"),
    ],
)
def test_the_kind_follows_from_the_fields(
    kind: Any, options: Any, multiple: Any, schema: Any, expected: str
) -> None:
    assert kind_of_request(kind, options, multiple, schema) == expected


@pytest.mark.parametrize(
    ("kind", "options", "multiple", "schema", "message"),
    [
        ("form", None, None, None, "kind: 'form' needs a schema"),
        ("approve", ["a"], None, None, "kind: 'approve' needs no options"),
        ("choice", None, None, None, "kind: 'choice' needs options"),
        ("poll", None, None, None, "kind: expected one of text, choice, multiple"),
        (None, None, True, None, "multiple: true needs options"),
        (None, None, "yes", None, "multiple: expected true or false"),
        (None, ["a"], None, SCHEMA, "schema: a form takes no options"),
    ],
)
def test_contradicting_fields_are_refused_naming_the_field(
    kind: Any, options: Any, multiple: Any, schema: Any, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        kind_of_request(kind, options, multiple, schema)


# -- a form's schema --------------------------------------------------------------------------


def test_a_schema_parses_to_fields_in_order_with_their_limits() -> None:
    assert [(f.name, f.type, f.required) for f in FIELDS] == [
        ("service", "string", True),
        ("replicas", "integer", True),
        ("cpu", "number", False),
        ("region", "string", False),
        ("canary", "boolean", False),
    ]
    replicas = FIELDS[1]
    assert (replicas.minimum, replicas.maximum) == (1, 20)
    assert FIELDS[3].enum == ("eu", "us")


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ([], "schema: expected a JSON Schema object"),
        ({"properties": {}}, "schema.properties: expected an object of 1 to 50 fields"),
        ({"type": "array", "properties": {"a": {"type": "string"}}}, "schema.type: expected"),
        ({"properties": {"a": {"type": "object"}}}, "schema.properties.a.type: expected one of"),
        ({"properties": {"a": {"type": "string", "pattern": "x"}}}, "unknown keyword 'pattern'"),
        ({"oneOf": [], "properties": {"a": {"type": "string"}}}, "schema: unknown keyword"),
        ({"properties": {"a": {"type": "string"}}, "required": ["b"]}, "schema.required"),
        ({"properties": {"a": {"type": "boolean", "enum": [True]}}}, "schema.properties.a.enum"),
        ({"properties": {"a": {"type": "integer", "enum": ["x"]}}}, "enum: expected an integer"),
        ({"properties": {"a": {"type": "string", "minimum": 1}}}, "minimum: does not apply"),
        ({"properties": {"a": {"type": "integer", "default": "x"}}}, "a.default: expected an"),
    ],
)
def test_a_schema_outside_the_small_subset_is_refused_naming_the_keyword(
    schema: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_schema(schema)


# -- the answers each kind takes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "answer", "recorded"),
    [
        ("text", "Quiet Otter", "Quiet Otter"),
        ("choice", "b", "b"),
        ("multiple", ["c", "a"], ["a", "c"]),  # the options' order
        ("multiple", [], []),
        ("approve", {"approved": True}, {"approved": True, "reason": ""}),
        ("approve", {"approved": False, "reason": "no"}, {"approved": False, "reason": "no"}),
        ("form", {"service": "web", "replicas": 3.0}, {"service": "web", "replicas": 3}),
        (
            "form",
            {"service": "web", "replicas": 2, "cpu": 0.5, "region": "eu", "canary": False},
            {"service": "web", "replicas": 2, "cpu": 0.5, "region": "eu", "canary": False},
        ),
    ],
)
def test_each_kind_takes_its_answer(kind: str, answer: Any, recorded: Any) -> None:
    assert check_answer(kind, ("a", "b", "c"), FIELDS, answer) == recorded


@pytest.mark.parametrize(
    ("kind", "answer", "message"),
    [
        ("text", "  ", "answer: expected a non-empty string"),
        ("choice", "d", "answer: expected one of ['a', 'b', 'c'], got 'd'"),
        ("multiple", "a", "answer: expected a list of distinct options"),
        ("multiple", ["a", "z"], "answer[1]: expected one of ['a', 'b', 'c'], got 'z'"),
        ("multiple", ["a", "a"], "answer: expected a list of distinct options"),
        ("approve", {"approved": False}, "answer.reason: a reason is required to reject"),
        ("approve", {"approved": False, "reason": "  "}, "answer.reason: a reason is required"),
        ("approve", {"approved": "yes"}, "answer.approved: expected true or false"),
        ("approve", {"approved": True, "why": "x"}, "answer.why: unknown field"),
        ("approve", "yes", 'answer: expected {"approved"'),
        ("form", {"replicas": 2}, "answer.service: required"),
        ("form", {"service": " ", "replicas": 2}, "answer.service: required, got a blank"),
        ("form", {"service": "w", "replicas": 2}, "answer.service: expected at least 2 char"),
        ("form", {"service": "web", "replicas": "3"}, "answer.replicas: expected an integer"),
        ("form", {"service": "web", "replicas": 2.5}, "answer.replicas: expected an integer"),
        ("form", {"service": "web", "replicas": 0}, "answer.replicas: expected at least 1"),
        ("form", {"service": "web", "replicas": True}, "answer.replicas: expected an integer"),
        ("form", {"service": "web", "replicas": 1, "cpu": "x"}, "answer.cpu: expected a number"),
        (
            "form",
            {"service": "web", "replicas": 1, "region": "mars"},
            "answer.region: expected one",
        ),
        ("form", {"service": "web", "replicas": 1, "canary": 1}, "answer.canary: expected true"),
        ("form", {"service": "web", "replicas": 1, "x": 1}, "answer.x: not a field of this form"),
        ("form", ["web"], "answer: expected an object of the form's fields"),
    ],
)
def test_a_wrong_answer_names_the_field(kind: str, answer: Any, message: str) -> None:
    with pytest.raises(InvalidAnswer) as refused:
        check_answer(kind, ("a", "b", "c"), FIELDS, answer)
    assert str(refused.value).startswith(message)


def test_a_page_sends_raw_values_that_become_the_typed_answer() -> None:
    assert from_page("multiple", ("a", "b", "c"), None, [True, False, True]) == ["a", "c"]
    raw = ["web", "3", "", "eu", True]
    assert from_page("form", None, FIELDS, raw) == {
        "service": "web",
        "replicas": 3,
        "region": "eu",
        "canary": True,
    }
    # what cannot be converted is kept, so the check names it
    assert from_page("form", None, FIELDS, ["web", "three"])["replicas"] == "three"


# -- the fold -----------------------------------------------------------------------------------


def test_a_default_answers_the_question_at_expiry_and_is_marked_defaulted() -> None:
    ev, state = Events(), ConsoleState()
    state.fold(asked(ev, "q", options=["ship", "wait"], default="wait"))
    assert state.questions["q"].default == "wait"
    state.fold(ev("question.expired", {"id": "q", "defaulted": True, "answer": "wait"}))
    question = state.questions["q"]
    assert (question.state, question.answer, question.defaulted) == ("answered", "wait", True)
    assert question.answered_by is None
    assert question.public()["defaulted"] is True


def test_a_question_without_default_still_expires_and_an_answer_is_not_defaulted() -> None:
    ev, state = Events(), ConsoleState()
    state.fold(asked(ev, "q"))
    state.fold(asked(ev, "r"))
    state.fold(ev("question.expired", {"id": "q"}))
    state.fold(ev("question.answered", {"id": "r", "answer": "yes", "by": "ada"}))
    assert state.questions["q"].state == "expired"
    assert state.questions["r"].defaulted is False
    assert "defaulted" not in state.questions["r"].public()


def test_an_invalid_default_in_an_event_is_ignored_not_applied() -> None:
    ev, state = Events(), ConsoleState()
    state.fold(asked(ev, "q", options=["a", "b"], default="zzz"))
    state.fold(ev("question.expired", {"id": "q"}))
    assert state.questions["q"].state == "expired"


def test_a_cancelled_question_is_closed_and_unblocks_its_agent() -> None:
    ev, state = Events(), ConsoleState()
    state.fold(asked(ev, "q"))
    assert state.agents["a"].state == "blocked"
    state.fold(ev("question.cancelled", {"id": "q", "by": "api"}))
    question = state.questions["q"]
    assert (question.state, question.answered_by) == ("cancelled", "api")
    assert state.pending_questions() == []
    assert state.agents["a"].state == "running"
    state.fold(ev("question.answered", {"id": "q", "answer": "late"}))
    assert state.questions["q"].state == "cancelled"  # the first closing won


def test_typed_questions_rebuild_identically_from_the_journal() -> None:
    ev = Events()
    events = [
        asked(ev, "t"),
        asked(ev, "m", options=["a", "b"], multiple=True),
        asked(ev, "k", kind="multiple", options=["a", "b"]),
        asked(ev, "p", kind="approve", assignee="group:ops", key="job-7"),
        asked(ev, "f", kind="form", schema=SCHEMA),
        ev("question.answered", {"id": "m", "answer": ["b", "a"], "by": "ada"}),
        ev("question.answered", {"id": "p", "answer": {"approved": False}, "by": "bob"}),
        ev("question.answered", {"id": "f", "answer": {"service": "web", "replicas": 2}}),
    ]
    first, second = ConsoleState(), ConsoleState()
    for event in events:
        first.fold(event)
        second.fold(event)
    assert first.snapshot() == second.snapshot()
    assert {q: first.questions[q].kind for q in "tmkpf"} == {
        "t": "text",
        "m": "multiple",
        "k": "multiple",
        "p": "approve",
        "f": "form",
    }
    assert first.questions["m"].answer == ["a", "b"]
    assert first.questions["p"].state == "pending"  # rejecting without a reason is no answer
    assert first.questions["f"].answer == {"service": "web", "replicas": 2}
    assert first.question_by_key("job-7") is first.questions["p"]


def test_questions_by_state_pending_oldest_first_closed_newest_first() -> None:
    ev, state = Events(), ConsoleState()
    for qid in ("a", "b", "c", "d"):
        state.fold(asked(ev, qid))
    state.fold(ev("question.expired", {"id": "a"}))
    state.fold(ev("question.cancelled", {"id": "b"}))
    state.fold(ev("question.expired", {"id": "c"}))
    assert [q.id for q in state.questions_in("pending")] == ["d"]
    assert [q.id for q in state.questions_in("expired")] == ["c", "a"]
    assert [q.id for q in state.questions_in("cancelled")] == ["b"]
    assert state.questions_in("answered") == []


def test_an_idempotency_key_is_forgotten_with_its_question() -> None:
    ev, state = Events(), ConsoleState()
    state.fold(asked(ev, "keyed", key="k1"))
    state.fold(ev("question.expired", {"id": "keyed"}))
    assert state.question_by_key("k1") is not None
    for n in range(MAX_CLOSED_QUESTIONS):
        state.fold(asked(ev, f"q{n}"))
        state.fold(ev("question.expired", {"id": f"q{n}"}))
    assert "keyed" not in state.questions
    assert state.question_by_key("k1") is None


# -- who may answer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignee", "who", "may"),
    [
        (None, Answerer(name="anyone"), True),
        ("ada", Answerer(name="ada"), True),
        ("ada", Answerer(name="bob"), False),
        ("ada", Answerer(name="root", admin=True), True),
        ("group:ops", Answerer(name="bob", groups=frozenset({"ops"})), True),
        ("group:ops", Answerer(name="ops"), False),  # a person named ops is not the group
        ("group:ops", Answerer(name="eve", groups=frozenset({"dev"})), False),
    ],
)
def test_only_the_assignee_or_an_admin_may_answer(
    assignee: str | None, who: Answerer, may: bool
) -> None:
    ev, state = Events(), ConsoleState()
    state.fold(asked(ev, "q", assignee=assignee))
    assert state.questions["q"].may_answer(who) is may
