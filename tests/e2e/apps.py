"""Small apps that only the browser tests serve (`serve("tests.e2e.apps:tally")`)."""

from htpy import Element, button, div, span

from parlour import App, Component, call, event
from parlour.ui import info


class Tally(Component):
    """A count changed in place (no new screen), and a dialog on top of it."""

    count: int = 0

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[
            span(".count")[self.count],
            button(".parlour-button", self.on("click", "inc"), type="button")["+1"],
            button(".parlour-button", self.on("click", "ask"), type="button")["Open dialog"],
        ]

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def ask(self):
        return call(info(f"The count is {self.count}."))


tally = App(Tally, title="tally")
