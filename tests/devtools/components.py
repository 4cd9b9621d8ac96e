"""Components the inspector's tests look at: a frame with a fixed child, a keyed list, a slot
child, a timer and a subscription, and a counter."""

from __future__ import annotations

from typing import Any

from htpy import Element, button, div, span

from parlour import (
    Component,
    after,
    answer,
    call,
    call_in_slot,
    event,
    set_keyed_children,
    subscribe,
)


class Counter(Component, name="devtools_tests.Counter"):
    count: int = 0

    def render(self) -> Element:
        return div(self.root, class_="counter")[
            button(self.on("click", "dec"))["-"],
            span(".count")[self.count],
            button(self.on("click", "inc"))["+"],
        ]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def dec(self) -> None:
        self.count -= 1


class Item(Component, name="devtools_tests.Item"):
    label: str = ""

    def render(self) -> Element:
        return span(self.root)[self.label]


class Note(Component, name="devtools_tests.Note"):
    text: str = "a note"

    def render(self) -> Element:
        return span(self.root)[self.text]


class Dialog(Component, name="devtools_tests.Dialog"):
    def render(self) -> Element:
        return div(self.root)["a dialog"]

    @event
    def close(self) -> Any:
        return answer()


class Board(Component, name="devtools_tests.Board"):
    """A frame with a fixed child, a keyed list, a timer and a subscription."""

    title: str = "board"
    ticks: int = 0
    noted: bool = False

    def children(self) -> dict[str, Component]:
        return {"counter": Counter()}

    def start(self) -> Any:
        return [
            set_keyed_children("items", [("a", Item(label="A")), ("b", Item(label="B"))]),
            after(60, self.tick),
            subscribe("news.*", self.heard),
        ]

    def render(self) -> Element:
        return div(self.root)[
            self.slot("counter"), self.keyed("items"), self.slot("aside") if self.noted else None
        ]

    def tick(self) -> None:
        self.ticks += 1

    def heard(self, _: object) -> None:
        self.ticks += 100

    @event
    def note(self) -> Any:
        self.noted = True
        return call_in_slot("aside", Note())

    @event
    def open(self) -> Any:
        return call(Dialog())
