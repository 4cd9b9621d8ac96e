"""Client-side widgets on the wire: the host's markup, the loader and the app's scripts every
page loads, and what one pushed message costs.

`widget(name, id=, data=)` renders a host whose view Datastar's morph leaves alone; the page's
loader (`parlour-widgets.js`) runs the behaviour registered under `name`. `widget_push` sends
one message to it, and only that message travels: the chart example's price update is
measured on the stream itself (the bytes of the SSE chunk that carries it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from examples.chart import TOPIC, WINDOW, PriceChart, RandomWalk
from htpy import Element, div

import parlour.wire
from parlour import Component
from parlour.core import kernel
from parlour.core.routes import static_path, stream_path
from parlour.core.widgets import widget, widget_push
from parlour.testing import AsgiClient, Harness
from parlour.testing.sse import SseStream
from parlour.web.app import App
from parlour.web.assets import Assets
from parlour.wire import encode

from .conftest import MakeApp, open_page


class Attrs(HTMLParser):
    """Each element's tag and attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


# -- the markup ----------------------------------------------------------------------------


def test_a_widget_is_a_host_with_its_data_and_a_view_the_morph_leaves_alone() -> None:
    html = str(widget("line-chart", id="p1-chart", data={"points": [[1, 2.5]], "s": '<"&>'}))
    [(tag, host), (_, view)] = Attrs(html).elements
    assert tag == "div"
    assert host["id"] == "p1-chart"
    assert host["data-parlour-widget"] == "line-chart"
    assert json.loads(host["data-parlour-data"] or "") == {"points": [[1, 2.5]], "s": '<"&>'}
    assert "data-ignore-morph" in view
    assert view["class"] == "parlour-widget-view"


def test_widget_attributes_and_classes_pass_through() -> None:
    [(_, host), _] = Attrs(str(widget("map", id="m", class_="big", style="height: 9rem"))).elements
    assert host["class"] == "parlour-widget big"
    assert host["style"] == "height: 9rem"
    assert host["data-parlour-data"] == "null"


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda: widget("line chart", id="c"), "behaviour"),
        (lambda: widget("chart", id="1st"), "widget id"),
        (lambda: widget("chart", id="a b"), "widget id"),
        (lambda: widget("chart", id="c", data={"x": float("nan")}), "JSON data"),
        (lambda: widget("chart", id="c", data={1, 2}), "JSON data"),
        (lambda: widget_push("c) #evil", {}), "widget id"),
    ],
)
def test_mistakes_are_refused_where_they_are_made(call: Callable[[], Any], says: str) -> None:
    with pytest.raises((ValueError, TypeError), match=says):
        call()


def test_a_push_appends_one_message_to_the_host_as_json_in_an_attribute() -> None:
    effect = widget_push("p1-chart", {"points": [[1.5, 2]], "note": "it's <b> & co"})
    assert (effect.selector, effect.mode) == ("#p1-chart", "append")
    [(tag, attrs)] = Attrs(effect.html).elements
    assert tag == "template"
    message = json.loads(attrs["data-parlour-message"] or "")
    assert message == {"points": [[1.5, 2]], "note": "it's <b> & co"}


class Gauge(Component):
    value: float = 0.0

    def render(self) -> Element:
        return div(self.root)[widget("gauge", id=f"{self.iid}-g", data={"value": self.value})]

    def reading(self, value: float) -> Any:
        self.value = value
        return widget_push(f"{self.iid}-g", {"value": value})


def test_a_handler_that_pushes_sends_only_the_message_and_keeps_its_state() -> None:
    h = Harness(Gauge)
    step = h.deliver(Gauge, "reading", 7.5)
    [frag] = step.fragments
    assert frag.html.startswith("<template")  # type: ignore[union-attr]
    assert h.top == Gauge(value=7.5)  # a later render (a reload) draws the new value


# -- what every page loads ------------------------------------------------------------------


@pytest.fixture
def behaviour(tmp_path: Path) -> Path:
    path = tmp_path / "gauge.js"
    path.write_text('parlour.behaviour("gauge", {mount() {}});\n')
    return path


async def test_every_page_loads_the_loader_then_the_apps_scripts_in_order(
    make_app: MakeApp, behaviour: Path
) -> None:
    app = make_app(Gauge, scripts=["/assets/lib.js", behaviour], stylesheets=["/assets/a.css"])
    page = await open_page(AsgiClient(app))
    scripts = [(s.attrs.get("src"), "defer" in s.attrs) for s in page.all("script[defer]")]
    assert scripts == [
        ("/_parlour/static/parlour-widgets.js", True),
        ("/assets/lib.js", True),
        ("/_parlour/static/gauge.js", True),
    ]
    module = page.query("script[type=module]").attrs["src"]
    assert module is not None
    assert module.endswith("datastar.js")  # Datastar comes first
    links = [link.attrs.get("href") for link in page.all("link[rel=stylesheet]")]
    assert links == ["/_parlour/static/parlour.css", "/assets/a.css"]
    assert page.query("#parlour-overlay").attrs["class"] == "parlour-overlay"


async def test_the_loader_and_the_apps_local_scripts_are_served(
    make_app: MakeApp, behaviour: Path
) -> None:
    client = AsgiClient(make_app(Gauge, scripts=[behaviour]))
    loader = await client.get(static_path("/_parlour", "parlour-widgets.js"))
    assert loader.status == 200
    assert "javascript" in loader.headers["content-type"]
    assert "function behaviour(name, impl)" in loader.text
    own = await client.get("/_parlour/static/gauge.js")
    assert (own.status, own.text) == (200, 'parlour.behaviour("gauge", {mount() {}});\n')


async def test_a_local_script_not_fetched_yet_answers_404_naming_the_file(
    make_app: MakeApp, tmp_path: Path
) -> None:
    missing = tmp_path / "vendor" / "lib.js"
    client = AsgiClient(make_app(Gauge, scripts=[missing]))
    answer = await client.get("/_parlour/static/lib.js")
    assert answer.status == 404
    assert str(missing) in answer.text


def test_the_loader_runs_no_code_it_is_sent() -> None:
    loader = Path(parlour.wire.__file__).parents[1] / "web" / "static" / "parlour-widgets.js"
    source = loader.read_text()
    assert not re.search(r"\beval\(|new Function|innerHTML|insertAdjacentHTML", source)


@pytest.mark.parametrize(
    ("scripts", "says"),
    [
        ([Path("a/parlour-widgets.js")], "parlour's own files"),
        ([Path("a/datastar.js")], "parlour's own files"),
        ([Path("a/x.js"), Path("b/x.js")], "both be served"),
        ("/one.js", "a list"),
        ([3], "URLs"),
    ],
)
def test_scripts_the_app_cannot_serve_are_refused_when_it_is_built(scripts: Any, says: str) -> None:
    with pytest.raises((ValueError, TypeError), match=says):
        Assets(scripts)


def test_remote_stylesheets_are_the_ones_given_as_urls() -> None:
    assets = Assets(stylesheets=[Path("x/a.css"), "https://fonts.example/f.css"])
    assert assets.remote_stylesheets == ("https://fonts.example/f.css",)
    assert assets.stylesheets("/b") == (
        "/b/static/parlour.css",
        "/b/static/a.css",
        "https://fonts.example/f.css",
    )


# -- the chart example on the wire --------------------------------------------------------------


def recording(sse: SseStream) -> list[bytes]:
    """The raw chunks `sse` receives from now on (each is one batch the stream wrote)."""
    chunks: list[bytes] = []
    feed = sse._feed  # pyright: ignore[reportPrivateUsage]

    def record(chunk: bytes | None) -> None:
        if chunk is not None:
            chunks.append(chunk)
        feed(chunk)

    sse._feed = record  # type: ignore[method-assign]
    return chunks


async def test_a_chart_update_sends_only_the_new_point(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(RandomWalk, "start", _no_feed)  # the test publishes the prices
    app = App(PriceChart, secret="widgets-test-secret")
    app.provide(RandomWalk(lambda: app.bus))
    try:
        client = AsgiClient(app)
        page = await open_page(client)
        async with client.stream(stream_path("/_parlour", page.cid or "")) as sse:
            chunks = recording(sse)
            first = await sse.next_event()
            assert first.selector == "#root"
            # Fill the window, as a minute of a real feed would.
            for n in range(WINDOW):
                await app.bus.publish(TOPIC, {"price": round(100 + n / 7, 2)})
            await _until(sse, str(round(100 + (WINDOW - 1) / 7, 2)))
            render = len(first.elements.encode())

            chunks.clear()
            await app.bus.publish(TOPIC, {"price": 101.37})
            event = await _until(sse, "101.37")
            [chunk] = [c for c in chunks if b"101.37" in c]
            assert (event.selector, event.mode) == ("#p1-chart", "append")
            assert len(chunk) < 220
            # Two prices within one coalescing window both arrive: messages are not coalesced.
            chunks.clear()
            await app.bus.publish(TOPIC, {"price": 55.5})
            await app.bus.publish(TOPIC, {"price": 66.6})
            await _until(sse, "66.6")
            received = b"".join(chunks)
            assert b"55.5" in received
            assert b"66.6" in received
        full = len(_render_of(app, page.cid or ""))
        with capsys.disabled():
            print(
                f"\n[chart] one price on the wire: {len(chunk)} bytes "
                f"(the first render: {render} bytes; a render of {WINDOW} points: {full} bytes)"
            )
        assert full > 10 * len(chunk)
    finally:
        await app.close()


async def _no_feed(self: RandomWalk) -> None:
    del self


async def _until(sse: SseStream, text: str) -> Any:
    while True:
        event = await sse.next_event(timeout=5.0)
        if text in event.elements:
            return event


def _render_of(app: App, cid: str) -> str:
    """The SSE text of a full render of the conversation as it is now."""
    [fragment] = kernel.render_top(app.runtime.live[cid].conv).fragments
    return encode(fragment)
