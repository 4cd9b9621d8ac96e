"""A visit: the request that opened a tab, as the root component sees it.

    class Counter(Component):
        count: int = 0

        def visited(self, visit: Visit) -> None:     # once, when a tab opens a conversation
            self.count = visit.arg("n", 0)           # /?n=5 starts at 5; ?n=x starts at 0

        def url(self) -> str:                        # the URL this state stands for
            return f"?n={self.count}"                # so a copied link opens the same screen

`url()` projects a screen onto the address bar; `visited` reads it back. Together they make a
link worth copying. The visit is the *where*; the *who* is `parlour.core.context.principal()`.

A visit is plain data (no Starlette here: the web layer builds it from the request), so a
test makes one by hand: `Harness(Counter)` boots with `Visit()`, the path `/` with no query.

What this module does not do: parse HTTP (`parlour.web.visits` does), or keep the visit: it
reaches `visited` once, and whatever the root wants of it becomes state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import overload

__all__ = ["Visit"]

_INT_LIMIT = 1 << 63
"""`arg` keeps integers within 64 bits: state must be storable (msgpack integers)."""
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Visit:
    """Where a tab was opened: the page path, its query, and the page pattern's parameters.

    `path` is below the app's mount (an app mounted at `/shop` sees `/cart` for `/shop/cart`).
    `query` holds the last value of each query parameter (`query_string` has them all, raw);
    `params` the parameters of the page's path pattern (`App({"/items/{id}": Item})`), as text.
    """

    path: str = "/"
    query: Mapping[str, str] = field(default_factory=lambda: {})
    params: Mapping[str, str] = field(default_factory=lambda: {})
    query_string: str = ""

    @property
    def url(self) -> str:
        """The path and query, as a component's `url()` would spell them."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @overload
    def arg(self, name: str, default: bool) -> bool: ...
    @overload
    def arg(self, name: str, default: int) -> int: ...
    @overload
    def arg(self, name: str, default: float) -> float: ...
    @overload
    def arg(self, name: str, default: str) -> str: ...

    def arg(self, name: str, default: str | float | bool) -> str | float | bool:
        """Query parameter `name` as the type of `default`; `default` when it is missing or
        does not read as one (a link is user input: `?n=x` must open the page, not fail).

        Integers are decimal and within 64 bits, floats finite, booleans one of 1/0,
        true/false, yes/no, on/off.
        """
        raw = self.query.get(name)
        if raw is None:
            return default
        if isinstance(default, bool):
            word = raw.strip().lower()
            return True if word in _TRUE else False if word in _FALSE else default
        if isinstance(default, int):
            text = raw.strip()
            digits = text[1:] if text[:1] in ("+", "-") else text
            if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
                return default
            number = int(text)
            return number if -_INT_LIMIT <= number < _INT_LIMIT else default
        if isinstance(default, float):
            try:
                number = float(raw)
            except ValueError:
                return default
            return number if math.isfinite(number) else default
        return raw
