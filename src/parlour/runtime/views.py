"""Shared views: rendered once per update, the same fragment sent to every viewer.

A live dashboard shows the same agents, the same progress bar, the same event log to every
tab. Rendering that per conversation costs one render per viewer per update; with ten
thousand viewers the renders, not the network, are the limit. A shared view is rendered by
the host once, cached, and embedded by components with `shared(name)` (see
`parlour.core.context`). When its data changes the host calls `invalidate(name)`; within one
`window` (default 50 ms) the view is rendered once, compared with what was sent before, and
the one resulting fragment object is pushed to every open stream whose page shows the view.
Streams coalesce it like any patch, so a burst of invalidations leaves as one patch.

Two shapes:

    views.add("progress", render)                   one element, sent whole when it changes
    views.add_list("agents", container, items)      a container of keyed items: when only
                                                    items changed (same ids, same order, same
                                                    frame), just those items are sent

`render()` and `container(items)` must return one element with an `id` (the patch is morphed
into the page by that id); `items()` returns `(dom_id, node)` pairs whose nodes carry that id.

What this module does not do: decide what changed in the host's data (the host invalidates),
or know about conversations (the runtime routes `sink(name, fragments)` to their streams).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from parlour.core.errors import ParlourError
from parlour.core.fragments import Elements, Fragment, single_line
from parlour.core.render import root_id

__all__ = ["SHARED_KEY_PREFIX", "SharedViews", "Sink", "is_shared", "view_key"]

type Sink = Callable[[str, tuple[Fragment, ...]], None]
type _Render = Callable[[], object]
type _Container = Callable[[Markup], object]
type _Items = Callable[[], Sequence[tuple[str, object]]]

_FRAME_MARK = Markup("\x00parlour-items\x00")

_KEY_PREFIX = "view:"
SHARED_KEY_PREFIX = _KEY_PREFIX
"""How the key of a shared view's patch begins (`is_shared`, for code that inlines it)."""


def view_key(name: str, suffix: str = "") -> str:
    """The key of a patch of shared view `name` (`suffix` tells the patches of one view apart).

    The key marks the patch as shared: the same object goes to every stream, it is in no
    conversation's outbox, and the web layer encodes it once (see `is_shared`).
    """
    return f"{_KEY_PREFIX}{name}:{suffix}" if suffix else f"{_KEY_PREFIX}{name}"


def is_shared(fragment: Fragment) -> bool:
    """Is `fragment` a shared view's patch (made with a `view_key`)?"""
    return isinstance(fragment, Elements) and (fragment.key or "").startswith(_KEY_PREFIX)


@dataclass(eq=False)
class _View:
    name: str
    render: _Render | None = None
    container: _Container | None = None
    items: _Items | None = None
    html: str = ""
    frame: str = ""
    rendered_items: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    renders: int = 0


def _html(node: object) -> str:
    # A plain str, not Markup: Markup's methods would escape what they are given.
    return str.__str__(str(node))


class SharedViews:
    """The shared views of one app, their cached HTML, and the timer that re-renders them."""

    def __init__(self, *, window: float = 0.05) -> None:
        self.window = window
        self.sink: Sink | None = None
        """Where fragments go: set by the runtime to its fan-out."""
        self._views: dict[str, _View] = {}
        self._dirty: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self.renders = 0
        """How many view renders so far (one per changed view per window, not per viewer)."""

    def __repr__(self) -> str:
        return f"SharedViews({sorted(self._views)}, dirty={sorted(self._dirty)})"

    def __contains__(self, name: object) -> bool:
        return name in self._views

    @property
    def names(self) -> list[str]:
        return sorted(self._views)

    def add(self, name: str, render: _Render) -> None:
        """Register the view `name`: `render()` returns one element with an id."""
        self._register(_View(name, render=render))

    def add_list(self, name: str, container: _Container, items: _Items) -> None:
        """Register a keyed list: `container(items_html)` wraps what `items()` renders."""
        self._register(_View(name, container=container, items=items))

    def _register(self, view: _View) -> None:
        if view.name in self._views:
            raise ParlourError(
                f"views.add({view.name!r}): a shared view of that name exists already; "
                "choose another name, or call invalidate() to re-render the existing one"
            )
        self._views[view.name] = view
        self._render(view)

    # -- reading (the ViewSource protocol of parlour.core.context) ------------------------

    def html(self, name: str) -> str:
        """The HTML of view `name` as last rendered (what every viewer was last sent)."""
        return self._views[name].html

    def fragment(self, name: str) -> Elements:
        """The whole view as one patch (for a stream that may have missed updates)."""
        return Elements(self._views[name].html, key=view_key(name))

    # -- updating ---------------------------------------------------------------------------

    def invalidate(self, *names: str) -> None:
        """The data behind these views changed: re-render them within one window."""
        unknown = [n for n in names if n not in self._views]
        if unknown:
            raise ParlourError(
                f"invalidate({', '.join(map(repr, unknown))}): no shared view of that name; "
                f"the registered views are {self.names}"
            )
        self._dirty.update(names)
        if self._timer is None and self._dirty:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.window, self.flush)

    def flush(self) -> None:
        """Re-render every invalidated view now and hand what changed to the sink."""
        self._timer = None
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            view = self._views.get(name)
            if view is None:
                continue
            fragments = self._render(view)
            if fragments and self.sink is not None:
                self.sink(name, fragments)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- rendering ---------------------------------------------------------------------------

    def _render(self, view: _View) -> tuple[Fragment, ...]:
        """Render `view`; the patches that bring a page from the old HTML to the new one."""
        self.renders += 1
        view.renders += 1
        if view.render is not None:
            html = _html(view.render())
            self._check_id(view.name, html)
            if html == view.html:
                return ()
            view.html = html
            return (Elements(html, key=view_key(view.name)),)
        assert view.container is not None
        assert view.items is not None
        items = [(_item_id(view.name, i), _html(node)) for i, node in view.items()]
        frame = _html(view.container(_FRAME_MARK))
        html = frame.replace(str(_FRAME_MARK), "".join(h for _, h in items), 1)
        self._check_id(view.name, html)
        if html == view.html:
            return ()
        old_items = view.rendered_items
        same_frame = view.html != "" and frame == view.frame
        view.html, view.frame, view.rendered_items = html, frame, items
        if not same_frame:
            return (Elements(html, key=view_key(view.name)),)
        # Prepending new items is right only when the items open the container.
        at_front = frame[frame.index(">") + 1 :].startswith(str(_FRAME_MARK))
        return _list_patches(view.name, html, old_items, items, at_front=at_front)

    @staticmethod
    def _check_id(name: str, html: str) -> None:
        found = root_id(html)
        if found is not None:
            _item_id(name, found)
        else:
            raise ParlourError(
                f"shared view {name!r} rendered {html[:60]!r}…: expected one element with an "
                "id (the patch is morphed into every page by that id); give the view's outer "
                "element an id, e.g. div('#agents')[...]"
            )


def _item_id(view: str, dom_id: str) -> str:
    """`dom_id`, if it can be sent as (part of) a selector; ParlourError naming it if not."""
    try:
        return single_line(f"an element id of shared view {view!r}", dom_id)
    except ValueError as exc:
        raise ParlourError(str(exc)) from None


_steps = itertools.count(1)

_MAX_ITEM_PATCHES = 16
"""Past this many changed items one patch of the whole list is smaller and cheaper to apply."""


def _list_patches(
    name: str,
    html: str,
    old: list[tuple[str, str]],
    new: list[tuple[str, str]],
    *,
    at_front: bool,
) -> tuple[Fragment, ...]:
    """The patches from the list `old` to `new` (same frame): only what changed.

    Handled without resending the list: items changed in place (same ids, same order), and a
    feed's typical change, new items at the front and old ones gone from the end (a log,
    newest first): one `prepend` of the new items, one `remove` of the dropped ones. Any
    other change of order or membership sends the whole list.
    """
    whole = (Elements(html, key=view_key(name)),)
    old_ids = [i for i, _ in old]
    new_ids = [i for i, _ in new]
    known = set(old_ids)
    fresh = 0
    while fresh < len(new_ids) and new_ids[fresh] not in known:
        fresh += 1
    kept = new_ids[fresh:]
    if kept != old_ids[: len(kept)] or (fresh and not at_front):
        return whole
    before = dict(old)
    changed = [(i, h) for i, h in new[fresh:] if before.get(i) != h]
    gone = old_ids[len(kept) :]
    if len(changed) > _MAX_ITEM_PATCHES or (fresh and root_id(html) is None):
        return whole
    patches: list[Fragment] = []
    # Removals and prepends must never be coalesced away (each is a step, not a state):
    # their keys are unique, and still view keys, so streams know they are shared.
    if gone:
        patches.append(
            Elements(
                "",
                selector=", ".join(f"#{i}" for i in gone),
                mode="remove",
                key=view_key(name, f"-{next(_steps)}"),
            )
        )
    if fresh:
        container = root_id(html)
        patches.append(
            Elements(
                "".join(h for _, h in new[:fresh]),
                selector=f"#{container}",
                mode="prepend",
                key=view_key(name, f"+{next(_steps)}"),
            )
        )
    patches.extend(Elements(h, key=view_key(name, i)) for i, h in changed)
    return tuple(patches)
