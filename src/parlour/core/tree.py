"""The instance tree of a conversation: creating instances, walking and removing subtrees.

    instantiate(fold, component, parent=, resume=, ...)   mount a component and its eager
                                                          children under new ids
    shown(conv, iid)            is the instance on the page (not parked, not covered)?
    descendants(fold, iid)      what is shown inside iid (to render, wake up, mark)
    subtree(fold, iid)          what goes when iid goes (with the occupants parked behind it)
    remove / remove_subtree     drop instances with their timers and subscriptions
    mark_unrendered             the browser no longer shows these

Frames sit on the conversation's stack; inside an instance, children hang in fixed slots,
keyed lists, and (for `call_in_slot`) behind the child that displaced them (`previous`).

What this module does not do: run lifecycle hooks (see `kernel`) or render (see `render`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from .component import Component
from .conversation import EMPTY, Conversation, Instance
from .fold import Fold
from .render import mount
from .state import clone, encode_checked

__all__ = [
    "descendants",
    "instantiate",
    "mark_unrendered",
    "remove",
    "remove_subtree",
    "shown",
    "subtree",
]


def instantiate(
    fold: Fold,
    component: Component,
    *,
    parent: str | None,
    resume: str | None,
    slot: str | None = None,
    previous: str | None = None,
    iid: str | None = None,
) -> tuple[str, list[str]]:
    """Mount `component` (and its eager children) under new ids; return its iid and all new iids."""
    iid = iid or fold.new_id()
    comp = clone(component)  # the caller may keep and change its object; we keep our own
    mount(fold, comp, iid, parent)
    created = [iid]
    children: dict[str, str] = {}
    kids = comp.children()
    for child_slot, child in kids.items():
        child_iid, child_created = instantiate(fold, child, parent=iid, resume=None)
        children[child_slot] = child_iid
        created.extend(child_created)
    fold.instances[iid] = Instance(
        iid=iid,
        component=comp,
        parent=parent,
        resume=resume,
        children=children or EMPTY,
        slot=slot,
        previous=previous,
        state=encode_checked(comp),
    )
    # Pre-order: the parent first, then its children in slot order.
    ordered = [iid] + [c for c in created if c != iid]
    return iid, ordered


def shown(conv: Conversation, iid: str) -> bool:
    """Whether `iid` is on the page: the top frame, or shown inside it (not parked, not covered)."""
    inst = conv.instances.get(iid)
    while inst is not None:
        if inst.iid == conv.top:
            return True
        holder = conv.instances.get(inst.parent) if inst.parent is not None else None
        if holder is None:
            return False
        held = inst.iid in holder.children.values() or any(
            inst.iid in keyed.children.values() for keyed in holder.keyed.values()
        )
        if not held:
            return False
        inst = holder
    return False


def _walk(fold: Fold, iid: str, *, parked: bool) -> list[str]:
    """iid and every instance inside it (slots, keyed children in order), pre-order.

    With `parked`, also the occupants displaced by call_in_slot children (`previous`): what
    must be stopped and removed when a whole subtree goes, so nothing parked leaks.
    """
    out: list[str] = []
    seen: set[str] = set()
    frontier = deque([iid])
    while frontier:
        current = frontier.popleft()
        inst = fold.instances.get(current)
        if inst is None or current in seen:
            continue
        seen.add(current)
        out.append(current)
        frontier.extend(inst.children.values())
        for keyed in inst.keyed.values():
            ordered = [keyed.children[k] for k in keyed.order if k in keyed.children]
            frontier.extend(ordered)
            if parked:  # anything the order lost track of is still removed
                frontier.extend(c for c in keyed.children.values() if c not in ordered)
        if parked and inst.previous is not None:
            frontier.append(inst.previous)
    return out


def descendants(fold: Fold, iid: str) -> list[str]:
    """What is shown inside `iid`: used to render, wake up and mark rendered."""
    return _walk(fold, iid, parked=False)


def subtree(fold: Fold, iid: str) -> list[str]:
    """What goes when `iid` goes: its descendants and the occupants parked behind them."""
    return _walk(fold, iid, parked=True)


def remove(fold: Fold, iids: Iterable[str]) -> None:
    """Drop these instances, and the timers and subscriptions that would call them."""
    gone = set(iids)
    for iid in gone:
        fold.instances.pop(iid, None)
    if any(t.iid in gone for t in fold.timers):
        fold.timers = [t for t in fold.timers if t.iid not in gone]
    if any(s.iid in gone for s in fold.subscriptions):
        fold.subscriptions = [s for s in fold.subscriptions if s.iid not in gone]


def remove_subtree(fold: Fold, iid: str) -> None:
    remove(fold, subtree(fold, iid))


def mark_unrendered(fold: Fold, iids: Iterable[str]) -> None:
    for iid in iids:
        inst = fold.instances.get(iid)
        if inst is not None and inst.rendered:
            fold.instances[iid] = inst.with_rendered(False)
