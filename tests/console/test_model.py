"""The console state's fold: pure, deterministic, lenient with malformed payloads."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from parlour.bus import Event
from parlour.console.model import (
    MAX_RECENT_TARGETS,
    MAX_RESULTS,
    NOISE_KINDS,
    PARTS,
    ConsoleState,
    Progress,
    Settings,
    describe,
    kind_of,
)
from parlour.console.questions import MAX_CLOSED_QUESTIONS


class Events:
    """Builds events with increasing ids and times, as a bus would."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self, topic: str, source: str = "", payload: Any = None) -> Event:
        self.last += 1
        return Event(
            id=self.last, topic=topic, time=1_000.0 + self.last, source=source, payload=payload
        )


@pytest.fixture
def ev() -> Events:
    return Events()


def asked(ev: Events, qid: str, agent: str = "a", **extra: Any) -> Event:
    payload: dict[str, Any] = {"id": qid, "agent": agent, "question": f"q {qid}?"}
    payload["options"] = None
    payload.update({"timeout": 60, "expires": 2_000.0, **extra})
    return ev("question.asked", agent, payload)


# -- progress -----------------------------------------------------------------------------------


def test_progress_before_any_run_is_zero_not_nan() -> None:
    progress = ConsoleState().progress
    assert progress.text == "0/0 agents completed (0 failed)"
    assert progress.percent == 0.0
    assert progress.state == "idle"


def test_progress_counts_completed_and_failed_agents_of_the_run(ev: Events) -> None:
    state = ConsoleState()
    assert state.fold(ev("run.started", "swarm", {"total": 4, "name": "nightly"})) == {
        "log",
        "progress",
    }
    assert state.progress.state == "running"
    assert state.progress.name == "nightly"
    assert state.fold(ev("agent.completed", "a", {"summary": "done"})) == {
        "log",
        "agents",
        "results",
        "progress",
    }
    state.fold(ev("agent.completed", "b", {"summary": "done"}))
    state.fold(ev("agent.failed", "c", {"error": "boom"}))
    # a second completion of the same agent counts once
    assert state.fold(ev("agent.completed", "a", {"summary": "again"})) == {
        "log",
        "agents",
        "results",
    }
    assert state.progress.text == "2/4 agents completed (1 failed)"
    assert state.progress.percent == 50.0
    state.fold(ev("run.completed", "swarm", {}))
    assert state.progress.state == "completed"
    assert state.progress.percent == 100.0


def test_a_new_run_resets_the_counters_but_keeps_the_agents(ev: Events) -> None:
    state = ConsoleState()
    state.fold(ev("run.started", "swarm", {"total": 2}))
    state.fold(ev("agent.completed", "a", {"summary": "ok"}))
    state.fold(ev("run.failed", "swarm", {"error": "half failed"}))
    assert state.progress.state == "failed"
    assert state.progress.error == "half failed"
    state.fold(ev("run.started", "swarm", {"total": 3}))
    assert state.progress == Progress(total=3, state="running")
    assert state.agents["a"].state == "completed"


@pytest.mark.parametrize("total", [0, -5, "many", None, math.nan, True])
def test_progress_percent_with_no_usable_total_is_zero(ev: Events, total: Any) -> None:
    state = ConsoleState()
    state.fold(ev("run.started", "swarm", {"total": total}))
    state.fold(ev("agent.completed", "a", {}))
    assert state.progress.total == 0
    assert state.progress.percent == 0.0
    assert state.progress.text == "1/0 agents completed (0 failed)"


def test_progress_percent_is_capped_at_100(ev: Events) -> None:
    state = ConsoleState()
    state.fold(ev("run.started", "swarm", {"total": 1}))
    for name in "abc":
        state.fold(ev("agent.completed", name, {}))
    assert state.progress.percent == 100.0


# -- agents and questions -------------------------------------------------------------------------


def test_agent_states_follow_the_vocabulary(ev: Events) -> None:
    state = ConsoleState()
    state.fold(ev("agent.pending", "a", {"task": "build"}))
    assert state.agents["a"].state == "pending"
    assert state.agents["a"].task == "build"
    state.fold(ev("agent.started", "a", {}))
    assert (state.agents["a"].state, state.agents["a"].task) == ("running", "build")
    state.fold(ev("agent.progress", "a", {"message": "halfway"}))
    assert (state.agents["a"].state, state.agents["a"].detail) == ("running", "halfway")
    for action, badge in [("skipped", "skipped"), ("cancelled", "cancelled"), ("failed", "failed")]:
        state.fold(ev(f"agent.{action}", "a", {"error": "x"}))
        assert state.agents["a"].state == badge
    assert state.agents["a"].detail == "x"
    assert state.agents["a"].updated == 1_000.0 + ev.last


def test_a_pending_question_blocks_its_agent_until_answered(ev: Events) -> None:
    state = ConsoleState()
    state.fold(ev("agent.started", "a", {"task": "deploy"}))
    assert state.fold(asked(ev, "q1")) == {"log", "questions", "agents"}
    assert state.agents["a"].state == "blocked"
    assert state.agents["a"].detail == "q q1?"
    # progress while blocked does not unblock
    state.fold(ev("agent.progress", "a", {"message": "still waiting"}))
    assert state.agents["a"].state == "blocked"
    assert state.fold(ev("question.answered", "console", {"id": "q1", "answer": "yes"})) == {
        "log",
        "questions",
        "agents",
    }
    assert state.agents["a"].state == "running"
    assert state.questions["q1"].state == "answered"
    assert state.questions["q1"].answer == "yes"
    assert state.pending_questions() == []


def test_an_agent_with_two_questions_stays_blocked_until_both_close(ev: Events) -> None:
    state = ConsoleState()
    state.fold(asked(ev, "q1"))
    state.fold(asked(ev, "q2"))
    assert state.fold(ev("question.expired", "console", {"id": "q1"})) == {"log", "questions"}
    assert state.agents["a"].state == "blocked"
    state.fold(ev("question.expired", "console", {"id": "q2"}))
    assert state.agents["a"].state == "running"
    assert state.questions["q2"].state == "expired"
    assert state.questions["q2"].answer is None


def test_a_reannounced_question_is_one_card(ev: Events) -> None:
    state = ConsoleState()
    state.fold(asked(ev, "q1", question="first"))
    assert state.fold(asked(ev, "q1", question="second")) == {"log"}
    assert len(state.pending_questions()) == 1
    assert state.questions["q1"].question == "first"
    # and after it closed, a re-announcement does not reopen it
    state.fold(ev("question.answered", "console", {"id": "q1", "answer": "ok"}))
    assert state.fold(asked(ev, "q1")) == {"log"}
    assert state.questions["q1"].state == "answered"


def test_the_first_closing_of_a_question_wins(ev: Events) -> None:
    state = ConsoleState()
    state.fold(asked(ev, "q1"))
    state.fold(ev("question.answered", "console", {"id": "q1", "answer": "yes"}))
    assert state.fold(ev("question.answered", "console", {"id": "q1", "answer": "no"})) == {"log"}
    assert state.fold(ev("question.expired", "console", {"id": "q1"})) == {"log"}
    assert state.questions["q1"].answer == "yes"


@pytest.mark.parametrize("answer", ["maybe", "", "  ", 5, None, ["yes"]])
def test_an_answer_the_question_cannot_take_changes_nothing(ev: Events, answer: Any) -> None:
    state = ConsoleState()
    state.fold(asked(ev, "q1", options=["yes", "no"]))
    assert state.fold(ev("question.answered", "x", {"id": "q1", "answer": answer})) == {"log"}
    assert state.questions["q1"].state == "pending"
    assert state.agents["a"].state == "blocked"


def test_closings_of_unknown_questions_change_nothing_but_the_log(ev: Events) -> None:
    state = ConsoleState()
    assert state.fold(ev("question.answered", "x", {"id": "nope", "answer": "yes"})) == {"log"}
    assert state.fold(ev("question.expired", "x", {"id": "nope"})) == {"log"}
    assert state.fold(ev("question.expired", "x", {})) == {"log"}
    assert state.questions == {}


def test_question_fields_and_public_form(ev: Events) -> None:
    state = ConsoleState()
    state.fold(asked(ev, "q1", agent="deployer", options=["yes", "no"], expires=1_234.5))
    question = state.questions["q1"]
    assert question.options == ("yes", "no")
    assert question.asked == 1_001.0
    assert question.public() == {
        "id": "q1",
        "agent": "deployer",
        "question": "q q1?",
        "options": ["yes", "no"],
        "state": "pending",
        "answer": None,
        "answered_by": None,
        "expires": 1_234.5,
    }


def test_a_question_without_expires_uses_its_timeout(ev: Events) -> None:
    state = ConsoleState()
    state.fold(ev("question.asked", "a", {"id": "q", "agent": "a", "question": "?", "timeout": 5}))
    assert state.questions["q"].expires == state.questions["q"].asked + 5


def test_pending_questions_are_ordered_by_asked_then_id(ev: Events) -> None:
    state = ConsoleState()
    same_time = [
        Event(id=1, topic="question.asked", time=5.0, payload={"id": "zz", "agent": "a"}),
        Event(id=2, topic="question.asked", time=5.0, payload={"id": "aa", "agent": "b"}),
        Event(id=3, topic="question.asked", time=4.0, payload={"id": "mm", "agent": "c"}),
    ]
    for event in same_time:
        state.fold(event)
    assert [q.id for q in state.pending_questions()] == ["mm", "aa", "zz"]


def test_closed_questions_are_bounded(ev: Events) -> None:
    state = ConsoleState()
    state.fold(asked(ev, "pending"))
    for n in range(MAX_CLOSED_QUESTIONS + 20):
        state.fold(asked(ev, f"q{n}"))
        state.fold(ev("question.expired", "console", {"id": f"q{n}"}))
    assert len(state.questions) == MAX_CLOSED_QUESTIONS + 1
    assert "q0" not in state.questions
    assert f"q{MAX_CLOSED_QUESTIONS + 19}" in state.questions
    assert state.questions["pending"].state == "pending"


# -- log, results, services -----------------------------------------------------------------------


def test_the_log_is_newest_first_and_bounded(ev: Events) -> None:
    state = ConsoleState()
    for n in range(250):
        state.fold(ev("log.info", "w", {"message": f"line {n}"}))
    assert len(state.log) == 200
    assert [e.id for e in list(state.log)[:3]] == [250, 249, 248]
    assert state.log[0].summary == "line 249"
    assert state.log[-1].id == 51
    assert state.events_seen == 250


def test_log_entries_carry_kind_and_noise_is_hidden_by_default(ev: Events) -> None:
    state = ConsoleState()
    state.fold(ev("tool.call", "a", {"tool": "read_file"}))
    state.fold(ev("model.reply", "a", {"tokens": 12}))
    state.fold(ev("agent.started", "a", {"task": "t"}))
    assert [e.kind for e in state.log] == ["agent", "model", "tool"]
    assert frozenset({"tool", "model"}) == NOISE_KINDS
    assert [e.kind for e in state.visible_log()] == ["agent"]
    assert len(state.visible_log(frozenset())) == 3
    assert state.log[2].summary == '{"tool":"read_file"}'
    assert state.log[2].source == "a"


def test_log_length_setting_truncates_the_log(ev: Events) -> None:
    state = ConsoleState()
    for _ in range(120):
        state.fold(ev("log.info"))
    changed = state.fold(ev("config.changed", "console", {"key": "log_length", "value": 50}))
    assert changed == {"log", "settings"}
    assert state.settings.log_length == 50
    assert len(state.log) == 50
    assert state.log[0].topic == "config.changed"


def test_log_cleared_empties_the_log(ev: Events) -> None:
    state = ConsoleState()
    for _ in range(5):
        state.fold(ev("log.info"))
    assert state.fold(ev("log.cleared", "console")) == {"log"}
    assert len(state.log) == 0
    state.fold(ev("log.info"))
    assert len(state.log) == 1


def test_results_are_newest_first_and_bounded(ev: Events) -> None:
    state = ConsoleState()
    for n in range(MAX_RESULTS + 5):
        state.fold(ev("agent.completed", f"a{n}", {"summary": f"s{n}"}))
    assert len(state.results) == MAX_RESULTS
    assert state.results[0].summary == f"s{MAX_RESULTS + 4}"
    assert state.results[0].agent == f"a{MAX_RESULTS + 4}"


def test_services_merge_reports_and_keep_unknown_statuses(ev: Events) -> None:
    state = ConsoleState()
    payload = {"id": "db", "name": "Postgres", "port": 5432, "status": "Running"}
    assert state.fold(ev("service.status", "db", {**payload, "description": "main"})) == {
        "log",
        "services",
    }
    state.fold(ev("service.status", "db", {"id": "db", "status": "Rebooting", "port": "5433"}))
    service = state.services["db"]
    assert (service.name, service.status, service.port) == ("Postgres", "Rebooting", 5433)
    assert service.description == "main"
    state.fold(ev("service.status", "zz", {"id": "zz", "name": "Alpha", "status": "Stale"}))
    state.fold(ev("service.status", "mq", {"id": "mq", "name": "Alpha", "status": "Stopped"}))
    assert [s.id for s in state.service_rows()] == ["mq", "zz", "db"]


def test_agent_rows_are_sorted_by_name(ev: Events) -> None:
    state = ConsoleState()
    for name in ["zed", "amy", "Bob"]:
        state.fold(ev("agent.started", name))
    assert [a.name for a in state.agent_rows()] == ["Bob", "amy", "zed"]


# -- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("window", 0, 0.0),
        ("window", "0.25", 0.25),
        ("window", 1, 1.0),
        ("log_length", 50, 50),
        ("log_length", "1000", 1000),
        ("log_length", 300.0, 300),
        ("stale_after", "60", 60.0),
    ],
)
def test_settings_accept_numbers_and_form_text(key: str, raw: Any, value: Any) -> None:
    assert Settings.validated(key, raw) == value
    assert type(Settings.validated(key, raw)) is type(value)


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("window", "abc", "window: expected seconds between 0 and 1, got 'abc'"),
        ("window", 1.5, "window: expected seconds between 0 and 1, got 1.5"),
        ("window", -0.1, "window: expected seconds between 0 and 1, got -0.1"),
        ("window", True, "window: expected seconds between 0 and 1, got True"),
        ("window", None, "window: expected seconds between 0 and 1, got None"),
        ("window", "nan", "window: expected seconds between 0 and 1, got 'nan'"),
        (
            "log_length",
            49,
            "log_length: expected a whole number of entries between 50 and 1000, got 49",
        ),
        (
            "log_length",
            100.5,
            "log_length: expected a whole number of entries between 50 and 1000, got 100.5",
        ),
        (
            "log_length",
            "lots",
            "log_length: expected a whole number of entries between 50 and 1000, got 'lots'",
        ),
        (
            "colour",
            1,
            "unknown setting 'colour': expected one of window, log_length, stale_after",
        ),
        ("stale_after", 5, "stale_after: expected seconds between 10 and 86400, got 5"),
    ],
)
def test_settings_refuse_bad_values_clearly(key: str, raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Settings.validated(key, raw)


def test_config_changed_applies_valid_settings_and_logs_invalid_ones(ev: Events) -> None:
    state = ConsoleState()
    changed = state.fold(ev("config.changed", "console", {"key": "window", "value": 0.2}))
    assert changed == {"log", "settings"}
    assert state.settings == Settings(window=0.2)
    assert state.fold(ev("config.changed", "console", {"key": "window", "value": 7})) == {"log"}
    assert state.fold(ev("config.changed", "console", {"key": "nope", "value": 1})) == {"log"}
    assert state.fold(ev("config.changed", "console", {"key": "window", "value": 0.2})) == {"log"}
    assert state.settings.window == 0.2


# -- robustness and determinism -------------------------------------------------------------------


def test_an_event_already_folded_changes_nothing(ev: Events) -> None:
    state = ConsoleState()
    event = ev("agent.started", "a")
    state.fold(event)
    assert state.fold(event) == frozenset()
    assert state.events_seen == 1
    assert len(state.log) == 1
    assert state.last_id == event.id


@pytest.mark.parametrize(
    "topic",
    [
        "run.started",
        "run.failed",
        "agent.started",
        "agent.progress",
        "agent.completed",
        "question.asked",
        "question.answered",
        "question.expired",
        "service.status",
        "config.changed",
        "agent.unknown",
        "question.other",
    ],
)
@pytest.mark.parametrize("payload", [None, "text", 42, [1, 2], {"id": 5, "total": {"x": 1}}, {}])
def test_malformed_payloads_never_raise(ev: Events, topic: str, payload: Any) -> None:
    state = ConsoleState()
    changed = state.fold(ev(topic, "", payload))
    assert "log" in changed
    assert changed <= PARTS
    json.dumps(state.snapshot())  # still JSON


def test_the_same_events_give_the_same_state() -> None:
    def story() -> list[Event]:
        ev = Events()
        return [
            ev("run.started", "swarm", {"total": 3}),
            ev("agent.started", "b", {"task": "x"}),
            ev("agent.started", "a", {"task": "y"}),
            asked(ev, "q2", agent="b"),
            asked(ev, "q1", agent="a", options=["yes", "no"]),
            ev("service.status", "s", {"id": "s", "status": "Running"}),
            ev("question.answered", "console", {"id": "q2", "answer": "go"}),
            ev("agent.completed", "b", {"summary": "done"}),
            ev("tool.call", "a", {"tool": "grep"}),
        ]

    first, second = ConsoleState(), ConsoleState()
    changes = [first.fold(e) for e in story()]
    for event in story():
        second.fold(event)
    assert first.snapshot() == second.snapshot()
    assert all(c and c <= PARTS for c in changes)
    snapshot = first.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert set(snapshot) >= {
        "log",
        "agents",
        "progress",
        "results",
        "questions",
        "services",
        "settings",
        "last_id",
    }
    assert snapshot["progress"]["text"] == "1/3 agents completed (0 failed)"
    assert [q["id"] for q in snapshot["questions"]] == ["q1"]
    assert [a["name"] for a in snapshot["agents"]] == ["a", "b"]
    assert snapshot["agents"][0]["state"] == "blocked"


def test_describe_and_kind_helpers() -> None:
    assert kind_of("agent.started") == "agent"
    assert kind_of("tool") == "tool"
    assert describe(None) == ""
    assert describe({"message": "  many   spaces\nhere "}) == "many spaces here"
    assert describe({"id": "db", "status": "Stale"}) == "db: Stale"
    assert describe("x" * 500).endswith("…")
    assert len(describe("x" * 500)) == 120
    assert describe({"n": 1}) == '{"n":1}'


# -- the launcher's recent targets (R20) --------------------------------------------------------


def requested(ev: Events, target: Any, **extra: Any) -> Event:
    payload = {"run_id": f"run-{ev.last + 1}", "target": target, "bundle": "review"} | extra
    return ev("run.requested", "console", payload)


def test_a_run_request_adds_its_target_to_the_recent_targets(ev: Events) -> None:
    state = ConsoleState()
    assert state.recent_targets == []
    assert state.fold(requested(ev, "src")) == {"log", "launcher"}
    assert state.recent_targets == ["src"]
    assert state.snapshot()["recent_targets"] == ["src"]
    assert "launcher" in PARTS
    assert state.progress.state == "idle"  # a request alone does not start a run


def test_recent_targets_are_distinct_newest_first_and_bounded(ev: Events) -> None:
    state = ConsoleState()
    for n in range(12):
        state.fold(requested(ev, f"t{n}"))
    assert state.recent_targets == [f"t{n}" for n in range(11, 1, -1)]
    assert len(state.recent_targets) == MAX_RECENT_TARGETS == 10
    state.fold(requested(ev, "t5"))  # again: moves to the front, not duplicated
    assert state.recent_targets[:2] == ["t5", "t11"]
    assert state.recent_targets.count("t5") == 1
    assert len(state.recent_targets) == 10
    # the newest already first: nothing changes but the log
    assert state.fold(requested(ev, "t5")) == {"log"}


@pytest.mark.parametrize("target", [None, "", "   ", 7, ["src"], "x" * 301])
def test_run_requests_without_a_usable_target_are_only_logged(ev: Events, target: Any) -> None:
    state = ConsoleState()
    assert state.fold(requested(ev, target)) == {"log"}
    assert state.recent_targets == []


def test_recent_targets_survive_a_replay(ev: Events) -> None:
    events = [requested(ev, t) for t in ("a", "b", "a", "c")]
    first, second = ConsoleState(), ConsoleState()
    for event in events:
        first.fold(event)
    for event in events:
        second.fold(event)
        second.fold(event)  # folded twice: no change
    assert first.recent_targets == second.recent_targets == ["c", "a", "b"]
