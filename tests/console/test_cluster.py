"""Consoles on one NATS: the nodes of a console cluster agree on every event and question.

Each test starts its own nats-server (so streams and claims never leak between tests) and
two or three `Console`s on it, in this process, each with its own NATS connections, as the
nodes of a cluster would be. What a person or an agent sees through any node's API must be
what they would see through one console: the same events, a question asked on one node
known on all, each answer accepted once in the whole cluster (one wins, the other is told
409), each expiry published once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from parlour.bus.event import Event
from parlour.bus.nats import NatsBus
from parlour.console.access import TOKEN_PERSON
from parlour.console.app import Console
from parlour.console.claims import close_key
from parlour.console.claims_nats import NatsClaims
from parlour.console.cluster import claims_bucket, feed_launches
from parlour.console.hub import Hub
from parlour.console.journal_nats import StreamJournal
from parlour.stores.nats_kv import connect_client
from parlour.testing import AsgiClient, AsgiResponse
from tests.support.nats import start_nats_server

pytestmark = pytest.mark.subprocess

TOKEN = "cluster-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUNDS = 20

StartConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    for server in start_nats_server(tmp_path):
        yield server.url


@pytest.fixture
async def start_console(nats_url: str, tmp_path: Path) -> AsyncIterator[StartConsole]:
    started: list[Console] = []

    async def start(**options: Any) -> Console:
        options.setdefault("store", "memory")
        options.setdefault("secret", "cluster-test-secret")
        console = Console(
            bus=nats_url,
            token=TOKEN,
            tick=3600,
            state_dir=tmp_path / f"node{len(started)}",
            **options,
        )
        await console.start()
        started.append(console)
        return console

    yield start
    for console in reversed(started):
        await console.close()


def hub_of(console: Console) -> Hub:
    assert console.hub is not None
    return console.hub


def api(console: Console) -> AsgiClient:
    return AsgiClient(console)


def body(response: AsgiResponse) -> Any:
    return json.loads(response.body)


async def ask(console: Console, **fields: Any) -> AsgiResponse:
    question = {"agent": "deployer", "question": "Ship it?", "options": ["yes", "no"]} | fields
    return await api(console).post("/api/questions", json=question, headers=AUTH)


async def answer(console: Console, qid: str, value: Any) -> AsgiResponse:
    return await api(console).post(
        f"/api/questions/{qid}/answer", json={"answer": value}, headers=AUTH
    )


async def replay(console: Console, topic: str = ">") -> list[dict[str, Any]]:
    response = await api(console).get(
        "/api/replay", params={"after": "0", "topic": topic}, headers=AUTH
    )
    assert response.status == 200, response.body
    return body(response)["events"]


async def the_stream(nats_url: str, pattern: str = ">") -> list[Event]:
    """What the cluster's journal holds, read straight from NATS."""
    async with await NatsBus.connect(nats_url) as bus:
        return await bus.history(after=0, pattern=pattern, limit=10_000)


async def eventually(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():  # bounded by the deadline
        assert loop.time() < deadline, f"not within {timeout}s: {what}"
        await asyncio.sleep(0.02)


# -- which flag turns it on ------------------------------------------------------------------


def test_a_console_alone_keeps_its_journal_in_sqlite_as_before(tmp_path: Path) -> None:
    console = Console(state_dir=tmp_path, store="memory")
    assert console.journal_spec == str(tmp_path / "console.sqlite")


def test_a_nats_bus_makes_the_bus_stream_the_journal(tmp_path: Path) -> None:
    console = Console(state_dir=tmp_path, store="memory", bus="nats://127.0.0.1:4222")
    assert console.journal_spec == "stream"
    kept = Console(
        state_dir=tmp_path, store="memory", bus="nats://127.0.0.1:4222", journal="memory"
    )
    assert kept.journal_spec == "memory"


def test_a_nats_store_on_an_in_process_bus_is_refused_saying_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a NATS bus too") as refused:
        Console(state_dir=tmp_path, store="nats://127.0.0.1:4222/console")
    assert "--bus nats://HOST:PORT" in str(refused.value)
    with pytest.raises(ValueError, match="the NATS bus's stream"):
        Console(state_dir=tmp_path, store="memory", journal="stream")


# -- one journal -----------------------------------------------------------------------------


async def test_every_node_folds_every_event_and_replays_the_same_journal(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    await hub_of(a).publish("agent.started", "linter", {"task": "lint"})
    await hub_of(b).publish("agent.progress", "linter", {"message": "half way"})
    await hub_of(a).publish("agent.completed", "linter", {"summary": "clean"})
    await eventually(lambda: hub_of(b).last_id == hub_of(a).last_id, "b folded a's events")

    on_a, on_b = await replay(a), await replay(b)
    assert [e["topic"] for e in on_a] == ["agent.started", "agent.progress", "agent.completed"]
    assert on_b == on_a
    assert hub_of(a).state.agents["linter"] == hub_of(b).state.agents["linter"]
    assert hub_of(b).state.agents["linter"].state == "completed"


async def test_a_node_started_later_rebuilds_the_same_state_from_the_stream(
    start_console: StartConsole,
) -> None:
    a = await start_console()
    await hub_of(a).publish("agent.started", "tester", {"task": "test"})
    asked = body(await ask(a, id="Job-7"))
    await hub_of(a).answer(asked["id"], "no", by="ada")
    await hub_of(a).ask("deployer", "Roll back?", ["yes", "no"], qid="Job-8")

    late = await start_console()  # nothing of its own: it reads the stream
    assert hub_of(late).last_id == hub_of(a).last_id
    assert hub_of(late).state.questions == hub_of(a).state.questions
    assert hub_of(late).state.agents == hub_of(a).state.agents
    assert hub_of(late).question("Job-7").answer == "no"
    assert hub_of(late).question("Job-8").state == "pending"
    assert await replay(late) == await replay(a)


async def test_a_sign_in_on_one_node_is_good_on_every_node(
    start_console: StartConsole, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARLOUR_SECRET", raising=False)
    store = f"{nats_url}/console-pages"
    a = await start_console(store=store, secret=None)
    b = await start_console(store=store, secret=None)
    assert a.secret is not None
    assert a.secret == b.secret  # the pages' shared secret, from NATS
    cookie = a.access.mint(TOKEN_PERSON)
    assert b.access.person(cookie) == TOKEN_PERSON


async def test_the_journal_on_nats_is_the_bus_stream_itself(nats_url: str) -> None:
    client = await connect_client(nats_url, name="journal-test", timeout=5)
    try:
        async with await NatsBus.connect(nats_url) as bus:
            first = await bus.publish("agent.started", {"task": "lint"}, source="linter")
            journal = await StreamJournal.open(bus, JetStreamContext(client))
            assert journal.last_id() == first.id
            assert journal.keep == 10_000  # the stream's bound
            second = await bus.publish("question.asked", {"id": "q1"}, source="linter")
            await journal.extend([second])  # stored already: only the newest id moves
            assert journal.last_id() == second.id

            assert await journal.read(after=0) == [first, second]
            assert await journal.read(after=0, pattern="question.>") == [second]
            assert await journal.read(after=first.id, limit=1) == [second]
            assert await journal.count() == 2
            await journal.close()
            with pytest.raises(RuntimeError, match="closed"):
                await journal.read()
    finally:
        await client.close()


# -- a question on any node ------------------------------------------------------------------


async def test_a_question_asked_on_one_node_is_known_at_once_on_another(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    for round in range(5):
        created = await ask(a, question=f"Ship build {round}?")
        assert created.status == 201
        qid = body(created)["id"]
        shown = await api(b).get(f"/api/questions/{qid}", headers=AUTH)  # no 404
        assert shown.status == 200, shown.body
        assert body(shown)["state"] == "pending"


async def test_a_node_whose_live_feed_lags_reads_the_stream_before_saying_not_found(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    bus_b = hub_of(b).bus
    assert isinstance(bus_b, NatsBus)
    live = bus_b._live  # b hears nothing live from now on, as if its feed were far behind
    assert live is not None
    await live.unsubscribe()
    bus_b._live = None  # (closing the bus unsubscribes no more)
    qid = body(await ask(a, id="Job-9"))["id"]
    assert qid not in hub_of(b).state.questions

    shown = await api(b).get(f"/api/questions/{qid}", headers=AUTH)
    assert shown.status == 200, shown.body
    answered = await answer(b, qid, "no")
    assert answered.status == 200, answered.body
    unknown = await api(b).get("/api/questions/nobody-asked-this", headers=AUTH)
    assert unknown.status == 404
    await eventually(lambda: hub_of(a).question(qid).answer == "no", "a folded b's answer")


async def test_ask_on_one_node_long_poll_on_a_second_answer_on_a_third(
    start_console: StartConsole,
) -> None:
    a, b, c = await start_console(), await start_console(), await start_console()
    qid = body(await ask(a))["id"]
    poll = asyncio.create_task(api(b).get(f"/api/questions/{qid}?wait=10", headers=AUTH))
    await eventually(lambda: hub_of(b).waiting == 1, "b's long poll is waiting")

    answered = await answer(c, qid, "yes")

    assert answered.status == 200, answered.body
    polled = await asyncio.wait_for(poll, 5)
    assert polled.status == 200
    assert body(polled)["state"] == "answered"
    assert body(polled)["answer"] == "yes"
    assert len(await the_stream_of(c, "question.answered")) == 1


async def the_stream_of(console: Console, pattern: str) -> list[Event]:
    return await hub_of(console).journal.read(after=0, limit=10_000, pattern=pattern)


async def test_two_people_answering_on_two_nodes_at_once_one_wins_the_other_gets_409(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    for round in range(ROUNDS):
        qid = body(await ask(a, question=f"Ship build {round}?"))["id"]
        await hub_of(b).wait(qid, 0)  # both nodes know it: the race starts level

        on_a, on_b = await asyncio.gather(answer(a, qid, "yes"), answer(b, qid, "no"))

        statuses = sorted([on_a.status, on_b.status])
        assert statuses == [200, 409], (round, on_a.body, on_b.body)
        winner, loser = (on_a, on_b) if on_a.status == 200 else (on_b, on_a)
        won = body(winner)["answer"]
        assert "already answered" in body(loser)["error"]
        assert repr(won) in body(loser)["error"]
        answered = await the_stream_of(a, "question.answered")
        assert [e.payload["answer"] for e in answered if e.payload["id"] == qid] == [won]
        for node in (a, b):
            await eventually(lambda n=node, q=qid: hub_of(n).question(q).closed, "folded")
            assert hub_of(node).question(qid).answer == won


async def test_an_answer_and_a_cancel_on_two_nodes_at_once_close_the_question_once(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    for round in range(5):
        qid = body(await ask(a, question=f"Deploy {round}?"))["id"]
        await hub_of(b).wait(qid, 0)
        answered, cancelled = await asyncio.gather(
            answer(a, qid, "yes"),
            api(b).request("DELETE", f"/api/questions/{qid}", headers=AUTH),
        )
        assert sorted([answered.status, cancelled.status]) == [200, 409]
        closings = [
            e
            for e in await the_stream_of(a, "question.>")
            if e.topic != "question.asked" and e.payload["id"] == qid
        ]
        assert len(closings) == 1


async def test_the_same_answer_given_on_two_nodes_is_accepted_once_and_returned_to_both(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    qid = body(await ask(a))["id"]
    await hub_of(b).wait(qid, 0)
    on_a, on_b = await asyncio.gather(answer(a, qid, "yes"), answer(b, qid, "yes"))
    assert (on_a.status, on_b.status) == (200, 200)
    assert body(on_a)["answer"] == body(on_b)["answer"] == "yes"
    assert len(await the_stream_of(a, "question.answered")) == 1


async def test_an_expired_question_is_expired_once_in_the_whole_cluster(
    start_console: StartConsole,
) -> None:
    a, b, c = await start_console(), await start_console(), await start_console()
    plain = body(await ask(a, question="Anyone?", timeout=0.5))["id"]
    defaulted = body(await ask(b, question="Default?", timeout=0.5, default="no"))["id"]

    for node in (a, b, c):
        await eventually(
            lambda node=node: all(hub_of(node).question(q).closed for q in (plain, defaulted)),
            "every node expired both",
        )
    expired = await the_stream_of(a, "question.expired")
    assert sorted(e.payload["id"] for e in expired) == sorted([plain, defaulted])
    assert hub_of(c).question(plain).state == "expired"
    assert hub_of(c).question(defaulted).answer == "no"
    assert hub_of(c).question(defaulted).defaulted


async def test_a_chosen_id_asked_on_two_nodes_at_once_is_one_question(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    for round in range(5):
        qid = f"Job-{round}"
        on_a, on_b = await asyncio.gather(ask(a, id=qid), ask(b, id=qid))
        assert sorted([on_a.status, on_b.status]) == [201, 409], (on_a.body, on_b.body)
        asked = [e for e in await the_stream_of(a, "question.asked") if e.payload["id"] == qid]
        assert len(asked) == 1


async def test_one_idempotency_key_on_two_nodes_at_once_asks_one_question(
    start_console: StartConsole,
) -> None:
    a, b = await start_console(), await start_console()
    for round in range(5):
        key = {"Idempotency-Key": f"ship-{round}", **AUTH}
        question = {"agent": "deployer", "question": f"Ship {round}?", "options": ["yes", "no"]}
        on_a, on_b = await asyncio.gather(
            api(a).post("/api/questions", json=question, headers=key),
            api(b).post("/api/questions", json=question, headers=key),
        )
        assert {on_a.status, on_b.status} <= {200, 201}, (on_a.body, on_b.body)
        assert body(on_a)["id"] == body(on_b)["id"]
    assert len(await the_stream_of(a, "question.asked")) == 5


# -- a node that died between its claim and its event ----------------------------------------


async def test_a_claim_whose_node_died_before_publishing_lapses_after_its_lease(
    start_console: StartConsole, nats_url: str
) -> None:
    a = await start_console()
    claims = hub_of(a).asking.claims
    assert isinstance(claims, NatsClaims)
    claims.lease = 0.5  # a short lease, so the test need not wait 30 s
    qid = body(await ask(a))["id"]
    dead = await connect_client(nats_url, name="dead-node", timeout=5)
    try:  # a node claims the answer "no", then dies before publishing it
        theirs = await NatsClaims.open(dead, bucket=claims.bucket, stream=claims.stream)
        assert await theirs.take(close_key(qid), "answered", "no", by="bob") is None
    finally:
        await dead.close()

    refused = await answer(a, qid, "yes")
    assert refused.status == 409
    assert "already answered 'no'" in body(refused)["error"]
    await asyncio.sleep(0.6)
    accepted = await answer(a, qid, "yes")
    assert accepted.status == 200, accepted.body
    assert hub_of(a).question(qid).answer == "yes"
    assert claims.taken_over == 1


async def test_claims_are_taken_once_and_a_stale_one_is_taken_over_once(nats_url: str) -> None:
    now = [1000.0]
    one = await connect_client(nats_url, name="one", timeout=5)
    two = await connect_client(nats_url, name="two", timeout=5)
    try:
        bucket = claims_bucket("TEST")
        mine = await NatsClaims.open(one, bucket=bucket, stream="TEST", clock=lambda: now[0])
        theirs = await NatsClaims.open(two, bucket=bucket, stream="TEST", clock=lambda: now[0])
        results = await asyncio.gather(
            mine.take("close.q1", "answered", "yes"), theirs.take("close.q1", "expired")
        )
        assert results.count(None) == 1
        assert ("answered", "yes") in results or ("expired", None) in results

        assert await mine.take("close.q2", "cancelled", by="ada") is None
        assert await theirs.take("close.q2", "answered", "no") == ("cancelled", None)
        now[0] += mine.lease + 1  # q2's claim is stale: its event never came
        again = await asyncio.gather(
            theirs.take("close.q2", "answered", "no"), mine.take("close.q2", "expired")
        )
        assert again.count(None) == 1
        assert theirs.taken_over + mine.taken_over == 1

        await theirs.drop("close.q3")  # nothing there: nothing happens
        assert await theirs.take("close.q3", "expired") is None
        await mine.drop("close.q3")  # not mine: left alone
        assert await mine.take("close.q3", "answered", 1) == ("expired", None)
        await theirs.drop("close.q3")  # mine: gone, so another may claim it at once
        assert await mine.take("close.q3", "answered", 1) is None
    finally:
        await one.close()
        await two.close()
    js_client = await connect_client(nats_url, name="check", timeout=5)
    try:
        kv = await JetStreamContext(js_client).key_value(claims_bucket("TEST"))
        assert (await kv.status()).bucket == claims_bucket("TEST")
    finally:
        await js_client.close()


# -- the demo swarm on one node --------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return tmp_path.resolve()


async def test_a_run_launched_on_any_node_reaches_the_swarm_node(
    start_console: StartConsole, project: Path
) -> None:
    swarm_node, other = await start_console(), await start_console()
    requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    feeding = asyncio.create_task(feed_launches(hub_of(swarm_node), requests))
    try:
        await asyncio.sleep(0.05)  # the follow has begun
        hub_of(other).launcher.root = project
        started = await hub_of(other).launch("src", "full")
        request = await asyncio.wait_for(requests.get(), 5)
        assert request["run_id"] == started["graph_id"]
        assert request["target"] == "src"
    finally:
        feeding.cancel()
