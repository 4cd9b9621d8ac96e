"""Flows: generator functions that call components in sequence and survive restarts.

A flow's state is its arguments, the answers it has received and the component types it
asked for; it continues by replaying the generator with those answers.
"""

from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import Any

import pytest
from htpy import Element, div, p

from parlour import Component, answer, call, event, flow
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.codec import decode, encode
from parlour.core.component import lookup
from parlour.core.effects import Effect
from parlour.core.errors import EffectError, FlowReplayError
from parlour.core.flow import Flow
from parlour.testing import Harness

ASKED: list[str] = []


class Ask(Component):
    question: str = ""

    def render(self) -> Element:
        return div(self.root)[p[self.question]]

    def start(self) -> None:
        ASKED.append(self.question)

    @event
    def reply(self, value: Any) -> Effect:
        return answer(value)


class Other(Ask):
    pass


@flow
def nothing_to_ask():
    return "at once"
    yield Ask()  # a generator that returns before its first yield


@flow
def one_question():
    name = yield Ask(question="name?")
    return f"hello {name}"


@flow
def three_questions():
    a = yield Ask(question="a?")
    b = yield Ask(question="b?")
    c = yield Ask(question="c?")
    return [a, b, c]


@flow
def scaled(factor: int, offset: int = 0):
    v = yield Ask(question=f"times {factor}?")
    return v * factor + offset


@flow
def countdown(start: int):
    n = start
    while n > 0:
        n = yield Ask(question=f"{n} left, next?")
    return "liftoff"


@flow
def yields_junk():
    yield "not a component"


class Parent(Component):
    got: list[Any] = []

    def render(self) -> Element:
        return div(self.root)[p[f"got {self.got}"]]

    @event
    def run(self, which: str) -> Effect:
        flows = {"scaled": scaled(10), "three": three_questions(), "none": nothing_to_ask()}
        return call(flows[which], resume=self.done)

    def done(self, value: Any) -> None:
        self.got = [*self.got, value]


def questions(h: Harness) -> list[str]:
    return [
        h.instance(i).question
        for i in h.conversation.stack
        if isinstance(h.instance(i), Ask)  # the flow frame itself draws a hidden placeholder
    ]


def test_flow_makes_a_registered_component_class() -> None:
    assert issubclass(one_question, Flow)
    assert lookup(f"{__name__}.one_question") is one_question
    assert one_question().args == {}


def test_a_flow_without_questions_answers_at_once_and_a_root_one_ends() -> None:
    step = kernel.boot(nothing_to_ask(), cid="c")
    assert step.conversation.ended
    assert step.fragments == (fr.Close(),)


def test_a_zero_step_flow_answers_its_caller_immediately() -> None:
    h = Harness(Parent)
    h.dispatch(None, "run", "none")
    assert h.top == Parent(got=["at once"])
    assert h.conversation.stack == ("p1",)


def test_a_flow_shows_its_first_question_on_top() -> None:
    h = Harness(one_question)
    assert h.conversation.stack == ("p1", "p2")
    assert questions(h) == ["name?"]
    assert "name?" in h.html


def test_the_last_answer_ends_a_root_flow() -> None:
    h = Harness(one_question)
    step = h.dispatch(Ask, "reply", "Ada")
    assert step.conversation.ended
    assert step.fragments[-1] == fr.Close()


def test_a_flow_asks_one_question_at_a_time_each_a_fresh_frame() -> None:
    h = Harness(Parent)
    h.dispatch(None, "run", "three")
    seen = []
    for value in ("x", "y", "z"):
        seen.append(h.conversation.stack[-1])
        assert len(h.conversation.stack) == 3  # parent, flow, one question
        h.dispatch(Ask, "reply", value)
    assert len(set(seen)) == 3
    assert h.top == Parent(got=[["x", "y", "z"]])
    assert h.conversation.stack == ("p1",)


def test_the_flows_final_value_is_its_callers_answer() -> None:
    h = Harness(Parent)
    h.dispatch(None, "run", "scaled")
    h.dispatch(Ask, "reply", 7)
    assert h.top == Parent(got=[70])
    assert list(h.conversation.instances) == ["p1"]


def test_flow_arguments_bind_like_a_call() -> None:
    assert scaled(5).args == {"factor": 5, "offset": 0}
    assert scaled(5, offset=2).args == {"factor": 5, "offset": 2}
    h = Harness(scaled(factor=5, offset=2))
    assert questions(h) == ["times 5?"]
    h.dispatch(Ask, "reply", 8)
    assert h.conversation.ended


def test_wrong_flow_arguments_name_the_flow() -> None:
    with pytest.raises(TypeError, match=r"^scaled\(\): missing a required argument: 'factor'"):
        scaled()


def test_a_loop_across_yields_works() -> None:
    h = Harness(countdown(2))
    assert questions(h) == ["2 left, next?"]
    h.dispatch(Ask, "reply", 1)
    assert questions(h) == ["1 left, next?"]
    h.dispatch(Ask, "reply", 0)
    assert h.conversation.ended


def test_a_flows_state_is_its_arguments_answers_and_steps() -> None:
    h = Harness(three_questions)
    h.dispatch(Ask, "reply", "x")
    h.dispatch(Ask, "reply", "y")
    state = h.instance("p1")
    assert (state.args, state.answers, state.steps) == ({}, ["x", "y"], [Ask.__parlour_name__] * 3)


def test_replay_does_not_restart_the_questions_already_answered() -> None:
    ASKED.clear()
    h = Harness(three_questions)
    h.dispatch(Ask, "reply", "x")
    h.dispatch(Ask, "reply", "y")
    assert ASKED == ["a?", "b?", "c?"]  # each question shown (and started) once


def test_yielding_something_that_is_not_a_component_names_the_flow_and_step() -> None:
    step = kernel.boot(yields_junk(), cid="c")
    [report] = step.errors
    assert isinstance(report.error, EffectError)
    assert str(report.error).startswith("flow yields_junk yielded 'not a component' at step 1;")


def test_a_flow_that_replays_differently_fails_naming_the_flow_and_the_step() -> None:
    h = Harness(three_questions)
    h.dispatch(Ask, "reply", "x")
    # The code "changed": the stored record says step 1 asked a different component.
    conv = h.conversation
    stored = conv.instances["p1"]
    changed = three_questions()
    changed.answers = list(stored.component.answers)
    changed.steps = [Other.__parlour_name__, *stored.component.steps[1:]]
    changed_instance = dc_replace(stored, component=changed, state=None)
    h.conversation = dc_replace(conv, instances={**conv.instances, "p1": changed_instance})
    before = h.conversation
    step = h.dispatch(Ask, "reply", "y")
    assert step.conversation is before
    [report] = step.errors
    assert isinstance(report.error, FlowReplayError)
    message = str(report.error)
    assert message.startswith(
        f"flow three_questions at step 1 yielded {Ask.__parlour_name__} on replay, but "
        f"{Other.__parlour_name__} when it first ran."
    )


def test_back_inside_a_flow_stops_one_step_earlier() -> None:
    h = Harness(three_questions)
    h.dispatch(Ask, "reply", "x")
    h.dispatch(Ask, "reply", "y")
    assert questions(h) == ["c?"]
    h.back()
    assert questions(h) == ["b?"]
    assert h.instance("p1").answers == ["x"]
    h.dispatch(Ask, "reply", "changed")
    h.dispatch(Ask, "reply", "z")
    assert h.conversation.ended


def test_a_flow_survives_a_restart_mid_way_and_continues() -> None:
    h = Harness(Parent)
    h.dispatch(None, "run", "three")
    h.dispatch(Ask, "reply", "x")
    restored = decode(encode(h.conversation))
    assert encode(restored) == encode(h.conversation)
    h.conversation = restored
    step = kernel.render_top(restored, wake=True)
    assert "b?" in step.fragments[0].html  # type: ignore[union-attr]
    h.dispatch(Ask, "reply", "y")
    h.dispatch(Ask, "reply", "z")
    assert h.top == Parent(got=[["x", "y", "z"]])


class _Ok(Component):
    def render(self) -> Element:
        return div(self.root)[p["ok?"]]

    @event
    def yes(self) -> Effect:
        return answer("fine")


@flow
def _yields_a_class() -> Any:
    said = yield _Ok  # a class is shown like an instance, as call() accepts both
    return said


def test_a_flow_may_yield_a_component_class() -> None:
    h = Harness(_yields_a_class)
    assert isinstance(h.top, _Ok)
    h.dispatch(_Ok, "yes")
    assert h.conversation.ended
