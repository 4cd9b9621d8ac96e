"""The server side of the Datastar SDK conformance suite, as a tiny ASGI app.

The official suite (`starfederation/datastar`, `sdk/tests`) is a client: it sends each of
its 20 golden cases to `/test` and compares the SSE answer with the expected output. Each
case is a JSON object that travels as the request's signals (GET: the `datastar` query
parameter; POST: the body):

    {"events": [
        {"type": "patchElements", "elements": "<div>Merge</div>", "selector": "div",
         "mode": "append", "useViewTransition": true, "namespace": "svg",
         "eventId": "event1", "retryDuration": 2000},
        {"type": "patchSignals", "signals": {"one": 1} | "signals-raw": "{…}",
         "onlyIfMissing": true},
        {"type": "executeScript", "script": "console.log(1)", "autoRemove": false,
         "attributes": {"type": "module"}}
    ]}

The app reads the signals with parlour's own helpers, encodes every event whose options
parlour's fragments can express through `parlour.wire.encode` (so the suite checks the
encoder parlour really uses), and the rest (view transitions, namespaces, raw signal text,
script attributes) directly with datastar-py. It answers 200 with all the events and ends
the stream: no heartbeat comments, which the suite would count as an unexpected field.

Run it for the official Go runner with
`uvicorn parlour.wire.conformance:app --port 7331`; `tests/wire/test_conformance.py` runs
the same cases in-process. Malformed input gets a 400 with a message, never a 500.

What this module does not do: serve anything but `/test`. It is not part of a parlour app,
and `parlour.wire` does not import it (it needs Starlette).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from datastar_py import ServerSentEventGenerator as _SSE
from datastar_py.consts import ElementPatchMode, ElementPatchNamespace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from parlour.core.fragments import Elements, PatchMode, Script, Signals
from parlour.wire.signals import signals_from_body, signals_from_query
from parlour.wire.sse import SSE_HEADERS, encode

__all__ = ["app"]

_PATCH_MODES: tuple[PatchMode, ...] = (
    "outer",
    "inner",
    "replace",
    "prepend",
    "append",
    "before",
    "after",
    "remove",
)


class _BadCase(ValueError):
    """A test case the app cannot read; answered with 400 and this message."""


async def _test(request: Request) -> Response:
    try:
        if request.method == "GET":
            signals = signals_from_query(request.query_params.get("datastar"))
        else:
            signals = signals_from_body(await request.body(), request.headers.get("content-type"))
        body = "".join(_encode_case_event(spec) for spec in _events(signals))
    except ValueError as exc:  # BadSignals, _BadCase, or an event `encode` refuses
        return PlainTextResponse(str(exc), status_code=400)
    return Response(body, status_code=200, headers=dict(SSE_HEADERS))


app = Starlette(routes=[Route("/test", _test, methods=["GET", "POST"])])
"""The ASGI app: `GET /test?datastar=<case JSON>` and `POST /test` with the case as body."""


def _events(signals: Mapping[str, object]) -> list[Mapping[str, object]]:
    events = signals.get("events")
    if not isinstance(events, list):
        raise _BadCase(f'expected "events" to be a list of event objects, got {events!r}')
    specs: list[Mapping[str, object]] = []
    for item in cast("list[object]", events):
        if not isinstance(item, dict):
            raise _BadCase(f"expected every entry of events to be an object, got {item!r}")
        specs.append(cast("dict[str, object]", item))
    return specs


def _encode_case_event(spec: Mapping[str, object]) -> str:
    event_id = _opt_str(spec, "eventId")
    retry = _opt_int(spec, "retryDuration")
    match spec.get("type"):
        case "patchElements":
            return _patch_elements(spec, event_id, retry)
        case "patchSignals":
            return _patch_signals(spec, event_id, retry)
        case "executeScript":
            return _execute_script(spec, event_id, retry)
        case other:
            raise _BadCase(
                "expected type to be one of 'patchElements', 'patchSignals', "
                f"'executeScript', got {other!r}"
            )


def _patch_elements(spec: Mapping[str, object], event_id: str | None, retry: int | None) -> str:
    html = _opt_str(spec, "elements") or ""
    selector = _opt_str(spec, "selector")
    mode = _opt_mode(spec)
    use_view_transition = _opt_bool(spec, "useViewTransition")
    view_transition_selector = _opt_str(spec, "viewTransitionSelector")
    namespace = _opt_namespace(spec)
    if not use_view_transition and not view_transition_selector and namespace is None:
        fragment = Elements(html, selector=selector, mode=mode)
        return encode(fragment, event_id=event_id, retry=retry)
    if mode == "remove":
        return _SSE.patch_elements(
            selector=selector or "",
            mode=ElementPatchMode.REMOVE,
            use_view_transition=use_view_transition,
            view_transition_selector=view_transition_selector,
            namespace=namespace,
            event_id=event_id,
            retry_duration=retry,
        )
    return _SSE.patch_elements(
        html,
        selector=selector,
        mode=ElementPatchMode(mode),
        use_view_transition=use_view_transition,
        view_transition_selector=view_transition_selector,
        namespace=namespace,
        event_id=event_id,
        retry_duration=retry,
    )


def _patch_signals(spec: Mapping[str, object], event_id: str | None, retry: int | None) -> str:
    only_if_missing = bool(_opt_bool(spec, "onlyIfMissing"))
    raw = _opt_str(spec, "signals-raw")
    if raw is not None:  # sent verbatim: the case checks multi-line JSON is split per line
        return _SSE.patch_signals(
            raw, event_id=event_id, only_if_missing=only_if_missing, retry_duration=retry
        )
    signals = spec.get("signals")
    if not isinstance(signals, dict):
        raise _BadCase(f"expected signals to be an object (or signals-raw), got {signals!r}")
    fragment = Signals(cast("dict[str, object]", signals), only_if_missing=only_if_missing)
    return encode(fragment, event_id=event_id, retry=retry)


def _execute_script(spec: Mapping[str, object], event_id: str | None, retry: int | None) -> str:
    script = _opt_str(spec, "script")
    if script is None:
        raise _BadCase("expected executeScript to carry a script string, got none")
    auto_remove = _opt_bool(spec, "autoRemove")
    attributes = _opt_attributes(spec)
    if auto_remove is not False and not attributes:
        return encode(Script(script), event_id=event_id, retry=retry)
    return _SSE.execute_script(
        script,
        auto_remove=auto_remove is not False,
        attributes=attributes,
        event_id=event_id,
        retry_duration=retry,
    )


def _opt_str(spec: Mapping[str, object], key: str) -> str | None:
    value = spec.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _BadCase(f"expected {key} to be a string, got {value!r}")


def _opt_int(spec: Mapping[str, object], key: str) -> int | None:
    value = spec.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _BadCase(f"expected {key} to be an integer, got {value!r}")


def _opt_bool(spec: Mapping[str, object], key: str) -> bool | None:
    value = spec.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _BadCase(f"expected {key} to be true or false, got {value!r}")


def _opt_mode(spec: Mapping[str, object]) -> PatchMode:
    value = spec.get("mode", "outer")
    for mode in _PATCH_MODES:
        if value == mode:
            return mode
    raise _BadCase(f"expected mode to be one of {', '.join(_PATCH_MODES)}, got {value!r}")


def _opt_namespace(spec: Mapping[str, object]) -> ElementPatchNamespace | None:
    value = _opt_str(spec, "namespace")
    if value is None or value == ElementPatchNamespace.HTML:
        return None  # the default: nothing to send, so `encode` can take the event
    try:
        return ElementPatchNamespace(value)
    except ValueError:
        allowed = ", ".join(n.value for n in ElementPatchNamespace)
        raise _BadCase(f"expected namespace to be one of {allowed}, got {value!r}") from None


def _opt_attributes(spec: Mapping[str, object]) -> dict[str, str] | None:
    value = spec.get("attributes")
    if value is None:
        return None
    if isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str)
        for k, v in cast("dict[object, object]", value).items()
    ):
        return cast("dict[str, str]", value)
    raise _BadCase(f"expected attributes to be an object of string values, got {value!r}")
