"""`App`'s public API: what a host (the CLI, the console) reads and chooses without reaching
into the runtime, and the roots an app refuses when it is built rather than on every request.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from htpy import Element, button, div, h1, span

from parlour import Component, end, event, shared
from parlour.bus import InProcessBus
from parlour.stores import MemoryStore, SqliteStore
from parlour.testing import AsgiClient
from parlour.web.app import App

from .conftest import MakeApp, open_page


class Counter(Component, name="tests.web.api.Counter"):
    count: int = 0

    def render(self) -> Element:
        return div(self.root)[span(".count")[self.count], button(self.on("click", "inc"))["+"]]

    @event
    def inc(self) -> None:
        self.count += 1


class News(Component, name="tests.web.api.News"):
    def render(self) -> Element:
        return div(self.root)[shared("news")]


# -- the root --------------------------------------------------------------------------------


def test_an_instance_as_root_is_refused_when_the_app_is_built() -> None:
    with pytest.raises(TypeError) as info:
        App(Counter(), secret="s")
    message = str(info.value)
    assert "pass the class, not an instance" in message
    assert "App(Counter)" in message


def test_an_instance_as_a_page_is_refused_naming_the_page() -> None:
    with pytest.raises(TypeError) as info:
        App({"/": Counter, "/status": Counter()}, secret="s")
    message = str(info.value)
    assert "'/status'" in message
    assert "pass the class, not an instance" in message


@pytest.mark.parametrize(
    ("root", "named"),
    [
        (42, "42 (a int)"),
        ("Counter", "'Counter' (a str)"),
        (dict, "the class dict, which is not a Component"),
        (lambda count: Counter(count=count), "cannot be called without arguments"),
    ],
)
def test_anything_but_a_component_class_or_a_factory_is_refused(root: Any, named: str) -> None:
    with pytest.raises(TypeError) as info:
        App(root, secret="s")
    message = str(info.value)
    assert "must be a Component class or a zero-argument factory" in message
    assert named in message


async def test_a_class_and_a_zero_argument_factory_are_accepted(make_app: MakeApp) -> None:
    for root in (Counter, lambda: Counter(count=7), {"/": Counter, "/seven": lambda: Counter()}):
        page = await open_page(AsgiClient(make_app(root)))
        assert '<span class="count">' in page.html


# -- bus and store -------------------------------------------------------------------------------


async def test_bus_and_store_are_the_ones_given(make_app: MakeApp) -> None:
    bus, store = InProcessBus(), MemoryStore()
    app = make_app(Counter, bus=bus, store=store)
    assert app.bus is bus
    assert app.store is store


def test_bus_and_store_are_read_only() -> None:
    app = App(Counter, secret="s")
    with pytest.raises(AttributeError):
        app.bus = InProcessBus()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        app.store = MemoryStore()  # type: ignore[misc]


async def test_a_bus_url_is_connected_when_serving_starts(make_app: MakeApp) -> None:
    app = make_app(Counter, bus="memory")
    with pytest.raises(RuntimeError, match="connected when the app starts serving"):
        _ = app.bus
    assert (await AsgiClient(app).get("/")).status == 200
    assert isinstance(app.bus, InProcessBus)
    await app.bus.close()


async def test_use_bus_takes_a_bus_object_before_serving(make_app: MakeApp) -> None:
    app = make_app(Counter)
    bus = InProcessBus()
    app.use_bus(bus)
    assert app.bus is bus
    assert (await AsgiClient(app).get("/")).status == 200
    with pytest.raises(RuntimeError, match="before the app serves"):
        app.use_bus(InProcessBus())


async def test_use_store_takes_a_spec_or_a_store_before_serving(
    make_app: MakeApp, tmp_path: Any
) -> None:
    app = make_app(Counter)
    assert app.use_store("memory")
    assert isinstance(app.store, MemoryStore)
    mine = MemoryStore()
    assert app.use_store(mine)
    assert app.store is mine
    with pytest.raises(ValueError, match="'bogus'"):
        app.use_store("bogus")
    assert (await AsgiClient(app).get("/")).status == 200
    with pytest.raises(RuntimeError, match="before the app serves"):
        app.use_store("memory")


async def test_use_store_as_a_fallback_keeps_a_store_the_app_chose(
    make_app: MakeApp, tmp_path: Any
) -> None:
    chosen = MemoryStore()
    app = make_app(Counter, store=chosen)
    assert not app.use_store(f"sqlite:{tmp_path / 'x.sqlite'}", fallback=True)
    assert app.store is chosen
    bare = make_app(Counter)
    assert bare.use_store(f"sqlite:{tmp_path / 'y.sqlite'}", fallback=True)
    assert isinstance(bare.store, SqliteStore)


# -- the coalescing window -------------------------------------------------------------------


def test_set_window_changes_streams_and_shared_views_alike() -> None:
    app = App(Counter, secret="s", window=0.05)
    app.set_window(0.25)
    assert app.window == 0.25
    assert app.views.window == 0.25


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "0.1"])
def test_set_window_refuses_what_is_not_a_duration(bad: Any) -> None:
    app = App(Counter, secret="s")
    with pytest.raises(ValueError, match="number of seconds >= 0"):
        app.set_window(bad)
    assert app.window == 0.05


async def test_set_window_takes_effect_on_an_open_stream(make_app: MakeApp) -> None:
    news = ["first"]
    app = make_app(News, window=3600.0)
    app.views.add("news", lambda: h1("#news")[news[-1]])
    client = AsgiClient(app)
    page = await open_page(client)
    async with client.stream(f"/_parlour/sse/{page.cid}") as sse:
        await sse.next_event()  # the full render
        app.set_window(0.0)
        news.append("second")
        app.views.invalidate("news")
        update = await sse.next_event(timeout=2.0)
        assert "second" in update.elements


# -- on_end ----------------------------------------------------------------------------------


class Quitter(Component, name="tests.web.api.Quitter"):
    def render(self) -> Element:
        return div(self.root)[button(self.on("click", "done"))["done"]]

    @event
    def done(self) -> Any:
        return end({"answer": 42})


async def test_on_end_is_told_the_value_a_conversation_ended_with(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    ended: list[tuple[str, Any]] = []
    app = make_app(Quitter, on_end=lambda cid, value: ended.append((cid, value)))
    client = AsgiClient(app)
    page = await open_page(client)
    iid = page.iid_of("done")
    with caplog.at_level(logging.INFO, logger="parlour"):
        assert (await client.post(f"/_parlour/event/{page.cid}/{iid}/done")).status == 204
    assert ended == [(page.cid, {"answer": 42})]
    logged = [r.getMessage() for r in caplog.records if page.cid in r.getMessage()]
    assert logged == [f"parlour: conversation {page.cid} ended"]
