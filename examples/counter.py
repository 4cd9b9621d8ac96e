"""A counter: the smallest complete parlour app.

parlour run examples.counter:app

Its count is in the address bar (`/?n=3`): a copied link opens the same count, and so does a
link someone typed (`/?n=x` opens at 0). Reloading the tab keeps its conversation.
"""

from htpy import Element, button, div, span

from parlour import App, Component, Visit, event


class Counter(Component):
    count: int = 0

    def visited(self, visit: Visit) -> None:
        self.count = visit.arg("n", 0)  # the link's count; 0 when there is none or it is not one

    def url(self) -> str:
        return f"?n={self.count}"  # the address bar follows every click

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
