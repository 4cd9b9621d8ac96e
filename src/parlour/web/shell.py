"""The shell page: the near-empty HTML a tab loads once, which opens the conversation's stream.

    <body data-init="@get(&#34;/_parlour/sse/CID&#34;, {openWhenHidden: true, retry: 'always', …})"
          data-on:popstate__window="@post(&#34;/_parlour/back/CID?to=&#34; + depth, …)"
          data-on:beforeunload__window="document.cookie = &#34;parlour_tab=&#34; + …">
      <div id="parlour-offline" role="alert" data-show="false">…could not go live…</div>
      <div id="root">…the first render, inlined so the page paints before the stream opens…</div>
      <div id="parlour-overlay">…what shows over the page: toasts (`parlour.ui.toast`)…</div>

`data-init` (not `data-on:load`) opens the stream. `retry: 'always'` makes Datastar reconnect
after the server closed the stream or restarted, instead of leaving a dead page. The popstate
listener turns the browser's Back button into a step back in the conversation. The
`beforeunload` listener tells a reload which conversation the tab held, so F5 keeps it
(`parlour.web.visits`).

The notice is hidden by Datastar itself (`data-show="false"`) as soon as it runs; when the
bundle did not load (not fetched, blocked, offline) nothing hides it, and after a short delay
(set in the stock stylesheet, so a normal load never flashes it) the page says it could not go
live instead of showing buttons that silently do nothing.

After Datastar the head loads `scripts` (deferred, in order): parlour's widget loader, then
the app's own, where client-side behaviours live (`parlour.web.assets`, `parlour.core.widgets`).
"""

from __future__ import annotations

from markupsafe import Markup, escape

from parlour.core.fragments import OVERLAY_ID, ROOT_ID
from parlour.core.routes import back_path, stream_path
from parlour.web.datastar import DatastarSource
from parlour.web.visits import remember_tab
from parlour.wire.js import js_literal

__all__ = ["OFFLINE_ID", "shell_html"]

# Reconnect for about an hour (a deploy, a restart) before giving up.
STREAM_OPTIONS = (
    "{openWhenHidden: true, retry: 'always', retryInterval: 500, retryMaxWait: 10000, "
    "retryMaxCount: 360}"
)

OFFLINE_ID = "parlour-offline"
"""The id of the notice shown when Datastar did not load."""

_OFFLINE_STYLE = (
    "position:sticky;top:0;z-index:2147483647;margin:0;padding:.75em 1em;"
    "background:#b3261e;color:#fff;font:600 15px/1.4 system-ui,sans-serif"
)
"""Inline, so the notice reads as a banner even when no stylesheet loaded either; the stock
stylesheet delays it (`#parlour-offline` in parlour.css) so a normal load never flashes it."""

_OFFLINE_TEXT = (
    "This page could not go live: its script (Datastar) did not load, so buttons and updates "
    "will not work. Reload to try again; if this persists, the server needs its Datastar "
    "bundle (make setup)."
)


def shell_html(
    *,
    cid: str,
    base: str,
    title: str,
    body: str,
    datastar: DatastarSource,
    stylesheets: tuple[str, ...],
    scripts: tuple[str, ...] = (),
    tail: str = "",
) -> str:
    """The page for conversation `cid`: its first render `body`, and what makes it live.

    `datastar.url` is where the page loads Datastar from (the app has already turned a local
    file into its static URL). `tail` is HTML that ends the body: the inspector's, in dev
    mode only (`parlour.devtools`).
    """
    sse = f"@get({js_literal(stream_path(base, cid))}, {STREAM_OPTIONS})"
    popstate = (
        f"@post({js_literal(back_path(base, cid) + '?to=')} + "
        "((evt.state && evt.state.depth) || 0), {requestCancellation: 'disabled'})"
    )
    integrity = (
        f' integrity="{escape(datastar.integrity)}" crossorigin="anonymous"'
        if datastar.integrity
        else ""
    )
    links = "".join(f'<link rel="stylesheet" href="{escape(href)}">' for href in stylesheets)
    deferred = "".join(f'<script defer src="{escape(src)}"></script>' for src in scripts)
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{links}"
        '<link rel="icon" href="data:,">'
        f'<script type="module" src="{escape(datastar.url)}"{integrity}></script>{deferred}'
        f'</head><body data-init="{escape(sse)}" data-on:popstate__window="{escape(popstate)}"'
        f' data-on:beforeunload__window="{escape(remember_tab(cid))}">'
        f'<div id="{OFFLINE_ID}" role="alert" data-show="false" style="{_OFFLINE_STYLE}">'
        f"{_OFFLINE_TEXT}</div>"
        f'<div id="{ROOT_ID}">{Markup(body)}</div>'
        f'<div id="{OVERLAY_ID}" class="parlour-overlay"></div>{tail}</body></html>'
    )
