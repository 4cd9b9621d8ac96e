"""Component state: which attributes are state fields, and their codec.

    collect_fields(cls, base=, reserved=)   the annotated fields of a Component subclass
    state_decoder(cls, fields)              a typed msgpack decoder for them (defaults applied)
    state_of(comp)                          the state as a dict of field name -> value
    encode_state(comp) / decode_state(...)  state <-> msgpack bytes (StateError names the field)
    clone(comp)                             a private copy for a handler to mutate

A component's state is its annotated class attributes (not `_private`, not `ClassVar`): plain
data that a conversation stores, snapshots for *back* and restores after a restart. Every
class gets a typed decoder when it is defined, so restoring validates each field against its
annotation and fills fields added since the state was stored with their defaults.

What this module does not do: define `Component` (see `component`), or decide when state is
stored (see `kernel`).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, get_origin

import msgspec

from .errors import ComponentDefinitionError, StateError

if TYPE_CHECKING:
    from .component import Component

__all__ = [
    "IMMUTABLE",
    "Field",
    "clone",
    "collect_fields",
    "decode_state",
    "encode_state",
    "state_decoder",
    "state_of",
]

IMMUTABLE: frozenset[type] = frozenset({int, float, str, bool, bytes, type(None), complex})
"""Types whose values are shared, never copied, between a conversation and a handler's clone."""


@dataclass(frozen=True, slots=True)
class Field:
    """One state field: its name, its annotation, and its default (if it has one)."""

    name: str
    type: Any
    default: Any
    has_default: bool


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def collect_fields(
    cls: type[Component], *, base: type[Component], reserved: frozenset[str]
) -> dict[str, Field]:
    """The state fields `cls` declares (its own and its bases', below `base`), in order."""
    fields: dict[str, Field] = {}
    for klass in reversed(cls.__mro__):
        if klass is base or not issubclass(klass, base):
            continue
        try:
            annotations = inspect.get_annotations(klass, eval_str=True)
        except Exception:
            # Annotations naming local types of a function cannot be resolved later; keep the
            # field but accept any serialisable value for it.
            raw = inspect.get_annotations(klass)
            annotations = dict.fromkeys(raw, Any)
        for attr, tp in annotations.items():
            if attr.startswith("_") or get_origin(tp) is ClassVar or tp is ClassVar:
                continue
            if isinstance(tp, str) and tp.startswith("ClassVar"):
                continue
            if attr in reserved:
                raise ComponentDefinitionError(
                    f"{cls.__qualname__}.{attr} is a state field, but `{attr}` is part of the "
                    f"Component API. Rename the field (for example `{attr}_`)."
                )
            default = klass.__dict__.get(attr, _MISSING)
            if callable(default) and not isinstance(default, type):
                raise ComponentDefinitionError(
                    f"{cls.__qualname__}.{attr} is annotated as state but its default is a "
                    "function. State must be plain data; declare methods without annotations."
                )
            fields[attr] = Field(attr, tp, default, default is not _MISSING)
    return fields


def state_decoder(
    cls: type[Component], fields: Mapping[str, Field]
) -> msgspec.msgpack.Decoder[Any]:
    """A msgpack decoder of `cls`'s state that checks every field's type and fills defaults."""
    spec: list[Any] = []
    for f in fields.values():
        if f.has_default:
            default = f.default
            if type(default) in IMMUTABLE or isinstance(default, (tuple, frozenset)):
                spec.append((f.name, f.type, default))
            else:
                spec.append(
                    (
                        f.name,
                        f.type,
                        msgspec.field(default_factory=lambda d=default: copy.deepcopy(d)),
                    )
                )
        else:
            spec.append((f.name, f.type))
    try:
        struct = msgspec.defstruct(f"{cls.__qualname__}.State", spec, kw_only=True)
        return msgspec.msgpack.Decoder(struct)
    except TypeError as exc:
        raise ComponentDefinitionError(
            f"{cls.__qualname__} declares a state field whose type parlour cannot serialise "
            f"({exc}). Use plain data (str, int, float, bool, None, lists, dicts, tuples, "
            "datetimes, enums) or msgspec Structs / dataclasses of those."
        ) from exc


_encoder = msgspec.msgpack.Encoder()


def state_of(comp: Component) -> dict[str, Any]:
    """The instance's state as a dict of field name to value."""
    return {name: getattr(comp, name) for name in type(comp).__parlour_fields__}


def encode_state(comp: Component) -> bytes:
    """Serialise the state, or raise StateError naming the component, the field and the type."""
    state = state_of(comp)
    try:
        return _encoder.encode(state)
    except (TypeError, ValueError, OverflowError) as exc:
        for name, value in state.items():
            try:
                _encoder.encode(value)
            except (TypeError, ValueError, OverflowError):
                raise StateError(
                    f"{type(comp).__qualname__}.{name} holds a {type(value).__qualname__} "
                    f"({_short(value)}), which cannot be serialised: {exc}. Component state "
                    "must be plain data (str, int, float, bool, None, lists, dicts, datetimes, "
                    "msgspec Structs, dataclasses); keep live objects such as connections or "
                    "functions out of it."
                ) from exc
        raise StateError(f"{type(comp).__qualname__} state cannot be serialised: {exc}") from exc


def decode_state(cls: type[Component], data: bytes) -> Component:
    """Rebuild an instance of `cls` from `encode_state` bytes (fields added since get defaults)."""
    struct = cls.__parlour_decoder__.decode(data)
    comp = cls.__new__(cls)
    for name in cls.__parlour_fields__:
        setattr(comp, name, getattr(struct, name))
    comp.__dict__["_parlour"] = None
    return comp


def clone(comp: Component) -> Component:
    """A private copy for a handler to mutate: immutable values shared, the rest deep-copied."""
    cls = type(comp)
    new = cls.__new__(cls)
    for name in cls.__parlour_fields__:
        value = getattr(comp, name)
        setattr(new, name, value if type(value) in IMMUTABLE else copy.deepcopy(value))
    new.__dict__["_parlour"] = comp.__dict__.get("_parlour")
    return new


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
