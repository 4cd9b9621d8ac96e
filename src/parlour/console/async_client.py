"""An asyncio client for the console's HTTP API, standard library only (asyncio streams).

    from parlour.console import AsyncClient
    client = AsyncClient("http://127.0.0.1:8000")          # token="..." when set
    answer = await client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])

The same calls, arguments and errors as `parlour.console.client.Client` (`ask` with its
typed questions and `details`, `question`, `answer`, `cancel`, `questions`, `publish`,
`snapshot`), awaited: many questions can wait at once in one event loop, each long poll a
coroutine, not a thread.

Why no HTTP library: an agent's only need of the console is a few JSON requests, and
`import parlour.console` must stay cheap for it (httpx is one of parlour's development
tools, not a dependency). HTTP/1.1 over `asyncio.open_connection` (TLS for https),
one connection per request (`Connection: close`), bodies by Content-Length or chunked.

What it does not do: keep connections open between calls, follow redirects, proxies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
import urllib.parse
from typing import Any, Final, Literal, overload

from parlour.console.client import (
    GRACE,
    POLL_WAIT,
    Answer,
    ClientError,
    ask_body,
    error_message,
    outcome,
)

__all__ = ["AsyncClient"]

MAX_RESPONSE: Final = 16 * 1024 * 1024
"""The largest response body read (a snapshot of a busy console is well under)."""


class AsyncClient:
    """Talks to one console from asyncio; safe to share between tasks (no shared state)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"AsyncClient({url!r}): expected the console's http(s) URL, "
                "e.g. 'http://127.0.0.1:8000'."
            )
        if not timeout > 0:
            raise ValueError(f"AsyncClient(timeout={timeout!r}): expected seconds > 0.")
        base = url.rstrip("/")
        self.api = base if base.endswith("/api") else base + "/api"
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"AsyncClient({self.api!r})"

    async def publish(self, topic: str, source: str = "", payload: Any = None) -> int:
        """Report an event; returns its id."""
        body = {"topic": topic, "source": source, "payload": payload}
        return int((await self._request("POST", "/events", body))["id"])

    @overload
    async def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        qid: str | None = None,
        multiple: bool = False,
        kind: str | None = None,
        schema: dict[str, Any] | None = None,
        default: Any = None,
        assignee: str | None = None,
        idempotency_key: str | None = None,
        details: Literal[False] = False,
    ) -> Any: ...
    @overload
    async def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        qid: str | None = None,
        multiple: bool = False,
        kind: str | None = None,
        schema: dict[str, Any] | None = None,
        default: Any = None,
        assignee: str | None = None,
        idempotency_key: str | None = None,
        details: Literal[True],
    ) -> Answer: ...
    async def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        qid: str | None = None,
        multiple: bool = False,
        kind: str | None = None,
        schema: dict[str, Any] | None = None,
        default: Any = None,
        assignee: str | None = None,
        idempotency_key: str | None = None,
        details: bool = False,
    ) -> Any:
        """Ask a person and wait until they answer (see `Client.ask`)."""
        typed = {
            "id": qid,
            "multiple": multiple,
            "kind": kind,
            "schema": schema,
            "default": default,
            "assignee": assignee,
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = ask_body(agent, question, options, timeout, typed)
        created = await self._request("POST", "/questions", body, headers=headers)
        qid = str(created["id"])
        deadline = time.monotonic() + timeout + GRACE
        while time.monotonic() < deadline:
            answer = outcome(await self.question(qid, wait=POLL_WAIT), agent, question)
            if answer is not None:
                return answer if details else answer.value
        raise TimeoutError(f"question {qid} to {agent!r} still unanswered after {timeout:g}s")

    async def question(self, qid: str, *, wait: float = 0) -> dict[str, Any]:
        """The question's state; with `wait`, held up to that many seconds until it closes."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}"
        if wait:
            path += f"?wait={wait:g}"
        return await self._request("GET", path, None, timeout=self.timeout + wait)

    async def answer(
        self, qid: str, answer: Any, *, on_behalf_of: str | None = None
    ) -> dict[str, Any]:
        """Answer a question; returns its state (see `Client.answer`)."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}/answer"
        body: dict[str, Any] = {"answer": answer}
        if on_behalf_of is not None:
            body["on_behalf_of"] = on_behalf_of
        return await self._request("POST", path, body)

    async def cancel(self, qid: str) -> dict[str, Any]:
        """Cancel a pending question; returns its state."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}"
        return await self._request("DELETE", path, None)

    async def questions(self, state: str | None = None) -> list[dict[str, Any]]:
        """The known questions, or those in `state`."""
        path = "/questions" + (f"?state={urllib.parse.quote(state)}" if state else "")
        found: Any = (await self._request("GET", path, None))["questions"]
        return list(found)

    async def snapshot(self) -> dict[str, Any]:
        """The console's whole state, as `GET /api/snapshot` shows it."""
        return await self._request("GET", "/snapshot", None)

    # -- HTTP/1.1 ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        url = urllib.parse.urlsplit(self.api + path)
        try:
            async with asyncio.timeout(timeout or self.timeout):
                status, raw = await self._exchange(url, method, body, headers or {})
        except TimeoutError:
            raise ClientError(
                0, f"the console at {self.api} did not answer within {timeout or self.timeout:g}s"
            ) from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise ClientError(0, f"cannot reach the console at {self.api}: {exc}") from exc
        if status >= 400:
            raise ClientError(status, error_message(raw, f"HTTP {status}"))
        try:
            decoded: Any = json.loads(raw)
        except ValueError as exc:
            raise ClientError(
                0, f"the console at {self.api} answered non-JSON: {raw!r:.120}"
            ) from exc
        if not isinstance(decoded, dict):
            raise ClientError(0, f"the console at {self.api} answered {decoded!r:.120}")
        return decoded  # pyright: ignore[reportUnknownVariableType]

    async def _exchange(
        self, url: urllib.parse.SplitResult, method: str, body: Any, extra: dict[str, str]
    ) -> tuple[int, bytes]:
        secure = url.scheme == "https"
        host = url.hostname or ""
        port = url.port or (443 if secure else 80)
        context = ssl.create_default_context() if secure else None
        reader, writer = await asyncio.open_connection(host, port, ssl=context, limit=MAX_RESPONSE)
        try:
            data = json.dumps(body).encode() if body is not None else b""
            target = url.path + (f"?{url.query}" if url.query else "")
            lines = [
                f"{method} {target} HTTP/1.1",
                f"Host: {url.netloc}",
                "Accept: application/json",
                "Connection: close",
                f"Content-Length: {len(data)}",
            ]
            if body is not None:
                lines.append("Content-Type: application/json")
            if self.token is not None:
                lines.append(f"Authorization: Bearer {self.token}")
            lines += [f"{name}: {value}" for name, value in extra.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
            await writer.drain()
            return await _read_response(reader)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {status_line!r:.80}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            if size == 0:
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return int(parts[1]), b"".join(chunks)
    length = headers.get("content-length")
    if length is not None:
        return int(parts[1]), await reader.readexactly(int(length))
    return int(parts[1]), await reader.read(MAX_RESPONSE)
