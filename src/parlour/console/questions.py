"""The questions part of the console's state: pure data and the rules of their fold.

    book = QuestionBook()
    book.fold(event, "asked", payload)     # -> the new Question, or None if nothing changed
    book.fold(event, "answered", payload)  # -> the closed Question, or None
    book.pending()                         # sorted by (asked, id)
    question.check_answer("yes")           # InvalidAnswer if empty or not an option

The book is the only place a question changes state, and it changes only by folding an
event, so the journal alone rebuilds every question (pending, answered with its answer,
expired) and two consoles folding the same journal agree:

    question.asked {"id", "agent", "question", "options", "timeout", "expires"}
                        a pending question; a re-announced id changes nothing
    question.answered {"id", "answer", "by"}
                        closes a pending question if the answer is valid for it (a
                        non-empty string, one of its options if it has any); otherwise,
                        or if the question is closed already, nothing changes. `by` is
                        who answered (a user's name, "token", "api" or "anonymous"; see
                        `parlour.console.access`); events written before it was recorded
                        have none
    question.expired {"id"}
                        closes a pending question; nothing changes if it is closed

So the first valid closing in id order wins, whoever published it. The hub (see
`parlour.console.asking`) decides when to publish a closing and checks the same rules
first, so a person gets a 400 or a 409 instead of an event that would change nothing.

What this module does not do: keep time, publish, or touch the agents a question blocks
(`ConsoleState` does that with what `fold` returns).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from parlour.console.errors import InvalidAnswer
from parlour.console.payloads import number, options, text

if TYPE_CHECKING:
    from parlour.bus.event import Event

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_CLOSED_QUESTIONS",
    "MAX_TIMEOUT",
    "Question",
    "QuestionBook",
    "QuestionState",
    "check_question",
    "check_question_id",
]

DEFAULT_TIMEOUT: Final = 300.0
"""Seconds a question waits for its answer when it says nothing about it."""
MAX_TIMEOUT: Final = 86_400.0
"""The longest a question may wait for its answer: one day."""
MAX_ID_CHARS: Final = 200
"""The longest id a producer may choose for its question."""
MAX_CLOSED_QUESTIONS: Final = 500
"""How many closed questions are kept (for late long polls and repeated answers)."""

QuestionState = Literal["pending", "answered", "expired"]


class Question(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agent: str
    question: str
    options: tuple[str, ...] | None = None
    asked: float = 0.0
    expires: float = 0.0
    state: QuestionState = "pending"
    answer: str | None = None
    answered_by: str | None = None
    """Who answered it (None while pending, once expired, or in a journal from before)."""
    closed_at: float = 0.0
    """When it was answered or expired (the closing event's time)."""

    @property
    def closed(self) -> bool:
        return self.state != "pending"

    def check_answer(self, answer: Any) -> str:
        """`answer` if it may answer this question (whatever its state); else
        `InvalidAnswer` saying what was expected."""
        if not isinstance(answer, str) or not answer.strip():
            raise InvalidAnswer(f"answer: expected a non-empty string, got {answer!r:.80}")
        if self.options is not None and answer not in self.options:
            raise InvalidAnswer(
                f"answer: expected one of {list(self.options)!r}, got {answer!r:.80}"
            )
        return answer

    def public(self) -> dict[str, Any]:
        """The question as the HTTP API shows it."""
        return {
            "id": self.id,
            "agent": self.agent,
            "question": self.question,
            "options": list(self.options) if self.options is not None else None,
            "state": self.state,
            "answer": self.answer,
            "answered_by": self.answered_by,
            "expires": self.expires,
        }


def check_question(
    agent: Any, question: Any, options: Any, timeout: Any, *, default_timeout: float
) -> tuple[str, str, tuple[str, ...] | None, float]:
    """Validate the arguments of asking (as they may come from JSON); raises `ValueError`
    naming the field, what it expects and what it got."""
    if not isinstance(agent, str) or not agent.strip():
        raise ValueError(f"agent: expected a non-empty string naming who asks, got {agent!r:.80}")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(
            f"question: expected the non-empty text of the question, got {question!r:.80}"
        )
    choices: tuple[str, ...] | None = None
    if options is not None:
        bad = ValueError(
            "options: expected a non-empty list of distinct non-empty strings (or null for a "
            f"free-text answer), got {options!r:.120}"
        )
        if not isinstance(options, list | tuple):
            raise bad
        items: list[Any] = list(options)  # pyright: ignore[reportUnknownArgumentType]
        if not items or not all(isinstance(o, str) and o.strip() for o in items):
            raise bad
        choices = tuple(str(o) for o in items)
        if len(set(choices)) != len(choices):
            raise bad
    if timeout is None:
        seconds = default_timeout
    elif isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(
            f"timeout: expected seconds > 0 and at most {MAX_TIMEOUT:g} (one day), "
            f"got {timeout!r:.80}"
        )
    else:
        seconds = float(timeout)
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT):
        raise ValueError(
            f"timeout: expected seconds > 0 and at most {MAX_TIMEOUT:g} (one day), got {timeout!r}"
        )
    return agent, question, choices, seconds


def check_question_id(qid: Any) -> str:
    """A producer-chosen question id: any printable text of 1 to `MAX_ID_CHARS` characters
    (spaces, quotes, `__`, capitals: the pages never use it as a name); else `ValueError`."""
    if not isinstance(qid, str) or not qid or len(qid) > MAX_ID_CHARS or not qid.isprintable():
        raise ValueError(
            f"id: expected printable text of 1 to {MAX_ID_CHARS} characters naming the "
            f"question (or no id: the console picks one), got {qid!r:.80}"
        )
    return qid


class QuestionBook:
    """The questions by id: every pending one, and the newest `MAX_CLOSED_QUESTIONS`
    closed ones. `questions` is for reading; only `fold` changes it."""

    def __init__(self) -> None:
        self.questions: dict[str, Question] = {}
        self._closed_order: deque[str] = deque()

    def recently_closed(self, count: int) -> list[Question]:
        """The newest `count` closed questions, the last closed first."""
        found: list[Question] = []
        seen: set[str] = set()
        for qid in reversed(self._closed_order):
            question = self.questions.get(qid)
            if question is not None and question.closed and qid not in seen:
                seen.add(qid)
                found.append(question)
                if len(found) == count:
                    break
        return found

    def pending(self) -> list[Question]:
        pending = [q for q in self.questions.values() if q.state == "pending"]
        pending.sort(key=lambda q: (q.asked, q.id))
        return pending

    def blocks(self, agent: str) -> bool:
        """Whether `agent` has a pending question (it waits for a person)."""
        return any(q.agent == agent and q.state == "pending" for q in self.questions.values())

    def fold(self, event: Event, action: str, payload: dict[str, Any]) -> Question | None:
        """Apply `question.<action>`; the question as it is now if it changed, else None."""
        qid = text(payload.get("id"))
        if not qid:
            return None
        if action == "asked":
            return self._asked(event, qid, payload)
        question = self.questions.get(qid)
        if question is None or question.closed:
            return None  # unknown (or long closed), or the first closing won already
        if action == "answered":
            try:
                answer = question.check_answer(payload.get("answer"))
            except InvalidAnswer:
                return None  # not an answer to this question: logged, not applied
            by = text(payload.get("by")) or None
            return self._close(question, "answered", answer, by, event.time)
        if action == "expired":
            return self._close(question, "expired", None, None, event.time)
        return None

    def _asked(self, event: Event, qid: str, payload: dict[str, Any]) -> Question | None:
        if qid in self.questions:
            return None  # re-announced: one card per id
        expires = number(payload.get("expires"))
        if expires is None:
            timeout = number(payload.get("timeout"))
            expires = event.time + (timeout if timeout is not None else DEFAULT_TIMEOUT)
        question = Question(
            id=qid,
            agent=text(payload.get("agent")) or event.source,
            question=text(payload.get("question")),
            options=options(payload.get("options")),
            asked=event.time,
            expires=expires,
        )
        self.questions[qid] = question
        return question

    def _close(
        self,
        question: Question,
        state: Literal["answered", "expired"],
        answer: str | None,
        by: str | None,
        when: float,
    ) -> Question:
        closed = msgspec.structs.replace(
            question, state=state, answer=answer, answered_by=by, closed_at=when
        )
        self.questions[question.id] = closed
        self._closed_order.append(question.id)
        while len(self._closed_order) > MAX_CLOSED_QUESTIONS:
            old = self._closed_order.popleft()
            if (kept := self.questions.get(old)) is not None and kept.closed:
                del self.questions[old]
        return closed
