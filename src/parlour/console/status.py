"""The Status and Config pages' shared views: process figures, health, effective configuration.

`Figures` samples the process every `tick` seconds (CPU, memory, event-loop lag, streams,
conversations, bus rate), keeps the newest sample, and re-renders the views that show it,
so "Last updated" moves even when nothing else happens (R23, R25). Rendering reads only the
sample: two renders of one sample are identical.

    health     the banner: services' levels and the memory level, naming what is wrong
               (R23); "No services reporting" when none has reported, never "All systems
               operational" about nothing
    activity   the Agents page's chart: events per second and questions waiting over the
               last hour (`parlour.console.activity`), one point per 10 s bucket
    figures    process, runtime and memory figures, with a memory bar (65/85 % thresholds)
    readiness  the Config banner: "X of Y set" for the environment variables (R25)
    settings   the effective live settings (the form to change them is on the page)
    config     environment, build, paths, environment variables, binaries
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import time
from typing import TYPE_CHECKING, Any

from htpy import Element, code, div, li, section, span, ul

from parlour.console import figures as fig
from parlour.console.activity import Activity, chart
from parlour.console.panels import figure_table, heading, meter
from parlour.runtime.views import SharedViews

if TYPE_CHECKING:
    from parlour.console.app import Console

__all__ = ["Figures"]


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s"


class Figures:
    """The sampled process figures and the views that render them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.cpu = fig.CpuMeter()
        self.lag = fig.LoopLag()
        self.gc = fig.GcWatch()
        self.sample: dict[str, Any] = {}
        self.updated = 0.0
        self.activity = Activity()

    def register(self, views: SharedViews) -> None:
        self.take(stored=None)
        views.add("health", self.health)
        views.add("figures", self.figures)
        views.add("readiness", self.readiness)
        views.add("settings", self.settings)
        views.add("config", self.config)
        views.add("activity", lambda: chart(self.activity))

    async def run(self, tick: float) -> None:
        """Sample every `tick` seconds and re-render the views that show the sample."""
        self.lag.start()
        self.gc.install()
        try:
            while True:
                await asyncio.sleep(tick)
                try:
                    stored = await self.console.pages.store.count()
                except Exception:  # a store that cannot count still lets the page live
                    stored = None
                self.take(stored=stored)
                views = self.console.pages.views
                # The agents view judges silence by the clock: a tick may make one stale.
                views.invalidate("health", "figures", "readiness", "config", "agents")
                if self.record(time.time()):
                    views.invalidate("activity")
        finally:
            self.lag.stop()
            self.gc.uninstall()

    def take(self, *, stored: int | None) -> None:
        pages = self.console.pages
        hub = self.console.hub
        self.sample = {
            "process": fig.process_figures(started=self.console.started),
            "cpu": self.cpu.percent(),
            "lag_ms": self.lag.lag_ms,
            "gc_pause_ms": self.gc.last_pause_ms,
            "gc_collections": self.gc.collections,
            "streams": pages.open_streams,
            "live": pages.live_conversations,
            "stored": stored,
            "rate": hub.events_per_second if hub is not None else 0.0,
            "env": fig.environment(names=fig.ENV_NAMES),
        }
        self.updated = time.time()

    def record(self, now: float) -> bool:
        """Sample the activity chart at `now`; True when a point was added."""
        hub = self.console.hub
        if hub is None:
            return False
        state = hub.state
        return self.activity.sample(
            now, events_seen=state.events_seen, waiting=len(state.pending_questions())
        )

    # -- views -------------------------------------------------------------------------------

    def _services_levels(self) -> list[str]:
        hub = self.console.hub
        if hub is None:
            return []
        return [s.status for s in hub.state.service_rows()]

    def health(self) -> Element:
        """The banner: what is wrong, by name; or that nothing reports at all."""
        proc = self.sample["process"]
        hub = self.console.hub
        services = hub.state.service_rows() if hub is not None else []
        memory = fig.memory_level(proc.memory_percent)
        tone, text = fig.health([*(s.status for s in services), memory])
        wrong = [f"{s.name} ({s.status or 'no status'})" for s in services if fig.bad(s.status)]
        if memory != "ok":
            wrong.append(f"memory at {proc.memory_percent:.0f} %")
        if not services:
            tone = "unknown" if memory == "ok" else tone
            text = "No services reporting"
            if memory != "ok":
                text += f"; memory at {proc.memory_percent:.0f} %"
        elif wrong:
            text = f"{text}: {', '.join(wrong)}"
        detail = (
            f"{len(services)} services · memory {proc.memory_percent:.0f} %"
            if services
            else f"no service has sent service.status yet · memory {proc.memory_percent:.0f} %"
        )
        return div("#health", class_=f"console-health console-health--{tone}")[
            span[text], " ", span(".console-muted")[f"({detail})"]
        ]

    def figures(self) -> Element:
        s = self.sample
        proc = s["process"]
        level = fig.memory_level(proc.memory_percent)
        stored = "—" if s["stored"] is None else str(s["stored"])
        return section("#figures.console-panel")[
            div(".console-cards")[
                div[
                    heading("Process"),
                    figure_table(
                        [
                            ("CPU", f"{s['cpu']:.1f} % of one core · {proc.cpu_count} CPUs"),
                            ("Threads", str(proc.threads)),
                            ("Event-loop lag", f"{s['lag_ms']:.1f} ms"),
                            ("Load", " / ".join(f"{x:.2f}" for x in proc.load)),
                            ("Uptime", _duration(proc.uptime)),
                        ]
                    ),
                ],
                div[
                    heading("Memory"),
                    figure_table(
                        [
                            ("RSS", _bytes(proc.rss)),
                            ("Of total RAM", f"{proc.memory_percent:.1f} %"),
                        ]
                    ),
                    meter(proc.memory_percent, level),
                ],
                div[
                    heading("parlour"),
                    figure_table(
                        [
                            ("Open streams", str(s["streams"])),
                            ("Live conversations", str(s["live"])),
                            ("Stored conversations", stored),
                            ("Bus events / s", f"{s['rate']:.1f}"),
                        ]
                    ),
                ],
                div[
                    heading("Runtime"),
                    figure_table(
                        [
                            ("Python", f"{proc.python} ({proc.implementation})"),
                            ("Platform", proc.platform),
                            ("GC collections", str(s["gc_collections"])),
                            ("Last GC pause", f"{s['gc_pause_ms']:.2f} ms"),
                        ]
                    ),
                ],
            ],
            div(".console-updated")[f"Last updated {time.strftime('%H:%M:%S')}"],
        ]

    def readiness(self) -> Element:
        env: list[Any] = self.sample["env"]
        missing = [v.name for v in env if not v.set]
        tone = "ok" if not missing else "degraded"
        text = "Ready" if not missing else "Ready, with defaults for: " + ", ".join(missing)
        return div("#readiness", class_=f"console-health console-health--{tone}")[
            span[text], " ", span(".console-muted")[f"({fig.env_counter(env)})"]
        ]

    def settings(self) -> Element:
        hub = self.console.hub
        rows: list[tuple[str, Any]] = []
        if hub is not None:
            settings = hub.state.settings
            rows = [
                ("Coalescing window", f"{settings.window:g} s"),
                ("Event log length", str(settings.log_length)),
                ("Agents stale after", f"{settings.stale_after:g} s silent"),
            ]
        return div("#settings")[figure_table(rows)]

    def config(self) -> Element:
        console = self.console
        env: list[Any] = self.sample["env"]
        build = fig.build_info()
        return section("#config.console-panel")[
            div(".console-cards")[
                div[
                    heading("Environment"),
                    figure_table(
                        [
                            ("Mode", "demo" if console.demo else "serve"),
                            ("Platform", f"{platform.system()} {platform.machine()}"),
                            ("HTTPS", "behind a proxy, if any (serves HTTP)"),
                            ("Version", str(build.get("parlour", "dev"))),
                            ("API token", "required" if console.token else "none (open API)"),
                        ]
                    ),
                ],
                div[
                    heading("Build"),
                    figure_table(
                        [
                            ("Git", str(build.get("git", "unknown"))),
                            ("Python", sys.version.split()[0]),
                        ]
                    ),
                ],
                div[
                    heading("Paths"),
                    figure_table(
                        [
                            ("Working directory", code[os.getcwd()]),
                            ("State directory", code[str(console.state_dir)]),
                            ("Conversations", code[console.store_spec]),
                            ("Journal", code[console.journal_spec]),
                            ("Bus", code[console.bus_url or "in-process"]),
                        ]
                    ),
                ],
            ],
            heading(f"Environment variables · {fig.env_counter(env)}"),
            ul(".console-list")[
                (
                    li[
                        code[v.name],
                        span(f".console-pill.console-pill--{'ok' if v.set else 'warn'}")[
                            "SET" if v.set else "MISSING"
                        ],
                        span(".console-muted")[v.hint],
                    ]
                    for v in env
                )
            ],
            heading("Binaries"),
            ul(".console-list")[
                (
                    li[code[name], span(".console-muted")[path or "not found on PATH"]]
                    for name, path in fig.binaries()
                )
            ],
        ]
