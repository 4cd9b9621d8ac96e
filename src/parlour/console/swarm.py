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
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["AGENT_NAMES", "SERVICE_IDS", "SwarmHub", "SwarmQuestion", "agent_names", "run_swarm"]

log = logging.getLogger(__name__)

SOURCE = "swarm"
TERMINAL = ("completed", "failed", "skipped", "cancelled")

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


# -- the cast ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ask:
    text: str
    options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Role:
    name: str
    tasks: tuple[str, ...]
    steps: tuple[str, ...]
    summaries: tuple[str, ...]
    tools: tuple[str, ...]
    questions: tuple[_Ask, ...]


_YES_NO = ("yes", "no")

_ROLES: tuple[_Role, ...] = (
    _Role(
        "planner",
        ("plan release {version}", "break issue #{issue} into steps", "plan the {topic} work"),
        ("reading the backlog", "ranking {n} open issues", "drafting step {i} of {k}"),
        ("plan ready: {n} steps over {k} days", "{n} issues triaged, {k} deferred"),
        ("read_file", "search_issues"),
        (
            _Ask("Which should come first in {version}?", ("{topic}", "bug fixes")),
            _Ask("What should release {version} be called?"),
        ),
    ),
    _Role(
        "indexer",
        ("index {repo}", "refresh the symbol index", "embed the {topic} docs"),
        ("walking {n} files", "parsing {file}", "embedding chunk {i} of {k}"),
        ("indexed {n} files and {k}00 symbols", "index refreshed in {secs}s"),
        ("list_dir", "read_file", "embed"),
        (_Ask("Which branch of {repo} should I index?"),),
    ),
    _Role(
        "linter",
        ("lint {file}", "lint the {topic} package", "check formatting"),
        ("running ruff on {n} files", "{n} warnings so far", "checking imports in {file}"),
        ("{n} warnings, 0 errors", "clean: {n} files checked"),
        ("run_ruff", "read_file"),
        (_Ask("Found {n} lint warnings in {file}. Fix them?", ("yes", "no", "only safe fixes")),),
    ),
    _Role(
        "test-runner",
        ("run the {topic} suite", "bisect a flaky test", "run the browser tests"),
        ("collected {n} tests", "shard {i} of {k} done", "re-running tests/{topic}"),
        ("{n} passed, 0 failed in {secs}s", "{n} passed, {k} skipped"),
        ("pytest", "read_file"),
        (_Ask("{k} tests look flaky. Retry them?", _YES_NO),),
    ),
    _Role(
        "deployer",
        ("deploy build {build}", "roll back to {version}", "rotate the {topic} workers"),
        ("building image {build}", "pushing {n} layers", "health checks {i} of {k} green"),
        ("build {build} live on {k} instances", "rollout finished in {secs}s"),
        ("docker_push", "http_get", "kubectl"),
        (
            _Ask("Deploy build {build} to which environment?", ("staging", "production")),
            _Ask("The migration locks table '{table}' for about {secs}s. Proceed?", _YES_NO),
        ),
    ),
    _Role(
        "reviewer",
        ("review PR #{issue}", "review the {topic} diff"),
        ("reading {n} changed lines", "commenting on {file}", "comparing with main"),
        ("approved PR #{issue} with {k} comments", "{k} suggestions left on {file}"),
        ("git_diff", "read_file", "post_comment"),
        (_Ask("PR #{issue} changes a public API. Approve it?", ("approve", "request changes")),),
    ),
    _Role(
        "scribe",
        ("write release notes for {version}", "update the changelog", "document {topic}"),
        ("collecting {n} commits", "drafting section {i} of {k}", "checking links"),
        ("release notes: {n} entries", "changelog updated ({n} lines)"),
        ("git_log", "write_file"),
        (_Ask("The notes run to {n}0 words. Target length?", ("short", "medium", "long")),),
    ),
    _Role(
        "scout",
        ("scan dependencies for CVEs", "look for stale branches", "hunt dead code in {topic}"),
        ("checking {n} packages", "querying the advisory database", "repository {i} of {k}"),
        ("{n} packages checked, none vulnerable", "found {k} stale branches"),
        ("http_get", "pip_audit", "git_branch"),
        (_Ask("{k} packages are out of date. Upgrade them now?", _YES_NO),),
    ),
    _Role(
        "archivist",
        ("compact the event log", "snapshot the {table} table", "prune old artefacts"),
        ("copying {n} MB", "verifying checksums", "vacuuming {table}"),
        ("archived {n} MB to cold storage", "snapshot {build} verified"),
        ("sqlite", "s3_put"),
        (_Ask("Delete {n} artefacts older than 90 days?", _YES_NO),),
    ),
    _Role(
        "translator",
        ("translate the {topic} guide into {lang}", "sync the {lang} strings"),
        ("translating {file}", "page {i} of {k} done", "checking glossary terms"),
        ("{n} strings translated into {lang}", "{lang} guide up to date"),
        ("translate", "read_file"),
        (_Ask("How should 'conversation' be translated into {lang}?"),),
    ),
    _Role(
        "profiler",
        ("profile the {topic} hot path", "measure p99 latency", "hunt a memory leak"),
        ("sampling {n} stacks", "flame graph {i} of {k}", "comparing with build {build}"),
        ("hot spot: {file} ({k}0% of time)", "p99 {n} ms, within budget"),
        ("py_spy", "http_get"),
        (_Ask("Which build should I compare against?"),),
    ),
    _Role(
        "gardener",
        ("tidy the issue tracker", "close stale issues", "label new issues"),
        ("reading {n} issues", "labelling #{issue}", "merging duplicates"),
        ("closed {n} stale issues", "labelled {n} issues"),
        ("search_issues", "post_comment"),
        (_Ask("Close {n} issues with no activity for a year?", _YES_NO),),
    ),
    _Role(
        "cartographer",
        ("map the service dependencies", "draw the {topic} call graph"),
        ("tracing {n} calls", "laying out layer {i} of {k}", "reading {file}"),
        ("map drawn: {n} edges, {k} clusters", "{topic} call graph updated"),
        ("read_file", "render_svg"),
        (_Ask("Which format should the map be in?", ("svg", "mermaid", "ascii")),),
    ),
    _Role(
        "oracle",
        ("forecast next week's load", "predict the {topic} build time"),
        ("fitting {n} data points", "simulating scenario {i} of {k}"),
        ("forecast: peak {n} req/s on day {k}", "expect {secs}s builds"),
        ("query_metrics",),
        (_Ask("Forecast horizon?", ("one week", "one month")),),
    ),
    _Role(
        "herald",
        ("announce release {version}", "post the weekly status update"),
        ("drafting the announcement", "collecting {n} highlights", "posting to channel {i}"),
        ("announced {version} in {k} channels", "status update posted"),
        ("post_message",),
        (_Ask("Post the announcement now?", _YES_NO),),
    ),
    _Role(
        "tinkerer",
        ("prototype a faster {topic}", "try the {topic} idea from #{issue}"),
        ("sketching approach {i} of {k}", "benchmarking {n} iterations", "reading {file}"),
        ("prototype {k}x faster on the benchmark", "idea from #{issue} parked"),
        ("run_bench", "write_file"),
        (_Ask("Which approach should I keep?"),),
    ),
)

AGENT_NAMES: tuple[str, ...] = tuple(role.name for role in _ROLES)
"""The agents' names, in roster order; `agent_names(n)` takes the first n (suffixed past 16)."""

_ROLE_BY_NAME: dict[str, _Role] = {role.name: role for role in _ROLES}


def _role_of(name: str) -> _Role:
    """The role an agent of a launched run plays: by its name ("linter", "linter-2"), else
    one picked by a stable hash of the name."""
    role = _ROLE_BY_NAME.get(name)
    if role is None:
        base, _, suffix = name.rpartition("-")
        role = _ROLE_BY_NAME.get(base) if suffix.isdigit() else None
    if role is None:
        role = _ROLES[zlib.crc32(name.encode()) % len(_ROLES)]
    return role


_TOOL_ARGS: dict[str, tuple[str, str]] = {
    "read_file": ("path", "{file}"),
    "write_file": ("path", "docs/{topic}.md"),
    "list_dir": ("path", "src/parlour/{topic}"),
    "search_issues": ("query", "{topic} is:open"),
    "embed": ("chunks", "{n}"),
    "run_ruff": ("path", "src/parlour/{topic}"),
    "pytest": ("args", "tests/{topic} -q"),
    "docker_push": ("image", "parlour:{build}"),
    "http_get": ("url", "http://127.0.0.1:8000/healthz"),
    "kubectl": ("args", "rollout status deploy/{topic}"),
    "git_diff": ("range", "main...pr-{issue}"),
    "git_log": ("range", "v{version}..HEAD"),
    "git_branch": ("args", "--merged"),
    "post_comment": ("issue", "#{issue}"),
    "pip_audit": ("requirements", "pyproject.toml"),
    "sqlite": ("sql", "VACUUM {table}"),
    "s3_put": ("key", "archive/{build}.tar.zst"),
    "translate": ("lang", "{lang}"),
    "py_spy": ("duration", "{secs}s"),
    "render_svg": ("nodes", "{n}"),
    "query_metrics": ("range", "{k}d"),
    "post_message": ("channel", "#releases"),
    "run_bench": ("iterations", "{n}"),
}

_SKIP_REASONS = (
    "nothing to do: no changes since the last run",
    "skipped: already done by an earlier run",
    "skipped: its input is not ready",
)
_ERRORS = (
    "timed out after {secs}s waiting for the api",
    "exit status 1: {k} checks failed",
    "rate limited by the model provider (429)",
    "could not read {file}: permission denied",
    "worker lost: the pool restarted mid-task",
)
_RUN_KINDS = ("nightly", "release", "hotfix", "refactor", "docs sweep", "chore")

_FILES = (
    "kernel.py", "runtime.py", "memory.py", "nats.py", "app.py", "flow.py", "sqlite.py",
    "shell.py", "component.py", "effects.py",
)  # fmt: skip
_TOPICS = ("core", "runtime", "bus", "stores", "wire", "web", "console", "ui")
_REPOS = ("parlour", "datastar", "stube")
_TABLES = ("conversations", "events", "sessions")
_LANGS = ("French", "German", "Japanese", "Portuguese", "Welsh")


def _fill(template: str, rng: random.Random, **fixed: object) -> str:
    """`template` with its `{placeholders}` drawn from `rng` (always the same draws)."""
    k = rng.randint(2, 9)
    values: dict[str, object] = {
        "n": rng.randint(2, 400),
        "k": k,
        "i": rng.randint(1, k),
        "secs": rng.randint(2, 90),
        "ms": rng.randint(2, 120),
        "pid": rng.randint(300, 65_000),
        "code": rng.choice((1, 2, 137, 143)),
        "file": rng.choice(_FILES),
    }
    return template.format_map(values | _facts(rng) | fixed)


def _facts(rng: random.Random) -> dict[str, object]:
    """The placeholders that name things; an agent keeps one set for a whole task."""
    return {
        "issue": rng.randint(100, 999),
        "version": f"0.{rng.randint(1, 9)}.{rng.randint(0, 20)}",
        "build": f"{rng.getrandbits(28):07x}",
        "topic": rng.choice(_TOPICS),
        "repo": rng.choice(_REPOS),
        "table": rng.choice(_TABLES),
        "lang": rng.choice(_LANGS),
    }


def agent_names(count: int) -> list[str]:
    """The names of a swarm of `count` agents: the roster, then "planner-2", "indexer-2", …"""
    size = len(_ROLES)
    return [_ROLES[i % size].name + ("" if i < size else f"-{i // size + 1}") for i in range(count)]


# -- services ---------------------------------------------------------------------------------


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


class _ServiceBoard:
    """The simulated services: all Running at first, now and then one of them changes."""

    def __init__(self, hub: SwarmHub, rng: random.Random) -> None:
        self._hub = hub
        self._rng = rng
        self._services = _services()
        for service in self._services:
            service.message = _fill(service.healthy, rng)

    async def announce(self) -> None:
        for service in self._services:
            await self._hub.publish("service.status", service.id, service.payload())

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
            service.action = _fill(rng.choice(_ROUTINE_ACTIONS), rng)
        if service.status == "Running":
            template = service.healthy
        elif service.port is None:
            template = _PORTLESS_MESSAGES.get(service.status, _BAD_MESSAGES[service.status])
        else:
            template = _BAD_MESSAGES[service.status]
        service.message = _fill(template, rng, port=service.port)
        await self._hub.publish("service.status", service.id, service.payload())


# -- agents -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    hub: SwarmHub
    pace: float
    question_timeout: float

    async def pause(self, rng: random.Random, low: float, high: float) -> None:
        # The draw happens whatever the pace, so a seed means the same events at any pace.
        await asyncio.sleep(rng.uniform(low, high) * self.pace)


class _Agent:
    """One agent's work in one run. Its whole script comes from its own `rng`."""

    def __init__(self, name: str, role: _Role, rng: random.Random) -> None:
        self.name = name
        self.role = role
        self.rng = rng
        # What this task is about, fixed for the run: "deploy build 1a2b3c4" pushes that build.
        self.facts = _facts(rng)
        self.task = self._fill(rng.choice(role.tasks))

    def _fill(self, template: str, rng: random.Random | None = None, **fixed: object) -> str:
        return _fill(template, rng or self.rng, **(self.facts | fixed))

    async def work(self, ctx: _Context, outcome: dict[str, str]) -> None:
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
            await self._end(ctx, outcome, "skipped", {"message": rng.choice(_SKIP_REASONS)})
            return
        await hub.publish("agent.started", self.name, {"task": self.task})
        verdict: str | None = None  # what the operator's answer adds to the summary
        declined = False
        for step in range(steps):
            await ctx.pause(rng, 0.5, 2.5)
            await self._noise(ctx)
            if step == fail_at:
                error = self._fill(rng.choice(_ERRORS))
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
        self, ctx: _Context, outcome: dict[str, str], state: str, payload: dict[str, Any]
    ) -> None:
        # Recorded before the await: if the run is stopped mid-publish, the agent already
        # has its terminal state and is not reported cancelled as well.
        outcome[self.name] = state
        await ctx.hub.publish(f"agent.{state}", self.name, payload)

    async def _noise(self, ctx: _Context) -> None:
        rng = self.rng
        for _ in range(rng.randint(0, 2)):
            if rng.random() < 0.6:
                tool = rng.choice(self.role.tools)
                key, template = _TOOL_ARGS[tool]
                args = {key: self._fill(template)}
                await ctx.hub.publish("tool.call", self.name, {"tool": tool, "args": args})
            else:
                tokens = rng.randint(40, 2400)
                await ctx.hub.publish("model.reply", self.name, {"tokens": tokens})

    async def _ask(self, ctx: _Context) -> tuple[str, str]:
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

    async def _await_answer(self, ctx: _Context, question: SwarmQuestion) -> tuple[str, str | None]:
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


# -- runs -------------------------------------------------------------------------------------


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
        self.ctx = _Context(hub, pace, question_timeout)
        self.requests = requests
        self.pending: _Request | None = None  # taken from the queue, to run next
        self.names = agent_names(agents)
        self.rng = random.Random(seed)
        self.board = _ServiceBoard(hub, random.Random(self.rng.getrandbits(64)))
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
            roles = [_ROLES[i % len(_ROLES)] for i in range(len(names))]
        else:
            names = list(request.agents)
            roles = [_role_of(name) for name in names]
        agents = [
            _Agent(name, role, random.Random(rng.getrandbits(64)))
            for name, role in zip(names, roles, strict=True)
        ]
        total = len(agents)
        ident: dict[str, Any]
        if request is None:
            title = f"{rng.choice(_RUN_KINDS)} #{number}"
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
        agents: Sequence[_Agent],
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

    async def _report_stopped(self, agents: Sequence[_Agent], outcome: dict[str, str]) -> None:
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
