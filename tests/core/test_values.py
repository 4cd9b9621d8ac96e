"""Value classes built by `fast_init` are built exactly as their dataclass would build them:
same parameters, defaults, default factories and keyword-only fields, and still frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

import pytest

from parlour.core import component, conversation, fold, fragments, kernel
from parlour.core.values import fast_init

DECORATED: list[type[Any]] = [
    conversation.Conversation,
    conversation.Instance,
    conversation.Timer,
    conversation.Subscription,
    fold.Step,
    fold.ErrorReport,
    fragments.Elements,
    fragments.Signals,
    fragments.Script,
    fragments.History,
    component.Mount,
    kernel.Event,
]


def reference(cls: type[Any]) -> type[Any]:
    """The same class as dataclasses alone declares it (its generated __init__)."""
    params = cls.__dataclass_params__
    return dataclass(frozen=params.frozen, eq=params.eq, slots=True)(
        type(cls.__name__, (), {"__annotations__": dict(cls.__annotations__), **_defaults(cls)})
    )


def _defaults(cls: type[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        out[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            kw_only=f.kw_only,
            compare=f.compare,
            repr=f.repr,
        )
    return out


def sample(f: dataclasses.Field[Any], i: int) -> Any:
    return f"value-{i}-{f.name}"


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__qualname__)
def test_the_signature_is_the_dataclasss(cls: type[Any]) -> None:
    assert str(inspect.signature(cls)) == str(inspect.signature(reference(cls)))


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__qualname__)
def test_every_field_is_set_from_its_argument_or_default(cls: type[Any]) -> None:
    ref = reference(cls)
    fields = dataclasses.fields(cls)
    given = {f.name: sample(f, i) for i, f in enumerate(fields)}
    built, expected = cls(**given), ref(**given)
    for f in fields:
        assert getattr(built, f.name) == getattr(expected, f.name) == given[f.name]
    required = {
        f.name: sample(f, i)
        for i, f in enumerate(fields)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    built, expected = cls(**required), ref(**required)
    for f in fields:
        assert getattr(built, f.name) == getattr(expected, f.name), f.name


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__qualname__)
def test_the_value_stays_frozen(cls: type[Any]) -> None:
    fields = dataclasses.fields(cls)
    built = cls(**{f.name: sample(f, i) for i, f in enumerate(fields)})
    assert fields, f"{cls.__qualname__} has no field to check"
    for name in (f.name for f in fields):
        with pytest.raises(FrozenInstanceError):
            setattr(built, name, "changed")


def test_positional_arguments_go_to_the_fields_in_order() -> None:
    conv = conversation.Conversation(*(f"v{i}" for i in range(15)))  # pyright: ignore[reportArgumentType]
    assert [getattr(conv, f.name) for f in dataclasses.fields(conv)] == [f"v{i}" for i in range(15)]
    with pytest.raises(TypeError):
        conversation.Conversation(*range(16))  # pyright: ignore[reportArgumentType, reportCallIssue]
    with pytest.raises(TypeError):
        conversation.Conversation()  # pyright: ignore[reportCallIssue]


def test_a_default_factory_gives_each_value_its_own() -> None:
    a, b = fragments.Signals(), fragments.Signals()
    assert a.data == {}
    assert a.data is not b.data


def test_keyword_only_fields_stay_keyword_only() -> None:
    @fast_init
    @dataclass(frozen=True, slots=True)
    class Pair:
        a: int
        b: int = field(default=2, kw_only=True)

    assert Pair(1, b=3).b == 3
    assert Pair(1).b == 2
    with pytest.raises(TypeError):
        Pair(1, 3)  # pyright: ignore[reportCallIssue]


def test_what_it_cannot_rebuild_is_refused() -> None:
    class Plain:
        pass

    with pytest.raises(TypeError, match="slots=True"):
        fast_init(Plain)

    with pytest.raises(TypeError, match="no __post_init__"):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class Checked:  # pyright: ignore[reportUnusedClass]
            a: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(TypeError, match="InitVar or init=False"):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class Hidden:  # pyright: ignore[reportUnusedClass]
            a: int
            b: int = field(default=0, init=False)
