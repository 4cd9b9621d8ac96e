"""Flows: sequential code that calls components and resumes with their answers.

    @flow
    def signup():
        name = yield prompt("Your name?")
        plan = yield choose("Plan", ["free", "pro"])
        if (yield confirm(f"Sign {name} up for {plan}?")):
            return {"name": name, "plan": plan}

`@flow` turns the generator function into a component class. Each `yield` shows a component
as a full-page frame (like `call`) and resumes the generator with its answer; `return v`
answers `v` to whoever called the flow.

A live generator cannot be stored, so a flow persists by *deterministic replay*: its state is
the list of answers it has received (and the component type asked at each step). To continue,
the generator is run again from the start and fed the recorded answers up to where it
stopped. So the code between two `yield`s must be deterministic; side effects belong in
components and effects, not in the flow body. If a replay yields a different component than
the one recorded (the code changed incompatibly since), FlowReplayError names the flow and
the step. Replay is also what makes *back* natural: a snapshot holds one answer fewer.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, cast

from .component import Component
from .effects import Answer, Call, Effect, answer, call
from .errors import EffectError, FlowReplayError

__all__ = ["Flow", "flow"]


class Flow(Component, name="parlour.Flow"):
    """Base of the classes `@flow` makes. State: call arguments, answers so far, steps asked."""

    args: dict[str, Any] = {}
    answers: list[Any] = []
    steps: list[str] = []

    __parlour_flow__: Callable[..., Any] | None = None

    def start(self) -> Effect:
        return self._advance()

    def answered(self, value: Any) -> Effect:
        """Resume point: the component shown by the last `yield` answered `value`."""
        self.answers.append(value)
        return self._advance()

    def _advance(self) -> Call | Answer:
        fn = type(self).__parlour_flow__
        if fn is None:
            raise FlowReplayError(f"{type(self).__qualname__} is not bound to a flow function")
        name = getattr(fn, "__qualname__", repr(fn))
        result = fn(**self.args)
        if not inspect.isgenerator(result):
            return answer(result)
        gen = cast(Generator[Any, Any, Any], result)
        try:
            asked: Any = gen.send(None)
            for step, given in enumerate(self.answers):
                self._check(name, step, asked)
                asked = gen.send(given)
            step = len(self.answers)
            component = self._check(name, step, asked)
            if step == len(self.steps):
                self.steps.append(type(component).__parlour_name__)
            return call(component, resume=self.answered)
        except StopIteration as stop:
            return answer(stop.value)
        finally:
            gen.close()

    def _check(self, name: str, step: int, asked: object) -> Component:
        """The component a step asked for (a class is instantiated), checked against replay."""
        if isinstance(asked, type) and issubclass(asked, Component):
            asked = asked()
        if not isinstance(asked, Component):
            raise EffectError(
                f"flow {name} yielded {asked!r} at step {step + 1}; a flow yields components "
                "to show, such as `name = yield prompt('Your name?')`"
            )
        got = type(asked).__parlour_name__
        if step < len(self.steps) and self.steps[step] != got:
            raise FlowReplayError(
                f"flow {name} at step {step + 1} yielded {got} on replay, but {self.steps[step]} "
                "when it first ran. Its code changed incompatibly since this conversation "
                "started, or it is not deterministic between yields (side effects and random "
                "choices belong in components and effects, not in the flow body)."
            )
        return asked


def flow(fn: Callable[..., Generator[Any, Any, Any]]) -> type[Flow]:
    """Make a component class from a generator function; its arguments become the call's."""
    signature = inspect.signature(fn)

    def __init__(self: Flow, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{fn.__qualname__}(): {exc}") from None
        bound.apply_defaults()
        Flow.__init__(self, args=dict(bound.arguments))

    namespace: dict[str, Any] = {
        "__init__": __init__,
        "__doc__": fn.__doc__,
        "__module__": fn.__module__,
        "__qualname__": fn.__qualname__,
        "__parlour_flow__": staticmethod(fn),
    }
    return type(fn.__name__, (Flow,), namespace, name=f"{fn.__module__}.{fn.__qualname__}")
