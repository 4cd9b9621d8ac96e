"""The last hour of the console: events per second and questions waiting, as a live chart.

    activity = Activity()                          # 10-second buckets, one hour
    activity.sample(now, events_seen=120, waiting=2)   # every few seconds (the ticker)
    activity.series()                              # {"step", "end", "events", "waiting"}
    chart(activity)                                # the shared view "activity"

The ticker (`parlour.console.status.Figures`) samples the state's event count and the
number of pending questions every `tick` seconds; each finished bucket gets the events per
second over it (the events counted between two samples go to the bucket of the earlier
one) and the most questions waiting at any sample in it. Buckets nobody sampled
(the console was stopped) read as no events and nothing waiting.

The chart is a client-side widget (`parlour.core.widgets`): the host carries the series as
JSON, and the `console-chart` behaviour in static/console.js draws it as SVG in an element
Datastar's morphs leave alone; a finished bucket changes the data, the behaviour redraws.
The view is shared: rendered once per bucket for every tab, about 3 KB for an hour.

What this module does not do: keep time or a task of its own (the ticker samples), or read
the journal (the chart starts empty after a restart).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final

from htpy import Element, div, p

from parlour.core.widgets import widget

__all__ = ["BUCKET", "SPAN", "Activity", "chart"]

BUCKET: Final = 10.0
"""Seconds per point of the chart."""
SPAN: Final = 3600.0
"""Seconds the chart shows: the last hour."""


class Activity:
    """The finished buckets of the last `span` seconds, and the one being filled."""

    def __init__(self, bucket: float = BUCKET, span: float = SPAN) -> None:
        if not (bucket > 0 and span >= bucket):
            raise ValueError(
                f"Activity(bucket={bucket!r}, span={span!r}): expected seconds with "
                "0 < bucket <= span"
            )
        self.bucket = bucket
        self.points = int(span // bucket)
        self._done: deque[tuple[int, float, int]] = deque(maxlen=self.points)
        self._key: int | None = None
        self._events = 0
        self._waiting = 0
        self._seen: int | None = None

    def __repr__(self) -> str:
        return f"Activity({len(self._done)} of {self.points} buckets of {self.bucket:g} s)"

    def sample(self, now: float, *, events_seen: int, waiting: int) -> bool:
        """Take one sample at time `now`; True when a bucket finished (the chart changes)."""
        key = math.floor(now / self.bucket)
        seen, self._seen = self._seen, events_seen
        delta = max(0, events_seen - seen) if seen is not None else 0
        finished = False
        if self._key is None:
            self._key = key
        elif key > self._key:
            self._events += delta  # they came since the last sample, in the bucket it was in
            delta = 0
            self._finish()
            for empty in range(max(self._key + 1, key - self.points), key):
                self._done.append((empty, 0.0, 0))  # nobody sampled: the console was stopped
            self._key, self._events, self._waiting = key, 0, 0
            finished = True
        self._events += delta
        self._waiting = max(self._waiting, waiting)
        return finished

    def _finish(self) -> None:
        assert self._key is not None
        self._done.append((self._key, self._events / self.bucket, self._waiting))

    def series(self) -> dict[str, Any]:
        """The finished buckets as the chart's data: `end` (epoch seconds at the end of the
        newest), `step` (seconds), `events` (per second) and `waiting`, oldest first."""
        done = list(self._done)
        end = (done[-1][0] + 1) * self.bucket if done else 0.0
        return {
            "step": self.bucket,
            "end": end,
            "events": [round(rate, 2) for _, rate, _ in done],
            "waiting": [count for _, _, count in done],
        }


def chart(activity: Activity) -> Element:
    """The shared view: a note of the figures for the eye (and for no-script), and the
    `console-chart` widget drawing both series."""
    data = activity.series()
    events, waiting = data["events"], data["waiting"]
    if events:
        peak = max(events)
        summary = (
            f"Now {events[-1]:g} events/s (peak {peak:g}), "
            f"{waiting[-1]} waiting (most {max(waiting)})"
        )
    else:
        summary = f"Gathering: the first point comes within {activity.bucket:g} seconds."
    return div("#activity.console-panel.console-activity")[
        p(".console-activity-note.console-muted")[summary],
        widget(
            "console-chart",
            id="activity-chart",
            data=data,
            class_="console-chart",
            role="img",
            aria_label="Events per second and questions waiting over the last hour",
        ),
    ]
