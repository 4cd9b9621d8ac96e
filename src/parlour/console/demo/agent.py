"""One agent of the demo swarm at work: its script for one run, from its own generator.

An agent starts, reports progress, calls tools (noise), maybe asks a question and waits
for the answer, and ends completed, failed or skipped. Everything it says comes from its
own `random.Random`, so its story depends only on the seed and on the answers it gets.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from parlour.console.demo.roster import ERRORS, SKIP_REASONS, TOOL_ARGS, Role, facts, fill

__all__ = ["Agent", "Context", "SwarmHub", "SwarmQuestion"]

log = logging.getLogger(__name__)

_FAIL_RATE = 0.10
_SKIP_RATE = 0.06
_ASK_RATE = 1 / 6
_EXPIRY_FAILS = 0.5  # on an unanswered question: fail the task, else go with a default
_GRACE = 1.0  # seconds past question_timeout before the agent gives up by itself
_NEGATIVE = frozenset({"no", "request changes"})


class SwarmQuestion(Protocol):
    """What the swarm reads from a question: `state` is "pending", "answered" or "expired"."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def answer(self) -> str | None: ...


class SwarmHub(Protocol):
    """The three hub methods the swarm uses; the console's `Hub` fits structurally."""

    async def publish(self, topic: str, source: str, payload: Any) -> object:
        """Publish one event (the real hub returns the `parlour.bus.Event`; unused here)."""
        ...

    async def ask(
        self,
        agent: str,
        question: str,
        options: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> SwarmQuestion:
        """Register a question from `agent`; it expires after `timeout` seconds."""
        ...

    async def wait(self, qid: str, timeout: float) -> SwarmQuestion:
        """The question once answered or expired, or still pending after `timeout`."""
        ...


@dataclass(slots=True)
class Context:
    hub: SwarmHub
    pace: float
    question_timeout: float

    async def pause(self, rng: random.Random, low: float, high: float) -> None:
        # The draw happens whatever the pace, so a seed means the same events at any pace.
        await asyncio.sleep(rng.uniform(low, high) * self.pace)


class Agent:
    """One agent's work in one run. Its whole script comes from its own `rng`."""

    def __init__(self, name: str, role: Role, rng: random.Random) -> None:
        self.name = name
        self.role = role
        self.rng = rng
        # What this task is about, fixed for the run: "deploy build 1a2b3c4" pushes that build.
        self.facts = facts(rng)
        self.task = self._fill(rng.choice(role.tasks))

    def _fill(self, template: str, rng: random.Random | None = None, **fixed: object) -> str:
        return fill(template, rng or self.rng, **(self.facts | fixed))

    async def work(self, ctx: Context, outcome: dict[str, str]) -> None:
        """Publish this agent's events; record its terminal state in `outcome` first."""
        rng, role, hub = self.rng, self.role, ctx.hub
        roll = rng.random()
        fate = (
            "failed" if roll < _FAIL_RATE else "skipped" if roll < _FAIL_RATE + _SKIP_RATE else ""
        )
        steps = rng.randint(2, 5)
        fail_at = rng.randrange(steps) if fate == "failed" else -1
        ask_at = rng.randrange(steps) if rng.random() < _ASK_RATE else -1

        await ctx.pause(rng, 0.2, 3.0)
        if fate == "skipped":
            await self._end(ctx, outcome, "skipped", {"message": rng.choice(SKIP_REASONS)})
            return
        await hub.publish("agent.started", self.name, {"task": self.task})
        verdict: str | None = None  # what the operator's answer adds to the summary
        declined = False
        for step in range(steps):
            await ctx.pause(rng, 0.5, 2.5)
            await self._noise(ctx)
            if step == fail_at:
                error = self._fill(rng.choice(ERRORS))
                await self._end(ctx, outcome, "failed", {"error": error})
                return
            message = self._fill(role.steps[step % len(role.steps)], i=step + 1, k=steps)
            await hub.publish("agent.progress", self.name, {"message": message})
            if step == ask_at:
                after, verdict = await self._ask(ctx)
                if after == "fail":
                    await self._end(ctx, outcome, "failed", {"error": verdict})
                    return
                declined = after == "decline"
        summary = self._fill(rng.choice(role.summaries))
        if declined:
            summary = f"{self.task}: held back ({verdict})"
        elif verdict is not None:
            summary = f"{summary} ({verdict})"
        await self._end(ctx, outcome, "completed", {"summary": summary})

    async def _end(
        self, ctx: Context, outcome: dict[str, str], state: str, payload: dict[str, Any]
    ) -> None:
        # Recorded before the await: if the run is stopped mid-publish, the agent already
        # has its terminal state and is not reported cancelled as well.
        outcome[self.name] = state
        await ctx.hub.publish(f"agent.{state}", self.name, payload)

    async def _noise(self, ctx: Context) -> None:
        rng = self.rng
        for _ in range(rng.randint(0, 2)):
            if rng.random() < 0.6:
                tool = rng.choice(self.role.tools)
                key, template = TOOL_ARGS[tool]
                args = {key: self._fill(template)}
                await ctx.hub.publish("tool.call", self.name, {"tool": tool, "args": args})
            else:
                tokens = rng.randint(40, 2400)
                await ctx.hub.publish("model.reply", self.name, {"tokens": tokens})

    async def _ask(self, ctx: Context) -> tuple[str, str]:
        """Ask one question and wait: ("carry on" | "decline" | "fail", a note or the error)."""
        rng, hub = self.rng, ctx.hub
        ask = rng.choice(self.role.questions)
        seed = rng.getrandbits(64)  # the same placeholder values for the text and its options
        text = self._fill(ask.text, random.Random(seed))
        options = None
        if ask.options is not None:
            options = [self._fill(option, random.Random(seed)) for option in ask.options]
        fail_on_expiry = rng.random() < _EXPIRY_FAILS
        try:
            question = await hub.ask(self.name, text, options=options, timeout=ctx.question_timeout)
            state, answer = await self._await_answer(ctx, question)
        except Exception as exc:  # a hub that cannot ask must not take the swarm down
            log.warning("swarm: %s could not get an answer to %r: %r", self.name, text, exc)
            return "fail", f"could not get an answer: {exc}"
        if state == "answered":
            await hub.publish("agent.progress", self.name, {"message": f"answer: {answer!r}"})
            if answer is not None and answer.strip().lower() in _NEGATIVE:
                return "decline", f"the operator said {answer!r}"
            return "carry on", f"the operator chose {answer!r}"
        timeout = f"{ctx.question_timeout:g}s"
        if fail_on_expiry:
            return "fail", f"no answer to {text!r} within {timeout}"
        default = options[0] if options else "the default"
        message = f"no answer within {timeout}; going with {default!r}"
        await hub.publish("agent.progress", self.name, {"message": message})
        return "carry on", f"no answer, so {default!r}"

    async def _await_answer(self, ctx: Context, question: SwarmQuestion) -> tuple[str, str | None]:
        """("answered", answer) or ("expired", None); still pending at the deadline = expired."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ctx.question_timeout + min(_GRACE, ctx.question_timeout / 10)
        while question.state == "pending":
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            question = await ctx.hub.wait(question.id, remaining)
        if question.state == "answered":
            return "answered", question.answer
        return "expired", None
