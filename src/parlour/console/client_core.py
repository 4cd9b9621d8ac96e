"""What `Client` and `AsyncClient` share, whatever carries their requests.

Each API call is built here as a `Call` (method, path, body, extra headers, extra wait), and
each response (status, body) is turned here into its result or the right exception, so the
two clients differ only in their transport (urllib, asyncio streams) and in whether they
block or await. Keeping this in one place keeps their arguments, messages and errors the
same. Standard library only, and no asyncio: `import parlour.console.client` stays cheap.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict

__all__ = [
    "GRACE",
    "POLL_WAIT",
    "Answer",
    "AskOptions",
    "Asking",
    "Call",
    "ClientError",
    "QuestionCancelled",
    "api_url",
    "ask_body",
    "decode",
    "encode",
    "error_message",
    "failure",
    "outcome",
    "request_headers",
]

POLL_WAIT: Final = 25
"""Seconds each long poll asks the server to hold the request."""
GRACE: Final = 120.0
"""Seconds past its timeout an ask keeps polling (the server expires it; see `Client.ask`)."""


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


class AskOptions(TypedDict, total=False):
    """The keyword arguments of `ask` that make a typed or named question (see `Client.ask`);
    one declaration so both clients' `ask` overloads cannot drift apart."""

    qid: str | None
    multiple: bool
    kind: str | None
    schema: dict[str, Any] | None
    default: Any
    assignee: str | None
    idempotency_key: str | None


_ASK_OPTIONS: Final = frozenset(AskOptions.__annotations__)


@dataclass(frozen=True, slots=True)
class Call:
    """One API request, before a transport carries it."""

    method: str
    path: str
    """Under the API's root, e.g. "/questions"; already quoted."""
    body: Any = None
    """Sent as JSON; None sends no body."""
    headers: dict[str, str] = field(default_factory=dict[str, str])
    """Headers beyond those every request carries (see `request_headers`)."""
    wait: float = 0
    """Seconds the server may hold the request (a long poll), added to the client's timeout."""

    @staticmethod
    def publish(topic: str, source: str, payload: Any) -> Call:
        return Call("POST", "/events", {"topic": topic, "source": source, "payload": payload})

    @staticmethod
    def question(qid: str, wait: float) -> Call:
        path = _question_path(qid) + (f"?wait={wait:g}" if wait else "")
        return Call("GET", path, wait=wait)

    @staticmethod
    def answer(qid: str, answer: Any, on_behalf_of: str | None) -> Call:
        body: dict[str, Any] = {"answer": answer}
        if on_behalf_of is not None:
            body["on_behalf_of"] = on_behalf_of
        return Call("POST", _question_path(qid) + "/answer", body)

    @staticmethod
    def cancel(qid: str) -> Call:
        return Call("DELETE", _question_path(qid))

    @staticmethod
    def questions(state: str | None) -> Call:
        return Call("GET", "/questions" + (f"?state={urllib.parse.quote(state)}" if state else ""))

    @staticmethod
    def snapshot() -> Call:
        return Call("GET", "/snapshot")


def _question_path(qid: str) -> str:
    return f"/questions/{urllib.parse.quote(qid, safe='')}"


def api_url(owner: str, url: str, timeout: float, *, need_hostname: bool = False) -> str:
    """The API's root for a client built with `url` (checked, as is `timeout`).

    `owner` names the client in the error; `need_hostname` asks for a host name, not just a
    network location (asyncio connects to the name itself; urllib reports a bad one later)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not (
        parts.hostname if need_hostname else parts.netloc
    ):
        raise ValueError(
            f"{owner}({url!r}): expected the console's http(s) URL, e.g. 'http://127.0.0.1:8000'."
        )
    if not timeout > 0:
        raise ValueError(f"{owner}(timeout={timeout!r}): expected seconds > 0.")
    base = url.rstrip("/")
    return base if base.endswith("/api") else base + "/api"


def request_headers(call: Call, token: str | None) -> dict[str, str]:
    """The headers of `call` that do not depend on the transport."""
    headers = {"Accept": "application/json", **call.headers}
    if call.body is not None:
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def encode(call: Call) -> bytes | None:
    """The request's body as JSON bytes, None for no body."""
    return json.dumps(call.body).encode() if call.body is not None else None


def failure(status: int, raw: bytes, reason: Any) -> ClientError:
    """The error for an HTTP error answer, carrying the server's sentence."""
    return ClientError(status, error_message(raw, reason))


def decode(api: str, status: int, raw: bytes, reason: Any) -> dict[str, Any]:
    """A response's JSON object; raises `ClientError` for an error status or a body that is
    not a JSON object (the console at `api` is then not a console, or not this version)."""
    if status >= 400:
        raise failure(status, raw, reason)
    try:
        decoded: Any = json.loads(raw)
    except ValueError as exc:
        raise ClientError(0, f"the console at {api} answered non-JSON: {raw!r:.120}") from exc
    if not isinstance(decoded, dict):
        raise ClientError(0, f"the console at {api} answered {decoded!r:.120}")
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


@dataclass(slots=True)
class Asking:
    """One `ask` in progress: the request that creates the question, then its long polls.

    asking = Asking(agent, question, options, timeout, typed)
    asking.created(send(asking.call))          # the question's state, as created
    while asking.pending():
        answer = asking.outcome(send(asking.poll))
        ...
    raise asking.unanswered()
    """

    agent: str
    question: str
    options: list[str] | tuple[str, ...] | None
    timeout: float
    typed: Mapping[str, Any]
    qid: str = ""
    deadline: float = 0.0

    @property
    def call(self) -> Call:
        """`POST /api/questions`; raises `TypeError` for a keyword `ask` does not take."""
        unknown = sorted(set(self.typed) - _ASK_OPTIONS)
        if unknown:
            raise TypeError(f"ask() got an unexpected keyword argument {unknown[0]!r}")
        named = {"id" if k == "qid" else k: v for k, v in self.typed.items()}
        key = named.pop("idempotency_key", None)
        body = ask_body(self.agent, self.question, self.options, self.timeout, named)
        return Call("POST", "/questions", body, {"Idempotency-Key": key} if key else {})

    def created(self, state: dict[str, Any]) -> None:
        """Start polling the question the server created."""
        self.qid = str(state["id"])
        # The server expires the question; the local deadline only bounds the loop should
        # the server keep it pending (a clock jump, a restart that lost it).
        self.deadline = time.monotonic() + self.timeout + GRACE

    @property
    def poll(self) -> Call:
        return Call.question(self.qid, POLL_WAIT)

    def pending(self) -> bool:
        return time.monotonic() < self.deadline

    def outcome(self, state: dict[str, Any]) -> Answer | None:
        return outcome(state, self.agent, self.question)

    def unanswered(self) -> TimeoutError:
        return TimeoutError(
            f"question {self.qid} to {self.agent!r} still unanswered after {self.timeout:g}s"
        )
