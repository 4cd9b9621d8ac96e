"""The counter of `app.py` with its render written as one string template instead of htpy.

Not the peer-bench entry (that is `examples/counter.py`, unchanged): the `parlour:markup`
variant, to measure how much of a click is the user's htpy build. The state, the events, the
routes and the patch are the same; the markup differs only in attribute order.
"""

from __future__ import annotations

from html import escape

import app as _counter_app  # noqa: F401  (puts this repository on sys.path)
from examples.counter import Counter
from markupsafe import Markup

from parlour import App


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())


class MarkupCounter(Counter):
    """`examples/counter.py`'s Counter (its state and events), rendered from one f-string."""

    def render(self) -> Markup:  # pyright: ignore[reportIncompatibleMethodOverride]
        dec, inc = _attrs(self.on("click", "dec")), _attrs(self.on("click", "inc"))
        return Markup(
            f'<div id="{self.mounted.iid}" class="parlour-card parlour-row">'
            f'<button class="parlour-button"{dec}>-</button>'
            f'<span class="count">{self.count}</span>'
            f'<button class="parlour-button"{inc}>+</button></div>'
        )


app = App(MarkupCounter, title="parlour counter")
