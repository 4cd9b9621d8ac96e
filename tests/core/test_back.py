"""Back: restoring the conversation as it was before an event, from bounded history."""

from __future__ import annotations

from typing import Any, ClassVar

from htpy import Element, div, input, p

from parlour import Component, after, answer, back, call, event, subscribe
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.effects import Effect
from parlour.testing import Harness


def elements(step: kernel.Step) -> list[fr.Elements]:
    return [f for f in step.fragments if isinstance(f, fr.Elements)]


class Counter(Component):
    n: int = 0

    def render(self) -> Element:
        return div(self.root)[p[f"n={self.n}"]]

    @event
    def inc(self) -> None:
        self.n += 1

    @event
    def undo(self) -> Effect:
        return back()


class Question(Component):
    label: str = ""

    def render(self) -> Element:
        return div(self.root)[p[self.label]]

    @event
    def reply(self, value: Any) -> Effect:
        return answer(value)


class Form(Component):
    got: list[Any] = []

    def children(self) -> dict[str, Component]:
        return {"counter": Counter()}

    def render(self) -> Element:
        return div(self.root)[p[f"got={self.got}"], self.slot("counter")]

    @event
    def ask(self) -> Effect:
        return call(Question(label="name?"), resume=self.answered)

    def answered(self, value: Any) -> None:
        self.got = [*self.got, value]


def test_back_restores_the_previous_state_and_draws_it_into_root() -> None:
    h = Harness(Counter)
    for _ in range(3):
        h.dispatch(None, "inc")
    step = h.back()
    assert h.top.n == 2
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "n=2" in frag.html
    h.back()
    assert h.top.n == 1


def test_back_with_no_history_is_a_no_op() -> None:
    h = Harness(Counter)
    step = h.back()
    assert step.conversation is h.steps[0].conversation
    assert step.fragments == ()


def test_back_itself_is_not_recorded() -> None:
    h = Harness(Counter)
    h.dispatch(None, "inc")
    h.dispatch(None, "inc")
    h.back()
    assert len(h.conversation.history) == 1
    h.back()
    assert h.conversation.history == ()
    assert h.top.n == 0


def test_a_handler_returning_back_walks_history_without_snapshotting_first() -> None:
    h = Harness(Counter)
    h.dispatch(None, "inc")
    h.dispatch(None, "inc")
    step = h.dispatch(None, "undo")
    assert h.top.n == 1
    assert len(step.conversation.history) == 1
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")


def test_back_across_call_and_answer_restores_the_dialog() -> None:
    h = Harness(Form)
    h.dispatch(None, "ask")
    h.dispatch(Question, "reply", "Ada")
    assert h.conversation.stack == ("p1",)
    step = h.back()
    assert step.conversation.stack == ("p1", "p3")
    [frag] = elements(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert "name?" in frag.html
    h.back()
    assert h.conversation.stack == ("p1",)
    assert h.top == Form(got=[])


def test_back_redraws_the_restored_frame_with_its_children() -> None:
    h = Harness(Form)
    h.dispatch("p2", "inc")
    h.dispatch("p2", "inc")
    step = h.back()
    [frag] = elements(step)
    assert 'id="p2"' in frag.html
    assert "n=1" in frag.html


def test_ids_are_never_reused_after_back() -> None:
    h = Harness(Form)
    h.dispatch(None, "ask")  # p3
    h.back()
    h.dispatch(None, "ask")
    assert h.conversation.stack == ("p1", "p4")


def test_back_restores_timers_and_subscriptions_with_their_instances() -> None:
    class Poller(Component):
        def render(self) -> Element:
            return div(self.root)["polling"]

        @event
        def poll(self) -> list[Effect]:
            return [after(5, self.tick), subscribe("jobs.*", self.heard)]

        def tick(self) -> None:
            pass

        def heard(self, payload: Any) -> None:
            pass

    class Host(Component):
        def render(self) -> Element:
            return div(self.root)["host"]

        @event
        def open(self) -> Effect:
            return call(Poller())

    h = Harness(Host)
    h.dispatch(None, "open")
    h.dispatch(Poller, "poll")
    [timer], [sub] = h.conversation.timers, h.conversation.subscriptions
    step = h.back()  # before the poll: no timer, no subscription
    assert step.conversation.timers == ()
    assert step.conversation.subscriptions == ()
    assert set(step.commands) == {cmd.CancelTimer("test", timer), cmd.Unsubscribe("test", sub)}


def test_history_is_bounded_by_history_limit() -> None:
    h = Harness(Counter, history_limit=3)
    for _ in range(5):
        h.dispatch(None, "inc")
    conv = h.conversation
    assert len(conv.history) == 3
    assert conv.history_base == 2
    assert conv.depth == 5
    assert [s.conversation().instances["p1"].component.n for s in conv.history] == [2, 3, 4]
    for _ in range(5):
        h.back()
    assert h.top.n == 2  # the oldest kept snapshot; older ones are gone


def test_history_limit_defaults_to_fifty() -> None:
    h = Harness(Counter)
    for _ in range(60):
        h.dispatch(None, "inc")
    assert h.conversation.history_limit == 50
    assert len(h.conversation.history) == 50
    assert h.conversation.depth == 60


def test_back_to_a_depth_restores_the_state_at_that_depth() -> None:
    h = Harness(Counter)
    for _ in range(4):
        h.dispatch(None, "inc")
    step = h.back(to=1)
    assert h.top.n == 1
    assert step.conversation.depth == 1


def test_back_to_a_depth_not_reached_yet_changes_nothing() -> None:
    h = Harness(Counter)
    h.dispatch(None, "inc")
    step = h.back(to=5)  # the browser went forward past what the server has
    assert step.conversation is h.steps[-2].conversation
    assert step.fragments == ()
    assert h.back(to=1).conversation is step.conversation  # depth 1 is where it already is


def test_back_to_a_depth_below_the_kept_history_restores_the_oldest_snapshot() -> None:
    h = Harness(Counter, history_limit=2)
    for _ in range(5):
        h.dispatch(None, "inc")
    h.back(to=0)
    assert h.top.n == 3
    assert h.conversation.depth == 3


def test_back_of_an_ended_conversation_changes_nothing() -> None:
    h = Harness(Question)
    h.dispatch(None, "reply", 1)
    step = h.back()
    assert step.conversation is h.steps[-2].conversation
    assert step.fragments == ()


class Draft(Component):
    """A form with a kept text field and a next screen, like a wizard step."""

    text: str = ""
    keep: ClassVar[tuple[str, ...]] = ("text",)

    def render(self) -> Element:
        return div(self.root)[input(self.bind_local("text"), value=self.text)]

    @event
    def next(self) -> Effect:
        return call(Question(label=f"confirm {self.text}?"), resume=self.confirmed)

    def confirmed(self, value: Any) -> None:
        pass


def test_back_shows_the_value_the_user_had_typed() -> None:
    h = Harness(Draft)
    h.dispatch(None, "next", signals={"text-p-1": "hello"})
    assert "confirm hello?" in h.html
    step = h.back()
    [frag] = elements(step)
    assert 'value="hello"' in frag.html
    assert h.top == Draft(text="hello")


def test_wizard_back_then_forward_keeps_every_answer() -> None:
    class Wizard(Component):
        name: str = ""
        colour: str = ""

        def render(self) -> Element:
            return div(self.root)[p[f"{self.name} likes {self.colour}"], self.back_button()]

        def start(self) -> Effect:
            return call(Question(label="name"), resume=self.named)

        def named(self, value: str) -> Effect:
            self.name = value
            return call(Question(label="colour"), resume=self.coloured)

        def coloured(self, value: str) -> None:
            self.colour = value

    h = Harness(Wizard)
    h.dispatch(Question, "reply", "Alice")
    h.dispatch(Question, "reply", "blue")
    assert "Alice likes blue" in h.html
    h.back()
    assert h.instance(h.conversation.stack[-1]) == Question(label="colour")
    h.back()
    assert h.instance(h.conversation.stack[-1]) == Question(label="name")
    h.dispatch(Question, "reply", "Bob")
    h.dispatch(Question, "reply", "red")
    assert h.top == Wizard(name="Bob", colour="red")
    assert h.conversation.stack == ("p1",)


class _Step(Component):
    def render(self) -> Element:
        return div(self.root)[p["a dialog"]]

    @event
    def undo(self) -> Any:
        return back()


class _Home(Component):
    def render(self) -> Element:
        return div(self.root)[p["home"]]

    @event
    def open(self) -> Any:
        return call(_Step())


def test_a_handler_going_back_pushes_no_browser_history_entry() -> None:
    h = Harness(_Home)
    h.dispatch(_Home, "open")
    step = h.dispatch(_Step, "undo")
    assert isinstance(h.top, _Home)  # the frame changed, by going back...
    scripts = [f.js for f in step.fragments if isinstance(f, fr.Script)]
    assert not any("pushState" in js for js in scripts)  # ...so no new browser entry
