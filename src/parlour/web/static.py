"""The static route, `GET BASE/static/NAME`: the stock stylesheet and scripts, the Datastar
bundle, and the app's own files.

Only plain file names under this package's `static/` directory are served (no `/`, no dot
files); `datastar.js` is whatever `parlour.web.datastar` chose, and answers 404 with the way
to get it when the packaged bundle has not been fetched. An app's own files are the local
`scripts` and `stylesheets` it was given (`parlour.web.assets`), each by its file name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from parlour.web.datastar import DatastarSource, missing_message
from parlour.web.responses import plain

__all__ = ["DATASTAR_FILE", "STATIC_DIR", "StaticFiles"]

STATIC_DIR = Path(__file__).parent / "static"
DATASTAR_FILE = "datastar.js"
"""The name the Datastar bundle is served under, whichever file it comes from."""


class StaticFiles:
    """Answers `BASE/static/NAME` for one app (its Datastar source, its own files)."""

    def __init__(self, datastar: DatastarSource, files: Mapping[str, Path] | None = None) -> None:
        self.datastar = datastar
        self.files: Mapping[str, Path] = files if files is not None else {}
        """The app's own files by name (`App(scripts=..., stylesheets=...)`, web/assets.py)."""

    async def serve(self, request: Request) -> Response:
        """The route's endpoint (a method: Starlette treats a callable object as an ASGI app)."""
        name = request.path_params["name"]
        if name == DATASTAR_FILE:
            return self._bundle()
        own = self.files.get(name)
        if own is not None:
            if not own.is_file():
                return plain(404, f"{name!r} is {own}, which is missing (a set-up step not run?)")
            return FileResponse(own, headers={"Cache-Control": "public, max-age=3600"})
        path = STATIC_DIR / name
        try:
            found = "/" not in name and not name.startswith(".") and path.is_file()
        except (OSError, ValueError):  # a name too long (ENAMETOOLONG) or not a file name
            found = False
        if not found:
            return plain(404, f"no static file {name[:100]!r}")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    def _bundle(self) -> Response:
        """The Datastar bundle, when this app serves one (not when it points at a URL)."""
        file = self.datastar.file
        if file is None:
            return plain(404, f"no static file {DATASTAR_FILE!r}: pages load Datastar from a URL")
        if not file.is_file():
            return plain(404, missing_message(self.datastar))
        return FileResponse(
            file,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )
