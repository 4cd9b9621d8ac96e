"""The counter of `app.py` with its render written as one string template instead of htpy.

Not the peer-bench entry (that is `examples/counter.py`, unchanged): the `parlour:markup`
variant, to measure how much of a click is the user's htpy build. The state, the events, the
routes and the patch are the same; the markup differs only in attribute order.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from parlour import App, Component, event


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())


class Counter(Component):
    count: int = 0

    def render(self) -> Markup:
        dec, inc = _attrs(self.on("click", "dec")), _attrs(self.on("click", "inc"))
        return Markup(
            f'<div id="{self.mounted.iid}" class="parlour-card parlour-row">'
            f'<button class="parlour-button"{dec}>-</button>'
            f'<span class="count">{self.count}</span>'
            f'<button class="parlour-button"{inc}>+</button></div>'
        )

    @event
    def inc(self) -> None:
        self.count += 1

    @event
    def dec(self) -> None:
        self.count -= 1


app = App(Counter, title="parlour counter")
