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

What this module does not do: decide whether an answer stands (`parlour.console.asking`
does, and the fold records it), or render anything but questions.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from htpy import Element, Node, button, div, form, input, li, option, p, select, span, ul

from parlour import io, patch_signals, service
from parlour.console.errors import InvalidAnswer, QuestionClosed, QuestionNotFound
from parlour.console.hub import Hub
from parlour.console.model import ConsoleState
from parlour.console.panels import dom_id, js_string
from parlour.console.questions import Question
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


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def question_card(q: Question) -> tuple[str, Element]:
    ident = dom_id("question", q.id)
    signal = answer_signal(q.id)
    payload = f"{{id: {js_string(q.id)}, answer: ${signal}}}"
    send = (
        f"@post($_answer + '?p=' + encodeURIComponent(JSON.stringify({payload})), "
        "{requestCancellation: 'disabled'})"
    )
    if q.options:
        field = select(".parlour-input", {f"data-bind:{signal}": True}, aria_label="answer")[
            option(value="")["choose…"],
            (option(value=o)[o] for o in q.options),
        ]
    else:
        field = input(
            ".parlour-input",
            {f"data-bind:{signal}": True},
            type="text",
            placeholder="Your answer",
            aria_label="answer",
            autocomplete="off",
        )
    return ident, li(".console-question.parlour-card", id=ident, data_question=q.id)[
        div(".console-question-head")[
            span(".console-agent-name")[f"@{q.agent}"],
            span(".console-question-expires", data_expires=f"{q.expires:.0f}")[
                f"expires {_clock(q.expires)}"
            ],
        ],
        p(".console-question-text")[q.question],
        form(".parlour-row", {"data-on:submit": send})[
            field,
            button(".parlour-button.parlour-button--primary", type="submit")["Send"],
        ],
    ]


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
                span(".console-time")[_clock(q.closed_at)],
                span(".console-agent-name")[f"@{q.agent}"],
                span(".console-answered-question")[q.question],
                span(".console-answered-answer")[q.answer]
                if q.state == "answered"
                else span(".console-muted")["expired unanswered"],
                span(".console-answered-by")[f"answered by {q.answered_by}"]
                if q.state == "answered" and q.answered_by
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
    """A card's Send, as the page's `answer` event receives it ({id, answer}): publish the
    answer as the page's person, or say on the page why not."""
    data = cast(dict[str, Any], payload) if isinstance(payload, dict) else {}
    qid, text = str(data.get("id", "")), data.get("answer")
    text = "" if text is None else str(text)
    if not text.strip():
        page.notice = "Type an answer (or pick an option) before sending."
        return None
    hub = service(Hub)
    return io(functools.partial(hub.answer, qid, text, by=page.person()), page.answered)


def answered_notice(page: ConsolePage, question: Question) -> Any:
    """After an answer stood: say so on the page and clear the card's draft."""
    page.notice = f"Answered @{question.agent}: {question.answer}"
    if question.answered_by:
        page.notice += f" (answered by {question.answered_by})"
    return patch_signals({answer_signal(question.id): ""})


def refused(page: ConsolePage, error: BaseException) -> None:
    """An answer that did not stand: its reason on the page (anything else is a failure)."""
    if isinstance(error, InvalidAnswer | QuestionClosed | QuestionNotFound):
        page.notice = str(error)
    else:
        raise error
