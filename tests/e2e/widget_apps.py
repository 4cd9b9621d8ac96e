"""Apps the widget and toast browser tests serve (`serve("tests.e2e.widget_apps:fast_chart")`)."""

from pathlib import Path
from typing import Any

from examples.chart import chart_app
from htpy import Element, button, div

from parlour import App, Component, event, widget, widget_push
from parlour.ui import toast

FAST_INTERVAL = 0.02
"""Seconds between two prices of the fast chart: 50 updates take about a second."""

fast_chart = chart_app(interval=FAST_INTERVAL)


class Notices(Component):
    """One button per kind of toast; each toast leaves after a second."""

    saves: int = 0

    def render(self) -> Element:
        return div(self.root, class_="parlour-card parlour-row")[
            (
                button(".parlour-button", self.on("click", kind), type="button")[kind.title()]
                for kind in ("info", "success", "warning", "error")
            ),
            div(".saves")[f"saves: {self.saves}"],
        ]

    def _toast(self, kind: Any) -> Any:
        self.saves += 1
        return toast(f"{kind.title()} notice {self.saves}", kind, seconds=1.0)

    @event
    def info(self) -> Any:
        return self._toast("info")

    @event
    def success(self) -> Any:
        return self._toast("success")

    @event
    def warning(self) -> Any:
        return self._toast("warning")

    @event
    def error(self) -> Any:
        return self._toast("error")


notices = App(Notices, title="notices")


class Fragile(Component):
    """A count whose Explode button raises: the stock error block, and its way out."""

    n: int = 0

    def render(self) -> Element:
        return div(self.root, class_="parlour-card parlour-row")[
            div(".n")[f"n = {self.n}"],
            button(".parlour-button", self.on("click", "bump"), type="button")["Bump"],
            button(".parlour-button", self.on("click", "explode"), type="button")["Explode"],
        ]

    @event
    def bump(self) -> None:
        self.n += 1

    @event
    def explode(self) -> None:
        raise ValueError("the handler broke")


fragile = App(Fragile, title="fragile")


class Lifecycle(Component):
    """A widget shown or hidden, re-rendered with new data, sent messages; an unrelated count."""

    shown: bool = True
    value: int = 1
    clicks: int = 0

    def render(self) -> Element:
        return div(self.root, class_="parlour-card")[
            div(".clicks")[f"clicks: {self.clicks}"],
            widget("recorder", id=f"{self.iid}-w", data={"value": self.value})
            if self.shown
            else None,
            (
                button(".parlour-button", self.on("click", name), type="button")[name.title()]
                for name in ("count", "change", "message", "toggle")
            ),
        ]

    @event
    def count(self) -> None:
        self.clicks += 1

    @event
    def change(self) -> None:
        self.value += 1

    @event
    def message(self) -> Any:
        return widget_push(f"{self.iid}-w", {"hello": self.value})

    @event
    def toggle(self) -> None:
        self.shown = not self.shown


lifecycle = App(Lifecycle, title="lifecycle", scripts=[Path(__file__).parent / "lifecycle.js"])
