"""Frozen value classes that are cheap to build: `@fast_init` on a frozen, slotted dataclass.

    @fast_init
    @dataclass(frozen=True, slots=True)
    class Step: ...

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__(self, name,
value)` (its own `__setattr__` refuses), a generic call per field: building a conversation
value with its fifteen fields costs about 2 µs. A click builds a dozen such values (the next
conversation, its history snapshot, the instance with its new state, the mount, the step, its
fragments), so `fast_init` replaces the class's `__init__` with one that writes each slot
through the slot's own descriptor (about 2.4 times cheaper) and is otherwise the same: the same
parameters in the same order, the same defaults and default factories, keyword-only fields
after `*`. The class stays frozen: assigning to a field still raises FrozenInstanceError.

Only for classes without `__post_init__`, InitVar or init=False fields (refused otherwise).
tests/core/test_values.py builds every decorated class both ways and compares the values.

What this module does not do: define any value class (see `conversation`, `fold`, ...).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

__all__ = ["fast_init"]


class _Factory:
    """The default of a parameter whose field has a default factory (called when omitted)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def fast_init[C: type](cls: C) -> C:
    """Give the frozen, slotted dataclass `cls` an `__init__` that writes its slots directly."""
    _rebuild_init(cls)
    return cls


def _rebuild_init(cls: type) -> None:
    name = cls.__qualname__
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(
            f"fast_init needs a dataclass with slots=True; {name} is not one. "
            "Declare it with @dataclass(frozen=True, slots=True), or remove @fast_init."
        )
    original = inspect.signature(cls.__init__)
    params = dataclasses.fields(cls)
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for i, f in enumerate(params):
        namespace[f"_set{i}"] = cls.__dict__[f.name].__set__
        if f.default is not dataclasses.MISSING:
            namespace[f"_default{i}"] = f.default
            param = f"{f.name}=_default{i}"
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory{i}"] = f.default_factory
            param = f"{f.name}=_FACTORY"
            body.append(f"if {f.name} is _FACTORY: {f.name} = _factory{i}()")
        else:
            param = f.name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"_set{i}(self, {f.name})")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, namespace)  # the source is built above from field names only
    init = namespace["__init__"]
    if hasattr(cls, "__post_init__") or _shape(inspect.signature(init)) != _shape(original):
        raise TypeError(
            f"fast_init cannot rebuild {name}.__init__ {original}: it handles fields "
            "set in __init__ only (no __post_init__, InitVar or init=False). Remove @fast_init."
        )
    init.__qualname__ = f"{name}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    type.__setattr__(cls, "__init__", init)


def _shape(signature: inspect.Signature) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in signature.parameters.values()]
