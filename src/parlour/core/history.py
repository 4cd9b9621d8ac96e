"""Back and the page URL: snapshots of a conversation, restoring one, the root's URL.

    snapshot_of(fold, shared=)   the conversation as it is now, without history, for *back*
    restore(fold, to)            put the fold back to a snapshot (the last one, or depth `to`)
    projected_url(fold)          what the root frame's `url()` says: (mode, url or None)
    url_change(fold, effects)    the `history` effect a changed projection calls for, if any

Every browser event is snapshotted before its handler runs, so *back* restores the screen as
the user left it. Depths are absolute (`history_base` counts the snapshots dropped from the
front), which is what the browser's history entries record and post back.

What this module does not do: run the wakeup hooks of a restored screen (the kernel does,
after `restore`), or write the script that changes the browser URL (see `parlour.wire`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal, cast

from . import effects as fx
from .codec import Snapshot
from .conversation import without_history
from .errors import EffectError
from .fold import Fold
from .render import mount

__all__ = ["projected_url", "restore", "snapshot_of", "url_change"]


def snapshot_of(fold: Fold, *, shared: bool = False) -> Snapshot:
    """The conversation as it is now, without history, for *back*.

    `shared`: the fold has changed nothing yet, so the snapshot shares the previous value's
    (immutable) instances, stack, timers and subscriptions instead of copying them.
    """
    c = fold.conv
    if shared:
        return Snapshot(conversation=without_history(c))
    conv = replace(
        c,
        stack=tuple(fold.stack),
        instances=dict(fold.instances),
        history=(),
        history_base=0,
        last_url=fold.last_url,
        timers=tuple(fold.timers),
        subscriptions=tuple(fold.subscriptions),
    )
    return Snapshot(conversation=conv)


def restore(fold: Fold, to: int | None) -> bool:
    """Restore the last snapshot, or the one at absolute depth `to`; False if there is none.

    Everything is marked unrendered: the restored top frame is drawn into #root whole.
    """
    if not fold.history:
        return False
    if to is None:
        index = len(fold.history) - 1
    else:
        index = max(to - fold.history_base, 0)
        if index >= len(fold.history):
            return False  # the browser went forward: there is nothing to restore
    restored = fold.history[index].conversation()
    del fold.history[index:]
    fold.instances = dict(restored.instances)
    fold.stack = list(restored.stack)
    fold.timers = list(restored.timers)
    fold.subscriptions = list(restored.subscriptions)
    fold.last_url = restored.last_url
    fold.next_id = max(fold.next_id, restored.next_id)
    fold.mark_all_unrendered()
    return True


def projected_url(fold: Fold) -> tuple[Literal["push", "replace"], str | None]:
    """The root frame's `url()`: ("push" | "replace", url), or ("replace", None) for none."""
    root = fold.instances.get(fold.stack[0]) if fold.stack else None
    if root is None:
        return "replace", None
    comp = root.component
    mount(fold, comp, root.iid)
    spec = cast(object, comp.url())  # user code: check the shape, whatever the annotation says
    if spec is None:
        return "replace", None
    if isinstance(spec, str):
        return "replace", spec
    if isinstance(spec, tuple):
        pair = cast(tuple[object, ...], spec)
        if len(pair) == 2 and isinstance(pair[1], str):
            if pair[0] == "push":
                return "push", pair[1]
            if pair[0] == "replace":
                return "replace", pair[1]
    raise EffectError(
        f"{type(comp).__qualname__}.url() must return None, a URL string, or "
        f"('push'|'replace', url); got {spec!r}"
    )


def url_change(fold: Fold, effects: Sequence[fx.Effect]) -> fx.History | None:
    """After a browser event: the `history` effect that shows the root's new URL, if it changed.

    The new URL is recorded either way; a handler that returned its own `history` effect
    has already said how the browser URL changes, so none is added.
    """
    mode, url = projected_url(fold)
    if url is None or url == fold.last_url:
        return None
    fold.last_url = url
    if any(isinstance(e, fx.History) for e in effects):
        return None
    return fx.History(url, mode)
