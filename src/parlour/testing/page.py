"""A browser tab on a parlour app, in-process: it loads the shell, follows the conversation's
stream and applies every patch as Datastar 1.0 does, and clicks and types like a user.

    async with Page(app) as page:
        await page.open("/")                    # the shell, then the stream's first render
        await page.click("button", text="+")    # its data-on:click: @post, signals as the body
        assert page.text(".count") == "1"       # the click's patch is on the page already
        await page.fill("input", "Ada")         # data-bind: sets the signal the input holds
        await page.wait_for(lambda p: "Ada" in p.text("#greeting"))   # for background work

After an action, `settle()` reads the stream until it has delivered everything the action
caused: the POST answers 204 once its patch is queued, and the app's runtime knows the
newest event id of the conversation (`EPOCH.SEQ`, the SSE `id:` the stream writes on each of
its batches), so the page reads until the stream has written that id. Nothing sleeps; every
wait is bounded (`timeout`), and a wait that runs out raises `PageTimeout` saying what it
waited for and showing the page. Work that finishes later (a timer, the bus, io) is waited
for with `wait_for(predicate)`.

A selector that matches nothing raises `ElementNotFound` with an outline of the page.
Signals whose names start with `_` are never sent, as in Datastar. The page does not run
JavaScript: it evaluates the small expression language parlour's attributes use
(`parlour.testing.expressions`) and records the scripts it is sent (`page.scripts`).

What this module does not do: run a browser's layout, CSS or JavaScript (tests/e2e does), or
reconnect a stream on its own (`await page.connect()` opens a new one).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Self, cast
from urllib.parse import quote

from parlour.runtime.runtime import Runtime

from .asgi import AsgiClient, AsgiResponse
from .dom import Document, Element, ElementNotFound, outline
from .expressions import Action, evaluate
from .signals import get_path, has_path, sendable, set_path
from .sse import SseEvent, SseStream, parse_sse

__all__ = ["Page", "PageTimeout"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class PageTimeout(TimeoutError):
    """The stream did not deliver what a wait expected in time; says what and shows the page."""


def _runtime_of(app: Any) -> Runtime | None:
    found = getattr(app, "runtime", None)
    return found if isinstance(found, Runtime) else None


def _id_parts(event_id: str) -> tuple[str, int]:
    epoch, _, seq = event_id.partition(".")
    return epoch, int(seq) if seq.isdigit() else -1


class Page:
    """One tab: `open` a path, then read (`query`, `text`, `html`, `signals`) and act
    (`click`, `fill`, `check`, `submit`, `post`). `app` is a parlour `App`, another ASGI app
    with `runtime=` its parlour runtime, or an `AsgiClient` whose cookies the tab shares."""

    def __init__(
        self,
        app: Any,
        *,
        runtime: Runtime | None = None,
        timeout: float = 5.0,
        strict: bool = True,
    ) -> None:
        self.client = app if isinstance(app, AsgiClient) else AsgiClient(app)
        self.runtime = runtime if runtime is not None else _runtime_of(self.client.app)
        self.timeout = timeout
        self.strict = strict
        """Fail on a patch whose target is missing (the client only warns)."""
        self.response: AsgiResponse | None = None
        """The shell page's response."""
        self.path: str | None = None
        self.stream_url: str | None = None
        self.events: list[SseEvent] = []
        """Every event the page applied, in order."""
        self.last_event_id: str | None = None
        self._document: Document | None = None
        self._stream: SseStream | None = None
        self._exits = contextlib.AsyncExitStack()

    def __repr__(self) -> str:
        return f"Page({self.path!r}, cid={self.cid!r}, events={len(self.events)})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the stream (the tab goes away)."""
        self._stream = None
        await self._exits.aclose()

    # -- opening ---------------------------------------------------------------------------

    async def open(self, path: str = "/", *, stream: bool = True) -> Self:
        """Load the shell at `path`; with `stream`, open the stream and apply its first render."""
        await self.close()
        response = await self.client.get(path)
        if response.status != 200:
            raise AssertionError(f"GET {path} answered {response.status}:\n{response.text[:2000]}")
        self.response, self.path = response, path
        self._document = Document(response.text, strict=self.strict)
        self.events, self.last_event_id, self.stream_url = [], None, None
        for element in self._document.all("[data-init]"):
            for action in self._document.actions(element, "init"):
                if action.method == "GET" and self.stream_url is None:
                    self.stream_url = action.url
        if stream:
            await self.connect()
        return self

    async def connect(self) -> None:
        """Open the conversation's stream (what the shell's `data-init` does) and settle."""
        if self.stream_url is None:
            raise AssertionError(
                f'the page at {self.path!r} opens no stream (no data-init="@get(...)"):\n'
                f"{self.outline()}"
            )
        await self.close()
        query = quote(json.dumps(sendable(self.document.signals), separators=(",", ":")))
        joiner = "&" if "?" in self.stream_url else "?"
        stream = await self._exits.enter_async_context(
            self.client.stream(f"{self.stream_url}{joiner}datastar={query}")
        )
        if stream.status != 200:
            await self.close()
            raise AssertionError(f"the stream {self.stream_url} answered {stream.status}")
        self._stream = stream
        self.last_event_id = None  # a new stream: nothing of it seen yet
        await self.settle()

    # -- reading ---------------------------------------------------------------------------

    @property
    def document(self) -> Document:
        if self._document is None:
            raise RuntimeError("the page is not open yet: `await page.open(path)` first")
        return self._document

    @property
    def cid(self) -> str | None:
        """The conversation the page shows (the last part of its stream's URL)."""
        return None if self.stream_url is None else self.stream_url.rstrip("/").rpartition("/")[2]

    @property
    def html(self) -> str:
        """The whole document as it is now, serialised as a browser's `outerHTML` would."""
        return self.document.html

    @property
    def signals(self) -> dict[str, Any]:
        return self.document.signals

    @property
    def scripts(self) -> list[str]:
        """The JavaScript of the scripts patches brought, in order (recorded, not run)."""
        return self.document.scripts

    @property
    def warnings(self) -> list[str]:
        return self.document.warnings

    @property
    def streaming(self) -> bool:
        return self._stream is not None and not self._stream.ended

    def outline(self, *, limit: int = 60) -> str:
        """The page's body, one element per line: what error messages show."""
        return self.document.outline(limit=limit)

    def all(self, selector: str, *, text: str | None = None) -> list[Element]:
        """Every element matching the CSS `selector` (and whose text is `text`), in order."""
        found = self.document.all(selector)
        return found if text is None else [e for e in found if e.text == text]

    def query(self, selector: str, *, text: str | None = None) -> Element:
        """The first element matching `selector` (and `text`); ElementNotFound otherwise."""
        found = self.all(selector, text=text)
        if not found:
            raise ElementNotFound(self._missing(selector, text))
        return found[0]

    def text(self, selector: str = "body", *, text: str | None = None) -> str:
        """The text of the first match, whitespace collapsed, without scripts and styles."""
        return self.query(selector, text=text).text

    def attr(self, selector: str, name: str) -> str | None:
        """Attribute `name` of the first match of `selector` (None when it has none)."""
        return self.query(selector).get(name)

    def _missing(self, selector: str, text: str | None) -> str:
        where = f"on the page {self.path!r}"
        if text is None:
            head = f"no element matches {selector!r} {where}"
        else:
            texts = [e.text for e in self.document.all(selector)]
            head = f"no element matches {selector!r} with the text {text!r} {where}" + (
                f" (the {len(texts)} that match the selector read {texts[:10]!r})" if texts else ""
            )
        return f"{head}:\n{self.outline()}"

    def _one(self, selector: str, text: str | None, doing: str) -> Element:
        found = self.all(selector, text=text)
        if len(found) == 1:
            return found[0]
        if not found:
            raise ElementNotFound(self._missing(selector, text))
        listed = "\n".join(f"  {e!r}" for e in found[:10])
        raise AssertionError(
            f"{doing}: {len(found)} elements match {selector!r}"
            + (f" with the text {text!r}" if text is not None else "")
            + f"; name one (a narrower selector, or text=...):\n{listed}"
        )

    # -- acting ----------------------------------------------------------------------------

    async def click(self, selector: str, *, text: str | None = None) -> AsgiResponse | None:
        """Click the one element matching `selector` (and `text`): run its `data-on:click`,
        or, for a form's submit button, the form's `data-on:submit`; then settle. Returns the
        response of the last request the click made (None when it made none)."""
        element = self._one(selector, text, "click")
        expression = self.document.handler(element, "click")
        if expression is None and _submits(element):
            form = element.tag.find_parent("form")
            expression = None if form is None else self.document.handler(Element(form), "submit")
        if expression is None:
            raise AssertionError(
                f"nothing happens on a click of {element!r}: it has no data-on:click and "
                f"submits no form with a data-on:submit. The page:\n{self.outline()}"
            )
        return await self.run(expression)

    async def submit(self, selector: str = "form") -> AsgiResponse | None:
        """Submit the one form matching `selector`: run its `data-on:submit`, then settle."""
        form = self._one(selector, None, "submit")
        expression = self.document.handler(form, "submit")
        if expression is None:
            raise AssertionError(f"{form!r} has no data-on:submit. The page:\n{self.outline()}")
        return await self.run(expression)

    async def fill(self, selector: str, value: str | list[str]) -> AsgiResponse | None:
        """Type `value` into the one control matching `selector` (an input, textarea or
        select): its `data-bind` signal takes the value (a number when the signal holds one,
        as Datastar's binding does), then its `data-on:input` and `data-on:change` handlers
        run and the page settles. As in a browser, the markup (`page.html`) is unchanged:
        read what a control holds with `page.value(selector)`."""
        element = self._one(selector, None, "fill")
        return await self._change(element, value)

    async def check(self, selector: str, checked: bool = True) -> AsgiResponse | None:
        """Tick (or untick) the one checkbox or radio button matching `selector`, as `fill`
        does: a bound signal takes `checked` (or the control's `value`, when it has one)."""
        element = self._one(selector, None, "check")
        value: Any = checked
        if element.get("type") == "radio" or element.get("value") not in (None, "on"):
            value = (element.get("value") or "") if checked else ""
        return await self._change(element, value)

    def value(self, selector: str) -> Any:
        """What the first control matching `selector` holds: its bound signal's value (which
        a bound control always shows), else what its markup says."""
        tag = self.query(selector).tag
        name = self.document.bound_signal(tag)
        if name is not None and has_path(self.signals, name):
            return get_path(self.signals, name)
        return self.document.control_value(tag)

    async def _change(self, element: Element, value: Any) -> AsgiResponse | None:
        name = self.document.bound_signal(element.tag)
        handlers = [
            h
            for h in (
                self.document.handler(element, "input"),
                self.document.handler(element, "change"),
            )
            if h
        ]
        if name is None and not handlers:
            raise AssertionError(
                f"{element!r} is bound to no signal (no data-bind) and has no data-on:input "
                "or data-on:change: typing into it would change nothing the app sees"
            )
        if element.name == "select":
            offered = [o.get("value") or o.text for o in element.all("option")]
            chosen: list[Any] = cast(list[Any], value) if isinstance(value, list) else [value]
            missing = [v for v in chosen if v not in offered]
            if missing:
                raise AssertionError(
                    f"{element!r} offers no option {missing[0]!r} (its options: {offered!r}); "
                    "to send a value no control offers, set page.signals[...] yourself"
                )
        if name is not None:
            current = get_path(self.signals, name)
            set_path(self.signals, name, _like(current, value))
        response: AsgiResponse | None = None
        for handler in handlers:
            response = await self.run(handler) or response
        return response

    def actions(self, target: str | Element, event: str = "click") -> list[Action]:
        """The requests the element's `data-on:EVENT` would make, without making them (its
        expression runs on a copy of the signals). `target` is an element or a selector
        matching one; empty when it has no such handler."""
        element = target if isinstance(target, Element) else self._one(target, None, "actions")
        return self.document.actions(element, event)

    async def run(self, expression: str) -> AsgiResponse | None:
        """Run a Datastar expression as the page would (signal writes, then each action's
        request), then settle. Returns the last response (None when nothing was requested)."""
        response: AsgiResponse | None = None
        for action in evaluate(expression, self.document.signals):
            response = await self._request(action)
        await self.settle()
        return response

    async def post(self, url: str, *, payload: Any = None) -> AsgiResponse:
        """`@post(url)` from this page: its sendable signals (or `payload`) as the JSON body;
        then settle."""
        options = {} if payload is None else {"payload": payload}
        response = await self._request(Action("POST", url, options, dict(self.document.signals)))
        await self.settle()
        return response

    async def _request(self, action: Action) -> AsgiResponse:
        if action.options.get("contentType", "json") != "json":
            raise AssertionError(
                f"@{action.method.lower()} with contentType 'form' is not "
                "supported by the test page; post the form's fields yourself"
            )
        body = action.options.get("payload", sendable(action.signals))
        headers = {
            "accept": "text/event-stream, text/html, application/json",
            "datastar-request": "true",
            **{
                str(k).lower(): str(v) for k, v in dict(action.options.get("headers") or {}).items()
            },
        }
        data = json.dumps(body, separators=(",", ":")).encode()
        url = action.url
        if action.method in _BODY_METHODS:
            headers["content-type"] = "application/json"
            response = await self.client.request(action.method, url, headers=headers, body=data)
        else:
            joiner = "&" if "?" in url else "?"
            url = f"{url}{joiner}datastar={quote(data.decode())}"
            response = await self.client.request(action.method, url, headers=headers)
        if response.status >= 400:
            raise AssertionError(
                f"@{action.method.lower()}({action.url!r}) answered {response.status}: "
                f"{response.text[:500]}"
            )
        kind = response.headers.get("content-type", "")
        if response.status == 200 and kind.startswith("text/event-stream"):
            for event in parse_sse(response.text)[0]:
                self._apply(event)
        elif response.status == 200 and kind.startswith("text/html"):
            self.document.patch_elements(
                response.text,
                response.headers.get("datastar-selector"),
                response.headers.get("datastar-mode", "outer"),
            )
        elif response.status == 200 and kind.startswith("application/json"):
            only = response.headers.get("datastar-only-if-missing") == "true"
            self.document.patch_signals(json.loads(response.text), only_if_missing=only)
        return response

    # -- waiting ---------------------------------------------------------------------------

    def _apply(self, event: SseEvent) -> None:
        self.events.append(event)
        if event.id:
            self.last_event_id = event.id
        self.document.apply(event)

    def _caught_up(self, expected: str) -> bool:
        if self.last_event_id is None:
            return False
        (epoch, seq), (want_epoch, want_seq) = _id_parts(self.last_event_id), _id_parts(expected)
        return epoch == want_epoch and seq >= want_seq

    def _expected(self) -> str | None:
        if self.runtime is None:
            raise AssertionError(
                "settle() needs the app's parlour runtime to know which event the stream still "
                "owes: pass Page(app, runtime=...) (e.g. console.pages.runtime), or wait for "
                "what you expect with `await page.wait_for(lambda page: ...)`"
            )
        live = self.runtime.live.get(self.cid or "")
        return None if live is None else live.last_event_id

    async def settle(self, timeout: float | None = None) -> None:
        """Read the stream until it has delivered everything the conversation produced so
        far (to the end, when the conversation ended). Without a stream, nothing to do."""
        stream = self._stream
        if stream is None:
            return
        expected = self._expected()
        applied = len(self.events)
        wait = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(wait):
                while True:
                    for event in stream.drain():
                        self._apply(event)
                    if expected is not None and self._caught_up(expected):
                        return
                    try:
                        self._apply(await stream.next_event(wait))
                    except EOFError:
                        return
        except TimeoutError:
            what = (
                f"the event with id {expected} (the conversation's newest)"
                if expected
                else "the end of the stream (the conversation ended)"
            )
            raise self._timeout(f"settle(): waited {wait} s for {what}", applied) from None

    async def wait_for(
        self, predicate: Callable[[Page], object], *, timeout: float | None = None
    ) -> None:
        """Apply the stream's events until `predicate(page)` is true (bounded by `timeout`).
        A predicate that raises LookupError (an element not there yet) counts as false."""
        stream = self._stream
        wait = self.timeout if timeout is None else timeout
        applied = len(self.events)
        last_error: LookupError | None = None
        try:
            async with asyncio.timeout(wait):
                while True:
                    if stream is not None:
                        for event in stream.drain():
                            self._apply(event)
                    try:
                        if predicate(self):
                            return
                        last_error = None
                    except LookupError as exc:
                        last_error = exc
                    if stream is None or stream.ended:
                        raise self._timeout(
                            f"wait_for(): {_name(predicate)} is false and the stream "
                            + ("is not open" if stream is None else "ended"),
                            applied,
                            last_error,
                        )
                    with contextlib.suppress(EOFError):
                        self._apply(await stream.next_event(wait))
        except TimeoutError as exc:
            if isinstance(exc, PageTimeout):
                raise
            raise self._timeout(
                f"wait_for(): {_name(predicate)} still false after {wait} s", applied, last_error
            ) from None

    def _timeout(self, what: str, since: int, error: Exception | None = None) -> PageTimeout:
        events = self.events[since:]
        seen = "\n".join(f"  {e.summary()}" for e in events[-10:]) or "  (none)"
        more = f" (the last 10 of {len(events)})" if len(events) > 10 else ""
        because = f"\nThe predicate's last error: {error}" if error is not None else ""
        return PageTimeout(
            f"{what}.{because}\nLast event id seen: {self.last_event_id}. "
            f"Events applied while waiting{more}:\n{seen}\nThe page:\n"
            f"{outline(self.document.body.tag)}"
        )


def _name(predicate: Callable[..., object]) -> str:
    name = getattr(predicate, "__name__", repr(predicate))
    return "the predicate" if name == "<lambda>" else f"{name}()"


def _like(current: Any, value: Any) -> Any:
    """`value` as Datastar's binding stores it: a number when the signal holds a number."""
    if (
        isinstance(current, int | float)
        and not isinstance(current, bool)
        and isinstance(value, str)
    ):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def _submits(element: Element) -> bool:
    kind = (element.get("type") or "").lower()
    return (element.name == "button" and kind in ("", "submit")) or (
        element.name == "input" and kind in ("submit", "image")
    )
