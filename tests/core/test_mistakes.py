"""Mistakes are caught where they are made, and the message shows the fix.

A component class is checked when it is defined; what a render returns is checked when it
renders; what a handler assigns is checked when the handler returns, before the state is
kept. The result of a conversation (its root frame's answer) reaches the app.
"""

from __future__ import annotations

import ast
import functools
from typing import Any, ClassVar

import pytest
from htpy import Element, div
from markupsafe import Markup

from parlour import Component, answer, end, event, flow
from parlour.core import commands as cmd
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.codec import decode, encode
from parlour.core.effects import Effect
from parlour.core.errors import ComponentDefinitionError, RenderError, StateError
from parlour.testing import Harness

# -- a class attribute without an annotation ----------------------------------------------------


def test_an_unannotated_attribute_is_refused_when_the_class_is_defined() -> None:
    with pytest.raises(ComponentDefinitionError) as caught:

        class Counter(Component):
            count = 0

    message = str(caught.value)
    assert "Counter.count = 0 has no type annotation" in message
    assert "shared by every instance and never stored" in message
    assert "`count: int = 0`" in message
    assert "`count: ClassVar[int] = 0`" in message


@pytest.mark.parametrize(
    ("value", "example"),
    [
        ("''", "`title: str = ''`"),
        ("[]", "`title: list[str] = []`"),
        ("['a', 'b']", "`title: list[str] = ['a', 'b']`"),
        ("{'a': 1}", "`title: dict[str, int] = {'a': 1}`"),
        ("None", "`title: str | None = None`"),
        ("1.5", "`title: float = 1.5`"),
    ],
)
def test_the_message_shows_an_annotation_for_the_value(value: str, example: str) -> None:
    namespace: dict[str, Any] = {"title": ast.literal_eval(value)}
    with pytest.raises(ComponentDefinitionError) as caught:
        type("Titled", (Component,), namespace)
    assert example in str(caught.value)


def test_behaviour_and_declared_constants_are_not_mistaken_for_state() -> None:
    class Fine(Component):
        keep = ("q",)  # Component.keep is a ClassVar: overriding it is fine
        LIMIT: ClassVar[int] = 10
        q: str = ""
        _cache = None

        class Nested:
            pass

        @property
        def doubled(self) -> str:
            return self.q * 2

        @functools.cached_property
        def cached(self) -> int:
            return 1

        @classmethod
        def make(cls) -> Fine:
            return cls()

        @staticmethod
        def helper() -> int:
            return 1

        def render(self) -> Element:
            return div(self.root)[self.q]

    assert list(Fine.__parlour_fields__) == ["q"]


def test_a_subclass_that_changes_a_fields_default_must_repeat_the_annotation() -> None:
    class Base(Component):
        count: int = 0

    with pytest.raises(ComponentDefinitionError) as caught:

        class Derived(Base):
            count = 5

    assert "re-assigns a state field" in str(caught.value)
    assert "`count: int = 5`" in str(caught.value)

    class Repeated(Base):
        count: int = 5

    assert Repeated().count == 5


# -- every name of the Component API is reserved ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("parent", "a property"),
        ("mounted", "a property"),
        ("on", "a method"),
        ("back_button", "a method"),
        ("keep", "a class attribute"),
    ],
)
def test_a_field_named_like_any_component_member_is_refused(name: str, kind: str) -> None:
    with pytest.raises(ComponentDefinitionError) as caught:
        type("Clashing", (Component,), {"__annotations__": {name: str}, name: ""})
    message = str(caught.value)
    assert f"Clashing.{name} is a state field, but `{name}` is part of the Component API" in message
    assert f"({kind} of Component, which the field would replace)" in message
    assert f"`{name}_`" in message


def test_the_reserved_names_are_read_from_the_class_not_a_list() -> None:
    public = {n for klass in Component.__mro__ for n in vars(klass) if not n.startswith("_")}
    for name in public:
        with pytest.raises(ComponentDefinitionError, match="part of the Component API"):
            type("Clashing", (Component,), {"__annotations__": {name: int}})


# -- a render that returns a str ----------------------------------------------------------------


class Stringly(Component):
    def render(self) -> Any:
        return f'<div id="{self.iid}">hello</div>'


def test_a_render_that_returns_a_str_says_to_return_elements_or_markup() -> None:
    step = Harness(Stringly).steps[0]
    [report] = step.errors
    assert isinstance(report.error, RenderError)
    message = str(report.error)
    assert "Stringly.render() returned a str" in message
    assert "it would be escaped, so its tags would show on the page as text" in message
    assert "Return htpy elements" in message
    assert "`Markup(...)`" in message


def test_markup_is_html_and_renders() -> None:
    class Marked(Component):
        def render(self) -> Any:
            return Markup(f'<div id="{self.iid}">hello</div>')

    assert Harness(Marked).html == '<div id="p1">hello</div>'


# -- a handler that assigns a value of the wrong type -------------------------------------------


class Typed(Component):
    count: int = 0

    def render(self) -> Element:
        return div(self.root)[self.count]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def garble(self) -> None:
        self.count = "x"  # type: ignore[assignment]  # the mistake under test


def test_a_wrong_typed_assignment_fails_at_dispatch_naming_field_type_and_value() -> None:
    h = Harness(Typed, cid="c1")
    h.dispatch(None, "inc")
    before = h.conversation
    step = h.dispatch(None, "garble")
    [report] = step.errors
    assert (report.iid, report.phase) == ("p1", "handle")
    assert isinstance(report.error, StateError)
    message = str(report.error)
    assert "Typed.count is declared `count: int`, but holds 'x' (a str)" in message
    assert "keeps its last good state" in message
    # Shown like any handler error, and the conversation is the one before the click.
    assert step.conversation is before
    [block] = step.fragments
    assert isinstance(block, fr.Elements)
    assert block.error
    assert "Typed.count is declared" in block.html


def test_after_a_wrong_typed_assignment_the_conversation_still_restores_and_continues() -> None:
    h = Harness(Typed)
    h.dispatch(None, "inc")
    h.dispatch(None, "garble")
    restored = decode(encode(h.conversation))
    step = kernel.dispatch(restored, kernel.Event("p1", "inc"))
    assert step.errors == ()
    assert step.conversation.instances["p1"].component.count == 2  # type: ignore[attr-defined]


# -- the result of a conversation reaches the app -----------------------------------------------


class Wizard(Component):
    def render(self) -> Element:
        return div(self.root)["wizard"]

    @event
    def done(self, value: Any) -> Effect:
        return answer(value)

    @event
    def quit(self) -> Effect:
        return end("quit")


def ended(step: kernel.Step) -> list[cmd.Ended]:
    return [c for c in step.commands if isinstance(c, cmd.Ended)]


def test_a_root_frames_answer_is_the_conversations_result() -> None:
    step = Harness(Wizard, cid="c9").dispatch(None, "done", {"plan": "pro"})
    assert step.conversation.ended
    assert ended(step) == [cmd.Ended("c9", {"plan": "pro"})]


def test_end_gives_its_value_as_the_result() -> None:
    step = Harness(Wizard, cid="c9").dispatch(None, "quit")
    assert ended(step) == [cmd.Ended("c9", "quit")]


def test_a_root_flows_return_value_is_the_conversations_result() -> None:
    @flow
    def signup() -> Any:
        name = yield Wizard()
        return {"name": name}

    h = Harness(signup, cid="c9")
    step = h.dispatch(Wizard, "done", "ada")
    assert ended(step) == [cmd.Ended("c9", {"name": "ada"})]


def test_finishing_from_outside_ends_with_no_value_and_only_once() -> None:
    h = Harness(Wizard, cid="c9")
    step = kernel.finish(h.conversation, now=1.0)
    assert ended(step) == [cmd.Ended("c9", None)]
    assert kernel.finish(step.conversation, now=2.0).commands == ()
