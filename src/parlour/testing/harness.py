"""Testing components without HTTP: a harness that drives one conversation, and `replay`.

    h = Harness(Counter)                 # boots Counter in a fresh conversation
    h.dispatch(Counter, "inc")           # an event, by component class (or iid) and name
    assert ".count\">1<" in h.html       # the page as it is now (the top frame, rendered)

    run = replay(Counter, [Dispatch("inc"), Dispatch("add", 5)])   # pure: no runtime, no I/O
    assert run.errors == ()              # what handlers and renders raised, as reports

The harness's clock is manual (`h.now`, `h.advance(seconds)` fires due timers), so tests of
timers never sleep. Commands (io, publish, ...) are collected, not performed.

What this module does not do: HTTP, streams or a browser's view of the page (see
`parlour.testing.page`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Importing parlour.wire plugs into core the Datastar actions that renders need (core.actions).
import parlour.wire  # noqa: F401  # pyright: ignore[reportUnusedImport]
from parlour.core import kernel
from parlour.core.commands import Command
from parlour.core.component import Component
from parlour.core.conversation import Conversation
from parlour.core.fragments import Elements, Fragment

__all__ = ["Dispatch", "Harness", "Replayed", "replay"]


def _root(root: Component | type[Component]) -> Component:
    return root() if isinstance(root, type) else root


class Harness:
    """Mount `root` in a fresh conversation and drive it event by event, without HTTP."""

    def __init__(
        self,
        root: Component | type[Component],
        *,
        cid: str = "test",
        base: str = "/_parlour",
        now: float = 0.0,
        history_limit: int = 50,
    ) -> None:
        self.now = now
        self.steps: list[kernel.Step] = []
        self._record(
            kernel.boot(_root(root), cid=cid, base=base, now=now, history_limit=history_limit)
        )

    def __repr__(self) -> str:
        return f"Harness({self.conversation!r})"

    def _record(self, step: kernel.Step) -> kernel.Step:
        self.steps.append(step)
        self.conversation = step.conversation
        return step

    # -- reading -------------------------------------------------------------------------

    @property
    def last(self) -> kernel.Step:
        return self.steps[-1]

    @property
    def fragments(self) -> list[Fragment]:
        """Every fragment produced so far, in order."""
        return [f for s in self.steps for f in s.fragments]

    @property
    def commands(self) -> list[Command]:
        """Every command produced so far (the harness performs none of them)."""
        return [c for s in self.steps for c in s.commands]

    @property
    def errors(self) -> list[kernel.ErrorReport]:
        """Every failure so far (a handler, render or hook raised), in order."""
        return [e for s in self.steps for e in s.errors]

    @property
    def html(self) -> str:
        """The page as a fresh stream would draw it: the top frame, rendered whole."""
        step = kernel.render_top(self.conversation)
        return "".join(f.html for f in step.fragments if isinstance(f, Elements))

    @property
    def top(self) -> Component:
        iid = self.conversation.top
        if iid is None:
            raise LookupError("the conversation has no frame (it ended, or never started)")
        return self.conversation.instances[iid].component

    def instance(self, iid: str) -> Component:
        return self.conversation.instances[iid].component

    def find(self, cls: type[Component]) -> str:
        """The iid of the newest instance of `cls` (raises with what exists if none)."""
        matches = [i.iid for i in self.conversation.instances.values() if type(i.component) is cls]
        if not matches:
            present = sorted(
                {type(i.component).__qualname__ for i in self.conversation.instances.values()}
            )
            raise LookupError(f"no {cls.__qualname__} in the conversation (present: {present})")
        return max(matches, key=lambda iid: int(iid[1:]) if iid[1:].isdigit() else 0)

    def _iid(self, target: str | type[Component] | Component | None) -> str:
        if target is None:
            top = self.conversation.top
            if top is None:
                raise LookupError("the conversation has no frame to send the event to")
            return top
        if isinstance(target, str):
            return target
        if isinstance(target, Component):
            return target.iid
        return self.find(target)

    # -- driving --------------------------------------------------------------------------

    def dispatch(
        self,
        target: str | type[Component] | Component | None,
        name: str,
        payload: Any = None,
        *,
        signals: Mapping[str, Any] | None = None,
    ) -> kernel.Step:
        """A browser event: `target` is an iid, a component class (its newest instance),
        an instance, or None for the top frame."""
        event = kernel.Event(self._iid(target), name, payload, signals or {}, now=self.now)
        return self._record(kernel.dispatch(self.conversation, event))

    def apply(self, event: kernel.Event) -> kernel.Step:
        """A `kernel.Event` as it is (its own iid, source and time)."""
        return self._record(kernel.dispatch(self.conversation, event))

    def deliver(
        self, target: str | type[Component] | Component, method: str, payload: Any = None
    ) -> kernel.Step:
        """An internal event (what a bus event, io result or dispatch_to would do)."""
        return self._record(
            kernel.deliver(self.conversation, self._iid(target), method, payload, now=self.now)
        )

    def back(self, *, to: int | None = None) -> kernel.Step:
        return self._record(kernel.back(self.conversation, to=to, now=self.now))

    def advance(self, seconds: float) -> list[kernel.Step]:
        """Move the clock forward, firing due timers in order, each at its due time (so a
        timer that schedules the next one fires again within the same advance)."""
        end = self.now + seconds
        fired: list[kernel.Step] = []
        while True:
            due = sorted((t for t in self.conversation.timers if t.due <= end), key=lambda t: t.due)
            if not due:
                self.now = end
                return fired
            self.now = max(self.now, due[0].due)
            fired.append(self._record(kernel.fire_timer(self.conversation, due[0].id, self.now)))


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One browser event for `replay`: `name` on the instance `to` (an iid, a component class
    for its newest instance, or None for the top frame as it is when the event comes)."""

    name: str
    payload: Any = None
    to: str | type[Component] | None = None
    signals: Mapping[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True, slots=True)
class Replayed:
    """What `replay` did: every step, the conversation at the end, and what went wrong."""

    conversation: Conversation
    steps: tuple[kernel.Step, ...]

    @property
    def fragments(self) -> tuple[Fragment, ...]:
        """Every fragment, in order: the boot render first."""
        return tuple(f for s in self.steps for f in s.fragments)

    @property
    def commands(self) -> tuple[Command, ...]:
        return tuple(c for s in self.steps for c in s.commands)

    @property
    def errors(self) -> tuple[kernel.ErrorReport, ...]:
        """What handlers, renders and hooks raised, in order. The kernel turns each into an
        error block on the page and leaves the conversation as it was; a test that expects
        none says `assert run.errors == ()`, and the report carries the exception."""
        return tuple(e for s in self.steps for e in s.errors)

    @property
    def html(self) -> str:
        """The page as a fresh stream would draw it at the end: the top frame, rendered."""
        step = kernel.render_top(self.conversation)
        return "".join(f.html for f in step.fragments if isinstance(f, Elements))


def replay(
    root: Component | type[Component],
    events: Iterable[Dispatch | kernel.Event],
    *,
    cid: str = "replay",
) -> Replayed:
    """Boot `root` and fold `events` over it, purely: no runtime, no clock, no I/O.

    An event is a `Dispatch` (a browser event by name, for the top frame unless `to` says
    otherwise) or a `kernel.Event` as it is (e.g. `source="internal"` for a timer's method).
    """
    h = Harness(root, cid=cid)
    for event in events:
        if isinstance(event, Dispatch):
            h.dispatch(event.to, event.name, event.payload, signals=event.signals)
        elif isinstance(event, kernel.Event):  # pyright: ignore[reportUnnecessaryIsInstance]
            h.apply(event)
        else:
            raise TypeError(
                f"replay() takes Dispatch(name, payload, to=...) or kernel.Event values, got "
                f"{event!r}; write ('inc', 5) as Dispatch('inc', 5) and ('p1', 'inc', None) "
                "as Dispatch('inc', to='p1')"
            )
    return Replayed(h.conversation, tuple(h.steps))
