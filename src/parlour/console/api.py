"""The console's HTTP API: Starlette routes over a `Hub`, mounted by the app at `/api`.

    POST /events                  {"topic", "source"?, "payload"?}        -> 202 {"id"}
                                  (not `question.*`: those are the question routes')
    GET  /events                  SSE: `initial-state` (the snapshot), then every event
    GET  /replay?after_id=N[&topic=PATTERN][&limit=L]   -> {"events": [...], "last_id"}
    GET  /replay?after_id=N&follow=1                    SSE: stored events after N, then live
    POST /questions               {"agent", "question", "options"?, "multiple"?, "kind"?,
                                   "schema"?, "timeout"?, "default"?, "assignee"?, "id"?}
                                  (header `Idempotency-Key`: the question asked with it
                                  again, 200)                             -> 201 {"id", "expires"}
    GET  /questions[?state=S]     {"questions": [...]}: pending, answered, expired, cancelled
    GET  /questions/ID[?wait=S]   the question (held up to S <= 60 s until it closes), with
                                  `answered_by`: who answered it
    POST /questions/ID/answer     {"answer", "on_behalf_of"?}             -> 200 the question
    DELETE /questions/ID          cancel it                               -> 200 the question
    GET  /openapi.json, /docs     the API described (OpenAPI 3.1), and as a page (no token)
    POST /settings                {"key", "value"}                        -> 200 {"key", "value"}
                                  (key: window, log_length or stale_after, the live settings
                                  of the Config page; a bad value is a 400 naming the key)
    POST /runs                    {"target", "bundle"?}  -> 201 {"graph_id", "status": "started",
                                                                      "node_count"}
    GET  /snapshot                the whole console state

With a token every route wants `Authorization: Bearer TOKEN` (else 401 with
`WWW-Authenticate: Bearer`); with users but no token every route answers 401 (see
`parlour.console.access`), but for the two that describe the API. An answer is recorded as
given by the caller, "api", who holds the token and so is an admin: it may answer any
question, whoever it is assigned to. With `on_behalf_of` it answers for a user instead:
their name is recorded and the question's assignee is checked against them (403).

Bodies are checked against `parlour.console.bodies` (unknown fields are a 400 naming them),
the same Structs `/openapi.json` is generated from (`parlour.console.openapi`).

Only the console's own pages and programs may call it: a browser request from another
site (`Origin` not the console's, or `Sec-Fetch-Site` cross-site or same-site) gets 403,
and a POST body must be `application/json` (415 otherwise), which a page of another site
cannot send without a CORS preflight the API never grants (`parlour.console.origin`).

Every error is JSON `{"error": "..."}` naming the field that is wrong and what was
expected: 400 bad input or malformed JSON, 403 a question assigned to someone else, 404
unknown question or route, 405 a wrong method, 409 a question expired, cancelled or
answered differently (or an id taken), 413 a body over 64 KiB, 503 while the hub is
closed. Nothing a client sends makes it answer 500.
An event on an SSE stream reads

    event: agent.started
    id: 42
    data: {"id":42,"topic":"agent.started","kind":"agent","time":...,"source":"a","payload":{}}

and an idle stream sends a `: ping` comment every `heartbeat` seconds (15 by default).

What this module does not do: render pages (the console app does), or keep any state of
its own: everything it answers comes from the hub and its journal.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, cast

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from parlour.bus.event import Event
from parlour.bus.patterns import validate_pattern, validate_topic
from parlour.console import openapi
from parlour.console.access import API_CALLER, Access
from parlour.console.bodies import (
    AnswerBody,
    AskBody,
    BadBody,
    EventBody,
    RunBody,
    SettingBody,
    parse,
)
from parlour.console.errors import (
    DuplicateQuestion,
    InvalidAnswer,
    InvalidRun,
    NotAssignee,
    QuestionClosed,
    QuestionNotFound,
)
from parlour.console.hub import Hub
from parlour.console.model import kind_of
from parlour.console.origin import from_elsewhere
from parlour.console.questions import QUESTION_STATES, Answerer, QuestionState

__all__ = ["MAX_BODY", "MAX_WAIT", "api_app", "api_routes", "event_json"]

MAX_BODY: Final = 64 * 1024
MAX_WAIT: Final = 60.0
MAX_LIMIT: Final = 10_000
MAX_EVENT_ID: Final = 2**63 - 1
"""The largest event id (a signed 64-bit integer, as the journal stores it)."""
QUESTION_KIND: Final = "question"
_NOTHING: Final = object()
"""Stands for an absent `answer` while checking it, so the 400 says "got nothing"."""
SSE_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_encode = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()

Endpoint = Callable[[Request], Awaitable[Response]]


class _Refused(Exception):
    """An answer other than success, raised by a helper and turned into JSON by `guard`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def event_json(event: Event) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "id": event.id,
        "topic": event.topic,
        "kind": kind_of(event.topic),
        "time": event.time,
        "source": event.source,
        "payload": event.payload,
    }


def api_app(
    hub: Hub,
    *,
    token: str | None = None,
    access: Access | None = None,
    heartbeat: float = 15.0,
    max_body: int = MAX_BODY,
) -> Starlette:
    """The API as an ASGI app (mount it at `/api`), whose every answer is JSON, errors of
    routing (404, 405) and anything unforeseen (500) included."""
    routes = api_routes(hub, token=token, access=access, heartbeat=heartbeat, max_body=max_body)
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unforeseen},
    )


def api_routes(
    hub: Hub,
    *,
    token: str | None = None,
    access: Access | None = None,
    heartbeat: float = 15.0,
    max_body: int = MAX_BODY,
) -> list[BaseRoute]:
    """The API's routes (paths relative to the mount, e.g. `Mount("/api", routes=...)`).

    Who may call it: `access` (the console's rules), else `token` alone (None: anyone)."""
    if token is not None and not token:
        raise ValueError("api_routes(token=''): expected a non-empty token, or None for none")
    if access is not None and token is not None:
        raise ValueError("api_routes: give the token or the access rules (which hold it)")
    if not heartbeat > 0:
        raise ValueError(f"api_routes(heartbeat={heartbeat!r}): expected seconds > 0")
    expected = token.encode() if token is not None else None

    def caller_of(request: Request) -> str | None:
        if access is not None:
            return access.api_caller(request.headers)
        bearer = _bearer(request)
        if expected is None or (bearer is not None and hmac.compare_digest(bearer, expected)):
            return API_CALLER
        return None

    def refusal(request: Request) -> Response | None:
        if from_elsewhere(request.headers):
            return _error(
                403,
                "cross-site request refused: the console's API answers its own pages and "
                "programs, not pages of other sites",
            )
        caller = caller_of(request)
        if caller is None:
            if access is not None and access.token is None:
                message = (
                    "this console has users but no API token, so its API is closed: start "
                    "it with --token TOKEN (or PARLOUR_CONSOLE_TOKEN) and send the header "
                    "'Authorization: Bearer TOKEN'"
                )
            else:
                message = (
                    "missing or wrong token: send the header 'Authorization: Bearer TOKEN' "
                    "with the console's token"
                )
            return _error(
                401, message, headers={"WWW-Authenticate": 'Bearer realm="parlour console"'}
            )
        request.state.caller = caller
        if request.method == "POST":
            kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
            if kind != "application/json":
                return _error(
                    415,
                    f"expected a JSON body with 'Content-Type: application/json', got "
                    f"{kind or 'no content type'!r:.60}",
                )
        return None

    def guard(endpoint: Endpoint, *, open_to_all: bool = False) -> Endpoint:
        async def guarded(request: Request) -> Response:
            if open_to_all and not from_elsewhere(request.headers):
                return await endpoint(request)
            refused = refusal(request)
            if refused is not None:
                return refused
            try:
                return await endpoint(request)
            except _Refused as exc:
                return _error(exc.status, exc.message)
            except BadBody as exc:
                return _error(400, str(exc))
            except RuntimeError as exc:
                if hub.running:
                    raise
                return _error(503, f"the console is not running: {exc}")

        return guarded

    async def read_object(request: Request) -> dict[str, Any]:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            raise _Refused(413, f"request body over {max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise _Refused(413, f"request body over {max_body} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            raise _Refused(400, "the client went away before sending its body") from None
        body = b"".join(chunks)
        if not body.strip():
            raise _Refused(400, "expected a JSON object as the request body, got nothing")
        try:
            data = _decode.decode(body)
        except msgspec.ValidationError as exc:  # a number beyond 64 bits or a float's range
            raise _Refused(400, f"unreadable JSON body: {exc}") from None
        except msgspec.DecodeError as exc:
            raise _Refused(400, f"malformed JSON body: {exc}") from None
        except RecursionError:  # `[[[[…` deeper than the decoder's stack
            raise _Refused(400, "malformed JSON body: nested too deeply") from None
        if not isinstance(data, dict):
            raise _Refused(400, f"expected a JSON object as the request body, got {body!r:.80}")
        return cast("dict[str, Any]", data)

    async def post_event(request: Request) -> Response:
        body = parse(EventBody, await read_object(request))
        topic = body.topic
        try:
            validate_topic(topic)
        except ValueError as exc:
            raise _Refused(400, f"topic: {exc}") from None
        if kind_of(topic) == QUESTION_KIND:
            raise _Refused(
                400,
                f"topic: {topic!r} is a question event, which only the question API may "
                "publish: ask with POST /api/questions, answer with POST "
                "/api/questions/ID/answer",
            )
        try:
            event = await hub.publish(topic, body.source or "", body.payload)
        except (ValueError, TypeError) as exc:
            raise _Refused(400, f"payload: {exc}") from None
        return _json({"id": event.id}, 202)

    async def get_events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            snapshot = hub.state.snapshot()
            cursor = hub.last_id
            yield f"event: initial-state\ndata: {_encode.encode(snapshot).decode()}\n\n"
            async for item in hub.follow(cursor, idle=heartbeat):
                yield ": ping\n\n" if item is None else _sse(item)

        _check_hub(hub)
        return _event_stream(stream())

    async def replay(request: Request) -> Response:
        params = request.query_params
        after = _int_param(params.get("after_id"), "after_id", 0, 0, None, "an event id >= 0")
        if after > MAX_EVENT_ID:
            raise _Refused(
                400,
                f"after_id: expected an event id of at most {MAX_EVENT_ID}, "
                f"got {params.get('after_id')!r:.40}",
            )
        limit = _int_param(
            params.get("limit"), "limit", 1000, 1, MAX_LIMIT, f"a count from 1 to {MAX_LIMIT}"
        )
        pattern = params.get("topic") or ">"
        try:
            validate_pattern(pattern)
        except ValueError as exc:
            raise _Refused(400, f"topic: {exc}") from None
        follow = params.get("follow", "0").lower()
        if follow not in ("0", "1", "true", "false", ""):
            raise _Refused(400, f"follow: expected 1 (stream) or 0, got {follow!r:.40}")
        if follow in ("1", "true"):
            _check_hub(hub)

            async def stream() -> AsyncIterator[str]:
                async for item in hub.follow(after, pattern=pattern, idle=heartbeat):
                    yield ": ping\n\n" if item is None else _sse(item)

            return _event_stream(stream())
        events = await hub.journal.read(after=after, limit=limit, pattern=pattern)
        last = events[-1].id if events else after
        return _json({"events": [event_json(e) for e in events], "last_id": last})

    async def post_question(request: Request) -> Response:
        body = parse(AskBody, await read_object(request))
        key = request.headers.get("idempotency-key")
        known = hub.state.question_by_key(key) if key else None
        try:
            question = await hub.ask(
                body.agent,
                body.question,
                body.options,
                body.timeout,
                qid=body.id,
                kind=body.kind,
                multiple=body.multiple,
                schema=body.schema,
                default=body.default,
                assignee=body.assignee,
                key=key,
            )
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None
        except DuplicateQuestion as exc:
            raise _Refused(409, str(exc)) from None
        status = 200 if known is not None and known.id == question.id else 201
        return _json({"id": question.id, "expires": question.expires}, status)

    async def list_questions(request: Request) -> Response:
        raw = request.query_params.get("state")
        states: tuple[QuestionState, ...] = QUESTION_STATES
        if raw:
            if raw not in QUESTION_STATES:
                raise _Refused(
                    400, f"state: expected one of {', '.join(QUESTION_STATES)}, got {raw!r:.40}"
                )
            states = (raw,)
        found = [q.public() for state in states for q in hub.state.questions_in(state)]
        return _json({"questions": found})

    async def delete_question(request: Request) -> Response:
        qid = request.path_params["qid"]
        try:
            question = await hub.cancel(qid, by=request.state.caller)
        except QuestionNotFound as exc:
            raise _Refused(404, str(exc)) from None
        except QuestionClosed as exc:
            raise _Refused(409, str(exc)) from None
        return _json(question.public())

    async def get_question(request: Request) -> Response:
        qid = request.path_params["qid"]
        raw = request.query_params.get("wait")
        wait = 0.0
        if raw is not None:
            try:
                wait = float(raw)
            except ValueError:
                wait = math.nan
            if not (math.isfinite(wait) and 0 <= wait <= MAX_WAIT):
                raise _Refused(
                    400, f"wait: expected seconds from 0 to {MAX_WAIT:g}, got {raw!r:.40}"
                )
        try:
            question = await hub.wait(qid, wait)
        except QuestionNotFound as exc:
            raise _Refused(404, str(exc)) from None
        return _json(question.public())

    async def post_answer(request: Request) -> Response:
        qid = request.path_params["qid"]
        data = await read_object(request)
        try:
            if "answer" not in data:  # said first: what is missing matters more than extras
                hub.question(qid).check_answer(_NOTHING)
            body = parse(AnswerBody, data)
            question = await hub.answer(qid, body.answer, by=answerer(request, body))
        except QuestionNotFound as exc:
            raise _Refused(404, str(exc)) from None
        except InvalidAnswer as exc:
            raise _Refused(400, str(exc).replace(repr(_NOTHING), "nothing")) from None
        except NotAssignee as exc:
            raise _Refused(403, str(exc)) from None
        except QuestionClosed as exc:
            raise _Refused(409, str(exc)) from None
        return _json(question.public())

    def answerer(request: Request, body: AnswerBody) -> Answerer:
        """Who answers: the caller (the token's holder, an admin), or the user it answers
        for (`on_behalf_of`), whose name and groups the assignee is checked against."""
        person = body.on_behalf_of
        if person is None:
            caller: str = request.state.caller
            return Answerer(name=caller, admin=True)
        if access is None:
            return Answerer(name=person)
        if access.users.get(person) is None:
            raise _Refused(400, f"on_behalf_of: no user named {person!r:.80} (see `user list`)")
        return access.answerer(person)

    async def post_setting(request: Request) -> Response:
        body = parse(SettingBody, await read_object(request))
        key = body.key
        try:
            value = await hub.set_setting(key, body.value)
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None
        return _json({"key": key, "value": value})

    async def post_run(request: Request) -> Response:
        body = parse(RunBody, await read_object(request))
        try:
            started = await hub.launch(body.target, body.bundle)
        except InvalidRun as exc:
            raise _Refused(400, str(exc)) from None
        return _json(started, 201)

    async def snapshot(request: Request) -> Response:
        return _json(hub.state.snapshot())

    async def openapi_json(request: Request) -> Response:
        return Response(openapi.document_bytes(), media_type="application/json")

    async def docs(request: Request) -> Response:
        return Response(openapi.docs_page(), media_type="text/html; charset=utf-8")

    return [
        Route("/events", guard(post_event), methods=["POST"]),
        Route("/events", guard(get_events), methods=["GET"]),
        Route("/replay", guard(replay), methods=["GET"]),
        Route("/questions", guard(post_question), methods=["POST"]),
        Route("/questions", guard(list_questions), methods=["GET"]),
        # `path`: a producer's id may hold a `/` (sent as %2F, which servers decode)
        Route("/questions/{qid:path}/answer", guard(post_answer), methods=["POST"]),
        Route("/questions/{qid:path}", guard(get_question), methods=["GET"]),
        Route("/questions/{qid:path}", guard(delete_question), methods=["DELETE"]),
        Route("/openapi.json", guard(openapi_json, open_to_all=True), methods=["GET"]),
        Route("/docs", guard(docs, open_to_all=True), methods=["GET"]),
        Route("/settings", guard(post_setting), methods=["POST"]),
        Route("/runs", guard(post_run), methods=["POST"]),
        Route("/snapshot", guard(snapshot), methods=["GET"]),
    ]


def _bearer(request: Request) -> bytes | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip().encode() if scheme.lower() == "bearer" else None


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing's own refusals (no such route, wrong method) as JSON."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no API route {request.url.path!r}: see the routes in the console's docs"
    elif exc.status_code == 405:
        message = f"{request.url.path} does not answer {request.method}"
    else:
        message = exc.detail
    return _error(exc.status_code, message, headers=dict(exc.headers or {}))


async def _unforeseen(request: Request, exc: Exception) -> Response:
    return _error(500, "the console failed to answer this request (its log says why)")


def _check_hub(hub: Hub) -> None:
    if not hub.running:
        raise _Refused(503, "the console is not running (its hub is closed or not started)")


def _int_param(
    raw: str | None, name: str, default: int, low: int, high: int | None, expected: str
) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:  # not a whole number, or more digits than Python converts
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise _Refused(400, f"{name}: expected {expected}, got {raw!r:.40}")
    return value


def _sse(event: Event) -> str:
    data = _encode.encode(event_json(event)).decode()
    return f"event: {event.topic}\nid: {event.id}\ndata: {data}\n\n"


def _event_stream(body: AsyncIterator[str]) -> Response:
    return StreamingResponse(body, media_type="text/event-stream", headers=dict(SSE_HEADERS))


def _json(data: Any, status: int = 200) -> Response:
    return Response(_encode.encode(data), status, media_type="application/json")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _encode.encode({"error": message}), status, headers, media_type="application/json"
    )
