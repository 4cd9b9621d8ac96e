"""The console hub: one asyncio object that owns the state, the journal and the questions.

    journal = open_journal("console.db")
    bus = InProcessBus(first_id=journal.last_id() + 1)   # ids stay unique across restarts
    hub = Hub(bus, journal)
    await hub.start()            # replay the journal, catch up, subscribe, re-arm expiries
    unlisten = hub.listen(lambda changed: ...)           # after every folded event
    await hub.publish("agent.started", "deployer", {"task": "ship 1.4"})
    q = await hub.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    await hub.answer(q.id, "yes")                         # a person, through the API
    await hub.wait(q.id, timeout=25)                      # the asker's long poll
    await hub.launch("src", "review")   # -> {"graph_id", "status": "started", "node_count"}
    await hub.close()            # stops its tasks and closes the journal (not the bus)

How events flow. Everything that changes the state arrives through ONE subscription to
the bus (pattern ">"), read by ONE consumer task, so events from other processes (on
NATS) are folded like local ones and always in id order:

    bus ──> consumer: skip ids already folded ──> fill an id gap from bus.history
            ──> journal.extend(batch) ──> followers ──> state.fold(event) each
            ──> listeners(changed parts), waiters of closed questions

`publish` returns once the consumer has folded the event (read-your-writes: after a
`POST /api/events` answers, `GET /api/snapshot` shows the event), waiting at most 5 s.

Questions. `ask` publishes `question.asked` (fresh id, absolute `expires`). `answer`
validates and marks the question answered synchronously, with no await between the
check and the change, so concurrent answers cannot both win and an answer reaches the
asker at most once; then it wakes the waiters and publishes `question.answered`, whose
fold changes nothing more. The same answer twice is accepted and publishes nothing; a
different one is refused (`QuestionClosed`). One expiry task sleeps until the earliest
deadline (re-armed by every new question) and expires what is due: marked, waiters
woken, `question.expired` published. After a restart the journal fold restores pending
questions with their absolute deadlines, and those already past due expire at once.
The clock is injectable; with a fake clock, move it and call `expire_due()`.

Runs (R20). `launch(target, bundle)` checks that the target is a path inside the project
directory `root` that exists, and that the bundle is one of `bundles` (name -> the agents
it runs; the first is the default), then publishes `run.requested` (the launcher's recent
targets are folded from it, so they survive a restart) and `run.started` (the run shows in
progress at once), tells the `on_launch` callbacks (the demo swarm runs it), and returns
`{"graph_id", "status": "started", "node_count"}`. Running the agents is someone else's
job: whatever listens for `run.requested` on the bus, or an `on_launch` callback.

What this module does not do: serve HTTP (`parlour.console.api`), render anything, or
close the bus it was given (the bus may serve the rest of the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast, overload

from parlour.bus.event import Event
from parlour.bus.memory import InProcessBus
from parlour.bus.patterns import TopicPattern, split_topic
from parlour.bus.protocol import EventBus
from parlour.bus.subscription import Subscription
from parlour.console.journal import Journal
from parlour.console.model import (
    CLEAR_LOG_TOPIC,
    DEFAULT_BUNDLES,
    ConsoleState,
    InvalidAnswer,
    InvalidRun,
    Question,
    QuestionClosed,
    QuestionNotFound,
    Settings,
)

__all__ = [
    "MAX_TIMEOUT",
    "Hub",
    "InvalidAnswer",
    "InvalidRun",
    "Question",
    "QuestionClosed",
    "QuestionNotFound",
    "check_bundles",
    "check_question",
]

log = logging.getLogger(__name__)

MAX_TIMEOUT: Final = 86_400.0
"""The longest a question may wait for its answer: one day."""
FOLD_WAIT: Final = 5.0
RATE_WINDOW: Final = 10
_PAGE: Final = 1000
_FOLLOW_QUEUE: Final = 1024
_CONSOLE: Final = "console"

Listener = Callable[[frozenset[str]], None]
LaunchListener = Callable[[dict[str, Any]], None]


def check_question(
    agent: Any, question: Any, options: Any, timeout: Any, *, default_timeout: float
) -> tuple[str, str, tuple[str, ...] | None, float]:
    """Validate the arguments of `Hub.ask` (as they may come from JSON); raises
    `ValueError` naming the field, what it expects and what it got."""
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


def check_bundles(bundles: Any) -> dict[str, tuple[str, ...]]:
    """Validate the launcher's bundles (name -> agent names); `ValueError` says what is wrong."""
    expected = (
        "expected a non-empty mapping of bundle name -> non-empty list of agent names, "
        "e.g. {'review': ['linter', 'reviewer']}"
    )
    if not isinstance(bundles, Mapping) or not bundles:
        raise ValueError(f"Hub(bundles={bundles!r:.120}): {expected}")
    checked: dict[str, tuple[str, ...]] = {}
    for name, agents in cast("Mapping[Any, Any]", bundles).items():
        if isinstance(agents, str) or not isinstance(agents, Sequence):
            raise ValueError(f"Hub(bundles=...): bundle {name!r:.60}: {expected}")
        names: list[Any] = list(cast("Sequence[Any]", agents))
        if (
            not isinstance(name, str)
            or not name.strip()
            or not names
            or not all(isinstance(a, str) and a.strip() for a in names)
        ):
            raise ValueError(f"Hub(bundles=...): bundle {name!r:.60}: {expected}")
        checked[name] = tuple(str(a) for a in names)
    return checked


def _question_id(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    qid = cast("dict[str, Any]", payload).get("id")
    return qid if isinstance(qid, str) else None


class _Follower:
    """The live side of one `follow`: a bounded queue that, when it overflows, empties
    itself and asks its reader to catch up from the journal instead."""

    __slots__ = ("closed", "overflowed", "queue")

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(_FOLLOW_QUEUE)
        self.overflowed = False
        self.closed = False

    def offer(self, events: Sequence[Event]) -> None:
        if self.closed or self.overflowed:
            return
        for event in events:
            if self.queue.full():
                self.overflowed = True
                while not self.queue.empty():
                    self.queue.get_nowait()
                self.queue.put_nowait(None)  # wake the reader: it re-reads the journal
                return
            self.queue.put_nowait(event)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    """The console's live core: state, journal, bus subscription, questions, settings."""

    def __init__(
        self,
        bus: EventBus,
        journal: Journal,
        *,
        clock: Callable[[], float] = time.time,
        default_timeout: float = 300.0,
        queue_size: int = 10_000,
        bundles: Mapping[str, Sequence[str]] | None = None,
        root: str | Path | None = None,
    ) -> None:
        """`bundles`: the run launcher's bundles, name -> agent names (the first is the
        default; `DEFAULT_BUNDLES` if None). `root`: the project directory run targets must
        lie in (the current directory if None)."""
        if isinstance(default_timeout, bool) or not (
            isinstance(default_timeout, int | float)  # pyright: ignore[reportUnnecessaryIsInstance]
            and 0 < default_timeout <= MAX_TIMEOUT
        ):
            raise ValueError(
                f"Hub(default_timeout={default_timeout!r}): expected seconds > 0 and at most "
                f"{MAX_TIMEOUT:g} (one day), how long a question waits when `ask` says nothing."
            )
        if type(queue_size) is not int or queue_size < 1:
            raise ValueError(
                f"Hub(queue_size={queue_size!r}): expected a whole number >= 1 of events the "
                "hub's subscription may fall behind (a gap is then read back from history)."
            )
        self.bus = bus
        self.journal = journal
        self.state = ConsoleState()
        self.default_timeout = float(default_timeout)
        self._bundles = check_bundles(DEFAULT_BUNDLES if bundles is None else bundles)
        self.root = (Path.cwd() if root is None else Path(root)).resolve()
        self._clock = clock
        self._queue_size = queue_size
        self._listeners: dict[int, Listener] = {}
        self._launch_listeners: dict[int, LaunchListener] = {}
        self._next_listener = 0
        self._waiters: dict[str, list[asyncio.Future[Question]]] = {}
        self._followers: set[_Follower] = set()
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._folded = asyncio.Event()
        self._rearm = asyncio.Event()
        self._rate: deque[list[int]] = deque(maxlen=RATE_WINDOW + 1)
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        status = "closed" if self._closed else "running" if self._started else "new"
        return f"<Hub {status} {self.state!r} journal={self.journal.describe()}>"

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Replay the journal, catch up from the bus, then follow it live."""
        if self._started:
            raise RuntimeError("Hub.start() called twice; start a hub once, close it once")
        journal_last = self.journal.last_id()
        if isinstance(self.bus, InProcessBus) and self.bus.last_id < journal_last:
            raise ValueError(
                f"Hub: the journal ({self.journal.describe()}) holds events up to id "
                f"{journal_last} but the InProcessBus would publish ids from "
                f"{self.bus.last_id + 1}, which the console would take for old events. "
                "Fix: create the bus with InProcessBus(first_id=journal.last_id() + 1)."
            )
        self._started = True
        self._sub = self.bus.subscribe(">", maxsize=self._queue_size)
        cursor = 0
        while True:  # ends: each page moves the cursor on, and the journal is finite
            page = await self.journal.read(after=cursor, limit=_PAGE)
            for event in page:
                self.state.fold(event)
            if len(page) < _PAGE:
                break
            cursor = page[-1].id
        await self._ingest(await self._history(self.state.last_id, None))
        self._tasks = [
            asyncio.create_task(self._consume(self._sub), name="parlour-console-consumer"),
            asyncio.create_task(self._expire_loop(), name="parlour-console-expiry"),
        ]
        await self.expire_due()

    async def close(self) -> None:
        """Stop the tasks, end follows and long polls, close the journal; idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sub is not None:
            self._sub.close()
        self._folded.set()  # a publish waiting for its fold stops waiting
        for follower in tuple(self._followers):
            follower.close()
        for qid in tuple(self._waiters):
            question = self.state.questions.get(qid)
            if question is not None:
                self._wake(question)
        self._waiters.clear()
        await self.journal.close()

    @property
    def running(self) -> bool:
        return self._started and not self._closed

    @property
    def last_id(self) -> int:
        """The id of the newest event folded into `state`."""
        return self.state.last_id

    @property
    def waiting(self) -> int:
        """How many `wait` calls (long polls) are waiting for a question to close."""
        return sum(len(futures) for futures in self._waiters.values())

    @property
    def events_per_second(self) -> float:
        """Events folded per second over the last 10 seconds."""
        now = int(self._clock())
        recent = sum(count for second, count in self._rate if second > now - RATE_WINDOW)
        return recent / RATE_WINDOW

    def listen(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(changed_parts)` on the loop after each folded event (and after an
        answer or expiry changes the state); returns the function that stops it."""
        key = self._next_listener
        self._next_listener += 1
        self._listeners[key] = callback

        def unlisten() -> None:
            self._listeners.pop(key, None)

        return unlisten

    def on_launch(self, callback: LaunchListener) -> Callable[[], None]:
        """Call `callback(request)` after each `launch`, with the `run.requested` payload
        {"run_id", "target", "bundle", "agents"}; returns the function that stops it."""
        key = self._next_listener
        self._next_listener += 1
        self._launch_listeners[key] = callback

        def unlisten() -> None:
            self._launch_listeners.pop(key, None)

        return unlisten

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, topic: str, source: str = "", payload: Any = None) -> Event:
        """Publish on the bus and return the event once it is folded (at most 5 s later).

        Raises `ValueError` for a bad topic and `TypeError` for a payload JSON cannot
        carry (both from the bus), `RuntimeError` before `start` or after `close`.
        """
        self._check_running("publish")
        event = await self.bus.publish(topic, payload, source=source)
        await self._wait_folded(event.id)
        return event

    async def clear_log(self) -> Event:
        """Empty the event log (for everyone, and after a restart: it is an event too)."""
        return await self.publish(CLEAR_LOG_TOPIC, _CONSOLE, None)

    async def set_setting(self, key: str, raw: Any) -> Any:
        """Validate a setting (`ValueError` says what is wrong), publish `config.changed`,
        and return the value as stored once it is folded."""
        value = Settings.validated(key, raw)
        await self.publish("config.changed", _CONSOLE, {"key": key, "value": value})
        return value

    # -- runs -----------------------------------------------------------------------------------

    @property
    def bundles(self) -> dict[str, tuple[str, ...]]:
        """The launcher's bundles, name -> agent names, the default first."""
        return dict(self._bundles)

    @property
    def default_bundle(self) -> str:
        return next(iter(self._bundles))

    def check_target(self, target: str) -> str:
        """`target` as a path relative to `root` ("." for the root itself, "/" separated);
        `InvalidRun` if it is empty, outside the project, or does not exist."""
        if not isinstance(target, str) or not target.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidRun(f"target: expected a path inside the project, got {target!r:.80}")
        root = self.root
        try:
            path = Path(target.strip())
            resolved = (path if path.is_absolute() else root / path).resolve()
        except (OSError, ValueError, RuntimeError):
            raise InvalidRun(
                f"target: {target!r:.80} is not a usable path inside the project ({root})"
            ) from None
        if not resolved.is_relative_to(root):
            raise InvalidRun(f"target: {target!r:.80} is outside the project ({root})")
        try:
            exists = resolved.exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            raise InvalidRun(f"target: {target!r:.80} does not exist in the project")
        return resolved.relative_to(root).as_posix()

    def check_bundle(self, bundle: str | None) -> str:
        """`bundle`, or the default one for None or ""; `InvalidRun` if it is unknown."""
        if bundle is None or bundle == "":
            return self.default_bundle
        if not isinstance(bundle, str) or bundle not in self._bundles:  # pyright: ignore[reportUnnecessaryIsInstance]
            known = ", ".join(repr(name) for name in self._bundles)
            raise InvalidRun(f"bundle: unknown bundle {bundle!r:.80}; expected one of {known}")
        return bundle

    async def launch(self, target: str, bundle: str | None = None) -> dict[str, Any]:
        """Start a run of `bundle`'s agents (the first bundle if None) on `target`, a path
        inside the project: publishes `run.requested` and `run.started`, tells the
        `on_launch` callbacks, and returns {"graph_id", "status": "started", "node_count"}.
        `InvalidRun` (a `ValueError`) says what is wrong with the target or the bundle."""
        self._check_running("launch")
        relative = self.check_target(target)
        name = self.check_bundle(bundle)
        agents = list(self._bundles[name])
        run_id = "run-" + secrets.token_hex(6)
        request = {"run_id": run_id, "target": relative, "bundle": name, "agents": agents}
        await self.publish("run.requested", _CONSOLE, request)
        await self.publish(
            "run.started", _CONSOLE, {"total": len(agents), "name": relative, "run_id": run_id}
        )
        for callback in tuple(self._launch_listeners.values()):
            try:
                callback(dict(request, agents=list(agents)))
            except Exception:
                log.exception("parlour console: a launch listener failed")
        return {"graph_id": run_id, "status": "started", "node_count": len(agents)}

    # -- questions ------------------------------------------------------------------------------

    async def ask(
        self,
        agent: str,
        question: str,
        options: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Question:
        """Publish a new pending question and arm its expiry; `ValueError` for bad input."""
        self._check_running("ask")
        agent, question, choices, seconds = check_question(
            agent, question, options, timeout, default_timeout=self.default_timeout
        )
        qid = secrets.token_hex(6)
        expires = self._clock() + seconds
        payload = {
            "id": qid,
            "agent": agent,
            "question": question,
            "options": list(choices) if choices is not None else None,
            "timeout": seconds,
            "expires": expires,
        }
        event = await self.publish("question.asked", agent, payload)
        self._rearm.set()
        folded = self.state.questions.get(qid)
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

    def question(self, qid: str) -> Question:
        """The question `qid` as it is now; `QuestionNotFound` if unknown."""
        question = self.state.questions.get(qid)
        if question is None:
            raise QuestionNotFound(f"no question with id {qid!r} (unknown, or long closed)")
        return question

    async def answer(self, qid: str, answer: str) -> Question:
        """Answer a pending question; the same answer again returns it unchanged.

        Raises `QuestionNotFound`, `InvalidAnswer` (empty, or not one of the options),
        or `QuestionClosed` (expired, or already answered differently).
        """
        self._check_running("answer")
        # From here to close_question nothing awaits: the check and the change are atomic.
        question = self.question(qid)
        if question.state == "answered" and question.answer == answer:
            return question
        if not isinstance(answer, str) or not answer.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidAnswer(f"answer: expected a non-empty string, got {answer!r:.80}")
        if question.options is not None and answer not in question.options:
            raise InvalidAnswer(
                f"answer: expected one of {list(question.options)!r}, got {answer!r:.80}"
            )
        if question.state == "expired":
            raise QuestionClosed(f"question {qid!r} expired; it can no longer be answered")
        if question.state == "answered":
            raise QuestionClosed(
                f"question {qid!r} was already answered {question.answer!r}; "
                "an answer cannot be changed"
            )
        changed = self.state.close_question(qid, "answered", answer, self._clock())
        closed = self.state.questions[qid]
        self._closed_question(closed, changed)
        await self.publish("question.answered", _CONSOLE, {"id": qid, "answer": answer})
        return closed

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
            return self.state.questions.get(qid, question)
        finally:
            with contextlib.suppress(ValueError):
                waiters.remove(future)
            if not waiters and self._waiters.get(qid) is waiters:
                del self._waiters[qid]

    async def expire_due(self) -> list[Question]:
        """Expire every pending question whose deadline has passed (by the hub's clock);
        returns them. The expiry task calls this; tests with a fake clock may too."""
        now = self._clock()
        expired: list[Question] = []
        for question in self.state.pending_questions():
            if question.expires <= now:
                changed = self.state.close_question(question.id, "expired", None, now)
                closed = self.state.questions[question.id]
                self._closed_question(closed, changed)
                expired.append(closed)
        for question in expired:
            try:
                await self.publish("question.expired", _CONSOLE, {"id": question.id})
            except Exception:
                log.exception("parlour console: could not publish question.expired")
        return expired

    # -- following ------------------------------------------------------------------------------

    @overload
    def follow(self, after: int, *, pattern: str = ">") -> AsyncGenerator[Event]: ...
    @overload
    def follow(
        self, after: int, *, pattern: str = ">", idle: float
    ) -> AsyncGenerator[Event | None]: ...
    def follow(
        self, after: int, *, pattern: str = ">", idle: float | None = None
    ) -> AsyncGenerator[Event | None]:
        """The events with `id > after` matching `pattern`: first the journal's, then the
        live ones, in id order with no gap or duplicate. With `idle`, yields `None` after
        each `idle` seconds without an event (time for a heartbeat). Ends when the hub
        closes. A reader that falls far behind catches up from the journal."""
        if type(after) is not int or after < 0:
            raise ValueError(f"follow(after={after!r}): expected an event id >= 0")
        return self._follow(after, TopicPattern.parse(pattern), idle)

    async def _follow(
        self, after: int, pattern: TopicPattern, idle: float | None
    ) -> AsyncGenerator[Event | None]:
        follower = _Follower()
        self._followers.add(follower)
        everything = pattern.text == ">"
        cursor = after
        try:
            while not follower.closed and not self._closed:
                follower.overflowed = False
                while True:  # catch up: each page moves the cursor on; the journal is finite
                    page = await self.journal.read(after=cursor, limit=_PAGE)
                    for event in page:
                        cursor = event.id
                        if everything or pattern.match(split_topic(event.topic)):
                            yield event
                    if len(page) < _PAGE:
                        break
                while not follower.overflowed:
                    try:
                        item = await asyncio.wait_for(follower.queue.get(), idle)
                    except TimeoutError:
                        yield None
                        continue
                    if item is None:
                        break  # closed, or overflowed: the outer loop decides
                    if item.id <= cursor:
                        continue
                    cursor = item.id
                    if everything or pattern.match(split_topic(item.topic)):
                        yield item
        finally:
            self._followers.discard(follower)

    # -- the consumer -----------------------------------------------------------------------

    async def _consume(self, sub: Subscription) -> None:
        async for event in sub:
            try:
                await self._ingest([event, *sub.drain()])
            except Exception:
                log.exception("parlour console: failed to take in events near id %s", event.id)

    async def _ingest(self, batch: Sequence[Event]) -> None:
        fresh: list[Event] = []
        cursor = self.state.last_id
        for event in batch:
            if event.id <= cursor:
                continue  # folded already (seen in history and live)
            if event.id > cursor + 1:
                fresh.extend(await self._history(cursor, event.id))
            fresh.append(event)
            cursor = event.id
        if not fresh:
            return
        try:
            await self.journal.extend(fresh)
        except Exception:
            log.exception("parlour console: could not journal %d events", len(fresh))
        for follower in tuple(self._followers):
            follower.offer(fresh)
        for event in fresh:
            self._apply(event)
        folded, self._folded = self._folded, asyncio.Event()
        folded.set()

    async def _history(self, after: int, before: int | None) -> list[Event]:
        """Events in (after, before) from the bus history: a gap the subscription missed."""
        found: list[Event] = []
        cursor = after
        while before is None or cursor < before - 1:  # each page moves the cursor on
            want = _PAGE if before is None else min(_PAGE, before - cursor - 1)
            try:
                page = await self.bus.history(after=cursor, limit=want)
            except Exception:
                log.exception("parlour console: could not read the bus history")
                break
            found.extend(e for e in page if before is None or e.id < before)
            if len(page) < want:
                break
            cursor = page[-1].id
        return found

    def _apply(self, event: Event) -> None:
        changed = self.state.fold(event)
        if not changed:
            return
        self._count_rate()
        if event.topic.startswith("question."):
            if event.topic == "question.asked":
                self._rearm.set()
            qid = _question_id(event.payload)
            question = self.state.questions.get(qid) if qid else None
            if question is not None and question.closed:
                self._wake(question)
        self._notify(changed)

    def _closed_question(self, question: Question, changed: frozenset[str]) -> None:
        self._wake(question)
        if changed:
            self._notify(changed)

    def _wake(self, question: Question) -> None:
        for future in self._waiters.pop(question.id, []):
            if not future.done():
                future.set_result(question)

    def _notify(self, changed: frozenset[str]) -> None:
        for listener in tuple(self._listeners.values()):
            try:
                listener(changed)
            except Exception:
                log.exception("parlour console: a listener failed")

    def _count_rate(self) -> None:
        second = int(self._clock())
        rate = self._rate
        if rate and rate[-1][0] == second:
            rate[-1][1] += 1
        else:
            rate.append([second, 1])

    async def _wait_folded(self, event_id: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FOLD_WAIT
        while self.state.last_id < event_id and not self._closed:  # bounded by the deadline
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning(
                    "parlour console: event %d was not folded within %gs", event_id, FOLD_WAIT
                )
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._folded.wait(), remaining)

    async def _expire_loop(self) -> None:
        while True:
            self._rearm.clear()
            try:
                await self.expire_due()
            except Exception:
                log.exception("parlour console: expiring questions failed")
            pending = self.state.pending_questions()
            delay = None
            if pending:
                delay = max(0.001, min(q.expires for q in pending) - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rearm.wait(), delay)

    def _check_running(self, operation: str) -> None:
        if not self._started:
            raise RuntimeError(f"Hub.{operation}() before start(): call `await hub.start()` first")
        if self._closed:
            raise RuntimeError(f"Hub.{operation}() after close(): this hub is closed")
