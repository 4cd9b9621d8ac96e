"""The simulated swarm: runs, terminal states, questions, determinism, stopping, no leaks.

Every test drives `run_swarm` against `FakeHub`, which records what is published and
answers (or expires, or never answers) questions. Most run with `pace=0`, so a run takes
milliseconds; waits are bounded with `asyncio.wait_for`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from parlour.bus import Event
from parlour.console.demo import (
    AGENT_NAMES,
    SERVICE_IDS,
    SwarmHub,
    agent_names,
    run_swarm,
)
from parlour.console.launcher import DEFAULT_BUNDLES

WAIT = 5.0  # seconds; upper bound for anything that should finish quickly
TERMINAL = {"agent.completed", "agent.failed", "agent.skipped", "agent.cancelled"}
STATUSES = {"Running", "Conflict", "In Use", "Stale", "Stopped", "Standby"}

type Entry = tuple[str, str, Any]  # (topic, source, payload)
type Mode = Literal["answer", "expire", "never"]


@dataclass
class FakeQuestion:
    id: str
    agent: str
    text: str
    options: list[str] | None
    timeout: float | None
    state: str = "pending"
    answer: str | None = None


class FakeHub:
    """Records publishes; `mode` says what `wait` does with a question.

    answer: answers at once (the last option, or "main" for free text);
    expire: expires it at once; never: sleeps out the timeout and leaves it pending.
    `on_publish` runs after each publish (tests use it to set `stop`).
    """

    def __init__(
        self, mode: Mode = "answer", on_publish: Callable[[Entry], None] | None = None
    ) -> None:
        self.mode = mode
        self.on_publish = on_publish
        self.log: list[Entry] = []
        self.questions: dict[str, FakeQuestion] = {}
        self.waits = 0
        self.asked = asyncio.Event()  # set by the first question

    async def publish(self, topic: str, source: str, payload: Any) -> Event:
        entry = (topic, source, payload)
        self.log.append(entry)
        if self.on_publish is not None:
            self.on_publish(entry)
        return Event(id=len(self.log), topic=topic, time=0.0, source=source, payload=payload)

    async def ask(
        self,
        agent: str,
        question: str,
        options: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> FakeQuestion:
        qid = f"q{len(self.questions) + 1}"
        opts = list(options) if options is not None else None
        q = FakeQuestion(qid, agent, question, opts, timeout)
        self.questions[qid] = q
        self.asked.set()
        self.log.append(("question.asked", agent, {"id": qid, "question": question}))
        return q

    async def wait(self, qid: str, timeout: float) -> FakeQuestion:
        self.waits += 1
        q = self.questions[qid]
        if q.state != "pending":
            return q
        if self.mode == "answer":
            q.state, q.answer = "answered", (q.options[-1] if q.options else "main")
            self.log.append(("question.answered", q.agent, {"id": qid, "answer": q.answer}))
        elif self.mode == "expire":
            q.state = "expired"
            self.log.append(("question.expired", q.agent, {"id": qid}))
        else:
            await asyncio.sleep(timeout)
        return q


def test_the_fake_hub_fits_the_protocol() -> None:
    hub: SwarmHub = FakeHub()  # checked by pyright; here: it constructs
    assert hub is not None


# -- helpers ----------------------------------------------------------------------------------


def runs(log: list[Entry]) -> list[list[Entry]]:
    """The log cut at each run.started, without service events (they come at any time)."""
    out: list[list[Entry]] = []
    for entry in log:
        if entry[0] == "run.started":
            out.append([])
        if out and entry[0] != "service.status":
            out[-1].append(entry)
    return out


def agent_topics(run: list[Entry], name: str) -> list[str]:
    return [t for t, s, _ in run if s == name and t.startswith("agent.")]


def check_run(run: list[Entry], names: list[str]) -> None:
    """The invariants of one run: total, one terminal state per agent, the run's end last."""
    topic, source, payload = run[0]
    assert (topic, source) == ("run.started", "swarm")
    assert payload["total"] == len(names)
    assert run[-1][0] in {"run.completed", "run.failed"}
    assert [t for t, _, _ in run].count(run[-1][0]) == 1
    for name in names:
        topics = agent_topics(run, name)
        assert topics[0] == "agent.pending", (name, topics)
        assert sum(t in TERMINAL for t in topics) == 1, (name, topics)
        assert topics[-1] in TERMINAL, (name, topics)
        if topics[-1] not in {"agent.skipped", "agent.cancelled"}:
            assert topics[1] == "agent.started", (name, topics)
    assert {s for t, s, _ in run if t.startswith("agent.")} == set(names)


async def swarm(hub: FakeHub, **options: Any) -> None:
    options = {"agents": 12, "seed": 1, "pace": 0.0, "rounds": 1} | options
    await asyncio.wait_for(run_swarm(hub, **options), WAIT)


def other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


# -- runs -------------------------------------------------------------------------------------


async def test_a_run_announces_its_total_and_ends_last() -> None:
    hub = FakeHub()
    await swarm(hub)
    (run,) = runs(hub.log)
    check_run(run, agent_names(12))
    assert run[0][2]["name"].endswith("#1")
    assert hub.log[-1] == run[-1]


@pytest.mark.parametrize("seed", range(6))
async def test_every_agent_ends_in_one_terminal_state_per_run(seed: int) -> None:
    hub = FakeHub()
    await swarm(hub, seed=seed, agents=20, rounds=3)
    all_runs = runs(hub.log)
    assert len(all_runs) == 3
    for number, run in enumerate(all_runs, 1):
        assert run[0][2]["run"] == number
        check_run(run, agent_names(20))


async def test_completed_failed_and_skipped_all_happen_and_are_counted() -> None:
    hub = FakeHub()
    await swarm(hub, seed=3, agents=40, rounds=3)
    seen = {t for t, _, _ in hub.log if t in TERMINAL}
    assert seen == {"agent.completed", "agent.failed", "agent.skipped"}
    for run in runs(hub.log):
        topic, _, payload = run[-1]
        finals = [t.removeprefix("agent.") for t, _, _ in run if t in TERMINAL]
        assert topic == "run.completed"  # ~10% fail: never more than half of 40
        assert payload == {s: finals.count(s) for s in ("completed", "failed", "skipped")}


async def test_noise_payloads() -> None:
    hub = FakeHub()
    await swarm(hub, seed=2, agents=16, rounds=2)
    calls = [p for t, _, p in hub.log if t == "tool.call"]
    replies = [p for t, _, p in hub.log if t == "model.reply"]
    assert calls
    assert replies
    assert all(isinstance(c["tool"], str) and isinstance(c["args"], dict) for c in calls)
    assert all(isinstance(r["tokens"], int) and r["tokens"] > 0 for r in replies)


async def test_more_than_half_failed_makes_the_run_fail() -> None:
    # A hub that cannot publish progress: the agents raise, and the run counts them failed.
    class Broken(FakeHub):
        async def publish(self, topic: str, source: str, payload: Any) -> Event:
            if topic == "agent.progress":
                raise RuntimeError("bus down")
            return await super().publish(topic, source, payload)

    hub = Broken()
    await swarm(hub, seed=4, agents=12)
    (run,) = runs(hub.log)
    check_run(run, agent_names(12))
    topic, _, payload = run[-1]
    assert topic == "run.failed"
    assert payload["error"] == f"{payload['failed']} of 12 agents failed"
    crashed = [p for t, _, p in run if t == "agent.failed" and "crashed" in p["error"]]
    assert crashed
    assert all("bus down" in p["error"] for p in crashed)


async def test_rounds_zero_publishes_only_the_services() -> None:
    hub = FakeHub()
    await swarm(hub, rounds=0)
    assert {t for t, _, _ in hub.log} == {"service.status"}


# -- questions --------------------------------------------------------------------------------


def questions_in(log: list[Entry]) -> list[tuple[int, str, str]]:
    """(index in log, agent, question id) of each question asked."""
    return [(i, s, p["id"]) for i, (t, s, p) in enumerate(log) if t == "question.asked"]


async def test_questions_are_awaited_and_the_agent_carries_on() -> None:
    hub = FakeHub("answer")
    await swarm(hub, seed=5, agents=32, rounds=4)
    asked = questions_in(hub.log)
    assert len(asked) >= 3  # about one task in six asks
    assert hub.waits >= len(asked)
    with_options = [q for q in hub.questions.values() if q.options]
    free_text = [q for q in hub.questions.values() if not q.options]
    assert with_options
    assert free_text
    held_back = 0
    for index, agent, qid in asked:
        q = hub.questions[qid]
        assert q.state == "answered"
        assert q.timeout == 120.0
        later = hub.log[index + 1 :]
        answered_at = later.index(("question.answered", agent, {"id": qid, "answer": q.answer}))
        # Blocked until answered: nothing from the agent between the question and its answer.
        assert all(s != agent for _, s, _ in later[:answered_at])
        after = [(t, p) for t, s, p in later[answered_at:] if s == agent]
        assert after[1] == ("agent.progress", {"message": f"answer: {q.answer!r}"})
        terminal, payload = next((t, p) for t, p in after if t in TERMINAL)
        if terminal == "agent.completed":
            assert repr(q.answer) in payload["summary"]
            if q.answer == "no":  # the operator declined: the work is held back
                held_back += 1
                assert "held back" in payload["summary"]
        else:  # a later step may still fail, for its own reasons
            assert terminal == "agent.failed"
            assert not payload["error"].startswith("no answer")
    assert held_back
    for run in runs(hub.log):
        check_run(run, agent_names(32))


async def test_expired_questions_never_raise_and_end_in_failure_or_a_default() -> None:
    hub = FakeHub("expire")
    await swarm(hub, seed=5, agents=32, rounds=2)
    asked = questions_in(hub.log)
    assert len(asked) >= 3
    outcomes: set[str] = set()
    for index, agent, qid in asked:
        assert hub.questions[qid].state == "expired"
        after = [(t, p) for t, s, p in hub.log[index + 1 :] if s == agent]
        assert after[0] == ("question.expired", {"id": qid})
        topic, payload = after[1]
        if topic == "agent.failed":
            assert payload["error"].startswith("no answer to ")
            outcomes.add("failed")
        else:
            assert topic == "agent.progress"
            assert "; going with " in payload["message"]
            assert any(t in TERMINAL for t, _ in after[2:])
            outcomes.add("default")
    assert outcomes == {"failed", "default"}
    for run in runs(hub.log):
        check_run(run, agent_names(32))


async def test_a_question_still_pending_at_the_deadline_counts_as_expired() -> None:
    hub = FakeHub("never")
    await swarm(hub, seed=5, agents=32, rounds=1, question_timeout=0.05)
    asked = questions_in(hub.log)
    assert asked
    assert all(q.state == "pending" for q in hub.questions.values())  # the hub never closed it
    (run,) = runs(hub.log)
    check_run(run, agent_names(32))
    for index, agent, _ in asked:
        topic, payload = next((t, p) for t, s, p in hub.log[index + 1 :] if s == agent)
        if topic == "agent.failed":
            assert payload["error"].startswith("no answer to ")
        else:
            assert topic == "agent.progress"
            assert "; going with " in payload["message"]


async def test_a_hub_that_cannot_ask_fails_only_that_agent() -> None:
    class NoQuestions(FakeHub):
        async def ask(
            self,
            agent: str,
            question: str,
            options: Sequence[str] | None = None,
            timeout: float | None = None,
        ) -> FakeQuestion:
            raise ConnectionError("hub gone")

    hub = NoQuestions()
    await swarm(hub, seed=5, agents=32, rounds=2)
    errors = [p["error"] for t, _, p in hub.log if t == "agent.failed"]
    assert "could not get an answer: hub gone" in errors
    for run in runs(hub.log):
        check_run(run, agent_names(32))


# -- determinism ------------------------------------------------------------------------------


async def test_the_same_seed_gives_the_same_events() -> None:
    first, second, other = FakeHub(), FakeHub(), FakeHub()
    await swarm(first, seed=42, rounds=2)
    await swarm(second, seed=42, rounds=2)
    await swarm(other, seed=43, rounds=2)
    assert first.log == second.log
    assert first.log != other.log


async def test_what_each_agent_says_does_not_depend_on_the_pace() -> None:
    def by_agent(log: list[Entry]) -> dict[str, list[Entry]]:
        out: dict[str, list[Entry]] = {}
        for entry in log:
            if entry[1] in AGENT_NAMES and not entry[0].startswith("question."):  # ids vary
                out.setdefault(entry[1], []).append(entry)
        return out

    fast, paced = FakeHub(), FakeHub()
    await swarm(fast, seed=9, rounds=2)
    await swarm(paced, seed=9, rounds=2, pace=0.002)
    assert by_agent(fast.log) == by_agent(paced.log)


# -- services ---------------------------------------------------------------------------------


async def test_services_report_their_status() -> None:
    hub = FakeHub()
    await swarm(hub, seed=8, rounds=30)
    statuses = [(s, p) for t, s, p in hub.log if t == "service.status"]
    assert len(statuses) == len(SERVICE_IDS) + 30  # each announced, then one change per run
    assert [s for s, _ in statuses[: len(SERVICE_IDS)]] == list(SERVICE_IDS)
    keys = {"id", "name", "port", "status", "description", "action", "message"}
    for source, payload in statuses:
        assert set(payload) == keys
        assert payload["id"] == source
        assert payload["status"] in STATUSES
        assert payload["message"]
        assert payload["port"] is None or isinstance(payload["port"], int)
    assert len({p["status"] for _, p in statuses}) > 1  # they do change


async def test_services_change_on_a_timer_when_paced() -> None:
    changed = asyncio.Event()

    def count(entry: Entry) -> None:
        if sum(t == "service.status" for t, _, _ in hub.log) >= len(SERVICE_IDS) + 3:
            changed.set()

    hub = FakeHub(on_publish=count)
    stop = asyncio.Event()
    task = asyncio.create_task(run_swarm(hub, seed=1, pace=0.002, stop=stop))

    await asyncio.wait_for(changed.wait(), WAIT)
    stop.set()
    await asyncio.wait_for(task, WAIT)


# -- names and arguments ----------------------------------------------------------------------


def test_agent_names_are_stable_and_unique() -> None:
    assert agent_names(12) == list(AGENT_NAMES[:12])
    assert agent_names(3) == ["planner", "indexer", "linter"]
    many = agent_names(40)
    assert len(set(many)) == 40
    assert many[len(AGENT_NAMES)] == "planner-2"
    assert {"planner", "indexer", "linter", "test-runner", "deployer"} <= set(AGENT_NAMES)


@pytest.mark.parametrize(
    "options",
    [{"agents": 0}, {"pace": -1.0}, {"question_timeout": 0.0}, {"rounds": -1}],
)
async def test_bad_arguments_raise(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="run_swarm"):
        await run_swarm(FakeHub(), **options)


# -- stopping and cancelling ------------------------------------------------------------------


async def test_stop_ends_a_run_promptly_and_reports_it_stopped() -> None:
    stop = asyncio.Event()

    def stop_at_first_progress(entry: Entry) -> None:
        if entry[0] == "agent.progress":
            stop.set()

    hub = FakeHub(on_publish=stop_at_first_progress)
    before = other_tasks()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(run_swarm(hub, seed=1, pace=0.05, stop=stop), WAIT)
    assert loop.time() - started < 2.0
    assert other_tasks() <= before
    (run,) = runs(hub.log)
    check_run(run, agent_names(12))
    assert run[-1] == ("run.failed", "swarm", {"error": "stopped"})
    assert any(t == "agent.cancelled" for t, _, _ in run)


async def test_stop_between_runs_with_no_pace() -> None:
    stop = asyncio.Event()

    def stop_after_two_runs(entry: Entry) -> None:
        if entry[0] in {"run.completed", "run.failed"} and len(runs(hub.log)) == 2:
            stop.set()

    hub = FakeHub(on_publish=stop_after_two_runs)
    before = other_tasks()
    await asyncio.wait_for(run_swarm(hub, seed=1, pace=0.0, stop=stop), WAIT)
    assert other_tasks() <= before
    all_runs = runs(hub.log)
    assert 2 <= len(all_runs) <= 3
    for run in all_runs:
        check_run(run, agent_names(12))


async def test_a_stop_already_set_runs_nothing() -> None:
    stop = asyncio.Event()
    stop.set()
    hub = FakeHub()
    await swarm(hub, rounds=None, stop=stop)
    assert hub.log == []


async def test_cancelling_is_clean_and_publishes_nothing_more() -> None:
    hub = FakeHub("never")
    before = other_tasks()
    task = asyncio.create_task(run_swarm(hub, seed=5, agents=32, pace=0.01))

    await asyncio.wait_for(hub.asked.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    published = len(hub.log)
    await asyncio.sleep(0.05)
    assert len(hub.log) == published
    assert other_tasks() <= before
    assert not any(t in {"agent.cancelled", "run.failed"} for t, _, _ in hub.log)


async def test_cancelling_with_a_stop_event_is_clean_too() -> None:
    hub = FakeHub()
    stop = asyncio.Event()
    before = other_tasks()
    task = asyncio.create_task(run_swarm(hub, seed=1, pace=0.01, stop=stop))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert other_tasks() <= before
    assert not any(t == "agent.cancelled" for t, _, _ in hub.log)


# -- launched runs (R20) ------------------------------------------------------------------------


def request(target: str = "src", agents: Sequence[str] = ("linter", "reviewer", "linter-2")) -> Any:
    return {"run_id": "run-abc", "target": target, "bundle": "review", "agents": list(agents)}


def run_ends(log: list[Entry]) -> list[Entry]:
    ends = {"run.completed", "run.failed", "run.superseded"}
    return [entry for entry in log if entry[0] in ends]


def check_launched(log: list[Entry], names: Sequence[str]) -> None:
    """The launched run's events (`log` from where it starts): no run.started of its own,
    each agent once to a terminal state, ending with the run's end naming its run_id."""
    run = [entry for entry in log if entry[0] != "service.status"]
    assert "run.started" not in [t for t, _, _ in run]
    topic, source, payload = run[-1]
    assert (topic, source) == ("run.completed", "swarm") or topic == "run.failed"
    assert payload["run_id"] == "run-abc"
    assert {s for t, s, _ in run if t.startswith("agent.")} == set(names)
    for name in names:
        topics = agent_topics(run, name)
        assert topics[0] == "agent.pending", (name, topics)
        assert sum(t in TERMINAL for t in topics) == 1, (name, topics)


async def test_a_queued_request_is_the_next_run_without_a_second_run_started() -> None:
    hub = FakeHub()
    requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    requests.put_nowait(request())
    await swarm(hub, requests=requests, rounds=1)
    check_launched(hub.log, ["linter", "reviewer", "linter-2"])
    assert not any(t == "run.started" for t, _, _ in hub.log)
    # Each agent plays the role of its name: a linter lints, "linter-2" too.
    tasks = {s: p["task"] for t, s, p in hub.log if t == "agent.pending"}
    assert tasks.keys() == {"linter", "reviewer", "linter-2"}
    assert "lint" in tasks["linter"] or "formatting" in tasks["linter"]
    assert "review" in tasks["reviewer"]
    assert requests.empty()


async def test_a_request_arriving_between_runs_is_the_next_round() -> None:
    requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def launch_after_the_first_run(entry: Entry) -> None:
        if entry[0] in ("run.completed", "run.failed") and "run_id" not in entry[2]:
            requests.put_nowait(request(agents=("scribe", "herald")))

    hub = FakeHub(on_publish=launch_after_the_first_run)
    await swarm(hub, requests=requests, rounds=2)
    (first,) = runs(hub.log)  # one random run with its own run.started
    check_run(first[: first.index(run_ends(hub.log)[0]) + 1], agent_names(12))
    check_launched(hub.log[hub.log.index(run_ends(hub.log)[0]) + 1 :], ["scribe", "herald"])
    assert len(run_ends(hub.log)) == 2


async def test_a_request_arriving_mid_run_supersedes_it() -> None:
    requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    hub = FakeHub("never")

    async def launch_while_an_agent_waits() -> None:
        # The first question is never answered ("never"): its agent is still working
        # when the request arrives. Later questions are answered at once.
        await hub.asked.wait()
        hub.mode = "answer"
        requests.put_nowait(request(agents=("deployer",)))

    launching = asyncio.create_task(launch_while_an_agent_waits())
    await swarm(hub, requests=requests, rounds=2, question_timeout=60.0)
    await launching
    ends = run_ends(hub.log)
    assert ends[0][0] == "run.superseded"
    assert ends[0][2] == {
        "run": 1,
        "by": "run-abc",
        "message": "superseded by the run on src",
    }
    cut = hub.log.index(ends[0])
    old = hub.log[:cut]
    # Every agent of the old run ended once; those still working were cancelled.
    for name in agent_names(12):
        topics = agent_topics(old, name)
        assert sum(t in TERMINAL for t in topics) == 1, (name, topics)
    assert any(t == "agent.cancelled" for t, _, _ in old)
    assert not any(t in ("run.completed", "run.failed") for t, _, _ in old)
    check_launched(hub.log[cut + 1 :], ["deployer"])
    assert hub.log[-1][0] in ("run.completed", "run.failed")


async def test_a_malformed_request_is_ignored() -> None:
    hub = FakeHub()
    requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    malformed: list[Any] = [{"target": "src"}, {"run_id": "r", "target": "src", "agents": []}, 7]
    for bad in malformed:
        requests.put_nowait(bad)
    await swarm(hub, requests=requests, rounds=1)
    (run,) = runs(hub.log)
    check_run(run, agent_names(12))
    assert requests.empty()


async def test_without_requests_the_seeded_swarm_is_unchanged() -> None:
    plain, fed = FakeHub(), FakeHub()
    await swarm(plain, seed=4, rounds=2)
    await swarm(fed, seed=4, rounds=2, requests=asyncio.Queue())
    assert plain.log == fed.log


def test_the_default_bundles_name_agents_of_the_roster() -> None:
    assert list(DEFAULT_BUNDLES["full"]) == agent_names(12)
    for agents in DEFAULT_BUNDLES.values():
        assert set(agents) <= set(AGENT_NAMES)
