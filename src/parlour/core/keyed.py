"""Keyed children: reconcile a keyed list with the children a handler asked for.

    reconcile(fold, parent_iid, slot, pairs, hook)

Children are matched by key: a kept key keeps its instance and state, a key whose component
spec changed is rebuilt in place (same iid), new keys are added and missing ones removed. The
page gets the smallest patch: removals by selector, additions appended, prepended or put
after their predecessor, and the whole list re-rendered only when the kept keys changed order.

What this module does not do: decide when lifecycle hooks run their effects; the kernel
passes `hook`, which runs a hook and folds what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from . import fragments as fr
from .component import Component
from .conversation import KeyedSlot
from .fold import Fold
from .render import render, render_container, render_html_or_error
from .state import encode_state
from .tree import instantiate, remove_subtree, subtree

__all__ = ["Hook", "reconcile"]


class Hook(Protocol):
    """Run lifecycle hook `name` of instance `iid` and fold its effects (the kernel's)."""

    def __call__(self, fold: Fold, iid: str, name: str, *, keep_state: bool = True) -> None: ...


def _spec(comp: Component) -> bytes:
    return type(comp).__parlour_name__.encode() + b"\0" + encode_state(comp)


def reconcile(
    fold: Fold, parent_iid: str, slot: str, pairs: Sequence[tuple[str, Component]], hook: Hook
) -> None:
    """Make keyed list `slot` of `parent_iid` hold exactly `pairs`, in order."""
    parent = fold.instances[parent_iid]
    current = parent.keyed.get(slot, KeyedSlot())
    rendered = parent.rendered
    container = f"{parent_iid}--{slot}"
    new_order = tuple(k for k, _ in pairs)
    wanted = dict(pairs)
    children = dict(current.children)
    specs = dict(current.specs)

    for key in current.order:
        if key not in wanted:
            iid = children.pop(key)
            specs.pop(key, None)
            for gone in subtree(fold, iid):
                hook(fold, gone, "stop", keep_state=False)
            if (
                rendered
                and fold.instances.get(iid, None) is not None
                and fold.instances[iid].rendered
            ):
                fold.frags.append(fr.Elements("", f"#{iid}", "remove", key=iid))
            remove_subtree(fold, iid)

    for key in new_order:
        if key in children and specs.get(key) != _spec(wanted[key]):
            iid = children[key]
            for gone in subtree(fold, iid):
                hook(fold, gone, "stop", keep_state=False)
            remove_subtree(fold, iid)
            _, created = instantiate(fold, wanted[key], parent=parent_iid, resume=None, iid=iid)
            specs[key] = _spec(wanted[key])
            for new in created:
                hook(fold, new, "start")
            if rendered:
                render(fold, iid, first=False)

    added = [k for k in new_order if k not in children]
    for key in added:
        iid, created = instantiate(fold, wanted[key], parent=parent_iid, resume=None)
        children[key] = iid
        specs[key] = _spec(wanted[key])
        for new in created:
            hook(fold, new, "start")
    parent = fold.instances[parent_iid]
    fold.instances[parent_iid] = replace(
        parent, keyed={**parent.keyed, slot: KeyedSlot(new_order, children, specs)}
    )
    if not rendered:
        return
    kept_old = tuple(k for k in current.order if k in wanted)
    kept_new = tuple(k for k in new_order if k in current.children)
    if kept_old != kept_new:
        render_container(fold, parent_iid, slot)  # a reorder: one patch of the whole list
        return
    for key in added:
        iid = children[key]
        if iid not in fold.instances:
            continue
        position = new_order.index(key)
        html = render_html_or_error(fold, iid)
        if html is None:
            continue
        if position == len(new_order) - 1:
            fold.frags.append(fr.Elements(html, f"#{container}", "append", key=None))
        elif position == 0:
            fold.frags.append(fr.Elements(html, f"#{container}", "prepend", key=None))
        else:
            prev = children[new_order[position - 1]]
            fold.frags.append(fr.Elements(html, f"#{prev}", "after", key=None))
