"""The run launcher (R20): checks a run request and announces it; others run the agents.

    launcher = Launcher(hub.publish, bundles={"review": ["linter", "reviewer"]}, root=".")
    launcher.on_launch(lambda request: ...)         # e.g. the demo swarm's queue
    await launcher.launch("src", "review")  # -> {"graph_id", "status": "started", "node_count"}

`launch(target, bundle)` checks that the target is a path inside the project directory
`root` that exists, and that the bundle is one of `bundles` (name -> the agents it runs; the
first is the default), then publishes `run.requested` (the launcher's recent targets are
folded from it, so they survive a restart) and `run.started` (the run shows in progress at
once), tells the `on_launch` callbacks, and returns `{"graph_id", "status": "started",
"node_count"}`. Running the agents is someone else's job: whatever listens for
`run.requested` on the bus, or an `on_launch` callback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, cast

from parlour.console.errors import InvalidRun
from parlour.console.model import CONSOLE_SOURCE

__all__ = ["DEFAULT_BUNDLES", "LaunchListener", "Launcher", "check_bundles"]

log = logging.getLogger(__name__)

DEFAULT_BUNDLES: Final[dict[str, tuple[str, ...]]] = {
    "full": (
        "planner", "indexer", "linter", "test-runner", "deployer", "reviewer",
        "scribe", "scout", "archivist", "translator", "profiler", "gardener",
    ),
    "review": ("linter", "reviewer", "test-runner"),
    "release": ("planner", "scribe", "deployer", "herald"),
}  # fmt: skip
"""The run launcher's bundles when none are configured: bundle name -> the agents it runs
(names from the demo swarm's roster, `parlour.console.demo.AGENT_NAMES`; "full" is
`agent_names(12)`). The first is the launcher's default."""

LaunchListener = Callable[[dict[str, Any]], None]
Publish = Callable[[str, str, Any], Awaitable[object]]


def check_bundles(bundles: Any) -> dict[str, tuple[str, ...]]:
    """Validate the launcher's bundles (name -> agent names); `ValueError` says what is wrong."""
    expected = (
        "expected a non-empty mapping of bundle name -> non-empty list of agent names, "
        "e.g. {'review': ['linter', 'reviewer']}"
    )
    if not isinstance(bundles, Mapping) or not bundles:
        raise ValueError(f"Hub(bundles={bundles!r:.120}): {expected}")
    checked: dict[str, tuple[str, ...]] = {}
    for name, agents in cast("Mapping[Any, Any]", bundles).items():
        if isinstance(agents, str) or not isinstance(agents, Sequence):
            raise ValueError(f"Hub(bundles=...): bundle {name!r:.60}: {expected}")
        names: list[Any] = list(cast("Sequence[Any]", agents))
        if (
            not isinstance(name, str)
            or not name.strip()
            or not names
            or not all(isinstance(a, str) and a.strip() for a in names)
        ):
            raise ValueError(f"Hub(bundles=...): bundle {name!r:.60}: {expected}")
        checked[name] = tuple(str(a) for a in names)
    return checked


class Launcher:
    """Starts runs: checks the target and the bundle, publishes, tells the listeners."""

    def __init__(
        self,
        publish: Publish,
        *,
        bundles: Mapping[str, Sequence[str]] | None = None,
        root: str | Path | None = None,
    ) -> None:
        """`bundles`: name -> agent names (the first is the default; `DEFAULT_BUNDLES` if
        None). `root`: the project directory run targets must lie in (the current
        directory if None)."""
        self._publish = publish
        self._bundles = check_bundles(DEFAULT_BUNDLES if bundles is None else bundles)
        self.root = (Path.cwd() if root is None else Path(root)).resolve()
        self._listeners: dict[int, LaunchListener] = {}
        self._next_listener = 0

    @property
    def bundles(self) -> dict[str, tuple[str, ...]]:
        """The bundles, name -> agent names, the default first."""
        return dict(self._bundles)

    @property
    def default_bundle(self) -> str:
        return next(iter(self._bundles))

    def on_launch(self, callback: LaunchListener) -> Callable[[], None]:
        """Call `callback(request)` after each `launch`, with the `run.requested` payload
        {"run_id", "target", "bundle", "agents"}; returns the function that stops it."""
        key = self._next_listener
        self._next_listener += 1
        self._listeners[key] = callback

        def unlisten() -> None:
            self._listeners.pop(key, None)

        return unlisten

    def check_target(self, target: str) -> str:
        """`target` as a path relative to `root` ("." for the root itself, "/" separated);
        `InvalidRun` if it is empty, outside the project, or does not exist."""
        if not isinstance(target, str) or not target.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidRun(f"target: expected a path inside the project, got {target!r:.80}")
        root = self.root
        try:
            path = Path(target.strip())
            resolved = (path if path.is_absolute() else root / path).resolve()
        except (OSError, ValueError, RuntimeError):
            raise InvalidRun(
                f"target: {target!r:.80} is not a usable path inside the project ({root})"
            ) from None
        if not resolved.is_relative_to(root):
            raise InvalidRun(f"target: {target!r:.80} is outside the project ({root})")
        try:
            exists = resolved.exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            raise InvalidRun(f"target: {target!r:.80} does not exist in the project")
        return resolved.relative_to(root).as_posix()

    def check_bundle(self, bundle: str | None) -> str:
        """`bundle`, or the default one for None or ""; `InvalidRun` if it is unknown."""
        if bundle is None or bundle == "":
            return self.default_bundle
        if not isinstance(bundle, str) or bundle not in self._bundles:  # pyright: ignore[reportUnnecessaryIsInstance]
            known = ", ".join(repr(name) for name in self._bundles)
            raise InvalidRun(f"bundle: unknown bundle {bundle!r:.80}; expected one of {known}")
        return bundle

    async def launch(self, target: str, bundle: str | None = None) -> dict[str, Any]:
        """Start a run of `bundle`'s agents (the default bundle if None) on `target`, a path
        inside the project: publishes `run.requested` and `run.started`, tells the
        `on_launch` callbacks, and returns {"graph_id", "status": "started", "node_count"}.
        `InvalidRun` (a `ValueError`) says what is wrong with the target or the bundle."""
        relative = self.check_target(target)
        name = self.check_bundle(bundle)
        agents = list(self._bundles[name])
        run_id = "run-" + secrets.token_hex(6)
        request = {"run_id": run_id, "target": relative, "bundle": name, "agents": agents}
        await self._publish("run.requested", CONSOLE_SOURCE, request)
        started = {"total": len(agents), "name": relative, "run_id": run_id}
        await self._publish("run.started", CONSOLE_SOURCE, started)
        for callback in tuple(self._listeners.values()):
            try:
                callback(dict(request, agents=list(agents)))
            except Exception:
                log.exception("parlour console: a launch listener failed")
        return {"graph_id": run_id, "status": "started", "node_count": len(agents)}
