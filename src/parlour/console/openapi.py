"""The console's API described: an OpenAPI 3.1 document, and the same as a readable page.

    document()        # the OpenAPI dict (GET /api/openapi.json serves its bytes)
    docs_page()       # the HTML of GET /api/docs: every operation, its body and answers

Both come from `OPERATIONS` (the routes, written once here) and the body Structs of
`parlour.console.bodies` through `msgspec.json.schema_components`, so the schema a client
reads is the one its request is checked against. The page is rendered on the server (no
script, no CDN): it works offline and under the console's Content-Security-Policy, styled
by the console's own stylesheet.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Final, cast

import msgspec
from htpy import (
    Element,
    Node,
    a,
    body,
    code,
    dd,
    div,
    dl,
    dt,
    h1,
    h2,
    head,
    html,
    li,
    link,
    main,
    meta,
    p,
    section,
    span,
    table,
    tbody,
    td,
    th,
    thead,
    title,
    tr,
    ul,
)

from parlour.console.bodies import (
    REQUEST_BODIES,
    RESPONSE_BODIES,
    AnswerBody,
    AskBody,
    Asked,
    Error,
    EventBody,
    EventCreated,
    QuestionList,
    QuestionView,
    ReplayPage,
    RunBody,
    RunStarted,
    SettingBody,
    SettingView,
)

__all__ = ["OPERATIONS", "Operation", "docs_page", "document", "document_bytes"]

REF: Final = "#/components/schemas/{name}"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # "query" | "path" | "header"
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    """One route: what it does, what it takes, what it answers (status -> (body, why))."""

    method: str
    path: str
    summary: str
    description: str
    responses: dict[int, tuple[type[msgspec.Struct] | str | None, str]]
    body: type[msgspec.Struct] | None = None
    params: tuple[Param, ...] = field(default=())
    open_to_all: bool = False


_ID = Param("id", "path", {"type": "string"}, "the question's id (URL-encoded)", required=True)
_BAD = (Error, "a field is wrong: the message names it and what it expects")
_GONE = (Error, "no question with this id (unknown, or long closed)")
_SSE = "text/event-stream"

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "post",
        "/events",
        "Report an event",
        "Publish an event on the console's bus: the pages show it, the journal keeps it. "
        "Topics the pages understand: run.started|completed|failed, "
        "agent.started|progress|completed|failed|skipped|cancelled (source = the agent), "
        "service.status; question.* topics are refused (use the question routes).",
        {202: (EventCreated, "published; its id"), 400: _BAD},
        body=EventBody,
    ),
    Operation(
        "get",
        "/events",
        "Follow the events",
        "Server-sent events: first `initial-state` (the snapshot), then every event as "
        "JSON; an idle stream sends a `: ping` comment every 15 s.",
        {200: (_SSE, "the event stream")},
    ),
    Operation(
        "get",
        "/replay",
        "Read stored events",
        "The journal's events after a cursor, oldest first; with follow=1 a stream of "
        "them, then the live ones.",
        {200: (ReplayPage, "the events and the cursor to continue from"), 400: _BAD},
        params=(
            Param("after_id", "query", {"type": "integer", "minimum": 0}, "events after it"),
            Param("topic", "query", {"type": "string"}, "a topic pattern (agent.>, *.failed)"),
            Param("limit", "query", {"type": "integer", "minimum": 1}, "at most this many"),
            Param("follow", "query", {"enum": ["0", "1"]}, "1: stream them, then live ones"),
        ),
    ),
    Operation(
        "post",
        "/questions",
        "Ask a person",
        "A card appears on every tab of the console. Kinds: text (no options), choice "
        "(options), multiple (options and multiple: true; the answer is a list), approve "
        '(kind: "approve"; the answer is {"approved", "reason"}, a reason required to '
        "reject), form (a schema; the answer is an object). With a default, the question "
        "is answered by it when it expires (defaulted: true). With an assignee, only that "
        "user or the group's members (or an admin) may answer. An Idempotency-Key header "
        "returns the question asked with that key (200) instead of a second card.",
        {
            201: (Asked, "asked"),
            200: (Asked, "the question asked before with this Idempotency-Key"),
            400: _BAD,
            409: (Error, "the id is taken, or the key was sent with another question"),
        },
        body=AskBody,
        params=(
            Param(
                "Idempotency-Key",
                "header",
                {"type": "string", "maxLength": 200},
                "the same key returns the same question, for as long as it is known",
            ),
        ),
    ),
    Operation(
        "get",
        "/questions",
        "List questions",
        "The known questions: pending ones oldest first, closed ones newest first (the "
        "newest 500 closed are kept).",
        {200: (QuestionList, "the questions"), 400: _BAD},
        params=(
            Param(
                "state",
                "query",
                {"enum": ["pending", "answered", "expired", "cancelled"]},
                "only the questions in this state",
            ),
        ),
    ),
    Operation(
        "get",
        "/questions/{id}",
        "Read a question (long-poll its answer)",
        "With wait=S the request is held up to S seconds (at most 60) until the question "
        "is answered, expires or is cancelled.",
        {200: (QuestionView, "the question"), 400: _BAD, 404: _GONE},
        params=(
            _ID,
            Param("wait", "query", {"type": "number", "maximum": 60}, "seconds to hold it"),
        ),
    ),
    Operation(
        "post",
        "/questions/{id}/answer",
        "Answer a question",
        "As the caller (api: the token's holder, who may answer any question), or for a "
        "user (on_behalf_of), against whom the question's assignee is checked.",
        {
            200: (QuestionView, "answered (the same answer again: the same question)"),
            400: _BAD,
            403: (Error, "assigned to someone else"),
            404: _GONE,
            409: (Error, "expired, cancelled, or answered differently"),
        },
        body=AnswerBody,
        params=(_ID,),
    ),
    Operation(
        "delete",
        "/questions/{id}",
        "Cancel a question",
        "Its card leaves every tab, and its asker is told (Client.ask raises "
        "QuestionCancelled). Cancelling it again answers the same.",
        {
            200: (QuestionView, "cancelled"),
            404: _GONE,
            409: (Error, "answered or expired already"),
        },
        params=(_ID,),
    ),
    Operation(
        "post",
        "/settings",
        "Change a live setting",
        "window: seconds (0 to 1) a view coalesces updates; log_length: 50 to 1000; "
        "stale_after: seconds (10 to 86400) an agent may stay silent before it shows as stale.",
        {200: (SettingView, "the value as stored"), 400: _BAD},
        body=SettingBody,
    ),
    Operation(
        "post",
        "/runs",
        "Start a run",
        "Publishes run.requested for a target inside the project with a bundle of agents.",
        {201: (RunStarted, "started"), 400: _BAD},
        body=RunBody,
    ),
    Operation(
        "get",
        "/snapshot",
        "Read the console's state",
        "Everything the pages show, as JSON.",
        {200: ("object", "the state")},
    ),
    Operation(
        "get",
        "/openapi.json",
        "This document",
        "OpenAPI 3.1, generated from the types that check the requests. No token needed.",
        {200: ("object", "the document")},
        open_to_all=True,
    ),
    Operation(
        "get",
        "/docs",
        "This API as a page",
        "Rendered on the server; no token needed.",
        {200: ("text/html", "the page")},
        open_to_all=True,
    ),
)


def _components() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        (*REQUEST_BODIES, *RESPONSE_BODIES), ref_template=REF
    )
    return components


def _ref(kind: type[msgspec.Struct]) -> dict[str, str]:
    return {"$ref": REF.format(name=kind.__name__)}


def _response(answer: type[msgspec.Struct] | str | None, why: str) -> dict[str, Any]:
    if answer is None:
        return {"description": why}
    if isinstance(answer, str):
        if "/" in answer:
            return {"description": why, "content": {answer: {"schema": {"type": "string"}}}}
        return {"description": why, "content": {"application/json": {"schema": {"type": answer}}}}
    return {"description": why, "content": {"application/json": {"schema": _ref(answer)}}}


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the console's API (paths relative to `/api`)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": op.summary,
            "description": op.description,
            "operationId": _anchor(op).replace("-", "_"),
            "responses": {
                str(status): _response(*answer) for status, answer in sorted(op.responses.items())
            },
        }
        if op.params:
            operation["parameters"] = [
                {
                    "name": prm.name,
                    "in": prm.where,
                    "required": prm.required,
                    "description": prm.description,
                    "schema": prm.schema,
                }
                for prm in op.params
            ]
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
        if op.open_to_all:
            operation["security"] = []
        paths.setdefault(op.path, {})[op.method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "parlour console API",
            "version": "1",
            "description": "Agents report events and ask people questions; people answer in "
            'the console\'s pages. Every error is JSON {"error": "..."} naming what is '
            "wrong. Bodies are JSON (Content-Type: application/json); unknown fields are "
            "a 400.",
        },
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the console's token (--token or PARLOUR_CONSOLE_TOKEN)",
                }
            },
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return msgspec.json.encode(document())


# -- the page -----------------------------------------------------------------------------


def type_text(schema: dict[str, Any]) -> str:
    """A JSON schema as a short type, for people: `string | null`, `list of string`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(type_text(s) for s in cast("list[dict[str, Any]]", schema["anyOf"]))
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in cast("list[Any]", schema["enum"]))
    kind = schema.get("type")
    if kind == "array":
        return "list of " + type_text(cast("dict[str, Any]", schema.get("items", {})))
    if isinstance(kind, list):
        return " | ".join(str(k) for k in cast("list[Any]", kind))
    return str(kind) if kind else "any"


def _fields(name: str) -> Element:
    schema = cast("dict[str, Any]", _components()[name])
    props = cast("dict[str, dict[str, Any]]", schema.get("properties", {}))
    required = set(cast("list[str]", schema.get("required", [])))
    return table(".api-fields")[
        thead[tr[th["field"], th["type"], th["required"], th["expects"]]],
        tbody[
            (
                tr[
                    td[code[field_name]],
                    td[type_text(prop)],
                    td["yes" if field_name in required else "no"],
                    td[_description(prop)],
                ]
                for field_name, prop in props.items()
            )
        ],
    ]


def _description(prop: dict[str, Any]) -> str:
    if "description" in prop:
        return str(prop["description"])
    for option in cast("list[dict[str, Any]]", prop.get("anyOf", [])):
        if "description" in option:
            return str(option["description"])
    return ""


def _anchor(op: Operation) -> str:
    path = op.path.strip("/").replace("/", "-").replace("{", "").replace("}", "")
    return f"{op.method}-{path}".replace(".", "-")


def _operation(op: Operation) -> Element:
    return section(".api-op", id=_anchor(op))[
        h2(".api-op-head")[
            span(f".api-method.api-method--{op.method}")[op.method.upper()],
            " ",
            code[f"/api{op.path}"],
            " ",
            span(".api-summary")[op.summary],
        ],
        p[op.description],
        p(".api-open")["No token needed."] if op.open_to_all else None,
        _params(op),
        div[p[span(".api-label")["Body "], code[op.body.__name__]], _fields(op.body.__name__)]
        if op.body is not None
        else None,
        dl(".api-responses")[
            (
                (
                    dt[code[str(status)]],
                    dd[
                        why,
                        " — ",
                        code[answer.__name__] if isinstance(answer, type) else answer or "",
                    ],
                )
                for status, (answer, why) in sorted(op.responses.items())
            )
        ],
    ]


def _params(op: Operation) -> Node:
    if not op.params:
        return None
    return table(".api-fields")[
        thead[tr[th["parameter"], th["in"], th["type"], th["means"]]],
        tbody[
            (
                tr[
                    td[code[prm.name]],
                    td[prm.where],
                    td[type_text(prm.schema)],
                    td[prm.description],
                ]
                for prm in op.params
            )
        ],
    ]


def _response_types() -> Node:
    shown = (QuestionView, Asked, QuestionList, EventCreated, ReplayPage, SettingView, RunStarted)
    return [
        section(".api-op", id=f"type-{kind.__name__}")[
            h2[code[kind.__name__]], _fields(kind.__name__)
        ]
        for kind in shown
    ]


@functools.cache
def docs_page() -> str:
    """The API as one HTML page (the console's stylesheet, no script)."""
    page = html(lang="en")[
        head[
            meta(charset="utf-8"),
            meta(name="viewport", content="width=device-width, initial-scale=1"),
            title["parlour console API"],
            link(rel="stylesheet", href="/_console/console.css"),
        ],
        body[
            main(".api-docs")[
                h1["parlour console API"],
                p[
                    "Every route but this page and ",
                    a(href="/api/openapi.json")["/api/openapi.json"],
                    " (the same, as OpenAPI 3.1) wants ",
                    code["Authorization: Bearer TOKEN"],
                    " when the console has a token. Bodies are JSON; unknown fields are a "
                    "400; every error is ",
                    code['{"error": "..."}'],
                    " naming what is wrong.",
                ],
                ul(".api-index")[
                    (
                        li[
                            a(href=f"#{_anchor(op)}")[f"{op.method.upper()} /api{op.path}"],
                            " ",
                            op.summary,
                        ]
                        for op in OPERATIONS
                    )
                ],
                (_operation(op) for op in OPERATIONS),
                h1["Answers"],
                _response_types(),
            ]
        ],
    ]
    return str(page)  # htpy writes the doctype before <html>
