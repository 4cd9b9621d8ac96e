"""Commands: side effects the kernel asks the runtime to perform.

The kernel is pure, so effects that touch the world (timers, the bus, threads, other events)
come out of a fold as commands: plain values the runtime performs after it has saved the new
conversation. Without a runtime they are inert, which keeps `dispatch` and `replay` pure.

Timers and subscriptions are also *recorded* on the conversation (see `conversation.Timer`,
`conversation.Subscription`), so they survive a restart; the commands here describe the
change a fold made to those records, computed by comparing before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .conversation import Subscription, Timer

__all__ = [
    "CancelTimer",
    "Command",
    "DispatchTo",
    "Ended",
    "Publish",
    "RunIo",
    "ScheduleTimer",
    "Subscribe",
    "Unsubscribe",
]


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    cid: str
    timer: Timer


@dataclass(frozen=True, slots=True)
class CancelTimer:
    cid: str
    timer: Timer


@dataclass(frozen=True, slots=True)
class Subscribe:
    cid: str
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    cid: str
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class RunIo:
    """Run `fn` off the event loop; its result goes to `iid.method`, errors to on_error_."""

    cid: str
    iid: str
    method: str
    fn: Callable[[], Any]


@dataclass(frozen=True, slots=True)
class DispatchTo:
    cid: str
    iid: str
    method: str
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: Any
    source: str


@dataclass(frozen=True, slots=True)
class Ended:
    """Conversation `cid` ended with `value`: what its root frame answered (or `end(value)`
    gave, or a root `@flow` returned; None when it was ended from outside, e.g. by `finish`).

    The kernel has nowhere to send a root frame's answer; the runtime hands it to the app
    (`App(on_end=...)`), so a finished wizard's result is not silently dropped.
    """

    cid: str
    value: Any = None


Command = (
    ScheduleTimer | CancelTimer | Subscribe | Unsubscribe | RunIo | DispatchTo | Publish | Ended
)
