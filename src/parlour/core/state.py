"""Component state: which attributes are state fields, and their codec.

    collect_fields(cls, base=, reserved=)   the annotated fields of a Component subclass
    state_decoder(cls, fields)              a typed msgpack decoder for them (defaults applied)
    state_of(comp)                          the state as a dict of field name -> value
    encode_state(comp) / decode_state(...)  state <-> msgpack bytes (StateError names the field)
    encode_checked(comp)                    encode_state, checked against the annotations
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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast, get_origin

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
    "encode_checked",
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


def collect_fields(cls: type[Component], *, base: type[Component]) -> dict[str, Field]:
    """The state fields `cls` declares (its own and its bases', below `base`), in order.

    Refuses, naming the fix: a field that shadows a name `base` defines (every public name
    of the Component API is reserved, derived from the class itself), and a plain class
    attribute without an annotation (`count = 0`), which would look like state but be
    shared by every instance and never stored.
    """
    _refuse_unannotated(cls, base)
    reserved = _api_names(base)
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
                    f"{base.__qualname__} API ({reserved[attr]} of {base.__qualname__}, which "
                    f"the field would replace). Rename the field (for example `{attr}_`)."
                )
            default = klass.__dict__.get(attr, _MISSING)
            if callable(default) and not isinstance(default, type):
                raise ComponentDefinitionError(
                    f"{cls.__qualname__}.{attr} is annotated as state but its default is a "
                    "function. State must be plain data; declare methods without annotations."
                )
            fields[attr] = Field(attr, tp, default, default is not _MISSING)
    return fields


def _api_names(base: type) -> dict[str, str]:
    """Every public name `base` (and its bases) defines, with what it is: reserved for it."""
    names: dict[str, str] = {}
    for klass in reversed(base.__mro__):
        for attr, member in vars(klass).items():
            if attr.startswith("_"):
                continue
            if isinstance(member, property):
                names[attr] = "a property"
            elif callable(member) or isinstance(member, (classmethod, staticmethod)):
                names[attr] = "a method"
            else:
                names[attr] = "a class attribute"
    return names


def _refuse_unannotated(cls: type, base: type) -> None:
    """Refuse a plain value assigned in the class body without an annotation.

    Methods, properties and other descriptors, nested classes, `_private` names and names
    annotated in `cls` or a base (such as `keep`, a ClassVar of Component) are not state
    and pass. A field of a base re-assigned without its annotation is refused too: the
    new default would be ignored.
    """
    own = inspect.get_annotations(cls)
    inherited: dict[str, object] = {}
    for klass in reversed(cls.__mro__[1:]):
        inherited.update(inspect.get_annotations(klass))
    members: dict[str, object] = dict(vars(cls))
    for attr, value in members.items():
        if attr.startswith("_") or attr in own:
            continue
        if callable(value) or hasattr(type(value), "__get__"):
            continue  # methods, nested classes, properties, classmethods: behaviour
        annotation = inherited.get(attr)
        if annotation is not None and _is_classvar(annotation):
            continue  # overriding a class constant of a base, e.g. `keep = ("draft",)`
        example = _annotation_for(value)
        if annotation is not None:
            raise ComponentDefinitionError(
                f"{cls.__qualname__}.{attr} = {_short(value)} re-assigns a state field of a "
                f"base class without its annotation, so parlour would ignore the new default. "
                f"Repeat the annotation: `{attr}: {_type_name(annotation)} = {_short(value)}`."
            )
        raise ComponentDefinitionError(
            f"{cls.__qualname__}.{attr} = {_short(value)} has no type annotation, so it is not "
            "state: it would be shared by every instance and never stored or restored. "
            f"Declare it as a state field, `{attr}: {example} = {_short(value)}`, or, if it is "
            f"a constant of the class, `{attr}: ClassVar[{example}] = {_short(value)}`."
        )


def _is_classvar(annotation: object) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or get_origin(annotation) is ClassVar


def _type_name(annotation: object) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _annotation_for(value: object) -> str:
    """A plausible annotation for a default value, for the error message's example."""
    if value is None:
        return "str | None"
    container = type(value).__name__
    if isinstance(value, (list, set, frozenset, tuple)):
        items = cast(Iterable[object], value)
        kinds = sorted({type(item).__name__ for item in items})
        inner = " | ".join(kinds) if kinds else "str"
        return f"tuple[{inner}, ...]" if container == "tuple" else f"{container}[{inner}]"
    if isinstance(value, dict):
        mapping = cast(dict[object, object], value)
        keys = sorted({type(k).__name__ for k in mapping}) or ["str"]
        vals = sorted({type(v).__name__ for v in mapping.values()}) or ["str"]
        return f"dict[{' | '.join(keys)}, {' | '.join(vals)}]"
    return container


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


_FIELD_PATH = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")


_SCALARS = frozenset({int, str, float, bool})
_scalar_fields: dict[type, tuple[tuple[str, type], ...] | None] = {}


def _scalar_fields_of(cls: type[Component]) -> tuple[tuple[str, type], ...] | None:
    """`(name, type)` of every field when all are declared int, str, float or bool; else None."""
    try:
        return _scalar_fields[cls]
    except KeyError:
        fields = cls.__parlour_fields__.values()
        found = (
            tuple((f.name, f.type) for f in fields)
            if all(f.type in _SCALARS for f in fields)
            else None
        )
        _scalar_fields[cls] = found
        return found


def encode_checked(comp: Component) -> bytes:
    """`encode_state`, and check the bytes decode with the class's typed decoder.

    A handler can assign anything to `self.count`; if the value does not fit the field's
    annotation, the conversation would be stored and fail only when it is next restored.
    Decoding here (a few microseconds for small states) catches it where it was made:
    StateError names the component, the field, the declared type and the value.
    """
    data = encode_state(comp)
    cls = type(comp)
    scalars = _scalar_fields_of(cls)
    if scalars is not None:
        # Every field declared a scalar: holding exactly that type, it decodes as itself (the
        # check below would say so, for a few µs on every click).
        for name, tp in scalars:
            if type(getattr(comp, name)) is not tp:
                break
        else:
            return data
    try:
        cls.__parlour_decoder__.decode(data)
    except msgspec.ValidationError as exc:
        found = _FIELD_PATH.search(str(exc))
        name = found.group(1) if found else None
        if name is None or name not in cls.__parlour_fields__:
            raise StateError(
                f"{cls.__qualname__} state does not fit its annotations: {exc}. Assign values "
                "of the declared types, or change the annotations."
            ) from exc
        value = getattr(comp, name)
        declared = _type_name(cls.__parlour_fields__[name].type)
        raise StateError(
            f"{cls.__qualname__}.{name} is declared `{name}: {declared}`, but holds "
            f"{_short(value)} (a {type(value).__qualname__}): {exc}. Assign a value of the "
            f"declared type (convert it first), or change the annotation. The conversation "
            "keeps its last good state."
        ) from exc
    return data


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
