"""A live counter of bus events, and a button that publishes 500 at once.

    parlour run examples.ticker:app

Every viewer counts the events it has seen on `ticker.tick`. `Burst 500` publishes 500 events
in one go: each viewer's page receives a few coalesced patches, the last of which shows all
500.
"""

from typing import Any

from htpy import Element, button, div, span

from parlour import App, Component, event, publish, subscribe
from parlour.bus import Event


class Ticker(Component):
    seen: int = 0

    def start(self) -> Any:
        return subscribe("ticker.tick", self.ticked)

    def render(self) -> Element:
        return div(self.root, class_="parlour-card parlour-row")[
            span(".events")[f"events: {self.seen}"],
            button(".parlour-button.parlour-button--primary", self.on("click", "burst"))[
                "Burst 500"
            ],
        ]

    @event
    def burst(self) -> list[Any]:
        return [publish("ticker.tick", n) for n in range(500)]

    def ticked(self, event: Event) -> None:
        self.seen += 1


app = App(Ticker, title="parlour ticker")
