"""The stock error block offers a way out: "Try again" and "Start over".

Each button posts to the conversation's own route (`core.routes.retry_path`,
`restart_path`), written by the plugged-in client like every other action. "Try again" is
offered only when there is a screen to draw again: not when the root itself could not start.
"""

from __future__ import annotations

from html.parser import HTMLParser

from htpy import Element, div

import parlour.wire  # the Datastar actions the buttons carry
from parlour import Component, event
from parlour.core import fragments as fr
from parlour.core import kernel
from parlour.core.render import error_html
from parlour.testing import Harness


class Buttons(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._click: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "button":
            self._click = dict(attrs).get("data-on:click") or ""

    def handle_data(self, data: str) -> None:
        if self._click is not None:
            self.found.append((data, self._click))
            self._click = None


class Fragile(Component):
    def render(self) -> Element:
        return div(self.root)["fine"]

    @event
    def explode(self) -> None:
        raise ValueError("no")


def test_a_block_offers_to_try_again_or_start_over() -> None:
    step = Harness(Fragile, cid="c7").dispatch(None, "explode")
    [block] = step.fragments
    assert isinstance(block, fr.Elements)
    buttons = Buttons(block.html).found
    assert [label for label, _ in buttons] == ["Try again", "Start over"]
    assert "/_parlour/retry/c7" in buttons[0][1]
    assert "/_parlour/restart/c7" in buttons[1][1]
    assert buttons[0][1].startswith("@post(")


def test_a_root_that_cannot_start_can_only_start_over() -> None:
    class Doomed(Component):
        def start(self) -> None:
            raise RuntimeError("cannot start")

    [block] = kernel.boot(Doomed(), cid="c", base="/app/_parlour").fragments
    assert isinstance(block, fr.Elements)
    buttons = Buttons(block.html).found
    assert [label for label, _ in buttons] == ["Start over"]
    assert "/app/_parlour/restart/c" in buttons[0][1]


def test_without_a_base_the_block_has_no_buttons() -> None:
    html = error_html("c", "p1", ValueError("x"), "handle")
    assert Buttons(html).found == []
    assert parlour.wire is not None
