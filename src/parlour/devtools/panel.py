"""The inspector's HTML: what dev mode adds to a page, the side panel, the time-travel view.

    tail(base, cid)                  appended to the shell's body in dev mode only: the toggle
                                     button, the panel (which opens its own stream), the
                                     time-travel section, the outline box, the CSS and script
    panel_html(view)                 `#parlour-inspector-panel`: tree, state, history, signals,
                                     streams, timers, subscriptions
    travel_html(view, past)          `#parlour-inspector-travel`: empty, or the banner and the
                                     page as it was at the chosen step (read-only)
    read_only(html)                  a past render made inert: ids renamed, so nothing of it
                                     can be patched, outlined or submitted as the live page

Everything is rendered on the server and sent over the panel's own stream as Datastar
patches; the panel's buttons post to the inspector's routes (`parlour.devtools.routes`).
The script (`static/inspector.js`) only opens and closes the panel (the button, Alt+Shift+D)
and outlines on the page the component under the pointer in the tree.

The past page is put inside `data-ignore` (Datastar leaves it alone: no `data-init` runs, no
`data-on` listens) and `inert` (no click or focus reaches it); while it shows, the stylesheet
hides the live `#root`, which goes on receiving its patches underneath.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from htpy import (
    Element,
    Node,
    aside,
    button,
    code,
    dd,
    div,
    dl,
    dt,
    h2,
    header,
    li,
    link,
    ol,
    p,
    pre,
    script,
    section,
    small,
    span,
    strong,
    ul,
)
from markupsafe import Markup

from parlour.core.conversation import Conversation
from parlour.core.routes import dev_path
from parlour.devtools import model
from parlour.devtools.steps import Record
from parlour.wire.actions import DATASTAR_ACTIONS
from parlour.wire.js import js_literal

__all__ = [
    "PANEL_ID",
    "SHORTCUT",
    "TRAVEL_ID",
    "PanelView",
    "StreamInfo",
    "panel_html",
    "read_only",
    "tail",
    "travel_html",
]

PANEL_ID = "parlour-inspector-panel"
TRAVEL_ID = "parlour-inspector-travel"
SHORTCUT = "Alt+Shift+D"
"""Opens and closes the panel (Ctrl+Shift+I and F12 belong to the browser's own tools)."""

SCRIPT_FILE = "inspector.js"
STYLESHEET_FILE = "inspector.css"

_STREAM_OPTIONS = "{openWhenHidden: true, retry: 'always', retryInterval: 1000}"


def tail(base: str, cid: str) -> str:
    """What dev mode appends to the body of conversation `cid`'s page (base: the app's)."""
    stream = f"@get({js_literal(dev_path(base, cid, 'sse'))}, {_STREAM_OPTIONS})"
    parts: list[Node] = [
        link(rel="stylesheet", href=dev_path(base, "static", STYLESHEET_FILE)),
        button(
            "#parlour-inspector-toggle",
            type="button",
            title=f"parlour inspector ({SHORTCUT})",
            aria_controls="parlour-inspector",
            aria_expanded="false",
        )["Inspect"],
        aside(
            "#parlour-inspector",
            {"data-init": stream},
            aria_label="parlour inspector",
            data_parlour_cid=cid,
        )[div(f"#{PANEL_ID}")[p["Connecting to the inspector…"]]],
        section(f"#{TRAVEL_ID}"),
        div("#parlour-inspector-outline", aria_hidden="true"),
        script(type="module", src=dev_path(base, "static", SCRIPT_FILE)),
    ]
    return "".join(str(part) for part in parts)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One open SSE stream of the conversation, as its connection reports it."""

    id: int
    queued: int
    sent: int
    coalesced: int
    stale: bool
    event_id: str


@dataclass(frozen=True, slots=True)
class PanelView:
    """Everything one render of the panel shows."""

    base: str
    conv: Conversation
    records: Sequence[Record] = ()
    selected: str | None = None
    viewing: int | None = None
    signals: tuple[float, Mapping[str, Any]] | None = None
    streams: Sequence[StreamInfo] = ()
    outbox: int = 0
    seq: int = 0
    views: Sequence[str] = ()
    now: float = field(default_factory=time.time)

    def url(self, *parts: str) -> str:
        return dev_path(self.base, self.conv.id, *parts)

    def post(self, *parts: str) -> str:
        """The Datastar action posting to one of the inspector's routes of this conversation."""
        return DATASTAR_ACTIONS.event(self.url(*parts))


# -- the panel -------------------------------------------------------------------------------


def panel_html(view: PanelView) -> str:
    """The panel. While a past step is looked at, its tree and state are that step's."""
    conv = view.conv
    shown = conv if view.viewing is None else model.at_step(conv, view.viewing)
    at = "" if view.viewing is None else f" at step {view.viewing}"
    selected = view.selected if view.selected in shown.instances else shown.top
    return str(
        div(f"#{PANEL_ID}", class_="pi")[
            header(".pi-head")[
                strong["parlour inspector"],
                " ",
                code(title="conversation id")[conv.id],
                small(".pi-keys")[f" {SHORTCUT}"],
            ],
            _section("Components" + at, _tree(view, shown, selected)),
            _section(_state_title(shown, selected) + at, _state(shown, selected)),
            _section("History", _history(view)),
            _section("Signals", _signals(view)),
            _section("Streams", _streams(view)),
            _section("Timers", _timers(view)),
            _section("Subscriptions", _subscriptions(conv)),
        ]
    )


def _section(title: str, body: Node) -> Element:
    return section(".pi-section")[h2[title], body]


def _tree(view: PanelView, shown: Conversation, selected: str | None) -> Node:
    nodes = model.tree(shown)
    if not nodes:
        return p(".pi-empty")["No component yet."]
    return ul(".pi-tree")[(_tree_item(view, n, selected) for n in nodes)]


def _tree_item(view: PanelView, node: model.Node, selected: str | None) -> Element:
    where = (
        f"frame {node.frame}"
        if node.frame is not None
        else f"slot {node.slot}"
        if node.slot
        else ""
    )
    classes = "pi-node" + (" pi-selected" if node.iid == selected else "")
    classes += "" if node.shown else " pi-hidden"
    label = button(
        {"data-on:click": view.post("select", node.iid)},
        type="button",
        class_=classes,
        title=f"{node.name} {node.iid}, parent {node.parent or '-'}",
        data_parlour_iid=node.iid,
        aria_pressed="true" if node.iid == selected else "false",
    )
    return li[
        label[
            span(".pi-type")[node.type],
            " ",
            code(".pi-iid")[node.iid],
            " ",
            small(".pi-where")[where],
        ],
        ul[[_tree_item(view, c, selected) for c in node.children]] if node.children else None,
    ]


def _state_title(conv: Conversation, iid: str | None) -> str:
    inst = conv.instances.get(iid) if iid else None
    return "State" if inst is None else f"State of {model.type_label(inst)} {inst.iid}"


def _state(conv: Conversation, iid: str | None) -> Node:
    inst = conv.instances.get(iid) if iid else None
    if inst is None:
        return p(".pi-empty")["Choose a component in the tree."]
    meta = [
        ("type", inst.type_name),
        ("parent", inst.parent or "-"),
        ("slot", inst.slot or "-"),
        ("resume", inst.resume or "-"),
    ]
    keep = model.kept(inst)
    if keep:
        meta.append(("kept signals", ", ".join(keep)))
    fields = model.state(inst)
    return div[
        dl(".pi-meta")[[part for k, v in meta for part in (dt[k], dd[v])]],
        dl(".pi-fields")[
            [
                part
                for name, value in fields.items()
                for part in (dt[name], dd(data_parlour_field=name)[model.short(value, 400)])
            ]
        ]
        if fields
        else p(".pi-empty")["No state fields."],
    ]


def _history(view: PanelView) -> Node:
    conv = view.conv
    by_depth: dict[int, list[Record]] = {}
    for record in view.records:
        by_depth.setdefault(record.depth, []).append(record)
    items: list[Element] = []
    for step in model.steps(conv):
        items.append(_step(view, step, by_depth.get(step.depth, [])))
    return div[
        p(".pi-note")[
            f"Steps {conv.history_base} to {conv.depth}; choose one to see the page as it was."
        ],
        ol(".pi-steps", reversed=True)[reversed(items)],
    ]


def _step(view: PanelView, step: model.StepView, records: list[Record]) -> Element:
    viewing = view.viewing == step.depth
    classes = "pi-step" + (" pi-now" if step.now else "") + (" pi-viewing" if viewing else "")
    first = next((r for r in records if r.depth_before < r.depth), None)
    cause = (
        first.title
        if first is not None
        else ("the conversation started" if step.depth == 0 else "")
    )
    if step.now:
        action: Node = strong(".pi-badge")["now"]
    elif viewing:
        action = strong(".pi-badge")["viewing"]
    else:
        action = button(
            ".pi-view",
            {"data-on:click": view.post("view", str(step.depth))},
            type="button",
            title=f"Show the page as it was at step {step.depth} (read-only)",
        )["View"]
    lines: list[Node] = [str(c) for c in step.changes]
    for record in records:
        if record is not first:
            lines.append(record.title)
        if record.payload is not None:
            lines.append(f"payload {record.payload}")
        lines.extend(record.fragments)
        lines.extend(record.commands)
        lines.extend(f"error: {e}" for e in record.errors)
    return li(class_=classes, data_step=str(step.depth), value=str(step.depth))[
        div(".pi-step-head")[
            span(".pi-step-n")[f"Step {step.depth}"],
            " ",
            span(".pi-cause")[cause],
            " ",
            action,
        ],
        ul(".pi-step-lines")[[li[line] for line in lines]] if lines else None,
    ]


def _signals(view: PanelView) -> Node:
    if view.signals is None:
        return p(".pi-empty")["The page has sent no signals yet (they come with every event)."]
    at, values = view.signals
    return div[
        p(".pi-note")[f"As the page sent them at {time.strftime('%H:%M:%S', time.localtime(at))}"],
        pre(".pi-json")[model.short(dict(values), 2000)],
    ]


def _streams(view: PanelView) -> Node:
    summary = p(".pi-note")[
        f"{len(view.streams)} open; outbox {view.outbox} batch(es) for reconnects; "
        f"last batch {view.seq}"
        + (f"; shared views: {', '.join(view.views)}" if view.views else "")
    ]
    return div[
        summary,
        ul(".pi-list")[
            (
                li[
                    f"stream {s.id}: {s.queued} queued, {s.sent} sent, {s.coalesced} coalesced"
                    + (" (stale: a full render is due)" if s.stale else "")
                    + f", last id {s.event_id}"
                ]
                for s in view.streams
            )
        ],
    ]


def _timers(view: PanelView) -> Node:
    timers = view.conv.timers
    if not timers:
        return p(".pi-empty")["No timers."]
    return ul(".pi-list")[
        (
            li[
                f"{t.id}: {t.iid}.{t.method}({model.short(t.payload, 60)})",
                f" in {t.due - view.now:.1f} s",
            ]
            for t in timers
        )
    ]


def _subscriptions(conv: Conversation) -> Node:
    if not conv.subscriptions:
        return p(".pi-empty")["No subscriptions."]
    return ul(".pi-list")[(li[f"{s.pattern!r} -> {s.iid}.{s.method}"] for s in conv.subscriptions)]


# -- time travel -----------------------------------------------------------------------------


def travel_html(view: PanelView, past: str | None) -> str:
    """The time-travel section: empty when looking at now, else the banner and `past`."""
    if view.viewing is None or past is None:
        return str(section(f"#{TRAVEL_ID}"))
    depth = view.viewing
    return str(
        section(f"#{TRAVEL_ID}", class_="pi-travel")[
            div(".pi-banner", role="status")[
                strong[f"Step {depth} of {view.conv.depth}"],
                " — the page as it was then, read-only. Nothing here changes the conversation.",
                " ",
                button(
                    ".pi-resume",
                    {"data-on:click": view.post("resume", str(depth))},
                    type="button",
                    title=f"Go back to step {depth}: later steps are dropped",
                )["Resume from here"],
                " ",
                button(".pi-return", {"data-on:click": view.post("now")}, type="button")[
                    "Return to now"
                ],
            ],
            div(".pi-past", {"data-ignore": True, "inert": True})[Markup(read_only(past))],
        ]
    )


_ID_ATTRIBUTE = re.compile(r"(\s)id=")


def read_only(html: str) -> str:
    """`html` with its `id` attributes renamed `data-parlour-past-id`: the live page keeps its
    ids to itself (its patches and outlines find the live elements, never the past ones)."""
    return _ID_ATTRIBUTE.sub(r"\1data-parlour-past-id=", html)
