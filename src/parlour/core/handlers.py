"""Calling user code: find the method an event names, call it, and read what it returned.

    method(comp, name, browser=)    the bound method an event, timer or resume names, checked
    invoke(method, payload)         call it with the payload if it takes one, else without
    call(comp, name, payload, browser=)   both: the method looked up once per class
    coerce(comp, name, result)      its result as a list of effects (or a clear error)
    error_method_name(method)       `on_error_<m>`: where a failure of `m`'s work goes
    lift_signals(comp, iid, sigs)   copy the browser's kept signals onto the state fields
    check_signals(comp, iid, sigs)  SignalError when one of them does not fit its field

What this module does not do: apply the effects (see `kernel`), or mount the component.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from types import FunctionType
from typing import Any

import msgspec

from . import effects as fx
from .component import Component, kebab_case
from .errors import EffectError, HandlerReturnError, SignalError

__all__ = [
    "call",
    "check_signals",
    "coerce",
    "error_method_name",
    "invoke",
    "lift_signals",
    "method",
]


def method(comp: Component, name: str, *, browser: bool) -> Callable[..., Any]:
    """`comp.name`: an `@event` method if the browser asked, else any public method."""
    cls = type(comp)
    if browser and name not in cls.__parlour_events__:
        raise HandlerReturnError(
            f"{cls.__qualname__} has no @event method {name!r}; the browser may only call "
            f"@event methods ({', '.join(sorted(cls.__parlour_events__)) or 'none'})"
        )
    member = getattr(cls, name, None)
    if name.startswith("_") or not callable(member):
        raise EffectError(
            f"{cls.__qualname__} has no method {name!r} to call back (a timer, subscription, "
            "io or resume named it). Define the method, or fix the name."
        )
    return getattr(comp, name)


@cache
def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional)


def invoke(bound: Callable[..., Any], payload: Any) -> Any:
    """Call a bound method with `payload` when it takes an argument besides self."""
    func = getattr(bound, "__func__", bound)
    # Bound methods: the function's first parameter is self.
    return bound(payload) if _arity(func) > 1 else bound()


_plain: dict[tuple[type[Component], str, bool], tuple[Callable[..., Any], bool]] = {}
"""(class, name, browser) -> the method's function and whether it takes the payload."""


def call(comp: Component, name: str, payload: Any, *, browser: bool) -> Any:
    """`invoke(method(comp, name, browser=browser), payload)`: what every event does.

    For a plain method (a function in the class), which one it is and whether it takes the
    payload are remembered per class, so an event calls it at once (no bound method, no
    checks again); anything else (a staticmethod, a classmethod) is looked up each time.
    """
    found = _plain.get((type(comp), name, browser))
    if found is None:
        bound = method(comp, name, browser=browser)  # raises, naming the mistake
        func = getattr(bound, "__func__", None)
        if type(func) is not FunctionType or getattr(bound, "__self__", None) is not comp:
            return invoke(bound, payload)
        found = _plain[type(comp), name, browser] = (func, _arity(func) > 1)
    func, takes_payload = found
    return func(comp, payload) if takes_payload else func(comp)


def coerce(comp: Component, name: str, result: object) -> list[fx.Effect]:
    """The one normaliser of handler results: None, an effect, or a list of effects."""
    if result is None:
        return []
    if isinstance(result, fx.EFFECT_TYPES):
        return [result]  # pyright: ignore[reportReturnType]
    if isinstance(result, (list, tuple)):
        items: list[object] = list(result)  # pyright: ignore[reportUnknownArgumentType]
        if all(isinstance(e, fx.EFFECT_TYPES) for e in items):
            return items  # pyright: ignore[reportReturnType]
        bad = next(e for e in items if not isinstance(e, fx.EFFECT_TYPES))
        raise HandlerReturnError(
            f"{type(comp).__qualname__}.{name}() returned a list containing {bad!r}, which is "
            "not an effect. Return None, an effect such as call(...) or answer(...), or a list "
            "of effects; to change state, assign to self.<field> instead."
        )
    raise HandlerReturnError(
        f"{type(comp).__qualname__}.{name}() returned {result!r}. Expected None, an effect "
        "such as call(...) or answer(...), or a list of effects; to change state, assign to "
        "self.<field> instead of returning it."
    )


def error_method_name(name: str) -> str:
    """The method that receives the failure of `name`'s work: `on_error_<name>`."""
    return "on_error_" + (name[3:] if name.startswith("on_") else name)


def lift_signals(comp: Component, iid: str, signals: Mapping[str, Any]) -> bool:
    """Copy kept signals onto the instance: `NAME-IID` (instance-local) wins over `NAME`.

    True when some signal was copied (the instance's state may differ from the stored one).
    A signal its field cannot hold raises SignalError (see `check_signals`).
    """
    if not signals or not type(comp).keep:
        return False  # most events: nothing kept, or no signals sent
    lifted = False
    for name, value in _kept(comp, iid, signals):
        setattr(comp, name, value)
        lifted = True
    return lifted


def check_signals(comp: Component, iid: str, signals: Mapping[str, Any]) -> None:
    """Raise SignalError if a kept signal does not fit its field, before anything runs.

    The web layer asks first and answers 400 naming the signal and the type expected: a
    value of the wrong type comes from a broken or hostile client, not from the component.
    """
    for _ in _kept(comp, iid, signals):
        pass


def _kept(comp: Component, iid: str, signals: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field, value) for each kept field the signals carry, converted to the field's type."""
    cls = type(comp)
    if not cls.keep or not signals:
        return
    for name in cls.keep:
        for key in (
            kebab_case(f"{name}-{iid}"),  # what `bind_local` makes the browser send
            f"{name}-{iid}",
            f"{name.replace('_', '-')}-{iid}",
            kebab_case(name),  # what `bind` makes the browser send
            name,
            name.replace("_", "-"),
        ):
            if key in signals:
                tp = cls.__parlour_fields__[name].type
                try:
                    yield name, msgspec.convert(signals[key], tp, strict=False)
                except msgspec.ValidationError as exc:
                    shown = repr(signals[key])
                    shown = shown if len(shown) <= 60 else shown[:57] + "..."
                    raise SignalError(
                        f"signal {key!r} = {shown} does not fit {cls.__qualname__}.{name} "
                        f"({_type_name(tp)}): {exc}"
                    ) from None
                break


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")
