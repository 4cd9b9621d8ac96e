"""The console's pages: parlour components around the shared panels.

    /                Agents    who is waiting for you first, then the launcher, progress,
                               agents, results; beside them the activity chart and the log
    /status          Status    health banner, process figures, services
    /config          Config    effective settings (some editable live), environment, build
    /questions       History   every question; /questions/ID one question's story
    /agents/NAME     History   one agent's events as a timeline, with durations
    /projector, /mobile        read-only large type; a phone's view

Every page is its own conversation (links between pages are plain links): the first render
comes with the page, then the stream sends patches of what changed. What all tabs see alike
is embedded with `shared(name)` and rendered once per update; what belongs to one tab lives
in the page's state: which event kinds its log hides, its message, the drafts of its forms,
a launch waiting for confirmation. The frame around every page (header, nav, what is waiting,
messages) is `parlour.console.frame`; the history pages are `parlour.console.history_pages`.

The launcher asks before replacing a live run: Start, while a run is in progress, shows what
is running and asks "Replace it?" (Replace / Keep it); only Replace starts the new run.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from htpy import (
    Element,
    Node,
    a,
    b,
    button,
    div,
    input,
    label,
    option,
    p,
    select,
    span,
    style,
)
from markupsafe import Markup

from parlour import event, io, service, shared
from parlour.console.errors import InvalidRun
from parlour.console.frame import NAV, ConsolePage, NavItem, register_page
from parlour.console.history_pages import HISTORY_PAGES
from parlour.console.hub import Hub
from parlour.console.panels import LAUNCH_BUNDLE, LAUNCH_TARGET, heading

__all__ = [
    "NAV",
    "PAGES",
    "AgentsPage",
    "ConfigPage",
    "ConsolePage",
    "MobilePage",
    "NavItem",
    "ProjectorPage",
    "StatusPage",
]


def _check_run(hub: Hub, target: str, bundle: str | None) -> None:
    """What `Hub.launch` would refuse, refused now (`InvalidRun`), without starting a run."""
    hub.launcher.check_target(target)
    hub.launcher.check_bundle(bundle)


KINDS = ("agent", "run", "question", "service", "config", "tool", "model")


class AgentsPage(ConsolePage, name="parlour.console.AgentsPage"):
    """Who is waiting for you first; then the run: the launcher (R20), progress, agents,
    results; beside them the activity of the last hour and the event log.

    The launcher's inputs are bound to the page-global signals `launch_target` and
    `launch_bundle` (not instance-local: the shared recent-target chips set
    `$launch_target`), which `keep` lifts onto the fields before `launch` runs.
    """

    href: ClassVar[str] = "/"
    FIELDS: ClassVar[frozenset[str]] = frozenset({"target", "bundle"})
    hidden: list[str] = ["tool", "model"]
    launch_target: str = ""
    launch_bundle: str = ""
    confirming: bool = False
    """Start was pressed while a run is in progress: the page asks before replacing it."""
    keep: ClassVar[tuple[str, ...]] = ("launch_target", "launch_bundle")

    def body(self) -> Node:
        # Kinds come from KINDS only (see `toggle`), so the rules are safe to emit unescaped.
        hidden_rules = Markup(
            " ".join(
                f"#log [data-kind={k}] {{ display: none; }}" for k in self.hidden if k in KINDS
            )
        )
        return div(".console-grid")[
            div(".console-main")[
                heading("Waiting for you"),
                shared("questions"),
                div(".console-h2-row")[
                    heading("Recently answered"),
                    a(".console-more", href="/questions")["All questions"],
                ],
                shared("answered"),
                self.launcher(),
                heading("Progress"),
                shared("progress"),
                heading("Agents"),
                shared("agents"),
                heading("Results"),
                shared("results"),
            ],
            div(".console-side")[
                heading("Last hour"),
                shared("activity"),
                div(".console-log-head")[
                    heading("Event log"),
                    div(".console-filters")[
                        (
                            label(".console-filter")[
                                input(
                                    self.on("change", "toggle", payload=kind),
                                    type="checkbox",
                                    checked=kind not in self.hidden,
                                    data_kind=kind,
                                ),
                                kind,
                            ]
                            for kind in KINDS
                        ),
                        button(".parlour-button.console-clear", self.on("click", "clear"))["Clear"],
                    ],
                ],
                style[hidden_rules],
                shared("log"),
                p(".console-views")[
                    "Other views: ",
                    a(href="/projector")["projector"],
                    " · ",
                    a(href="/mobile")["mobile"],
                    " · ",
                    a(href="/questions")["question history"],
                ],
            ],
        ]

    def launcher(self) -> Element:
        bundles = service(Hub).bundles
        chosen = self.launch_bundle if self.launch_bundle in bundles else next(iter(bundles))
        return div(".parlour-card.console-launcher")[
            heading("Start a run"),
            div(".parlour-row.console-launcher-row")[
                input(
                    ".parlour-input.console-launcher-target",
                    {f"data-bind:{LAUNCH_TARGET}": True, **self.invalid("target")},
                    type="text",
                    name="target",
                    value=self.launch_target,
                    placeholder="a path inside the project, e.g. src",
                    aria_label="target",
                    autocomplete="off",
                ),
                select(
                    ".parlour-input.console-launcher-bundle",
                    {f"data-bind:{LAUNCH_BUNDLE}": True, **self.invalid("bundle")},
                    name="bundle",
                    aria_label="bundle",
                )[
                    (
                        option(value=name, selected=name == chosen)[
                            f"{name} ({len(agents)} agents)"
                        ]
                        for name, agents in bundles.items()
                    )
                ],
                button(
                    ".parlour-button.parlour-button--primary.console-launch",
                    self.on("click", "launch"),
                    type="button",
                )["Start"],
            ],
            self.message("target"),
            self.message("bundle"),
            self.confirmation() if self.confirming else None,
            shared("launcher"),
        ]

    def confirmation(self) -> Element:
        """The confirm step: what is running now, and the choice."""
        progress = service(Hub).state.progress
        running = f"{progress.name} · " if progress.name else ""
        return div(".console-confirm", role="alertdialog", aria_label="Replace the run?")[
            p[
                b["A run is in progress"],
                f" ({running}{progress.text}). ",
                f"Start {self.launch_target.strip() or 'the new run'} instead? ",
                "The run in progress is replaced.",
            ],
            div(".parlour-row")[
                button(
                    ".parlour-button.console-replace",
                    self.on("click", "replace"),
                    type="button",
                )["Replace it"],
                button(
                    ".parlour-button.console-keep",
                    self.on("click", "keep_run"),
                    type="button",
                )["Keep it"],
            ],
        ]

    @event
    def launch(self) -> Any:
        """Start: check the target and bundle first (errors next to them), then start, or
        ask first when a run is in progress."""
        self.hush()
        self.confirming = False
        hub = service(Hub)
        check = functools.partial(_check_run, hub, self.launch_target, self.launch_bundle or None)
        return io(check, self.checked)

    def checked(self, _: None) -> Any:
        if service(Hub).state.progress.state == "running":
            self.confirming = True
            return None
        return self.start_run()

    def on_error_checked(self, error: BaseException) -> None:
        self.on_error_launched(error)

    @event
    def replace(self) -> Any:
        """Replace the run in progress with the one asked for (the confirm step's yes)."""
        self.hush()
        self.confirming = False
        return self.start_run()

    @event
    def keep_run(self) -> None:
        self.confirming = False
        self.say("The run in progress goes on.")

    def start_run(self) -> Any:
        hub = service(Hub)
        target, bundle = self.launch_target, self.launch_bundle or None
        return io(functools.partial(hub.launch, target, bundle), self.launched)

    def launched(self, started: dict[str, Any]) -> None:
        count = started.get("node_count", 0)
        self.say(f"Started {self.launch_target.strip()} ({count} agents)")

    def on_error_launched(self, error: BaseException) -> None:
        if isinstance(error, InvalidRun):
            self.fail(str(error))
        else:
            raise error

    @event
    def toggle(self, kind: str) -> None:
        if kind not in KINDS:
            return
        if kind in self.hidden:
            self.hidden = [k for k in self.hidden if k != kind]
        else:
            self.hidden = sorted([*self.hidden, kind])

    @event
    def clear(self) -> Any:
        return io(service(Hub).clear_log, self.cleared)

    def cleared(self, _: object) -> None:
        self.say("Event log cleared.")


class StatusPage(ConsolePage, name="parlour.console.StatusPage"):
    href: ClassVar[str] = "/status"

    def body(self) -> Node:
        return div(".console-status")[
            shared("health"),
            shared("figures"),
            heading("Services"),
            shared("services"),
        ]


LIVE_SETTINGS: dict[str, str] = {
    "window": "Coalescing window (seconds, 0 to 1)",
    "log_length": "Event log length (50 to 1000)",
    "stale_after": "An agent is stale after (seconds of silence, 10 to 86400)",
}
"""The settings the Config page edits, with their labels (`parlour.console.model.Settings`)."""


class ConfigPage(ConsolePage, name="parlour.console.ConfigPage"):
    href: ClassVar[str] = "/config"
    FIELDS: ClassVar[frozenset[str]] = frozenset(LIVE_SETTINGS)
    window: str = ""
    log_length: str = ""
    stale_after: str = ""
    keep: ClassVar[tuple[str, ...]] = ("window", "log_length", "stale_after")

    def body(self) -> Node:
        settings = service(Hub).state.settings
        current = {
            "window": f"{settings.window:g}",
            "log_length": str(settings.log_length),
            "stale_after": f"{settings.stale_after:g}",
        }
        return div(".console-config")[
            shared("readiness"),
            div(".parlour-card.console-settings")[
                heading("Live settings"),
                (
                    (
                        label(".console-setting")[
                            span[text],
                            input(
                                ".parlour-input",
                                {**self.bind_local(key), **self.invalid(key)},
                                name=key,
                                value=self.draft(key) or current[key],
                            ),
                            button(
                                ".parlour-button.parlour-button--primary",
                                self.on("click", "save", payload=key),
                            )["Save"],
                        ],
                        self.message(key),
                    )
                    for key, text in LIVE_SETTINGS.items()
                ),
                shared("settings"),
            ],
            shared("config"),
        ]

    def draft(self, key: str) -> str:
        return str(getattr(self, key, ""))

    @event
    def save(self, key: str) -> Any:
        self.hush()
        if key not in LIVE_SETTINGS:
            self.fail(f"{key!r} is not a live setting")
            return None
        raw = self.draft(key)
        return io(functools.partial(service(Hub).set_setting, key, raw), self.saved)

    def saved(self, value: Any) -> None:
        self.say(f"Saved: {value}")
        self.window = ""
        self.log_length = ""
        self.stale_after = ""

    def on_error_saved(self, error: BaseException) -> None:
        if isinstance(error, ValueError):
            self.fail(str(error))
        else:
            raise error


class ProjectorPage(ConsolePage, name="parlour.console.ProjectorPage"):
    """Read-only, large type, for a wall screen: progress, agents, who is waiting (R21)."""

    href: ClassVar[str] = "/projector"

    def body(self) -> Node:
        return div(".console-projector")[
            shared("progress"),
            div(".console-grid")[
                div[heading("Agents"), shared("agents")],
                div[heading("Waiting for an answer"), shared("questions")],
            ],
        ]


class MobilePage(ConsolePage, name="parlour.console.MobilePage"):
    """A phone's view: the questions to answer first, then progress and agents (R21)."""

    href: ClassVar[str] = "/mobile"

    def body(self) -> Node:
        return div(".console-mobile")[
            heading("Waiting for you"),
            shared("questions"),
            heading("Recently answered"),
            shared("answered"),
            shared("progress"),
            heading("Agents"),
            shared("agents"),
        ]


PAGES: dict[str, type[ConsolePage]] = {
    **{page.href: page for page in (AgentsPage, StatusPage, ConfigPage, ProjectorPage, MobilePage)},
    **HISTORY_PAGES,
}
"""Every route the console serves a page at (the nav lists the main three)."""

register_page(NavItem("/", "Agents", "◉", 10, "#3b5bdb"))
register_page(NavItem("/status", "Status", "⚡", 90, "#495057"))
register_page(NavItem("/config", "Config", "⚙", 70, "#0c8599"))
