"""Components: typed state fields, the registry, and the helpers a render uses."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar
from urllib.parse import quote, unquote

import msgspec
import pytest
from htpy import Element, Node, button, div
from markupsafe import Markup

from parlour import Component, event, set_keyed_children
from parlour.core.component import Mount, lookup, registered
from parlour.core.errors import ComponentDefinitionError, UnknownComponentError
from parlour.core.render import root_id
from parlour.core.state import clone, decode_state, encode_state, state_of
from parlour.testing import Harness


class Todo(Component):
    title: str = "untitled"
    tags: list[str] = []
    due: dt.date | None = None
    done: bool = False

    def render(self) -> Element:
        return div(self.root)[self.title]

    @event
    def toggle(self) -> None:
        self.done = not self.done

    @event
    def rename(self, title: str) -> None:
        self.title = title

    def not_an_event(self) -> None:
        pass


class Urgent(Todo, name="tests.Urgent"):
    level: int = 1

    @event
    def escalate(self) -> None:
        self.level += 1


def mounted[C: Component](comp: C, iid: str = "p3", cid: str = "c1", base: str = "/_p") -> C:
    comp._parlour = Mount(iid, cid, base)  # pyright: ignore[reportPrivateUsage]
    return comp


# -- state fields -----------------------------------------------------------------------------


def test_fields_take_their_defaults_and_constructor_values() -> None:
    todo = Todo(title="write tests")
    assert state_of(todo) == {"title": "write tests", "tags": [], "due": None, "done": False}


def test_mutable_defaults_are_not_shared_between_instances() -> None:
    a, b = Todo(), Todo()
    a.tags.append("x")
    assert b.tags == []
    assert Todo.__parlour_fields__["tags"].default == []


def test_subclasses_inherit_fields_and_events() -> None:
    assert list(Urgent.__parlour_fields__) == ["title", "tags", "due", "done", "level"]
    assert Urgent.__parlour_events__ == {"toggle", "rename", "escalate"}
    assert Todo.__parlour_events__ == {"toggle", "rename"}


def test_unknown_or_missing_fields_are_refused_naming_the_fields() -> None:
    with pytest.raises(TypeError, match=r"unexpected field\(s\) colour; its fields are: title"):
        Todo(colour="red")

    class Needy(Component):
        name: str

    with pytest.raises(TypeError, match="missing the field 'name'"):
        Needy()


def test_a_field_may_not_shadow_the_component_api() -> None:
    with pytest.raises(ComponentDefinitionError, match=r"Clash\.render is a state field"):

        class Clash(Component):
            render: str = ""  # type: ignore[assignment]


def test_a_field_default_may_not_be_a_function() -> None:
    with pytest.raises(ComponentDefinitionError, match="its default is a function"):

        class Confused(Component):
            callback: Any = print


def test_a_field_type_that_cannot_be_stored_is_refused_at_class_creation() -> None:
    with pytest.raises(ComponentDefinitionError, match="whose type parlour cannot serialise"):

        class Ambiguous(Component):
            when: str | dt.date = ""  # both travel as strings: a decoder cannot tell them apart


def test_keep_must_name_state_fields() -> None:
    with pytest.raises(ComponentDefinitionError, match=r"keep names 'q', which is not a state"):

        class Search(Component):
            query: str = ""
            keep: ClassVar[tuple[str, ...]] = ("q",)


def test_underscore_and_classvar_attributes_are_not_state() -> None:
    class Quiet(Component):
        _cache: dict[str, int] = {}
        limit: ClassVar[int] = 3
        shown: int = 0

    assert list(Quiet.__parlour_fields__) == ["shown"]


def test_components_compare_by_state_and_are_not_hashable() -> None:
    assert Todo(title="a") == Todo(title="a")
    assert Todo(title="a") != Todo(title="b")
    assert Todo() != Urgent()
    with pytest.raises(TypeError):
        hash(Todo())


def test_repr_shows_the_state() -> None:
    assert repr(Todo(title="x")) == "Todo(title='x', tags=[], due=None, done=False)"


def test_state_round_trips_through_its_encoding_with_types() -> None:
    todo = Todo(title="t", tags=["a"], due=dt.date(2025, 1, 2), done=True)
    again = decode_state(Todo, encode_state(todo))
    assert again == todo
    assert isinstance(again.due, dt.date)


def test_fields_added_since_the_state_was_stored_get_their_defaults() -> None:
    old = msgspec.msgpack.encode({"title": "stored before level existed"})
    urgent = decode_state(Urgent, old)
    assert urgent == Urgent(title="stored before level existed", level=1)


def test_clone_copies_mutable_state_and_keeps_the_mount() -> None:
    todo = mounted(Todo(tags=["a"]))
    copy = clone(todo)
    copy.tags.append("b")
    assert todo.tags == ["a"]
    assert copy.iid == "p3"


# -- the registry -------------------------------------------------------------------------------


def test_components_register_under_module_and_qualname_or_their_given_name() -> None:
    assert Todo.__parlour_name__ == f"{__name__}.Todo"
    assert lookup(f"{__name__}.Todo") is Todo
    assert lookup("tests.Urgent") is Urgent


def test_an_unknown_name_fails_with_advice() -> None:
    with pytest.raises(UnknownComponentError, match=r"no component is registered under 'x\.Y'"):
        lookup("x.Y")


def test_registered_is_a_copy() -> None:
    view = dict(registered())
    assert view["tests.Urgent"] is Urgent
    view["tests.Urgent"] = Todo
    assert lookup("tests.Urgent") is Urgent


# -- mounting and the render helpers -------------------------------------------------------------


def test_an_unmounted_component_explains_how_to_render_it() -> None:
    with pytest.raises(RuntimeError, match="not mounted in a conversation"):
        _ = Todo().iid


def test_the_default_render_is_a_hidden_placeholder_with_the_id() -> None:
    class Invisible(Component):
        pass

    assert str(mounted(Invisible()).render()) == '<div id="p3" hidden></div>'


def test_root_carries_the_id() -> None:
    assert mounted(Todo()).root == {"id": "p3"}


def test_on_posts_the_event_to_this_instance() -> None:
    attrs = mounted(Todo()).on("click", "toggle")
    assert attrs == {
        "data-on:click": "@post('/_p/event/c1/p3/toggle', {requestCancellation: 'disabled'})"
    }


def test_on_follows_the_instance_wherever_it_is_mounted() -> None:
    # The same attribute is remembered between renders: a conversation restored under a new
    # id or base, or another instance, must still get its own URL.
    todo = Todo()
    for iid, cid, base in [
        ("p3", "c1", "/_p"),
        ("p3", "c2", "/_p"),
        ("p3", "c1", "/b"),
        ("p4", "c1", "/_p"),
    ]:
        [value] = mounted(todo, iid, cid, base).on("click", "toggle").values()
        assert (
            value
            == f"@post('{base}/event/{cid}/{iid}/toggle', {{requestCancellation: 'disabled'}})"
        )


def test_on_gives_a_new_dict_each_time() -> None:
    todo = mounted(Todo())
    first = todo.on("click", "toggle")
    first["data-on:click"] = "changed"
    first["title"] = "x"
    assert todo.on("click", "toggle") == {
        "data-on:click": "@post('/_p/event/c1/p3/toggle', {requestCancellation: 'disabled'})"
    }


@pytest.mark.parametrize(
    "payload",
    [None, 0, 1.5, True, "a b&c", "é ☃ '\"", [1, [2]], {"t": "x", "n": None}, "x" * 300],
)
@pytest.mark.parametrize("modifiers", [(), "", "prevent", ["debounce.300ms", "", "stop"]])
def test_on_gives_what_its_parts_say_every_time(payload: Any, modifiers: Any) -> None:
    todo, parent = mounted(Todo()), mounted(Urgent(), iid="p1")
    for handler, iid in [("rename", "p3"), (parent.escalate, "p1")]:
        name = handler if isinstance(handler, str) else handler.__name__
        url = f"/_p/event/c1/{iid}/{name}"
        if payload is not None:
            url += "?p=" + quote(json.dumps(payload, separators=(",", ":")), safe="")
        mods = [modifiers] if isinstance(modifiers, str) else list(modifiers)
        attribute = "data-on:input" + "".join(f"__{m}" for m in mods if m)
        expected = {attribute: f"@post('{url}', {{requestCancellation: 'disabled'}})"}
        for _ in range(2):  # built, then remembered
            assert todo.on("input", handler, payload=payload, modifiers=modifiers) == expected


def test_on_accepts_a_bound_method_and_routes_to_its_instance() -> None:
    parent = mounted(Urgent(), iid="p1")
    attrs = mounted(Todo()).on("click", parent.escalate)
    assert "/_p/event/c1/p1/escalate" in attrs["data-on:click"]


def test_on_carries_a_json_payload_in_the_query() -> None:
    [value] = mounted(Todo()).on("click", "rename", payload={"t": "a b&c"}).values()
    query = value.split("?p=", 1)[1].split("'", 1)[0]
    assert json.loads(unquote(query)) == {"t": "a b&c"}
    assert " " not in query
    assert "&" not in query


def test_on_puts_modifiers_in_the_attribute_name() -> None:
    todo = mounted(Todo())
    assert list(todo.on("input", "rename", modifiers="debounce.300ms")) == [
        "data-on:input__debounce.300ms"
    ]
    assert list(todo.on("click", "toggle", modifiers=["prevent", "", "stop"])) == [
        "data-on:click__prevent__stop"
    ]


def test_on_refuses_a_method_that_is_not_an_event() -> None:
    for _ in range(2):  # a refusal is not remembered as an attribute
        with pytest.raises(ComponentDefinitionError, match="no @event method named 'not_an_event'"):
            mounted(Todo()).on("click", "not_an_event")
    with pytest.raises(TypeError, match="needs an @event method name or a bound method"):
        mounted(Todo()).on("click", lambda: None)


def test_back_action_goes_through_the_browser_history_when_it_can() -> None:
    action = mounted(Todo()).back_action()
    assert action == (
        "history.state && history.state.parlour ? history.back() : @post('/_p/back/c1')"
    )


def test_the_back_button_appears_only_with_history() -> None:
    class Page(Component):
        n: int = 0

        def render(self) -> Element:
            return div(self.root)[self.back_button("Go back")]

        @event
        def inc(self) -> None:
            self.n += 1

    h = Harness(Page)
    assert "Go back" not in h.html
    h.dispatch(None, "inc")
    assert 'class="parlour-button"' in h.html
    assert ">Go back</button>" in h.html
    assert "history.back()" in h.html


def test_root_id_reads_the_outermost_elements_id() -> None:
    assert root_id('  <section class="x" id="p9"><div id="p10"></div></section>') == "p9"
    assert root_id("<div><span id='x'></span></div>") is None
    assert root_id("text first <div id='p1'>") is None
    assert root_id(str(Markup('<input data-id="no" id="yes">'))) == "yes"


def test_a_lifecycle_hook_cannot_be_an_event() -> None:
    with pytest.raises(ComponentDefinitionError, match=r"Eager\.start is marked @event"):

        class Eager(Component):
            @event
            def start(self) -> None:
                pass


class _Row(Component):
    key: str = ""

    def render(self) -> Node:
        remove = self.on("click", self.parent.remove_row, payload=self.key)
        return div(self.root)[button(remove)["x"]]


class _Rows(Component):
    removed: list[str] = []

    def start(self) -> Any:
        return set_keyed_children("rows", [("a", _Row(key="a"))])

    def render(self) -> Node:
        return div(self.root)[self.keyed("rows")]

    @event
    def remove_row(self, key: str) -> None:
        self.removed.append(key)


def test_a_child_routes_browser_events_to_its_parent() -> None:
    h = Harness(_Rows)
    row = h.find(_Row)
    parent = h.find(_Rows)
    assert f"/event/test/{parent}/remove_row?p=%22a%22" in h.html
    h.dispatch(parent, "remove_row", "a")
    assert h.instance(parent).removed == ["a"]  # type: ignore[attr-defined]
    assert row in h.conversation.instances


def test_the_root_frame_has_no_parent() -> None:
    h = Harness(_Rows)
    root = h.top
    with pytest.raises(RuntimeError, match="no parent"):
        _ = root.parent
