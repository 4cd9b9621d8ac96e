"""Failures are answers: an error block in place of the instance, the conversation unchanged.

Whatever goes wrong inside a handler, a resume method, a hook or a render, `dispatch`
returns the conversation it was given (the same object), one `Elements(error=True)` with
`role="alert"` where the instance is (or in `#root` if it is not on the page yet), and an
`ErrorReport` for the runtime to log. Messages say what was expected, what came, and how
to fix it.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from htpy import Element, div, p, span
from markupsafe import Markup

from parlour import Component, answer, call, event, io
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.effects import Effect
from parlour.core.errors import (
    ComponentDefinitionError,
    EffectError,
    HandlerReturnError,
    RenderError,
    StateError,
)
from parlour.core.state import encode_state
from parlour.testing import Harness


def elements(step: kernel.Step) -> list[fr.Elements]:
    return [f for f in step.fragments if isinstance(f, fr.Elements)]


def only_error_block(step: kernel.Step) -> fr.Elements:
    [frag] = step.fragments
    assert isinstance(frag, fr.Elements)
    assert frag.error
    assert 'role="alert"' in frag.html
    assert 'class="parlour-error"' in frag.html
    return frag


def blocked(h: Harness, target: str | None, name: str, payload: Any = None) -> kernel.Step:
    """Dispatch an event that must fail; check the conversation did not change."""
    before = h.conversation
    step = h.dispatch(target, name, payload)
    assert step.conversation is before
    assert step.commands == ()
    return step


class Answerer(Component):
    def render(self) -> Element:
        return div(self.root)["answerer"]

    @event
    def done(self) -> Effect:
        return answer(1)


class Fragile(Component):
    n: int = 0
    broken: bool = False
    thing: Any = None

    def render(self) -> Element:
        if self.broken:
            raise RuntimeError("render exploded")
        return div(self.root)[p[f"n={self.n}"]]

    @event
    def explode(self) -> None:
        self.n += 1
        raise ValueError("handler exploded <b>loudly</b>")

    @event
    def break_render(self) -> None:
        self.n += 1
        self.broken = True

    @event
    def return_number(self) -> Any:
        return 3

    @event
    def return_dict(self) -> Any:
        self.n = 5
        return {"n": 5}

    @event
    def return_mixed_list(self) -> Any:
        return [io(lambda: 1, resume=self.got), "not an effect"]

    @event
    def keep_a_function(self) -> None:
        self.thing = lambda: 1

    @event
    def keep_a_socket(self, sock: Any) -> None:
        self.thing = sock

    @event
    def open_broken(self) -> Effect:
        return call(Fragile(broken=True))

    @event
    def resume_missing(self) -> Effect:
        return call(Answerer(), resume="nowhere")  # a name: "this method of the emitter"

    def got(self, value: Any) -> None:
        self.n = value


def test_a_raising_handler_gives_one_error_block_and_keeps_the_conversation() -> None:
    h = Harness(Fragile, cid="c7")
    step = blocked(h, None, "explode")
    frag = only_error_block(step)
    assert (frag.selector, frag.mode, frag.key) == ("#p1", "outer", "p1")
    assert frag.html.startswith('<div id="p1" class="parlour-error" role="alert">')
    assert "<!-- parlour error: cid=c7 iid=p1 phase=handle -->" in frag.html
    [report] = step.errors
    assert (report.cid, report.iid, report.phase) == ("c7", "p1", "handle")
    assert isinstance(report.error, ValueError)


def test_the_error_block_escapes_the_message() -> None:
    frag = only_error_block(Harness(Fragile).dispatch(None, "explode"))
    assert "handler exploded &lt;b&gt;loudly&lt;/b&gt;" in frag.html
    assert "<b>" not in frag.html


def test_a_failed_event_is_not_recorded_in_history() -> None:
    h = Harness(Fragile)
    h.dispatch(None, "explode")
    assert h.conversation.history == ()


def test_a_render_that_raises_after_a_handler_keeps_the_conversation_as_it_was() -> None:
    h = Harness(Fragile)
    step = blocked(h, None, "break_render")
    frag = only_error_block(step)
    assert (frag.selector, frag.mode) == ("#p1", "outer")
    assert "RuntimeError: render exploded" in frag.html
    [report] = step.errors
    assert (report.iid, report.phase) == ("p1", "render")
    assert h.top == Fragile(n=0)


def test_a_called_frame_that_cannot_render_leaves_the_caller_in_place() -> None:
    h = Harness(Fragile)
    step = blocked(h, None, "open_broken")
    frag = only_error_block(step)
    assert frag.selector == "#p1"
    assert step.conversation.stack == ("p1",)
    assert step.errors[0].iid == "p2"  # the report names the instance that failed to render


def test_a_root_that_cannot_render_at_boot_shows_its_error_in_root() -> None:
    step = kernel.boot(Fragile(broken=True), cid="c")
    frag = only_error_block(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert 'id="p1"' in frag.html


def test_a_start_hook_that_raises_at_boot_shows_an_error_in_root() -> None:
    class Doomed(Component):
        def start(self) -> None:
            raise RuntimeError("cannot start")

    step = kernel.boot(Doomed(), cid="c")
    frag = only_error_block(step)
    assert (frag.selector, frag.mode) == ("#root", "inner")
    assert step.conversation.stack == ()
    assert step.errors[0].phase == "start"


def test_stale_events_for_unknown_instances_change_nothing() -> None:
    h = Harness(Fragile)
    step = h.dispatch("p99", "explode")
    assert step.conversation is h.steps[0].conversation
    assert step.fragments == ()
    assert step.errors == ()


def test_returning_a_number_names_the_component_the_handler_and_the_value() -> None:
    step = blocked(Harness(Fragile), None, "return_number")
    [report] = step.errors
    assert isinstance(report.error, HandlerReturnError)
    message = str(report.error)
    assert message.startswith("Fragile.return_number() returned 3. Expected None, an effect")
    assert "assign to self.<field>" in message
    assert "Fragile.return_number() returned 3." in only_error_block(step).html


def test_returning_a_dict_is_an_error_not_a_state_update() -> None:
    h = Harness(Fragile)
    step = blocked(h, None, "return_dict")
    assert "Fragile.return_dict() returned {'n': 5}." in str(step.errors[0].error)
    assert h.top.n == 0


def test_returning_a_list_with_a_non_effect_names_the_culprit() -> None:
    step = blocked(Harness(Fragile), None, "return_mixed_list")
    message = str(step.errors[0].error)
    assert message.startswith(
        "Fragile.return_mixed_list() returned a list containing 'not an effect', which is not "
        "an effect."
    )


def test_a_render_without_self_root_explains_the_fix() -> None:
    class Rootless(Component):
        def render(self) -> Element:
            return div(".card")[span["hello"]]

    step = kernel.boot(Rootless(), cid="c")
    only_error_block(step)
    [report] = step.errors
    assert isinstance(report.error, RenderError)
    message = str(report.error)
    assert "Rootless.render() must put self.root on its outermost element" in message
    assert "`return div(self.root)[...]`" in message
    assert "The outermost element had id=None; expected 'p1'." in message


def test_a_render_with_someone_elses_id_is_refused() -> None:
    class Impostor(Component):
        def render(self) -> Markup:
            return Markup('<div id="root">x</div>')

    step = kernel.boot(Impostor(), cid="c")
    assert "had id='root'; expected 'p1'" in str(step.errors[0].error)


def test_state_holding_a_function_is_refused_naming_component_field_and_type() -> None:
    h = Harness(Fragile)
    step = blocked(h, None, "keep_a_function")
    [report] = step.errors
    assert isinstance(report.error, StateError)
    assert str(report.error).startswith("Fragile.thing holds a function (<function ")
    assert "keep live objects such as connections or functions out of it" in str(report.error)


def test_state_holding_a_socket_is_refused_naming_component_field_and_type() -> None:
    with socket.socket() as sock:
        step = blocked(Harness(Fragile), None, "keep_a_socket", sock)
        assert str(step.errors[0].error).startswith("Fragile.thing holds a socket (")


def test_encode_state_names_the_field_that_cannot_be_stored() -> None:
    with pytest.raises(StateError, match=r"^Fragile\.thing holds a set "):
        encode_state(Fragile(thing={object()}))


def test_a_browser_event_that_names_no_event_method_lists_the_events() -> None:
    step = blocked(Harness(Fragile), None, "got")
    message = str(step.errors[0].error)
    assert message.startswith("Fragile has no @event method 'got'; the browser may only call")
    assert "break_render, explode," in message


def test_an_internal_event_for_a_missing_method_is_an_error() -> None:
    h = Harness(Fragile)
    step = h.deliver("p1", "nowhere")
    assert isinstance(step.errors[0].error, EffectError)
    assert "Fragile has no method 'nowhere' to call back" in str(step.errors[0].error)
    assert h.deliver("p1", "_private").errors[0].error.__class__ is EffectError


def test_a_resume_method_that_does_not_exist_fails_when_the_answer_arrives() -> None:
    h = Harness(Fragile)
    h.dispatch(None, "resume_missing")
    step = blocked(h, Answerer, "done")
    assert step.conversation.stack == ("p1", "p2")
    assert "Fragile has no method 'nowhere' to call back" in str(step.errors[0].error)


def test_component_classes_are_checked_when_they_are_defined() -> None:
    with pytest.raises(ComponentDefinitionError, match="`iid` is part of the Component API"):

        class Clash(Component):
            iid: str = ""

    with pytest.raises(ComponentDefinitionError, match="keep names 'draft'"):

        class Forgetful(Component):
            keep = ("draft",)


class Loader(Component):
    data: Any = None
    problem: str = ""

    def render(self) -> Element:
        return div(self.root)[p[f"data={self.data} problem={self.problem}"]]

    @event
    def load(self) -> Effect:
        return io(lambda: "payload", resume=self.loaded)

    @event
    def load_plain(self) -> Effect:
        return io(lambda: "payload", resume=self.got_plain)

    def loaded(self, data: Any) -> None:
        self.data = data

    def on_error_loaded(self, error: BaseException) -> None:
        self.problem = str(error)

    def got_plain(self, data: Any) -> None:
        self.data = data


def test_failed_io_work_goes_to_on_error_of_its_resume_method() -> None:
    h = Harness(Loader)
    h.dispatch(None, "load")
    step = kernel.fail(h.conversation, "p1", "loaded", OSError("disk gone"), now=1.0)
    assert step.conversation.instances["p1"].component == Loader(problem="disk gone")
    assert step.errors == ()


def test_failed_io_work_without_an_error_method_shows_an_error_block() -> None:
    h = Harness(Loader)
    step = kernel.fail(h.conversation, "p1", "got_plain", OSError("disk gone"), now=1.0)
    assert step.conversation is h.conversation
    frag = only_error_block(step)
    assert "OSError: disk gone" in frag.html
    assert step.errors[0].phase == "io"


def test_failed_io_work_for_a_removed_instance_changes_nothing() -> None:
    h = Harness(Loader)
    step = kernel.fail(h.conversation, "p9", "loaded", OSError("late"), now=1.0)
    assert step.conversation is h.conversation
    assert step.fragments == ()
