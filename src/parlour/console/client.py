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

import urllib.error
import urllib.request
from typing import Any, Literal, Unpack, overload

from parlour.console.client_core import (
    GRACE,
    POLL_WAIT,
    Answer,
    Asking,
    AskOptions,
    Call,
    ClientError,
    QuestionCancelled,
    api_url,
    ask_body,
    decode,
    encode,
    error_message,
    failure,
    outcome,
    request_headers,
)

__all__ = [
    "GRACE",
    "POLL_WAIT",
    "Answer",
    "Client",
    "ClientError",
    "QuestionCancelled",
    "ask_body",
    "error_message",
    "outcome",
]


class Client:
    """Talks to one console; safe to use from several threads (no shared connection).

    client = Client("http://127.0.0.1:8000")
    client.publish("agent.progress", "deployer", {"message": "tests green"})
    answer = client.ask("deployer", "Ship 1.4 to prod?", options=["yes", "no"])
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        self.api = api_url("Client", url, timeout)
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Client({self.api!r})"

    def publish(self, topic: str, source: str = "", payload: Any = None) -> int:
        """Report an event; returns its id."""
        return int(self._send(Call.publish(topic, source, payload))["id"])

    @overload
    def ask(
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
    def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        details: Literal[True],
        **typed: Unpack[AskOptions],
    ) -> Answer: ...
    def ask(
        self,
        agent: str,
        question: str,
        options: list[str] | tuple[str, ...] | None = None,
        timeout: float = 300.0,
        *,
        details: bool = False,
        **typed: Unpack[AskOptions],
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
        asking = Asking(agent, question, options, timeout, typed)
        asking.created(self._send(asking.call))
        while asking.pending():
            answer = asking.outcome(self._send(asking.poll))
            if answer is not None:
                return answer if details else answer.value
        raise asking.unanswered()

    def question(self, qid: str, *, wait: float = 0) -> dict[str, Any]:
        """The question's state: {"id", "agent", "question", "options", "state", "answer",
        "expires"}; with `wait`, held up to that many seconds until it closes."""
        return self._send(Call.question(qid, wait))

    def answer(self, qid: str, answer: Any, *, on_behalf_of: str | None = None) -> dict[str, Any]:
        """Answer a question (as a person would in the browser); returns its state.
        `on_behalf_of` answers for that user (checked against the question's assignee)."""
        return self._send(Call.answer(qid, answer, on_behalf_of))

    def cancel(self, qid: str) -> dict[str, Any]:
        """Cancel a pending question (its card leaves every tab; its asker gets
        `QuestionCancelled`); returns its state."""
        return self._send(Call.cancel(qid))

    def questions(self, state: str | None = None) -> list[dict[str, Any]]:
        """The known questions, or those in `state` (pending, answered, expired, cancelled)."""
        found: Any = self._send(Call.questions(state))["questions"]
        return list(found)

    def snapshot(self) -> dict[str, Any]:
        """The console's whole state, as `GET /api/snapshot` shows it."""
        return self._send(Call.snapshot())

    def _send(self, call: Call) -> dict[str, Any]:
        request = urllib.request.Request(
            self.api + call.path,
            data=encode(call),
            headers=request_headers(call, self.token),
            method=call.method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout + call.wait) as response:
                raw: bytes = response.read()
                status: int = response.status
        except urllib.error.HTTPError as exc:
            with exc:
                raise failure(exc.code, exc.read(), exc.reason) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError(0, f"cannot reach the console at {self.api}: {reason}") from exc
        return decode(self.api, status, raw, status)
