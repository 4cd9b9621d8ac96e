"""The API's request and response bodies, as msgspec Structs: one source for checking and docs.

    body = parse(AskBody, data)          # -> AskBody, or BadBody("timeout: expected ...")
    schema_components([AskBody, ...])    # what /api/openapi.json is generated from

Each request body is a Struct that forbids unknown fields; its fields' descriptions are the
"expected ..." of the 400 a wrong value gets, and the descriptions of the docs: a request
is checked by the same types the OpenAPI document shows. Types are checked here; what a
type cannot say (an option list without repeats, a timeout within a day, a topic's syntax,
an answer that suits its question's kind) is checked by the hub, with the same wording.

Fields typed `Any` accept anything at this step and are documented with the type the hub
then insists on (`extra_json_schema`), because the hub's refusal says more (a run's bundle
names the bundles there are).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta, Struct

from parlour.console.answers import KINDS

__all__ = [
    "EXPECTED",
    "REQUEST_BODIES",
    "RESPONSE_BODIES",
    "AnswerBody",
    "AskBody",
    "BadBody",
    "EventBody",
    "RunBody",
    "SettingBody",
    "parse",
]

EXPECTED: Final[dict[str, str]] = {
    "topic": "a string such as 'agent.started'",
    "source": "a string naming the reporter",
    "payload": "any JSON value: the event's data",
    "agent": "a non-empty string naming who asks",
    "question": "the non-empty text of the question",
    "options": ("a non-empty list of distinct non-empty strings (or null for a free-text answer)"),
    "timeout": "seconds > 0 and at most 86400 (one day)",
    "id": "printable text of 1 to 200 characters naming the question (or no id: the "
    "console picks one)",
    "kind": f"one of {', '.join(KINDS)} (without it: form with a schema, multiple with "
    'options and "multiple": true, choice with options, else text)',
    "multiple": "true or false: with options, several may be chosen (the answer is a list)",
    "schema": 'a flat JSON Schema object: {"type": "object", "properties": {NAME: {"type": '
    '"string"|"number"|"integer"|"boolean", "title"?, "description"?, "enum"?, "default"?, '
    '"minimum"?, "maximum"?, "minLength"?, "maxLength"?}}, "required": [NAME...]}',
    "default": "the answer given when the question expires unanswered (an answer of its "
    "kind; the asker is told it was defaulted)",
    "assignee": "who may answer: a user's name or 'group:NAME' (admins always may)",
    "answer": "an answer of the question's kind: text and choice a string, multiple a list "
    'of options, approve {"approved": bool, "reason": str} (a reason to reject), form an '
    "object of its fields",
    "on_behalf_of": "the user the caller answers for (their name is recorded, and the "
    "question's assignee is checked against them)",
    "key": "'window' or 'log_length' or 'stale_after'",
    "value": "the setting's new value",
    "target": "a path inside the project",
    "bundle": "the name of one of the launcher's bundles (null: the default)",
}
"""What each request field expects: the 400's wording and the docs' description."""


def _doc(name: str, **schema: Any) -> Meta:
    return Meta(description=EXPECTED[name], extra_json_schema=schema or None)


# -- requests -----------------------------------------------------------------------------


class EventBody(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/events`: report an event."""

    topic: Annotated[str, _doc("topic")]
    source: Annotated[str | None, _doc("source")] = None
    payload: Annotated[Any, _doc("payload")] = None


class AskBody(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/questions`: ask a person."""

    agent: Annotated[str, _doc("agent")]
    question: Annotated[str, _doc("question")]
    options: Annotated[list[str] | None, _doc("options")] = None
    multiple: Annotated[bool | None, _doc("multiple")] = None
    kind: Annotated[
        Literal["text", "choice", "multiple", "approve", "form"] | None, _doc("kind")
    ] = None
    schema: Annotated[dict[str, Any] | None, _doc("schema")] = None
    timeout: Annotated[float | None, _doc("timeout")] = None
    default: Annotated[Any, _doc("default")] = None
    assignee: Annotated[str | None, _doc("assignee")] = None
    id: Annotated[str | None, _doc("id")] = None


class AnswerBody(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/questions/ID/answer`: answer a question."""

    answer: Annotated[Any, _doc("answer")] = None
    on_behalf_of: Annotated[str | None, _doc("on_behalf_of")] = None


class SettingBody(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/settings`: change a live setting."""

    key: Annotated[str, _doc("key")]
    value: Annotated[Any, _doc("value")] = None


class RunBody(Struct, forbid_unknown_fields=True, kw_only=True):
    """`POST /api/runs`: start a run."""

    target: Annotated[Any, _doc("target", type="string")] = None
    bundle: Annotated[Any, _doc("bundle", type=["string", "null"])] = None


REQUEST_BODIES: Final = (EventBody, AskBody, AnswerBody, SettingBody, RunBody)

# -- responses ----------------------------------------------------------------------------


class Error(Struct):
    """Every refusal: a sentence naming the field that is wrong and what was expected."""

    error: str


class EventCreated(Struct):
    id: int


class Asked(Struct):
    id: str
    expires: Annotated[float, Meta(description="when it expires (seconds since the epoch)")]


class QuestionView(Struct, omit_defaults=True):
    """A question as the API shows it; the typed question's fields appear when they say
    something (`kind` unless the options say it: null text, a list choice)."""

    id: str
    agent: str
    question: str
    options: list[str] | None
    state: Literal["pending", "answered", "expired", "cancelled"]
    answer: Annotated[Any, Meta(description="null until answered; of the question's kind")]
    answered_by: Annotated[
        str | None,
        Meta(description="who answered or cancelled it: a user, 'token', 'api', 'anonymous'"),
    ]
    expires: float
    kind: Literal["multiple", "approve", "form"] | None = None
    schema: dict[str, Any] | None = None
    default: Any = None
    assignee: str | None = None
    defaulted: Annotated[
        bool | None, Meta(description="true when its default answered it at its deadline")
    ] = None


class QuestionList(Struct):
    questions: list[QuestionView]


class EventView(Struct):
    id: int
    topic: str
    kind: str
    time: float
    source: str
    payload: Any


class ReplayPage(Struct):
    events: list[EventView]
    last_id: int


class SettingView(Struct):
    key: str
    value: Any


class RunStarted(Struct):
    graph_id: str
    status: Literal["started"]
    node_count: int


RESPONSE_BODIES: Final = (
    Error,
    EventCreated,
    Asked,
    QuestionView,
    QuestionList,
    ReplayPage,
    SettingView,
    RunStarted,
)

# -- checking -----------------------------------------------------------------------------


class BadBody(ValueError):
    """A body that does not fit its Struct; the text names the field (the API's 400)."""


_AT = re.compile(r"at `\$\.([^`.\[]+)")
_MISSING = re.compile(r"required field `([^`]+)`")


def parse[B: Struct](kind: type[B], data: dict[str, Any]) -> B:
    """`data` (a decoded JSON object) as the body `kind`; `BadBody` naming every unknown
    field, or the field of the wrong type and what it expects."""
    known = kind.__struct_fields__
    unknown = [name for name in data if name not in known]
    if unknown:
        names = ", ".join(repr(n) for n in unknown[:5])
        raise BadBody(
            f"unknown field{'s' if len(unknown) > 1 else ''} {names}: this body takes "
            f"{', '.join(known)}"
        )
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        found = _AT.search(text) or _MISSING.search(text)
        name = found.group(1) if found else ""
        if name in EXPECTED:
            raise BadBody(
                f"{name}: expected {EXPECTED[name]}, got {data.get(name)!r:.80}"
            ) from None
        raise BadBody(f"invalid body: {text}") from None
