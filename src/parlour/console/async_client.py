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
import ssl
import urllib.parse
from typing import Any, Final, Literal, Unpack, overload

from parlour.console.client_core import (
    Answer,
    Asking,
    AskOptions,
    Call,
    ClientError,
    api_url,
    decode,
    encode,
    request_headers,
)

__all__ = ["AsyncClient"]

MAX_RESPONSE: Final = 16 * 1024 * 1024
"""The largest response body read (a snapshot of a busy console is well under)."""


class AsyncClient:
    """Talks to one console from asyncio; safe to share between tasks (no shared state)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        self.api = api_url("AsyncClient", url, timeout, need_hostname=True)
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"AsyncClient({self.api!r})"

    async def publish(self, topic: str, source: str = "", payload: Any = None) -> int:
        """Report an event; returns its id."""
        return int((await self._send(Call.publish(topic, source, payload)))["id"])

    @overload
    async def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        details: Literal[False] = False,
        **typed: Unpack[AskOptions],
    ) -> Any: ...
    @overload
    async def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        details: Literal[True],
        **typed: Unpack[AskOptions],
    ) -> Answer: ...
    async def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        details: bool = False,
        **typed: Unpack[AskOptions],
    ) -> Any:
        """Ask a person and wait until they answer (see `Client.ask`)."""
        asking = Asking(agent, question, options, timeout, typed)
        asking.created(await self._send(asking.call))
        while asking.pending():
            answer = asking.outcome(await self._send(asking.poll))
            if answer is not None:
                return answer if details else answer.value
        raise asking.unanswered()

    async def question(self, qid: str, *, wait: float = 0) -> dict[str, Any]:
        """The question's state; with `wait`, held up to that many seconds until it closes."""
        return await self._send(Call.question(qid, wait))

    async def answer(
        self, qid: str, answer: Any, *, on_behalf_of: str | None = None
    ) -> dict[str, Any]:
        """Answer a question; returns its state (see `Client.answer`)."""
        return await self._send(Call.answer(qid, answer, on_behalf_of))

    async def cancel(self, qid: str) -> dict[str, Any]:
        """Cancel a pending question; returns its state."""
        return await self._send(Call.cancel(qid))

    async def questions(self, state: str | None = None) -> list[dict[str, Any]]:
        """The known questions, or those in `state`."""
        found: Any = (await self._send(Call.questions(state)))["questions"]
        return list(found)

    async def snapshot(self) -> dict[str, Any]:
        """The console's whole state, as `GET /api/snapshot` shows it."""
        return await self._send(Call.snapshot())

    # -- HTTP/1.1 ---------------------------------------------------------------------------

    async def _send(self, call: Call) -> dict[str, Any]:
        timeout = self.timeout + call.wait
        try:
            async with asyncio.timeout(timeout):
                status, raw = await self._exchange(call)
        except TimeoutError:
            raise ClientError(
                0, f"the console at {self.api} did not answer within {timeout:g}s"
            ) from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise ClientError(0, f"cannot reach the console at {self.api}: {exc}") from exc
        return decode(self.api, status, raw, f"HTTP {status}")

    async def _exchange(self, call: Call) -> tuple[int, bytes]:
        url = urllib.parse.urlsplit(self.api + call.path)
        secure = url.scheme == "https"
        host = url.hostname or ""
        port = url.port or (443 if secure else 80)
        context = ssl.create_default_context() if secure else None
        reader, writer = await asyncio.open_connection(host, port, ssl=context, limit=MAX_RESPONSE)
        try:
            data = encode(call) or b""
            target = url.path + (f"?{url.query}" if url.query else "")
            headers = {
                "Host": url.netloc,
                **request_headers(call, self.token),
                "Connection": "close",
                "Content-Length": str(len(data)),
            }
            lines = [f"{call.method} {target} HTTP/1.1"]
            lines += [f"{name}: {value}" for name, value in headers.items()]
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
