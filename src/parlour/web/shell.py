"""The shell page: the near-empty HTML a tab loads once, which opens the conversation's stream.

    <body data-init="@get('/_parlour/sse/CID', {openWhenHidden: true, retry: 'always', …})"
          data-on:popstate__window="@post('/_parlour/back/CID?to=' + depth)">
      <div id="root">…the first render, inlined so the page paints before the stream opens…</div>

`data-init` (not `data-on:load`) opens the stream. `retry: 'always'` makes Datastar reconnect
after the server closed the stream or restarted, instead of leaving a dead page. The popstate
listener turns the browser's Back button into a step back in the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["DATASTAR_CDN", "DATASTAR_SRI", "DatastarSource", "shell_html"]

DATASTAR_VERSION = "1.0.4"
DATASTAR_CDN = "https://cdn.jsdelivr.net/gh/starfederation/datastar@v1.0.4/bundles/datastar.js"
DATASTAR_SRI = "sha384-twbOvafhSBQ0rJDNPzJdUw6DRvthVgAVfSIG1BQVmCiNO7Qh2zeVn7T5qstgjJ9q"
"""sha384 of the pristine v1.0.4 bundle (the bytes `scripts/fetch-datastar` verifies)."""

# Reconnect for about an hour (a deploy, a restart) before giving up.
STREAM_OPTIONS = (
    "{openWhenHidden: true, retry: 'always', retryInterval: 500, retryMaxWait: 10000, "
    "retryMaxCount: 360}"
)


@dataclass(frozen=True, slots=True)
class DatastarSource:
    """Where the shell loads Datastar from: the pinned CDN URL with SRI, or a local file."""

    url: str = DATASTAR_CDN
    integrity: str | None = DATASTAR_SRI


def shell_html(
    *,
    cid: str,
    base: str,
    title: str,
    body: str,
    datastar: DatastarSource,
    stylesheets: tuple[str, ...],
) -> str:
    sse = f"@get('{base}/sse/{cid}', {STREAM_OPTIONS})"
    popstate = (
        f"@post('{base}/back/{cid}?to=' + ((evt.state && evt.state.depth) || 0), "
        "{requestCancellation: 'disabled'})"
    )
    integrity = (
        f' integrity="{escape(datastar.integrity)}" crossorigin="anonymous"'
        if datastar.integrity
        else ""
    )
    links = "".join(f'<link rel="stylesheet" href="{escape(href)}">' for href in stylesheets)
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{links}"
        '<link rel="icon" href="data:,">'
        f'<script type="module" src="{escape(datastar.url)}"{integrity}></script>'
        f'</head><body data-init="{escape(sse)}" data-on:popstate__window="{escape(popstate)}">'
        f'<div id="root">{Markup(body)}</div></body></html>'
    )
