"""The demo swarm's cast: sixteen roles, what each says, and the names agents go by.

Data, mostly: each `Role` has task, step and summary templates, the tools it calls and
the questions it may ask. `{placeholders}` in a template are drawn by `fill` from a
`random.Random`, so the same seed always tells the same story.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

__all__ = [
    "AGENT_NAMES",
    "ERRORS",
    "ROLES",
    "RUN_KINDS",
    "SKIP_REASONS",
    "TOOL_ARGS",
    "Ask",
    "Role",
    "agent_names",
    "facts",
    "fill",
    "role_of",
]


@dataclass(frozen=True, slots=True)
class Ask:
    text: str
    options: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    tasks: tuple[str, ...]
    steps: tuple[str, ...]
    summaries: tuple[str, ...]
    tools: tuple[str, ...]
    questions: tuple[Ask, ...]


_YES_NO = ("yes", "no")

ROLES: tuple[Role, ...] = (
    Role(
        "planner",
        ("plan release {version}", "break issue #{issue} into steps", "plan the {topic} work"),
        ("reading the backlog", "ranking {n} open issues", "drafting step {i} of {k}"),
        ("plan ready: {n} steps over {k} days", "{n} issues triaged, {k} deferred"),
        ("read_file", "search_issues"),
        (
            Ask("Which should come first in {version}?", ("{topic}", "bug fixes")),
            Ask("What should release {version} be called?"),
        ),
    ),
    Role(
        "indexer",
        ("index {repo}", "refresh the symbol index", "embed the {topic} docs"),
        ("walking {n} files", "parsing {file}", "embedding chunk {i} of {k}"),
        ("indexed {n} files and {k}00 symbols", "index refreshed in {secs}s"),
        ("list_dir", "read_file", "embed"),
        (Ask("Which branch of {repo} should I index?"),),
    ),
    Role(
        "linter",
        ("lint {file}", "lint the {topic} package", "check formatting"),
        ("running ruff on {n} files", "{n} warnings so far", "checking imports in {file}"),
        ("{n} warnings, 0 errors", "clean: {n} files checked"),
        ("run_ruff", "read_file"),
        (Ask("Found {n} lint warnings in {file}. Fix them?", ("yes", "no", "only safe fixes")),),
    ),
    Role(
        "test-runner",
        ("run the {topic} suite", "bisect a flaky test", "run the browser tests"),
        ("collected {n} tests", "shard {i} of {k} done", "re-running tests/{topic}"),
        ("{n} passed, 0 failed in {secs}s", "{n} passed, {k} skipped"),
        ("pytest", "read_file"),
        (Ask("{k} tests look flaky. Retry them?", _YES_NO),),
    ),
    Role(
        "deployer",
        ("deploy build {build}", "roll back to {version}", "rotate the {topic} workers"),
        ("building image {build}", "pushing {n} layers", "health checks {i} of {k} green"),
        ("build {build} live on {k} instances", "rollout finished in {secs}s"),
        ("docker_push", "http_get", "kubectl"),
        (
            Ask("Deploy build {build} to which environment?", ("staging", "production")),
            Ask("The migration locks table '{table}' for about {secs}s. Proceed?", _YES_NO),
        ),
    ),
    Role(
        "reviewer",
        ("review PR #{issue}", "review the {topic} diff"),
        ("reading {n} changed lines", "commenting on {file}", "comparing with main"),
        ("approved PR #{issue} with {k} comments", "{k} suggestions left on {file}"),
        ("git_diff", "read_file", "post_comment"),
        (Ask("PR #{issue} changes a public API. Approve it?", ("approve", "request changes")),),
    ),
    Role(
        "scribe",
        ("write release notes for {version}", "update the changelog", "document {topic}"),
        ("collecting {n} commits", "drafting section {i} of {k}", "checking links"),
        ("release notes: {n} entries", "changelog updated ({n} lines)"),
        ("git_log", "write_file"),
        (Ask("The notes run to {n}0 words. Target length?", ("short", "medium", "long")),),
    ),
    Role(
        "scout",
        ("scan dependencies for CVEs", "look for stale branches", "hunt dead code in {topic}"),
        ("checking {n} packages", "querying the advisory database", "repository {i} of {k}"),
        ("{n} packages checked, none vulnerable", "found {k} stale branches"),
        ("http_get", "pip_audit", "git_branch"),
        (Ask("{k} packages are out of date. Upgrade them now?", _YES_NO),),
    ),
    Role(
        "archivist",
        ("compact the event log", "snapshot the {table} table", "prune old artefacts"),
        ("copying {n} MB", "verifying checksums", "vacuuming {table}"),
        ("archived {n} MB to cold storage", "snapshot {build} verified"),
        ("sqlite", "s3_put"),
        (Ask("Delete {n} artefacts older than 90 days?", _YES_NO),),
    ),
    Role(
        "translator",
        ("translate the {topic} guide into {lang}", "sync the {lang} strings"),
        ("translating {file}", "page {i} of {k} done", "checking glossary terms"),
        ("{n} strings translated into {lang}", "{lang} guide up to date"),
        ("translate", "read_file"),
        (Ask("How should 'conversation' be translated into {lang}?"),),
    ),
    Role(
        "profiler",
        ("profile the {topic} hot path", "measure p99 latency", "hunt a memory leak"),
        ("sampling {n} stacks", "flame graph {i} of {k}", "comparing with build {build}"),
        ("hot spot: {file} ({k}0% of time)", "p99 {n} ms, within budget"),
        ("py_spy", "http_get"),
        (Ask("Which build should I compare against?"),),
    ),
    Role(
        "gardener",
        ("tidy the issue tracker", "close stale issues", "label new issues"),
        ("reading {n} issues", "labelling #{issue}", "merging duplicates"),
        ("closed {n} stale issues", "labelled {n} issues"),
        ("search_issues", "post_comment"),
        (Ask("Close {n} issues with no activity for a year?", _YES_NO),),
    ),
    Role(
        "cartographer",
        ("map the service dependencies", "draw the {topic} call graph"),
        ("tracing {n} calls", "laying out layer {i} of {k}", "reading {file}"),
        ("map drawn: {n} edges, {k} clusters", "{topic} call graph updated"),
        ("read_file", "render_svg"),
        (Ask("Which format should the map be in?", ("svg", "mermaid", "ascii")),),
    ),
    Role(
        "oracle",
        ("forecast next week's load", "predict the {topic} build time"),
        ("fitting {n} data points", "simulating scenario {i} of {k}"),
        ("forecast: peak {n} req/s on day {k}", "expect {secs}s builds"),
        ("query_metrics",),
        (Ask("Forecast horizon?", ("one week", "one month")),),
    ),
    Role(
        "herald",
        ("announce release {version}", "post the weekly status update"),
        ("drafting the announcement", "collecting {n} highlights", "posting to channel {i}"),
        ("announced {version} in {k} channels", "status update posted"),
        ("post_message",),
        (Ask("Post the announcement now?", _YES_NO),),
    ),
    Role(
        "tinkerer",
        ("prototype a faster {topic}", "try the {topic} idea from #{issue}"),
        ("sketching approach {i} of {k}", "benchmarking {n} iterations", "reading {file}"),
        ("prototype {k}x faster on the benchmark", "idea from #{issue} parked"),
        ("run_bench", "write_file"),
        (Ask("Which approach should I keep?"),),
    ),
)

AGENT_NAMES: tuple[str, ...] = tuple(role.name for role in ROLES)
"""The agents' names, in roster order; `agent_names(n)` takes the first n (suffixed past 16)."""

_ROLE_BY_NAME: dict[str, Role] = {role.name: role for role in ROLES}


def role_of(name: str) -> Role:
    """The role an agent of a launched run plays: by its name ("linter", "linter-2"), else
    one picked by a stable hash of the name."""
    role = _ROLE_BY_NAME.get(name)
    if role is None:
        base, _, suffix = name.rpartition("-")
        role = _ROLE_BY_NAME.get(base) if suffix.isdigit() else None
    if role is None:
        role = ROLES[zlib.crc32(name.encode()) % len(ROLES)]
    return role


TOOL_ARGS: dict[str, tuple[str, str]] = {
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

SKIP_REASONS = (
    "nothing to do: no changes since the last run",
    "skipped: already done by an earlier run",
    "skipped: its input is not ready",
)
ERRORS = (
    "timed out after {secs}s waiting for the api",
    "exit status 1: {k} checks failed",
    "rate limited by the model provider (429)",
    "could not read {file}: permission denied",
    "worker lost: the pool restarted mid-task",
)
RUN_KINDS = ("nightly", "release", "hotfix", "refactor", "docs sweep", "chore")

_FILES = (
    "kernel.py", "runtime.py", "memory.py", "nats.py", "app.py", "flow.py", "sqlite.py",
    "shell.py", "component.py", "effects.py",
)  # fmt: skip
_TOPICS = ("core", "runtime", "bus", "stores", "wire", "web", "console", "ui")
_REPOS = ("parlour", "datastar", "stube")
_TABLES = ("conversations", "events", "sessions")
_LANGS = ("French", "German", "Japanese", "Portuguese", "Welsh")


def fill(template: str, rng: random.Random, **fixed: object) -> str:
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
    return template.format_map(values | facts(rng) | fixed)


def facts(rng: random.Random) -> dict[str, object]:
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
    size = len(ROLES)
    return [ROLES[i % size].name + ("" if i < size else f"-{i // size + 1}") for i in range(count)]
