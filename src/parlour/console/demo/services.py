"""The demo swarm's simulated services: all Running at first, now and then one changes.

    board = ServiceBoard(hub.publish, random.Random(seed))
    await board.announce()     # every service's `service.status`
    await board.change()       # one service changes (or does something routine)

The swarm announces them once, then changes one every 3-9 s (or once per run at pace 0).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from parlour.console.demo.roster import fill

__all__ = ["SERVICE_IDS", "ServiceBoard"]

Publish = Callable[[str, str, Any], Awaitable[object]]


@dataclass(slots=True)
class _Service:
    id: str
    name: str
    port: int | None
    description: str
    healthy: str  # the message template while Running
    status: str = "Running"
    action: str = "started"
    message: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "port": self.port,
            "status": self.status,
            "description": self.description,
            "action": self.action,
            "message": self.message,
        }


def _services() -> list[_Service]:
    return [
        _Service("api", "API", 8000, "HTTP API and SSE streams", "p50 {ms} ms, {n} req/min"),
        _Service(
            "worker-pool", "Worker pool", 9000, "runs the agents' tool calls",
            "{k} workers busy, {n} jobs queued",
        ),
        _Service("nats", "NATS", 4222, "event bus (JetStream)", "{n} msgs/s, {k} consumers"),
        _Service(
            "sqlite", "SQLite", None, "conversation store (WAL)",
            "WAL {n} KB, checkpoint {secs}s ago",
        ),
    ]  # fmt: skip


SERVICE_IDS: tuple[str, ...] = tuple(service.id for service in _services())

_BAD_STATUSES = ("Stale", "Conflict", "In Use", "Stopped", "Standby")
_BAD_WEIGHTS = (4, 1, 1, 2, 2)
_BAD_MESSAGES = {
    "Stale": "no heartbeat for {secs}s",
    "Conflict": "port {port} is held by another process (pid {pid})",
    "In Use": "port {port} is still bound by a previous instance",
    "Stopped": "exited with status {code}",
    "Standby": "standing by as a replica",
}
_PORTLESS_MESSAGES = {
    "Conflict": "database is locked by another process (pid {pid})",
    "In Use": "file in use by a backup job (pid {pid})",
}
_ROUTINE_ACTIONS = ("health check", "reload config", "rotate logs", "scale to {k} workers")
_RECOVERY_ACTIONS = ("restart", "reconnect", "failover")
_TROUBLE_ACTIONS = ("health check", "port probe", "watchdog")


class ServiceBoard:
    """The simulated services: all Running at first, now and then one of them changes."""

    def __init__(self, publish: Publish, rng: random.Random) -> None:
        self._publish = publish
        self._rng = rng
        self._services = _services()
        for service in self._services:
            service.message = fill(service.healthy, rng)

    async def announce(self) -> None:
        for service in self._services:
            await self._publish("service.status", service.id, service.payload())

    async def change(self) -> None:
        rng = self._rng
        service = rng.choice(self._services)
        roll = rng.random()
        if service.status != "Running":
            if roll < 0.6:
                service.status = "Running"
                service.action = rng.choice(_RECOVERY_ACTIONS)
            else:
                service.action = rng.choice(_TROUBLE_ACTIONS)
        elif roll < 0.25:
            service.status = rng.choices(_BAD_STATUSES, _BAD_WEIGHTS)[0]
            service.action = rng.choice(_TROUBLE_ACTIONS)
        else:
            service.action = fill(rng.choice(_ROUTINE_ACTIONS), rng)
        if service.status == "Running":
            template = service.healthy
        elif service.port is None:
            template = _PORTLESS_MESSAGES.get(service.status, _BAD_MESSAGES[service.status])
        else:
            template = _BAD_MESSAGES[service.status]
        service.message = fill(template, rng, port=service.port)
        await self._publish("service.status", service.id, service.payload())
