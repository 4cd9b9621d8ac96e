"""The console demo's simulated agent swarm: a dozen named agents working through runs.

    stop = asyncio.Event()
    task = asyncio.create_task(run_swarm(hub, seed=1, stop=stop))
    ...
    stop.set()
    await task          # returns promptly; the unfinished run is reported as stopped

What the swarm publishes through `SwarmHub.publish(topic, source, payload)`:

    run.started      swarm    {"total": n, "name": "nightly #3", "run": 3}
    agent.pending    <agent>  {"task": "..."}      every agent, as its run starts
    agent.started    <agent>  {"task": "..."}
    agent.progress   <agent>  {"message": "..."}   two to five per task, plus one per answer
    tool.call        <agent>  {"tool": "read_file", "args": {"path": "..."}}   noise
    model.reply      <agent>  {"tokens": 512}                                  noise
    agent.completed  <agent>  {"summary": "..."}   \\
    agent.failed     <agent>  {"error": "..."}      |  exactly one of these per agent and run
    agent.skipped    <agent>  {"message": "..."}    |
    agent.cancelled  <agent>  {"message": "..."}   /   (only when `stop` ends a run early)
    run.completed    swarm    {"completed": c, "failed": f, "skipped": s}
    run.failed       swarm    {"error": "7 of 12 agents failed", "completed": c, ...}
    service.status   <id>     {"id", "name", "port", "status", "description", "action",
                               "message"}  status: Running/Conflict/In Use/Stale/Stopped/Standby

A run ends with `run.failed` when more than half of its agents failed, else `run.completed`;
either is the run's last event. About one task in ten fails, a few are skipped, and about
one in six blocks on a question: `hub.ask` (the hub publishes question.asked/answered/
expired), then `hub.wait` in a loop until it is answered, expired, or `question_timeout`
(plus a little grace) has passed, which counts as expired. An answer is logged as progress
and shapes the summary ("no" holds the work back); an expiry either fails the task or
carries on with a default (the first option). No question outcome ever raises.

Determinism: every random choice comes from `random.Random(seed)`: the master generator
names the runs and seeds one generator per agent per run (and one for the services), so
what each agent says depends only on the seed and on the answers it gets, not on how the
event loop interleaves the agents. With `pace=0` nothing sleeps (agents still yield with
`asyncio.sleep(0)`), so a whole run takes milliseconds and even the global order repeats.

Pacing: `pace` scales every sleep (seconds): agents stagger their starts over ~3 s and take
0.5-2.5 s per step; runs are ~4 s apart; a service changes every 3-9 s. With `pace=0` the
services change once per run instead of on a timer.

Launched runs (R20): with `requests` (an `asyncio.Queue` the console fills from
`Hub.on_launch`), a queued request {"run_id", "target", "bundle", "agents"} becomes the next
run: its agents (each plays the role of its name: "linter-2" a linter), named after its
target, with no `run.started` of its own (the launcher published it) and `"run_id"` in its
`run.completed`/`run.failed`. A request waits for no pause between runs, and one arriving
while a run is under way supersedes that run, since the launcher's `run.started` already
made the new run the one in progress: the unfinished agents get `agent.cancelled`, and the
old run ends with `run.superseded {"run", "by", "message"}` instead of completed/failed.
Each run, launched or not, counts as one of `rounds`.

Stopping: `stop.set()` (or cancelling the task) cancels every agent task and waits for them,
so nothing is left pending. On `stop`, agents still working get `agent.cancelled` and the run
`run.failed {"error": "stopped"}` (best effort), so no dashboard shows a run in progress
forever; a plain cancellation publishes nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parlour.console.demo.agent import Agent, Context, SwarmHub
from parlour.console.demo.roster import ROLES, RUN_KINDS, agent_names, role_of
from parlour.console.demo.services import ServiceBoard

__all__ = ["SOURCE", "TERMINAL", "run_swarm"]

log = logging.getLogger(__name__)

SOURCE = "swarm"
TERMINAL = ("completed", "failed", "skipped", "cancelled")


@dataclass(frozen=True, slots=True)
class _Request:
    """A launched run, from `Hub.launch` (its `run.requested` payload)."""

    run_id: str
    target: str
    agents: tuple[str, ...]

    @staticmethod
    def parse(raw: Any) -> _Request | None:
        if not isinstance(raw, dict):
            return None
        data: dict[str, Any] = raw  # pyright: ignore[reportUnknownVariableType]
        run_id, target, agents = data.get("run_id"), data.get("target"), data.get("agents")
        if not isinstance(run_id, str) or not isinstance(target, str):
            return None
        if not isinstance(agents, list | tuple) or not agents:
            return None
        names: list[Any] = list(agents)  # pyright: ignore[reportUnknownArgumentType]
        if not all(isinstance(n, str) and n for n in names):
            return None
        # One task per name: a bundle naming an agent twice runs it once.
        return _Request(run_id, target, tuple(dict.fromkeys(str(n) for n in names)))


async def _cancel_all(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


class _Swarm:
    def __init__(
        self,
        hub: SwarmHub,
        *,
        agents: int,
        seed: int | None,
        pace: float,
        question_timeout: float,
        rounds: int | None,
        stop: asyncio.Event | None,
        requests: asyncio.Queue[dict[str, Any]] | None = None,
    ) -> None:
        self.ctx = Context(hub, pace, question_timeout)
        self.requests = requests
        self.pending: _Request | None = None  # taken from the queue, to run next
        self.names = agent_names(agents)
        self.rng = random.Random(seed)
        self.board = ServiceBoard(hub.publish, random.Random(self.rng.getrandbits(64)))
        self.ticker_rng = random.Random(self.rng.getrandbits(64))  # drawn now: pace-independent
        self.rounds = rounds
        self.stop = stop

    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    async def run(self) -> None:
        ctx = self.ctx
        await self.board.announce()
        ticker = asyncio.create_task(self._services(), name="swarm:services") if ctx.pace else None
        try:
            number = 0
            while self.rounds is None or number < self.rounds:
                number += 1
                if ticker is None:
                    await self.board.change()
                await self._run(number, self._next_request())
                if self.rounds is not None and number >= self.rounds:
                    break
                await self._pause()
        finally:
            if ticker is not None:
                await _cancel_all([ticker])

    def _next_request(self) -> _Request | None:
        """The launched run to do next, if one is waiting."""
        while True:
            if self.pending is not None:
                request, self.pending = self.pending, None
                return request
            if self.requests is None or self.requests.empty():
                return None
            self._take(self.requests.get_nowait())

    def _take(self, raw: Any) -> None:
        request = _Request.parse(raw)
        if request is None:
            log.warning("swarm: ignoring a malformed run request %r", raw)
        else:
            self.pending = request

    async def _pause(self) -> None:
        """The pause between runs; cut short when a run is launched."""
        delay = self.rng.uniform(3.0, 6.0) * self.ctx.pace  # drawn whatever happens next
        requests = self.requests
        if requests is None:
            await asyncio.sleep(delay)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while self.pending is None:  # a malformed request does not end the pause
            if not requests.empty():
                self._take(requests.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                self._take(await asyncio.wait_for(requests.get(), remaining))
            except TimeoutError:
                return

    async def _services(self) -> None:
        while True:
            await self.ctx.pause(self.ticker_rng, 3.0, 9.0)
            await self.board.change()

    async def _run(self, number: int, request: _Request | None = None) -> None:
        hub, rng = self.ctx.hub, self.rng
        if request is None:
            names = self.names
            roles = [ROLES[i % len(ROLES)] for i in range(len(names))]
        else:
            names = list(request.agents)
            roles = [role_of(name) for name in names]
        agents = [
            Agent(name, role, random.Random(rng.getrandbits(64)))
            for name, role in zip(names, roles, strict=True)
        ]
        total = len(agents)
        ident: dict[str, Any]
        if request is None:
            title = f"{rng.choice(RUN_KINDS)} #{number}"
            ident = {"run": number}
            await hub.publish("run.started", SOURCE, {"total": total, "name": title, **ident})
        else:
            ident = {"run_id": request.run_id}  # its run.started came from the launcher
        launched = {} if request is None else ident
        for agent in agents:
            await hub.publish("agent.pending", agent.name, {"task": agent.task})

        outcome: dict[str, str] = {}
        tasks = [
            asyncio.create_task(agent.work(self.ctx, outcome), name=f"swarm:{agent.name}")
            for agent in agents
        ]
        try:
            superseded = await self._wait(tasks)
        except asyncio.CancelledError:
            await _cancel_all(tasks)
            if self.stopping():
                await self._report_stopped(agents, outcome)
            raise
        finally:
            await _cancel_all(tasks)  # a no-op when they all finished
        if superseded is not None:
            await self._report_superseded(agents, outcome, ident, superseded)
            return

        for agent, task in zip(agents, tasks, strict=True):
            if agent.name not in outcome:  # the agent raised (its hub calls failed)
                error = f"crashed: {task.exception()!r}"
                outcome[agent.name] = "failed"
                await hub.publish("agent.failed", agent.name, {"error": error})
        counts = {state: sum(1 for s in outcome.values() if s == state) for state in TERMINAL[:3]}
        if counts["failed"] * 2 > total:
            error = f"{counts['failed']} of {total} agents failed"
            await hub.publish("run.failed", SOURCE, {"error": error, **counts, **launched})
        else:
            await hub.publish("run.completed", SOURCE, {**counts, **launched})

    async def _wait(self, tasks: Sequence[asyncio.Task[None]]) -> _Request | None:
        """Wait for the agents; None once they are all done, or the request that arrived
        first (the run it launched supersedes this one)."""
        requests = self.requests
        if requests is None:
            await asyncio.wait(tasks)
            return None
        finished = asyncio.ensure_future(asyncio.wait(tasks))
        try:
            while True:
                getter = asyncio.ensure_future(requests.get())
                try:
                    await asyncio.wait((finished, getter), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not getter.done():
                        getter.cancel()
                        await asyncio.gather(getter, return_exceptions=True)
                if getter.done() and not getter.cancelled():
                    self._take(getter.result())  # never lost, even if the run ended too
                if finished.done() or all(task.done() for task in tasks):
                    return None  # the run ended: a request that came meanwhile runs next
                if self.pending is not None:
                    request, self.pending = self.pending, None
                    return request
        finally:
            if not finished.done():
                finished.cancel()
                await asyncio.gather(finished, return_exceptions=True)

    async def _report_superseded(
        self,
        agents: Sequence[Agent],
        outcome: dict[str, str],
        ident: dict[str, Any],
        request: _Request,
    ) -> None:
        """A launched run replaced this one: end its unfinished agents, then the run, and
        run the launched one next."""
        hub = self.ctx.hub
        message = f"superseded by the run on {request.target}"
        for agent in agents:
            if agent.name not in outcome:
                outcome[agent.name] = "cancelled"
                await hub.publish("agent.cancelled", agent.name, {"message": message})
        by = {"by": request.run_id, "message": message}
        await hub.publish("run.superseded", SOURCE, {**ident, **by})
        self.pending = request

    async def _report_stopped(self, agents: Sequence[Agent], outcome: dict[str, str]) -> None:
        """Best effort: end the unfinished agents and the run, so none looks in progress."""
        hub = self.ctx.hub
        try:
            for agent in agents:
                if agent.name not in outcome:
                    outcome[agent.name] = "cancelled"
                    await hub.publish("agent.cancelled", agent.name, {"message": "run stopped"})
            await hub.publish("run.failed", SOURCE, {"error": "stopped"})
        except Exception as exc:
            log.warning("swarm: could not report the stopped run: %r", exc)


async def run_swarm(
    hub: SwarmHub,
    *,
    agents: int = 12,
    seed: int | None = None,
    pace: float = 1.0,
    question_timeout: float = 120.0,
    rounds: int | None = None,
    stop: asyncio.Event | None = None,
    requests: asyncio.Queue[dict[str, Any]] | None = None,
) -> None:
    """Run the simulated swarm on `hub`: `rounds` runs (None: until `stop` or cancelled).

    `agents` named agents per run (see `agent_names`); `seed` makes it repeatable; `pace`
    scales every sleep in seconds (0: never sleep, for tests); `question_timeout` is how long
    a question waits for its answer; `requests` brings launched runs (`Hub.on_launch`), run
    next or at once (see the module docstring). Returns after the last run, or promptly once
    `stop` is set; raises only if the hub itself fails outside an agent (e.g. `run.started`).
    """
    if agents < 1:
        raise ValueError(f"run_swarm(agents={agents!r}): expected 1 or more")
    if pace < 0:
        raise ValueError(f"run_swarm(pace={pace!r}): expected 0 (no sleeping) or more")
    if question_timeout <= 0:
        raise ValueError(f"run_swarm(question_timeout={question_timeout!r}): expected > 0")
    if rounds is not None and rounds < 0:
        raise ValueError(f"run_swarm(rounds={rounds!r}): expected None (forever) or 0 or more")
    swarm = _Swarm(
        hub,
        agents=agents,
        seed=seed,
        pace=pace,
        question_timeout=question_timeout,
        rounds=rounds,
        stop=stop,
        requests=requests,
    )
    if stop is None:
        await swarm.run()
        return
    if stop.is_set():
        return
    body = asyncio.create_task(swarm.run(), name="swarm")
    stopper = asyncio.create_task(stop.wait(), name="swarm:stop")
    try:
        await asyncio.wait((body, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        body.cancel()  # a no-op when it already returned
        await asyncio.gather(body, stopper, return_exceptions=True)
    if not body.cancelled() and (exc := body.exception()) is not None:
        raise exc
