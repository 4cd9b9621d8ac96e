"""The console's shared views: what every tab shows the same, rendered once per update.

Each function renders one panel from the console state. The hub calls `register(views, …)`
once; afterwards a folded event invalidates the panels it changed (`PARTS`), and the runtime
re-renders each of those once per window and sends the same patch to every tab that shows
it (`parlour.runtime.views`). Panels are pure functions of the state: two renders of the same
state are byte-identical (R8), and everything a user or an agent wrote is escaped by htpy
(R19). Ids are deterministic (`agent-<name>`, `question-<id>`, `service-<id>`), so a patch
morphs exactly the rows that changed (R2).

The question cards (they take input) live in `parlour.console.cards`, which registers the
"questions" and "answered" views itself.

The launcher's recent-target chips work the same way round: a chip only sets the signal
`$launch_target` that the page's target input is bound to (`LAUNCH_TARGET`); the page's
Start button sends it with its own event.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from htpy import (
    Element,
    Node,
    a,
    b,
    button,
    code,
    div,
    h2,
    li,
    p,
    section,
    span,
    table,
    tbody,
    td,
    th,
    tr,
    ul,
)

from parlour.console.history import agent_href, question_href
from parlour.console.model import Agent, ConsoleState, Service
from parlour.console.times import AGE, length
from parlour.core.widgets import widget_attrs
from parlour.runtime.views import SharedViews

__all__ = [
    "LAUNCH_BUNDLE",
    "LAUNCH_TARGET",
    "PANELS",
    "agent_state",
    "dom_id",
    "js_string",
    "register",
]

LOG_SHOWN = 200
RESULTS_SHOWN = 10
QUESTIONS_LISTED = 100
"""How many questions the question history lists (the newest asked)."""
WAITING_IDS = 50
"""How many pending question ids the `waiting` view hands its behaviour (to notice new ones)."""
ACTIVE = frozenset({"pending", "running"})
"""Agent states that go stale when the agent stays silent (blocked ones wait for a person,
finished ones are done)."""

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")

LAUNCH_TARGET = "launch_target"
"""The page-global signal the launcher's target input is bound to (sent with every POST)."""
LAUNCH_BUNDLE = "launch_bundle"
"""The page-global signal the launcher's bundle select is bound to."""

_JS_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._- ")


def dom_id(prefix: str, key: str) -> str:
    """A deterministic element id for `key` (names may hold anything; ids may not)."""
    safe = _UNSAFE_ID.sub("_", key)
    if safe != key:
        safe += "-" + format(_stable_hash(key), "x")
    return f"{prefix}-{safe}"


def _stable_hash(text: str) -> int:
    value = 2166136261
    for byte in text.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def js_string(text: str) -> str:
    """`text` as a double-quoted JavaScript string literal for a Datastar expression.

    Every character but letters, digits, space and `/._-` is written as a `\\uXXXX`
    escape, so the literal holds no quote, `$`, `@` or `;` that Datastar's expression
    rewriting (signals, actions, statements) could act on, whatever a path contains.
    """
    parts = ['"']
    for char in text:
        if char in _JS_SAFE:
            parts.append(char)
            continue
        units = char.encode("utf-16-be", "surrogatepass")
        parts.extend(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
    parts.append('"')
    return "".join(parts)


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


# -- Agents page ----------------------------------------------------------------------------


def progress(state: ConsoleState) -> Element:
    prog = state.progress
    percent = prog.percent
    if prog.state == "failed":
        label, tone = f"Failed: {prog.error}", "failed"
    elif prog.state == "completed":
        label, tone = "Completed", "completed"
    elif prog.state == "running":
        name = f"{prog.name} · " if prog.name else ""
        label, tone = f"{name}{percent:.0f} %", "running"
    else:
        label, tone = "No run yet", "idle"
    return section("#progress.console-panel", data_state=tone)[
        div(".console-progress-head")[
            span(".console-progress-text")[prog.text],
            span(".console-progress-label")[label],
        ],
        div(".console-bar", role="progressbar", aria_valuenow=f"{percent:.0f}")[
            div(".console-bar-fill", style=f"width: {percent:.1f}%")
        ],
    ]


def now() -> float:
    """The time the agents view judges silence by (tests replace it)."""
    return time.time()


def agent_state(agent: Agent, stale_after: float, at: float) -> str | None:
    """How `agent` shows at time `at`: its state; "stale" when it is pending or running and
    has been silent for `stale_after` seconds; None (not listed) after twice that, unless
    it is blocked (it waits for a person, however long)."""
    silent = at - agent.updated
    if agent.state != "blocked" and silent >= 2 * stale_after:
        return None
    if agent.state in ACTIVE and silent >= stale_after:
        return "stale"
    return agent.state


def agent_row(agent: Agent, shown: str | None = None) -> tuple[str, Element]:
    ident = dom_id("agent", agent.name)
    state = shown or agent.state
    detail = agent.detail or agent.task
    if state == "stale":
        detail = f"silent since {_clock(agent.updated)} (was {agent.state})"
    return ident, li(".console-agent", id=ident, data_state=state)[
        a(".console-agent-name", href=agent_href(agent.name))[agent.name],
        span(f".console-badge.console-badge--{state}")[state],
        span(".console-agent-detail")[detail],
    ]


def agents_container(items: Node) -> Element:
    return ul("#agents.console-list")[items]


def agents_items(state: ConsoleState, at: float | None = None) -> list[tuple[str, Element]]:
    """The rows of the agents that still show at `at` (default: `now()`), by name."""
    at = now() if at is None else at
    stale_after = state.settings.stale_after
    rows: list[tuple[str, Element]] = []
    for agent in state.agent_rows():
        shown = agent_state(agent, stale_after, at)
        if shown is not None:
            rows.append(agent_row(agent, shown))
    return rows


# -- who is waiting, and every question ---------------------------------------------------------


def waiting(state: ConsoleState) -> Element:
    """How many questions wait for an answer, on every page: a link to them, and the data
    of the `console-waiting` behaviour (static/console.js), which puts the count in the
    tab's title and notifies of new questions when the person asked for it."""
    pending = state.pending_questions()
    newest = pending[-1] if pending else None
    data = {
        "count": len(pending),
        "ids": [q.id for q in pending[-WAITING_IDS:]],
        "newest": {"id": newest.id, "agent": newest.agent, "question": newest.question[:200]}
        if newest is not None
        else None,
    }
    count = len(pending)
    return a(
        "#waiting.console-waiting",
        widget_attrs("console-waiting", data),
        href="/#questions",
        data_count=str(count),
        title="Questions waiting for an answer",
    )[
        span(".console-waiting-count")[str(count)],
        " waiting for you" if count else " waiting",
    ]


def question_list(state: ConsoleState) -> Element:
    """Every question the state remembers (pending, and the newest closed), newest asked
    first, each a link to its story."""
    questions = sorted(state.questions.values(), key=lambda q: (q.asked, q.id), reverse=True)
    shown = questions[:QUESTIONS_LISTED]
    return ul("#question_list.console-list.console-question-list")[
        (
            li(id=dom_id("asked", q.id), data_state=q.state)[
                span({AGE: f"{q.asked:.0f}"}, class_="console-time")[_clock(q.asked)],
                a(".console-agent-name", href=agent_href(q.agent))[f"@{q.agent}"],
                a(".console-question-link", href=question_href(q.id))[q.question],
                span(f".console-badge.console-badge--{q.state}")[q.state],
                span(".console-answered-answer")[q.answer] if q.answer is not None else None,
                span(".console-answered-by")[
                    f"by {q.answered_by}" if q.answered_by else "",
                    f" after {length(q.closed_at - q.asked)}" if q.closed_at else "",
                ]
                if q.closed
                else None,
            ]
            for q in shown
        )
        if shown
        else li(".console-empty")["No question asked yet."]
    ]


def launcher(state: ConsoleState) -> Element:
    """The recent run targets as chips; a click puts the target in the launcher's input."""
    targets = state.recent_targets
    return div("#launcher.console-chips")[
        span(".console-muted")["Recent:"] if targets else None,
        (
            button(
                ".console-chip",
                {"data-on:click": f"${LAUNCH_TARGET} = {js_string(t)}"},
                type="button",
                title=f"Use {t}",
            )[t]
            for t in targets
        ),
    ]


def results(state: ConsoleState) -> Element:
    shown = list(state.results)[:RESULTS_SHOWN]
    return ul("#results.console-list")[
        (
            li(".console-result")[
                span(".console-time")[_clock(r.time)],
                span(".console-agent-name")[r.agent],
                span(".console-result-summary")[r.summary],
            ]
            for r in shown
        )
        if shown
        else li(".console-empty")["No results yet."]
    ]


def log_container(items: Node) -> Element:
    return ul("#log.console-log")[items]


def log_items(state: ConsoleState) -> list[tuple[str, Element]]:
    """The newest entries; topics as the API spells them (`agent.completed`), each source
    a link to its timeline."""
    return [
        (
            f"log-{e.id}",
            li(".console-log-entry", id=f"log-{e.id}", data_kind=e.kind)[
                span(".console-time")[_clock(e.time)],
                span(".console-topic")[e.topic],
                a(".console-source", href=agent_href(e.source))[f"@{e.source}"]
                if e.source
                else span(".console-source"),
                span(".console-summary")[e.summary],
            ],
        )
        for e in list(state.log)[:LOG_SHOWN]
    ]


# -- Status page ----------------------------------------------------------------------------


_PILL_TONE = {
    "running": "ok",
    "standby": "ok",
    "conflict": "bad",
    "in use": "warn",
    "stale": "warn",
    "stopped": "bad",
}


def service_card(svc: Service) -> tuple[str, Element]:
    ident = dom_id("service", svc.id)
    tone = _PILL_TONE.get(str(svc.status).lower(), "warn")
    port = f":{svc.port}" if svc.port else ""
    return ident, li(".console-service.parlour-card", id=ident)[
        div(".console-service-head")[
            b[f"{svc.name}{port}"],
            span(f".console-pill.console-pill--{tone}")[svc.status],
        ],
        p(".console-muted")[svc.description] if svc.description else None,
        p[span(".console-muted")["Last: "], svc.action or "—"],
        p(".console-service-message")[svc.message] if svc.message else None,
    ]


def services_container(items: Node) -> Element:
    return ul("#services.console-cards")[items]


def services_items(state: ConsoleState) -> list[tuple[str, Element]]:
    return [service_card(s) for s in state.service_rows()]


def figure_table(rows: Sequence[tuple[str, Node]]) -> Element:
    return table(".console-figures")[tbody[(tr[th[k], td[v]] for k, v in rows)]]


def meter(percent: float, level: str) -> Element:
    return div(f".console-bar.console-bar--{level}")[
        div(".console-bar-fill", style=f"width: {min(100.0, max(0.0, percent)):.1f}%")
    ]


# -- registration -------------------------------------------------------------------------

PANELS = ("progress", "agents", "questions", "results", "log", "services", "launcher")
"""The panels fed by the console state; each name is also a part `ConsoleState.fold` reports."""


def register(views: SharedViews, state: Callable[[], ConsoleState]) -> None:
    """Add the state panels to `views` (a `SharedViews`); `state()` gives the current state."""
    views.add("progress", lambda: progress(state()))
    views.add_list("agents", agents_container, lambda: agents_items(state()))
    views.add("results", lambda: results(state()))
    views.add_list("log", log_container, lambda: log_items(state()))
    views.add_list("services", services_container, lambda: services_items(state()))
    views.add("launcher", lambda: launcher(state()))
    views.add("waiting", lambda: waiting(state()))
    views.add("question_list", lambda: question_list(state()))


def part_views(parts: frozenset[str]) -> list[str]:
    """The panels to re-render after a fold that changed `parts`: the questions part feeds
    the pending cards, the recently answered, the waiting count and the question history;
    the settings part the agents (how long silence may last)."""
    names = [name for name in PANELS if name in parts]
    if "questions" in parts:
        names.extend(("answered", "waiting", "question_list"))
    if "settings" in parts and "agents" not in names:
        names.append("agents")
    return names


def kv(rows: Mapping[str, Any]) -> list[tuple[str, Node]]:
    return [(k, code[str(v)] if v is not None else "—") for k, v in rows.items()]


def heading(text: str) -> Element:
    return h2(".console-h2")[text]
