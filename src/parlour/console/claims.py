"""Claims: which console may publish a question's closing (or a new id, or a key's question).

    claims = LocalClaims()                            # one console: nothing to agree on
    held = await claims.take(close_key(qid), "answered", "yes", by="ada")
    if held is None: ...publish question.answered...  # ours; else `held` says whose it is
    await claims.drop(close_key(qid))                 # the publish failed: let others try
    await claims.head()                               # the newest event id stored anywhere

Why. The console's fold keeps the first valid closing of a question in event order, so it
is always right about the outcome; a claim is what lets a console tell the person *before*
publishing that someone else got there first (a 409, not an event that changes nothing),
and keeps several consoles on one bus from each publishing the same expiry. Within one
process `Asking` decides that with a dict and no await between the check and the claim.
Several consoles (the nodes of a cluster) need a claim they all see: `NatsClaims`
(`parlour.console.claims_nats`) takes it with a key-value *create*, which exactly one of
them wins.

A claim only has to last from the claim to the fold of the event it announces (a few
milliseconds, at most the publish timeout). After `LEASE` seconds it is *stale*: the event
it announced is folded everywhere, or was never published (the claiming node died, or NATS
went away between the claim and the publish), and another console may take it over; the
fold still keeps only the first closing, should both events ever be stored.

What this module does not do: decide whether an answer is valid (`parlour.console.asking`
and `parlour.console.questions` do), or talk to NATS (`parlour.console.claims_nats`).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal, Protocol

__all__ = [
    "LEASE",
    "Claims",
    "Held",
    "LocalClaims",
    "ask_key",
    "close_key",
    "idempotency_key",
]

LEASE: Final = 30.0
"""Seconds a claim stands before another console may take it over (see the module)."""

ClaimState = Literal["answered", "expired", "cancelled", "asked"]
Held = tuple[ClaimState, Any]
"""A claim as another console holds it: ("answered", the answer), ("expired", None),
("cancelled", None), or ("asked", the question id) for an id or an Idempotency-Key."""


def _digest(text: str) -> str:
    """A key-value key token for any printable text (ids and keys may hold anything)."""
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def close_key(qid: str) -> str:
    """The claim on closing question `qid` (an answer, an expiry or a cancel)."""
    return f"close.{_digest(qid)}"


def ask_key(qid: str) -> str:
    """The claim on the question id `qid` while it is being asked."""
    return f"ask.{_digest(qid)}"


def idempotency_key(key: str) -> str:
    """The claim on an Idempotency-Key while its question is being asked."""
    return f"key.{_digest(key)}"


class Claims(Protocol):
    """Where consoles sharing one bus agree on who publishes what."""

    @property
    def shared(self) -> bool:
        """Whether other consoles see these claims (False: this process alone)."""
        ...

    @property
    def lease(self) -> float:
        """Seconds a claim stands before another console may take it over."""
        ...

    async def take(
        self, key: str, state: ClaimState, value: Any = None, *, by: str = ""
    ) -> Held | None:
        """Claim `key` for (`state`, `value`): None when the claim is now ours, else what
        holds it (another console's claim, younger than `LEASE`)."""
        ...

    async def drop(self, key: str) -> None:
        """Give up our claim on `key` (its event was not published); others may take it."""
        ...

    async def head(self) -> int:
        """The id of the newest event the bus has stored (0 when only this process
        publishes): a console that has folded up to it knows what every other knew."""
        ...

    async def close(self) -> None:
        """Release the connection, if any; idempotent."""
        ...


class LocalClaims:
    """The claims of a console alone on its bus: always its own (`Asking`'s dict decides)."""

    shared = False
    lease = LEASE

    def __repr__(self) -> str:
        return "LocalClaims()"

    async def take(
        self, key: str, state: ClaimState, value: Any = None, *, by: str = ""
    ) -> Held | None:
        return None

    async def drop(self, key: str) -> None:
        return None

    async def head(self) -> int:
        return 0

    async def close(self) -> None:
        return None
