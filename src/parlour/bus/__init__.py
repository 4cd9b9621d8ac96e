"""parlour.bus: topic publish/subscribe with a typed `Event` envelope and history.

    bus = await open_bus(None)                  # InProcessBus; "nats://host:4222" -> NatsBus
    async with bus.subscribe("agent.*") as sub:
        await bus.publish("agent.started", {"name": "a"}, source="worker-1")
        event = await anext(sub)                # Event(id=1, topic="agent.started", ...)
    await bus.history(after=0, pattern="agent.>")

Modules, one concept each: `event` (the envelope), `patterns` (topic grammar, NATS
style), `subscription` (bounded per-subscriber queues, oldest dropped on overflow),
`protocol` (the `EventBus` contract), `memory` (`InProcessBus`, the default), `nats`
(`NatsBus`, for several processes; needs the `nats` extra: `pip install parlour[nats]`).

`NatsBus` is loaded lazily, so `import parlour.bus` works without nats-py installed.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from parlour.bus.event import Event as Event
from parlour.bus.memory import InProcessBus as InProcessBus
from parlour.bus.patterns import TopicPattern as TopicPattern
from parlour.bus.patterns import matches as matches
from parlour.bus.patterns import validate_pattern as validate_pattern
from parlour.bus.patterns import validate_topic as validate_topic
from parlour.bus.protocol import EventBus as EventBus
from parlour.bus.subscription import Fanout as Fanout
from parlour.bus.subscription import Subscription as Subscription

if TYPE_CHECKING:
    from parlour.bus.nats import NatsBus as NatsBus

__all__ = [
    "Event",
    "EventBus",
    "Fanout",
    "InProcessBus",
    "NatsBus",
    "Subscription",
    "TopicPattern",
    "matches",
    "open_bus",
    "validate_bus_url",
    "validate_pattern",
    "validate_topic",
]

_NATS_SCHEMES = ("nats://", "tls://", "ws://", "wss://")


def validate_bus_url(url: str | None) -> None:
    """Raise `ValueError` unless `open_bus(url)` can use `url`; connects to nothing.

    Checks the form only (`None`, `"memory"`, or a NATS URL) and, for NATS, that nats-py
    is installed, so a command line can refuse a bad `--bus` before it starts serving.
    """
    if url is None or url == "memory":
        return
    if not url.startswith(_NATS_SCHEMES):
        raise ValueError(
            f"open_bus({url!r}): unknown bus URL. Expected None or 'memory' for the "
            "in-process bus, or a NATS URL such as 'nats://127.0.0.1:4222' (several servers "
            "may be separated by commas)."
        )
    if importlib.util.find_spec("nats") is None:
        raise ValueError(
            f"open_bus({url!r}): a NATS bus needs nats-py; install it with "
            "`pip install 'parlour[nats]'`."
        )


async def open_bus(url: str | None = None, **options: Any) -> EventBus:
    """The bus named by `url`: `None` or `"memory"` for `InProcessBus`, `nats://…` for NATS.

    `options` go to the backend (`InProcessBus(...)` or `NatsBus.connect(url, ...)`),
    e.g. `history_size=50_000` or `stream="ORDERS"`. Typically `url` comes from
    configuration, so one app runs in-process in development and on NATS in production.
    """
    validate_bus_url(url)
    if url is None or url == "memory":
        return InProcessBus(**options)
    from parlour.bus.nats import NatsBus  # optional dependency, loaded on demand

    return await NatsBus.connect(url, **options)


def __getattr__(name: str) -> Any:
    if name == "NatsBus":
        try:
            from parlour.bus.nats import NatsBus
        except ImportError as exc:
            raise ImportError(
                "parlour.bus.NatsBus needs nats-py; install it with `pip install 'parlour[nats]'`."
            ) from exc
        return NatsBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
