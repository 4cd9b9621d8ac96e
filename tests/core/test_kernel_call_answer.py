"""Frames and slots: call, answer, answer_error, replace, call_in_slot, and resuming.

A resume target is a bound method stored by name; the instance that owns it is the called
frame's parent (not necessarily the frame below). After a frame is pushed, popped or
replaced, the new top frame is drawn whole into `#root`.
"""

from __future__ import annotations

from typing import Any

from htpy import Element, div, p

from parlour import (
    Component,
    answer,
    answer_error,
    call,
    call_in_slot,
    event,
    publish,
    replace,
    set_keyed_children,
)
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.effects import Effect
from parlour.core.errors import EffectError
from parlour.testing import Harness
from parlour.wire.actions import history_script

STOPPED: list[str] = []


def elements(step: kernel.Step) -> list[fr.Elements]:
    return [f for f in step.fragments if isinstance(f, fr.Elements)]


class Ask(Component):
    """A called frame: answers what it is told to."""

    question: str = "?"

    def render(self) -> Element:
        return div(self.root)[p[self.question]]

    def stop(self) -> None:
        STOPPED.append(self.question)

    @event
    def reply(self, value: Any) -> Effect:
        return answer(value)

    @event
    def fail(self) -> Effect:
        return answer_error(ValueError("the disk is full"))

    @event
    def reply_and_tell(self, value: Any) -> list[Effect]:
        return [answer(value), publish("asked", value)]

    @event
    def become(self) -> Effect:
        return replace(Ask(question="replaced"))


class Caller(Component):
    got: list[Any] = []
    errors: list[str] = []

    def render(self) -> Element:
        return div(self.root)[p[f"got {self.got}"]]

    @event
    def ask(self) -> Effect:
        return call(Ask(question="name?"), resume=self.got_name)

    @event
    def ask_blind(self) -> Effect:
        return call(Ask(question="ignored?"))

    @event
    def ask_saved(self) -> Effect:
        return call(Ask(question="save?"), resume=self.on_saved)

    @event
    def ask_twice(self) -> Effect:
        return call(Ask(question="first?"), resume=self.then_ask_again)

    def got_name(self, value: Any) -> None:
        self.got = [*self.got, value]

    def on_error_got_name(self, error: BaseException) -> None:
        self.errors = [*self.errors, f"{type(error).__name__}: {error}"]

    def on_saved(self, value: Any) -> None:
        self.got = [*self.got, ("saved", value)]

    def on_error_saved(self, error: BaseException) -> None:
        self.errors = [*self.errors, str(error)]

    def then_ask_again(self, value: Any) -> Effect:
        self.got = [*self.got, value]
        return call(Ask(question="second?"), resume=self.got_name)


# -- call ---------------------------------------------------------------------------------------


def test_call_pushes_a_frame_and_draws_it_into_root() -> None:
    h = Harness(Caller)
    step = h.dispatch(None, "ask")
    assert step.conversation.stack == ("p1", "p2")
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "name?" in frag.html
    assert not step.conversation.instances["p1"].rendered
    assert step.conversation.instances["p2"].rendered


def test_a_called_frame_records_its_caller_and_resume_method_by_name() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask")
    frame = h.conversation.instances["p2"]
    assert (frame.parent, frame.resume) == ("p1", "got_name")


def test_a_new_top_frame_gets_a_browser_history_entry() -> None:
    h = Harness(Caller)
    step = h.dispatch(None, "ask")
    frag = step.fragments[-1]
    assert frag == fr.History(depth=1, url=None, mode="push")
    assert isinstance(frag, fr.History)
    assert fr.Script(history_script(frag)) == fr.Script(
        'history.replaceState({"parlour": true, "depth": 0},\'\');'
        'history.pushState({"parlour": true, "depth": 1},\'\')'
    )


def test_answer_resumes_the_caller_with_the_value_and_pops_the_frame() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask")
    step = h.dispatch(Ask, "reply", 42)
    assert step.conversation.stack == ("p1",)
    assert "p2" not in step.conversation.instances
    assert h.top == Caller(got=[42])


def test_after_a_full_page_child_answers_the_parent_is_drawn_into_root() -> None:
    # stube morphed the parent by its id here, but the child's page had replaced it: the
    # patch found nothing. parlour draws the frame that is on top again into #root.
    h = Harness(Caller)
    h.dispatch(None, "ask")
    step = h.dispatch(Ask, "reply", "Ada")
    [frag] = elements(step)
    assert (frag.selector, frag.mode, frag.key) == ("#root", "inner", "#root")
    assert frag.html.startswith('<div id="p1">')
    assert "got [&#39;Ada&#39;]" in frag.html


def test_call_without_resume_drops_the_answer_and_redraws_the_caller() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask_blind")
    step = h.dispatch(Ask, "reply", "lost")
    assert h.top == Caller()
    assert [(f.selector, f.mode) for f in elements(step)] == [("#root", "inner")]


def test_a_resume_method_may_call_the_next_frame() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask_twice")
    step = h.dispatch(Ask, "reply", 1)
    assert [h.instance(i).question for i in step.conversation.stack[1:]] == ["second?"]
    h.dispatch(Ask, "reply", 2)
    assert h.top == Caller(got=[1, 2])
    assert h.conversation.stack == ("p1",)


def test_effects_after_an_answer_still_run() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask")
    step = h.dispatch(Ask, "reply_and_tell", "x")
    assert cmd.Publish("asked", "x", "test") in step.commands
    assert h.top == Caller(got=["x"])


def test_answering_pops_the_frames_embedded_children_too() -> None:
    class Part(Component):
        def render(self) -> Element:
            return div(self.root)["part"]

        def stop(self) -> None:
            STOPPED.append("part")

    class Whole(Ask):
        def children(self) -> dict[str, Component]:
            return {"a": Part()}

        def render(self) -> Element:
            return div(self.root)[self.slot("a")]

    class Opener(Caller):
        @event
        def open(self) -> Effect:
            return call(Whole(question="whole"), resume=self.got_name)

    STOPPED.clear()
    h = Harness(Opener)
    h.dispatch(None, "open")
    assert len(h.conversation.instances) == 3
    h.dispatch(Whole, "reply", "ok")
    assert list(h.conversation.instances) == ["p1"]
    assert STOPPED == ["whole", "part"]


def test_a_call_from_an_embedded_child_resumes_that_child() -> None:
    class Picker(Component):
        picked: str = ""

        def render(self) -> Element:
            return div(self.root)[f"picked {self.picked}"]

        @event
        def pick(self) -> Effect:
            return call(Ask(question="which?"), resume=self.chosen)

        def chosen(self, value: str) -> None:
            self.picked = value

    class Form(Component):
        def children(self) -> dict[str, Component]:
            return {"picker": Picker()}

        def render(self) -> Element:
            return div(self.root)[self.slot("picker")]

    h = Harness(Form)
    h.dispatch(Picker, "pick")
    frame = h.conversation.instances[h.conversation.stack[-1]]
    assert frame.parent == h.find(Picker)
    step = h.dispatch(Ask, "reply", "blue")
    assert h.instance(h.find(Picker)) == Picker(picked="blue")
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "picked blue" in frag.html


def test_a_second_click_on_a_button_that_called_a_frame_is_stale() -> None:
    h = Harness(Caller)
    h.dispatch("p1", "ask")
    covered = h.conversation
    step = h.dispatch("p1", "ask")  # the double click arrives after the first was applied
    assert step.conversation is covered
    assert step.fragments == ()


def test_a_frame_whose_caller_went_away_answers_to_nobody() -> None:
    class Row(Component):
        def render(self) -> Element:
            return div(self.root)["row"]

        @event
        def edit(self) -> Effect:
            return call(Ask(question="edit row"), resume=self.edited)

        def edited(self, value: Any) -> None:
            raise AssertionError("a removed instance is never resumed")

    class Table(Component):
        def start(self) -> Effect:
            return set_keyed_children("rows", [("r1", Row())])

        def render(self) -> Element:
            return div(self.root)[self.keyed("rows")]

        def refresh(self, rows: list[str]) -> Effect:
            return set_keyed_children("rows", [(r, Row()) for r in rows])

    h = Harness(Table)
    h.dispatch(Row, "edit")
    h.deliver("p1", "refresh", [])  # a bus event under the dialog drops the row
    assert h.conversation.stack == ("p1", "p3")
    assert h.conversation.instances["p3"].parent not in h.conversation.instances
    step = h.dispatch(Ask, "reply", "x")
    assert step.errors == ()
    assert step.conversation.stack == ("p1",)
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")


def test_a_covered_frame_cannot_answer() -> None:
    class Relay(Ask):
        @event
        def ask_more(self) -> Effect:
            return call(Ask(question="more"))

    h = Harness(Relay(question="root"))
    h.dispatch(None, "ask_more")
    step = h.deliver("p1", "reply", "too early")  # internal: browser events would be stale
    assert step.conversation is h.steps[-2].conversation
    [report] = step.errors
    assert isinstance(report.error, EffectError)
    assert "another frame covers it" in str(report.error)


# -- answer_error -------------------------------------------------------------------------------


def test_answer_error_goes_to_on_error_of_the_resume_method() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask")
    step = h.dispatch(Ask, "fail")
    assert step.conversation.stack == ("p1",)
    assert h.top == Caller(errors=["ValueError: the disk is full"])
    assert step.errors == ()


def test_answer_error_for_an_on_method_drops_the_prefix() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask_saved")
    h.dispatch(Ask, "fail")
    assert h.top == Caller(errors=["the disk is full"])


def test_answer_error_without_an_error_method_shows_an_error_block_that_stays() -> None:
    class Plain(Component):
        got: Any = None

        def render(self) -> Element:
            return div(self.root)["plain"]

        @event
        def ask(self) -> Effect:
            return call(Ask(), resume=self.done)

        def done(self, value: Any) -> None:
            raise AssertionError("the success method is not called with an error")

        def poke(self, value: Any) -> None:
            self.got = value

    h = Harness(Plain)
    h.dispatch(None, "ask")
    step = h.dispatch(Ask, "fail")
    assert step.conversation.stack == ("p1",)
    [frag] = elements(step)  # the block, and no render of the parent drawn over it
    assert frag.error
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert 'id="p1"' in frag.html
    assert 'role="alert"' in frag.html
    assert "ValueError: the disk is full" in frag.html
    [report] = step.errors
    assert (report.iid, report.phase) == ("p1", "answer-error")
    # The block carries the parent's id: the next render of the parent morphs over it.
    assert step.conversation.instances["p1"].rendered
    [again] = elements(h.deliver("p1", "poke", "later"))
    assert (again.selector, again.key, again.error) == (None, "p1", False)


def test_answer_error_without_resume_shows_an_error_block_on_the_caller() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask_blind")
    step = h.dispatch(Ask, "fail")
    [frag] = elements(step)
    assert frag.error
    assert 'id="p1"' in frag.html


# -- replace ------------------------------------------------------------------------------------


def test_replace_puts_a_new_frame_in_the_top_frames_place() -> None:
    STOPPED.clear()
    h = Harness(Caller)
    h.dispatch(None, "ask")
    step = h.dispatch(Ask, "become")
    assert step.conversation.stack == ("p1", "p3")
    assert "p2" not in step.conversation.instances
    assert STOPPED == ["name?"]
    new = step.conversation.instances["p3"]
    assert (new.parent, new.resume) == ("p1", "got_name")
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "replaced" in frag.html


def test_the_replacement_answers_the_original_caller() -> None:
    h = Harness(Caller)
    h.dispatch(None, "ask")
    h.dispatch(Ask, "become")
    h.dispatch(Ask, "reply", "from the replacement")
    assert h.top == Caller(got=["from the replacement"])


def test_replacing_the_root_gives_a_new_root() -> None:
    h = Harness(Ask(question="root"))
    step = h.dispatch(None, "become")
    assert step.conversation.stack == ("p2",)
    assert step.conversation.instances["p2"].parent is None
    h.dispatch(None, "reply", 1)
    assert h.conversation.ended


def test_replace_from_an_embedded_child_acts_on_the_top_frame() -> None:
    class Inner(Component):
        def render(self) -> Element:
            return div(self.root)["inner"]

        @event
        def swap_page(self) -> Effect:
            return replace(Ask(question="whole page"))

    class Outer(Component):
        def children(self) -> dict[str, Component]:
            return {"x": Inner()}

        def render(self) -> Element:
            return div(self.root)[self.slot("x")]

    h = Harness(Outer)
    step = h.dispatch(Inner, "swap_page")
    assert step.conversation.stack == ("p3",)
    assert list(step.conversation.instances) == ["p3"]


# -- call_in_slot -------------------------------------------------------------------------------


class Note(Component):
    text: str = "note"

    def render(self) -> Element:
        return div(self.root)[p[self.text]]

    def stop(self) -> None:
        STOPPED.append(self.text)

    @event
    def done(self, value: Any) -> Effect:
        return answer(value)

    @event
    def oops(self) -> Effect:
        return answer_error(RuntimeError("editor broke"))

    @event
    def edit_deeper(self) -> Effect:
        return call_in_slot("inner", Note(text="deeper"))

    @event
    def rename(self, text: str) -> None:
        self.text = text


class Board(Component):
    saved: list[Any] = []
    errors: list[str] = []

    def children(self) -> dict[str, Component]:
        return {"main": Note(text="original")}

    def render(self) -> Element:
        return div(self.root)[p[f"saved {self.saved}"], self.slot("main")]

    @event
    def edit(self) -> Effect:
        return call_in_slot("main", Note(text="editor"), resume=self.edited)

    @event
    def edit_blind(self) -> Effect:
        return call_in_slot("main", Note(text="blind editor"))

    def edited(self, value: Any) -> None:
        self.saved = [*self.saved, value]

    def on_error_edited(self, error: BaseException) -> None:
        self.errors = [*self.errors, str(error)]


def test_call_in_slot_shows_the_child_in_place_of_the_slots_occupant() -> None:
    h = Harness(Board)
    step = h.dispatch(None, "edit")
    conv = step.conversation
    assert conv.stack == ("p1",)
    editor = conv.instances["p3"]
    assert conv.instances["p1"].children == {"main": "p3"}
    assert (editor.parent, editor.resume, editor.slot, editor.previous) == (
        "p1",
        "edited",
        "main",
        "p2",
    )
    assert "p2" in conv.instances  # parked, not stopped
    [frag] = elements(step)
    assert (frag.selector, frag.mode, frag.key) == ("#p2", "outer", None)
    assert frag.html.startswith('<div id="p3">')
    assert not conv.instances["p2"].rendered


def test_answer_from_a_slot_restores_the_occupant_and_resumes_the_parent() -> None:
    STOPPED.clear()
    h = Harness(Board)
    h.dispatch(None, "edit")
    step = h.dispatch("p3", "done", "draft")
    conv = step.conversation
    assert conv.instances["p1"].children == {"main": "p2"}
    assert "p3" not in conv.instances
    assert STOPPED == ["editor"]
    assert h.top == Board(saved=["draft"])
    [frag] = elements(step)
    assert frag.key == "p1"
    assert "original" in frag.html
    assert "saved [&#39;draft&#39;]" in frag.html


def test_answer_error_from_a_slot_goes_to_the_parents_error_method() -> None:
    h = Harness(Board)
    h.dispatch(None, "edit")
    h.dispatch("p3", "oops")
    assert h.top == Board(errors=["editor broke"])
    assert h.conversation.instances["p1"].children == {"main": "p2"}


def test_call_in_slot_without_resume_redraws_the_parent_on_answer() -> None:
    h = Harness(Board)
    h.dispatch(None, "edit_blind")
    step = h.dispatch("p3", "done", "x")
    assert h.top == Board()
    assert [f.key for f in elements(step)] == ["p1"]


def test_call_in_slot_into_an_empty_slot_redraws_the_parent_and_answering_empties_it() -> None:
    class Panel(Component):
        open: bool = False

        def render(self) -> Element:
            return div(self.root)[self.slot("side") if self.open else "closed"]

        @event
        def show(self) -> Effect:
            self.open = True
            return call_in_slot("side", Note(text="side"), resume=self.closed)

        def closed(self, value: Any) -> None:
            self.open = False

    h = Harness(Panel)
    step = h.dispatch(None, "show")
    [frag] = elements(step)
    assert frag.key == "p1"
    assert "side" in frag.html
    step = h.dispatch("p2", "done", None)
    assert h.conversation.instances["p1"].children == {}
    assert "p2" not in h.conversation.instances
    assert "closed" in elements(step)[0].html


def test_call_in_slot_resumes_only_a_method_of_the_slot_owner() -> None:
    class Thief(Component):
        def render(self) -> Element:
            return div(self.root)["thief"]

    class Owner(Component):
        def children(self) -> dict[str, Component]:
            return {"a": Note(), "b": Thief()}

        def render(self) -> Element:
            return div(self.root)[self.slot("a"), self.slot("b")]

        @event
        def steal(self) -> Effect:
            # A mounted method of another instance cannot be had from a handler; build it.
            from parlour.core.effects import CallInSlot, Target

            return CallInSlot("a", Note(), Target("p3", "render"))

    step = Harness(Owner).dispatch(None, "steal")
    [report] = step.errors
    assert isinstance(report.error, EffectError)
    assert "resumes the instance that owns the slot" in str(report.error)


def test_a_slot_child_answering_removes_the_occupants_parked_inside_it() -> None:
    class Editor(Note):
        def children(self) -> dict[str, Component]:
            return {"inner": Note(text="inner")}

        def render(self) -> Element:
            return div(self.root)[self.slot("inner")]

    class Host(Board):
        @event
        def edit(self) -> Effect:
            return call_in_slot("main", Editor(text="editor"), resume=self.edited)

    STOPPED.clear()
    h = Harness(Host)
    h.dispatch(None, "edit")  # p3 editor with its own child p4
    h.dispatch("p3", "edit_deeper")  # p5 in p3's slot, p4 parked behind it
    assert set(h.conversation.instances) == {"p1", "p2", "p3", "p4", "p5"}
    h.dispatch("p3", "done", "ok")
    assert set(h.conversation.instances) == {"p1", "p2"}
    assert sorted(STOPPED) == ["deeper", "editor", "inner"]


def test_replacing_a_frame_sweeps_its_parked_slot_occupants() -> None:
    class Page(Board):
        @event
        def leave(self) -> Effect:
            return replace(Note(text="elsewhere"))

    STOPPED.clear()
    h = Harness(Page)
    h.dispatch(None, "edit")
    h.dispatch(None, "edit")  # chained: p4 in the slot, p3 parked behind it, p2 behind p3
    assert h.conversation.instances["p4"].previous == "p3"
    step = h.dispatch(None, "leave")
    assert list(step.conversation.instances) == ["p5"]
    assert sorted(STOPPED) == ["editor", "editor", "original"]


def test_a_displaced_slot_child_cannot_answer() -> None:
    h = Harness(Board)
    h.dispatch(None, "edit")
    h.dispatch(None, "edit")  # p4 covers p3 in the slot
    step = h.deliver("p3", "done", "too late")
    assert step.conversation is h.steps[-2].conversation
    [report] = step.errors
    assert "another child covers it" in str(report.error)


def test_a_browser_event_for_a_parked_occupant_is_stale() -> None:
    h = Harness(Board)
    h.dispatch(None, "edit")
    parked = h.conversation
    step = h.dispatch("p2", "rename", "hidden")
    assert step.conversation is parked
    assert step.fragments == ()


def test_a_fixed_child_cannot_answer() -> None:
    h = Harness(Board)
    step = h.dispatch("p2", "done", "x")
    [report] = step.errors
    assert isinstance(report.error, EffectError)
    assert "nothing called it" in str(report.error)
    assert "dispatch_to" in str(report.error)
    assert step.conversation is h.steps[0].conversation
