"""Asking and answering: questions published, answered at most once, expired, waited for.

    asking = Asking(hub.publish, hub.state, clock=time.time, default_timeout=300)
    q = await asking.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    await asking.ask("deployer", "Roll back?", qid="Job-7")    # an id the producer chose
    await asking.ask("deployer", "Ship?", kind="approve", default={"approved": False,
                     "reason": "nobody answered"}, assignee="group:ops", key="job-7-ship")
    await asking.answer(q.id, "yes", by="ada")   # a person, through the API or a page
    await asking.answer(q.id, "yes", by=Answerer(name="bob", groups=frozenset({"ops"})))
    await asking.cancel(q.id, by="api")      # the card leaves every tab; the asker is told
    await asking.wait(q.id, timeout=25)      # the asker's long poll
    await asking.expire_due()                # what the expiry task does at each deadline

The hub owns one `Asking`, runs its `expiry()` task, and calls `folded(event)` after each
question event it folds. `Asking` never changes a question itself: the console state's
fold is the only writer (`parlour.console.questions` has its rules), so the journal alone
rebuilds every question. What `Asking` decides is which closing to publish:

    ask      a question with an Idempotency-Key (`key`) that a known question was asked with
             returns that question (one card per key, for as long as the question is known;
             `DuplicateQuestion` if that question is another agent's or text); two asks with
             one key at once publish one question.
    answer   the question as it stands, or as a closing already published for it makes it
             (a *claim*, held from the publish until the fold closes the question), must be
             pending; the answer must suit it (400 `InvalidAnswer`; 409 `QuestionClosed` if
             it expired, was cancelled or answered differently; 404 `QuestionNotFound`), and
             its answerer must be its assignee or an admin (403 `NotAssignee`). Then the claim
             is taken and `question.answered` published, with no await between the check and
             the claim, so two concurrent answers cannot both be published: the second sees
             the claim. The same answer again publishes nothing and returns the question
             once it is folded. After the fold, the answer stands if the fold applied it;
             if another closing came first (another console on the same bus, an event
             published by hand), the fold kept that one and the answer is refused with 409.
    cancel   like an answer, claimed then published (`question.cancelled`); cancelling a
             cancelled question again returns it, an answered or expired one is a 409.
    expiry   one task sleeps until the earliest deadline (re-armed by every new question)
             and publishes `question.expired` for each unclaimed pending question past its
             deadline (with `"defaulted": true` and the answer for a question that has a
             default: the fold answers it with its default). After a restart the fold
             restores pending questions with their absolute deadlines, and those already
             past due expire at once.

Waiters (long polls) are woken when the fold closes their question, whoever closed it.
The clock is injectable; with a fake clock, move it and call `expire_due()`.

Consoles sharing one bus (a cluster, `parlour.console.cluster`) also take each claim in
`claims` (`parlour.console.claims`), after the local one and before publishing: an answer,
cancel or expiry that another console claimed first is refused (or, the same answer, waits
for its fold), a chosen id or an Idempotency-Key being asked elsewhere is a duplicate (or
that question). A claim lost to another console stands here until its closing is folded,
or for the claims' lease (30 s) if it never is. A question this console has not heard of
yet is looked up again after `catch_up` (it may have been asked on another console just
now).
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
from parlour.console.answers import kind_of_request, parse_schema
from parlour.console.claims import (
    Claims,
    Held,
    LocalClaims,
    ask_key,
    close_key,
    idempotency_key,
)
from parlour.console.errors import (
    DuplicateQuestion,
    NotAssignee,
    QuestionClosed,
    QuestionNotFound,
)
from parlour.console.model import CONSOLE_SOURCE, ConsoleState
from parlour.console.payloads import as_dict
from parlour.console.questions import (
    Answerer,
    Question,
    check_assignee,
    check_question,
    check_question_id,
)

__all__ = ["Asking"]

log = logging.getLogger(__name__)

Publish = Callable[[str, str, Any], Awaitable[Event]]
ClosingState = Literal["answered", "expired", "cancelled"]
Claim = tuple[ClosingState, Any]
MAX_KEY_CHARS = 200
"""The longest Idempotency-Key an asker may send."""


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
        claims: Claims | None = None,
        catch_up: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`publish(topic, source, payload)` returns once the event is folded into `state`
        (or after `settle` seconds at most, the longest a repeated answer waits too).
        `claims` and `catch_up`: for consoles sharing the bus (see the module)."""
        self._publish = publish
        self._state = state
        self._clock = clock
        self.default_timeout = default_timeout
        self._settle = settle
        self._claims: dict[str, Claim] = {}
        self._asking: set[str] = set()
        self._keyed: dict[str, asyncio.Future[Question]] = {}
        self._waiters: dict[str, list[asyncio.Future[Question]]] = {}
        self._rearm = asyncio.Event()
        self._closed = False
        self.claims: Claims = claims or LocalClaims()
        self._catch_up = catch_up
        self._holds: dict[str, asyncio.TimerHandle] = {}

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
        kind: str | None = None,
        multiple: bool | None = None,
        schema: dict[str, Any] | None = None,
        default: Any = None,
        assignee: str | None = None,
        key: str | None = None,
    ) -> Question:
        """Publish a new pending question (absolute deadline) with the id `qid`, or a fresh
        one; `ValueError` for bad input (naming the field), `DuplicateQuestion` if a question
        has that id (or is being asked with it). With `key`, the question already asked with
        that key if there is one. Returns it as folded."""
        agent, question, choices, seconds = check_question(
            agent, question, options, timeout, default_timeout=self.default_timeout
        )
        chosen = kind_of_request(kind, choices, multiple, schema)
        fields = parse_schema(schema) if chosen == "form" else None
        assignee = check_assignee(assignee)
        if default is not None:
            probe = Question(id="", agent=agent, question=question, options=choices, kind=chosen)
            default = msgspec.structs.replace(probe, fields=fields).check_answer(default, "default")
        if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(
                f"Idempotency-Key: expected 1 to {MAX_KEY_CHARS} characters, got {key!r:.80}"
            )
        named = qid is not None  # an id the asker chose: claimed in the cluster
        if qid is None:
            qid = secrets.token_hex(6)
        else:
            check_question_id(qid)
        payload: dict[str, Any] = {
            "id": qid,
            "agent": agent,
            "question": question,
            "options": list(choices) if choices is not None else None,
        }
        if chosen not in ("text", "choice"):
            payload["kind"] = chosen
        if schema is not None:
            payload["schema"] = schema
        if default is not None:
            payload["default"] = default
        if assignee is not None:
            payload["assignee"] = assignee
        if key is None:
            return await self._claim_id(qid, payload, seconds, named=named)
        # From here to the registration nothing awaits: one publish per key.
        known = self._state.question_by_key(key)
        pending = self._keyed.get(key)
        if known is None and pending is not None:
            known = await asyncio.shield(pending)
        if known is not None:
            if (known.agent, known.question) != (agent, question):
                raise DuplicateQuestion(
                    f"Idempotency-Key: {key!r} was sent with another question "
                    f"({known.agent!r}: {known.question!r:.80}); send a new key for a new "
                    "question"
                )
            return known
        future: asyncio.Future[Question] = asyncio.get_running_loop().create_future()
        self._keyed[key] = future
        try:
            held = await self.claims.take(idempotency_key(key), "asked", qid)
            if held is not None:  # asked with this key on another console just now
                asked = await self._asked_elsewhere(str(held[1]), key, agent, question)
            else:
                try:
                    asked = await self._claim_id(qid, payload | {"key": key}, seconds, named=named)
                except BaseException:
                    await self._drop(idempotency_key(key))
                    raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a lone caller leaves no "never retrieved" warning
            raise
        else:
            future.set_result(asked)
            return asked
        finally:
            del self._keyed[key]

    async def _asked_elsewhere(self, qid: str, key: str, agent: str, question: str) -> Question:
        """The question `qid` another console is asking with the Idempotency-Key `key`, once
        this console has folded it (within `settle` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle
        while (known := self._state.questions.get(qid)) is None:  # bounded by the deadline
            if loop.time() > deadline:
                raise DuplicateQuestion(
                    f"Idempotency-Key: {key!r} is being used by a question another console is "
                    "asking; retry in a moment to get that question"
                )
            if self._catch_up is not None:
                await self._catch_up()
            await asyncio.sleep(0.02)
        if (known.agent, known.question) != (agent, question):
            raise DuplicateQuestion(
                f"Idempotency-Key: {key!r} was sent with another question "
                f"({known.agent!r}: {known.question!r:.80}); send a new key for a new question"
            )
        return known

    async def _claim_id(
        self, qid: str, payload: dict[str, Any], seconds: float, *, named: bool = True
    ) -> Question:
        # From here to the claim nothing awaits: two asks with one id cannot both publish.
        if qid in self._state.questions or qid in self._asking:
            raise DuplicateQuestion(
                f"id: a question with id {qid!r} exists already; choose another id "
                "(or send none and the console picks one)"
            )
        self._asking.add(qid)
        try:
            if named and await self.claims.take(ask_key(qid), "asked", qid) is not None:
                raise DuplicateQuestion(
                    f"id: a question with id {qid!r} is being asked on another console; "
                    "choose another id (or send none and the console picks one)"
                )
            try:
                return await self._ask(qid, payload, seconds)
            except BaseException:
                if named:
                    await self._drop(ask_key(qid))
                raise
        finally:
            self._asking.discard(qid)

    async def _ask(self, qid: str, payload: dict[str, Any], seconds: float) -> Question:
        expires = self._clock() + seconds
        payload = payload | {"timeout": seconds, "expires": expires}
        agent = str(payload["agent"])
        event = await self._publish("question.asked", agent, payload)
        folded = self._state.questions.get(qid)
        if folded is not None:
            return folded
        log.warning("parlour console: question %s was not folded in time", qid)
        choices = payload.get("options")
        return Question(
            id=qid,
            agent=agent,
            question=str(payload["question"]),
            options=tuple(choices) if choices is not None else None,
            asked=event.time,
            expires=expires,
        )

    async def answer(self, qid: str, answer: Any, *, by: str | Answerer) -> Question:
        """Answer a pending question as `by` (who answers: a user's name, "api", ... or an
        `Answerer` with their groups; a bare name may answer any question, as code holding
        the hub does); the event and so the journal carry the name. The same answer again
        returns it and publishes nothing.

        Raises `QuestionNotFound`, `InvalidAnswer` (not an answer of the question's kind,
        naming the field), `NotAssignee` (assigned to someone else), or `QuestionClosed`
        (expired, cancelled, or answered differently).
        """
        who = by if isinstance(by, Answerer) else Answerer(name=by, admin=True)
        await self._find(qid)
        # From here to the claim nothing awaits: the check and the claim are atomic.
        question = self.question(qid)
        if not question.may_answer(who):
            raise NotAssignee(
                f"question {qid!r} is assigned to {question.assignee}: only "
                f"{_assignee_words(question.assignee)} or an admin may answer it, not "
                f"{who.name!r}"
            )
        state, settled = self._claims.get(qid) or (question.state, question.answer)
        try:
            normal = question.check_answer(answer)
        except ValueError:
            normal = answer
            if not (state == "answered" and settled == answer):
                raise
        if state == "answered" and settled == normal:
            if not question.closed:  # published by a concurrent call: await its fold
                question = await self.wait(qid, self._settle)
            return self._outcome(question, normal)
        if state != "pending":
            raise _refusal(qid, state, settled)
        self._claims[qid] = ("answered", normal)
        held = await self._take_closing(qid, "answered", normal, who.name)
        if held is not None:  # another console closes it
            state, settled = held
            if state == "answered" and settled == normal:
                return self._outcome(await self.wait(qid, self._settle), normal)
            raise _refusal(qid, state, settled)
        try:
            payload = {"id": qid, "answer": normal, "by": who.name}
            await self._publish("question.answered", CONSOLE_SOURCE, payload)
        except BaseException:
            self._release(qid)
            await self._drop(close_key(qid))
            raise
        return self._outcome(self._state.questions.get(qid, question), normal, who.name)

    async def cancel(self, qid: str, *, by: str) -> Question:
        """Cancel a pending question (its card leaves every tab; its asker is told); the
        question as folded. Cancelling it again returns it; `QuestionClosed` if it was
        answered or expired, `QuestionNotFound` if unknown."""
        await self._find(qid)
        question = self.question(qid)
        state, settled = self._claims.get(qid) or (question.state, question.answer)
        if state == "cancelled":
            if not question.closed:
                question = await self.wait(qid, self._settle)
            return question
        if state != "pending":
            raise _refusal(qid, state, settled)
        self._claims[qid] = ("cancelled", None)
        held = await self._take_closing(qid, "cancelled", None, by)
        if held is not None:  # another console closes it
            if held[0] == "cancelled":
                return await self.wait(qid, self._settle)
            raise _refusal(qid, held[0], held[1])
        try:
            await self._publish("question.cancelled", CONSOLE_SOURCE, {"id": qid, "by": by})
        except BaseException:
            self._release(qid)
            await self._drop(close_key(qid))
            raise
        folded = self._state.questions.get(qid, question)
        if folded.closed and folded.state != "cancelled":
            raise _refusal(qid, folded.state, folded.answer)
        return folded

    def _outcome(self, question: Question, answer: Any, by: str | None = None) -> Question:
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
        question = await self._find(qid)
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
        defaults = {q.id: q.default for q in self._state.pending_questions() if q.id in due}
        for qid in due:  # all claimed before the first await: an answer now gets a 409
            default = defaults.get(qid)
            self._claims[qid] = ("expired", None) if default is None else ("answered", default)
        expired: list[Question] = []
        for qid in due:
            payload: dict[str, Any] = {"id": qid}
            if defaults.get(qid) is not None:
                payload |= {"defaulted": True, "answer": defaults[qid]}
            closing = self._claims[qid]
            try:
                if await self._take_closing(qid, *closing, CONSOLE_SOURCE) is not None:
                    continue  # another console closes it
                await self._publish("question.expired", CONSOLE_SOURCE, payload)
            except Exception:
                self._release(qid)
                await self._drop(close_key(qid))
                log.exception("parlour console: could not publish question.expired")
                continue
            question = self._state.questions.get(qid)
            if question is not None and (question.state == "expired" or question.defaulted):
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
        for handle in self._holds.values():
            handle.cancel()
        self._holds.clear()
        for qid in tuple(self._waiters):
            question = self._state.questions.get(qid)
            if question is not None:
                self._wake(question)
        self._waiters.clear()

    async def _find(self, qid: str) -> Question:
        """The question `qid`; a console sharing its bus catches up first when it has not
        heard of it (it may have been asked on another console a moment ago)."""
        if qid not in self._state.questions and self._catch_up is not None and self.claims.shared:
            await self._catch_up()
        return self.question(qid)

    async def _take_closing(
        self, qid: str, state: ClosingState, value: Any, by: str
    ) -> Claim | None:
        """Take the closing of `qid`, claimed here already, in every console sharing the
        bus: None when it is ours, else the other console's closing, which then stands here
        until folded (or for the claims' lease, should its event never come)."""
        try:
            held = await self.claims.take(close_key(qid), state, value, by=by)
        except BaseException:
            self._release(qid)
            raise
        if held is None:
            return None
        closing = _closing(held)
        self._claims[qid] = closing
        handle = self._holds.pop(qid, None)
        if handle is not None:
            handle.cancel()
        self._holds[qid] = asyncio.get_running_loop().call_later(
            self.claims.lease, self._lapse, qid, closing
        )
        return closing

    def _lapse(self, qid: str, closing: Claim) -> None:
        """Another console's claim never became an event: the question may close again."""
        self._holds.pop(qid, None)
        if self._claims.get(qid) is closing:
            self._release(qid)

    async def _drop(self, key: str) -> None:
        """Give up a shared claim whose event was not published (best effort: a claim that
        cannot be dropped lapses after the claims' lease)."""
        try:
            await self.claims.drop(key)
        except Exception:
            log.warning("parlour console: could not drop the claim %s; it lapses", key)

    def _release(self, qid: str) -> None:
        """Drop a claim whose event was not published: the question may close again, and
        the expiry task counts its deadline again."""
        self._claims.pop(qid, None)
        self._rearm.set()

    def _wake(self, question: Question) -> None:
        for future in self._waiters.pop(question.id, []):
            if not future.done():
                future.set_result(question)


def _closing(held: Held) -> Claim:
    """Another console's claim on a closing, as a local claim."""
    state, value = held
    if state == "asked":  # never on a closing's key; read as a closing to be safe
        return ("answered", value)
    return (state, value)


def _refusal(qid: str, state: str, answer: Any) -> QuestionClosed:
    if state == "expired":
        return QuestionClosed(f"question {qid!r} expired; it can no longer be answered")
    if state == "cancelled":
        return QuestionClosed(f"question {qid!r} was cancelled; it can no longer be answered")
    return QuestionClosed(
        f"question {qid!r} was already answered {answer!r}; an answer cannot be changed"
    )


def _assignee_words(assignee: str | None) -> str:
    if assignee is not None and assignee.startswith("group:"):
        return f"members of the group {assignee.removeprefix('group:')!r}"
    return repr(assignee)
