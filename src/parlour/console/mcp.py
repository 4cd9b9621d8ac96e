"""The console over the Model Context Protocol: `/mcp`, where an agent asks a person.

    endpoint = McpEndpoint(lambda: console.hub, console.access)
    await endpoint.start()        # the SDK's session manager, in a task of its own
    Route("/mcp", endpoint)       # an ASGI app: guarded, then the SDK's streamable HTTP
    await endpoint.close()

Tools (the official `mcp` SDK's `MCPServer`, streamable HTTP, stateless: every request
stands alone, so nothing is kept per client and any process of the console may serve it):

    ask_human(question, options?, multiple?, kind?, schema?, timeout?, default?,
              assignee?, agent?)
        asks like `POST /api/questions` (the same kinds and checks) and returns only once
        the question is answered: {"id", "answer", "defaulted", "answered_by"}. A question
        that expires unanswered (no default) or is cancelled is a tool error saying so.
        While it waits, a progress notification every `KEEPALIVE` seconds keeps the
        response stream from looking idle to the client (its read timeout is 300 s).
    report(kind, message, agent?, state?)
        publishes an event: progress -> agent.progress, result -> agent.completed,
        status -> agent.<state> (started by default; pending, completed, failed, skipped,
        cancelled). Returns {"id"}: the event's id.

Only POST: stateless, there is no session to end (DELETE) and nothing the console would
send unasked on a GET stream (405 for both).

Guarded like `/api` (`parlour.console.api`): a browser request from another site is 403,
a missing or wrong bearer token 401 (and with users but no token, every request 401), and
the Host must be an allowed host (the console's `guard` checks it before anything else).
The SDK's own DNS-rebinding check is off: it only knows the local names, while the
console's allowed hosts may include more.

What this module does not do: keep any state (the hub does) or import the SDK before the
console starts (so the pages and `parlour.console` load without pydantic). For that, this
module does without `from __future__ import annotations`: the tools are defined where the
SDK is imported, and the SDK reads their annotations as objects.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from parlour.console.access import Access
from parlour.console.errors import DuplicateQuestion, QuestionNotFound
from parlour.console.hub import Hub
from parlour.console.origin import from_elsewhere

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = ["KEEPALIVE", "McpEndpoint", "build_server"]

log = logging.getLogger(__name__)

KEEPALIVE: Final = 20.0
"""Seconds between the progress notifications `ask_human` sends while it waits."""
MCP_SOURCE: Final = "mcp"
"""The agent's name when a tool call gives none."""
_STATES: Final = {
    "pending": "task",
    "started": "task",
    "completed": "summary",
    "failed": "error",
    "skipped": "message",
    "cancelled": "message",
}


def build_server(hub: Callable[[], Hub]) -> "MCPServer":
    """The console's MCP server: the tools `ask_human` and `report` over `hub()`."""
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = MCPServer(
        "parlour-console",
        instructions="Ask a person with ask_human (it returns once they answer in the "
        "parlour console); report progress, status and results with report.",
        log_level="WARNING",
    )
    # The SDK configures the root logger (basicConfig) when built; the console's program
    # owns logging, so it is put back as it was. Its per-request INFO lines are quieted.
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("mcp").setLevel(logging.WARNING)

    @server.tool(
        description="Ask a person a question in the parlour console and wait for the "
        "answer. Kinds: free text (no options), one of `options`, several of `options` "
        '(`multiple: true`, the answer is a list), approve/reject (`kind: "approve"`, the '
        'answer is {"approved": bool, "reason": str}), a form (`schema`: a flat JSON '
        "Schema object of string/number/integer/boolean/enum properties; the answer is an "
        "object). With `timeout` and `default`, the default answers if nobody does."
    )
    async def ask_human(  # pyright: ignore[reportUnusedFunction]
        question: str,
        ctx: Context,
        options: list[str] | None = None,
        multiple: bool = False,
        kind: Literal["text", "choice", "multiple", "approve", "form"] | None = None,
        schema: dict[str, Any] | None = None,
        timeout: float | None = None,
        default: Any = None,
        assignee: str | None = None,
        agent: str = MCP_SOURCE,
    ) -> dict[str, Any]:
        console = hub()
        try:
            asked = await console.ask(
                agent,
                question,
                options,
                timeout,
                kind=kind,
                multiple=multiple or None,
                schema=schema,
                default=default,
                assignee=assignee,
            )
        except (ValueError, DuplicateQuestion) as exc:
            raise ToolError(str(exc)) from None
        waited = 0.0
        while True:
            try:
                question_now = await console.wait(asked.id, KEEPALIVE)
            except QuestionNotFound as exc:
                raise ToolError(str(exc)) from None
            if question_now.closed or not console.running:
                break
            waited += KEEPALIVE
            await ctx.report_progress(waited, message=f"waiting for a person: {question}")
        if question_now.state == "answered":
            return {
                "id": question_now.id,
                "answer": question_now.answer,
                "defaulted": question_now.defaulted,
                "answered_by": question_now.answered_by,
            }
        if question_now.state == "cancelled":
            raise ToolError(f"question {asked.id} was cancelled before anyone answered it")
        raise ToolError(f"question {asked.id} expired unanswered (or the console stopped)")

    @server.tool(
        description="Report to the parlour console: progress (a message), status (the "
        "agent's state: pending, started, completed, failed, skipped, cancelled) or a "
        "result (a summary). The pages show it at once."
    )
    async def report(  # pyright: ignore[reportUnusedFunction]
        kind: Literal["progress", "status", "result"],
        message: str,
        agent: str = MCP_SOURCE,
        state: Literal["pending", "started", "completed", "failed", "skipped", "cancelled"]
        | None = None,
    ) -> dict[str, Any]:
        if kind == "progress":
            topic, payload = "agent.progress", {"message": message}
        elif kind == "result":
            topic, payload = "agent.completed", {"summary": message}
        else:
            chosen = state or "started"
            topic, payload = f"agent.{chosen}", {_STATES[chosen]: message}
        try:
            event = await hub().publish(topic, agent, payload)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        return {"id": event.id, "topic": topic}

    return server


class McpEndpoint:
    """`/mcp` as an ASGI app: the console's access rules, then the SDK's transport."""

    def __init__(self, hub: Callable[[], Hub | None], access: Access) -> None:
        self._hub = hub
        self.access = access
        self._app: ASGIApp | None = None  # set by start
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def _running_hub(self) -> Hub:
        hub = self._hub()
        if hub is None:
            raise RuntimeError("the console is not running")
        return hub

    async def start(self) -> None:
        """Build the server and run the SDK's session manager until `close`."""
        from mcp.server.transport_security import TransportSecuritySettings

        server = build_server(self._running_hub)
        app = server.streamable_http_app(
            streamable_http_path="/mcp",
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = server.session_manager
        ready = asyncio.Event()
        self._stop = asyncio.Event()

        async def run() -> None:
            async with manager.run():
                ready.set()
                await self._stop.wait()

        self._task = asyncio.create_task(run(), name="parlour-console-mcp")
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._task.done():
            self._task.result()  # its failure, raised here
        self._app = app

    async def close(self) -> None:
        self._app = None
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 5)
            self._task = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        refused = self._refusal(headers)
        if refused is None and scope["method"] != "POST":
            # Stateless: no session to end (DELETE), and the console sends nothing unasked,
            # so a GET stream would only hold a connection open.
            refused = JSONResponse(
                {"error": f"/mcp answers POST (JSON-RPC), not {scope['method']}"},
                405,
                headers={"Allow": "POST"},
            )
        kind = headers.get("content-type", "").partition(";")[0].strip().lower()
        if refused is None and kind != "application/json":
            # As /api: a JSON body, which another site's page cannot send without a CORS
            # preflight the console never grants (and the answer is JSON, not the SDK's text).
            refused = JSONResponse(
                {"error": f"expected a JSON-RPC body with 'Content-Type: application/json', "
                 f"got {kind or 'no content type'!r:.60}"},
                415,
            )  # fmt: skip
        if refused is None and self._app is None:
            refused = JSONResponse({"error": "the console is starting; retry shortly"}, 503)
        if refused is not None:
            await refused(scope, receive, send)
            return
        assert self._app is not None
        await self._app(scope, receive, send)

    def _refusal(self, headers: Headers) -> JSONResponse | None:
        if from_elsewhere(headers):
            return JSONResponse(
                {"error": "cross-site request refused: /mcp answers programs, not other sites"},
                403,
            )
        if self.access.api_caller(headers) is None:
            return JSONResponse(
                {
                    "error": "missing or wrong token: send 'Authorization: Bearer TOKEN' with "
                    "the console's token (a console with users needs --token for /mcp)"
                },
                401,
                headers={"WWW-Authenticate": 'Bearer realm="parlour console"'},
            )
        return None
