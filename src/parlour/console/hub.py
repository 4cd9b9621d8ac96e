"""The console hub: the one asyncio object that owns the state, the journal and the bus.

    journal = open_journal("console.db")
    bus = InProcessBus(first_id=journal.last_id() + 1)   # ids stay unique across restarts
    hub = Hub(bus, journal)
    await hub.start()            # replay the journal, catch up, subscribe, re-arm expiries
    unlisten = hub.listen(lambda changed: ...)           # after every folded event
    await hub.publish("agent.started", "deployer", {"task": "ship 1.4"})
    q = await hub.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    await hub.answer(q.id, "yes", by="ada")               # a person, through the API
    await hub.wait(q.id, timeout=25)                      # the asker's long poll
    await hub.launch("src", "review")   # -> {"graph_id", "status": "started", "node_count"}
    await hub.close()            # stops its tasks and closes the journal (not the bus)

How events flow. Everything that changes the state arrives through ONE subscription to
the bus (pattern ">"), read by ONE consumer task, so events from other processes (on
NATS) are folded like local ones and always in id order:

    bus ──> consumer: skip ids already folded ──> fill an id gap from bus.history
            ──> journal.extend(batch) ──> followers ──> state.fold(event) each
            ──> listeners(changed parts), the questions' waiters and expiry

`publish` returns once the consumer has folded the event (read-your-writes: after a
`POST /api/events` answers, `GET /api/snapshot` shows the event), waiting at most 5 s.
The fold is the only writer of the state, questions included, so the journal alone
rebuilds what the console shows.

Its parts: `hub.asking` (`parlour.console.asking`: asking, answering at most once,
expiry, long polls) and `hub.launcher` (`parlour.console.launcher`: runs, R20) publish
through the hub; the hub's `ask`, `answer`, `wait`, `launch`, ... are theirs, checked
against the hub's life cycle.

What this module does not do: serve HTTP (`parlour.console.api`), render anything, or
close the bus it was given (the bus may serve the rest of the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, overload

from parlour.bus.event import Event
from parlour.bus.memory import InProcessBus
from parlour.bus.patterns import TopicPattern, split_topic
from parlour.bus.protocol import EventBus
from parlour.bus.subscription import Subscription
from parlour.console.asking import Asking
from parlour.console.claims import Claims, LocalClaims
from parlour.console.journal import Journal
from parlour.console.launcher import Launcher, LaunchListener
from parlour.console.model import CLEAR_LOG_TOPIC, CONSOLE_SOURCE, ConsoleState, Settings
from parlour.console.questions import DEFAULT_TIMEOUT, MAX_TIMEOUT, Answerer, Question

__all__ = ["Hub"]

log = logging.getLogger(__name__)

FOLD_WAIT: Final = 5.0
RATE_WINDOW: Final = 10
_PAGE: Final = 1000
_FOLLOW_QUEUE: Final = 1024

Listener = Callable[[frozenset[str]], None]


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
    """The console's live core: the state, its journal and the bus subscription that feeds
    it; the questions (`asking`) and the run launcher (`launcher`) as parts."""

    def __init__(
        self,
        bus: EventBus,
        journal: Journal,
        *,
        clock: Callable[[], float] = time.time,
        default_timeout: float = DEFAULT_TIMEOUT,
        queue_size: int = 10_000,
        bundles: Mapping[str, Sequence[str]] | None = None,
        root: str | Path | None = None,
        claims: Claims | None = None,
    ) -> None:
        """`default_timeout`: seconds a question waits when `ask` says nothing. `bundles`
        and `root`: the run launcher's (see `Launcher`). `claims`: where consoles sharing the
        bus agree on who closes a question (`parlour.console.claims`; this one alone by
        default)."""
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
        self.asking = Asking(
            self.publish,
            self.state,
            clock=clock,
            default_timeout=float(default_timeout),
            settle=FOLD_WAIT,
            claims=claims or LocalClaims(),
            catch_up=self.catch_up,
        )
        self.launcher = Launcher(self.publish, bundles=bundles, root=root)
        self._clock = clock
        self._queue_size = queue_size
        self._listeners: dict[int, Listener] = {}
        self._next_listener = 0
        self._followers: set[_Follower] = set()
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._folded = asyncio.Event()
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
            asyncio.create_task(self.asking.expiry(), name="parlour-console-expiry"),
        ]
        await self.asking.expire_due()

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
        self.asking.close()
        await self.journal.close()

    @property
    def running(self) -> bool:
        return self._started and not self._closed

    @property
    def last_id(self) -> int:
        """The id of the newest event folded into `state`."""
        return self.state.last_id

    @property
    def events_per_second(self) -> float:
        """Events folded per second over the last 10 seconds."""
        now = int(self._clock())
        recent = sum(count for second, count in self._rate if second > now - RATE_WINDOW)
        return recent / RATE_WINDOW

    def listen(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(changed_parts)` on the loop after each folded event; returns the
        function that stops it."""
        key = self._next_listener
        self._next_listener += 1
        self._listeners[key] = callback

        def unlisten() -> None:
            self._listeners.pop(key, None)

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

    async def catch_up(self) -> None:
        """Fold every event the bus had stored when called, read from its history rather
        than awaited from the live feed: a console told of a question another console
        published a moment ago knows it afterwards. (The fold skips what the consumer
        folds meanwhile.) Nothing to do for a console alone on its bus."""
        head = await self.asking.claims.head()
        if head > self.state.last_id:
            await self._ingest(await self._history(self.state.last_id, head + 1))

    async def clear_log(self) -> Event:
        """Empty the event log (for everyone, and after a restart: it is an event too)."""
        return await self.publish(CLEAR_LOG_TOPIC, CONSOLE_SOURCE, None)

    async def set_setting(self, key: str, raw: Any) -> Any:
        """Validate a setting (`ValueError` says what is wrong), publish `config.changed`,
        and return the value as stored once it is folded."""
        value = Settings.validated(key, raw)
        await self.publish("config.changed", CONSOLE_SOURCE, {"key": key, "value": value})
        return value

    # -- the parts: questions and runs ----------------------------------------------------------

    @property
    def waiting(self) -> int:
        """How many `wait` calls (long polls) are waiting for a question to close."""
        return self.asking.waiting

    async def ask(
        self,
        agent: str,
        question: str,
        options: Sequence[str] | None = None,
        timeout: float | None = None,
        *,
        qid: str | None = None,
        **typed: Any,
    ) -> Question:
        """Publish a new pending question, with the id `qid` or a fresh one, and the typed
        question's `kind`, `multiple`, `schema`, `default`, `assignee`, `key` (see
        `Asking.ask`); `ValueError` for bad input, `DuplicateQuestion` for a taken id."""
        self._check_running("ask")
        return await self.asking.ask(agent, question, options, timeout, qid=qid, **typed)

    def question(self, qid: str) -> Question:
        """The question `qid` as it is now; `QuestionNotFound` if unknown."""
        return self.asking.question(qid)

    async def answer(
        self, qid: str, answer: Any, *, by: str | Answerer = CONSOLE_SOURCE
    ) -> Question:
        """Answer a question at most once, as `by` (who answers; the page and the API say
        who, code holding the hub is "console"), see `Asking.answer`: `QuestionNotFound`,
        `InvalidAnswer`, `NotAssignee` or `QuestionClosed` say why not."""
        self._check_running("answer")
        return await self.asking.answer(qid, answer, by=by)

    async def cancel(self, qid: str, *, by: str = CONSOLE_SOURCE) -> Question:
        """Cancel a pending question (see `Asking.cancel`)."""
        self._check_running("cancel")
        return await self.asking.cancel(qid, by=by)

    async def wait(self, qid: str, timeout: float) -> Question:
        """The question once closed, or as it is after `timeout` seconds (`Asking.wait`)."""
        return await self.asking.wait(qid, timeout)

    async def expire_due(self) -> list[Question]:
        """Expire the questions past their deadline now (the expiry task does it at each
        deadline; tests with a fake clock call this)."""
        return await self.asking.expire_due()

    @property
    def bundles(self) -> dict[str, tuple[str, ...]]:
        """The launcher's bundles, name -> agent names, the default first."""
        return self.launcher.bundles

    @property
    def default_bundle(self) -> str:
        return self.launcher.default_bundle

    @property
    def root(self) -> Path:
        """The project directory run targets must lie in."""
        return self.launcher.root

    def on_launch(self, callback: LaunchListener) -> Callable[[], None]:
        """Call `callback(request)` after each `launch` (see `Launcher.on_launch`)."""
        return self.launcher.on_launch(callback)

    async def launch(self, target: str, bundle: str | None = None) -> dict[str, Any]:
        """Start a run (see `Launcher.launch`); `InvalidRun` says what is wrong."""
        self._check_running("launch")
        return await self.launcher.launch(target, bundle)

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
            self.asking.folded(event)
        self._notify(changed)

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

    def _check_running(self, operation: str) -> None:
        if not self._started:
            raise RuntimeError(f"Hub.{operation}() before start(): call `await hub.start()` first")
        if self._closed:
            raise RuntimeError(f"Hub.{operation}() after close(): this hub is closed")
