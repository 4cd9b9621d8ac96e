"""The history pages: every question, one question's story, one agent's timeline.

    /questions            every question the console remembers, newest first (the shared
                          view `question_list`, live)
    /questions/ID         one question: asked by whom, what, when, until when; answered by
                          whom and when (or expired, cancelled, ...), and each event about it
    /agents/NAME          one agent (or any event source): its events as a timeline, how
                          long each run and each wait for an answer took, and the totals

A question's or an agent's page reads its story from the journal when it opens
(`parlour.console.history`) and follows the bus from then on: a new event about it is added
to the timeline (an agent's) or the story is read again (a question's), so an open page
stays true without a reload. The story lives in the page's state, bounded (the newest
`MAX_STEPS` steps).
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from htpy import (
    Element,
    Node,
    a,
    b,
    code,
    div,
    h2,
    li,
    p,
    span,
    table,
    tbody,
    td,
    th,
    thead,
    tr,
    ul,
)

from parlour import io, service, shared, subscribe
from parlour.bus.event import Event
from parlour.console.frame import ConsolePage
from parlour.console.history import (
    AgentStory,
    QuestionStory,
    Step,
    add_event,
    agent_href,
    load_agent,
    load_question,
)
from parlour.console.hub import Hub
from parlour.console.payloads import as_dict, text
from parlour.console.times import AGE, clock, length, stamp
from parlour.core.visit import Visit

__all__ = ["HISTORY_PAGES", "AgentPage", "QuestionPage", "QuestionsPage"]


def _back() -> Element:
    return p(".console-back")[a(href="/")["← Agents"], " · ", a(href="/questions")["Questions"]]


def timeline(steps: tuple[Step, ...], *, durations: str) -> Element:
    """The steps as a table, oldest first: time, what happened, who, the detail, and how
    long the thing it closed took (`durations` names that column)."""
    return table(".console-timeline")[
        thead[tr[th["Time"], th["Event"], th["Who"], th["Detail"], th[durations]]],
        tbody[
            (
                tr(id=f"step-{step.id}")[
                    td(".console-time")[stamp(step.time)],
                    td[code(".console-topic")[step.topic]],
                    td[step.who],
                    td(".console-summary")[step.summary],
                    td(".console-took")[length(step.took) if step.took is not None else ""],
                ]
                for step in steps
            )
        ],
    ]


class QuestionsPage(ConsolePage, name="parlour.console.QuestionsPage"):
    """Every question the console remembers, newest first; each opens its story."""

    href: ClassVar[str] = "/questions"

    def body(self) -> Node:
        return div(".console-history")[
            _back(),
            h2(".console-page-title")["Questions"],
            shared("question_list"),
        ]


class QuestionPage(ConsolePage, name="parlour.console.QuestionPage"):
    """One question's story (see the module's docstring)."""

    href: ClassVar[str] = "/questions/{qid:path}"
    qid: str = ""
    story: QuestionStory | None = None
    loaded: bool = False

    def visited(self, visit: Visit) -> None:
        self.qid = visit.params.get("qid", "")

    def start(self) -> Any:
        return [subscribe("question.>", self.heard), self.load()]

    def load(self) -> Any:
        return io(functools.partial(load_question, service(Hub), self.qid), self.read)

    def read(self, story: QuestionStory | None) -> None:
        self.story, self.loaded = story, True

    def heard(self, event: Event) -> Any:
        if text((as_dict(event.payload) or {}).get("id")) == self.qid:
            return self.load()
        return None

    def body(self) -> Node:
        story = self.story
        if story is None:
            return div(".console-history")[
                _back(),
                h2(".console-page-title")["Question"],
                p(".console-empty")[
                    f"No question with id {self.qid!r} in the console's history."
                    if self.loaded
                    else "Reading the history…"
                ],
            ]
        return div(".console-history")[
            _back(),
            h2(".console-page-title")["Question ", code[story.id]],
            div(".parlour-card.console-story", id="story", data_state=story.state)[
                p[
                    a(".console-agent-name", href=agent_href(story.agent))[f"@{story.agent}"],
                    " asked ",
                    span({AGE: f"{story.asked:.0f}"}, class_="console-time")[stamp(story.asked)],
                ],
                p(".console-story-question")[story.question],
                p(".console-muted")[f"Options: {', '.join(story.options)}"]
                if story.options
                else p(".console-muted")["A free-text answer"],
                p(".console-muted")[f"Expires {stamp(story.expires)}"] if story.expires else None,
                self.outcome(story),
            ],
            h2(".console-h2")["Events"],
            timeline(story.steps, durations="After"),
        ]

    def outcome(self, story: QuestionStory) -> Element:
        badge = span(f".console-badge.console-badge--{story.state}")[story.state]
        if story.state == "pending":
            return p[badge, " waiting for an answer"]
        after = f" (after {length(story.closed_at - story.asked)})" if story.asked else ""
        when = stamp(story.closed_at) if story.closed_at else ""
        if story.state == "answered":
            return p[
                badge,
                " ",
                b(".console-story-answer")[story.answer or ""],
                f" by {story.by}" if story.by else "",
                f" at {when}{after}",
            ]
        return p[badge, f" at {when}{after}"]


class AgentPage(ConsolePage, name="parlour.console.AgentPage"):
    """One agent's timeline (see the module's docstring)."""

    href: ClassVar[str] = "/agents/{name:path}"
    name: str = ""
    story: AgentStory | None = None

    def visited(self, visit: Visit) -> None:
        self.name = visit.params.get("name", "")

    def start(self) -> Any:
        load = functools.partial(load_agent, service(Hub), self.name)
        return [subscribe(">", self.heard), io(load, self.read)]

    def read(self, story: AgentStory) -> None:
        self.story = story

    def heard(self, event: Event) -> None:
        story = self.story
        if story is None or (story.steps and event.id <= story.steps[-1].id):
            return  # before the journal was read (it holds it), or read with it
        self.story = add_event(story, event)

    def body(self) -> Node:
        story = self.story
        title = h2(".console-page-title")["Agent ", code[self.name]]
        if story is None:
            return div(".console-history")[_back(), title, p(".console-empty")["Reading…"]]
        if not story.events:
            return div(".console-history")[
                _back(),
                title,
                p(".console-empty")[f"No events from {self.name!r} in the console's history."],
            ]
        current = service(Hub).state.agents.get(self.name)
        return div(".console-history")[
            _back(),
            title,
            div(".parlour-card.console-story", id="story")[
                ul(".console-facts")[
                    li[span(".console-muted")["Now "], current.state if current else "—"],
                    li[span(".console-muted")["First seen "], stamp(story.first)],
                    li[
                        span(".console-muted")["Last heard "],
                        span({AGE: f"{story.last:.0f}"})[clock(story.last)],
                    ],
                    li[span(".console-muted")["Events "], str(story.events)],
                    li[span(".console-muted")["Runs "], str(story.runs)],
                    li[span(".console-muted")["Running "], length(story.running)],
                    li[span(".console-muted")["Waiting for answers "], length(story.waiting)],
                ],
            ],
            h2(".console-h2")["Timeline"],
            timeline(story.steps, durations="Took"),
        ]


HISTORY_PAGES: dict[str, type[ConsolePage]] = {
    page.href: page for page in (QuestionsPage, QuestionPage, AgentPage)
}
"""The history pages by route (`parlour.console.pages.PAGES` adds them)."""
