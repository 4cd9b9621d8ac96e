"""Typed questions through the HTTP API, in-process: asking each kind, wrong answers named,
defaults at expiry, assignees and 403, listing by state, cancelling, Idempotency-Keys,
unknown fields, and the OpenAPI document and docs page generated from the same types."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from parlour.bus import InProcessBus
from parlour.console.api import api_app
from parlour.console.app import Console
from parlour.console.hub import Hub
from parlour.console.journal import MemoryJournal
from parlour.console.questions import Answerer
from parlour.console.users import ScryptParams
from parlour.testing import AsgiClient, AsgiResponse, Page

TOKEN = "typed-token"
CHEAP = ScryptParams(n=2**4, r=1, p=1)
SCHEMA = {
    "type": "object",
    "properties": {
        "service": {"type": "string", "title": "Service"},
        "replicas": {"type": "integer", "minimum": 1},
    },
    "required": ["service", "replicas"],
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 70_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def hub(clock: FakeClock) -> AsyncIterator[Hub]:
    async with InProcessBus(clock=clock) as bus:
        hub = Hub(bus, MemoryJournal(), clock=clock)
        await hub.start()
        yield hub
        await hub.close()


@pytest.fixture
def client(hub: Hub) -> AsgiClient:
    return AsgiClient(Starlette(routes=[Mount("/api", app=api_app(hub))]))


def body(response: AsgiResponse) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return json.loads(response.body)


def error(response: AsgiResponse) -> str:
    data = body(response)
    assert set(data) == {"error"}
    return data["error"]


async def ask(client: AsgiClient, **fields: Any) -> str:
    response = await client.post("/api/questions", json={"agent": "a", "question": "q?", **fields})
    assert response.status == 201, response.text
    return body(response)["id"]


async def answer(client: AsgiClient, qid: str, value: Any, **more: Any) -> AsgiResponse:
    return await client.post(f"/api/questions/{qid}/answer", json={"answer": value, **more})


# -- each kind ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "kind", "given", "recorded"),
    [
        ({}, None, "free words", "free words"),
        ({"options": ["a", "b"]}, None, "b", "b"),
        ({"options": ["a", "b", "c"], "multiple": True}, "multiple", ["c", "a"], ["a", "c"]),
        ({"kind": "approve"}, "approve", {"approved": True}, {"approved": True, "reason": ""}),
        ({"schema": SCHEMA}, "form", {"service": "web", "replicas": 2}, None),
    ],
)
async def test_each_kind_is_asked_shown_and_answered(
    client: AsgiClient, fields: dict[str, Any], kind: str | None, given: Any, recorded: Any
) -> None:
    qid = await ask(client, **fields)
    shown = body(await client.get(f"/api/questions/{qid}"))
    assert shown.get("kind") == kind
    if "schema" in fields:
        assert shown["schema"] == SCHEMA
    answered = await answer(client, qid, given)
    assert answered.status == 200, answered.text
    assert body(answered)["answer"] == (given if recorded is None else recorded)
    assert body(answered)["state"] == "answered"


@pytest.mark.parametrize(
    ("fields", "given", "message"),
    [
        ({"schema": SCHEMA}, {"service": "web"}, "answer.replicas: required"),
        ({"schema": SCHEMA}, {"service": "web", "replicas": "2"}, "answer.replicas: expected an"),
        ({"schema": SCHEMA}, {"service": "web", "replicas": 1, "x": 2}, "answer.x: not a field"),
        ({"kind": "approve"}, {"approved": False}, "answer.reason: a reason is required"),
        ({"options": ["a"], "multiple": True}, ["b"], "answer[0]: expected one of ['a']"),
        ({"options": ["a"], "multiple": True}, "a", "answer: expected a list of distinct"),
    ],
)
async def test_a_wrong_answer_is_a_400_naming_the_field(
    client: AsgiClient, fields: dict[str, Any], given: Any, message: str
) -> None:
    qid = await ask(client, **fields)
    response = await answer(client, qid, given)
    assert response.status == 400
    assert error(response).startswith(message)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "form"}, "kind: 'form' needs a schema"),
        ({"multiple": True}, "multiple: true needs options"),
        ({"kind": "vote"}, "kind: expected one of text, choice, multiple, approve, form"),
        ({"schema": {"properties": {"a": {"type": "array"}}}}, "schema.properties.a.type"),
        ({"options": ["a", "b"], "default": "c"}, "default: expected one of ['a', 'b']"),
        ({"kind": "approve", "default": {"approved": False}}, "default.reason: a reason is"),
        ({"assignee": "group:"}, "assignee: expected a user's name"),
        ({"assignee": 7}, "assignee: expected who may answer"),
        ({"colour": "red", "size": 2}, "unknown fields 'colour', 'size': this body takes agent"),
    ],
)
async def test_a_bad_typed_question_is_a_400_naming_the_field(
    client: AsgiClient, hub: Hub, fields: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/questions", json={"agent": "a", "question": "q?", **fields})
    assert response.status == 400
    assert error(response).startswith(message)
    assert hub.state.pending_questions() == []


async def test_unknown_fields_are_named_on_every_body(client: AsgiClient) -> None:
    for path, data in [
        ("/api/events", {"topic": "a.b", "colour": 1}),
        ("/api/settings", {"key": "window", "value": 0.1, "extra": 1}),
        ("/api/runs", {"target": "src", "why": 1}),
    ]:
        response = await client.post(path, json=data)
        assert response.status == 400, path
        assert error(response).startswith("unknown field '")
    qid = await ask(client)
    response = await answer(client, qid, "yes", because="x")
    assert (response.status, error(response)) == (
        400,
        "unknown field 'because': this body takes answer, on_behalf_of",
    )


# -- defaults -----------------------------------------------------------------------------------


async def test_a_default_answers_at_expiry_marked_defaulted_in_the_journal(
    client: AsgiClient, hub: Hub, clock: FakeClock
) -> None:
    qid = await ask(client, options=["ship", "wait"], timeout=30, default="wait")
    clock.now += 31
    await hub.expire_due()
    shown = body(await client.get(f"/api/questions/{qid}"))
    assert (shown["state"], shown["answer"], shown["defaulted"]) == ("answered", "wait", True)
    assert shown["answered_by"] is None
    [event] = await hub.journal.read(pattern="question.expired")
    assert event.payload == {"id": qid, "defaulted": True, "answer": "wait"}
    late = await answer(client, qid, "ship")
    assert late.status == 409
    assert "already answered 'wait'" in error(late)


# -- assignees ----------------------------------------------------------------------------------


@pytest.fixture
async def staffed(tmp_path: Any) -> AsyncIterator[Console]:
    """A console with a token and users: ada in ops, bob in dev, root in admin."""
    console = Console(
        store="memory", journal="memory", secret="s", token=TOKEN, tick=3600, state_dir=tmp_path
    )
    console.access.users.params = CHEAP
    for name, groups in (("ada", ["ops"]), ("bob", ["dev"]), ("root", ["admin"])):
        console.access.users.add(name, "correct horse", groups)
    await console.start()
    try:
        yield console
    finally:
        await console.close()


async def test_only_the_assignee_or_an_admin_answers_through_the_api(staffed: Console) -> None:
    client = AsgiClient(staffed)
    auth = {"authorization": f"Bearer {TOKEN}"}
    asked = await client.post(
        "/api/questions",
        json={"agent": "a", "question": "Page the DBA?", "assignee": "group:ops"},
        headers=auth,
    )
    qid = body(asked)["id"]
    path = f"/api/questions/{qid}/answer"
    bob = await client.post(path, json={"answer": "yes", "on_behalf_of": "bob"}, headers=auth)
    assert bob.status == 403
    assert "assigned to group:ops" in error(bob)
    nobody = await client.post(path, json={"answer": "y", "on_behalf_of": "zed"}, headers=auth)
    assert (nobody.status, error(nobody)) == (
        400,
        "on_behalf_of: no user named 'zed' (see `user list`)",
    )
    ada = await client.post(path, json={"answer": "yes", "on_behalf_of": "ada"}, headers=auth)
    assert ada.status == 200
    assert body(ada)["answered_by"] == "ada"
    assert body(ada)["assignee"] == "group:ops"
    # the token's holder is an admin: it answers anything as "api"
    other = body(
        await client.post(
            "/api/questions",
            json={"agent": "a", "question": "Yours?", "assignee": "bob"},
            headers=auth,
        )
    )["id"]
    api = await client.post(f"/api/questions/{other}/answer", json={"answer": "ok"}, headers=auth)
    assert (api.status, body(api)["answered_by"]) == (200, "api")


async def test_a_person_not_assigned_is_refused_on_the_page(staffed: Console) -> None:
    assert staffed.hub is not None
    question = await staffed.hub.ask("a", "Rotate the keys?", ["now", "later"], assignee="ada")
    client = AsgiClient(staffed)
    signin = await client.post(
        "/_console/signin",
        body=b"name=bob&password=correct+horse&next=%2F",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert signin.status == 303
    staffed.pages.views.flush()
    page = await Page(client, runtime=staffed.pages.runtime).open("/")
    try:
        card = f"#question-{question.id}"
        assert "for @ada" in page.text(f"{card} .console-question-assignee")
        await page.click(f"{card} .console-choice", text="now")
        await page.submit(f"{card} form")
        await page.wait_for(lambda p: "Forbidden (403)" in p.text(".console-notice"))
        assert "only they or an admin may answer it, not bob" in page.text(".console-notice")
    finally:
        await page.close()
    assert staffed.hub.question(question.id).state == "pending"
    assert staffed.access.answerer("root").admin
    assert staffed.access.answerer("ada") == Answerer(name="ada", groups=frozenset({"ops"}))


# -- listing and cancelling ---------------------------------------------------------------------


async def test_questions_are_listed_by_state(client: AsgiClient, hub: Hub) -> None:
    first, second, third = [await ask(client) for _ in range(3)]
    await answer(client, first, "done")
    await client.request("DELETE", f"/api/questions/{second}")
    listed = {
        state: [
            q["id"] for q in body(await client.get(f"/api/questions?state={state}"))["questions"]
        ]
        for state in ("pending", "answered", "expired", "cancelled")
    }
    assert listed == {"pending": [third], "answered": [first], "expired": [], "cancelled": [second]}
    everything = body(await client.get("/api/questions"))["questions"]
    assert {q["id"] for q in everything} == {first, second, third}
    bad = await client.get("/api/questions?state=open")
    assert (bad.status, error(bad)) == (
        400,
        "state: expected one of pending, answered, expired, cancelled, got 'open'",
    )


async def test_delete_cancels_a_question_and_its_waiters_hear_it(
    client: AsgiClient, hub: Hub
) -> None:
    qid = await ask(client)
    waiting = asyncio.create_task(client.get(f"/api/questions/{qid}?wait=5"))
    await asyncio.sleep(0)
    cancelled = await client.request("DELETE", f"/api/questions/{qid}")
    assert cancelled.status == 200
    assert (body(cancelled)["state"], body(cancelled)["answered_by"]) == ("cancelled", "api")
    assert body(await asyncio.wait_for(waiting, 5))["state"] == "cancelled"
    assert hub.state.pending_questions() == []
    again = await client.request("DELETE", f"/api/questions/{qid}")
    assert (again.status, body(again)["state"]) == (200, "cancelled")
    late = await answer(client, qid, "yes")
    assert (late.status, error(late)) == (
        409,
        f"question {qid!r} was cancelled; it can no longer be answered",
    )
    answered = await ask(client)
    await answer(client, answered, "yes")
    refused = await client.request("DELETE", f"/api/questions/{answered}")
    assert refused.status == 409
    missing = await client.request("DELETE", "/api/questions/nope")
    assert missing.status == 404
    assert "no question with id 'nope'" in error(missing)


# -- Idempotency-Key ----------------------------------------------------------------------------


async def test_an_idempotency_key_returns_the_same_question(client: AsgiClient, hub: Hub) -> None:
    data = {"agent": "a", "question": "Ship?", "options": ["yes", "no"]}
    key = {"idempotency-key": "job-7-ship"}
    first = await client.post("/api/questions", json=data, headers=key)
    again = await client.post("/api/questions", json=data, headers=key)
    assert (first.status, again.status) == (201, 200)
    assert body(first) == body(again)
    assert len(hub.state.pending_questions()) == 1
    other = await client.post(
        "/api/questions", json={**data, "question": "Roll back?"}, headers=key
    )
    assert other.status == 409
    assert "Idempotency-Key: 'job-7-ship' was sent with another question" in error(other)
    await answer(client, body(first)["id"], "yes")
    after = await client.post("/api/questions", json=data, headers=key)  # known: answered
    assert (after.status, body(after)["id"]) == (200, body(first)["id"])


async def test_two_asks_with_one_key_at_once_make_one_card(client: AsgiClient, hub: Hub) -> None:
    data = {"agent": "a", "question": "Once?"}
    key = {"idempotency-key": "k"}
    responses = await asyncio.gather(
        *(client.post("/api/questions", json=data, headers=key) for _ in range(5))
    )
    assert len({body(r)["id"] for r in responses}) == 1
    assert len(hub.state.pending_questions()) == 1


# -- the description of the API -----------------------------------------------------------------


async def test_openapi_is_generated_from_the_types_that_check_requests(
    staffed: Console,
) -> None:
    client = AsgiClient(staffed)
    response = await client.get("/api/openapi.json")  # no token needed
    assert response.status == 200
    document = body(response)
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    assert set(paths["/questions"]) == {"get", "post"}
    assert set(paths["/questions/{id}"]) == {"get", "delete"}
    asking = paths["/questions"]["post"]
    assert asking["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AskBody"
    }
    assert {"201", "200", "400", "409"} <= set(asking["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in asking["parameters"])
    ask_body = document["components"]["schemas"]["AskBody"]
    assert ask_body["required"] == ["agent", "question"]
    for name in ("options", "multiple", "kind", "schema", "timeout", "default", "assignee", "id"):
        assert name in ask_body["properties"], name
    assert "403" in paths["/questions/{id}/answer"]["post"]["responses"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_the_docs_page_lists_every_operation_without_script(staffed: Console) -> None:
    client = AsgiClient(staffed)
    response = await client.get("/api/docs")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert page.startswith("<!doctype html><html")
    assert "<script" not in page
    assert "https://" not in page  # nothing from a CDN
    for operation in ("POST /api/questions", "DELETE /api/questions/{id}", "GET /api/replay"):
        assert operation in page, operation
    for field in ("on_behalf_of", "assignee", "schema", "Idempotency-Key", "QuestionView"):
        assert field in page, field


# -- what every tab shows -----------------------------------------------------------------------


async def test_a_cancelled_card_leaves_every_tab_and_a_defaulted_one_says_so(
    staffed: Console,
) -> None:
    hub, views = staffed.hub, staffed.pages.views
    assert hub is not None
    cancelled = await hub.ask("a", "Cancel me?")
    defaulted = await hub.ask("a", "Ship?", ["ship", "wait"], timeout=0.05, default="wait")
    views.flush()
    assert f"question-{cancelled.id}" in views.html("questions")
    await hub.cancel(cancelled.id, by="api")
    closed = await hub.wait(defaulted.id, 5)
    assert (closed.state, closed.defaulted) == ("answered", True)
    views.flush()
    assert f"question-{cancelled.id}" not in views.html("questions")
    assert f"question-{defaulted.id}" not in views.html("questions")
    answered = views.html("answered")
    assert "defaulted: nobody answered" in answered
    assert "cancelled" in answered
