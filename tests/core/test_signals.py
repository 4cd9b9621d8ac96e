"""Signals: the browser's values, lifted onto kept fields before a handler runs.

Datastar signals are page-global, so an instance binds its own copy, `NAME-IID`, and the
kebab-case modifier keeps the name the server reads. Signals whose names begin with `_`
stay in the browser (Datastar never sends them), so no kept field can come from one.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from htpy import Element, div, input

from parlour import Component, event
from parlour.core.component import Mount, kebab_case
from parlour.core.errors import ComponentDefinitionError, EffectError
from parlour.testing import Harness


class Editor(Component):
    draft_text: str = ""
    count: int = 0
    other: str = "untouched"
    seen: list[str] = []

    keep: ClassVar[tuple[str, ...]] = ("draft_text", "count")

    def render(self) -> Element:
        return div(self.root)[
            input(self.bind_local("draft_text"), value=self.draft_text),
            input(self.bind("count")),
        ]

    @event
    def save(self) -> None:
        self.seen = [*self.seen, f"{self.draft_text}/{self.count}"]


def test_a_kept_signal_is_on_the_field_when_the_handler_runs() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"draft_text": "hello", "count": 2})
    assert h.top.seen == ["hello/2"]


def test_kept_values_stay_in_the_state_after_the_event() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"draft_text": "hello"})
    h.dispatch(None, "save")
    assert h.top == Editor(draft_text="hello", seen=["hello/0", "hello/0"])
    assert 'value="hello"' in h.html


def test_the_instance_local_signal_wins_over_the_global_one() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"draft-text": "global", "draft-text-p-1": "mine"})
    assert h.top.draft_text == "mine"


def test_another_instances_local_signal_is_not_mine() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"draft-text-p-9": "theirs", "draft_text-p9": "theirs"})
    assert h.top.draft_text == ""


def test_kebab_case_names_are_read_for_snake_case_fields() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"draft-text": "kebab"})
    assert h.top.draft_text == "kebab"
    h.dispatch(None, "save", signals={"draft_text": "global", "draft_text-p1": "local raw"})
    assert h.top.draft_text == "local raw"  # the unconverted spelling is read too


def test_signals_not_kept_are_ignored() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"other": "changed", "seen": ["forged"]})
    assert h.top.other == "untouched"
    assert h.top.seen == ["/0"]


def test_underscore_signals_never_reach_a_kept_field() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"_draft_text": "client only", "_count": 5})
    assert h.top == Editor(seen=["/0"])


def test_a_field_cannot_be_kept_from_an_underscore_signal() -> None:
    with pytest.raises(ComponentDefinitionError, match="keep names '_secret'"):

        class Sneaky(Component):
            _secret: str = ""
            keep: ClassVar[tuple[str, ...]] = ("_secret",)


def test_signal_values_are_converted_to_the_fields_type() -> None:
    h = Harness(Editor)
    h.dispatch(None, "save", signals={"count": "7"})
    assert h.top.count == 7


def test_a_signal_that_does_not_fit_its_field_is_an_error_naming_both() -> None:
    h = Harness(Editor)
    step = h.dispatch(None, "save", signals={"count": "seven"})
    assert step.conversation is h.steps[0].conversation
    [report] = step.errors
    assert isinstance(report.error, EffectError)
    assert str(report.error).startswith("signal 'count' = 'seven' does not fit Editor.count")


def test_signals_are_not_lifted_for_internal_events() -> None:
    h = Harness(Editor)
    h.deliver("p1", "save")
    assert h.top.seen == ["/0"]


def mounted(comp: Component, iid: str = "p7") -> Component:
    comp._parlour = Mount(iid, "c1", "/_parlour")  # pyright: ignore[reportPrivateUsage]
    return comp


def test_bind_keeps_the_kebab_case_name_on_the_wire() -> None:
    assert mounted(Editor()).bind("draft_text") == {"data-bind:draft_text__case.kebab": True}


def test_local_names_the_instances_own_copy_as_the_browser_spells_it() -> None:
    editor = mounted(Editor(), "p7")
    assert editor.local("draft") == "draft-p-7"
    assert editor.local("draft_text") == "draft-text-p-7"
    assert editor.bind_local("draft") == {"data-bind:draft-p-7__case.kebab": True}


def test_kebab_case_spells_names_like_datastars_case_modifier() -> None:
    # Outputs of the kebab function in Datastar 1.0's bundle for the same inputs.
    cases = {
        "q": "q",
        "draft_text": "draft-text",
        "value-p1": "value-p-1",
        "draft_text-p12": "draft-text-p-12",
        "draftText": "draft-text",
        "item2x": "item-2-x",
        "HTMLParser": "html-parser",
    }
    assert {name: kebab_case(name) for name in cases} == cases
    assert all(kebab_case(v) == v for v in cases.values())  # the wire name is stable


def test_a_bound_input_round_trips_through_the_browser() -> None:
    h = Harness(Editor)
    html = h.html
    assert 'data-bind:draft-text-p-1__case.kebab value=""' in html
    assert "data-bind:count__case.kebab" in html
    # Datastar sends the signal under kebab_case(bound name); the kernel lifts it back.
    h.dispatch(None, "save", signals={kebab_case("draft-text-p-1"): "typed"})
    assert h.top.draft_text == "typed"


def test_a_local_signal_can_be_reset_by_its_local_name() -> None:
    from parlour import patch_signals

    h = Harness(Editor)
    assert patch_signals({h.top.local("draft_text"): ""}).signals == {"draft-text-p-1": ""}
