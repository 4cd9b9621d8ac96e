"""What a component may read besides its own state: shared views, services, the principal.

A component's state is per conversation. Some things are not: the agents of a console, a
price board, a chat room's last hundred messages. Copying them into every conversation
costs memory per tab and a render per tab per update. Instead the host registers them once:

    shared("agents")   the current HTML of the shared view named "agents", rendered once per
                       update by the runtime and embedded verbatim (see `parlour.runtime.views`)
    service(Hub)       the one object of type `Hub` the app was given (`App(services=[hub])`)
    principal()        who this conversation belongs to: what the app's `authenticate` made
                       of the request (None for nobody), checked again on every request

Both read the *context* the runtime installs around every kernel call (a `ContextVar`, so
concurrent conversations never see each other's). The kernel stays pure in the sense that
matters: a context is an input, like the clock; nothing here performs I/O. A render that
calls `shared(name)` records the name, so the runtime knows which conversations show which
views and sends each view update only to their streams.

The principal is per conversation, not per app: the runtime installs the one the web layer
authenticated for the request at hand (an event, a stream opening, the page that opened the
tab); timers, bus events and io results see the one authenticated last. It is what
`authenticate` returned, as it returned it; the conversation stores only who it belongs to
(see `parlour.web.identity`).

Outside a runtime (a unit test with `Harness`, a script) there is no context unless the
caller installs one with `using(Context(...), principal=...)`; then `shared`, `service` and
`principal` raise an error that says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from typing import Any, Protocol, cast

from markupsafe import Markup

from parlour.core.errors import ParlourError

__all__ = ["Context", "ViewSource", "principal", "service", "shared", "using"]


class ViewSource(Protocol):
    """Where `shared(name)` finds the current HTML of a shared view."""

    def html(self, name: str) -> str:
        """The current HTML of view `name`; raises `KeyError` when there is no such view."""
        ...


class _NoViews:
    def html(self, name: str) -> str:
        raise KeyError(name)


class Context:
    """The services and shared views that renders and handlers of one app may read."""

    __slots__ = ("services", "views")

    def __init__(self, services: Iterable[object] = (), views: ViewSource | None = None) -> None:
        self.services: Mapping[type, object] = {type(s): s for s in services}
        self.views: ViewSource = views if views is not None else _NoViews()

    def __repr__(self) -> str:
        names = ", ".join(sorted(t.__name__ for t in self.services))
        return f"Context(services=[{names}])"


_current: ContextVar[tuple[Context, set[str], object] | None] = ContextVar(
    "parlour_context", default=None
)


class using:  # lower case: it reads as a function, `with using(context) as used:`
    """Install `context` (and the conversation's `principal`) for the code in the block;
    gives the names of views it read.

    A class rather than a `@contextmanager` generator: every kernel call of the runtime runs
    in one, a click included, and a generator costs twice as much to enter and leave.
    """

    __slots__ = ("_token", "_value")

    def __init__(self, context: Context, *, principal: object = None) -> None:
        used: set[str] = set()  # not `set[str]()`: calling the alias costs ten times more
        self._value = (context, used, principal)
        self._token: Token[tuple[Context, set[str], object] | None] | None = None

    def __enter__(self) -> set[str]:
        self._token = _current.set(self._value)
        return self._value[1]

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None


def _context(what: str) -> tuple[Context, set[str], object]:
    current = _current.get()
    if current is None:
        raise ParlourError(
            f"{what} was called outside a parlour runtime: there is no app context here. "
            "Components read shared views and services only while the runtime renders or "
            "dispatches; in a test, wrap the call in `with using(Context(services=[...], "
            "views=...), principal=...):` from parlour.core.context"
        )
    return current


def shared(name: str) -> Markup:
    """The current HTML of the shared view `name`, to embed in a render as it is."""
    context, used, _ = _context(f"shared({name!r})")
    try:
        html = context.views.html(name)
    except KeyError:
        raise ParlourError(
            f"shared({name!r}): no shared view of that name is registered; register it "
            f"with app.views.add({name!r}, render) before serving"
        ) from None
    used.add(name)
    return Markup(html)


def service[T](kind: type[T]) -> T:
    """The app's service of type `kind` (given as `App(services=[...])`)."""
    context, _, _ = _context(f"service({kind.__name__})")
    found = context.services.get(kind)
    if found is None:
        for candidate in context.services.values():
            if isinstance(candidate, kind):
                found = candidate
                break
    if found is None:
        known = ", ".join(sorted(t.__name__ for t in context.services)) or "none"
        raise ParlourError(
            f"service({kind.__name__}): the app has no service of that type (it has: {known}); "
            f"pass one as App(..., services=[{kind.__name__}(...)])"
        )
    return cast(T, found)


def principal() -> Any:
    """Who this conversation belongs to: what the app's `authenticate` returned for the
    request at hand (a name, a user object, a claims dict), or None for nobody.

    Without `App(authenticate=...)` it is always None. A conversation belongs to the
    principal that opened it: a request that authenticates as anyone else is refused before
    any component runs, so a render or handler never sees the conversation change hands.
    """
    _, _, who = _context("principal()")
    return who
