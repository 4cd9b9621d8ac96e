"""Reading a stored conversation without its app: for `parlour inspect` on a stopped server.

    peek(data) -> Peek               id, root type, times, history length, and each instance's
                                     type, parent and state as plain values: no class needed
    type_names(data) -> set[str]     every component type the bytes name, history included
    import_components(names)         import the modules that define them (by the registered
                                     names `module.Class`); the names still unknown

Decoding a conversation (`parlour.core.codec.decode`) needs its component classes, which a
command run in a terminal has not imported. Components are registered as `module.Qualname`
unless they chose a `name=`, so most can be found by importing their module, the way
`parlour run` imports an app. What cannot be found is still shown, from `peek`: the stored
state is msgpack, readable as plain values.

`peek` reads the stored layout of `parlour.core.codec` (format 1 and 2: a map with the
instances as arrays `[iid, type, state, parent, ...]`, history entries as bytes, the later
ones of format 2 as arrays whose second item lists changed instances; format 3: the same,
the conversation and its full records as arrays of `codec.STORED_FIELDS`). Its tests decode
`encode(...)` output, so a change of that layout fails them rather than this silently.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec

from parlour.core.codec import STORED_FIELDS
from parlour.core.component import registered

__all__ = ["Peek", "PeekedInstance", "import_components", "peek", "type_names"]


@dataclass(frozen=True, slots=True)
class PeekedInstance:
    iid: str
    type: str
    parent: str | None
    state: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True, slots=True)
class Peek:
    """What stored bytes say without decoding them into components."""

    id: str
    root: str | None
    created: float
    touched: float
    history: int
    history_base: int
    ended: bool
    stack: tuple[str, ...]
    instances: tuple[PeekedInstance, ...]
    version: int


class NotAConversation(ValueError):
    """Bytes that are not a stored parlour conversation."""


def _by_name(raw: object) -> object:
    """A conversation or full record of format 3 (an array starting with its version, an int)
    as the map of formats 1 and 2; anything else (a map, a delta) as it is."""
    if not isinstance(raw, list):
        return raw
    items = cast(list[Any], raw)
    if items and type(items[0]) is int:
        return dict(zip(STORED_FIELDS, items, strict=False))
    return items


def _map(data: bytes) -> dict[str, Any]:
    try:
        raw = _by_name(msgspec.msgpack.decode(data))
    except msgspec.DecodeError as exc:
        raise NotAConversation(f"not a stored parlour conversation: {exc}") from exc
    if not isinstance(raw, dict) or "instances" not in raw:
        raise NotAConversation("not a stored parlour conversation: no instances in it")
    return cast(dict[str, Any], raw)


def peek(data: bytes) -> Peek:
    """The summary and raw instances of stored bytes (NotAConversation if they are not)."""
    raw = _map(data)
    instances: list[PeekedInstance] = []
    for item in cast(list[Any], raw.get("instances") or []):
        row = cast(list[Any], item)
        state = cast(dict[str, Any], row[2]) if len(row) > 2 and isinstance(row[2], dict) else {}
        parent = row[3] if len(row) > 3 and isinstance(row[3], str) else None
        instances.append(PeekedInstance(str(row[0]), str(row[1]), parent, state))
    stack = tuple(str(i) for i in cast(list[Any], raw.get("stack") or []))
    types = {i.iid: i.type for i in instances}
    return Peek(
        id=str(raw.get("id", "")),
        root=types.get(stack[0]) if stack else None,
        created=float(raw.get("created", 0.0)),
        touched=float(raw.get("touched", 0.0)),
        history=len(cast(list[Any], raw.get("history") or [])),
        history_base=int(raw.get("history_base", 0)),
        ended=bool(raw.get("ended", False)),
        stack=stack,
        instances=tuple(instances),
        version=int(raw.get("v", 0)),
    )


def type_names(data: bytes) -> set[str]:
    """Every component type named by stored bytes, in the conversation and its history."""
    raw = _map(data)
    names = {str(cast(list[Any], row)[1]) for row in cast(list[Any], raw["instances"])}
    for record in cast(list[Any], raw.get("history") or []):
        if not isinstance(record, bytes):
            continue
        with contextlib.suppress(msgspec.DecodeError):
            entry = _by_name(msgspec.msgpack.decode(record))
            rows: Any = (
                cast(dict[str, Any], entry).get("instances")
                if isinstance(entry, dict)
                else cast(list[Any], entry)[1]
                if isinstance(entry, list) and len(cast(list[Any], entry)) > 1
                else None
            )
            for row in cast(list[Any], rows or []):
                name = cast(list[Any], row)[1]
                if name:  # a delta names a type only when it changed ("" otherwise)
                    names.add(str(name))
    return names


def import_components(names: Iterable[str]) -> list[str]:
    """Import the modules that register `names` (`module.Class` -> `module`); those left.

    The current directory comes first on the import path, as for `parlour run`.
    """
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    missing: list[str] = []
    for name in sorted(set(names)):
        if name in registered():
            continue
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                importlib.import_module(".".join(parts[:cut]))
            except Exception:  # not a module (or one that fails to import): try a shorter one
                continue
            if name in registered():
                break
        if name not in registered():
            missing.append(name)
    return missing
