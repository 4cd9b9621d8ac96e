"""The console's pages: parlour components around the shared panels.

    /         Agents   progress, agents, pending questions, results, the event log
    /status   Status   health banner, process figures, services
    /config   Config   effective settings (some editable live), environment, build, paths

Every page is its own conversation (links between pages are plain links): the first render
comes with the page, then the stream sends patches of what changed. What all tabs see alike
is embedded with `shared(name)` and rendered once per update; what belongs to one tab lives
in the page's state: which event kinds its log hides, the notice after its last answer, the
drafts of its settings form.

The nav is a registry (`NAV`): each page registers its href, label, icon and order, and the
header renders them sorted by order with the current page marked (R26).

The header also says how the console is protected (`parlour.console.access`): a "Not
protected" mark when nobody is asked to sign in, else who is signed in and a Sign out button.
An answer sent from a page is recorded with who sent it (`answered_by`): the principal the
framework authenticated for the request (`principal()`, from the console's `authenticate`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from htpy import (
    Element,
    Node,
    a,
    button,
    div,
    form,
    h1,
    header,
    input,
    label,
    nav,
    option,
    p,
    select,
    span,
    style,
)
from markupsafe import Markup

from parlour import Component, event, io, principal, service, shared
from parlour.console import cards
from parlour.console.access import ANONYMOUS, Access
from parlour.console.errors import InvalidRun
from parlour.console.hub import Hub
from parlour.console.panels import LAUNCH_BUNDLE, LAUNCH_TARGET, heading
from parlour.console.signin import PAGES_BASE, SIGNOUT_PATH

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


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the nav: where it goes, what it says, its icon and colour, its place."""

    href: str
    label: str
    icon: str
    order: int
    colour: str = "#3b5bdb"


NAV: list[NavItem] = []


def register_page(item: NavItem) -> None:
    """Add a page to the nav (idempotent by href)."""
    NAV[:] = sorted([n for n in NAV if n.href != item.href] + [item], key=lambda n: n.order)


# Every page's header shows the stream's state: Connecting until the first event arrives,
# Connected while events come, Disconnected while Datastar retries (R4). Datastar reports the
# stream's life as `datastar-fetch` events whose element is the body (the shell's `data-init`).
_CONNECTION_JS = (
    "evt.detail.el === document.body && ($_conn = "
    "['error', 'retrying', 'retries-failed', 'finished'].includes(evt.detail.type) "
    "? 'Disconnected' : 'Connected')"
)


class ConsolePage(Component, name="parlour.console.Page"):
    """The frame every console page shares: title, nav, connection state, a notice line."""

    href: ClassVar[str] = "/"
    notice: str = ""

    def render(self) -> Element:
        return div(
            self.root,
            {
                "data-signals": json.dumps({"_conn": "Connecting", "_answer": self.answer_url()}),
                "data-on:datastar-fetch": _CONNECTION_JS,
            },
            class_="console",
        )[
            header(".console-header")[
                h1(".console-title")["parlour console"],
                nav(".console-nav")[
                    (
                        a(
                            ".console-nav-item",
                            href=item.href,
                            style=f"--nav-colour: {item.colour}",
                            aria_current="page" if item.href == self.href else None,
                        )[span(".console-nav-icon")[item.icon], item.label]
                        for item in NAV
                    )
                ],
                span(".console-conn", {"data-text": "$_conn", "data-attr:data-conn": "$_conn"})[
                    "Connecting"
                ],
                self.access_mark(),
            ],
            div(".console-notice", role="status")[self.notice] if self.notice else None,
            self.body(),
        ]

    def access_mark(self) -> Element:
        """ "Not protected" when the console asks nobody to sign in; else Sign out."""
        if not service(Access).protected:
            return span(
                ".console-unprotected",
                title="Anyone who can reach this console can answer its questions: "
                "start it with --token, or add users with `parlour console user add`",
            )["Not protected"]
        base = self.mounted.base
        root = base.removesuffix(PAGES_BASE) if base.endswith(PAGES_BASE) else ""
        return form(".console-signout", method="post", action=root + SIGNOUT_PATH)[
            span(".console-person")[f"Signed in as {self.person()}"],
            button(".parlour-button.console-signout-button", type="submit")["Sign out"],
        ]

    def person(self) -> str:
        """Who is using this page, as the answers they send record it: the principal of the
        request at hand (a user's name, "token", "anonymous")."""
        who = principal()
        return who if isinstance(who, str) and who else ANONYMOUS

    def answer_url(self) -> str:
        """Where this page's question cards post their answers (its `answer` event)."""
        mount = self.mounted
        return f"{mount.base}/event/{mount.cid}/{mount.iid}/answer"

    def body(self) -> Node:
        return None

    # Question cards are shared views: their Send posts here (`parlour.console.cards`).
    @event
    def answer(self, payload: Any) -> Any:
        return cards.submit(self, payload)

    def answered(self, question: Any) -> Any:
        return cards.answered_notice(self, question)

    def on_error_answered(self, error: BaseException) -> None:
        cards.refused(self, error)


KINDS = ("agent", "run", "question", "service", "config", "tool", "model")


class AgentsPage(ConsolePage, name="parlour.console.AgentsPage"):
    """Start a run (R20), then watch it: progress, questions, agents, results, the log.

    The launcher's inputs are bound to the page-global signals `launch_target` and
    `launch_bundle` (not instance-local: the shared recent-target chips set
    `$launch_target`), which `keep` lifts onto the fields before `launch` runs.
    """

    href: ClassVar[str] = "/"
    hidden: list[str] = ["tool", "model"]
    launch_target: str = ""
    launch_bundle: str = ""
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
                self.launcher(),
                shared("progress"),
                heading("Waiting for you"),
                shared("questions"),
                heading("Recently answered"),
                shared("answered"),
                heading("Agents"),
                shared("agents"),
                heading("Results"),
                shared("results"),
            ],
            div(".console-side")[
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
                    {f"data-bind:{LAUNCH_TARGET}": True},
                    type="text",
                    name="target",
                    value=self.launch_target,
                    placeholder="a path inside the project, e.g. src",
                    aria_label="target",
                    autocomplete="off",
                ),
                select(
                    ".parlour-input.console-launcher-bundle",
                    {f"data-bind:{LAUNCH_BUNDLE}": True},
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
            shared("launcher"),
        ]

    @event
    def launch(self) -> Any:
        hub = service(Hub)
        target = self.launch_target
        bundle = self.launch_bundle or None
        return io(functools.partial(hub.launch, target, bundle), self.launched)

    def launched(self, started: dict[str, Any]) -> None:
        count = started.get("node_count", 0)
        self.notice = f"Started {self.launch_target.strip()} ({count} agents)"

    def on_error_launched(self, error: BaseException) -> None:
        if isinstance(error, InvalidRun):
            self.notice = str(error)
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
        self.notice = "Event log cleared."


class StatusPage(ConsolePage, name="parlour.console.StatusPage"):
    href: ClassVar[str] = "/status"

    def body(self) -> Node:
        return div(".console-status")[
            shared("health"),
            shared("figures"),
            heading("Services"),
            shared("services"),
        ]


class ConfigPage(ConsolePage, name="parlour.console.ConfigPage"):
    href: ClassVar[str] = "/config"
    window: str = ""
    log_length: str = ""
    keep: ClassVar[tuple[str, ...]] = ("window", "log_length")

    def body(self) -> Node:
        settings = service(Hub).state.settings
        return div(".console-config")[
            shared("readiness"),
            div(".parlour-card.console-settings")[
                heading("Live settings"),
                label(".console-setting")[
                    span["Coalescing window (seconds, 0 to 1)"],
                    input(
                        ".parlour-input",
                        self.bind_local("window"),
                        name="window",
                        value=self.window or f"{settings.window:g}",
                    ),
                    button(
                        ".parlour-button.parlour-button--primary",
                        self.on("click", "save", payload="window"),
                    )["Save"],
                ],
                label(".console-setting")[
                    span["Event log length (50 to 1000)"],
                    input(
                        ".parlour-input",
                        self.bind_local("log_length"),
                        name="log_length",
                        value=self.log_length or str(settings.log_length),
                    ),
                    button(
                        ".parlour-button.parlour-button--primary",
                        self.on("click", "save", payload="log_length"),
                    )["Save"],
                ],
                shared("settings"),
            ],
            shared("config"),
        ]

    @event
    def save(self, key: str) -> Any:
        if key not in ("window", "log_length"):
            self.notice = f"{key!r} is not a live setting"
            return None
        raw = self.window if key == "window" else self.log_length
        return io(functools.partial(service(Hub).set_setting, key, raw), self.saved)

    def saved(self, value: Any) -> None:
        self.notice = f"Saved: {value}"
        self.window = ""
        self.log_length = ""

    def on_error_saved(self, error: BaseException) -> None:
        if isinstance(error, ValueError):
            self.notice = str(error)
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
    page.href: page for page in (AgentsPage, StatusPage, ConfigPage, ProjectorPage, MobilePage)
}
"""Every route the console serves a page at (the nav lists the main three)."""

register_page(NavItem("/", "Agents", "◉", 10, "#3b5bdb"))
register_page(NavItem("/status", "Status", "⚡", 90, "#495057"))
register_page(NavItem("/config", "Config", "⚙", 70, "#0c8599"))
