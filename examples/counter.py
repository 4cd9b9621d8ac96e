"""A counter: the smallest complete parlour app.

parlour run examples.counter:app
"""

from htpy import Element, button, div, span

from parlour import App, Component, event


class Counter(Component):
    count: int = 0

    def render(self) -> Element:
        return div(self.root, class_="parlour-card parlour-row")[
            button(".parlour-button", self.on("click", "dec"))["-"],
            span(".count")[self.count],
            button(".parlour-button", self.on("click", "inc"))["+"],
        ]

    @event
    def inc(self) -> None:
        self.count += 1  # no effect returned: the kernel re-renders this instance

    @event
    def dec(self) -> None:
        self.count -= 1


app = App(Counter, title="parlour counter")
