"""An app's own script and stylesheet files: which its pages load, and which it serves.

    App(Root,
        scripts=[Path("vendor/uPlot.iife.min.js"), Path("static/line-chart.js")],
        stylesheets=[Path("vendor/uPlot.min.css"), "/assets/site.css"])

Each entry is a URL (served by someone else: the host app, a CDN allowed by `csp=`) or a
`Path` to a local file, which the app serves itself at `BASE/static/NAME` (its file name; two
files of one name, or the name of one of parlour's own files, are refused here). Pages link
the stylesheets after parlour's, and load the scripts after Datastar and parlour's widget
loader (`parlour-widgets.js`), in the order given, as classic deferred scripts (`defer`, so
they run once the page is parsed, in order). Behaviours (`parlour.behaviour(...)`, see
`parlour.core.widgets`) are registered in such files: a patch never carries JavaScript.

A missing local file is not an error when the app is built (it may be fetched by a set-up
step later); its URL answers 404 saying which file is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from parlour.core.routes import static_path
from parlour.web.static import DATASTAR_FILE, STATIC_DIR

__all__ = ["LOADER_FILE", "STYLESHEET_FILE", "Assets"]

LOADER_FILE = "parlour-widgets.js"
"""parlour's widget loader, loaded by every page before the app's scripts."""
STYLESHEET_FILE = "parlour.css"
"""parlour's stock stylesheet, linked by every page before the app's stylesheets."""

type Entry = str | Path


class Assets:
    """The files an app's pages load (its own after parlour's), and the local ones it serves."""

    def __init__(self, scripts: Iterable[Entry] = (), stylesheets: Iterable[Entry] = ()) -> None:
        self.files: dict[str, Path] = {}
        """Local files by the name they are served under (`BASE/static/NAME`)."""
        self._scripts = tuple(self._entry(e, "scripts") for e in _listed(scripts, "scripts"))
        self._stylesheets = tuple(
            self._entry(e, "stylesheets") for e in _listed(stylesheets, "stylesheets")
        )

    @property
    def remote_stylesheets(self) -> tuple[str, ...]:
        """The stylesheets given as URLs (their origins go into the pages' style-src)."""
        return tuple(url for url, local in self._stylesheets if not local)

    def scripts(self, base: str) -> tuple[str, ...]:
        """The script URLs a page under `base` loads: the loader, then the app's."""
        return (static_path(base, LOADER_FILE), *_urls(self._scripts, base))

    def stylesheets(self, base: str) -> tuple[str, ...]:
        """The stylesheet URLs a page under `base` links: the stock one, then the app's."""
        return (static_path(base, STYLESHEET_FILE), *_urls(self._stylesheets, base))

    def _entry(self, entry: object, what: str) -> tuple[str, bool]:
        if isinstance(entry, str):
            if not entry.strip():
                raise ValueError(f"App({what}=...): an empty URL")
            return entry, False
        if not isinstance(entry, Path):
            raise TypeError(
                f"App({what}=...) takes URLs (str) and local files (pathlib.Path), "
                f"got {type(entry).__name__}: {entry!r}"
            )
        name = entry.name
        if name in (DATASTAR_FILE, LOADER_FILE, STYLESHEET_FILE) or (STATIC_DIR / name).exists():
            raise ValueError(
                f"App({what}=...): {entry} would be served as {name!r}, the name of one of "
                "parlour's own files; rename the file"
            )
        if name in self.files and self.files[name] != entry:
            raise ValueError(
                f"App({what}=...): {entry} and {self.files[name]} would both be served as "
                f"{name!r}; rename one of them"
            )
        self.files[name] = entry
        return name, True


def _listed(entries: Iterable[Entry], what: str) -> list[Entry]:
    if isinstance(entries, (str, Path)):
        raise TypeError(f"App({what}=...) takes a list of files, got one: write [{entries!r}]")
    return list(entries)


def _urls(entries: tuple[tuple[str, bool], ...], base: str) -> tuple[str, ...]:
    return tuple(static_path(base, entry) if local else entry for entry, local in entries)
