"""The plain click: the short way through the kernel for the most common event of all.

    plain_click(fold, iid, comp, snapshot)   a browser event whose handler returned nothing
    store(fold, iid, comp)                   keep a handler's new state (checked)
    settle(fold)                             the top frame must be on the page

Most clicks change one instance's state and return no effect; the kernel's general way would
fold an empty list of effects through machinery made for any of them. `kernel.dispatch`
hands such a click here after running the handler, and the result is the same Step:
tests/core/test_plain_click.py compares the two ways for many components, and the kernel's
state machine on every click. `store` and `settle` are steps the kernel's general way takes
too.

What this module does not do: run handlers or decide which way an event takes (see `kernel`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import fragments as fr
from . import history
from .component import Component
from .conversation import Conversation
from .fold import Fold, Step
from .render import render
from .state import encode_checked

if TYPE_CHECKING:
    from .codec import Snapshot

__all__ = ["plain_click", "settle", "store"]


def plain_click(fold: Fold, iid: str, comp: Component, snapshot: Snapshot) -> Step:
    """The common click: a browser event whose handler returned nothing. What the kernel's
    general way does for it, without folding an empty list of effects: store, snapshot,
    re-render the instance, follow the root's URL, settle."""
    store(fold, iid, comp)
    fold.push_history(snapshot)
    if fold.instances[iid].rendered:
        render(fold, iid, first=False)
    mode, url = history.projected_url(fold)
    if url is not None and url != fold.last_url:
        fold.last_url = url
        fold.frags.append(fr.History(fold.depth, url, mode))
    settle(fold)
    fold.close()
    # The kernel's `_finish`, knowing that no effect ran: the stack, ids, timers and
    # subscriptions are the old ones, and there are no commands. (A new field of Conversation
    # is added here too, as in `kernel._finish` and `conversation.without_history`.)
    old = fold.conv
    conv = Conversation(
        old.id,
        old.base,
        old.stack,
        fold.instances,
        tuple(fold.history),
        fold.history_base,
        old.history_limit,
        old.created,
        fold.now,
        old.owner,
        old.next_id,
        fold.last_url,
        old.ended,
        old.timers,
        old.subscriptions,
    )
    return Step(conv, tuple(fold.frags), (), tuple(fold.errors))


def store(fold: Fold, iid: str, comp: Component) -> None:
    """Keep a handler's new state; refuse state that cannot be stored or does not fit the
    annotations (StateError), so the fold fails and the conversation keeps its last good state."""
    inst = fold.instances.get(iid)
    if inst is None:
        return
    fold.instances[iid] = inst.with_component(comp, encode_checked(comp))


def settle(fold: Fold) -> None:
    """The top frame must be on the page: render it into #root if it is not."""
    if not fold.ended and fold.stack:
        top = fold.instances.get(fold.stack[-1])
        if top is not None and not top.rendered:
            render(fold, top.iid, first=True)
