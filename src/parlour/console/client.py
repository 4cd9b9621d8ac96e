"""A synchronous client for the console's HTTP API, standard library only.

    from parlour.console import Client
    client = Client("http://127.0.0.1:8000")      # token="..." when the console has one
    answer = client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])

`url` is the console's address (the API lives under `/api`; a URL already ending in
`/api` is used as it is). `ask` blocks until a person answers in the browser: it creates
the question, then long-polls `GET /api/questions/ID?wait=25` until the question is
answered (returns the answer) or expires (raises `TimeoutError`). Any HTTP error raises
`ClientError(status, message)` carrying the server's message; a server that cannot be
reached raises `ClientError(0, ...)`.

What it does not do: retry, keep connections open between calls, or stream events.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

__all__ = ["Client", "ClientError"]

POLL_WAIT: Final = 25
"""Seconds each long poll asks the server to hold the request."""
_GRACE: Final = 120.0


class ClientError(Exception):
    """The console answered with an error (`status` >= 400), or could not be reached (0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class Client:
    """Talks to one console; safe to use from several threads (no shared connection).

    client = Client("http://127.0.0.1:8000")
    client.publish("agent.progress", "deployer", {"message": "tests green"})
    answer = client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"Client({url!r}): expected the console's http(s) URL, "
                "e.g. 'http://127.0.0.1:8000'."
            )
        if not timeout > 0:
            raise ValueError(f"Client(timeout={timeout!r}): expected seconds > 0.")
        base = url.rstrip("/")
        self.api = base if base.endswith("/api") else base + "/api"
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.api!r})"

    def publish(self, topic: str, source: str = "", payload: Any = None) -> int:
        """Report an event; returns its id."""
        body = {"topic": topic, "source": source, "payload": payload}
        return int(self._request("POST", "/events", body)["id"])

    def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        qid: str | None = None,
    ) -> str:
        """Ask a person and block until they answer; returns the answer.

        `qid` names the question (any printable text up to 200 characters, e.g. a job's id;
        by default the console picks one); a name already taken is a `ClientError` 409.
        Raises `TimeoutError` when the question expires unanswered (after `timeout`
        seconds), `ClientError` for a refused question or an unreachable console.
        """
        body: dict[str, Any] = {"agent": agent, "question": question, "timeout": timeout}
        if options is not None:
            body["options"] = list(options)
        if qid is not None:
            body["id"] = qid
        created = self._request("POST", "/questions", body)
        qid = str(created["id"])
        # The server expires the question; the local deadline only bounds the loop should
        # the server keep it pending (a clock jump, a restart that lost it).
        deadline = time.monotonic() + timeout + _GRACE
        while time.monotonic() < deadline:
            state = self.question(qid, wait=POLL_WAIT)
            if state["state"] == "answered":
                return str(state["answer"])
            if state["state"] == "expired":
                raise TimeoutError(f"question {qid} to {agent!r} expired unanswered: {question!r}")
        raise TimeoutError(f"question {qid} to {agent!r} still unanswered after {timeout:g}s")

    def question(self, qid: str, *, wait: float = 0) -> dict[str, Any]:
        """The question's state: {"id", "agent", "question", "options", "state", "answer",
        "expires"}; with `wait`, held up to that many seconds until it closes."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}"
        if wait:
            path += f"?wait={wait:g}"
        return self._request("GET", path, None, timeout=self.timeout + wait)

    def answer(self, qid: str, answer: str) -> dict[str, Any]:
        """Answer a question (as a person would in the browser); returns its state."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}/answer"
        return self._request("POST", path, {"answer": answer})

    def snapshot(self) -> dict[str, Any]:
        """The console's whole state, as `GET /api/snapshot` shows it."""
        return self._request("GET", "/snapshot", None)

    def _request(
        self, method: str, path: str, body: Any, *, timeout: float | None = None
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.api + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                raw: bytes = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise ClientError(exc.code, _error_message(exc.read(), exc.reason)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError(0, f"cannot reach the console at {self.api}: {reason}") from exc
        try:
            decoded: Any = json.loads(raw)
        except ValueError as exc:
            raise ClientError(
                0, f"the console at {self.api} answered non-JSON: {raw!r:.120}"
            ) from exc
        if not isinstance(decoded, dict):
            raise ClientError(0, f"the console at {self.api} answered {decoded!r:.120}")
        return decoded  # pyright: ignore[reportUnknownVariableType]


def _error_message(raw: bytes, reason: Any) -> str:
    try:
        decoded: Any = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):  # pyright: ignore[reportUnknownMemberType]
        return str(decoded["error"])  # pyright: ignore[reportUnknownArgumentType]
    text = raw.decode(errors="replace").strip()
    return text or str(reason)
