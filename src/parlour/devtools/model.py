"""What the inspector shows of a conversation, as plain values: tree, state, steps, changes.

    tree(conv)               the component tree: frames bottom to top, children in slot order
    state(inst)              an instance's state fields as JSON-able values
    steps(conv)              the history step by step: absolute depth, what was on top, what
                             changed since the step before (the last step is "now")
    at_step(conv, depth)     the conversation as it was at that step (a history snapshot)
    changes(before, after)   the instances and state fields that differ between two values
    describe(conv)           all of it as one JSON-able dict (`parlour inspect --json`, the
                             inspector's `BASE/dev/CID` route)

Pure functions of a conversation value, shared by the live inspector (`parlour.devtools.panel`)
and `parlour inspect`, which reads a stopped server's store. Nothing here changes a
conversation: looking at a step reads the snapshot that *back* would restore, without
restoring it.

Steps are numbered by absolute history depth, as the browser's history entries are: step 0
is the conversation as it started, step N the value after the N-th browser event (the
snapshot taken just before event N+1 ran, or the conversation itself for the newest step).
Steps that fell off the front of a bounded history are gone; the first one kept is
`conv.history_base`.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from parlour.core.conversation import Conversation, Instance
from parlour.core.state import state_of

__all__ = [
    "Change",
    "Node",
    "StepView",
    "at_step",
    "changes",
    "describe",
    "short",
    "state",
    "steps",
    "tree",
    "type_label",
]

_repr = reprlib.Repr(maxstring=80, maxother=80, maxlist=8, maxdict=8, maxlevel=3)


def short(value: object, limit: int = 120) -> str:
    """`repr(value)`, shortened for one line of the panel or the terminal."""
    text = _repr.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_label(inst: Instance) -> str:
    """The component's class name (its registered name may be longer: `type_name`)."""
    return type(inst.component).__qualname__


@dataclass(frozen=True, slots=True)
class Node:
    """One instance in the tree."""

    iid: str
    type: str
    name: str
    """The registered name (`module.Class`, or the class's `name=`)."""
    parent: str | None
    slot: str | None
    """Where it hangs in its parent: a fixed slot, `list[key]` for a keyed child, None for a
    frame (then `frame` is its position on the stack, 0 for the root)."""
    frame: int | None
    resume: str | None
    shown: bool
    children: tuple[Node, ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """An instance that differs between two conversation values."""

    iid: str
    type: str
    kind: str
    """added | removed | changed"""
    fields: tuple[tuple[str, str, str], ...] = ()
    """For a changed instance: (field, before, after), each value shortened."""

    def __str__(self) -> str:
        if self.kind != "changed":
            return f"{self.type} {self.iid} {self.kind}"
        return "; ".join(f"{self.iid}.{name}: {old} -> {new}" for name, old, new in self.fields)


@dataclass(frozen=True, slots=True)
class StepView:
    """One step of the history: its depth, what was on top, what changed to make it."""

    depth: int
    top: str | None
    top_type: str | None
    now: bool
    changes: tuple[Change, ...] = field(default=())


# -- the tree --------------------------------------------------------------------------------


def tree(conv: Conversation) -> list[Node]:
    """The frames, bottom (root) to top, each with what hangs inside it."""
    shown = _shown(conv)
    seen: set[str] = set()
    return [
        _node(conv, iid, None, index, shown, seen)
        for index, iid in enumerate(conv.stack)
        if iid in conv.instances
    ]


def _shown(conv: Conversation) -> set[str]:
    """The instances on the page: the top frame and what is inside it (not parked ones)."""
    out: set[str] = set()
    frontier = [conv.top] if conv.top else []
    while frontier:
        iid = frontier.pop()
        inst = conv.instances.get(iid)
        if inst is None or iid in out:
            continue
        out.add(iid)
        frontier.extend(inst.children.values())
        for keyed in inst.keyed.values():
            frontier.extend(keyed.children.values())
    return out


def _node(
    conv: Conversation,
    iid: str,
    slot: str | None,
    frame: int | None,
    shown: set[str],
    seen: set[str],
) -> Node:
    seen.add(iid)
    inst = conv.instances[iid]
    kids: list[Node] = []
    for name, child in inst.children.items():
        if child in conv.instances and child not in seen:
            kids.append(_node(conv, child, name, None, shown, seen))
    for name, keyed in inst.keyed.items():
        for key in keyed.order:
            child = keyed.children.get(key)
            if child is not None and child in conv.instances and child not in seen:
                kids.append(_node(conv, child, f"{name}[{key}]", None, shown, seen))
    return Node(
        iid=iid,
        type=type_label(inst),
        name=inst.type_name,
        parent=inst.parent,
        slot=slot,
        frame=frame,
        resume=inst.resume,
        shown=iid in shown,
        children=tuple(kids),
    )


def walk(nodes: list[Node] | tuple[Node, ...]) -> Iterator[tuple[int, Node]]:
    """(depth, node) for every node, pre-order."""
    stack = [(0, n) for n in reversed(nodes)]
    while stack:
        level, node = stack.pop()
        yield level, node
        stack.extend((level + 1, c) for c in reversed(node.children))


# -- state -----------------------------------------------------------------------------------


def state(inst: Instance) -> dict[str, Any]:
    """The instance's state fields as JSON-able values (anything else as its repr)."""
    return {name: _builtin(value) for name, value in state_of(inst.component).items()}


def _builtin(value: object) -> Any:
    try:
        return msgspec.to_builtins(value, enc_hook=repr)
    except (TypeError, ValueError):
        return repr(value)


def changes(before: Conversation, after: Conversation) -> list[Change]:
    """The instances added, removed or whose state changed from `before` to `after`."""
    out: list[Change] = []
    old = before.instances
    for iid, inst in after.instances.items():
        prior = old.get(iid)
        if prior is None:
            out.append(Change(iid, type_label(inst), "added"))
        elif prior.component is not inst.component and (
            type(prior.component) is not type(inst.component)
            or prior.encoded_state() != inst.encoded_state()
        ):
            out.append(Change(iid, type_label(inst), "changed", _fields(prior, inst)))
    for iid, inst in old.items():
        if iid not in after.instances:
            out.append(Change(iid, type_label(inst), "removed"))
    return out


def _fields(prior: Instance, inst: Instance) -> tuple[tuple[str, str, str], ...]:
    if type(prior.component) is not type(inst.component):
        return (("(type)", type_label(prior), type_label(inst)),)
    a, b = state_of(prior.component), state_of(inst.component)
    out: list[tuple[str, str, str]] = []
    for name, new in b.items():
        was = a.get(name)
        try:
            same = bool(was == new)
        except Exception:  # a value whose == raises (numpy arrays): say it changed
            same = False
        if not same:
            out.append((name, short(was, 60), short(new, 60)))
    return tuple(out)


# -- history ---------------------------------------------------------------------------------


def at_step(conv: Conversation, depth: int) -> Conversation:
    """The conversation as it was at absolute history depth `depth` (`conv` itself for now).

    Raises LookupError naming the steps there are when `depth` is not one of them.
    """
    if depth == conv.depth:
        return conv
    index = depth - conv.history_base
    if not 0 <= index < len(conv.history):
        raise LookupError(
            f"conversation {conv.id} has no step {depth}: its steps are "
            f"{conv.history_base} to {conv.depth} (the oldest are dropped past history_limit)"
        )
    return conv.history[index].conversation()


def steps(conv: Conversation) -> list[StepView]:
    """Every step the history still holds, oldest first; the last is the conversation now."""
    out: list[StepView] = []
    before: Conversation | None = None
    for depth in range(conv.history_base, conv.depth + 1):
        value = at_step(conv, depth)
        top = value.instances.get(value.top) if value.top else None
        out.append(
            StepView(
                depth=depth,
                top=value.top,
                top_type=None if top is None else type_label(top),
                now=depth == conv.depth,
                changes=() if before is None else tuple(changes(before, value)),
            )
        )
        before = value
    return out


# -- everything as JSON ----------------------------------------------------------------------


def describe(conv: Conversation, *, size: int | None = None) -> dict[str, Any]:
    """The conversation as one JSON-able dict: summary, tree, states, steps, timers."""

    def node(n: Node) -> dict[str, Any]:
        return {
            "iid": n.iid,
            "type": n.name,
            "parent": n.parent,
            "slot": n.slot,
            "frame": n.frame,
            "resume": n.resume,
            "shown": n.shown,
            "state": state(conv.instances[n.iid]),
            "children": [node(c) for c in n.children],
        }

    root = conv.instances.get(conv.stack[0]) if conv.stack else None
    return {
        "id": conv.id,
        "root": None if root is None else root.type_name,
        "created": conv.created,
        "touched": conv.touched,
        "size": size,
        "ended": conv.ended,
        "depth": conv.depth,
        "history": len(conv.history),
        "history_base": conv.history_base,
        "history_limit": conv.history_limit,
        "last_url": conv.last_url,
        "stack": list(conv.stack),
        "tree": [node(n) for n in tree(conv)],
        "instances": {
            iid: {"type": inst.type_name, "parent": inst.parent, "state": state(inst)}
            for iid, inst in conv.instances.items()
        },
        "steps": [
            {
                "depth": s.depth,
                "now": s.now,
                "top": s.top,
                "top_type": s.top_type,
                "changes": [_change(c) for c in s.changes],
            }
            for s in steps(conv)
        ],
        "timers": [
            {
                "id": t.id,
                "iid": t.iid,
                "method": t.method,
                "due": t.due,
                "payload": short(t.payload),
            }
            for t in conv.timers
        ],
        "subscriptions": [
            {"iid": s.iid, "pattern": s.pattern, "method": s.method} for s in conv.subscriptions
        ],
    }


def _change(c: Change) -> dict[str, Any]:
    return {
        "iid": c.iid,
        "type": c.type,
        "kind": c.kind,
        "fields": [{"field": f, "before": a, "after": b} for f, a, b in c.fields],
    }


def kept(inst: Instance) -> tuple[str, ...]:
    """The state fields the page's signals write to (`keep`), for the state view."""
    return tuple(type(inst.component).keep)
