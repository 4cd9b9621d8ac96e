"""The shortcuts of the click path give what the general code gives (decision 0011).

The kernel builds conversations positionally, checks scalar state by type, and finds a
render's root id in htpy's attributes; each must agree with the slower general way.
"""

from __future__ import annotations

from dataclasses import fields

import pytest
from htpy import Element, div, span

from parlour import Component, event
from parlour.core import kernel
from parlour.core.conversation import Conversation, Subscription, Timer, without_history
from parlour.core.errors import StateError
from parlour.core.state import encode_checked


class Scalars(Component, name="tests.click_path.Scalars"):
    count: int = 0
    label: str = ""
    ratio: float = 0.0
    lit: bool = False

    def render(self) -> Element:
        return div(self.root, class_="x")[span[self.count]]

    @event
    def inc(self) -> None:
        self.count += 1


def test_without_history_keeps_every_other_field_of_a_conversation() -> None:
    values = {
        "id": "c1",
        "base": "/b",
        "stack": ("p1",),
        "instances": {},
        "history_base": 7,
        "history_limit": 9,
        "created": 1.0,
        "touched": 2.0,
        "owner": "sid",
        "next_id": 5,
        "last_url": "?n=1",
        "ended": False,
        "timers": (Timer("t1", "p1", 3.0, "tick"),),
        "subscriptions": (Subscription("p1", "a.*", "heard"),),
    }
    assert {f.name for f in fields(Conversation)} == {*values, "history"}  # a new field: add it
    bare = without_history(Conversation(**values))  # pyright: ignore[reportArgumentType]
    assert bare.history == ()
    for name, value in values.items():
        expected = 0 if name == "history_base" else value
        assert getattr(bare, name) == expected, name


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("count", 3, True),
        ("count", True, False),  # a bool is not an int here, as the typed decoder says
        ("count", "3", False),
        ("ratio", 2, True),  # an int fits a float field
        ("label", 1, False),
        ("lit", 1, False),
    ],
)
def test_scalar_state_is_checked_as_the_typed_decoder_checks_it(
    field: str, value: object, accepted: bool
) -> None:
    comp = Scalars()
    setattr(comp, field, value)
    if accepted:
        assert encode_checked(comp)
    else:
        with pytest.raises(StateError, match=f"Scalars.{field} is declared"):
            encode_checked(comp)


def test_a_click_renders_the_root_with_its_id() -> None:
    conv = kernel.boot(Scalars(), cid="c1").conversation
    step = kernel.dispatch(conv, kernel.Event("p1", "inc"))
    assert not step.errors
    html = step.fragments[0].html  # pyright: ignore[reportAttributeAccessIssue]
    assert html.startswith('<div id="p1" class="x"><span>1</span>')
