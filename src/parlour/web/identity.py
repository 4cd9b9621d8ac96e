"""Who a request is, and whether it may use a conversation: authenticate, then authorise.

    App(Root, authenticate=signed_in)     signed_in(request) -> principal or None (may be async)

Phoenix LiveView's model: authenticate when a tab opens, authorise again on every request
after that. `authenticate` is the app's: it reads the Starlette `Request` (its own cookie, a
header, or `request.user` when parlour is mounted under Starlette's AuthenticationMiddleware
or in a FastAPI app) and returns a *principal*: whatever describes who it is (a name, a user
object, a dict of claims), or None for nobody. parlour calls it

    on the page GET        the new conversation belongs to this principal (and this session)
    on every event POST    and on every step back: anyone else gets 403
    on every stream open   and again at every heartbeat of an open stream (and at once after
                           `App.reauthenticate`): anyone else's stream is closed, the tab
                           reloads, and the page it gets is the one for who it is now

A conversation belongs to the session cookie that opened it *and* to the principal: its
owner token (`Conversation.owner`, stored with it) is `SID` when nobody was signed in and
`SID.DIGEST` otherwise, where DIGEST is a SHA-256 digest (16 bytes, base64url) of the
principal's *identity*: its `id` (an attribute, or a mapping's `"id"`), Starlette's
`BaseUser.identity`, or else the principal itself as canonical JSON. So a user whose roles
change keeps their tabs (same id), and signing out, or in as someone else, loses them. The
principal itself is never stored: it lives in memory with the conversation (`Live.principal`)
and is refreshed by every request that passes.

What this module does not do: sign anyone in (the app does: a route that sets its own
cookie, a middleware, a proxy) or decide what a principal may see (components do, reading
`parlour.core.context.principal()`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from starlette.authentication import BaseUser
from starlette.requests import Request
from starlette.types import Scope

from parlour.runtime.live import Live
from parlour.web.session import COOKIE, Owners

__all__ = ["Authenticate", "Ownership", "Refused", "identity"]

type Authenticate = Callable[[Request], object | Awaitable[object]]
"""The app's `authenticate`: a request to its principal, or None for nobody."""

_SEPARATOR = "."
"""Between the session id and the principal's digest in an owner token (session ids are
base64url, so they never contain it)."""


def identity(principal: object) -> str | None:
    """Who `principal` is, as a stable string; None for nobody.

    Raises TypeError, saying what to return instead, for a value that has no identity.
    """
    if principal is None:
        return None
    if isinstance(principal, BaseUser):
        if not principal.is_authenticated:
            return None  # Starlette's UnauthenticatedUser: nobody
        try:
            key: object = principal.identity
        except NotImplementedError:
            key = principal.display_name
    elif isinstance(principal, Mapping) and "id" in principal:
        key = cast(Mapping[str, object], principal)["id"]
    elif isinstance(principal, (str, int, float, bool, list, tuple, Mapping)):
        key = cast(object, principal)
    else:
        key = getattr(principal, "id", None)
        if key is None:
            raise TypeError(
                f"authenticate returned {principal!r} (a {type(principal).__qualname__}), which "
                "says nothing of who it is: return None for nobody, a JSON value (a name, a "
                "dict of claims), or an object with an `id`"
            )
    try:
        return json.dumps(key, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(str(key))


@functools.lru_cache(maxsize=4096)
def _digest(key: str) -> str:
    """The owner token's part for identity `key` (remembered: every request computes it)."""
    raw = hashlib.sha256(key.encode()).digest()[:16]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a request may not use a conversation: another `session`, or another `principal`
    (signed out, or signed in as someone else). A POST answers 403 with `message`; a stream
    of the same session makes its tab reload instead."""

    reason: Literal["session", "principal"]
    message: str


_FOREIGN = Refused("session", "this conversation belongs to another session")
_SOMEONE_ELSE = Refused(
    "principal",
    "this conversation belongs to someone else (signed out, or signed in as another); "
    "reload the page",
)


class Ownership:
    """Authenticates requests with the app's `authenticate` and checks them against the
    owner of the conversation they name."""

    def __init__(self, owners: Owners, authenticate: Authenticate | None = None) -> None:
        self.owners = owners
        self.authenticate = authenticate

    async def principal(self, scope: Scope) -> object:
        """What `authenticate` makes of the request (None without one).

        The request has no body to read (`receive` is not given): an event's body is the
        page's signals, for the handler, not for authentication.
        """
        if self.authenticate is None:
            return None
        found = self.authenticate(Request(scope))
        if inspect.isawaitable(found):
            found = await found
        return found

    def owner(self, sid: str, principal: object) -> str:
        """The owner token of a conversation opened by session `sid` for `principal`."""
        key = identity(principal)
        return sid if key is None else f"{sid}{_SEPARATOR}{_digest(key)}"

    async def admit(self, scope: Scope, cookies: Mapping[str, str], live: Live) -> Refused | None:
        """May this request (its `cookies`, its principal) use `live`? None when it may; then
        `live.principal` is what `authenticate` said now (what components will see)."""
        principal = await self.principal(scope)
        refused = self.owns(live.conv.owner, cookies, principal)
        if refused is None:
            live.principal = principal
        elif refused.reason == "principal":
            # The browser that owns the conversation signed out (or in as someone else): its
            # open streams check their own requests now, rather than at their next heartbeat.
            for connection in live.connections:
                connection.nudge()
        return refused

    def admit_session(self, cookie: str | None, live: Live) -> Refused | None:
        """`admit` for an app without `authenticate`, where every request is nobody's: the
        session cookie's value `cookie` decides, with no coroutine (every click asks)."""
        if self.authenticate is not None:
            raise RuntimeError(
                "admit_session() is for an app without `authenticate`; this one has one: "
                "await admit(scope, cookies, live), which asks it who the request is"
            )
        refused = self._owns(live.conv.owner, cookie, None)
        if refused is None:
            live.principal = None
        elif refused.reason == "principal":
            for connection in live.connections:  # a conversation someone signed in to
                connection.nudge()
        return refused

    def owns(
        self, owner: str | None, cookies: Mapping[str, str], principal: object
    ) -> Refused | None:
        """Do `cookies` and `principal` own a conversation whose owner token is `owner`?"""
        return self._owns(owner, cookies.get(COOKIE), principal)

    def _owns(self, owner: str | None, cookie: str | None, principal: object) -> Refused | None:
        if owner is None:
            return None  # minted outside any session (a runtime of a test): anyone may use it
        sid, _, digest = owner.partition(_SEPARATOR)
        if self.owners.sessions.verify(cookie) != sid:
            return _FOREIGN
        key = None if principal is None else identity(principal)
        if (_digest(key) if key is not None else "") != digest:
            return _SOMEONE_ELSE  # signed out, or in as someone else (or no longer asked)
        return None
