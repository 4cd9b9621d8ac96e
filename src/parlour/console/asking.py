"""Asking and answering: questions published, answered at most once, expired, waited for.

    asking = Asking(hub.publish, hub.state, clock=time.time, default_timeout=300)
    q = await asking.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    await asking.ask("deployer", "Roll back?", qid="Job-7")    # an id the producer chose
    await asking.answer(q.id, "yes", by="ada")   # a person, through the API or a page
    await asking.wait(q.id, timeout=25)      # the asker's long poll
    await asking.expire_due()                # what the expiry task does at each deadline

The hub owns one `Asking`, runs its `expiry()` task, and calls `folded(event)` after each
question event it folds. `Asking` never changes a question itself: the console state's
fold is the only writer (`parlour.console.questions` has its rules), so the journal alone
rebuilds every question. What `Asking` decides is which closing to publish:

    answer   the question as it stands, or as a closing already published for it makes it
             (a *claim*, held from the publish until the fold closes the question), must be
             pending; the answer must suit it (400 `InvalidAnswer`; 409 `QuestionClosed` if
             it expired or was answered differently; 404 `QuestionNotFound`). Then the claim
             is taken and `question.answered` published, with no await between the check and
             the claim, so two concurrent answers cannot both be published: the second sees
             the claim. The same answer again publishes nothing and returns the question
             once it is folded. After the fold, the answer stands if the fold applied it;
             if another closing came first (another console on the same bus, an event
             published by hand), the fold kept that one and the answer is refused with 409.
    expiry   one task sleeps until the earliest deadline (re-armed by every new question)
             and publishes `question.expired` for each unclaimed pending question past its
             deadline. After a restart the fold restores pending questions with their
             absolute deadlines, and those already past due expire at once.

Waiters (long polls) are woken when the fold closes their question, whoever closed it.
The clock is injectable; with a fake clock, move it and call `expire_due()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import msgspec

from parlour.bus.event import Event
from parlour.console.errors import DuplicateQuestion, QuestionClosed, QuestionNotFound
from parlour.console.model import CONSOLE_SOURCE, ConsoleState
from parlour.console.payloads import as_dict
from parlour.console.questions import Question, check_question, check_question_id

__all__ = ["Asking"]

log = logging.getLogger(__name__)

Publish = Callable[[str, str, Any], Awaitable[Event]]
Claim = tuple[Literal["answered", "expired"], str | None]


class Asking:
    """The questions' live side: asking, deciding closings, expiry, long-poll waiters."""

    def __init__(
        self,
        publish: Publish,
        state: ConsoleState,
        *,
        clock: Callable[[], float],
        default_timeout: float,
        settle: float,
    ) -> None:
        """`publish(topic, source, payload)` returns once the event is folded into `state`
        (or after `settle` seconds at most, the longest a repeated answer waits too)."""
        self._publish = publish
        self._state = state
        self._clock = clock
        self.default_timeout = default_timeout
        self._settle = settle
        self._claims: dict[str, Claim] = {}
        self._asking: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[Question]]] = {}
        self._rearm = asyncio.Event()
        self._closed = False

    @property
    def waiting(self) -> int:
        """How many `wait` calls (long polls) are waiting for a question to close."""
        return sum(len(futures) for futures in self._waiters.values())

    def question(self, qid: str) -> Question:
        """The question `qid` as it is now; `QuestionNotFound` if unknown."""
        question = self._state.questions.get(qid)
        if question is None:
            raise QuestionNotFound(f"no question with id {qid!r} (unknown, or long closed)")
        return question

    async def ask(
        self,
        agent: str,
        question: str,
        options: Sequence[str] | None = None,
        timeout: float | None = None,
        *,
        qid: str | None = None,
    ) -> Question:
        """Publish a new pending question (absolute deadline) with the id `qid`, or a fresh
        one; `ValueError` for bad input, `DuplicateQuestion` if a question has that id
        (or is being asked with it). Returns it as folded."""
        agent, question, choices, seconds = check_question(
            agent, question, options, timeout, default_timeout=self.default_timeout
        )
        if qid is None:
            qid = secrets.token_hex(6)
        else:
            check_question_id(qid)
        # From here to the claim nothing awaits: two asks with one id cannot both publish.
        if qid in self._state.questions or qid in self._asking:
            raise DuplicateQuestion(
                f"id: a question with id {qid!r} exists already; choose another id "
                "(or send none and the console picks one)"
            )
        self._asking.add(qid)
        try:
            return await self._ask(qid, agent, question, choices, seconds)
        finally:
            self._asking.discard(qid)

    async def _ask(
        self,
        qid: str,
        agent: str,
        question: str,
        choices: tuple[str, ...] | None,
        seconds: float,
    ) -> Question:
        expires = self._clock() + seconds
        payload = {
            "id": qid,
            "agent": agent,
            "question": question,
            "options": list(choices) if choices is not None else None,
            "timeout": seconds,
            "expires": expires,
        }
        event = await self._publish("question.asked", agent, payload)
        folded = self._state.questions.get(qid)
        if folded is not None:
            return folded
        log.warning("parlour console: question %s was not folded in time", qid)
        return Question(
            id=qid,
            agent=agent,
            question=question,
            options=choices,
            asked=event.time,
            expires=expires,
        )

    async def answer(self, qid: str, answer: str, *, by: str) -> Question:
        """Answer a pending question as `by` (who answers: a user's name, "api", ...; the
        event and so the journal carry it); the same answer again returns it and publishes
        nothing.

        Raises `QuestionNotFound`, `InvalidAnswer` (empty, or not one of the options), or
        `QuestionClosed` (expired, or answered differently).
        """
        # From here to the claim nothing awaits: the check and the claim are atomic.
        question = self.question(qid)
        state, settled = self._claims.get(qid) or (question.state, question.answer)
        if state == "answered" and settled == answer:
            if not question.closed:  # published by a concurrent call: await its fold
                question = await self.wait(qid, self._settle)
            return self._outcome(question, answer)
        question.check_answer(answer)
        if state != "pending":
            raise _refusal(qid, state, settled)
        self._claims[qid] = ("answered", answer)
        try:
            payload = {"id": qid, "answer": answer, "by": by}
            await self._publish("question.answered", CONSOLE_SOURCE, payload)
        except BaseException:
            self._release(qid)
            raise
        return self._outcome(self._state.questions.get(qid, question), answer, by)

    def _outcome(self, question: Question, answer: str, by: str | None = None) -> Question:
        """What an answer came to, once published: the question as folded."""
        if question.state == "answered" and question.answer == answer:
            return question
        if question.closed:  # another closing was folded first; the fold kept that one
            raise _refusal(question.id, question.state, question.answer)
        # Not folded within `settle`: the event is on the bus and the claim stands, so no
        # other closing will be published here; it is answered when it is folded.
        log.warning("parlour console: the answer to %s was not folded in time", question.id)
        return msgspec.structs.replace(question, state="answered", answer=answer, answered_by=by)

    async def wait(self, qid: str, timeout: float) -> Question:
        """The question once it is answered or expired, or as it is after `timeout` seconds
        (then still pending). Returns at once if it is closed; `QuestionNotFound`."""
        question = self.question(qid)
        if question.closed or timeout <= 0 or self._closed:
            return question
        future: asyncio.Future[Question] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(qid, [])
        waiters.append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return self._state.questions.get(qid, question)
        finally:
            with contextlib.suppress(ValueError):
                waiters.remove(future)
            if not waiters and self._waiters.get(qid) is waiters:
                del self._waiters[qid]

    async def expire_due(self) -> list[Question]:
        """Publish `question.expired` for every unclaimed pending question whose deadline
        has passed (by the clock); returns those the fold expired."""
        now = self._clock()
        due = [
            q.id
            for q in self._state.pending_questions()
            if q.expires <= now and q.id not in self._claims
        ]
        for qid in due:  # all claimed before the first await: an answer now gets a 409
            self._claims[qid] = ("expired", None)
        expired: list[Question] = []
        for qid in due:
            try:
                await self._publish("question.expired", CONSOLE_SOURCE, {"id": qid})
            except Exception:
                self._release(qid)
                log.exception("parlour console: could not publish question.expired")
                continue
            question = self._state.questions.get(qid)
            if question is not None and question.state == "expired":
                expired.append(question)
        return expired

    async def expiry(self) -> None:
        """Expire questions at their deadlines until cancelled (the hub runs it as a task)."""
        while True:
            self._rearm.clear()
            try:
                await self.expire_due()
            except Exception:
                log.exception("parlour console: expiring questions failed")
            deadlines = [
                q.expires for q in self._state.pending_questions() if q.id not in self._claims
            ]
            delay = max(0.001, min(deadlines) - self._clock()) if deadlines else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rearm.wait(), delay)

    def folded(self, event: Event) -> None:
        """The state just folded `event` (a `question.*` one): re-arm the expiry for a new
        question; release the claim and wake the waiters of a closed one."""
        if event.topic == "question.asked":
            self._rearm.set()
        qid = (as_dict(event.payload) or {}).get("id")
        if not isinstance(qid, str):
            return
        question = self._state.questions.get(qid)
        if question is None or question.closed:
            self._claims.pop(qid, None)
        if question is not None and question.closed:
            self._wake(question)

    def close(self) -> None:
        """End every long poll with its question as it is; later waits return at once."""
        self._closed = True
        for qid in tuple(self._waiters):
            question = self._state.questions.get(qid)
            if question is not None:
                self._wake(question)
        self._waiters.clear()

    def _release(self, qid: str) -> None:
        """Drop a claim whose event was not published: the question may close again, and
        the expiry task counts its deadline again."""
        self._claims.pop(qid, None)
        self._rearm.set()

    def _wake(self, question: Question) -> None:
        for future in self._waiters.pop(question.id, []):
            if not future.done():
                future.set_result(question)


def _refusal(qid: str, state: str, answer: str | None) -> QuestionClosed:
    if state == "expired":
        return QuestionClosed(f"question {qid!r} expired; it can no longer be answered")
    return QuestionClosed(
        f"question {qid!r} was already answered {answer!r}; an answer cannot be changed"
    )
