"""Lifecycle hooks (start, stop, wakeup), eager children and slots, and opening a stream."""

from __future__ import annotations

from typing import Any

import pytest
from htpy import Element, div, p

from parlour import (
    Component,
    after,
    answer,
    call,
    event,
    patch_signals,
    subscribe,
)
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.effects import Effect
from parlour.testing import Harness

LOG: list[str] = []


def elements(step: kernel.Step) -> list[fr.Elements]:
    return [f for f in step.fragments if isinstance(f, fr.Elements)]


class Leaf(Component):
    name: str = "leaf"
    started: int = 0
    woke: int = 0

    def render(self) -> Element:
        return div(self.root)[p[f"{self.name} started={self.started} woke={self.woke}"]]

    def start(self) -> None:
        LOG.append(f"start {self.name}")
        self.started += 1

    def stop(self) -> Effect:
        LOG.append(f"stop {self.name}")
        self.name = "changed while stopping"  # discarded: the instance is going away
        return patch_signals({f"gone-{self.iid}": True})

    def wakeup(self) -> None:
        LOG.append(f"wakeup {self.name}")
        self.woke += 1

    @event
    def done(self, value: Any = None) -> Effect:
        return answer(value)

    @event
    def rename(self, name: str) -> None:
        self.name = name


class Pair(Component):
    """Two eager children in slots, drawn inline."""

    n: int = 0

    def children(self) -> dict[str, Component]:
        return {"left": Leaf(name="left"), "right": Leaf(name="right")}

    def render(self) -> Element:
        return div(self.root)[p[f"n={self.n}"], self.slot("left"), self.slot("right")]

    def start(self) -> None:
        LOG.append("start pair")

    def stop(self) -> None:
        LOG.append("stop pair")

    def wakeup(self) -> None:
        LOG.append("wakeup pair")

    @event
    def inc(self) -> None:
        self.n += 1

    @event
    def open(self) -> Effect:
        return call(Leaf(name="dialog"), resume=self.closed)

    def closed(self, value: Any) -> None:
        self.n += 100


# -- start ------------------------------------------------------------------------------------


def test_start_runs_once_right_after_the_instance_is_created() -> None:
    LOG.clear()
    h = Harness(Leaf(name="solo"))
    assert LOG == ["start solo"]
    assert h.top.started == 1  # state set in start is kept
    h.dispatch(None, "rename", "x")
    assert LOG == ["start solo"]


def test_start_runs_for_eager_children_parent_first() -> None:
    LOG.clear()
    h = Harness(Pair)
    assert LOG == ["start pair", "start left", "start right"]
    assert h.instance("p2").started == 1
    assert h.instance("p3").started == 1


def test_a_start_that_calls_shows_only_the_called_frame() -> None:
    class Task(Component):
        got: Any = None

        def render(self) -> Element:
            return div(self.root)[f"task got {self.got}"]

        def start(self) -> Effect:
            return call(Leaf(name="step one"), resume=self.stepped)

        def stepped(self, value: Any) -> None:
            self.got = value

    step = kernel.boot(Task(), cid="c")
    assert step.conversation.stack == ("p1", "p2")
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "step one" in frag.html
    assert "task got" not in frag.html


def test_a_start_that_answers_at_once_resumes_the_caller_and_leaves_no_frame() -> None:
    class Instant(Component):
        def start(self) -> Effect:
            return answer("immediately")

    class Caller(Component):
        got: Any = None

        def render(self) -> Element:
            return div(self.root)[f"got {self.got}"]

        @event
        def go(self) -> Effect:
            return call(Instant(), resume=self.done)

        def done(self, value: Any) -> None:
            self.got = value

    h = Harness(Caller)
    step = h.dispatch(None, "go")
    assert step.conversation.stack == ("p1",)
    assert h.top == Caller(got="immediately")
    assert [(f.selector, f.mode) for f in elements(step)] == [("#root", "inner")]


def test_a_childs_start_may_schedule_a_timer_for_that_child() -> None:
    class Clock(Component):
        ticks: int = 0

        def render(self) -> Element:
            return div(self.root)[self.ticks]

        def start(self) -> Effect:
            return after(10, self.tick)

        def tick(self) -> None:
            self.ticks += 1

    class Face(Component):
        def children(self) -> dict[str, Component]:
            return {"clock": Clock()}

        def render(self) -> Element:
            return div(self.root)[self.slot("clock")]

    step = kernel.boot(Face(), cid="c", now=100.0)
    [timer] = step.conversation.timers
    assert (timer.iid, timer.method, timer.due) == ("p2", "tick", 110.0)
    assert step.commands == (cmd.ScheduleTimer("c", timer),)


def test_children_may_depend_on_the_parents_state() -> None:
    class Grid(Component):
        size: int = 3

        def children(self) -> dict[str, Component]:
            return {f"cell{i}": Leaf(name=f"cell {i}") for i in range(self.size)}

        def render(self) -> Element:
            return div(self.root)[(self.slot(f"cell{i}") for i in range(self.size))]

    h = Harness(Grid(size=3))
    assert h.conversation.instances["p1"].children == {"cell0": "p2", "cell1": "p3", "cell2": "p4"}
    assert h.html.count("started=1") == 3


# -- slots and rendering ----------------------------------------------------------------------


def test_slots_are_drawn_inline_and_marked_rendered_by_the_first_render() -> None:
    step = kernel.boot(Pair(), cid="c")
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert 'id="p2"' in frag.html
    assert 'id="p3"' in frag.html
    assert all(i.rendered for i in step.conversation.instances.values())
    assert step.conversation.instances["p2"].parent == "p1"


def test_first_render_goes_to_root_then_renders_morph_by_id() -> None:
    h = Harness(Pair)
    [first] = elements(h.steps[0])
    [then] = elements(h.dispatch(None, "inc"))
    assert (first.selector, first.mode) == ("#root", "inner")
    assert (then.selector, then.mode, then.key) == (None, "outer", "p1")


def test_an_event_on_a_child_redraws_only_the_child() -> None:
    h = Harness(Pair)
    [frag] = elements(h.dispatch("p3", "rename", "RIGHT"))
    assert (frag.selector, frag.key) == (None, "p3")
    assert frag.html.startswith('<div id="p3">')
    assert "RIGHT" in frag.html


def test_an_unknown_slot_in_render_becomes_an_error_block_naming_the_slots() -> None:
    class Typo(Component):
        def children(self) -> dict[str, Component]:
            return {"body": Leaf()}

        def render(self) -> Element:
            return div(self.root)[self.slot("bdy")]

    step = kernel.boot(Typo(), cid="c")
    [frag] = elements(step)
    assert frag.error
    [report] = step.errors
    assert "has no child in slot 'bdy' (slots: body)" in str(report.error)


def test_slot_and_keyed_need_a_render_in_progress() -> None:
    top = Harness(Pair).top  # mounted, but its fold is over
    with pytest.raises(RuntimeError, match=r"inside render\(\)"):
        top.slot("left")
    with pytest.raises(RuntimeError, match=r"inside render\(\)"):
        top.keyed("rows")
    with pytest.raises(RuntimeError, match="not mounted"):
        Pair().slot("left")


# -- stop ---------------------------------------------------------------------------------------


def test_stop_runs_when_a_frame_is_popped_and_its_effects_are_folded() -> None:
    h = Harness(Pair)
    h.dispatch(None, "open")
    LOG.clear()
    step = h.dispatch(Leaf, "done", "ok")
    assert LOG == ["stop dialog"]
    assert fr.Signals({"gone-p4": True}) in step.fragments
    assert h.top.n == 100


def test_stop_runs_before_the_stream_closes() -> None:
    h = Harness(Leaf(name="only"))
    step = h.dispatch(None, "done")
    assert step.fragments == (fr.Signals({"gone-p1": True}), fr.Close())


def test_end_stops_every_frame_bottom_to_top_each_subtree_parent_first() -> None:
    h = Harness(Pair)
    h.dispatch(None, "open")
    LOG.clear()
    kernel.finish(h.conversation, now=1.0)
    assert LOG == ["stop pair", "stop left", "stop right", "stop dialog"]


def test_a_stop_hook_that_raises_still_ends_the_conversation_for_the_reaper() -> None:
    class Stubborn(Component):
        def stop(self) -> None:
            raise RuntimeError("will not stop")

    step = kernel.finish(Harness(Stubborn).conversation, now=1.0)
    assert step.conversation.ended
    assert step.fragments == (fr.Close(),)
    [report] = step.errors
    assert report.phase == "stop"


# -- wakeup, streams ----------------------------------------------------------------------------


def test_wakeup_runs_when_back_shows_a_frame_again() -> None:
    h = Harness(Pair)
    h.dispatch(None, "open")
    LOG.clear()
    step = h.back()
    assert LOG == ["wakeup pair", "wakeup left", "wakeup right"]
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert frag.html.count("woke=1") == 2


def test_render_top_draws_the_top_frame_whole_without_waking_or_snapshotting() -> None:
    h = Harness(Pair)
    h.dispatch(None, "inc")
    LOG.clear()
    step = kernel.render_top(h.conversation)
    assert LOG == []
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "n=1" in frag.html
    assert len(step.conversation.history) == len(h.conversation.history)


def test_render_top_with_wake_runs_wakeup_for_the_top_frame_and_its_children_only() -> None:
    h = Harness(Pair)
    h.dispatch(None, "open")
    LOG.clear()
    step = kernel.render_top(h.conversation, wake=True)
    assert LOG == ["wakeup dialog"]
    assert "woke=1" in elements(step)[0].html


def test_a_failing_wakeup_on_a_new_stream_shows_its_error_in_root() -> None:
    class Sleepy(Component):
        def render(self) -> Element:
            return div(self.root)["sleepy"]

        def wakeup(self) -> None:
            raise RuntimeError("cannot wake")

    h = Harness(Sleepy)
    step = kernel.render_top(h.conversation, wake=True)
    [frag] = step.fragments
    assert isinstance(frag, fr.Elements)
    assert frag.error
    assert (frag.selector, frag.mode) == ("#root", "inner")  # a new page has no #p1 yet
    assert step.conversation is h.conversation


def test_render_top_of_an_ended_conversation_draws_nothing() -> None:
    h = Harness(Leaf)
    h.dispatch(None, "done")
    assert kernel.render_top(h.conversation, wake=True).fragments == ()


def test_wakeup_may_resubscribe() -> None:
    class Listener(Component):
        def render(self) -> Element:
            return div(self.root)["listening"]

        def wakeup(self) -> Effect:
            return subscribe("news.*", self.heard)

        def heard(self, payload: Any) -> None:
            pass

    step = kernel.render_top(Harness(Listener).conversation, wake=True)
    assert [type(c) for c in step.commands] == [cmd.Subscribe]
