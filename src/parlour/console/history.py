"""What happened to one question and to one agent, read back from the console's journal.

    question_href("q-7")                        "/questions/q-7"   (the pages link here)
    agent_href("deployer")                      "/agents/deployer"
    await load_question(hub, "q-7")             QuestionStory, or None when unknown
    await load_agent(hub, "deployer")           AgentStory (empty when never heard of)
    question_story(events, "q-7", known)        the same, from events at hand (pure)
    agent_story(events, "deployer")

A question's story: who asked what, when, with which options, until when; then how it
ended (answered, by whom and when; or expired, cancelled, defaulted: whatever closing topic
its producer published) and every event about it, in order. An agent's story: its events as
a timeline, oldest first, each closing step with how long it took (a run from
`agent.started` to `agent.completed`/`failed`/..., a wait from the agent's question to its
answer), and the totals. Both come from the journal (the console's event history, the newest
10 000 events by default), so they survive a restart; the state's own record of a question
(`ConsoleState.questions`) decides how it ended when the state still has it, since the fold
is what judged the closings.

What this module does not do: render (`parlour.console.history_pages`), or keep anything:
a story is read when a page asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import msgspec

from parlour.console.model import describe
from parlour.console.payloads import as_dict, number, options, text

if TYPE_CHECKING:
    from parlour.bus.event import Event
    from parlour.console.hub import Hub
    from parlour.console.questions import Question

__all__ = [
    "MAX_STEPS",
    "AgentStory",
    "QuestionStory",
    "Step",
    "add_event",
    "agent_href",
    "agent_story",
    "load_agent",
    "load_question",
    "question_href",
    "question_story",
]

MAX_STEPS: Final = 200
"""The newest steps a story keeps (a page holds its story in its state: bounded)."""
_PAGE: Final = 1000

_RUN_ENDS: Final = frozenset({"completed", "failed", "cancelled", "skipped"})


def question_href(qid: str) -> str:
    """The history page of question `qid` (any id: it is quoted into one path segment)."""
    return "/questions/" + quote(qid, safe="")


def agent_href(name: str) -> str:
    """The history page of agent (or any event source) `name`."""
    return "/agents/" + quote(name, safe="")


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a timeline: an event, and how long the thing it closes took."""

    id: int
    time: float
    topic: str
    who: str = ""
    summary: str = ""
    took: float | None = None
    """Seconds since what this step closes began (a run, a wait for an answer)."""


class QuestionStory(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agent: str = ""
    question: str = ""
    options: tuple[str, ...] | None = None
    asked: float = 0.0
    expires: float = 0.0
    state: str = "pending"
    """pending, answered, expired, or the closing topic's action (cancelled, defaulted, ...)."""
    answer: str | None = None
    by: str | None = None
    closed_at: float = 0.0
    steps: tuple[Step, ...] = ()


class AgentStory(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    steps: tuple[Step, ...] = ()
    """Oldest first, the newest `MAX_STEPS`."""
    events: int = 0
    first: float = 0.0
    last: float = 0.0
    runs: int = 0
    running: float = 0.0
    """Seconds spent in finished runs (started to completed, failed, ...)."""
    waiting: float = 0.0
    """Seconds spent waiting for answers to its questions (asked to closed)."""
    run_started: float | None = None
    """When the run in progress started (None between runs)."""
    open_questions: dict[str, float] = msgspec.field(default_factory=dict[str, float])
    """Its questions still waiting: id -> when asked."""


def _payload(event: Event) -> dict[str, Any]:
    return as_dict(event.payload) or {}


def _action(topic: str) -> str:
    return topic.partition(".")[2].partition(".")[0]


def question_story(
    events: Iterable[Event], qid: str, known: Question | None = None
) -> QuestionStory | None:
    """The story of question `qid` from `events` (in id order), how it ended taken from
    `known` (the state's record) when given; None when nothing was ever asked under `qid`."""
    mine = [
        e for e in events if e.topic.startswith("question.") and text(_payload(e).get("id")) == qid
    ]
    asked = next((e for e in mine if _action(e.topic) == "asked"), None)
    if asked is None and known is None:
        return None
    story = QuestionStory(id=qid)
    if asked is not None:
        fields = _payload(asked)
        story = msgspec.structs.replace(
            story,
            agent=text(fields.get("agent")) or asked.source,
            question=text(fields.get("question")),
            options=options(fields.get("options")),
            asked=asked.time,
            expires=number(fields.get("expires")) or 0.0,
        )
    steps = tuple(_question_step(e, story.asked) for e in mine)
    story = msgspec.structs.replace(story, steps=steps[-MAX_STEPS:])
    if known is not None:
        return msgspec.structs.replace(
            story,
            agent=story.agent or known.agent,
            question=story.question or known.question,
            options=story.options if asked is not None else known.options,
            asked=story.asked or known.asked,
            expires=story.expires or known.expires,
            state=known.state,
            answer=known.answer,
            by=known.answered_by,
            closed_at=known.closed_at,
        )
    closing = next((e for e in mine if _action(e.topic) not in ("asked", "")), None)
    if closing is None:
        return story
    fields, action = _payload(closing), _action(closing.topic)
    return msgspec.structs.replace(
        story,
        state=action,
        answer=text(fields.get("answer")) or None,
        by=text(fields.get("by")) or None,
        closed_at=closing.time,
    )


def _question_step(event: Event, asked: float) -> Step:
    fields, action = _payload(event), _action(event.topic)
    who = text(fields.get("by")) or event.source
    summary = describe(event.payload)
    if action == "answered":
        summary = text(fields.get("answer"))
    took = event.time - asked if action != "asked" and asked else None
    return Step(
        id=event.id, time=event.time, topic=event.topic, who=who, summary=summary, took=took
    )


def agent_story(events: Iterable[Event], name: str) -> AgentStory:
    """The story of agent `name` from `events` (in id order): its own events (source
    `name`) and the questions it asked, with the durations of its runs and waits."""
    story = AgentStory(name=name)
    for event in events:
        story = add_event(story, event)
    return story


def add_event(story: AgentStory, event: Event) -> AgentStory:
    """`story` with `event` told, if it is about the agent (else `story` itself)."""
    fields = _payload(event)
    action = _action(event.topic)
    is_question = event.topic.startswith("question.")
    waiting_for = dict(story.open_questions)
    took: float | None = None
    runs, running, waiting, run_started = (
        story.runs,
        story.running,
        story.waiting,
        story.run_started,
    )
    if is_question:
        qid = text(fields.get("id"))
        if action == "asked":
            if (text(fields.get("agent")) or event.source) != story.name or qid in waiting_for:
                return story
            waiting_for[qid] = event.time
        elif qid in waiting_for:
            took = event.time - waiting_for.pop(qid)
            waiting += took
        else:
            return story
    elif event.source != story.name:
        return story
    elif event.topic.startswith("agent.") and action == "started":
        run_started, runs = event.time, runs + 1
    elif event.topic.startswith("agent.") and action in _RUN_ENDS and run_started is not None:
        took, run_started = event.time - run_started, None
        running += took
    step = Step(
        id=event.id,
        time=event.time,
        topic=event.topic,
        who=text(fields.get("by")) if is_question else "",
        summary=describe(event.payload),
        took=took,
    )
    return msgspec.structs.replace(
        story,
        steps=(*story.steps, step)[-MAX_STEPS:],
        events=story.events + 1,
        first=story.first or event.time,
        last=event.time,
        runs=runs,
        running=running,
        waiting=waiting,
        run_started=run_started,
        open_questions=waiting_for,
    )


async def _journal(hub: Hub, pattern: str = ">") -> list[Event]:
    """Every event the journal holds that matches `pattern`, in id order."""
    found: list[Event] = []
    cursor = 0
    while True:  # ends: each page moves the cursor on, and the journal is finite
        page: Sequence[Event] = await hub.journal.read(after=cursor, limit=_PAGE, pattern=pattern)
        found.extend(page)
        if len(page) < _PAGE:
            return found
        cursor = page[-1].id


async def load_question(hub: Hub, qid: str) -> QuestionStory | None:
    """Question `qid`'s story from the journal and the state; None when unknown."""
    return question_story(await _journal(hub, "question.>"), qid, hub.state.questions.get(qid))


async def load_agent(hub: Hub, name: str) -> AgentStory:
    """Agent `name`'s story from the journal."""
    return agent_story(await _journal(hub), name)
