"""The two ways out of an error block: try again, or start over.

    POST BASE/retry/CID      draw the conversation's top frame again, into #root; 204
    POST BASE/restart/CID    end the conversation; 204. Its stream closes, the page's
                             reconnect finds the conversation gone and reloads, and the
                             reload opens a new conversation

The stock error block (`core.render.error_html`) posts here. "Try again" re-renders what
failed from the conversation's last good state: a render that failed on something passing
(a service that was down) draws now, and after a failed handler the screen is as it was
before the click, ready for the click again. Work that failed (a handler, `io`) is not re-run
for the user: only they know whether doing it twice is safe. "Start over" is for a
conversation that cannot go on; it runs `stop` hooks and `on_end`, like the reaper.

Both are checked like any POST of the page: another origin 403, an unknown conversation 404,
a session or principal that does not own it 403.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from parlour.core import kernel
from parlour.runtime import Runtime
from parlour.web.events import cross_origin
from parlour.web.identity import Ownership
from parlour.web.responses import plain

__all__ = ["Recovery"]


class Recovery:
    """The retry and restart routes of one app."""

    def __init__(self, runtime: Runtime, ownership: Ownership) -> None:
        self.runtime = runtime
        self.ownership = ownership

    async def retry(self, request: Request) -> Response:
        """Draw the top frame again (a Starlette route: nobody retries on a hot path)."""
        cid, refused = await self._admit(request)
        if refused is not None:
            return refused
        await self.runtime.apply(cid, kernel.render_top, save=False, urgent=True)
        return Response(status_code=204)

    async def restart(self, request: Request) -> Response:
        """End the conversation, so the tab reloads into a new one."""
        cid, refused = await self._admit(request)
        if refused is not None:
            return refused
        await self.runtime.end(cid)
        return Response(status_code=204)

    async def _admit(self, request: Request) -> tuple[str, Response | None]:
        cid: str = request.path_params["cid"]
        if cross_origin(request.headers):
            return cid, plain(403, "cross-origin POST refused")
        live = await self.runtime.get(cid)
        if live is None:
            return cid, plain(404, f"no conversation {cid[:40]!r}; reload the page")
        refused = await self.ownership.admit(request.scope, request.cookies, live)
        if refused is not None:
            return cid, plain(403, refused.message)
        return cid, None
