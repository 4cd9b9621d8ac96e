"""Components: typed state, a pure render, and event handlers.

A component is a plain Python class. Its *state* is the set of annotated fields (with
defaults), which must be plain, serialisable data: it is what a conversation stores, snapshots
for *back*, and restores after a restart. Everything else is behaviour:

    class Counter(Component):
        count: int = 0                      # state: a typed field

        def render(self):                   # pure: state in, HTML out
            return div(self.root)[button(self.on("click", "inc"))["+"], self.count]

        @event                              # reachable from the browser
        def inc(self):
            self.count += 1                 # no effect returned: the kernel re-renders

A class attribute without an annotation (`count = 0`) is refused when the class is defined:
it would look like state but be shared by every instance and never stored. Annotate it, or
declare a class constant as `ClassVar`. A field may not take the name of anything Component
defines (`parent`, `on`, `keep`, ...). Which attributes are fields, and their codec: `state`.

Handlers mutate `self` and may return effects (see `effects`). The kernel hands a handler a
private copy of the instance, so a conversation value is never changed in place; that is what
makes `dispatch` pure and *back* cheap.

Helpers used while rendering (`root`, `on`, `bind`, `slot`, ...) need to know where the
instance lives (its id, its conversation, the URL base); the kernel mounts that information on
the object before calling `render` or a handler. A component that is not mounted says so
clearly instead of producing broken URLs.

Every concrete subclass registers itself by name (`module.QualName`, or `name=` in the class
statement) so that a stored conversation can find its classes again.

What this module does not do: decide when to render, or apply effects (see `kernel`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Protocol, cast
from urllib.parse import quote

import msgspec
from htpy import Node, button
from markupsafe import Markup, escape

from .actions import Actions, plugged
from .errors import ComponentDefinitionError, UnknownComponentError
from .routes import back_path, event_path
from .state import IMMUTABLE, Field, collect_fields, state_decoder, state_of
from .values import fast_init
from .visit import Visit

__all__ = [
    "Component",
    "Mount",
    "event",
    "lookup",
    "registered",
]

_EVENT_MARK = "__parlour_event__"

_LIFECYCLE = frozenset({"render", "visited", "start", "stop", "wakeup", "children", "url"})


def event[F: Callable[..., Any]](fn: F) -> F:
    """Mark a method as an event handler the browser may reach.

    Only methods marked `@event` can be named in `POST /_parlour/event/CID/IID/EVENT`; any other
    name answers 404. Resume methods, timers and bus handlers need no mark: they are called by
    the kernel, never by the browser.
    """
    setattr(fn, _EVENT_MARK, True)
    return fn


class Host(Protocol):
    """What a mounted component can ask of the kernel while it renders."""

    def render_slot(self, iid: str, slot: str) -> Markup: ...

    def render_keyed(self, iid: str, slot: str) -> Markup: ...

    def component(self, iid: str) -> Component: ...

    @property
    def can_go_back(self) -> bool: ...


@fast_init
@dataclass(frozen=True, slots=True)
class Mount:
    """Where an instance lives: its id, its conversation, the URL base and the kernel host."""

    iid: str
    cid: str
    base: str
    host: Host | None = None
    parent: str | None = None


_registry: dict[str, type[Component]] = {}


def lookup(name: str) -> type[Component]:
    """The component class registered under `name`, or a clear error listing what is known."""
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)[:20]) or "none"
        raise UnknownComponentError(
            f"no component is registered under {name!r} (known: {known}). A stored conversation "
            "names a class that was renamed or removed; import the module that defines it, or "
            "give the class `name=` in its class statement to keep its stored name stable."
        ) from None


def registered() -> Mapping[str, type[Component]]:
    """A read-only view of every registered component class, by name."""
    return dict(_registry)


class Component:
    """Base class of every parlour component. See the module docstring."""

    keep: ClassVar[tuple[str, ...]] = ()
    """Signals lifted onto same-named fields before a handler runs (local `NAME-IID` first)."""

    __parlour_name__: ClassVar[str]
    __parlour_fields__: ClassVar[dict[str, Field]]
    __parlour_events__: ClassVar[frozenset[str]]
    __parlour_decoder__: ClassVar[msgspec.msgpack.Decoder[Any]]

    _parlour: Mount | None

    def __init_subclass__(cls, *, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__parlour_name__ = name or f"{cls.__module__}.{cls.__qualname__}"
        fields = collect_fields(cls, base=Component)
        cls.__parlour_fields__ = fields
        cls.__parlour_events__ = frozenset(
            attr
            for klass in cls.__mro__
            for attr, member in vars(klass).items()
            if getattr(member, _EVENT_MARK, False)
        )
        hooks = _LIFECYCLE & cls.__parlour_events__
        if hooks:
            hook = sorted(hooks)[0]
            raise ComponentDefinitionError(
                f"{cls.__qualname__}.{hook} is marked @event, but `{hook}` is a lifecycle hook "
                "that parlour calls itself. Give the event handler another name (for example "
                f"`{hook}_clicked`)."
            )
        cls.__parlour_decoder__ = state_decoder(cls, fields)
        for attr in cls.keep:
            if attr not in fields:
                raise ComponentDefinitionError(
                    f"{cls.__qualname__}.keep names {attr!r}, which is not a state field "
                    f"(fields: {', '.join(fields) or 'none'}). Declare `{attr}: str = ''` on "
                    "the class, or remove it from keep."
                )
        _registry[cls.__parlour_name__] = cls

    def __init__(self, **values: Any) -> None:
        fields = type(self).__parlour_fields__
        unknown = set(values) - set(fields)
        if unknown:
            raise TypeError(
                f"{type(self).__qualname__}() got unexpected field(s) "
                f"{', '.join(sorted(unknown))}; its fields are: {', '.join(fields) or 'none'}"
            )
        for f in fields.values():
            if f.name in values:
                setattr(self, f.name, values[f.name])
            elif f.has_default:
                default = f.default
                setattr(
                    self, f.name, default if type(default) in IMMUTABLE else copy.deepcopy(default)
                )
            else:
                raise TypeError(f"{type(self).__qualname__}() is missing the field {f.name!r}")
        self._parlour = None

    # -- identity and state -------------------------------------------------------------

    def __repr__(self) -> str:
        state = ", ".join(f"{k}={getattr(self, k, '?')!r}" for k in type(self).__parlour_fields__)
        return f"{type(self).__qualname__}({state})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return state_of(self) == state_of(cast(Component, other))

    __hash__ = None  # type: ignore[assignment]  # state is mutable, so instances are unhashable

    # -- lifecycle (override as needed) ---------------------------------------------------

    def render(self) -> Node:
        """HTML for this instance. Put `self.root` on the outermost element."""
        return Markup(f'<div id="{escape(self.iid)}" hidden></div>')

    def visited(self, visit: Visit) -> None:
        """Called once on the root of a new conversation, with the request that opened the tab
        (`visit.path`, `visit.query`, `visit.arg(name, default)`), before it is mounted and
        started: set state from the URL here (the inverse of `url()`); effects go in `start`.
        """

    def start(self) -> Any:
        """Called once, right after the instance is created. May return effects."""
        return None

    def stop(self) -> Any:
        """Called before the instance is removed. State changes are discarded; effects run."""
        return None

    def wakeup(self) -> Any:
        """Called when the instance's frame is shown again (back, restore). May return effects."""
        return None

    def children(self) -> Mapping[str, Component]:
        """Eager children by slot name, created with this instance (see `slot`)."""
        return {}

    def url(self) -> str | tuple[str, str] | None:
        """The page URL this state stands for (root frame only); `("push", url)` adds an entry."""
        return None

    # -- where the instance lives ---------------------------------------------------------

    @property
    def mounted(self) -> Mount:
        mount = self.__dict__.get("_parlour")
        if mount is None:
            raise RuntimeError(
                f"{type(self).__qualname__} is not mounted in a conversation, so it has no id "
                "or URLs yet. Render it through the kernel (parlour.testing.Harness, or an App), "
                "not by calling render() directly."
            )
        return mount

    @property
    def iid(self) -> str:
        """This instance's id: unique within its conversation, stable across restarts."""
        return self.mounted.iid

    @property
    def parent(self) -> Component:
        """The instance this one belongs to: the embedding parent, or the frame that called it.

        Children use it to route browser events or effects to their parent:
        `self.on("click", self.parent.remove, payload=self.key)` in render, or
        `dispatch_to(self.parent.changed, value)` from a handler.
        """
        mount = self.mounted
        if mount.parent is None or mount.host is None:
            raise RuntimeError(
                f"{type(self).__qualname__} has no parent: it is the root frame of its "
                "conversation."
            )
        return mount.host.component(mount.parent)

    @property
    def root(self) -> dict[str, str]:
        """Attributes for the outermost element: `div(self.root)[...]`. Carries the id."""
        return {"id": self.mounted.iid}

    def on(
        self,
        dom_event: str,
        handler: str | Callable[..., Any],
        *,
        payload: Any = None,
        modifiers: str | Sequence[str] = (),
    ) -> dict[str, str]:
        """A `data-on:EVENT` attribute that POSTs `handler` (an `@event` method) when it fires.

        `handler` is a method name or a bound method (`self.on("click", self.inc)`, or another
        mounted instance's method to route the event there). `payload` (JSON-able) reaches the
        handler as its argument. `modifiers` are Datastar's: `"debounce.300ms"`, `"prevent"`.
        """
        # The same attribute on every render of an instance: remembered by everything it is
        # made of (where the instance lives included, so a conversation restored elsewhere or
        # under a new base gets its own); a new dict each time, since the caller may change it.
        if type(handler) is str and payload is None and not modifiers:
            # The common case, `self.on("click", "inc")`: the shortest way.
            mount = self.mounted
            try:
                key, value = _on_attribute(
                    type(self), mount.base, mount.cid, mount.iid, handler, dom_event, "", "",
                    plugged(),
                )  # fmt: skip
            except TypeError:  # an unhashable Actions plugged in: built each time below
                pass
            else:
                return {key: value}
        target, name = _event_target(self, handler)
        query = "" if payload is None else _compact_json.encode(payload)
        if isinstance(modifiers, str):
            suffix = f"__{modifiers}" if modifiers else ""
        else:
            suffix = "".join([f"__{m}" for m in modifiers if m])
        mount = target.mounted
        made = (type(target), mount.base, mount.cid, mount.iid, name, dom_event, suffix, query)
        if len(query) <= _REMEMBERED_PAYLOAD:
            try:
                key, value = _on_attribute(*made, plugged())
            except TypeError:  # as above
                pass
            else:
                return {key: value}
        key, value = _on_attribute.__wrapped__(*made, plugged())
        return {key: value}

    def bind(self, signal: str) -> dict[str, bool]:
        """A `data-bind` attribute for `signal`, keeping its kebab-case name on the wire.

        The browser names the signal `kebab_case(signal)` (`draft_text` -> `draft-text`).
        Pass it positionally (`input(self.bind("q"))`): htpy turns `_` into `-` in keyword
        attribute names, which would break the `__case` modifier.
        """
        return {f"data-bind:{signal}__case.kebab": True}

    def local(self, name: str) -> str:
        """This instance's own signal `NAME-IID`, as the browser spells it (`draft-p-7` for
        `draft` on `p7`): private to the instance, since signals are page-global."""
        return kebab_case(f"{name}-{self.iid}")

    def bind_local(self, name: str) -> dict[str, bool]:
        """`bind(local(name))`: an input bound to this instance's own copy of `name`."""
        return self.bind(self.local(name))

    def slot(self, name: str) -> Markup:
        """The HTML of the child in slot `name` (from `children()` or `call_in_slot`)."""
        host = self.mounted.host
        if host is None:
            raise RuntimeError("slot() can only be used inside render()")
        return host.render_slot(self.iid, name)

    def keyed(self, slot: str) -> Markup:
        """The keyed children of `slot` in their order, inside `<div id="IID--SLOT">`."""
        host = self.mounted.host
        if host is None:
            raise RuntimeError("keyed() can only be used inside render()")
        return host.render_keyed(self.iid, slot)

    @property
    def can_go_back(self) -> bool:
        """True when the conversation has history to step back into."""
        host = self.mounted.host
        return host is not None and host.can_go_back

    def back_action(self) -> str:
        """A Datastar expression that steps the conversation back one screen.

        When the screen was entered with a browser history entry, it goes back through the
        browser (so the browser's own Back and this stay in step); otherwise it POSTs back.
        """
        mount = self.mounted
        return plugged().back(back_path(mount.base, mount.cid))

    def back_button(self, label: str = "Back") -> Node:
        """A stock `Back` button, or nothing when there is no history."""
        if not self.can_go_back:
            return None
        return button(".parlour-button", {"data-on:click": self.back_action()}, type="button")[
            label
        ]


# -- event routing -----------------------------------------------------------------------------


_compact_json = json.JSONEncoder(separators=(",", ":"))
"""`json.dumps(payload, separators=(",", ":"))` without building an encoder per call."""

_REMEMBERED_PAYLOAD = 200
"""Longer payloads (as JSON) are not remembered, so the bounded cache stays small."""


_ON_CACHE = 512
"""How many `on()` attributes are remembered: those of the tabs being clicked (a counter's
two buttons on 256 tabs). Each is ~440 bytes, kept while it is among the newest; a bigger
bound turned every idle open tab into ~0.9 KB of cache (the stream's memory benchmark)."""


@lru_cache(maxsize=_ON_CACHE)
def _on_attribute(
    cls: type[Component],
    base: str,
    cid: str,
    iid: str,
    name: str,
    dom_event: str,
    suffix: str,
    query: str,
    actions: Actions,
) -> tuple[str, str]:
    """The attribute `on()` gives for an instance of `cls` mounted at (base, cid, iid), as
    (name, expression); `query` is the payload's JSON ("" for none), `suffix` the modifiers.
    Bounded: a miss only costs building the attribute again."""
    _check_event(cls, name)
    url = event_path(base, cid, iid, name)
    if query:
        url += "?p=" + quote(query, safe="")
    return f"data-on:{dom_event}{suffix}", actions.event(url)


def _event_target(self: Component, handler: str | Callable[..., Any]) -> tuple[Component, str]:
    if isinstance(handler, str):
        target, name = self, handler
    else:
        owner = getattr(handler, "__self__", None)
        if not isinstance(owner, Component):
            raise TypeError(
                f"{type(self).__qualname__}.on() needs an @event method name or a bound method "
                f"of a component, got {handler!r}"
            )
        target, name = owner, handler.__name__
    _check_event(type(target), name)
    return target, name


def _check_event(cls: type[Component], name: str) -> None:
    events = cls.__parlour_events__
    if name not in events:
        raise ComponentDefinitionError(
            f"{cls.__qualname__} has no @event method named {name!r} "
            f"(its events: {', '.join(sorted(events)) or 'none'}). Mark the method with @event "
            "so the browser may call it, or fix the name."
        )


_KEBAB_STEPS = (
    (re.compile(r"([A-Z]+)([A-Z][a-z])"), r"\1-\2"),
    (re.compile(r"([a-z0-9])([A-Z])"), r"\1-\2"),
    (re.compile(r"([a-z])([0-9]+)", re.IGNORECASE), r"\1-\2"),
    (re.compile(r"([0-9]+)([a-z])", re.IGNORECASE), r"\1-\2"),
    (re.compile(r"[\s_]+"), "-"),
)


def kebab_case(name: str) -> str:
    """`name` the way Datastar's `__case.kebab` modifier rewrites it (`item_2x` -> `item-2-x`).

    Datastar splits letters from digits too, so the signal bound as `draft-p7` reaches the
    server as `draft-p-7`; the kernel reads kept signals under this spelling.
    """
    for pattern, repl in _KEBAB_STEPS:
        name = pattern.sub(repl, name)
    return name.lower()
