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
                                       a pending question (one per id: a re-announced id
                                       changes nothing); its agent is blocked
    question.answered {"id", "answer"} / question.expired {"id"}
                                       the question closes; its agent runs again once it
                                       has no other pending question
    service.status {"id", "name", "port"?, "status", "description"?, "action"?, "message"?}
                                       a service row (fields not given keep their value)
    config.changed {"key", "value"}    a setting (invalid values are logged, not applied)
    log.cleared                        the log empties (the event itself is not logged)

Every event is logged (newest first, `settings.log_length` entries); its kind is the
first topic token. Kinds in `NOISE_KINDS` (tool, model) are hidden by default in views.

Malformed payloads never raise: a field of the wrong type is ignored or shown as text.

What this module does not do: talk to a bus or a journal, keep time, or expire questions
(`parlour.console.hub` does; it calls `close_question` for answers and expiries).
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import msgspec

if TYPE_CHECKING:
    from parlour.bus.event import Event

__all__ = [
    "AGENT_STATES",
    "CLEAR_LOG_TOPIC",
    "DEFAULT_BUNDLES",
    "DEFAULT_TIMEOUT",
    "MAX_CLOSED_QUESTIONS",
    "MAX_RECENT_TARGETS",
    "MAX_RESULTS",
    "NOISE_KINDS",
    "PARTS",
    "SERVICE_STATUSES",
    "Agent",
    "ConsoleError",
    "ConsoleState",
    "InvalidAnswer",
    "InvalidRun",
    "LogEntry",
    "Progress",
    "Question",
    "QuestionClosed",
    "QuestionNotFound",
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

AGENT_STATES: Final = (
    "pending",
    "running",
    "blocked",
    "completed",
    "failed",
    "skipped",
    "cancelled",
)
SERVICE_STATUSES: Final = ("Running", "Conflict", "In Use", "Stale", "Stopped", "Standby")
"""The statuses a service usually reports; others are shown as given."""

CLEAR_LOG_TOPIC: Final = "log.cleared"
MAX_RESULTS: Final = 50
DEFAULT_TIMEOUT: Final = 300.0
"""Seconds a question waits for its answer when it says nothing about it."""
MAX_CLOSED_QUESTIONS: Final = 500
MAX_RECENT_TARGETS: Final = 10
"""How many recent run targets the launcher offers (distinct, newest first)."""
MAX_TARGET_CHARS: Final = 300
"""A `run.requested` target longer than this is not remembered (nobody types it again)."""

DEFAULT_BUNDLES: Final[dict[str, tuple[str, ...]]] = {
    "full": (
        "planner", "indexer", "linter", "test-runner", "deployer", "reviewer",
        "scribe", "scout", "archivist", "translator", "profiler", "gardener",
    ),
    "review": ("linter", "reviewer", "test-runner"),
    "release": ("planner", "scribe", "deployer", "herald"),
}  # fmt: skip
"""The run launcher's bundles when none are configured: bundle name -> the agents it runs
(names from the demo swarm's roster, `parlour.console.swarm.AGENT_NAMES`; "full" is
`agent_names(12)`). The first is the launcher's default."""
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

_json = msgspec.json.Encoder()

QuestionState = Literal["pending", "answered", "expired"]
ProgressState = Literal["idle", "running", "completed", "failed"]


# -- errors -------------------------------------------------------------------------------------


class ConsoleError(Exception):
    """Base of the console's errors."""


class QuestionNotFound(ConsoleError, LookupError):
    """No question has this id (the API answers 404)."""


class InvalidAnswer(ConsoleError, ValueError):
    """The answer is empty, or not one of the question's options (the API answers 400)."""


class QuestionClosed(ConsoleError):
    """The question expired, or was answered differently (the API answers 409)."""


class InvalidRun(ConsoleError, ValueError):
    """A run cannot be launched: its target is empty, outside the project or missing, or
    its bundle is unknown (the API answers 400)."""


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


class Question(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agent: str
    question: str
    options: tuple[str, ...] | None = None
    asked: float = 0.0
    expires: float = 0.0
    state: QuestionState = "pending"
    answer: str | None = None

    @property
    def closed(self) -> bool:
        return self.state != "pending"

    def public(self) -> dict[str, Any]:
        """The question as the HTTP API shows it."""
        return {
            "id": self.id,
            "agent": self.agent,
            "question": self.question,
            "options": list(self.options) if self.options is not None else None,
            "state": self.state,
            "answer": self.answer,
            "expires": self.expires,
        }


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

    window      seconds a view waits to coalesce a burst of updates, 0..1 (default 0.1:
                at most ten patches a second reach a tab, R3)
    log_length  entries the log keeps, 50..1000 (default 200)
    """

    window: float = 0.1
    log_length: int = 200

    @staticmethod
    def validated(key: str, raw: Any) -> float | int:
        """`raw` (a number, or text from a form) as the value of setting `key`.

        Raises `ValueError` naming the setting, what it expects and what it got, e.g.
        "window: expected seconds between 0 and 1, got 'abc'".
        """
        if key == "window":
            value = _number(raw)
            if value is None or not 0.0 <= value <= 1.0:
                raise ValueError(f"window: expected seconds between 0 and 1, got {raw!r}")
            return value
        if key == "log_length":
            value = _number(raw)
            if value is None or value != int(value) or not 50 <= value <= 1000:
                raise ValueError(
                    f"log_length: expected a whole number of entries between 50 and 1000, "
                    f"got {raw!r}"
                )
            return int(value)
        raise ValueError(f"unknown setting {key!r}: expected one of window, log_length")

    def with_value(self, key: str, raw: Any) -> Settings:
        """A copy with `key` set to `raw`, validated (raises `ValueError`)."""
        value = Settings.validated(key, raw)
        if key == "window":
            return msgspec.structs.replace(self, window=float(value))
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
        self.questions: dict[str, Question] = {}
        self.services: dict[str, Service] = {}
        self.progress: Progress = Progress()
        self.recent_targets: list[str] = []
        self.events_seen: int = 0
        self.last_id: int = 0
        self._closed_order: deque[str] = deque()
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

    def pending_questions(self) -> list[Question]:
        pending = [q for q in self.questions.values() if q.state == "pending"]
        pending.sort(key=lambda q: (q.asked, q.id))
        return pending

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
        payload = _as_dict(event.payload) or {}
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

    def close_question(
        self,
        qid: str,
        state: Literal["answered", "expired"],
        answer: str | None,
        time: float,
    ) -> frozenset[str]:
        """Close a pending question; its agent runs again if nothing else blocks it.

        A question that is unknown or already closed is left alone (the first closing
        wins). Used by `fold` and, synchronously, by the hub when it answers or expires.
        """
        question = self.questions.get(qid)
        if question is None or question.closed:
            return frozenset()
        self.questions[qid] = msgspec.structs.replace(
            question, state=state, answer=answer if state == "answered" else None
        )
        self._closed_order.append(qid)
        while len(self._closed_order) > MAX_CLOSED_QUESTIONS:
            old = self._closed_order.popleft()
            if (kept := self.questions.get(old)) is not None and kept.closed:
                del self.questions[old]
        changed = {"questions"}
        agent = self.agents.get(question.agent)
        if agent is not None and agent.state == "blocked" and not self._blocked(agent.name):
            self.agents[agent.name] = msgspec.structs.replace(
                agent, state="running", detail="", updated=time
            )
            changed.add("agents")
        return frozenset(changed)

    def _blocked(self, agent: str) -> bool:
        return any(q.agent == agent and q.state == "pending" for q in self.questions.values())

    def _agent(self, event: Event, action: str, payload: dict[str, Any]) -> set[str]:
        state = _AGENT_ACTIONS.get(action)
        name = event.source or _text(payload.get("agent")) or _text(payload.get("name"))
        if state is None or not name:
            return set()
        old = self.agents.get(name) or Agent(name=name)
        task = _text(payload.get("task")) or old.task
        field = _AGENT_DETAIL.get(action)
        detail = _text(payload.get(field)) if field else ""
        if not detail and isinstance(event.payload, str):
            detail = event.payload  # a bare string payload is the message
        if state == "running" and self._blocked(name):
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
            total = _number(payload.get("total"))
            self.progress = Progress(
                total=int(total) if total is not None and total > 0 else 0,
                state="running",
                name=_text(payload.get("name")),
            )
        elif action == "completed":
            self.progress = msgspec.structs.replace(self.progress, state="completed", error="")
        elif action == "failed":
            self.progress = msgspec.structs.replace(
                self.progress, state="failed", error=_text(payload.get("error"))
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
        qid = _text(payload.get("id"))
        if not qid:
            return set()
        if action == "asked":
            if qid in self.questions:
                return set()  # re-announced: one card per id
            agent = _text(payload.get("agent")) or event.source
            asked = event.time
            expires = _number(payload.get("expires"))
            if expires is None:
                timeout = _number(payload.get("timeout"))
                expires = asked + (timeout if timeout is not None else DEFAULT_TIMEOUT)
            self.questions[qid] = Question(
                id=qid,
                agent=agent,
                question=_text(payload.get("question")),
                options=_options(payload.get("options")),
                asked=asked,
                expires=expires,
            )
            if not agent:
                return {"questions"}
            old = self.agents.get(agent) or Agent(name=agent)
            self.agents[agent] = msgspec.structs.replace(
                old, state="blocked", detail=self.questions[qid].question, updated=event.time
            )
            return {"questions", "agents"}
        if action == "answered":
            answer = _text(payload.get("answer"))
            return set(self.close_question(qid, "answered", answer, event.time))
        if action == "expired":
            return set(self.close_question(qid, "expired", None, event.time))
        return set()

    def _service(self, event: Event, payload: dict[str, Any]) -> set[str]:
        sid = _text(payload.get("id")) or _text(payload.get("name")) or event.source
        if not sid:
            return set()
        old = self.services.get(sid) or Service(id=sid, name=sid)
        port = payload.get("port", old.port)
        if isinstance(port, str) and port.strip().isdigit():
            port = int(port)
        self.services[sid] = Service(
            id=sid,
            name=_text(payload.get("name")) or old.name,
            status=_text(payload.get("status")) or old.status,
            port=port if isinstance(port, int) and not isinstance(port, bool) else None,
            description=_field(payload, "description", old.description),
            action=_field(payload, "action", old.action),
            message=_field(payload, "message", old.message),
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
    fields = _as_dict(payload)
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
    return _cut(_text(payload))


def _as_dict(value: Any) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _cut(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > SUMMARY_CHARS:
        return text[: SUMMARY_CHARS - 1] + "…"
    return text


def _text(value: Any) -> str:
    """A payload value as display text ("" for None; numbers and lists as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return _json.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        return repr(value)


def _field(payload: dict[str, Any], key: str, default: str) -> str:
    return _text(payload[key]) if key in payload else default


def _number(value: Any) -> float | None:
    """A finite number from a number or numeric text; None otherwise (bools refused)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _options(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list | tuple):
        return None
    items: list[Any] | tuple[Any, ...] = value  # pyright: ignore[reportUnknownVariableType]
    options = tuple(_text(item) for item in items)
    return options or None
