"""The questions part of the console's state: pure data and the rules of their fold.

    book = QuestionBook()
    book.fold(event, "asked", payload)     # -> the new Question, or None if nothing changed
    book.fold(event, "answered", payload)  # -> the closed Question, or None
    book.pending()                         # sorted by (asked, id)
    question.check_answer("yes")           # InvalidAnswer if empty or not an option

The book is the only place a question changes state, and it changes only by folding an
event, so the journal alone rebuilds every question (pending, answered with its answer,
expired) and two consoles folding the same journal agree:

    question.asked {"id", "agent", "question", "options", "timeout", "expires",
                    "kind"?, "schema"?, "default"?, "assignee"?, "key"?}
                        a pending question; a re-announced id changes nothing. `kind` is
                        one of `parlour.console.answers.KINDS` (without it: choice with
                        options, else text); a form's `schema` is parsed into its fields
                        (a schema that does not parse makes it a text question); `key`
                        is the asker's Idempotency-Key
    question.answered {"id", "answer", "by"}
                        closes a pending question if the answer is valid for its kind
                        (`parlour.console.answers.check_answer`; kept as that normalises
                        it); otherwise, or if the question is closed already, nothing
                        changes. `by` is who answered (a user's name, "token", "api" or
                        "anonymous"; see `parlour.console.access`); events written before
                        it was recorded have none
    question.expired {"id", "defaulted"?, "answer"?}
                        closes a pending question: expired, or, if it was asked with a
                        `default`, answered with that default and marked `defaulted` (the
                        asked event decides; the payload's copy is for readers of the
                        journal); nothing changes if it is closed
    question.cancelled {"id", "by"}
                        closes a pending question as cancelled (its asker is told)

So the first valid closing in id order wins, whoever published it. The hub (see
`parlour.console.asking`) decides when to publish a closing and checks the same rules
first, so a person gets a 400 or a 409 instead of an event that would change nothing.

What this module does not do: keep time, publish, or touch the agents a question blocks
(`ConsoleState` does that with what `fold` returns).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from parlour.console.answers import (
    FormField,
    Kind,
    check_answer,
    describe_answer,
    kind_of_request,
    parse_schema,
)
from parlour.console.errors import InvalidAnswer
from parlour.console.payloads import number, options, text

if TYPE_CHECKING:
    from parlour.bus.event import Event

__all__ = [
    "ADMIN_GROUP",
    "DEFAULT_TIMEOUT",
    "MAX_CLOSED_QUESTIONS",
    "MAX_TIMEOUT",
    "Answerer",
    "Question",
    "QuestionBook",
    "QuestionState",
    "check_assignee",
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

QuestionState = Literal["pending", "answered", "expired", "cancelled"]
QUESTION_STATES: Final[tuple[QuestionState, ...]] = ("pending", "answered", "expired", "cancelled")
ADMIN_GROUP: Final = "admin"
"""Members of this group may answer any question, whoever it is assigned to."""
GROUP_PREFIX: Final = "group:"
_ASSIGNEE = re.compile(r"(group:)?[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class Answerer(msgspec.Struct, frozen=True, kw_only=True):
    """Who is answering: the name an answer records, the groups they are in, and whether
    they may answer whatever the assignee (see `parlour.console.access` for who is)."""

    name: str
    groups: frozenset[str] = frozenset()
    admin: bool = False


class Question(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agent: str
    question: str
    options: tuple[str, ...] | None = None
    kind: Kind = "text"
    schema: dict[str, Any] | None = None
    """A form's JSON Schema as it was asked (`fields` is what it parsed to)."""
    fields: tuple[FormField, ...] | None = None
    default: Any = None
    """The answer it takes if nobody answers before it expires (None: it expires)."""
    assignee: str | None = None
    """Who may answer: a user's name or `group:NAME` (None: anyone; admins always)."""
    key: str | None = None
    """The asker's Idempotency-Key, if it sent one."""
    asked: float = 0.0
    expires: float = 0.0
    state: QuestionState = "pending"
    answer: Any = None
    answered_by: str | None = None
    """Who answered it, or cancelled it (None while pending, once expired or answered by
    its default, or in a journal from before)."""
    defaulted: bool = False
    """Answered by its `default` when it expired."""
    closed_at: float = 0.0
    """When it was answered, expired or cancelled (the closing event's time)."""

    @property
    def closed(self) -> bool:
        return self.state != "pending"

    @property
    def answer_text(self) -> str:
        """The answer as one line for people."""
        return describe_answer(self.kind, self.answer)

    @property
    def default_text(self) -> str:
        """The default answer as one line for people."""
        return describe_answer(self.kind, self.default)

    def check_answer(self, answer: Any, where: str = "answer") -> Any:
        """`answer` as it is recorded, if it may answer this question (whatever its state);
        else `InvalidAnswer` naming the field and saying what was expected."""
        return check_answer(self.kind, self.options, self.fields, answer, where)

    def may_answer(self, who: Answerer) -> bool:
        """Whether `who` may answer: anyone if it is not assigned, else its assignee (the
        person, or a member of the group) or an admin."""
        if self.assignee is None or who.admin:
            return True
        if self.assignee.startswith(GROUP_PREFIX):
            return self.assignee.removeprefix(GROUP_PREFIX) in who.groups
        return self.assignee == who.name

    def public(self) -> dict[str, Any]:
        """The question as the HTTP API shows it. The fields of typed questions appear when
        they say something: `kind` unless the options say it (null: text, a list: choice),
        `schema`, `default`, `assignee`, and `defaulted` once true."""
        shown: dict[str, Any] = {
            "id": self.id,
            "agent": self.agent,
            "question": self.question,
            "options": list(self.options) if self.options is not None else None,
            "state": self.state,
            "answer": self.answer,
            "answered_by": self.answered_by,
            "expires": self.expires,
        }
        if self.kind not in ("text", "choice"):
            shown["kind"] = self.kind
        extra = {
            "schema": self.schema,
            "default": self.default,
            "assignee": self.assignee,
            "defaulted": self.defaulted or None,
        }
        shown.update({k: v for k, v in extra.items() if v is not None})
        return shown


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


def check_assignee(assignee: Any) -> str | None:
    """Who may answer: None (anyone), a user's name, or `group:NAME`; else `ValueError`."""
    if assignee is None:
        return None
    if not isinstance(assignee, str) or not _ASSIGNEE.fullmatch(assignee):
        raise ValueError(
            "assignee: expected a user's name (letters, digits and . _ @ -, up to 64) or "
            f"'group:NAME' (a group of users: `parlour console user add NAME --group NAME`), "
            f"got {assignee!r:.80}"
        )
    return assignee


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
        self._keys: dict[str, str] = {}

    def by_key(self, key: str) -> Question | None:
        """The known question asked with the Idempotency-Key `key`, if any."""
        qid = self._keys.get(key)
        return self.questions.get(qid) if qid is not None else None

    def in_state(self, state: QuestionState) -> list[Question]:
        """The known questions in `state`: pending ones oldest first, closed newest first."""
        if state == "pending":
            return self.pending()
        return [q for q in self.recently_closed(len(self._closed_order)) if q.state == state]

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
            if question.default is not None:
                return self._close(
                    question, "answered", question.default, None, event.time, defaulted=True
                )
            return self._close(question, "expired", None, None, event.time)
        if action == "cancelled":
            by = text(payload.get("by")) or None
            return self._close(question, "cancelled", None, by, event.time)
        return None

    def _asked(self, event: Event, qid: str, payload: dict[str, Any]) -> Question | None:
        if qid in self.questions:
            return None  # re-announced: one card per id
        expires = number(payload.get("expires"))
        if expires is None:
            timeout = number(payload.get("timeout"))
            expires = event.time + (timeout if timeout is not None else DEFAULT_TIMEOUT)
        question = _typed(
            Question(
                id=qid,
                agent=text(payload.get("agent")) or event.source,
                question=text(payload.get("question")),
                options=options(payload.get("options")),
                kind="choice" if payload.get("options") else "text",
                asked=event.time,
                expires=expires,
            ),
            payload,
        )
        self.questions[qid] = question
        if question.key is not None:
            self._keys[question.key] = qid
        return question

    def _close(
        self,
        question: Question,
        state: Literal["answered", "expired", "cancelled"],
        answer: Any,
        by: str | None,
        when: float,
        *,
        defaulted: bool = False,
    ) -> Question:
        closed = msgspec.structs.replace(
            question,
            state=state,
            answer=answer,
            answered_by=by,
            defaulted=defaulted,
            closed_at=when,
        )
        self.questions[question.id] = closed
        self._closed_order.append(question.id)
        while len(self._closed_order) > MAX_CLOSED_QUESTIONS:
            old = self._closed_order.popleft()
            if (kept := self.questions.get(old)) is not None and kept.closed:
                del self.questions[old]
                if kept.key is not None and self._keys.get(kept.key) == old:
                    del self._keys[kept.key]
        return closed


def _typed(question: Question, payload: dict[str, Any]) -> Question:
    """`question` with what the asked event says of its kind, form, default, assignee and
    key. Leniently: a field that does not check out is left at its plain default (the API
    checked it before publishing; an event published by hand may hold anything)."""
    changes: dict[str, Any] = {}
    try:
        declared = payload.get("kind")
        multiple = payload.get("multiple") or declared == "multiple" or None
        kind = kind_of_request(declared, question.options, multiple, payload.get("schema"))
    except ValueError:
        kind = question.kind
    if kind == "multiple" and question.options is None:
        kind = "text"
    if kind == "form":
        try:
            changes["fields"] = parse_schema(payload.get("schema"))
            changes["schema"] = payload.get("schema")
        except ValueError:
            kind = "text"
    changes["kind"] = kind
    with contextlib.suppress(ValueError):
        changes["assignee"] = check_assignee(payload.get("assignee"))
    key = payload.get("key")
    if isinstance(key, str) and key:
        changes["key"] = key
    typed = msgspec.structs.replace(question, **changes)
    if payload.get("default") is not None:
        with contextlib.suppress(InvalidAnswer):
            typed = msgspec.structs.replace(
                typed, default=typed.check_answer(payload["default"], "default")
            )
    return typed
