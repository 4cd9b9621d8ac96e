"""The console's state and its fold: pure data, no asyncio, no I/O, deterministic.

    state = ConsoleState()
    changed = state.fold(event)          # -> frozenset({"log", "agents", ...})
    state.agent_rows()                   # sorted by name
    state.pending_questions()            # sorted by (asked, id)
    state.snapshot()                     # JSON-able dict of everything the UI shows

Folding the same events in the same order always gives the same state, so a console
restarted from its journal shows what it showed before (the hub replays the journal
through `fold`). An event whose id is not above `last_id` was folded already and changes
nothing, which makes replay and live delivery safe to overlap.

The vocabulary (topic -> effect; `source` names the agent or service):

    run.requested {"run_id", "target", "bundle", "agents"}
                                       launcher: the target joins the recent targets (the
                                       last 10 distinct, newest first)
    run.started {"total", "name"?}     progress: counters reset, state running
    run.completed {}                   progress: state completed, 100 %
    run.failed {"error"}               progress: state failed with the error
    agent.pending {"task"?}            agent pending
    agent.started {"task"?}            agent running
    agent.progress {"message"}         agent running, detail = message
    agent.completed {"summary"}        agent completed; a result; progress.completed + 1
    agent.failed {"error"}             agent failed; progress.failed + 1
    agent.skipped / agent.cancelled    agent skipped / cancelled
    question.asked {"id", "agent", "question", "options", "timeout", "expires"}
                                       a pending question (`parlour.console.questions`
                                       has the rules); its agent is blocked
    question.answered {"id", "answer", "by"} / question.expired {"id"} /
    question.cancelled {"id", "by"}    the first valid closing wins; its agent runs again
                                       once it has no other pending question
    service.status {"id", "name", "port"?, "status", "description"?, "action"?, "message"?}
                                       a service row (fields not given keep their value)
    config.changed {"key", "value"}    a setting (invalid values are logged, not applied)
    log.cleared                        the log empties (the event itself is not logged)

Every event is logged (newest first, `settings.log_length` entries); its kind is the
first topic token. Kinds in `NOISE_KINDS` (tool, model) are hidden by default in views.

Malformed payloads never raise: a field of the wrong type is ignored or shown as text.

What this module does not do: talk to a bus or a journal, keep time, or decide when a
question is answered or expired (`parlour.console.asking` does, by publishing the event
this fold then applies: the fold is the only writer of the state).
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from parlour.console.payloads import as_dict, field, number, text
from parlour.console.questions import Question, QuestionBook, QuestionState

if TYPE_CHECKING:
    from parlour.bus.event import Event

__all__ = [
    "CLEAR_LOG_TOPIC",
    "CONSOLE_SOURCE",
    "MAX_RECENT_TARGETS",
    "MAX_RESULTS",
    "NOISE_KINDS",
    "PARTS",
    "Agent",
    "ConsoleState",
    "LogEntry",
    "Progress",
    "Result",
    "Service",
    "Settings",
    "describe",
    "kind_of",
]

PARTS: Final = frozenset(
    {"log", "agents", "progress", "results", "questions", "services", "settings", "launcher"}
)
"""The names `ConsoleState.fold` may return: one per panel of the console."""

NOISE_KINDS: Final = frozenset({"tool", "model"})
"""Kinds of event hidden from the log by default (chatty: tool calls, model replies)."""

CLEAR_LOG_TOPIC: Final = "log.cleared"
CONSOLE_SOURCE: Final = "console"
"""The source of the events the console publishes itself (answers, expiries, runs, settings)."""
MAX_RESULTS: Final = 50
MAX_RECENT_TARGETS: Final = 10
"""How many recent run targets the launcher offers (distinct, newest first)."""
MAX_TARGET_CHARS: Final = 300
"""A `run.requested` target longer than this is not remembered (nobody types it again)."""

SUMMARY_CHARS: Final = 120

_AGENT_ACTIONS: Final[dict[str, str]] = {
    "pending": "pending",
    "started": "running",
    "progress": "running",
    "completed": "completed",
    "failed": "failed",
    "skipped": "skipped",
    "cancelled": "cancelled",
}
# The payload field each action shows as the agent's detail.
_AGENT_DETAIL: Final[dict[str, str]] = {
    "progress": "message",
    "completed": "summary",
    "failed": "error",
}
# Fields tried in order for a log line's summary of a dict payload.
_SUMMARY_FIELDS: Final = ("message", "summary", "error", "question", "answer", "task", "target")

ProgressState = Literal["idle", "running", "completed", "failed"]


# -- the parts ----------------------------------------------------------------------------------


class LogEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    time: float
    topic: str
    kind: str
    source: str
    summary: str


class Agent(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    state: str = "pending"
    task: str = ""
    detail: str = ""
    updated: float = 0.0


class Result(msgspec.Struct, frozen=True, kw_only=True):
    agent: str
    summary: str
    time: float


class Service(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    status: str = ""
    port: int | None = None
    description: str = ""
    action: str = ""
    message: str = ""
    updated: float = 0.0


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    total: int = 0
    completed: int = 0
    failed: int = 0
    state: ProgressState = "idle"
    error: str = ""
    name: str = ""

    @property
    def text(self) -> str:
        return f"{self.completed}/{self.total} agents completed ({self.failed} failed)"

    @property
    def percent(self) -> float:
        """0..100, never NaN: 100 once the run completed, 0 while the total is unknown."""
        if self.state == "completed":
            return 100.0
        if self.total <= 0:
            return 0.0
        return min(100.0, 100.0 * self.completed / self.total)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """What a person may change at run time (through `config.changed` events).

    window       seconds a view waits to coalesce a burst of updates, 0..1 (default 0.1:
                 at most ten patches a second reach a tab, R3)
    log_length   entries the log keeps, 50..1000 (default 200)
    stale_after  seconds an agent may stay silent before the pages show it as stale,
                 10..86400 (default 300); silent twice that long, it leaves the list
    """

    window: float = 0.1
    log_length: int = 200
    stale_after: float = 300.0

    @staticmethod
    def validated(key: str, raw: Any) -> float | int:
        """`raw` (a number, or text from a form) as the value of setting `key`.

        Raises `ValueError` naming the setting, what it expects and what it got, e.g.
        "window: expected seconds between 0 and 1, got 'abc'".
        """
        if key == "window":
            value = number(raw)
            if value is None or not 0.0 <= value <= 1.0:
                raise ValueError(f"window: expected seconds between 0 and 1, got {raw!r}")
            return value
        if key == "log_length":
            value = number(raw)
            if value is None or value != int(value) or not 50 <= value <= 1000:
                raise ValueError(
                    f"log_length: expected a whole number of entries between 50 and 1000, "
                    f"got {raw!r}"
                )
            return int(value)
        if key == "stale_after":
            value = number(raw)
            if value is None or not 10.0 <= value <= 86_400.0:
                raise ValueError(f"stale_after: expected seconds between 10 and 86400, got {raw!r}")
            return value
        raise ValueError(
            f"unknown setting {key!r}: expected one of window, log_length, stale_after"
        )

    def with_value(self, key: str, raw: Any) -> Settings:
        """A copy with `key` set to `raw`, validated (raises `ValueError`)."""
        value = Settings.validated(key, raw)
        if key == "window":
            return msgspec.structs.replace(self, window=float(value))
        if key == "stale_after":
            return msgspec.structs.replace(self, stale_after=float(value))
        return msgspec.structs.replace(self, log_length=int(value))


# -- the state ----------------------------------------------------------------------------------


class ConsoleState:
    """Everything the console shows, built by folding events in id order.

    The parts are plain attributes for views to read (never to mutate): `log` and
    `results` newest first, `agents`, `questions` and `services` keyed by name / id,
    `progress`, `settings`, `recent_targets` (newest first), `events_seen`, `last_id`.
    Entries are frozen structs.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings: Settings = settings or Settings()
        self.log: deque[LogEntry] = deque(maxlen=self.settings.log_length)
        self.agents: dict[str, Agent] = {}
        self.results: deque[Result] = deque(maxlen=MAX_RESULTS)
        self._questions = QuestionBook()
        self.services: dict[str, Service] = {}
        self.progress: Progress = Progress()
        self.recent_targets: list[str] = []
        self.events_seen: int = 0
        self.last_id: int = 0
        self._run_completed: set[str] = set()
        self._run_failed: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"<ConsoleState last_id={self.last_id} events={self.events_seen} "
            f"agents={len(self.agents)} pending={len(self.pending_questions())} "
            f"services={len(self.services)} progress={self.progress.text!r}>"
        )

    # -- reading --------------------------------------------------------------------------------

    def agent_rows(self) -> list[Agent]:
        return [self.agents[name] for name in sorted(self.agents)]

    @property
    def questions(self) -> dict[str, Question]:
        """The questions by id (pending, and the newest closed ones); read, never mutate."""
        return self._questions.questions

    def pending_questions(self) -> list[Question]:
        return self._questions.pending()

    def questions_in(self, state: QuestionState) -> list[Question]:
        """The known questions in `state` (pending oldest first, closed newest first)."""
        return self._questions.in_state(state)

    def question_by_key(self, key: str) -> Question | None:
        """The known question asked with the Idempotency-Key `key`, if any."""
        return self._questions.by_key(key)

    def closed_questions(self, count: int) -> list[Question]:
        """The newest `count` answered or expired questions, the last closed first."""
        return self._questions.recently_closed(count)

    def service_rows(self) -> list[Service]:
        return sorted(self.services.values(), key=lambda s: (s.name, s.id))

    def visible_log(self, hidden: frozenset[str] = NOISE_KINDS) -> list[LogEntry]:
        """The log, newest first, without the kinds in `hidden`."""
        return [entry for entry in self.log if entry.kind not in hidden]

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON-able data (lists in display order)."""
        progress = self.progress
        return {
            "last_id": self.last_id,
            "events_seen": self.events_seen,
            "settings": msgspec.to_builtins(self.settings),
            "progress": {
                **msgspec.to_builtins(progress),
                "text": progress.text,
                "percent": progress.percent,
            },
            "agents": [msgspec.to_builtins(a) for a in self.agent_rows()],
            "questions": [q.public() | {"asked": q.asked} for q in self.pending_questions()],
            "services": [msgspec.to_builtins(s) for s in self.service_rows()],
            "results": [msgspec.to_builtins(r) for r in self.results],
            "recent_targets": list(self.recent_targets),
            "log": [msgspec.to_builtins(e) for e in self.log],
        }

    # -- folding --------------------------------------------------------------------------------

    def fold(self, event: Event) -> frozenset[str]:
        """Apply one event; the names of the parts that changed (empty if already folded)."""
        if event.id <= self.last_id:
            return frozenset()
        self.last_id = event.id
        self.events_seen += 1
        if event.topic == CLEAR_LOG_TOPIC:
            self.log.clear()
            return frozenset({"log"})
        kind, _, action = event.topic.partition(".")
        action = action.partition(".")[0]
        self.log.appendleft(
            LogEntry(
                id=event.id,
                time=event.time,
                topic=event.topic,
                kind=kind,
                source=event.source,
                summary=describe(event.payload),
            )
        )
        changed = {"log"}
        payload = as_dict(event.payload) or {}
        if kind == "agent":
            changed |= self._agent(event, action, payload)
        elif kind == "run":
            changed |= self._run(action, payload)
        elif kind == "question":
            changed |= self._question(event, action, payload)
        elif kind == "service" and action == "status":
            changed |= self._service(event, payload)
        elif kind == "config" and action == "changed":
            changed |= self._config(payload)
        return frozenset(changed)

    def _agent(self, event: Event, action: str, payload: dict[str, Any]) -> set[str]:
        state = _AGENT_ACTIONS.get(action)
        name = event.source or text(payload.get("agent")) or text(payload.get("name"))
        if state is None or not name:
            return set()
        old = self.agents.get(name) or Agent(name=name)
        task = text(payload.get("task")) or old.task
        key = _AGENT_DETAIL.get(action)
        detail = text(payload.get(key)) if key else ""
        if not detail and isinstance(event.payload, str):
            detail = event.payload  # a bare string payload is the message
        if state == "running" and self._questions.blocks(name):
            state = "blocked"  # still waiting for an answer: progress does not unblock it
            detail = old.detail
        self.agents[name] = Agent(
            name=name, state=state, task=task, detail=detail, updated=event.time
        )
        changed = {"agents"}
        if action == "completed":
            self.results.appendleft(Result(agent=name, summary=detail, time=event.time))
            changed.add("results")
        if action in ("completed", "failed"):
            done, other = (
                (self._run_completed, self._run_failed)
                if action == "completed"
                else (self._run_failed, self._run_completed)
            )
            done.add(name)
            other.discard(name)
            progress = msgspec.structs.replace(
                self.progress,
                completed=len(self._run_completed),
                failed=len(self._run_failed),
            )
            if progress != self.progress:
                self.progress = progress
                changed.add("progress")
        return changed

    def _run(self, action: str, payload: dict[str, Any]) -> set[str]:
        if action == "requested":
            return self._requested(payload)
        if action == "started":
            self._run_completed.clear()
            self._run_failed.clear()
            total = number(payload.get("total"))
            self.progress = Progress(
                total=int(total) if total is not None and total > 0 else 0,
                state="running",
                name=text(payload.get("name")),
            )
        elif action == "completed":
            self.progress = msgspec.structs.replace(self.progress, state="completed", error="")
        elif action == "failed":
            self.progress = msgspec.structs.replace(
                self.progress, state="failed", error=text(payload.get("error"))
            )
        else:
            return set()
        return {"progress"}

    def _requested(self, payload: dict[str, Any]) -> set[str]:
        target = payload.get("target")
        if not isinstance(target, str) or not target.strip() or len(target) > MAX_TARGET_CHARS:
            return set()
        recent = [target, *(t for t in self.recent_targets if t != target)]
        recent = recent[:MAX_RECENT_TARGETS]
        if recent == self.recent_targets:
            return set()
        self.recent_targets = recent
        return {"launcher"}

    def _question(self, event: Event, action: str, payload: dict[str, Any]) -> set[str]:
        question = self._questions.fold(event, action, payload)
        if question is None:
            return set()
        changed = {"questions"}
        name = question.agent
        agent = self.agents.get(name)
        if not question.closed:
            if not name:
                return changed
            old = agent or Agent(name=name)
            self.agents[name] = msgspec.structs.replace(
                old, state="blocked", detail=question.question, updated=event.time
            )
            changed.add("agents")
        elif agent is not None and agent.state == "blocked" and not self._questions.blocks(name):
            self.agents[name] = msgspec.structs.replace(
                agent, state="running", detail="", updated=event.time
            )
            changed.add("agents")
        return changed

    def _service(self, event: Event, payload: dict[str, Any]) -> set[str]:
        sid = text(payload.get("id")) or text(payload.get("name")) or event.source
        if not sid:
            return set()
        old = self.services.get(sid) or Service(id=sid, name=sid)
        port = payload.get("port", old.port)
        if isinstance(port, str) and port.strip().isdigit():
            port = int(port)
        self.services[sid] = Service(
            id=sid,
            name=text(payload.get("name")) or old.name,
            status=text(payload.get("status")) or old.status,
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            description=field(payload, "description", old.description),
            action=field(payload, "action", old.action),
            message=field(payload, "message", old.message),
            updated=event.time,
        )
        return {"services"}

    def _config(self, payload: dict[str, Any]) -> set[str]:
        key = payload.get("key")
        if not isinstance(key, str):
            return set()
        try:
            settings = self.settings.with_value(key, payload.get("value"))
        except ValueError:
            return set()  # logged, not applied
        if settings == self.settings:
            return set()
        changed = {"settings"}
        if settings.log_length != self.settings.log_length:
            # newest first: keep the head of the log
            self.log = deque(islice(self.log, settings.log_length), maxlen=settings.log_length)
            changed.add("log")
        self.settings = settings
        return changed


# -- helpers ------------------------------------------------------------------------------------


def kind_of(topic: str) -> str:
    """The kind of an event: the first token of its topic ("agent" for agent.started)."""
    return topic.partition(".")[0]


def describe(payload: Any) -> str:
    """A short line for a log entry: the payload's telling field, or compact JSON."""
    if payload is None:
        return ""
    fields = as_dict(payload)
    if fields is not None:
        for key in _SUMMARY_FIELDS:
            value = fields.get(key)
            if isinstance(value, str) and value:
                return _cut(value)
        if isinstance(fields.get("status"), str):
            name = fields.get("name") or fields.get("id") or ""
            return _cut(f"{name}: {fields['status']}" if name else str(fields["status"]))
    if isinstance(payload, str):
        return _cut(payload)
    return _cut(text(payload))


def _cut(line: str) -> str:
    line = " ".join(line.split())
    if len(line) > SUMMARY_CHARS:
        return line[: SUMMARY_CHARS - 1] + "…"
    return line
