"""A synchronous client for the console's HTTP API, standard library only.

    from parlour.console import Client
    client = Client("http://127.0.0.1:8000")      # token="..." when the console has one
    answer = client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    chosen = client.ask("qa", "Rerun which?", options=["unit", "e2e"], multiple=True)
    verdict = client.ask("deployer", "Ship it?", kind="approve")   # {"approved", "reason"}
    form = client.ask("ops", "Scale to?", schema={"type": "object", "properties":
                      {"replicas": {"type": "integer", "minimum": 1}}, "required": ["replicas"]})
    full = client.ask("ops", "Go?", options=["go", "wait"], timeout=60, default="wait",
                      details=True)              # Answer(value, defaulted, answered_by, id)

`url` is the console's address (the API lives under `/api`; a URL already ending in
`/api` is used as it is). `ask` blocks until a person answers in the browser: it creates
the question, then long-polls `GET /api/questions/ID?wait=25` until the question is
answered (returns the answer: a string, a list for `multiple`, an object for approve and
forms), answered by its `default` at its deadline (returned too; `details=True` says
`defaulted`), expires (raises `TimeoutError`), or is cancelled (raises
`QuestionCancelled`). Any HTTP error raises `ClientError(status, message)` carrying the
server's message; a server that cannot be reached raises `ClientError(0, ...)`.
`idempotency_key` makes a retried ask return the same question instead of a second card.
`parlour.console.async_client.AsyncClient` does the same for asyncio.

What it does not do: retry, keep connections open between calls, or stream events.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Final, Literal, overload

__all__ = ["Answer", "Client", "ClientError", "QuestionCancelled", "ask_body", "outcome"]

POLL_WAIT: Final = 25
"""Seconds each long poll asks the server to hold the request."""
GRACE: Final = 120.0
"""Seconds past its timeout an ask keeps polling (the server expires it; see `ask`)."""


class ClientError(Exception):
    """The console answered with an error (`status` >= 400), or could not be reached (0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class QuestionCancelled(Exception):
    """The question was cancelled (`DELETE /api/questions/ID`) before anyone answered it."""

    def __init__(self, qid: str, by: str | None) -> None:
        who = f" by {by}" if by else ""
        super().__init__(f"question {qid} was cancelled{who} before anyone answered it")
        self.qid = qid
        self.by = by


@dataclass(frozen=True, slots=True)
class Answer:
    """What `ask(..., details=True)` returns: the answer and how it came."""

    value: Any
    """A string (text, choice), a list (multiple), an object (approve, form)."""
    defaulted: bool
    """True when nobody answered and the question's `default` became the answer."""
    answered_by: str | None
    """Who answered (a user, "token", "api", "anonymous"); None when defaulted."""
    id: str
    """The question's id."""


def ask_body(
    agent: str,
    question: str,
    options: list[str] | tuple[str, ...] | None,
    timeout: float,
    typed: dict[str, Any],
) -> dict[str, Any]:
    """The body of `POST /api/questions` (fields left at their defaults are not sent)."""
    body: dict[str, Any] = {"agent": agent, "question": question, "timeout": timeout}
    if options is not None:
        body["options"] = list(options)
    body.update({k: v for k, v in typed.items() if v is not None and v is not False})
    return body


def outcome(state: dict[str, Any], agent: str, question: str) -> Answer | None:
    """The answer a long poll's question state brings, None while it is pending; raises
    `TimeoutError` when it expired unanswered, `QuestionCancelled` when cancelled."""
    qid = str(state.get("id"))
    if state.get("state") == "answered":
        by = state.get("answered_by")
        return Answer(
            value=state.get("answer"),
            defaulted=bool(state.get("defaulted")),
            answered_by=str(by) if by is not None else None,
            id=qid,
        )
    if state.get("state") == "expired":
        raise TimeoutError(f"question {qid} to {agent!r} expired unanswered: {question!r}")
    if state.get("state") == "cancelled":
        by = state.get("answered_by")
        raise QuestionCancelled(qid, str(by) if by is not None else None)
    return None


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

    @overload
    def ask(
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
    def ask(
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
    def ask(
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
        """Ask a person and block until they answer; returns the answer (with `details`,
        an `Answer` saying also whether it was `defaulted` and who answered).

        `qid` names the question (any printable text up to 200 characters, e.g. a job's id;
        by default the console picks one); a name already taken is a `ClientError` 409.
        `multiple`, `kind`, `schema`, `default` and `assignee` make a typed question (see
        the module). Raises `TimeoutError` when the question expires unanswered (after
        `timeout` seconds) and has no default, `QuestionCancelled` when it is cancelled,
        `ClientError` for a refused question or an unreachable console.
        """
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
        created = self._request("POST", "/questions", body, headers=headers)
        qid = str(created["id"])
        # The server expires the question; the local deadline only bounds the loop should
        # the server keep it pending (a clock jump, a restart that lost it).
        deadline = time.monotonic() + timeout + GRACE
        while time.monotonic() < deadline:
            answer = outcome(self.question(qid, wait=POLL_WAIT), agent, question)
            if answer is not None:
                return answer if details else answer.value
        raise TimeoutError(f"question {qid} to {agent!r} still unanswered after {timeout:g}s")

    def question(self, qid: str, *, wait: float = 0) -> dict[str, Any]:
        """The question's state: {"id", "agent", "question", "options", "state", "answer",
        "expires"}; with `wait`, held up to that many seconds until it closes."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}"
        if wait:
            path += f"?wait={wait:g}"
        return self._request("GET", path, None, timeout=self.timeout + wait)

    def answer(self, qid: str, answer: Any, *, on_behalf_of: str | None = None) -> dict[str, Any]:
        """Answer a question (as a person would in the browser); returns its state.
        `on_behalf_of` answers for that user (checked against the question's assignee)."""
        path = f"/questions/{urllib.parse.quote(qid, safe='')}/answer"
        body: dict[str, Any] = {"answer": answer}
        if on_behalf_of is not None:
            body["on_behalf_of"] = on_behalf_of
        return self._request("POST", path, body)

    def cancel(self, qid: str) -> dict[str, Any]:
        """Cancel a pending question (its card leaves every tab; its asker gets
        `QuestionCancelled`); returns its state."""
        return self._request("DELETE", f"/questions/{urllib.parse.quote(qid, safe='')}", None)

    def questions(self, state: str | None = None) -> list[dict[str, Any]]:
        """The known questions, or those in `state` (pending, answered, expired, cancelled)."""
        path = "/questions" + (f"?state={urllib.parse.quote(state)}" if state else "")
        found: Any = self._request("GET", path, None)["questions"]
        return list(found)

    def snapshot(self) -> dict[str, Any]:
        """The console's whole state, as `GET /api/snapshot` shows it."""
        return self._request("GET", "/snapshot", None)

    def _request(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json", **(headers or {})}
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
                raise ClientError(exc.code, error_message(exc.read(), exc.reason)) from None
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


def error_message(raw: bytes, reason: Any) -> str:
    """The server's `{"error": ...}` sentence, or the body as text, or `reason`."""
    try:
        decoded: Any = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):  # pyright: ignore[reportUnknownMemberType]
        return str(decoded["error"])  # pyright: ignore[reportUnknownArgumentType]
    text = raw.decode(errors="replace").strip()
    return text or str(reason)
