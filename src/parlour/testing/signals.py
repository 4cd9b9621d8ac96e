"""Datastar's signal store, as its 1.0 client keeps it: nested JSON values under dotted paths.

    set_path(store, "user.name", "Ada")       # `$user.name = 'Ada'`
    merge_patch(store, {"a": None, "b": 1})   # datastar-patch-signals (RFC 7386; null deletes)
    sendable(store)                           # what an action sends: no `_local` signals
    attribute("data-bind:draft-p7__case.kebab")  -> ("bind", "draft-p7", {"case": ["kebab"]})
    signal_name("foo-bar", {})                -> "fooBar"  (the key's case conversion)

What this module does not do: read the DOM or evaluate expressions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any, cast

__all__ = [
    "attribute",
    "get_path",
    "has_path",
    "merge_patch",
    "sendable",
    "set_path",
    "signal_name",
]


def get_path(store: Mapping[str, Any], path: str) -> Any:
    """The value at `path` (`a.b.c`), or None when any part is missing."""
    value: Any = store
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = cast(Mapping[str, Any], value).get(part)
    return value


def set_path(store: MutableMapping[str, Any], path: str, value: Any) -> None:
    """Set the signal at `path`, creating the objects on the way (as `$a.b = 1` does)."""
    *parents, last = path.split(".")
    node: MutableMapping[str, Any] = store
    for part in parents:
        child = node.get(part)
        if not isinstance(child, MutableMapping):
            child = {}
            node[part] = child
        node = cast(MutableMapping[str, Any], child)
    node[last] = value


def has_path(store: Mapping[str, Any], path: str) -> bool:
    value: Any = store
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False
        value = cast(Mapping[str, Any], value)[part]
    return True


def merge_patch(
    store: MutableMapping[str, Any], patch: Mapping[str, Any], *, only_if_missing: bool = False
) -> None:
    """Apply a JSON merge patch: objects merge, `None` deletes, anything else replaces.

    With `only_if_missing`, only signals that do not exist yet are set (Datastar's
    `onlyIfMissing`, and `data-signals__ifmissing`).
    """
    for key, value in patch.items():
        current = store.get(key)
        if value is None:
            if not only_if_missing:
                store.pop(key, None)
        elif isinstance(value, Mapping):
            if not isinstance(current, MutableMapping):
                if key in store and only_if_missing:
                    continue
                current = {}
                store[key] = current
            merge_patch(
                cast(MutableMapping[str, Any], current),
                cast(Mapping[str, Any], value),
                only_if_missing=only_if_missing,
            )
        elif not (only_if_missing and key in store):
            store[key] = value


def sendable(store: Mapping[str, Any]) -> dict[str, Any]:
    """The signals an action sends: every path except those with a part starting with `_`
    (Datastar's default `filterSignals: {exclude: /(^|\\.)_/}`); emptied objects are left out."""
    out: dict[str, Any] = {}
    for key, value in store.items():
        if key.startswith("_"):
            continue
        if isinstance(value, Mapping):
            inner = sendable(cast(Mapping[str, Any], value))
            if inner:
                out[key] = inner
        else:
            out[key] = value
    return out


def attribute(name: str) -> tuple[str, str | None, dict[str, list[str]]] | None:
    """Split a Datastar attribute name, `data-PLUGIN[:KEY][__MOD[.ARG]...]`, into its plugin,
    its key and its modifiers; None for an attribute that is not `data-*`."""
    if not name.startswith("data-"):
        return None
    head, *mods = name[5:].split("__")
    plugin, _, key = head.partition(":")
    modifiers: dict[str, list[str]] = {}
    for mod in mods:
        mod_name, *args = mod.split(".")
        modifiers[mod_name] = args
    return plugin, key or None, modifiers


_CAMEL = re.compile(r"-[a-z]")


def _camel(key: str) -> str:
    return _CAMEL.sub(lambda m: m.group(0)[1].upper(), key)


def signal_name(key: str, modifiers: Mapping[str, list[str]], default: str = "camel") -> str:
    """The signal an attribute key names: camelCase by default (`foo-bar` -> `fooBar`), or as
    `__case.kebab|snake|pascal|camel` says (HTML lowercases attribute names, so keys are
    written in kebab-case)."""
    for case in modifiers.get("case") or [default]:
        if case == "camel":
            key = _camel(key)
        elif case == "snake":
            key = key.replace("-", "_")
        elif case == "pascal":
            key = key[:1].upper() + _camel(key[1:])
    return key
