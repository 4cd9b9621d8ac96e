"""The conversation: one tab's session with the server, as plain data.

    Conversation
      id, base, owner         who it is, where its URLs live, which session may use it
      stack                   iids of full-page frames, bottom (root) to top (what is shown)
      instances               iid -> Instance: every live instance (frames and their children)
      history                 snapshots for *back*, oldest first, bounded by history_limit
      timers, subscriptions   pending `after` timers and bus subscriptions, so they survive
                              a restart and die with their instance
      created, touched        unix seconds

    Instance
      iid, component          the id and the component object holding the state
      parent, resume          who receives this instance's answer, and by which method name
      children, keyed         fixed slots (slot -> iid) and keyed lists (slot -> KeyedSlot)
      slot, previous          for call_in_slot children: their slot and the displaced occupant
      rendered                whether the browser currently shows this instance (not stored)

Values are immutable by convention: the kernel builds new ones and never changes a component
that is part of a conversation (it mutates private clones), so a snapshot is just the old
value, shared structurally.

A conversation is created with keywords (`Conversation(id=..., ...)`, in `kernel.boot` and
`codec.decode`) and every other one is derived from an existing value with
`dataclasses.replace`, naming only what changed, except on the click path: `without_history`
here, `kernel._finish` and `click.plain_click` call the constructor positionally (three times
cheaper). So a new field is an edit here, in those three, and in the stored format in `codec`
if it is stored.

What this module does not do: apply events (see `kernel`), serialise (see `codec`, which also
defines `Snapshot`, the entry type of `history`), or perform any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .component import Component
from .state import encode_state
from .values import fast_init

if TYPE_CHECKING:
    from .codec import Snapshot

__all__ = [
    "EMPTY",
    "Conversation",
    "Instance",
    "KeyedSlot",
    "Subscription",
    "Timer",
    "without_history",
]


EMPTY: Mapping[str, Any] = {}
"""The children (or keyed lists) of an instance that has none: one mapping shared by all,
where an empty dict each would cost every instance of every open conversation 64 bytes. The
kernel never changes these mappings in place (it builds a new one), and typed `Mapping` the
type checker refuses code that would. A plain dict rather than a read-only proxy: the codec
and the kernel's comparisons take a dict's fast paths on every click (a proxy cost 8,000
instructions per click)."""


@dataclass(frozen=True, slots=True)
class KeyedSlot:
    """A keyed list of children: their order, key -> iid, and key -> spec (to spot changes)."""

    order: tuple[str, ...] = ()
    children: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    specs: Mapping[str, bytes] = field(default_factory=lambda: EMPTY)


@fast_init
@dataclass(frozen=True, slots=True)
class Instance:
    iid: str
    component: Component
    parent: str | None = None
    resume: str | None = None
    children: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # shared, not copied
    keyed: Mapping[str, KeyedSlot] = field(default_factory=lambda: EMPTY)
    slot: str | None = None
    previous: str | None = None
    rendered: bool = False
    state: bytes | None = field(default=None, compare=False, repr=False)
    """Cached encoding of the component's state (None: not encoded yet)."""

    @property
    def type_name(self) -> str:
        return type(self.component).__parlour_name__

    def encoded_state(self) -> bytes:
        if self.state is None:
            data = encode_state(self.component)
            object.__setattr__(self, "state", data)
            return data
        return self.state

    # The two copies the kernel makes on every event, positionally: `dataclasses.replace` is
    # about three times slower, and a page re-marks every instance when its frame changes.
    # A new field is added to both (and to `codec` if it is stored).

    def with_component(self, component: Component, state: bytes | None) -> Instance:
        """This instance holding `component` (a handler's new state; `state` its encoding)."""
        return Instance(
            self.iid,
            component,
            self.parent,
            self.resume,
            self.children,
            self.keyed,
            self.slot,
            self.previous,
            self.rendered,
            state,
        )

    def with_rendered(self, rendered: bool) -> Instance:
        """This instance, marked as shown in the browser or not."""
        return Instance(
            self.iid,
            self.component,
            self.parent,
            self.resume,
            self.children,
            self.keyed,
            self.slot,
            self.previous,
            rendered,
            self.state,
        )


@fast_init
@dataclass(frozen=True, slots=True)
class Timer:
    """A pending `after` timer: call `iid.method(payload)` at `due` (unix seconds)."""

    id: str
    iid: str
    due: float
    method: str
    payload: Any = None


@fast_init
@dataclass(frozen=True, slots=True)
class Subscription:
    """Deliver bus events matching `pattern` to `iid.method(event)`."""

    iid: str
    pattern: str
    method: str


@fast_init
@dataclass(frozen=True, slots=True, eq=False)
class Conversation:
    id: str
    base: str = "/_parlour"
    stack: tuple[str, ...] = ()
    instances: Mapping[str, Instance] = field(default_factory=lambda: {})
    history: tuple[Snapshot, ...] = ()
    history_base: int = 0
    """How many snapshots were dropped from the front of history (so depths stay absolute)."""
    history_limit: int = 50
    created: float = 0.0
    touched: float = 0.0
    owner: str | None = None
    next_id: int = 1
    last_url: str | None = None
    ended: bool = False
    timers: tuple[Timer, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()

    @property
    def top(self) -> str | None:
        """The iid of the frame the user sees, or None before boot."""
        return self.stack[-1] if self.stack else None

    @property
    def depth(self) -> int:
        """Absolute history position: grows by one per snapshot, never reused."""
        return self.history_base + len(self.history)

    def __repr__(self) -> str:
        return (
            f"Conversation(id={self.id!r}, stack={list(self.stack)!r}, "
            f"instances={len(self.instances)}, history={len(self.history)}, ended={self.ended})"
        )


def without_history(conv: Conversation) -> Conversation:
    """The same conversation with an empty history (what a snapshot holds)."""
    c = conv  # positionally, in field order: this runs on every click (see kernel._finish)
    return Conversation(
        c.id,
        c.base,
        c.stack,
        c.instances,
        (),
        0,
        c.history_limit,
        c.created,
        c.touched,
        c.owner,
        c.next_id,
        c.last_url,
        c.ended,
        c.timers,
        c.subscriptions,
    )
