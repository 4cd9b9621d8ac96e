"""Figures for the console's Status and Config pages: the process, its loop, its configuration.

    lag = LoopLag(); lag.start()          # in the event loop; lag.lag_ms, later lag.stop()
    cpu = CpuMeter(); cpu.percent()       # % of one core since the previous call
    gc_watch = GcWatch(); gc_watch.install()        # last_pause_ms, collections
    process_figures(started=t0)           # Figures(pid, python, rss, memory_percent, load, …)
    memory_level(72.0)                    # "warn"
    health(["Running", "Stale", "ok"])    # ("degraded", "Degraded")
    environment(names=ENV_NAMES)          # [EnvVar(name, set, hint)], never a value
    env_counter(vars)                     # "3 of 5 set"
    build_info()                          # {"parlour": "0.1.0", "git": "58c2897d2a1f", …}
    binaries()                            # [Binary("nats-server", "/usr/bin/nats-server"), …]

Standard library only. On Linux the figures come from /proc (resident memory, total RAM,
process start); elsewhere they fall back to `resource`/`sysconf` or to zero, never raise.
The git hash is read from `.git` as files (HEAD, refs, packed-refs): no subprocess.

Secrets: `environment` reports whether a variable is set, never its value, for every
variable alike; nothing here returns the content of the environment.

What this module does not do: render, keep history, or run a ticker (the Status page's
`parlour.console.status` samples these every few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.metadata
import math
import os
import platform
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

import msgspec

__all__ = [
    "DEFAULT_BINARIES",
    "ENV_HINTS",
    "ENV_NAMES",
    "Binary",
    "CpuMeter",
    "EnvVar",
    "Figures",
    "GcWatch",
    "LoopLag",
    "bad",
    "binaries",
    "build_info",
    "env_counter",
    "environment",
    "health",
    "memory_level",
    "process_figures",
    "process_started",
]

_IMPORTED = time.time()

# -- the event loop, the CPU, the garbage collector ---------------------------------------------


class LoopLag:
    """Event-loop lag: how late a sleep of `interval` seconds wakes up, in milliseconds.

    `start()` (inside a running loop) starts a task that sleeps `interval` over and over and
    records each overshoot; a loop blocked by a slow callback shows up as a late wake-up.
    `lag_ms` is the largest of the newest `window` samples (a blocked moment stays visible
    for about `interval * window` seconds), `last_ms` the newest; both 0.0 before any sample.
    """

    def __init__(self, interval: float = 0.5, *, window: int = 10) -> None:
        if interval <= 0:
            raise ValueError(f"LoopLag(interval={interval!r}): expected seconds > 0")
        if window < 1:
            raise ValueError(f"LoopLag(window={window!r}): expected 1 or more")
        self.interval = interval
        self._samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    @property
    def lag_ms(self) -> float:
        return max(self._samples, default=0.0)

    @property
    def last_ms(self) -> float:
        return self._samples[-1] if self._samples else 0.0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start measuring in the running loop (a no-op when already running)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._measure(), name="loop-lag")

    def stop(self) -> None:
        """Stop measuring; the samples so far are kept."""
        if self._task is not None:
            self._task.cancel()

    async def aclose(self) -> None:
        """`stop()`, then wait until the measuring task has finished."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(self.interval)
            late = loop.time() - began - self.interval
            self._samples.append(max(0.0, late) * 1000.0)


class CpuMeter:
    """This process's CPU use: `percent()` since the previous call, as % of one core.

    User plus system time (`time.process_time`) over wall time (`time.monotonic`), so a
    process busy on two threads can read 200 %. The first call has nothing to compare with
    and returns 0.0; so does a call with no wall time elapsed. Never negative.
    """

    def __init__(
        self,
        *,
        cpu_time: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cpu_time = cpu_time
        self._clock = clock
        self._last: tuple[float, float] | None = None

    def percent(self) -> float:
        now = (self._clock(), self._cpu_time())
        last, self._last = self._last, now
        if last is None:
            return 0.0
        wall = now[0] - last[0]
        if wall <= 0:
            return 0.0
        return max(0.0, (now[1] - last[1]) / wall * 100.0)


class GcWatch:
    """Times the garbage collector's pauses through `gc.callbacks`.

    After `install()`: `collections` counts the collections seen, `last_pause_ms` is the
    newest one's duration (0.0 before any), `max_pause_ms` and `total_pause_ms` add up, and
    `last_generation` is the generation collected (-1 before any). `uninstall()` removes the
    callback; both are idempotent. Also a context manager (installs on enter).
    """

    def __init__(self) -> None:
        self.collections = 0
        self.last_pause_ms = 0.0
        self.max_pause_ms = 0.0
        self.total_pause_ms = 0.0
        self.last_generation = -1
        self._began: float | None = None
        self._hook = self._on_gc  # one bound method, so `uninstall` finds it again

    @property
    def installed(self) -> bool:
        return any(hook is self._hook for hook in gc.callbacks)

    def install(self) -> None:
        if not self.installed:
            gc.callbacks.append(self._hook)

    def uninstall(self) -> None:
        gc.callbacks[:] = [hook for hook in gc.callbacks if hook is not self._hook]
        self._began = None

    def __enter__(self) -> Self:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif phase == "stop" and self._began is not None:
            pause = (time.perf_counter() - self._began) * 1000.0
            self._began = None
            self.collections += 1
            self.last_pause_ms = pause
            self.max_pause_ms = max(self.max_pause_ms, pause)
            self.total_pause_ms += pause
            self.last_generation = info.get("generation", -1)


# -- the process --------------------------------------------------------------------------------


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """One sample of the process, as plain data (`msgspec.json.encode` works on it).

    Unknown figures are 0 rather than missing, so a page can always format them:
    `rss`, `memory_total` and the memory percentages are 0 where /proc and `resource` are
    both unavailable, `load` is (0.0, 0.0, 0.0) where the OS has no load average.
    """

    pid: int
    python: str  # "3.13.0"
    implementation: str  # "CPython"
    platform: str  # "linux/x86_64"
    started: float  # unix seconds
    uptime: float  # seconds
    rss: int  # resident memory, bytes (peak resident where only getrusage knows)
    memory_total: int  # bytes of RAM in the machine
    memory_percent: float  # rss as % of memory_total (the 65/85 % bar)
    system_memory_percent: float  # RAM in use by everything, % of memory_total
    load: tuple[float, float, float]
    cpu_count: int
    threads: int
    tasks: int  # asyncio tasks in the running loop (0 outside one)
    gc_counts: tuple[int, int, int]  # objects tracked per generation (gc.get_count)
    gc_collections: int  # collections since start, all generations (gc.get_stats)
    gc_collected: int  # objects they freed
    gc_last_pause_ms: float  # from a GcWatch when given, else 0.0


def process_figures(
    *,
    started: float | None = None,
    gc_watch: GcWatch | None = None,
    now: float | None = None,
) -> Figures:
    """A sample of this process now. `started`: unix seconds to count uptime from
    (default: when the process started, see `process_started`)."""
    now = time.time() if now is None else now
    started = process_started() if started is None else started
    rss = _rss()
    meminfo = _meminfo()
    total = meminfo.get("MemTotal", 0) or _sysconf_total()
    available = meminfo.get("MemAvailable")
    if available is None and "MemFree" in meminfo:
        available = sum(meminfo.get(key, 0) for key in ("MemFree", "Buffers", "Cached"))
    stats = gc.get_stats()
    count0, count1, count2 = gc.get_count()
    return Figures(
        pid=os.getpid(),
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=_platform(),
        started=started,
        uptime=max(0.0, now - started),
        rss=rss,
        memory_total=total,
        memory_percent=_percent(rss, total),
        system_memory_percent=_percent(total - available, total) if available is not None else 0.0,
        load=_load(),
        cpu_count=os.cpu_count() or 1,
        threads=threading.active_count(),
        tasks=_tasks(),
        gc_counts=(count0, count1, count2),
        gc_collections=sum(s.get("collections", 0) for s in stats),
        gc_collected=sum(s.get("collected", 0) for s in stats),
        gc_last_pause_ms=gc_watch.last_pause_ms if gc_watch is not None else 0.0,
    )


def process_started() -> float:
    """Unix seconds when this process started (Linux: /proc; elsewhere: when this module
    was imported)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        since_boot = float(Path("/proc/uptime").read_text().split()[0])
        # Fields after the command name, which is in parentheses and may hold spaces:
        # field 3 (state) is index 0, so field 22 (starttime, in clock ticks) is index 19.
        ticks = int(stat.rpartition(")")[2].split()[19])
        return time.time() - (since_boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _IMPORTED


def _platform() -> str:
    system = sys.platform.removesuffix("32") if sys.platform == "win32" else sys.platform
    return f"{system}/{platform.machine() or 'unknown'}"


def _percent(part: float, whole: float) -> float:
    return part / whole * 100.0 if whole > 0 else 0.0


def _rss() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, else KiB


def _meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes ({} where there is none)."""
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
            out[key] = int(parts[0]) * scale
    return out


def _sysconf_total() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 0


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):  # Windows has none; some systems refuse
        return (0.0, 0.0, 0.0)


def _tasks() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # no running loop
        return 0


# -- levels and the health banner ---------------------------------------------------------------

MEMORY_WARN = 65.0
MEMORY_CRITICAL = 85.0

_GOOD = frozenset({"running", "standby", "ok"})
_CRITICAL = frozenset({"critical", "error"})


def memory_level(percent: float) -> str:
    """ "ok" below 65 %, "warn" from 65 %, "critical" from 85 % (R23's bar colours).

    NaN (no figure) is "ok": a missing number is not an alarm.
    """
    if math.isnan(percent) or percent < MEMORY_WARN:
        return "ok"
    return "warn" if percent < MEMORY_CRITICAL else "critical"


def bad(level: str) -> bool:
    """Is `level` (a service status or a level) not good, as `health` counts it?"""
    return level.strip().lower() not in _GOOD


def health(levels: Iterable[str]) -> tuple[str, str]:
    """The banner for a set of levels: (tone, text), tone one of "ok", "degraded", "critical".

    `levels` mixes service statuses and levels, compared case-insensitively:
    good are Running, Standby and ok; critical are critical and error; everything else
    (Stale, Stopped, Conflict, In Use, warn, or a status we do not know) is bad. Then:

        any critical, or more than half bad  -> ("critical", "Attention required")
        any bad                               -> ("degraded", "Degraded")
        otherwise (also: nothing to judge)    -> ("ok", "All systems operational")

    So one Stale service among four reads "Degraded", three of four "Attention required".
    """
    total = bad = 0
    for level in levels:
        key = level.strip().lower()
        total += 1
        if key in _CRITICAL:
            return ("critical", "Attention required")
        if key not in _GOOD:
            bad += 1
    if bad * 2 > total:
        return ("critical", "Attention required")
    if bad:
        return ("degraded", "Degraded")
    return ("ok", "All systems operational")


# -- configuration: environment, build, binaries ------------------------------------------------

ENV_HINTS: Mapping[str, str] = {
    "PARLOUR_SECRET": "signs session cookies; unset: a secret generated once in .parlour/secret",
    "PARLOUR_CONSOLE_TOKEN": "bearer token the /api endpoints require; unset: the API is open",
    "PARLOUR_DATASTAR_JS": "Datastar bundle, a file or URL; unset: the pinned CDN build",
    "PARLOUR_BUS": "event bus: memory or nats://HOST:PORT; unset: the in-process bus",
    "PARLOUR_STORE": "conversation store: memory, file:DIR or sqlite:PATH; unset: the default",
}
"""What each environment variable the console reports does, and what happens without it."""

ENV_NAMES: tuple[str, ...] = tuple(ENV_HINTS)

DEFAULT_BINARIES: tuple[str, ...] = ("nats-server", "chromium", "sqlite3")


class EnvVar(msgspec.Struct, frozen=True):
    """One environment variable: whether it is set (non-empty). Its value is never kept."""

    name: str
    set: bool
    hint: str = ""


class Binary(NamedTuple):
    name: str
    path: str | None  # None: not found


def environment(
    env: Mapping[str, str] | None = None, *, names: Sequence[str] = ENV_NAMES
) -> list[EnvVar]:
    """Which of `names` are set in `env` (default `os.environ`), in the order given.

    A variable set to the empty string counts as not set (nothing here reads "" as a
    value). Only presence is reported, never the value: secrets cannot leak through this.
    """
    source: Mapping[str, str] = os.environ if env is None else env
    return [EnvVar(name, bool(source.get(name)), ENV_HINTS.get(name, "")) for name in names]


def env_counter(variables: Iterable[EnvVar]) -> str:
    """ "X of Y set", e.g. "3 of 5 set"."""
    items = list(variables)
    return f"{sum(1 for v in items if v.set)} of {len(items)} set"


def build_info(root: Path | str | None = None) -> dict[str, str]:
    """{"parlour": version, "git": 12-digit commit or "unknown", "python", "implementation",
    "platform"}. The version comes from the installed package metadata ("dev" when it is not
    installed); the commit from the `.git` found above `root` (default: this source file)."""
    try:
        version = importlib.metadata.version("parlour")
    except importlib.metadata.PackageNotFoundError:
        version = "dev"
    start = Path(root) if root is not None else Path(__file__).resolve().parent
    commit = _git_commit(start)
    return {
        "parlour": version,
        "git": commit[:12] if commit else "unknown",
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": _platform(),
    }


def _git_commit(start: Path) -> str | None:
    """The commit HEAD names, read from the repository holding `start`; None if none."""
    for folder in (start, *start.parents):
        dotgit = folder / ".git"
        try:
            if dotgit.is_dir():
                return _resolve_head(dotgit)
            if dotgit.is_file():  # a worktree or submodule: "gitdir: PATH"
                text = dotgit.read_text().strip()
                if text.startswith("gitdir:"):
                    return _resolve_head(folder / text.removeprefix("gitdir:").strip())
                return None
        except OSError:
            return None
    return None


def _resolve_head(gitdir: Path) -> str | None:
    head = (gitdir / "HEAD").read_text().strip()
    if not head.startswith("ref:"):
        return head if _is_commit(head) else None  # a detached HEAD
    ref = head.removeprefix("ref:").strip()
    common = gitdir
    if (gitdir / "commondir").is_file():  # a worktree keeps its refs in the main .git
        common = (gitdir / (gitdir / "commondir").read_text().strip()).resolve()
    for base in (gitdir, common):
        loose = base / ref
        if loose.is_file():
            commit = loose.read_text().strip()
            return commit if _is_commit(commit) else None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            commit, _, name = line.partition(" ")
            if name.strip() == ref and _is_commit(commit):
                return commit
    return None


def _is_commit(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def binaries(names: Sequence[str] = DEFAULT_BINARIES) -> list[Binary]:
    """Where each of `names` is: on PATH, else beside this Python (a virtualenv's bin)."""
    beside = str(Path(sys.executable).parent)
    return [Binary(name, shutil.which(name) or shutil.which(name, path=beside)) for name in names]
