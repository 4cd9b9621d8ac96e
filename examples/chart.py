"""A live line chart: a random walk published on the bus every second, drawn by uPlot.

    make setup                          # installs uPlot from npm into vendor/js
    parlour run examples.chart:app

One feed per app publishes the next price of a random walk on `chart.price` every second;
every open page subscribes and shows the last 120 prices. The chart is a client-side widget
(`parlour.core.widgets`): uPlot draws it in the browser, inside an element Datastar's morphs
leave alone, by the `line-chart` behaviour in examples/chart.js. The page gets the whole
series once, in the first render; after that each price travels alone, as one
`widget_push` (about 180 bytes on the wire, see tests/web/test_widgets.py), and the chart,
its canvas and its zoom stay as they are.

Why uPlot: it is made for exactly this (time series that grow while you watch), draws a
point appended to 120 in well under a millisecond, and is some 50 KB minified, a quarter of
Chart.js; it is MIT-licensed and maintained. It is not committed: `make setup`
(scripts/fetch-js) installs a pinned version from the npm registry into vendor/js, and this
app serves the two files from there itself (`App(scripts=..., stylesheets=...)`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from htpy import Element, div, h1, p

from parlour import App, Component, io, service, subscribe, widget, widget_push
from parlour.bus import Event, EventBus

HERE = Path(__file__).resolve().parent
UPLOT = HERE.parent / "vendor" / "js" / "node_modules" / "uplot" / "dist"
TOPIC = "chart.price"
WINDOW = 120
"""How many prices a chart shows (and each conversation keeps)."""


class RandomWalk:
    """The app's price feed: the next step of a random walk on `TOPIC` every `interval` s.

    A service (one per app), started by the first chart that opens, through `io` (where side
    effects belong); starting it again does nothing.
    """

    def __init__(self, bus: Callable[[], EventBus], interval: float = 1.0) -> None:
        self._bus = bus
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._walk())

    async def _walk(self) -> None:
        bus, price = self._bus(), 100.0
        while True:
            price = round(max(1.0, price + random.gauss(0.0, 0.8)), 2)
            await bus.publish(TOPIC, {"price": price}, source="random-walk")
            await asyncio.sleep(self.interval)


class PriceChart(Component):
    points: list[list[float]] = []
    """[time, price] pairs, newest last; at most WINDOW."""

    def start(self) -> Any:
        return [subscribe(TOPIC, self.arrived), io(service(RandomWalk).start, resume=self.fed)]

    def wakeup(self) -> Any:
        return io(service(RandomWalk).start, resume=self.fed)  # after a restart, too

    def fed(self, _: None) -> None:
        """The feed runs (it may have been running already)."""

    @property
    def chart_id(self) -> str:
        return f"{self.iid}-chart"

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[
            h1["Random walk"],
            p(".chart-note")[f"A price every second on the bus; the last {WINDOW} are shown."],
            widget(
                "line-chart",
                id=self.chart_id,
                data={"points": self.points, "window": WINDOW, "label": "price"},
                class_="chart",
            ),
        ]

    def arrived(self, event: Event) -> Any:
        point = [round(event.time, 3), float(event.payload["price"])]
        self.points = [*self.points, point][-WINDOW:]
        return widget_push(self.chart_id, {"points": [point]})


def chart_app(interval: float = 1.0) -> App:
    """The chart app, its feed publishing every `interval` seconds (tests use a short one)."""
    app = App(
        PriceChart,
        title="parlour chart",
        scripts=[UPLOT / "uPlot.iife.min.js", HERE / "chart.js"],
        stylesheets=[UPLOT / "uPlot.min.css"],
    )
    app.provide(RandomWalk(lambda: app.bus, interval))
    return app


app = chart_app()
