"""The synchronous client against a real server: uvicorn on a free loopback port, in a
background thread, serving the API over a real hub. Waits are events, not sleeps: the
test learns a question's id from the server's own SSE feed before answering it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from parlour.bus import InProcessBus
from parlour.console import AsyncClient, Client, ClientError, QuestionCancelled
from parlour.console.api import api_routes
from parlour.console.hub import Hub
from parlour.console.journal import MemoryJournal

WAIT = 10.0


@dataclass
class Served:
    url: str
    hub: Hub


@contextlib.contextmanager
def serve(token: str | None = None) -> Generator[Served]:
    bus = InProcessBus()
    hub = Hub(bus, MemoryJournal())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        await hub.start()
        try:
            yield
        finally:
            await hub.close()
            await bus.close()

    app = Starlette(
        routes=[Mount("/api", routes=api_routes(hub, token=token, heartbeat=0.5))],
        lifespan=lifespan,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # bound and listening before the thread starts: no race on readiness
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{port}", hub)
    finally:
        server.should_exit = True
        thread.join(WAIT)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


@pytest.fixture
def served() -> Iterator[Served]:
    with serve() as served:
        yield served


@contextlib.contextmanager
def event_feed(url: str, token: str | None = None) -> Generator[Callable[[str], dict[str, Any]]]:
    """Open the server's SSE feed; yields `next_of(topic)`: the data of the next such event."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{url}/api/events", headers=headers)
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.readline().strip() == b"event: initial-state"  # the feed is live

        def next_of(topic: str) -> dict[str, Any]:
            current = None
            for _ in range(10_000):  # bounded; each readline is bounded by the socket timeout
                raw = response.readline()
                if not raw:
                    break  # the stream ended
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    current = line.removeprefix("event: ")
                elif line.startswith("data: ") and current == topic:
                    return json.loads(line.removeprefix("data: "))
            raise AssertionError(f"no {topic} event on the feed")

        yield next_of


def test_publish_returns_the_event_id(served: Served) -> None:
    client = Client(served.url)
    assert client.publish("agent.started", "deployer", {"task": "ship"}) == 1
    assert client.publish("log.info") == 2
    snapshot = client.snapshot()
    assert snapshot["last_id"] == 2
    assert snapshot["agents"][0] == {
        "name": "deployer",
        "state": "running",
        "task": "ship",
        "detail": "",
        "updated": snapshot["agents"][0]["updated"],
    }


def test_ask_blocks_until_another_thread_answers(served: Served) -> None:
    client = Client(served.url)
    with event_feed(served.url) as next_of, ThreadPoolExecutor(1) as pool:
        asking = pool.submit(client.ask, "deployer", "Ship 1.4?", ["yes", "no"], 30)
        asked = next_of("question.asked")
        assert asked["payload"]["question"] == "Ship 1.4?"
        qid = asked["payload"]["id"]
        assert not asking.done()
        answered = Client(served.url).answer(qid, "yes")
        assert answered["state"] == "answered"
        assert asking.result(timeout=WAIT) == "yes"
    assert served.hub.state.questions[qid].answer == "yes"


def test_a_question_named_by_its_producer_is_answered_through_a_real_server(
    served: Served,
) -> None:
    qid = 'Job 7/deploy "prod"'  # a space, a slash (sent as %2F) and quotes
    client = Client(served.url)
    with event_feed(served.url) as next_of, ThreadPoolExecutor(1) as pool:
        asking = pool.submit(client.ask, "deployer", "Ship?", ["yes", "no"], 30, qid=qid)
        assert next_of("question.asked")["payload"]["id"] == qid
        assert Client(served.url).question(qid)["state"] == "pending"
        answered = Client(served.url).answer(qid, "yes")
        assert answered["answered_by"] == "api"
        assert asking.result(timeout=WAIT) == "yes"
    with pytest.raises(ClientError) as taken:
        client.ask("deployer", "Again?", timeout=1, qid=qid)
    assert taken.value.status == 409


def test_ask_raises_timeout_error_when_the_question_expires(served: Served) -> None:
    client = Client(served.url)
    with pytest.raises(TimeoutError, match="expired unanswered"):
        client.ask("deployer", "Quick?", timeout=0.2)  # the server's expiry wakes the poll
    [question] = served.hub.state.questions.values()
    assert question.state == "expired"


def test_http_errors_carry_the_servers_message(served: Served) -> None:
    client = Client(served.url)
    with pytest.raises(ClientError, match="options: expected a non-empty list") as info:
        client.ask("a", "q?", options=[])
    assert info.value.status == 400
    with pytest.raises(ClientError) as missing:
        client.answer("nope", "x")
    assert missing.value.status == 404
    assert "no question with id 'nope'" in missing.value.message
    with pytest.raises(ClientError, match="topic: invalid topic"):
        client.publish("not a topic")


def test_the_token_is_sent_as_a_bearer_header() -> None:
    with serve(token="t0k3n") as served:
        with pytest.raises(ClientError) as refused:
            Client(served.url).publish("a.b")
        assert refused.value.status == 401
        assert Client(served.url + "/api/", token="t0k3n").publish("a.b") == 1


def test_an_unreachable_console_is_a_client_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(ClientError, match="cannot reach the console") as info:
            Client(f"http://127.0.0.1:{port}", timeout=2).publish("a.b")
    assert info.value.status == 0


@pytest.mark.parametrize("url", ["ftp://host", "127.0.0.1:8000", "http://"])
def test_the_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="expected the console's http"):
        Client(url)


def test_the_api_prefix_is_added_once() -> None:
    assert Client("http://h:1").api == "http://h:1/api"
    assert Client("http://h:1/").api == "http://h:1/api"
    assert Client("http://h:1/console/api/").api == "http://h:1/console/api"


def test_importing_the_client_loads_no_server_machinery() -> None:
    probe = (
        "import sys, json; from parlour.console import Client; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'asyncio', 'uvicorn', 'sqlite3') or m.startswith('parlour.bus'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []


# -- typed questions, defaults, cancelling, the async client -------------------------------------


def test_ask_returns_typed_answers(served: Served) -> None:
    client = Client(served.url)
    schema = {
        "type": "object",
        "properties": {"replicas": {"type": "integer"}},
        "required": ["replicas"],
    }
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"options": ["a", "b", "c"], "multiple": True}, ["a", "c"]),
        ({"kind": "approve"}, {"approved": False, "reason": "not today"}),
        ({"schema": schema}, {"replicas": 4}),
    ]
    with event_feed(served.url) as next_of, ThreadPoolExecutor(1) as pool:
        for typed, given in cases:
            asking = pool.submit(client.ask, "deployer", "Which?", timeout=30, **typed)
            qid = next_of("question.asked")["payload"]["id"]
            Client(served.url).answer(qid, given)
            assert asking.result(timeout=WAIT) == given


def test_details_say_whether_the_default_answered(served: Served) -> None:
    client = Client(served.url)
    answer = client.ask(
        "deployer", "Ship?", ["ship", "wait"], timeout=0.2, default="wait", details=True
    )
    assert (answer.value, answer.defaulted, answer.answered_by) == ("wait", True, None)
    assert served.hub.state.questions[answer.id].defaulted


def test_a_cancelled_question_raises_question_cancelled(served: Served) -> None:
    client = Client(served.url)
    with event_feed(served.url) as next_of, ThreadPoolExecutor(1) as pool:
        asking = pool.submit(client.ask, "deployer", "Still needed?", timeout=30)
        qid = next_of("question.asked")["payload"]["id"]
        assert [q["id"] for q in client.questions("pending")] == [qid]
        assert client.cancel(qid)["state"] == "cancelled"
        with pytest.raises(QuestionCancelled, match=f"question {qid} was cancelled by api"):
            asking.result(timeout=WAIT)


def test_an_idempotency_key_makes_a_retried_ask_wait_on_the_same_question(
    served: Served,
) -> None:
    client = Client(served.url)
    with event_feed(served.url) as next_of, ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.ask, "deployer", "Once?", timeout=30, idempotency_key="k-1")
        qid = next_of("question.asked")["payload"]["id"]
        retried = pool.submit(client.ask, "deployer", "Once?", timeout=30, idempotency_key="k-1")
        for _ in range(1000):  # until both long-poll the one question (at most 10 s)
            if served.hub.waiting == 2:
                break
            time.sleep(0.01)
        assert served.hub.waiting == 2
        client.answer(qid, "done")
        assert first.result(timeout=WAIT) == retried.result(timeout=WAIT) == "done"
    assert len(served.hub.state.questions) == 1


async def first_pending(client: AsyncClient) -> list[dict[str, Any]]:
    """The pending questions, once there is one (polled for at most `WAIT` seconds)."""
    for _ in range(int(WAIT / 0.01)):
        if pending := await client.questions("pending"):
            return pending
        await asyncio.sleep(0.01)
    raise AssertionError("no question became pending")


async def test_the_async_client_asks_and_waits_in_the_event_loop() -> None:
    with serve(token="t0k") as served:
        client = AsyncClient(served.url, token="t0k")
        asking = asyncio.create_task(
            client.ask("deployer", "Async?", ["yes", "no"], timeout=30, details=True)
        )
        pending = await first_pending(client)
        await client.answer(pending[0]["id"], "no")
        answer = await asyncio.wait_for(asking, WAIT)
        assert (answer.value, answer.answered_by, answer.defaulted) == ("no", "api", False)
        assert await client.publish("agent.progress", "deployer", {"message": "x"}) > 0
        with pytest.raises(ClientError) as refused:
            await AsyncClient(served.url, token="wrong").snapshot()
        assert refused.value.status == 401
        assert "missing or wrong token" in refused.value.message
        cancel = asyncio.create_task(client.ask("deployer", "Cancel?", timeout=30))
        pending = await first_pending(client)
        await client.cancel(pending[0]["id"])
        with pytest.raises(QuestionCancelled):
            await asyncio.wait_for(cancel, WAIT)


async def test_the_async_client_reports_an_unreachable_console() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClientError) as caught:
        await AsyncClient(f"http://127.0.0.1:{port}", timeout=2).snapshot()
    assert caught.value.status == 0
    assert "cannot reach the console" in caught.value.message
