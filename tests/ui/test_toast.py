"""`parlour.ui.toast(message, kind)`: a notice over the page that leaves by itself.

It is an effect: a patch appending the notice to the shell's overlay (`#parlour-overlay`,
beside `#root`), which the stock `parlour.toast` behaviour removes after `seconds`. Returning
it does not stop the handler's own re-render, and a new screen drawn into `#root` in the same
moment does not drop it. (That it really leaves, in a browser: tests/e2e/test_toast.py.)
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from htpy import Element, div, span

from parlour import Component, call, event
from parlour.core import fragments as fr
from parlour.runtime.connection import Connection
from parlour.testing import Harness
from parlour.ui import info, toast


class Parsed(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize(
    ("kind", "role"),
    [("info", "status"), ("success", "status"), ("warning", "status"), ("error", "alert")],
)
def test_each_kind_is_styled_apart_and_errors_are_announced_at_once(kind: Any, role: str) -> None:
    effect = toast("Saved.", kind)
    assert (effect.selector, effect.mode) == ("#parlour-overlay", "append")
    (tag, attrs), *_ = Parsed(effect.html).elements
    assert tag == "div"
    assert attrs["role"] == role
    assert attrs["class"] == f"parlour-toast parlour-toast--{kind}"
    assert attrs["data-parlour-widget"] == "parlour.toast"


def test_it_leaves_after_the_seconds_given_and_can_be_dismissed() -> None:
    elements = Parsed(toast("Hi", seconds=2.5).html).elements
    assert json.loads(elements[0][1]["data-parlour-data"] or "") == {"ms": 2500}
    [close] = [attrs for tag, attrs in elements if tag == "button"]
    assert close == {"class": "parlour-toast-close", "type": "button", "aria-label": "Dismiss"}


def test_the_message_is_text() -> None:
    parsed = Parsed(toast("<b>5 > 3</b> & more").html)
    assert "<b>5 > 3</b> & more" in parsed.text
    assert "b" not in [tag for tag, _ in parsed.elements]


@pytest.mark.parametrize(
    ("kind", "seconds", "says"),
    [("fatal", 4.0, "kind must be one of info, success, warning, error"), ("info", 0, "positive")],
)
def test_a_wrong_kind_or_duration_is_refused(kind: Any, seconds: float, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        toast("x", kind, seconds=seconds)


class Saver(Component):
    saves: int = 0

    def render(self) -> Element:
        return div(self.root)[span(".saves")[self.saves]]

    @event
    def save(self) -> Any:
        self.saves += 1
        return toast("Saved.", "success")

    @event
    def save_and_close(self) -> Any:
        return [toast("Saved; here is a dialog."), call(info("Done."))]


def test_a_handler_returning_a_toast_still_shows_its_new_state() -> None:
    step = Harness(Saver).dispatch(None, "save")
    patches = [f for f in step.fragments if isinstance(f, fr.Elements)]
    assert [(p.selector, p.mode) for p in patches] == [
        (None, "outer"),
        ("#parlour-overlay", "append"),
    ]
    assert '<span class="saves">1</span>' in patches[0].html


def test_a_new_screen_in_the_same_moment_does_not_drop_the_toast() -> None:
    step = Harness(Saver).dispatch(None, "save_and_close")
    connection = Connection("c")
    connection.push(step.fragments)
    queued = [f for f in connection._queue if isinstance(f, fr.Elements)]  # pyright: ignore[reportPrivateUsage]
    assert [f.selector for f in queued] == ["#parlour-overlay", "#root"]


def test_toasts_queued_together_all_arrive() -> None:
    connection = Connection("c")
    for n in range(3):
        effect = toast(f"notice {n}")
        connection.push(
            [fr.Elements(effect.html, effect.selector, effect.mode, key=effect.selector)]
        )
    connection.push([fr.Elements("<div id='p1'></div>", None, "outer", key="p1")])
    overlay = [f for f in connection._queue if isinstance(f, fr.Elements) and f.mode == "append"]  # pyright: ignore[reportPrivateUsage]
    assert len(overlay) == 3
