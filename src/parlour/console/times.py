"""Times as the console's pages write them: clock times, dates, lengths of time.

    clock(t)        "14:03:10"               (local time of the server)
    stamp(t)        "2026-12-07 14:03:10"
    length(252.4)   "4 min 12 s"             ("0.8 s", "2 h 5 min", "3 d 4 h")
    AGE, LEFT       the attributes that keep a time moving in the browser

A time that should read relatively ("3 min ago", "4 min 10 s left") is rendered as a plain
clock time with one of the attributes `AGE` or `LEFT` holding the epoch seconds; the page's
script (static/console.js) rewrites the text every second in the same words as `length`. So
every render of the same state is the same bytes (R8), and no server work ticks per tab.
"""

from __future__ import annotations

import math
import time
from typing import Final

__all__ = ["AGE", "LEFT", "clock", "length", "stamp"]

AGE: Final = "data-console-age"
"""Epoch seconds: the script shows "<length> ago" in the element, updated every second."""
LEFT: Final = "data-console-left"
"""Epoch seconds: the script shows "<length> left" (or "expired") in the element."""


def clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def length(seconds: float) -> str:
    """A length of time in the largest two units that matter ("4 min 12 s", "2 h 5 min")."""
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
