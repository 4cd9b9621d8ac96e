"""Core writes no JavaScript: the Datastar expressions a component's attributes carry come
from an `Actions` implementation plugged in from above (parlour.wire plugs Datastar's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from htpy import Element, button, div

from parlour import Component, event
from parlour.core import actions
from parlour.testing import Harness


class Clicky(Component):
    def render(self) -> Element:
        return div(self.root)[button(self.on("click", "hit"))["hit"], self.back_button()]

    @event
    def hit(self) -> None:
        pass


class Recording:
    """Another implementation: proves the component asks, and does not write the expression."""

    def event(self, url: str) -> str:
        return f"EVENT<{url}>"

    def back(self, url: str) -> str:
        return f"BACK<{url}>"


@pytest.fixture
def plugged_back() -> Iterator[None]:
    before = actions.plugged()
    yield
    actions.plug(before)


@pytest.mark.usefixtures("plugged_back")
def test_a_component_gets_its_event_expression_from_the_plugged_actions() -> None:
    actions.plug(Recording())
    h = Harness(Clicky, base="/_p", cid="c1")
    assert 'data-on:click="EVENT&lt;/_p/event/c1/p1/hit&gt;"' in h.html


@pytest.mark.usefixtures("plugged_back")
def test_rendering_an_action_with_nothing_plugged_in_says_what_to_import() -> None:
    actions._plugged = None  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(RuntimeError, match=r"`import parlour\.wire` before rendering"):
        actions.plugged()
    step = Harness(Clicky).steps[0]
    [error] = step.errors
    assert "no implementation of parlour.core.actions.Actions is plugged in" in str(error.error)


def test_with_parlour_wire_imported_the_expression_is_datastars() -> None:
    h = Harness(Clicky, base="/_p", cid="c1")
    assert "@post(&#39;/_p/event/c1/p1/hit&#39;, {requestCancellation: &#39;disabled&#39;})" in (
        h.html
    )


@dataclasses.dataclass
class Unhashable:
    """An implementation that cannot be a key (a dataclass with eq): still asked every time."""

    prefix: str = "U"

    def event(self, url: str) -> str:
        return f"{self.prefix}<{url}>"

    def back(self, url: str) -> str:
        return f"{self.prefix}<{url}>"


@pytest.mark.usefixtures("plugged_back")
def test_an_unhashable_implementation_is_asked_on_every_render() -> None:
    plugged = Unhashable()
    actions.plug(plugged)
    assert (
        'data-on:click="U&lt;/_p/event/c1/p1/hit&gt;"' in Harness(Clicky, base="/_p", cid="c1").html
    )
    plugged.prefix = "V"
    assert (
        'data-on:click="V&lt;/_p/event/c1/p1/hit&gt;"' in Harness(Clicky, base="/_p", cid="c1").html
    )
