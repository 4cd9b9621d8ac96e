"""The console's HTTP API: Starlette routes over a `Hub`, mounted by the app at `/api`.

    POST /events                  {"topic", "source"?, "payload"?}        -> 202 {"id"}
    GET  /events                  SSE: `initial-state` (the snapshot), then every event
    GET  /replay?after_id=N[&topic=PATTERN][&limit=L]   -> {"events": [...], "last_id"}
    GET  /replay?after_id=N&follow=1                    SSE: stored events after N, then live
    POST /questions               {"agent", "question", "options"?, "timeout"?}
                                                                          -> 201 {"id", "expires"}
    GET  /questions/ID[?wait=S]   the question (held up to S <= 60 s until it closes)
    POST /questions/ID/answer     {"answer"}                              -> 200 the question
    POST /settings                {"key", "value"}                        -> 200 {"key", "value"}
    POST /runs                    {"target", "bundle"?}  -> 201 {"graph_id", "status": "started",
                                                                      "node_count"}
    GET  /snapshot                the whole console state

With a token every route wants `Authorization: Bearer TOKEN` (else 401 with
`WWW-Authenticate: Bearer`). Every error is JSON `{"error": "..."}` naming the field that
is wrong and what was expected: 400 bad input or malformed JSON, 404 unknown question,
409 a question expired or answered differently, 413 a body over 64 KiB, 503 while the
hub is closed. An event on an SSE stream reads

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
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from parlour.bus.event import Event
from parlour.bus.patterns import validate_pattern, validate_topic
from parlour.console.errors import InvalidAnswer, InvalidRun, QuestionClosed, QuestionNotFound
from parlour.console.hub import Hub
from parlour.console.model import kind_of

__all__ = ["MAX_BODY", "MAX_WAIT", "api_routes", "event_json"]

MAX_BODY: Final = 64 * 1024
MAX_WAIT: Final = 60.0
MAX_LIMIT: Final = 10_000
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


def api_routes(
    hub: Hub, *, token: str | None, heartbeat: float = 15.0, max_body: int = MAX_BODY
) -> list[BaseRoute]:
    """The API's routes (paths relative to the mount, e.g. `Mount("/api", routes=...)`)."""
    if token is not None and not token:
        raise ValueError("api_routes(token=''): expected a non-empty token, or None for none")
    if not heartbeat > 0:
        raise ValueError(f"api_routes(heartbeat={heartbeat!r}): expected seconds > 0")
    expected = token.encode() if token is not None else None

    def guard(endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            if expected is not None and not _authorised(request, expected):
                return _error(
                    401,
                    "missing or wrong token: send the header 'Authorization: Bearer TOKEN' "
                    "with the console's token",
                    headers={"WWW-Authenticate": 'Bearer realm="parlour console"'},
                )
            try:
                return await endpoint(request)
            except _Refused as exc:
                return _error(exc.status, exc.message)
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
        except msgspec.DecodeError as exc:
            raise _Refused(400, f"malformed JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise _Refused(400, f"expected a JSON object as the request body, got {body!r:.80}")
        return cast("dict[str, Any]", data)

    async def post_event(request: Request) -> Response:
        data = await read_object(request)
        topic = data.get("topic")
        if not isinstance(topic, str):
            raise _Refused(
                400, f"topic: expected a string such as 'agent.started', got {topic!r:.80}"
            )
        try:
            validate_topic(topic)
        except ValueError as exc:
            raise _Refused(400, f"topic: {exc}") from None
        source = data.get("source")
        if source is None:
            source = ""
        if not isinstance(source, str):
            raise _Refused(
                400, f"source: expected a string naming the reporter, got {source!r:.80}"
            )
        try:
            event = await hub.publish(topic, source, data.get("payload"))
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
        data = await read_object(request)
        try:
            agent: Any = data.get("agent")
            text: Any = data.get("question")
            question = await hub.ask(agent, text, data.get("options"), data.get("timeout"))
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None
        return _json({"id": question.id, "expires": question.expires}, 201)

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
        if "answer" not in data:
            raise _Refused(400, "answer: expected a non-empty string, got nothing")
        try:
            question = await hub.answer(qid, data["answer"])
        except QuestionNotFound as exc:
            raise _Refused(404, str(exc)) from None
        except InvalidAnswer as exc:
            raise _Refused(400, str(exc)) from None
        except QuestionClosed as exc:
            raise _Refused(409, str(exc)) from None
        return _json(question.public())

    async def post_setting(request: Request) -> Response:
        data = await read_object(request)
        key = data.get("key")
        if not isinstance(key, str):
            raise _Refused(400, f"key: expected 'window' or 'log_length', got {key!r:.40}")
        try:
            value = await hub.set_setting(key, data.get("value"))
        except ValueError as exc:
            raise _Refused(400, str(exc)) from None
        return _json({"key": key, "value": value})

    async def post_run(request: Request) -> Response:
        data = await read_object(request)
        target: Any = data.get("target")
        bundle: Any = data.get("bundle")
        try:
            started = await hub.launch(target, bundle)
        except InvalidRun as exc:
            raise _Refused(400, str(exc)) from None
        return _json(started, 201)

    async def snapshot(request: Request) -> Response:
        return _json(hub.state.snapshot())

    return [
        Route("/events", guard(post_event), methods=["POST"]),
        Route("/events", guard(get_events), methods=["GET"]),
        Route("/replay", guard(replay), methods=["GET"]),
        Route("/questions", guard(post_question), methods=["POST"]),
        Route("/questions/{qid}", guard(get_question), methods=["GET"]),
        Route("/questions/{qid}/answer", guard(post_answer), methods=["POST"]),
        Route("/settings", guard(post_setting), methods=["POST"]),
        Route("/runs", guard(post_run), methods=["POST"]),
        Route("/snapshot", guard(snapshot), methods=["GET"]),
    ]


def _authorised(request: Request, expected: bytes) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), expected)


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
    except ValueError:
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
