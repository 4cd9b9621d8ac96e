"""The console's HTTP API, driven in-process with `parlour.testing.AsgiClient`: every
status it promises, the SSE feeds, replay, and the bearer token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from parlour.bus import InProcessBus
from parlour.console.api import MAX_BODY, api_app, api_routes
from parlour.console.app import Console
from parlour.console.hub import Hub
from parlour.console.journal import MemoryJournal
from parlour.testing import AsgiClient, AsgiResponse, SseEvent

WAIT = 5.0
TOKEN = "s3cret-token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 50_000.0

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


def client_for(hub: Hub, *, token: str | None = None, heartbeat: float = 15.0) -> AsgiClient:
    routes = api_routes(hub, token=token, heartbeat=heartbeat)
    return AsgiClient(Starlette(routes=[Mount("/api", routes=routes)]))


@pytest.fixture
def mounted(hub: Hub) -> AsgiClient:
    """The API as the console mounts it (`api_app`: routing errors answered in JSON too)."""
    return AsgiClient(Starlette(routes=[Mount("/api", app=api_app(hub))]))


@pytest.fixture
def client(hub: Hub) -> AsgiClient:
    return client_for(hub)


def body(response: AsgiResponse) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return json.loads(response.body)


def error(response: AsgiResponse) -> str:
    data = body(response)
    assert set(data) == {"error"}
    return data["error"]


def data_of(event: SseEvent) -> Any:
    """The JSON on an event's single `data:` line (SseEvent splits it at the first space)."""
    [(word, rests)] = event.data.items()
    [rest] = rests
    return json.loads(f"{word} {rest}" if rest else word)


async def post_raw(client: AsgiClient, path: str, raw: bytes) -> AsgiResponse:
    return await client.post(path, body=raw, headers={"content-type": "application/json"})


# -- POST /events -------------------------------------------------------------------------------


async def test_post_event_answers_202_with_the_id_and_folds_it(
    client: AsgiClient, hub: Hub
) -> None:
    response = await client.post(
        "/api/events", json={"topic": "agent.started", "source": "a", "payload": {"task": "t"}}
    )
    assert response.status == 202
    assert body(response) == {"id": 1}
    assert hub.state.agents["a"].task == "t"  # folded before the answer
    response = await client.post("/api/events", json={"topic": "log.info"})
    assert body(response) == {"id": 2}
    [_, event] = await hub.journal.read()
    assert (event.source, event.payload) == ("", None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "a"}, "topic: expected a string such as 'agent.started', got None"),
        ({"topic": 5}, "topic: expected a string such as 'agent.started', got 5"),
        ({"topic": "agent..started"}, "topic: invalid topic 'agent..started'"),
        ({"topic": "agent.*"}, "topic: invalid topic 'agent.*'"),
        ({"topic": "agent started"}, "topic: invalid topic 'agent started'"),
        ({"topic": "a.b", "source": ["x"]}, "source: expected a string"),
    ],
)
async def test_post_event_refuses_bad_fields_naming_them(
    client: AsgiClient, data: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/events", json=data)
    assert response.status == 400
    assert error(response).startswith(message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "malformed JSON body"),
        (b'["topic"]', "expected a JSON object as the request body"),
        (b"", "expected a JSON object as the request body, got nothing"),
    ],
)
async def test_malformed_bodies_are_400(client: AsgiClient, raw: bytes, message: str) -> None:
    response = await post_raw(client, "/api/events", raw)
    assert response.status == 400
    assert error(response).startswith(message)


async def test_a_body_over_64_kib_is_413(client: AsgiClient, hub: Hub) -> None:
    big = json.dumps({"topic": "log.info", "payload": "x" * MAX_BODY}).encode()
    response = await post_raw(client, "/api/events", big)
    assert response.status == 413
    assert "over 65536 bytes" in error(response)
    # a lying (small) content-length is caught while reading
    response = await client.post(
        "/api/events",
        body=big,
        headers={"content-length": "10", "content-type": "application/json"},
    )
    assert response.status == 413
    assert hub.last_id == 0


# -- the token ----------------------------------------------------------------------------------

ROUTES = [
    ("POST", "/api/events"),
    ("GET", "/api/events"),
    ("GET", "/api/replay"),
    ("POST", "/api/questions"),
    ("GET", "/api/questions/x"),
    ("POST", "/api/questions/x/answer"),
    ("POST", "/api/settings"),
    ("POST", "/api/runs"),
    ("GET", "/api/snapshot"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer "]
)
async def test_with_a_token_every_route_wants_it(
    hub: Hub, method: str, path: str, authorization: str | None
) -> None:
    client = client_for(hub, token=TOKEN)
    headers = {"authorization": authorization} if authorization is not None else {}
    response = await client.request(method, path, headers=headers, json={"topic": "a.b"})
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer TOKEN" in error(response)
    assert hub.last_id == 0


async def test_the_right_token_opens_the_api(hub: Hub) -> None:
    client = client_for(hub, token=TOKEN)
    auth = {"authorization": f"Bearer {TOKEN}"}
    response = await client.post("/api/events", json={"topic": "a.b"}, headers=auth)
    assert response.status == 202
    response = await client.get("/api/snapshot", headers={"authorization": f"bearer  {TOKEN}"})
    assert response.status == 200


def test_an_empty_token_is_refused(hub: Hub) -> None:
    with pytest.raises(ValueError, match="expected a non-empty token"):
        api_routes(hub, token="")


# -- questions ----------------------------------------------------------------------------------


async def ask(client: AsgiClient, **fields: Any) -> str:
    response = await client.post("/api/questions", json={"agent": "a", "question": "q?", **fields})
    assert response.status == 201, response.text
    return body(response)["id"]


async def test_post_question_answers_201_with_id_and_expires(
    client: AsgiClient, hub: Hub, clock: FakeClock
) -> None:
    response = await client.post(
        "/api/questions",
        json={"agent": "deployer", "question": "Ship?", "options": ["yes", "no"], "timeout": 30},
    )
    assert response.status == 201
    data = body(response)
    assert data == {"id": data["id"], "expires": clock.now + 30}
    assert hub.state.questions[data["id"]].options == ("yes", "no")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"agent": None}, "agent: expected a non-empty string"),
        ({"question": ""}, "question: expected the non-empty text"),
        ({"options": []}, "options: expected a non-empty list of distinct non-empty strings"),
        ({"options": ["a", "a"]}, "options: expected a non-empty list of distinct"),
        ({"options": [1, 2]}, "options: expected a non-empty list of distinct"),
        ({"options": {"a": 1}}, "options: expected a non-empty list of distinct"),
        ({"timeout": 0}, "timeout: expected seconds > 0 and at most 86400 (one day)"),
        ({"timeout": -3}, "timeout: expected seconds > 0"),
        ({"timeout": 86_400.5}, "timeout: expected seconds > 0"),
        ({"timeout": "soon"}, "timeout: expected seconds > 0"),
        ({"timeout": True}, "timeout: expected seconds > 0"),
    ],
)
async def test_post_question_refuses_bad_fields_naming_them(
    client: AsgiClient, fields: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/questions", json={"agent": "a", "question": "q?", **fields})
    assert response.status == 400
    assert error(response).startswith(message)


async def test_get_question_shows_its_state(client: AsgiClient, clock: FakeClock) -> None:
    qid = await ask(client, options=["yes", "no"], timeout=60)
    response = await client.get(f"/api/questions/{qid}")
    assert response.status == 200
    assert body(response) == {
        "id": qid,
        "agent": "a",
        "question": "q?",
        "options": ["yes", "no"],
        "state": "pending",
        "answer": None,
        "answered_by": None,
        "expires": clock.now + 60,
    }


async def test_get_question_unknown_is_404(client: AsgiClient) -> None:
    response = await client.get("/api/questions/nope?wait=1")
    assert response.status == 404
    assert "no question with id 'nope'" in error(response)


@pytest.mark.parametrize("wait", ["abc", "-1", "61", "nan", "inf", ""])
async def test_get_question_refuses_a_bad_wait(client: AsgiClient, wait: str) -> None:
    qid = await ask(client)
    response = await client.get(f"/api/questions/{qid}?wait={wait}")
    assert response.status == 400
    assert error(response).startswith("wait: expected seconds from 0 to 60")


async def test_a_long_poll_returns_when_the_question_is_answered(
    client: AsgiClient, hub: Hub
) -> None:
    qid = await ask(client)
    poll = asyncio.create_task(client.get(f"/api/questions/{qid}?wait=30"))
    for _ in range(1_000):  # bounded: until the long poll is registered
        if hub.waiting:
            break
        await asyncio.sleep(0)
    assert hub.waiting == 1
    answered = await client.post(f"/api/questions/{qid}/answer", json={"answer": "done"})
    assert answered.status == 200
    response = await asyncio.wait_for(poll, WAIT)
    assert response.status == 200
    assert (body(response)["state"], body(response)["answer"]) == ("answered", "done")


async def test_answer_statuses(client: AsgiClient, hub: Hub, clock: FakeClock) -> None:
    qid = await ask(client, options=["yes", "no"], timeout=10)
    path = f"/api/questions/{qid}/answer"

    async def answer(value: Any) -> AsgiResponse:
        return await client.post(path, json={"answer": value})

    assert (await answer("")).status == 400
    assert error(await answer("")).startswith("answer: expected a non-empty string")
    assert error(await answer(None)).startswith("answer: expected a non-empty string")
    not_an_option = await answer("maybe")
    assert not_an_option.status == 400
    assert error(not_an_option) == "answer: expected one of ['yes', 'no'], got 'maybe'"
    missing = await client.post(path, json={"reply": "yes"})
    assert (missing.status, error(missing)) == (
        400,
        "answer: expected a non-empty string, got nothing",
    )

    first = await answer("yes")
    assert first.status == 200
    assert body(first)["state"] == "answered"
    again = await answer("yes")
    assert (again.status, body(again)) == (200, body(first))
    different = await answer("no")
    assert different.status == 409
    assert "already answered 'yes'" in error(different)

    unknown = await client.post("/api/questions/nope/answer", json={"answer": "yes"})
    assert unknown.status == 404

    late = await ask(client, timeout=10)
    clock.now += 10
    await hub.expire_due()
    expired = await client.post(f"/api/questions/{late}/answer", json={"answer": "yes"})
    assert expired.status == 409
    assert "expired" in error(expired)
    shown = await client.get(f"/api/questions/{late}?wait=30")  # closed: at once
    assert body(shown)["state"] == "expired"


# -- settings and snapshot ------------------------------------------------------------------------


async def test_settings(client: AsgiClient, hub: Hub) -> None:
    response = await client.post("/api/settings", json={"key": "log_length", "value": "100"})
    assert (response.status, body(response)) == (200, {"key": "log_length", "value": 100})
    assert hub.state.settings.log_length == 100
    bad = await client.post("/api/settings", json={"key": "window", "value": "abc"})
    assert (bad.status, error(bad)) == (400, "window: expected seconds between 0 and 1, got 'abc'")
    unknown = await client.post("/api/settings", json={"value": 1})
    assert unknown.status == 400
    assert error(unknown).startswith("key: expected 'window' or 'log_length'")


async def test_settings_take_stale_after_as_the_config_page_does(
    client: AsgiClient, hub: Hub
) -> None:
    response = await client.post("/api/settings", json={"key": "stale_after", "value": "60"})
    assert (response.status, body(response)) == (200, {"key": "stale_after", "value": 60.0})
    assert hub.state.settings.stale_after == 60.0
    for bad_value in [5, 100_000, "soon", None]:
        bad = await client.post("/api/settings", json={"key": "stale_after", "value": bad_value})
        assert (bad.status, error(bad)) == (
            400,
            f"stale_after: expected seconds between 10 and 86400, got {bad_value!r}",
        )
    assert hub.state.settings.stale_after == 60.0
    missing = await client.post("/api/settings", json={"value": 60})
    assert "'stale_after'" in error(missing)


async def test_snapshot_is_the_state(client: AsgiClient, hub: Hub) -> None:
    await client.post("/api/events", json={"topic": "run.started", "payload": {"total": 2}})
    await ask(client, agent="deployer")
    response = await client.get("/api/snapshot")
    assert response.status == 200
    data = body(response)
    assert data == json.loads(json.dumps(hub.state.snapshot()))
    assert data["progress"]["text"] == "0/2 agents completed (0 failed)"
    assert data["agents"][0]["state"] == "blocked"


async def test_a_closed_hub_answers_503(client: AsgiClient, hub: Hub) -> None:
    await hub.close()
    response = await client.post("/api/events", json={"topic": "a.b"})
    assert response.status == 503
    assert "not running" in error(response)
    assert (await client.get("/api/events")).status == 503


# -- SSE ----------------------------------------------------------------------------------------


async def test_the_event_stream_starts_with_the_initial_state(hub: Hub) -> None:
    client = client_for(hub)
    await hub.publish("agent.started", "a", {"task": "t"})
    async with client.stream("/api/events") as sse:
        assert sse.status == 200
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert sse.headers["cache-control"] == "no-cache"
        initial = await sse.next_event(WAIT)
        assert initial.type == "initial-state"
        assert data_of(initial) == json.loads(json.dumps(hub.state.snapshot()))
        event = await hub.publish("agent.progress", "a", {"message": "half way there"})
        live = await sse.next_event(WAIT)
        assert (live.type, live.id) == ("agent.progress", str(event.id))
        assert data_of(live) == {
            "id": event.id,
            "topic": "agent.progress",
            "kind": "agent",
            "time": event.time,
            "source": "a",
            "payload": {"message": "half way there"},
        }


async def test_an_idle_event_stream_sends_heartbeats(hub: Hub) -> None:
    client = client_for(hub, heartbeat=0.01)
    async with client.stream("/api/events") as sse:
        assert (await sse.next_event(WAIT)).type == "initial-state"
        assert await sse.next_comment(WAIT) == "ping"


# -- replay -------------------------------------------------------------------------------------


async def test_replay_in_id_order_after_a_cursor(client: AsgiClient, hub: Hub) -> None:
    for topic in ["tool.call", "agent.started", "tool.call", "agent.completed"]:
        await hub.publish(topic, "a")
    everything = body(await client.get("/api/replay?after_id=0"))
    assert [e["id"] for e in everything["events"]] == [1, 2, 3, 4]
    assert everything["last_id"] == 4
    assert set(everything["events"][0]) == {"id", "topic", "kind", "time", "source", "payload"}
    after = body(await client.get("/api/replay?after_id=2"))
    assert [e["id"] for e in after["events"]] == [3, 4]
    agents = body(await client.get("/api/replay?after_id=0&topic=agent.*&limit=1"))
    assert ([e["id"] for e in agents["events"]], agents["last_id"]) == ([2], 2)
    nothing = body(await client.get("/api/replay?after_id=4"))
    assert nothing == {"events": [], "last_id": 4}
    assert [e["id"] for e in body(await client.get("/api/replay"))["events"]] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("after_id=abc", "after_id: expected an event id >= 0, got 'abc'"),
        ("after_id=-1", "after_id: expected an event id >= 0"),
        ("limit=0", "limit: expected a count from 1 to 10000"),
        ("limit=10001", "limit: expected a count from 1 to 10000"),
        ("topic=a..b", "topic: invalid pattern"),
        ("follow=yes", "follow: expected 1 (stream) or 0"),
    ],
)
async def test_replay_refuses_bad_parameters(client: AsgiClient, query: str, message: str) -> None:
    response = await client.get(f"/api/replay?{query}")
    assert response.status == 400
    assert error(response).startswith(message)


async def test_replay_follow_streams_stored_then_live_events(hub: Hub) -> None:
    client = client_for(hub, heartbeat=0.01)
    for n in range(4):
        await hub.publish("agent.progress" if n % 2 else "tool.call", "a", n)
    async with client.stream("/api/replay?after_id=1&follow=1&topic=agent.>") as sse:
        assert sse.headers["content-type"].startswith("text/event-stream")
        stored = [await sse.next_event(WAIT) for _ in range(2)]
        assert [(e.type, e.id) for e in stored] == [
            ("agent.progress", "2"),
            ("agent.progress", "4"),
        ]
        await hub.publish("tool.call", "a")
        live = await hub.publish("agent.completed", "a", {"summary": "ok"})
        event = await sse.next_event(WAIT)
        assert (event.type, event.id) == ("agent.completed", str(live.id))
        assert data_of(event)["payload"] == {"summary": "ok"}
        assert await sse.next_comment(WAIT) == "ping"


# -- POST /runs (R20) ---------------------------------------------------------------------------


@pytest.fixture
async def launcher(clock: FakeClock, tmp_path: Path) -> AsyncIterator[Hub]:
    (tmp_path / "src").mkdir()
    async with InProcessBus(clock=clock) as bus:
        hub = Hub(bus, MemoryJournal(), clock=clock, root=tmp_path)
        await hub.start()
        yield hub
        await hub.close()


async def test_posting_a_run_starts_it(launcher: Hub) -> None:
    client = client_for(launcher)
    response = await client.post("/api/runs", json={"target": "src", "bundle": "review"})
    assert response.status == 201, response.text
    data = body(response)
    assert data == {"graph_id": data["graph_id"], "status": "started", "node_count": 3}
    snapshot = body(await client.get("/api/snapshot"))
    assert snapshot["progress"]["state"] == "running"
    assert snapshot["progress"]["total"] == 3
    assert snapshot["progress"]["name"] == "src"
    assert snapshot["recent_targets"] == ["src"]


async def test_a_run_without_a_bundle_takes_the_first(launcher: Hub) -> None:
    response = await client_for(launcher).post("/api/runs", json={"target": "src"})
    assert response.status == 201, response.text
    assert body(response)["node_count"] == len(launcher.bundles["full"]) == 12


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "target: expected a path inside the project, got None"),
        ({"target": ""}, "target: expected a path inside the project, got ''"),
        ({"target": 3}, "target: expected a path inside the project, got 3"),
        ({"target": "../x"}, "target: '../x' is outside the project ("),
        ({"target": "nope"}, "target: 'nope' does not exist in the project"),
        ({"target": "src", "bundle": "x"}, "bundle: unknown bundle 'x'; expected one of 'full'"),
        ({"target": "src", "bundle": 1}, "bundle: unknown bundle 1; expected one of 'full'"),
    ],
)
async def test_a_bad_run_is_refused_with_400(
    launcher: Hub, data: dict[str, Any], message: str
) -> None:
    response = await client_for(launcher).post("/api/runs", json=data)
    assert response.status == 400
    assert error(response).startswith(message)
    assert launcher.last_id == 0


async def test_posting_a_run_wants_the_token(launcher: Hub) -> None:
    client = client_for(launcher, token=TOKEN)
    response = await client.post("/api/runs", json={"target": "src"})
    assert response.status == 401
    assert launcher.last_id == 0
    auth = {"authorization": f"Bearer {TOKEN}"}
    response = await client.post("/api/runs", json={"target": "src"}, headers=auth)
    assert response.status == 201


async def test_the_api_answers_503_until_the_console_has_started(tmp_path: Path) -> None:
    console = Console(store="memory", journal="memory", secret="s", state_dir=tmp_path)
    response = await AsgiClient(console, host="localhost").get("/api/snapshot")
    assert response.status == 503
    assert "starting" in response.text


# -- only the question API closes questions ---------------------------------------------------


@pytest.mark.parametrize("topic", ["question.asked", "question.answered", "question.expired"])
async def test_question_events_are_refused_and_change_nothing(
    client: AsgiClient, hub: Hub, topic: str
) -> None:
    qid = await ask(client, options=["yes", "no"])
    before = hub.last_id
    response = await client.post(
        "/api/events",
        json={"topic": topic, "payload": {"id": qid, "answer": "yes", "agent": "a"}},
    )
    assert response.status == 400
    message = error(response)
    assert "/api/questions" in message
    assert topic in message
    assert hub.last_id == before
    assert hub.question(qid).state == "pending"


# -- producer-chosen ids ------------------------------------------------------------------------


IDS = ["UPPER1", "Job-7", "a--b", "x__y", "with space", 'quote\'s "q"', "a/b", "é ünï", "x" * 200]


@pytest.mark.parametrize("qid", IDS)
async def test_a_producer_chosen_id_is_kept_and_answerable(client: AsgiClient, qid: str) -> None:
    assert await ask(client, id=qid, options=["yes", "no"]) == qid
    # (a server decodes %2F in the path; this client passes the path as it is)
    shown = await client.get(f"/api/questions/{qid}")
    assert shown.status == 200, shown.text
    assert body(shown)["id"] == qid
    answered = await client.post(f"/api/questions/{qid}/answer", json={"answer": "yes"})
    assert answered.status == 200, answered.text
    assert body(answered)["state"] == "answered"
    assert body(answered)["answered_by"] == "api"


async def test_a_duplicate_id_is_409_and_asks_nothing(client: AsgiClient, hub: Hub) -> None:
    await ask(client, id="Job-7")
    before = hub.last_id
    response = await client.post(
        "/api/questions", json={"agent": "b", "question": "again?", "id": "Job-7"}
    )
    assert response.status == 409
    assert "'Job-7' exists already" in error(response)
    assert hub.last_id == before
    assert hub.question("Job-7").agent == "a"


async def test_two_concurrent_asks_with_one_id_ask_once(client: AsgiClient, hub: Hub) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/api/questions", json={"agent": f"a{n}", "question": "q?", "id": "same"})
            for n in range(5)
        )
    )
    assert sorted(r.status for r in responses) == [201, 409, 409, 409, 409]
    asked = await hub.journal.read(pattern="question.asked")
    assert len(asked) == 1


@pytest.mark.parametrize("qid", ["", "x" * 201, "line\nbreak", "tab\there", 7, ["a"], True])
async def test_a_bad_id_is_400(client: AsgiClient, hub: Hub, qid: Any) -> None:
    response = await client.post("/api/questions", json={"agent": "a", "question": "q", "id": qid})
    assert response.status == 400
    assert error(response).startswith("id: expected printable text of 1 to 200 characters")
    assert hub.last_id == 0


# -- bad input is a 400, never a 500; every error is JSON ---------------------------------------


async def test_a_5000_digit_integer_is_400(client: AsgiClient, hub: Hub) -> None:
    huge = b"9" * 5000
    for path, raw in [
        ("/api/events", b'{"topic": "agent.started", "payload": {"n": ' + huge + b"}}"),
        ("/api/questions", b'{"agent": "a", "question": "q", "timeout": ' + huge + b"}"),
        ("/api/settings", b'{"key": "window", "value": ' + huge + b"}"),
    ]:
        response = await post_raw(client, path, raw)
        assert response.status == 400, (path, response.text)
        assert "out of range" in error(response)
    response = await client.get(f"/api/replay?after_id={huge.decode()}")
    assert response.status == 400
    assert hub.last_id == 0


async def test_replay_after_an_id_beyond_64_bits_is_400_with_a_real_journal(
    tmp_path: Path,
) -> None:
    console = Console(
        store="memory", journal=str(tmp_path / "journal.sqlite"), secret="s", state_dir=tmp_path
    )
    await console.start()
    try:
        client = AsgiClient(console)
        for after in ["9223372036854775808", "99999999999999999999999"]:
            response = await client.get(f"/api/replay?after_id={after}")
            assert response.status == 400
            assert "after_id: expected an event id of at most 9223372036854775807" in error(
                response
            )
        ok = await client.get("/api/replay?after_id=9223372036854775807")
        assert ok.status == 200
        assert body(ok) == {"events": [], "last_id": 9223372036854775807}
    finally:
        await console.close()


async def test_an_unknown_route_and_a_wrong_method_answer_json(mounted: AsgiClient) -> None:
    response = await mounted.get("/api/nothing")
    assert response.status == 404
    assert "no API route '/api/nothing'" in error(response)
    response = await mounted.request("DELETE", "/api/snapshot")
    assert response.status == 405
    assert "does not answer DELETE" in error(response)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"null",
        b"[]",
        b"{",
        b'{"topic": null}',
        b'{"topic": "a..b"}',
        b'{"topic": "a.b", "source": 1}',
        b'{"agent": "", "question": "q"}',
        b'{"answer": null}',
        b'{"key": [], "value": {}}',
        b'{"target": {}}',
        b"\xff\xfe",
        b'{"topic": "a.b", "payload": 1e999}',
        b'{"agent": "a", "question": "q", "options": [[]], "timeout": -0.0}',
    ],
)
@pytest.mark.parametrize(
    "path",
    ["/api/events", "/api/questions", "/api/questions/x/answer", "/api/settings", "/api/runs"],
)
async def test_odd_bodies_are_answered_below_500_with_json(
    mounted: AsgiClient, path: str, raw: bytes
) -> None:
    response = await mounted.post(path, body=raw, headers={"content-type": "application/json"})
    assert response.status < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    json.loads(response.body)


# -- requests from other sites ------------------------------------------------------------------


CROSS_SITE = [
    {"origin": "https://evil.example"},
    {"origin": "http://testserver.evil.example"},
    {"origin": "null"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_a_cross_site_request_is_403(
    client: AsgiClient, hub: Hub, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers, json={"topic": "a.b"})
    assert response.status == 403
    assert "cross-site request refused" in error(response)
    assert hub.last_id == 0


async def test_the_consoles_own_pages_may_call_it(client: AsgiClient) -> None:
    headers = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    response = await client.post("/api/events", json={"topic": "a.b"}, headers=headers)
    assert response.status == 202


@pytest.mark.parametrize(
    "kind", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_a_post_that_is_not_json_is_415(
    client: AsgiClient, hub: Hub, kind: str | None
) -> None:
    headers = {"content-type": kind} if kind else {}
    for path in ["/api/events", "/api/questions", "/api/settings"]:
        response = await client.post(path, body=b'{"topic": "a.b"}', headers=headers)
        assert response.status == 415, path
        assert "application/json" in error(response)
    assert hub.last_id == 0
    ok = await client.post(
        "/api/events",
        body=b'{"topic": "a.b"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert ok.status == 202
