"""The hub: folds what the bus carries, answers questions at most once, expires them,
survives a restart, and follows the journal into the live feed without gaps.

Time: most tests use a fake clock and call `expire_due()`; the few that exercise the
expiry task use real timeouts of a few milliseconds and *await the outcome* (a long poll,
an event), bounded by `WAIT`. Nothing sleeps and then hopes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from parlour.bus import Event, InProcessBus
from parlour.console.errors import InvalidAnswer, InvalidRun, QuestionClosed, QuestionNotFound
from parlour.console.hub import Hub
from parlour.console.journal import Journal, MemoryJournal, SqliteJournal
from parlour.console.model import ConsoleState
from parlour.console.questions import Question, check_question

WAIT = 5.0  # seconds: the upper bound for anything that should happen promptly


class FakeClock:
    def __init__(self, now: float = 10_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bus(clock: FakeClock) -> AsyncIterator[InProcessBus]:
    async with InProcessBus(clock=clock) as bus:
        yield bus


@pytest.fixture
async def hub(bus: InProcessBus, clock: FakeClock) -> AsyncIterator[Hub]:
    hub = Hub(bus, MemoryJournal(), clock=clock)
    await hub.start()
    yield hub
    await hub.close()


async def until(predicate: Callable[[], bool], rounds: int = 1_000) -> None:
    """Let other tasks run until `predicate()` holds (bounded; no timers involved)."""
    for _ in range(rounds):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def topics(journal: Journal, prefix: str = "") -> list[str]:
    return [e.topic for e in await journal.read(limit=10_000) if e.topic.startswith(prefix)]


# -- publishing and folding ---------------------------------------------------------------------


async def test_publish_returns_the_bus_event_once_folded_and_journaled(hub: Hub) -> None:
    event = await hub.publish("agent.started", "deployer", {"task": "ship"})
    assert event.id == 1
    assert hub.last_id == 1
    assert hub.state.agents["deployer"].state == "running"
    assert await hub.journal.read() == [event]


async def test_events_published_by_others_on_the_bus_are_folded(
    hub: Hub, bus: InProcessBus
) -> None:
    seen = asyncio.Event()
    hub.listen(lambda changed: seen.set() if "services" in changed else None)
    await bus.publish("service.status", {"id": "db", "status": "Running"}, source="db")
    await asyncio.wait_for(seen.wait(), WAIT)
    assert hub.state.services["db"].status == "Running"


async def test_listeners_get_the_changed_parts_and_can_stop(hub: Hub) -> None:
    calls: list[frozenset[str]] = []

    def broken(changed: frozenset[str]) -> None:
        raise RuntimeError("a listener bug must not stop the hub")

    hub.listen(broken)
    stop = hub.listen(calls.append)
    await hub.publish("agent.completed", "a", {"summary": "ok"})
    await hub.publish("tool.call", "a", {"tool": "ls"})
    assert calls == [
        frozenset({"log", "agents", "results", "progress"}),
        frozenset({"log"}),
    ]
    stop()
    stop()  # idempotent
    await hub.publish("tool.call", "a")
    assert len(calls) == 2


async def test_publish_refuses_a_bad_topic(hub: Hub) -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        await hub.publish("agent..started")
    assert hub.last_id == 0


async def test_a_burst_the_subscription_dropped_is_recovered_from_history(
    bus: InProcessBus, clock: FakeClock
) -> None:
    hub = Hub(bus, MemoryJournal(), clock=clock, queue_size=2)
    await hub.start()
    for n in range(10):  # no await suspends here: the tiny queue drops most of these
        await bus.publish("log.info", {"n": n})
    await hub.publish("log.info", "last")
    assert hub.state.events_seen == 11
    assert [e.id for e in await hub.journal.read()] == list(range(1, 12))
    await hub.close()


async def test_events_per_second_over_the_last_ten_seconds(hub: Hub, clock: FakeClock) -> None:
    assert hub.events_per_second == 0.0
    for _ in range(20):
        await hub.publish("tool.call", "a")
    assert hub.events_per_second == 2.0
    clock.advance(5)
    assert hub.events_per_second == 2.0
    clock.advance(6)
    assert hub.events_per_second == 0.0


async def test_settings_are_validated_then_published(hub: Hub) -> None:
    assert await hub.set_setting("window", "0.2") == 0.2
    assert hub.state.settings.window == 0.2
    with pytest.raises(ValueError, match="log_length: expected a whole number"):
        await hub.set_setting("log_length", 5)
    assert await topics(hub.journal) == ["config.changed"]


async def test_clear_log_is_an_event(hub: Hub) -> None:
    await hub.publish("tool.call", "a")
    await hub.clear_log()
    assert list(hub.state.log) == []
    assert await topics(hub.journal) == ["tool.call", "log.cleared"]


async def test_the_hub_refuses_work_before_start_and_after_close(bus: InProcessBus) -> None:
    hub = Hub(bus, MemoryJournal())
    with pytest.raises(RuntimeError, match="before start"):
        await hub.publish("a.b")
    await hub.start()
    with pytest.raises(RuntimeError, match="twice"):
        await hub.start()
    await hub.close()
    await hub.close()  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        await hub.ask("a", "q?")
    assert not hub.running


# -- questions ----------------------------------------------------------------------------------


async def test_ask_publishes_a_pending_question_and_blocks_the_agent(
    hub: Hub, clock: FakeClock
) -> None:
    question = await hub.ask("deployer", "Ship 1.4?", options=["yes", "no"], timeout=60)
    assert question.state == "pending"
    assert question.options == ("yes", "no")
    assert question.expires == clock.now + 60
    assert len(question.id) == 12
    assert hub.state.questions[question.id] == question
    assert hub.state.agents["deployer"].state == "blocked"
    [asked] = await hub.journal.read()
    assert asked.topic == "question.asked"
    assert asked.source == "deployer"
    assert asked.payload == {
        "id": question.id,
        "agent": "deployer",
        "question": "Ship 1.4?",
        "options": ["yes", "no"],
        "timeout": 60.0,
        "expires": clock.now + 60,
    }


async def test_ask_uses_the_default_timeout(bus: InProcessBus, clock: FakeClock) -> None:
    hub = Hub(bus, MemoryJournal(), clock=clock, default_timeout=42)
    await hub.start()
    question = await hub.ask("a", "q?")
    assert question.expires == clock.now + 42
    await hub.close()


BAD_QUESTIONS: list[tuple[tuple[Any, ...], str]] = [
    (("", "q?", None, None), "agent: expected a non-empty string"),
    ((3, "q?", None, None), "agent: expected a non-empty string"),
    (("a", "  ", None, None), "question: expected the non-empty text"),
    (("a", "q?", [], None), "options: expected a non-empty list of distinct"),
    (("a", "q?", ["x", "x"], None), "options: expected a non-empty list of distinct"),
    (("a", "q?", ["x", ""], None), "options: expected a non-empty list of distinct"),
    (("a", "q?", "yes", None), "options: expected a non-empty list of distinct"),
    (("a", "q?", None, 0), "timeout: expected seconds > 0 and at most 86400"),
    (("a", "q?", None, 86_401), "timeout: expected seconds > 0 and at most 86400"),
    (("a", "q?", None, "10"), "timeout: expected seconds > 0 and at most 86400"),
    (("a", "q?", None, float("inf")), "timeout: expected seconds > 0 and at most 86400"),
]


@pytest.mark.parametrize(("args", "message"), BAD_QUESTIONS)
def test_question_arguments_are_checked_naming_the_field(
    args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_question(*args, default_timeout=300)


async def test_concurrent_different_answers_one_wins(hub: Hub) -> None:
    question = await hub.ask("a", "Colour?", options=["red", "blue"])
    results = await asyncio.gather(
        hub.answer(question.id, "red"), hub.answer(question.id, "blue"), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Question)]
    losers = [r for r in results if isinstance(r, QuestionClosed)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert winners[0].answer == "red"
    assert hub.state.questions[question.id].answer == "red"
    assert await topics(hub.journal, "question.answered") == ["question.answered"]


async def test_concurrent_same_answers_are_idempotent(hub: Hub) -> None:
    question = await hub.ask("a", "Go?")
    results = await asyncio.gather(*(hub.answer(question.id, "go") for _ in range(5)))
    assert {r.answer for r in results} == {"go"}
    assert {r.state for r in results} == {"answered"}
    assert await topics(hub.journal, "question.answered") == ["question.answered"]


async def test_the_same_answer_again_returns_the_question_and_publishes_nothing(hub: Hub) -> None:
    question = await hub.ask("a", "Go?", options=["yes", "no"])
    first = await hub.answer(question.id, "yes")
    count = len(await hub.journal.read())
    again = await hub.answer(question.id, "yes")
    assert again == first
    assert again.state == "answered"
    assert len(await hub.journal.read()) == count
    with pytest.raises(QuestionClosed, match="already answered 'yes'"):
        await hub.answer(question.id, "no")
    assert hub.state.agents["a"].state == "running"


@pytest.mark.parametrize(
    ("options", "answer", "message"),
    [
        (None, "", "answer: expected a non-empty string"),
        (None, "  \n", "answer: expected a non-empty string"),
        (None, 5, "answer: expected a non-empty string"),
        (["yes", "no"], "maybe", r"answer: expected one of \['yes', 'no'\], got 'maybe'"),
    ],
)
async def test_invalid_answers_are_refused(
    hub: Hub, options: list[str] | None, answer: Any, message: str
) -> None:
    question = await hub.ask("a", "q?", options=options)
    with pytest.raises(InvalidAnswer, match=message):
        await hub.answer(question.id, answer)
    assert hub.state.questions[question.id].state == "pending"


async def test_unknown_questions_are_not_found(hub: Hub) -> None:
    with pytest.raises(QuestionNotFound, match="no question with id 'nope'"):
        await hub.answer("nope", "x")
    with pytest.raises(QuestionNotFound):
        await hub.wait("nope", 1)


async def test_an_answer_wakes_a_long_poll(hub: Hub) -> None:
    question = await hub.ask("a", "q?")
    poll = asyncio.create_task(hub.wait(question.id, WAIT))
    await until(lambda: hub.waiting == 1)
    await hub.answer(question.id, "done")
    woken = await asyncio.wait_for(poll, WAIT)
    assert (woken.state, woken.answer) == ("answered", "done")
    assert hub.waiting == 0
    # a closed question returns at once
    assert (await hub.wait(question.id, 60)).answer == "done"


async def test_a_long_poll_that_times_out_returns_the_pending_question(hub: Hub) -> None:
    question = await hub.ask("a", "q?")  # fake clock: it cannot expire meanwhile
    assert (await hub.wait(question.id, 0.01)).state == "pending"
    assert (await hub.wait(question.id, 0)).state == "pending"
    assert hub.waiting == 0


async def test_expiry_marks_wakes_and_publishes(hub: Hub, clock: FakeClock) -> None:
    question = await hub.ask("a", "q?", timeout=10)
    later = await hub.ask("b", "q?", timeout=30)
    poll = asyncio.create_task(hub.wait(question.id, WAIT))
    await until(lambda: hub.waiting == 1)
    clock.advance(9.5)
    assert await hub.expire_due() == []
    clock.advance(0.5)
    [expired] = await hub.expire_due()
    assert expired.id == question.id
    assert expired.state == "expired"
    assert (await asyncio.wait_for(poll, WAIT)).state == "expired"
    assert hub.state.questions[later.id].state == "pending"
    assert hub.state.agents["a"].state == "running"
    assert await topics(hub.journal, "question.expired") == ["question.expired"]
    with pytest.raises(QuestionClosed, match="expired"):
        await hub.answer(question.id, "too late")


async def test_the_expiry_task_expires_questions_on_real_time() -> None:
    async with InProcessBus() as bus:
        hub = Hub(bus, MemoryJournal())
        await hub.start()
        question = await hub.ask("a", "quick?", timeout=0.05)
        asked_id = hub.last_id
        closed = await hub.wait(question.id, WAIT)  # woken by the expiry task
        assert closed.state == "expired"
        feed = hub.follow(asked_id)  # the event follows the change: await it, don't hope
        expired = await asyncio.wait_for(anext(feed), WAIT)
        assert (expired.topic, expired.payload) == ("question.expired", {"id": question.id})
        await feed.aclose()
        await hub.close()


async def test_close_ends_long_polls_with_the_question_as_it_is(
    bus: InProcessBus, clock: FakeClock
) -> None:
    hub = Hub(bus, MemoryJournal(), clock=clock)
    await hub.start()
    question = await hub.ask("a", "q?")
    poll = asyncio.create_task(hub.wait(question.id, 60))
    await until(lambda: hub.waiting == 1)
    await hub.close()
    assert (await asyncio.wait_for(poll, WAIT)).state == "pending"


# -- one writer: the fold ----------------------------------------------------------------------


async def test_the_journal_alone_rebuilds_every_question(hub: Hub, clock: FakeClock) -> None:
    pending = await hub.ask("a", "Still open?", timeout=100)
    answered = await hub.ask("b", "Which?", options=["x", "y"])
    expired = await hub.ask("c", "Anyone?", timeout=10)
    refused = await hub.ask("d", "Free text?")
    await hub.answer(answered.id, "y")
    with pytest.raises(InvalidAnswer):
        await hub.answer(refused.id, "  ")
    clock.advance(10)
    await hub.expire_due()

    rebuilt = ConsoleState()
    for event in await hub.journal.read(limit=10_000):
        rebuilt.fold(event)
    assert rebuilt.questions == hub.state.questions
    assert {q.id: (q.state, q.answer) for q in rebuilt.questions.values()} == {
        pending.id: ("pending", None),
        answered.id: ("answered", "y"),
        expired.id: ("expired", None),
        refused.id: ("pending", None),
    }
    assert rebuilt.snapshot() == hub.state.snapshot()


async def test_a_closing_published_by_someone_else_is_folded_like_the_hubs_own(
    hub: Hub, bus: InProcessBus
) -> None:
    question = await hub.ask("a", "Ship it?", options=["yes", "no"])
    poll = asyncio.create_task(hub.wait(question.id, WAIT))
    await until(lambda: hub.waiting == 1)
    # Not an answer this question can take: logged, and the question stays pending.
    await bus.publish("question.answered", {"id": question.id, "answer": "maybe"}, source="x")
    await bus.publish("question.answered", {"id": question.id, "answer": "no"}, source="x")
    woken = await asyncio.wait_for(poll, WAIT)
    assert (woken.state, woken.answer) == ("answered", "no")
    assert hub.state.agents["a"].state == "running"
    with pytest.raises(QuestionClosed, match="already answered 'no'"):
        await hub.answer(question.id, "yes")
    assert (await hub.answer(question.id, "no")) == woken
    assert await topics(hub.journal, "question.answered") == ["question.answered"] * 2


async def test_an_answer_the_bus_could_not_carry_leaves_the_question_open(
    hub: Hub, bus: InProcessBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = await hub.ask("a", "Ship it?", options=["yes", "no"])

    async def unreachable(*args: Any, **kwargs: Any) -> Event:
        raise ConnectionError("the bus is down")

    with monkeypatch.context() as patched:
        patched.setattr(bus, "publish", unreachable)
        with pytest.raises(ConnectionError):
            await hub.answer(question.id, "yes")
    assert hub.state.questions[question.id].state == "pending"
    assert (await hub.answer(question.id, "no")).answer == "no"


async def test_two_hubs_on_one_bus_agree_on_the_one_answer(
    hub: Hub, bus: InProcessBus, clock: FakeClock
) -> None:
    other = Hub(bus, MemoryJournal(), clock=clock)  # another console process on the bus
    await other.start()
    question = await hub.ask("a", "Colour?", options=["red", "blue"])
    await until(lambda: question.id in other.state.questions)
    results = await asyncio.gather(
        hub.answer(question.id, "red"), other.answer(question.id, "blue"), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Question)]
    losers = [r for r in results if isinstance(r, QuestionClosed)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert "already answered" in str(losers[0])
    await until(lambda: other.last_id == hub.last_id)
    assert hub.state.questions[question.id] == other.state.questions[question.id] == winners[0]
    await other.close()


# -- restart ------------------------------------------------------------------------------------


async def test_a_restart_restores_pending_questions_from_the_journal(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "console.sqlite"
    journal = SqliteJournal(path)
    bus = InProcessBus(clock=clock, first_id=journal.last_id() + 1)
    hub = Hub(bus, journal, clock=clock)
    await hub.start()
    await hub.publish("run.started", "swarm", {"total": 2})
    await hub.publish("agent.completed", "c", {"summary": "done"})
    long = await hub.ask("a", "Long?", timeout=100)
    short = await hub.ask("b", "Short?", timeout=10)
    answered = await hub.ask("c", "Answered?", options=["x", "y"])
    await hub.answer(answered.id, "y")
    before = hub.state.snapshot()
    last = hub.last_id
    await hub.close()
    await bus.close()

    clock.advance(50)  # the console was down for 50 s: `short` is past due, `long` is not
    journal = SqliteJournal(path)
    assert journal.last_id() == last
    bus = InProcessBus(clock=clock, first_id=journal.last_id() + 1)
    hub = Hub(bus, journal, clock=clock)
    await hub.start()
    assert hub.state.questions[long.id] == long  # same absolute deadline
    assert hub.state.questions[short.id].state == "expired"
    assert hub.state.questions[answered.id].answer == "y"
    assert hub.state.progress.text == before["progress"]["text"]
    assert hub.state.agents["a"].state == "blocked"
    assert hub.state.agents["b"].state == "running"
    [expired] = await hub.journal.read(after=last)
    assert (expired.id, expired.topic, expired.payload) == (
        last + 1,
        "question.expired",
        {"id": short.id},
    )
    # and the long one still works, and still expires by its original deadline
    poll = asyncio.create_task(hub.wait(long.id, WAIT))
    await until(lambda: hub.waiting == 1)
    clock.advance(50)
    assert [q.id for q in await hub.expire_due()] == [long.id]
    assert (await asyncio.wait_for(poll, WAIT)).state == "expired"
    await hub.close()
    await bus.close()


async def test_start_refuses_a_bus_whose_ids_collide_with_the_journal() -> None:
    journal = MemoryJournal()
    await journal.append(Event(id=7, topic="log.info", time=1.0))
    async with InProcessBus() as bus:
        hub = Hub(bus, journal)
        with pytest.raises(ValueError, match=r"InProcessBus\(first_id=journal.last_id\(\) \+ 1\)"):
            await hub.start()
    async with InProcessBus(first_id=8) as bus:
        hub = Hub(bus, journal)
        await hub.start()
        assert hub.state.events_seen == 1
        assert (await hub.publish("log.info")).id == 8
        await hub.close()


async def test_start_catches_up_with_events_already_on_the_bus(
    bus: InProcessBus, clock: FakeClock
) -> None:
    early = await bus.publish("agent.started", {"task": "t"}, source="early")
    hub = Hub(bus, MemoryJournal(), clock=clock)
    await hub.start()
    assert hub.state.agents["early"].state == "running"
    assert await hub.journal.read() == [early]
    await hub.close()


# -- follow -------------------------------------------------------------------------------------


async def test_follow_reads_the_journal_then_live_events_without_gaps(hub: Hub) -> None:
    for n in range(3):
        await hub.publish("log.info", "w", n)
    feed = hub.follow(0)
    got = [await asyncio.wait_for(anext(feed), WAIT) for _ in range(3)]
    for n in range(3, 6):
        await hub.publish("log.info", "w", n)
    got += [await asyncio.wait_for(anext(feed), WAIT) for _ in range(3)]
    assert [e.id for e in got] == [1, 2, 3, 4, 5, 6]
    assert [e.payload for e in got] == [0, 1, 2, 3, 4, 5]
    await feed.aclose()


async def test_follow_filters_by_pattern_and_starts_after_the_cursor(hub: Hub) -> None:
    await hub.publish("tool.call", "a")
    await hub.publish("agent.started", "a")
    feed = hub.follow(1, pattern="agent.*")
    first = await asyncio.wait_for(anext(feed), WAIT)
    await hub.publish("tool.call", "a")
    await hub.publish("agent.completed", "a")
    second = await asyncio.wait_for(anext(feed), WAIT)
    assert [(e.id, e.topic) for e in (first, second)] == [
        (2, "agent.started"),
        (4, "agent.completed"),
    ]
    await feed.aclose()


async def test_a_follower_far_behind_catches_up_from_the_journal(hub: Hub) -> None:
    await hub.publish("log.info", "w", 0)
    feed = hub.follow(0)
    assert (await asyncio.wait_for(anext(feed), WAIT)).id == 1  # registered, now live
    for n in range(1, 1_500):  # more than the follower's queue holds
        await hub.publish("log.info", "w", n)
    ids = [(await asyncio.wait_for(anext(feed), WAIT)).id for _ in range(1_499)]
    assert ids == list(range(2, 1_501))
    await feed.aclose()


async def test_follow_with_idle_yields_heartbeats_and_ends_when_the_hub_closes(
    bus: InProcessBus, clock: FakeClock
) -> None:
    hub = Hub(bus, MemoryJournal(), clock=clock)
    await hub.start()
    feed = hub.follow(0, idle=0.01)
    assert await asyncio.wait_for(anext(feed), WAIT) is None  # nothing happened: a heartbeat
    event = await hub.publish("log.info")
    item = await asyncio.wait_for(anext(feed), WAIT)
    while item is None:  # a heartbeat may come first; bounded by the feed's own events
        item = await asyncio.wait_for(anext(feed), WAIT)
    assert item == event
    await hub.close()
    rest: list[Event | None] = []
    for _ in range(100):  # the feed ends (at most a heartbeat or two before it sees the close)
        try:
            rest.append(await asyncio.wait_for(anext(feed), WAIT))
        except StopAsyncIteration:
            break
    else:
        raise AssertionError("the feed did not end when the hub closed")
    assert set(rest) <= {None}


def test_follow_refuses_a_bad_cursor(hub: Hub) -> None:
    with pytest.raises(ValueError, match="expected an event id >= 0"):
        hub.follow(-1)
    with pytest.raises(ValueError, match="invalid pattern"):
        hub.follow(0, pattern="a.>.b")


async def test_repr_says_what_matters(hub: Hub) -> None:
    await hub.publish("agent.started", "a")
    text = repr(hub)
    assert "running" in text
    assert "last_id=1" in text
    assert "memory" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default_timeout": 0}, r"Hub\(default_timeout=0\): expected seconds > 0"),
        ({"default_timeout": 90_000}, r"at most 86400 \(one day\)"),
        ({"default_timeout": True}, "expected seconds > 0"),
        ({"queue_size": 0}, r"Hub\(queue_size=0\): expected a whole number >= 1"),
    ],
)
def test_hub_arguments_are_checked(bus: InProcessBus, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Hub(bus, MemoryJournal(), **kwargs)


# -- launching runs (R20) -----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "README.md").write_text("hello")
    (tmp_path / "outside").mkdir()
    return root


@pytest.fixture
async def launcher(bus: InProcessBus, clock: FakeClock, project: Path) -> AsyncIterator[Hub]:
    bundles = {"review": ["linter", "reviewer", "test-runner"], "release": ["planner", "scribe"]}
    hub = Hub(bus, MemoryJournal(), clock=clock, bundles=bundles, root=project)
    await hub.start()
    yield hub
    await hub.close()


async def test_launch_publishes_the_request_and_the_start_and_returns_the_run(
    launcher: Hub,
) -> None:
    requests: list[dict[str, Any]] = []
    launcher.on_launch(requests.append)
    started = await launcher.launch("src/pkg")
    assert started == {"graph_id": started["graph_id"], "status": "started", "node_count": 3}
    run_id = started["graph_id"]
    assert isinstance(run_id, str)
    assert run_id
    # The default bundle is the first configured; the run shows in progress at once.
    progress = launcher.state.progress
    assert (progress.state, progress.total, progress.name) == ("running", 3, "src/pkg")
    assert launcher.state.recent_targets == ["src/pkg"]
    topics = [entry.topic for entry in reversed(launcher.state.log)]
    assert topics == ["run.requested", "run.started"]
    assert requests == [
        {
            "run_id": run_id,
            "target": "src/pkg",
            "bundle": "review",
            "agents": ["linter", "reviewer", "test-runner"],
        }
    ]


async def test_launch_takes_a_named_bundle_and_normalises_the_target(
    launcher: Hub, project: Path
) -> None:
    started = await launcher.launch(str(project / "src" / ".." / "README.md"), "release")
    assert started["node_count"] == 2
    assert launcher.state.progress.name == "README.md"
    await launcher.launch("./src/")
    await launcher.launch(".")
    assert launcher.state.recent_targets == [".", "src", "README.md"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "target: expected a path inside the project, got ''"),
        ("   ", "target: expected a path inside the project, got '   '"),
        (None, "target: expected a path inside the project, got None"),
        ("../outside", "target: '../outside' is outside the project ("),
        ("src/../../outside", "target: 'src/../../outside' is outside the project ("),
        ("nope", "target: 'nope' does not exist in the project"),
        ("src/pkg/missing.py", "target: 'src/pkg/missing.py' does not exist in the project"),
    ],
)
async def test_launch_refuses_a_bad_target(launcher: Hub, target: Any, message: str) -> None:
    with pytest.raises(InvalidRun) as caught:
        await launcher.launch(target)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)
    assert launcher.state.log == deque()  # nothing published
    assert launcher.state.progress.state == "idle"


async def test_launch_refuses_an_absolute_path_outside_the_project(
    launcher: Hub, project: Path
) -> None:
    outside = str(project.parent / "outside")
    with pytest.raises(InvalidRun) as caught:
        await launcher.launch(outside)
    assert str(caught.value) == f"target: {outside!r} is outside the project ({launcher.root})"
    assert launcher.root.name == "project"


async def test_launch_refuses_a_symlink_out_of_the_project(launcher: Hub, project: Path) -> None:
    (project / "escape").symlink_to(project.parent / "outside")
    with pytest.raises(InvalidRun, match="'escape' is outside the project"):
        await launcher.launch("escape")


async def test_launch_refuses_an_unknown_bundle_naming_the_known_ones(launcher: Hub) -> None:
    with pytest.raises(InvalidRun) as caught:
        await launcher.launch("src", "nightly")
    assert str(caught.value) == (
        "bundle: unknown bundle 'nightly'; expected one of 'review', 'release'"
    )
    assert launcher.state.log == deque()


async def test_the_default_bundles_and_root(bus: InProcessBus) -> None:
    hub = Hub(bus, MemoryJournal())
    assert hub.root == Path.cwd().resolve()
    assert list(hub.bundles) == ["full", "review", "release"]
    assert hub.default_bundle == "full"
    assert len(hub.bundles["full"]) == 12


@pytest.mark.parametrize(
    "bundles", [{}, {"x": []}, {"x": "linter"}, {"": ["a"]}, {"x": ["a", ""]}, ["x"]]
)
def test_malformed_bundles_are_refused(bus: InProcessBus, bundles: Any) -> None:
    with pytest.raises(ValueError, match="bundle"):
        Hub(bus, MemoryJournal(), bundles=bundles)


async def test_recent_targets_survive_a_restart_through_the_journal(
    tmp_path: Path, project: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    journal = SqliteJournal(path)
    async with InProcessBus(first_id=journal.last_id() + 1) as bus:
        hub = Hub(bus, journal, root=project)
        await hub.start()
        for target in ("src", "README.md", "src"):
            await hub.launch(target)
        await hub.close()
    journal = SqliteJournal(path)
    async with InProcessBus(first_id=journal.last_id() + 1) as bus:
        again = Hub(bus, journal, root=project)
        await again.start()
        assert again.state.recent_targets == ["src", "README.md"]
        await again.close()


async def test_a_failing_launch_listener_does_not_fail_the_launch(launcher: Hub) -> None:
    def broken(request: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    seen: list[str] = []
    launcher.on_launch(broken)
    stop = launcher.on_launch(lambda request: seen.append(request["target"]))
    assert (await launcher.launch("src"))["status"] == "started"
    stop()
    await launcher.launch("src")
    assert seen == ["src"]
