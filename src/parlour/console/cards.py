"""The question cards: what a person sees and answers, rendered once for every tab.

    register(views, lambda: hub.state)    # the "questions" and "answered" shared views
    question_card(question)               # -> (dom id, <li> card)
    submit(page, payload)                 # a page's `answer` event: publish the answer

Cards that take input are shared views, so they cannot carry one conversation's event
URL. Their Send posts to the URL in the page-local signal `$_answer` (each page sets its
own) with the question id and the tab's own input signal as the payload. That signal's
name is derived from a digest of the id (`answer_signal`), never from the id's text: ids
are chosen by producers (`Job-7`, `UPPER1`, `a__b`, quotes, spaces), while a signal name
is lowercased by the browser and read for `__` modifiers by Datastar.

A card's times are clock times in the markup, with the attributes of
`parlour.console.times` (`AGE` on when it was asked, `LEFT` on when it expires) that the
console's script turns into "asked 2 min 5 s ago" and "4 min 10 s left": the shared view
renders the same bytes for every tab and at every moment, and reads right without script.
The asker and the question link to their history pages (`parlour.console.history`).

What this module does not do: decide whether an answer stands (`parlour.console.asking`
does, and the fold records it), or render anything but questions.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from htpy import (
    Element,
    Node,
    VoidElement,
    a,
    button,
    div,
    form,
    input,
    label,
    li,
    option,
    p,
    select,
    span,
    textarea,
    ul,
)

from parlour import io, patch_signals, service
from parlour.console.access import Access
from parlour.console.answers import FormField, from_page
from parlour.console.errors import InvalidAnswer, NotAssignee, QuestionClosed, QuestionNotFound
from parlour.console.history import agent_href, question_href
from parlour.console.hub import Hub
from parlour.console.model import ConsoleState
from parlour.console.panels import dom_id, js_string
from parlour.console.questions import Question
from parlour.console.times import AGE, LEFT, clock
from parlour.runtime.views import SharedViews

if TYPE_CHECKING:
    from parlour.console.pages import ConsolePage

__all__ = [
    "ANSWERED_SHOWN",
    "answer_signal",
    "answered",
    "question_card",
    "questions_container",
    "questions_items",
    "register",
    "submit",
]

ANSWERED_SHOWN = 5


def answer_signal(qid: str) -> str:
    """The tab-local signal holding the draft answer to question `qid`: `answer_` and the
    first 16 hex digits of the id's SHA-256.

    Only lowercase letters, digits and one `_`, whatever the id holds: the browser keeps
    the name as written (attribute names are lowercased), Datastar finds no `__` modifier
    and no `-` to camel-case in it, and it is a JavaScript identifier for `$answer_…`.
    """
    return "answer_" + hashlib.sha256(qid.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def question_card(q: Question) -> tuple[str, Element]:
    """A pending question's card: who asks (a link to the agent's history), how long ago,
    who may answer and the time left; the text (a link to the question's history); and the
    input of its kind, whose Send posts `{id, answer}` with the card's signals (see the
    module)."""
    ident = dom_id("question", q.id)
    signal = answer_signal(q.id)
    send = (
        f"@post($_answer + '?p=' + encodeURIComponent(JSON.stringify("
        f"{{id: {js_string(q.id)}, answer: {_answer_expression(q, signal)}}})), "
        "{requestCancellation: 'disabled'})"
    )
    return ident, li(
        ".console-question.parlour-card", id=ident, data_question=q.id, data_kind=q.kind
    )[
        div(".console-question-head")[
            a(".console-agent-name", href=agent_href(q.agent))[f"@{q.agent}"],
            span(".console-question-age")[
                "asked ", span(".console-time", {AGE: f"{q.asked:.0f}"})[clock(q.asked)]
            ],
            _assignee(q),
            span(
                ".console-question-expires",
                {LEFT: f"{q.expires:.0f}"},
                data_expires=f"{q.expires:.0f}",
            )[f"expires {clock(q.expires)}"],
        ],
        p(".console-question-text")[
            a(".console-question-link", href=question_href(q.id))[q.question]
        ],
        p(".console-question-default")[f"If nobody answers: {q.default_text}"]
        if q.default is not None
        else None,
        form(
            f".console-answer.console-answer--{q.kind}",
            _form_signals(q, signal),
            {"data-on:submit": send},
        )[_inputs(q, signal)],
    ]


def _assignee(q: Question) -> Node:
    if q.assignee is None:
        return None
    who = (
        f"group {q.assignee.removeprefix('group:')}"
        if q.assignee.startswith("group:")
        else f"@{q.assignee}"
    )
    return span(".console-question-assignee", title="Only they, or an admin, may answer")[
        f"for {who}"
    ]


def _answer_expression(q: Question, signal: str) -> str:
    """What Send posts as the answer: only signal names, never text a producer wrote."""
    if q.kind == "multiple":
        return "[" + ", ".join(f"${signal}_{n}" for n in range(len(q.options or ()))) + "]"
    if q.kind == "approve":
        return f"{{approved: ${signal}_ok, reason: ${signal}_reason}}"
    if q.kind == "form":
        return "[" + ", ".join(f"${signal}_{n}" for n in range(len(q.fields or ()))) + "]"
    return f"${signal}"


def _form_signals(q: Question, signal: str) -> dict[str, str]:
    """A form's number fields start as text (empty is then "no value", not 0)."""
    if q.kind != "form":
        return {}
    texts = {
        f"{signal}_{n}": "" if f.default is None else str(f.default)
        for n, f in enumerate(q.fields or ())
        if f.type in ("number", "integer") and f.enum is None
    }
    if not texts:
        return {}
    return {"data-signals__ifmissing": json.dumps(texts)}


def _send() -> Element:
    return button(".parlour-button.parlour-button--primary", type="submit")["Send"]


def _inputs(q: Question, signal: str) -> Node:
    if q.kind == "choice":
        return div(".console-choices")[
            (
                button(
                    ".parlour-button.console-choice",
                    {"data-on:click": f"${signal} = {js_string(o)}"},
                    type="submit",
                    value=o,
                )[o]
                for o in q.options or ()
            )
        ]
    if q.kind == "multiple":
        return [
            div(".console-checks", role="group", aria_label="answer")[
                (
                    label(".console-check")[
                        input({f"data-bind:{signal}_{n}": True}, type="checkbox", name=f"o{n}"),
                        o,
                    ]
                    for n, o in enumerate(q.options or ())
                )
            ],
            _send(),
        ]
    if q.kind == "approve":
        return [
            textarea(
                ".parlour-input.console-reason",
                {f"data-bind:{signal}_reason": True},
                aria_label="reason",
                placeholder="Reason (required to reject)",
                required=True,
                rows="2",
            ),
            div(".console-choices")[
                button(
                    ".parlour-button.parlour-button--primary.console-approve",
                    {"data-on:click": f"${signal}_ok = true"},
                    type="submit",
                    formnovalidate=True,
                )["Approve"],
                button(
                    ".parlour-button.console-reject",
                    {"data-on:click": f"${signal}_ok = false"},
                    type="submit",
                )["Reject"],
            ],
        ]
    if q.kind == "form":
        return [
            div(".console-fields")[
                (_field(f, f"{signal}_{n}") for n, f in enumerate(q.fields or ()))
            ],
            _send(),
        ]
    return div(".parlour-row")[
        input(
            ".parlour-input",
            {f"data-bind:{signal}": True},
            type="text",
            placeholder="Your answer",
            aria_label="answer",
            autocomplete="off",
        ),
        _send(),
    ]


def _field(f: FormField, signal: str) -> Element:
    """One form field with its label and the native input of its type and limits."""
    bind = {f"data-bind:{signal}": True}
    control: Element | VoidElement
    if f.type == "boolean":
        control = input(bind, type="checkbox", name=f.name, checked=f.default is True)
        return label(".console-field.console-field--check")[
            control, span(".console-field-label")[f.label], _hint(f)
        ]
    if f.enum is not None:
        control = select(".parlour-input", bind, name=f.name, required=f.required)[
            option(value="")["choose…"],
            (option(value=str(v), selected=v == f.default)[str(v)] for v in f.enum),
        ]
    elif f.type == "string":
        control = input(
            ".parlour-input",
            bind,
            type="text",
            name=f.name,
            required=f.required,
            value=f.default if isinstance(f.default, str) else None,
            minlength=str(f.min_length) if f.min_length is not None else None,
            maxlength=str(f.max_length) if f.max_length is not None else None,
            autocomplete="off",
        )
    else:
        control = input(
            ".parlour-input",
            bind,
            type="number",
            name=f.name,
            required=f.required,
            step="1" if f.type == "integer" else "any",
            min=f"{f.minimum:g}" if f.minimum is not None else None,
            max=f"{f.maximum:g}" if f.maximum is not None else None,
            value=str(f.default) if f.default is not None else None,
        )
    return label(".console-field")[
        span(".console-field-label")[
            f.label, span(".console-required")[" *"] if f.required else None
        ],
        control,
        _hint(f),
    ]


def _hint(f: FormField) -> Node:
    return span(".console-field-hint")[f.description] if f.description else None


def questions_container(items: Node) -> Element:
    return ul("#questions.console-questions")[items]


def questions_items(state: ConsoleState) -> list[tuple[str, Element]]:
    return [question_card(q) for q in state.pending_questions()]


def answered(state: ConsoleState) -> Element:
    """The newest closed questions: what was answered, and by whom (or that it expired)."""
    closed = state.closed_questions(ANSWERED_SHOWN)
    return ul("#answered.console-list.console-answered")[
        (
            li(
                ".console-answered-item",
                id=dom_id("answered", q.id),
                data_state=q.state,
            )[
                span(".console-time")[clock(q.closed_at)],
                span(".console-agent-name")[f"@{q.agent}"],
                span(".console-answered-question")[q.question],
                span(".console-answered-answer")[q.answer_text]
                if q.state == "answered"
                else span(".console-muted")[
                    "cancelled" if q.state == "cancelled" else "expired unanswered"
                ],
                span(".console-answered-by")[f"answered by {q.answered_by}"]
                if q.state == "answered" and q.answered_by
                else None,
                span(".console-answered-by.console-defaulted")["defaulted: nobody answered"]
                if q.defaulted
                else None,
                span(".console-answered-by")[f"by {q.answered_by}"]
                if q.state == "cancelled" and q.answered_by
                else None,
            ]
            for q in closed
        )
        if closed
        else li(".console-empty")["Nothing answered yet."]
    ]


def register(views: SharedViews, state: Callable[[], ConsoleState]) -> None:
    """Add the question views to `views`: "questions" (the pending cards) and "answered"."""
    views.add_list("questions", questions_container, lambda: questions_items(state()))
    views.add("answered", lambda: answered(state()))


# -- a page's answer ---------------------------------------------------------------------------


def submit(page: ConsolePage, payload: Any) -> Any:
    """A card's Send, as the page's `answer` event receives it ({id, answer}): the raw
    values made the answer the API would take (`parlour.console.answers.from_page`), then
    published as the page's person, or the page says why not. An answerer the question is
    not assigned to is refused here (Forbidden), and again by the hub."""
    data = cast(dict[str, Any], payload) if isinstance(payload, dict) else {}
    qid, raw = str(data.get("id", "")), data.get("answer")
    hub = service(Hub)
    question = hub.state.questions.get(qid)
    if question is None or question.kind in ("text", "choice"):
        answer: Any = "" if raw is None else str(raw)
        if not answer.strip():
            page.notice = "Type an answer (or pick an option) before sending."
            return None
    else:
        answer = from_page(question.kind, question.options, question.fields, raw)
    who = service(Access).answerer(page.person())
    if question is not None and not question.may_answer(who):
        page.notice = f"Forbidden (403): {_not_yours(question, who.name)}"
        return None
    return io(functools.partial(hub.answer, qid, answer, by=who), page.answered)


def _not_yours(question: Question, name: str) -> str:
    return (
        f"this question is for {question.assignee}; only they or an admin may answer it, not {name}"
    )


def answered_notice(page: ConsolePage, question: Question) -> Any:
    """After an answer stood: say so on the page and clear the card's draft."""
    page.notice = f"Answered @{question.agent}: {question.answer_text}"
    if question.answered_by:
        page.notice += f" (answered by {question.answered_by})"
    return patch_signals({answer_signal(question.id): ""})


def refused(page: ConsolePage, error: BaseException) -> None:
    """An answer that did not stand: its reason on the page (anything else is a failure)."""
    if isinstance(error, NotAssignee):
        page.notice = f"Forbidden (403): {error}"
    elif isinstance(error, InvalidAnswer | QuestionClosed | QuestionNotFound):
        page.notice = str(error)
    else:
        raise error
