"""The fold: the mutable working copy of one kernel call, and the Step it returns.

    Fold         instances, stack, history, timers, ... copied out of a conversation, changed in
                 place while effects are applied, and built back into a new conversation at the end
    Step         what a kernel call returns: the new conversation, fragments, commands, errors
    unchanged, record_diff   the timers and subscriptions of the Step, and the commands for
                 the ones a fold added or removed
    ErrorReport  a failure the kernel turned into an error block (the runtime logs it)

A fold never escapes the kernel: the conversation values before and after it are immutable,
and everything a fold changes is private to it until `kernel` builds the Step.

What this module does not do: apply effects (see `kernel`), render (see `render`) or walk
the instance tree (see `tree`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import commands as cmd
from . import fragments as fr
from .conversation import Conversation, Instance, Subscription, Timer
from .values import fast_init

if TYPE_CHECKING:
    from .codec import Snapshot
    from .component import Mount
    from .render import Host

__all__ = ["ErrorReport", "Fold", "Step", "record_diff", "unchanged"]

_SHARED_IDS = 1024
"""Instance ids numbered below this are interned (a bounded set, whatever the conversations)."""


@fast_init
@dataclass(frozen=True, slots=True)
class ErrorReport:
    """A failure the kernel turned into an error block; the runtime logs it."""

    cid: str
    iid: str
    phase: str
    error: BaseException


@fast_init
@dataclass(frozen=True, slots=True)
class Step:
    """The result of one kernel call: the next conversation and what the world should see."""

    conversation: Conversation
    fragments: tuple[fr.Fragment, ...] = ()
    commands: tuple[cmd.Command, ...] = ()
    errors: tuple[ErrorReport, ...] = ()


class Fold:
    """The mutable working copy of one kernel call. Never escapes the kernel."""

    def __init__(self, conv: Conversation, now: float) -> None:
        self.conv = conv
        self.now = now
        self.instances: dict[str, Instance] = dict(conv.instances)
        self.stack: list[str] = list(conv.stack)
        self.history: list[Snapshot] = list(conv.history)
        self.history_base = conv.history_base
        self.next_id = conv.next_id
        self.touched = conv.touched
        self.last_url = conv.last_url
        self.ended = conv.ended
        self.timers: list[Timer] = list(conv.timers)
        self.subscriptions: list[Subscription] = list(conv.subscriptions)
        self.frags: list[fr.Fragment] = []
        self.cmds: list[cmd.Command] = []
        self.errors: list[ErrorReport] = []
        self.rendering: set[str] | None = None
        """While rendering: the instances drawn so far (marked rendered once the HTML is whole)."""
        self.host: Host | None = None
        self.mounts: dict[str, Mount] = {}

    def close(self) -> None:
        """The fold is over: its components' host lets go of it (`render.Host`)."""
        host = self.host
        if host is not None:
            host.release()

    @property
    def cid(self) -> str:
        return self.conv.id

    @property
    def top(self) -> str | None:
        return self.stack[-1] if self.stack else None

    @property
    def depth(self) -> int:
        return self.history_base + len(self.history)

    def new_id(self, prefix: str = "p") -> str:
        n = self.next_id
        self.next_id += 1
        iid = f"{prefix}{n}"
        # Every conversation numbers its instances from 1: the first ids are one string for
        # all of them rather than one each (an idle tab holds its ids several times over).
        return sys.intern(iid) if n < _SHARED_IDS else iid

    def push_history(self, snapshot: Snapshot) -> None:
        self.history.append(snapshot)
        overflow = len(self.history) - self.conv.history_limit
        if overflow > 0:
            del self.history[:overflow]
            self.history_base += overflow
            if self.history:
                self.history[0].rebase()  # the new oldest no longer leans on a dropped one

    def mark_all_unrendered(self) -> None:
        for iid, inst in self.instances.items():
            if inst.rendered:
                self.instances[iid] = inst.with_rendered(False)

    def element_count(self) -> int:
        """How many page patches were drawn, for "did the handler draw?". What shows over the
        page (a toast in the overlay) does not count: the handler's instance still re-renders."""
        return sum(
            1
            for f in self.frags
            if isinstance(f, fr.Elements) and f.selector != fr.OVERLAY_SELECTOR
        )


def unchanged[T](items: list[T], old: tuple[T, ...]) -> tuple[T, ...]:
    """`old` itself when `items` holds the same objects (so nothing is diffed), else a tuple."""
    if len(items) != len(old):
        return tuple(items)
    for a, b in zip(items, old, strict=True):
        if a is not b:
            return tuple(items)
    return old


def record_diff(before: Conversation, after: Conversation) -> Iterable[cmd.Command]:
    """Commands for timers and subscriptions that a fold added or removed."""
    if before.timers is not after.timers:
        # By id: a timer's payload may be a list or a dict, which cannot be hashed.
        old, new = {t.id for t in before.timers}, {t.id for t in after.timers}
        for t in before.timers:
            if t.id not in new:
                yield cmd.CancelTimer(after.id, t)
        for t in after.timers:
            if t.id not in old:
                yield cmd.ScheduleTimer(after.id, t)
    if before.subscriptions is not after.subscriptions:
        old_s, new_s = set(before.subscriptions), set(after.subscriptions)
        for s in before.subscriptions:
            if s not in new_s:
                yield cmd.Unsubscribe(after.id, s)
        for s in after.subscriptions:
            if s not in old_s:
                yield cmd.Subscribe(after.id, s)
